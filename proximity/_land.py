"""Which positions lie well inside land: the ``on_land`` screen of ``track_integrity``.

The land (polygons in lon/lat degrees, e.g. the Natural Earth country outlines of
the zone catalogue, ``config.zones.load_land``) is shrunk once by a margin: each
polygon is projected into its own azimuthal equidistant projection centred on it
(``proximity.geometry.LocalAeqd``: exact distances from the centre, a scale error
of about 1.6 % at 2,000 km from it), buffered inwards by the margin and brought
back. The shrunk land is cut along a global grid (``proximity._zonegrid.ZoneGrid``)
whose cells over the land's bounds are then held in one dense array (empty,
wholly inside, or the number of a small prepared piece of the boundary): a batch
of positions is answered with one numpy lookup per point and a few
``shapely.intersects_xy`` tests on small pieces.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from ._zonegrid import ZoneGrid
from .geometry import LocalAeqd

__all__ = ["LandIndex", "land_index"]

_EMPTY = -2
_INTERIOR = -1  # as proximity._zonegrid


def _parts(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    return [g for part in getattr(geom, "geoms", ()) for g in _parts(part)]


class LandIndex:
    """Land shrunk by ``margin_m``: ``inside(lon, lat)`` tells which points are farther inland."""

    def __init__(self, land: BaseGeometry, margin_m: float, cell_deg: float = 0.1) -> None:
        inner: list[BaseGeometry] = []
        for poly in _parts(land):
            if margin_m > 0:
                c = poly.centroid
                proj = LocalAeqd(c.x, c.y)
                shrunk = proj.forward_geometry(poly).buffer(-margin_m)
                if shrunk.is_empty:
                    continue
                inner.append(proj.inverse_geometry(shrunk))
            else:
                inner.append(poly)
        self.margin_m = margin_m
        self.land = shapely.union_all(inner) if inner else Polygon()
        self.cell_deg = cell_deg
        # cell code over the land's bounds: _EMPTY, _INTERIOR, or the number of a boundary piece
        self._code = np.full((0, 0), _EMPTY, np.int32)
        self._ix0 = self._iy0 = 0
        self._pieces = np.empty(0, object)
        if self.land.is_empty:
            return
        grid = ZoneGrid(cell_deg)
        grid.set_zone(0, self.land)
        grid._rebuild()
        nx = grid._nx
        ix, iy = grid._keys % nx, grid._keys // nx
        self._ix0, self._iy0 = int(ix.min()), int(iy.min())
        self._code = np.full((int(iy.max()) - self._iy0 + 1, int(ix.max()) - self._ix0 + 1), _EMPTY, np.int32)
        self._code[iy - self._iy0, ix - self._ix0] = grid._piece  # _INTERIOR (-1) or a piece number
        self._pieces = grid._pieces

    def inside(self, lon_deg: np.ndarray, lat_deg: np.ndarray) -> np.ndarray:
        """Per point: farther than the margin inside the land."""
        out = np.zeros(lon_deg.size, bool)
        if not self._code.size or not lon_deg.size:
            return out
        c = self.cell_deg
        with np.errstate(invalid="ignore"):
            ix = np.floor((lon_deg + 180.0) / c) - self._ix0
            iy = np.floor((lat_deg + 90.0) / c) - self._iy0
        h, w = self._code.shape
        ok = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        k = np.nonzero(ok)[0]
        code = self._code[iy[k].astype(np.int64), ix[k].astype(np.int64)]
        out[k[code == _INTERIOR]] = True
        b = code >= 0
        if b.any():
            kb = k[b]
            out[kb] = shapely.intersects_xy(self._pieces[code[b]], lon_deg[kb], lat_deg[kb])
        return out


# One index per land and margin in a process (an engine, its restores and replays share it).
_CACHE: dict[tuple[int, float], tuple[BaseGeometry, LandIndex]] = {}


def land_index(land: BaseGeometry, margin_m: float) -> LandIndex:
    """The :class:`LandIndex` of ``land`` shrunk by ``margin_m``, built once per process."""
    key = (id(land), float(margin_m))
    hit = _CACHE.get(key)
    if hit is None or hit[0] is not land:
        if len(_CACHE) >= 8:
            _CACHE.clear()
        hit = _CACHE[key] = (land, LandIndex(land, margin_m))
    return hit[1]
