"""Point-in-zone answers for many points at once.

Each zone is cut once, when it is added, along a global lon/lat grid (cells of
``cell_deg``): a cell is *empty* for the zone, *interior* (the cell lies wholly
inside the zone), or *boundary* (the cell holds a small clipped piece of the
zone). A query looks up each point's cell (pure numpy), answers interior cells
at once and tests the few boundary pieces with ``shapely.intersects_xy``
against the small prepared piece, never against the whole zone. The cutting is
recursive (halving the rectangle and clipping with ``shapely.clip_by_rect``), so
a zone with 100,000 vertices costs a few clips of it, not one per cell.

The answers are exact with respect to the zone's lon/lat polygon (the pieces
are its exact clip); the grid only decides which piece to test. A point on a
zone's boundary counts as inside.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import shapely
from shapely.errors import GEOSException
from shapely.geometry.base import BaseGeometry

from .errors import ZoneIndexError

__all__ = ["ZoneGrid"]

_INTERIOR = -1
# A clipped piece covers its whole rectangle when its area is this close to it.
_FULL_COVER_REL = 1e-9


class ZoneGrid:
    """A grid index over numbered zones; zone numbers are the caller's (0, 1, 2, ...)."""

    def __init__(self, cell_deg: float = 0.1) -> None:
        if not (0 < cell_deg <= 10):
            raise ZoneIndexError(f"cell_deg={cell_deg} is outside (0, 10]")
        self.cell_deg = cell_deg
        self._nx = int(round(360.0 / cell_deg))
        self._ny = int(round(180.0 / cell_deg))
        # zone number -> (cell keys, piece per key or None for interior)
        self._per_zone: dict[int, tuple[np.ndarray, list[BaseGeometry | None]]] = {}
        self._dirty = True
        self._keys = np.empty(0, np.int64)
        self._zone = np.empty(0, np.int32)
        self._piece = np.empty(0, np.int32)
        self._pieces = np.empty(0, object)

    # -- building -------------------------------------------------------------------

    def set_zone(self, zone_no: int, geometry: BaseGeometry) -> None:
        """Index (or re-index) ``zone_no`` with an area in lon/lat degrees."""
        minx, miny, maxx, maxy = geometry.bounds
        if not (-180.0 <= minx <= maxx <= 180.0 and -90.0 <= miny <= maxy <= 90.0):
            raise ZoneIndexError(f"zone {zone_no}: bounds {geometry.bounds} are outside lon/lat")
        try:
            keys, pieces = _cells_of(self.cell_deg, shapely.to_wkb(geometry))
        except GEOSException as e:
            raise ZoneIndexError(f"zone {zone_no}: geometry could not be cut into cells: {e}") from e
        self._per_zone[zone_no] = (keys, list(pieces))
        self._dirty = True

    def _rebuild(self) -> None:
        keys, zones, piece_no, all_pieces = [], [], [], []
        n_pieces = 0
        for z in sorted(self._per_zone):
            k, pcs = self._per_zone[z]
            keys.append(k)
            zones.append(np.full(k.size, z, np.int32))
            no = np.full(k.size, _INTERIOR, np.int32)
            for j, p in enumerate(pcs):
                if p is not None:
                    no[j] = n_pieces
                    n_pieces += 1
                    all_pieces.append(p)
            piece_no.append(no)
        if keys:
            k_all = np.concatenate(keys)
            z_all = np.concatenate(zones)
            order = np.lexsort((z_all, k_all))
            self._keys = k_all[order]
            self._zone = z_all[order]
            self._piece = np.concatenate(piece_no)[order]
        pieces = np.empty(len(all_pieces), object)
        pieces[:] = all_pieces
        shapely.prepare(pieces)
        self._pieces = pieces
        self._dirty = False

    # -- querying -------------------------------------------------------------------

    @property
    def n_cells(self) -> int:
        """Indexed (cell, zone) entries, interior and boundary."""
        if self._dirty:
            self._rebuild()
        return int(self._keys.size)

    @property
    def n_pieces(self) -> int:
        if self._dirty:
            self._rebuild()
        return int(self._pieces.size)

    def query(self, lon_deg: np.ndarray, lat_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All (point, zone) pairs with the point inside the zone.

        Returns two int arrays of equal length, sorted by point index then zone.
        """
        if self._dirty:
            self._rebuild()
        n = lon_deg.size
        if n == 0 or self._keys.size == 0:
            return np.empty(0, np.int64), np.empty(0, np.int32)
        c = self.cell_deg
        ix = np.clip(np.floor((lon_deg + 180.0) / c).astype(np.int64), 0, self._nx - 1)
        iy = np.clip(np.floor((lat_deg + 90.0) / c).astype(np.int64), 0, self._ny - 1)
        key = iy * self._nx + ix
        lo = np.searchsorted(self._keys, key, "left")
        hi = np.searchsorted(self._keys, key, "right")
        cnt = hi - lo
        total = int(cnt.sum())
        if total == 0:
            return np.empty(0, np.int64), np.empty(0, np.int32)
        hit = np.nonzero(cnt)[0]
        cnt_h = cnt[hit]
        pt = np.repeat(hit, cnt_h)
        starts = np.cumsum(cnt_h) - cnt_h
        ent = np.arange(total) - np.repeat(starts, cnt_h) + np.repeat(lo[hit], cnt_h)
        piece = self._piece[ent]
        inside = piece == _INTERIOR
        b = np.nonzero(~inside)[0]
        if b.size:
            inside[b] = shapely.intersects_xy(self._pieces[piece[b]], lon_deg[pt[b]], lat_deg[pt[b]])
        return pt[inside], self._zone[ent[inside]]


@functools.lru_cache(maxsize=256)
def _cells_of(cell_deg: float, wkb: bytes) -> tuple[np.ndarray, tuple[BaseGeometry | None, ...]]:
    """The cells of a zone (given as WKB) and its piece in each (None: interior).

    Kept for the zones last cut: every engine of a process (one per partition in an engine
    worker, a replay's, a test's) cuts the same catalogue; WKB keeps the exact coordinates, and
    the pieces are immutable, so engines share them.
    """
    geometry = shapely.from_wkb(wkb)
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    cutter = _Cutter(cell_deg)
    minx, miny, maxx, maxy = geometry.bounds
    ix0, iy0 = cutter.cell_of(minx, miny)
    ix1, iy1 = cutter.cell_of(maxx, maxy)
    cutter.cut(geometry, ix0, ix1 + 1, iy0, iy1 + 1)
    keys = np.asarray(cutter.keys, np.int64)
    keys.setflags(write=False)
    return keys, tuple(cutter.pieces)


class _Cutter:
    """Cuts one zone along the grid of ``cell_deg`` (module docstring)."""

    def __init__(self, cell_deg: float) -> None:
        self.cell_deg = cell_deg
        self.nx = int(round(360.0 / cell_deg))
        self.ny = int(round(180.0 / cell_deg))
        self.keys: list[int] = []
        self.pieces: list[BaseGeometry | None] = []

    def cell_of(self, lon: float, lat: float) -> tuple[int, int]:
        ix = min(max(int(math.floor((lon + 180.0) / self.cell_deg)), 0), self.nx - 1)
        iy = min(max(int(math.floor((lat + 90.0) / self.cell_deg)), 0), self.ny - 1)
        return ix, iy

    def rect(self, ix0: int, ix1: int, iy0: int, iy1: int) -> tuple[float, float, float, float]:
        c = self.cell_deg
        return (-180.0 + ix0 * c, -90.0 + iy0 * c, -180.0 + ix1 * c, -90.0 + iy1 * c)

    def cut(self, geom: BaseGeometry, ix0: int, ix1: int, iy0: int, iy1: int) -> None:
        rect = self.rect(ix0, ix1, iy0, iy1)
        piece = shapely.clip_by_rect(geom, *rect)
        if piece.is_empty or piece.area <= 0.0:
            return
        rect_area = (rect[2] - rect[0]) * (rect[3] - rect[1])
        if piece.area >= rect_area * (1.0 - _FULL_COVER_REL):
            for iy in range(iy0, iy1):
                for ix in range(ix0, ix1):
                    self.keys.append(iy * self.nx + ix)
                    self.pieces.append(None)
            return
        if ix1 - ix0 == 1 and iy1 - iy0 == 1:
            self.keys.append(iy0 * self.nx + ix0)
            self.pieces.append(piece)
            return
        if ix1 - ix0 >= iy1 - iy0:
            mid = (ix0 + ix1) // 2
            self.cut(piece, ix0, mid, iy0, iy1)
            self.cut(piece, mid, ix1, iy0, iy1)
        else:
            mid = (iy0 + iy1) // 2
            self.cut(piece, ix0, ix1, iy0, mid)
            self.cut(piece, ix0, ix1, mid, iy1)
