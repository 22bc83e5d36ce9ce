"""Metric buffers of lon/lat areas in local azimuthal-equidistant projections.

Used for the engine's hysteresis band (a zone grown by its exit margin), where
an error of a fraction of a percent of the margin does not matter. Each part of
a multi-part area gets its own projection centred on it; edges are densified
first so that they follow the projection. The zone catalogue's own buffers come
from ``proximity.geometry`` and are built to the catalogue's tolerance.
"""

from __future__ import annotations

from functools import lru_cache

import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

__all__ = ["buffer_area_m", "circle_m"]


def _apply(tr: Transformer, geometry: BaseGeometry) -> BaseGeometry:
    return shapely.transform(geometry, lambda x, y: tr.transform(x, y), interleaved=False)

_DENSIFY_DEG = 0.05


@lru_cache(maxsize=256)
def _aeqd(lon0: float, lat0: float) -> tuple[Transformer, Transformer]:
    crs = CRS.from_proj4(f"+proj=aeqd +lat_0={lat0:.6f} +lon_0={lon0:.6f} +datum=WGS84 +units=m +no_defs")
    fwd = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    inv = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return fwd, inv


def buffer_area_m(geometry: BaseGeometry, distance_m: float) -> BaseGeometry:
    """``geometry`` (lon/lat) grown by ``distance_m`` metres, part by part."""
    parts = list(getattr(geometry, "geoms", [geometry]))
    out = []
    for part in parts:
        c = part.centroid
        fwd, inv = _aeqd(round(c.x, 6), round(c.y, 6))
        local = _apply(fwd, shapely.segmentize(part, _DENSIFY_DEG))
        grown = local.buffer(distance_m, quad_segs=16)
        out.append(_apply(inv, shapely.segmentize(grown, max(distance_m / 20.0, 50.0))))
    return unary_union(out)


def circle_m(lon_deg: float, lat_deg: float, radius_m: float) -> BaseGeometry:
    """The disc of ``radius_m`` metres (geodesic from the centre) around a point."""
    fwd, inv = _aeqd(round(lon_deg, 6), round(lat_deg, 6))
    x, y = fwd.transform(lon_deg, lat_deg)
    disc = shapely.Point(x, y).buffer(radius_m, quad_segs=64)
    return _apply(inv, disc)
