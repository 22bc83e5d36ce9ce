"""Notices to zones: the areas feeds notify, built within a stated error.

``ingest`` hands a notice's area on as the feed gives it (a centre and a radius, or a
polygon; :class:`config.records.Notice`); this module builds the zone's geometry with
:mod:`proximity.geometry`, the one place circles and margins are built:

* a circle of radius ``r`` with a margin ``m`` is the geodesic circle of radius
  ``r + m`` (the points within ``m`` of a geodesic disc are exactly those within
  ``r + m`` of its centre), built within :data:`CIRCLE_ERROR_SHARE` of its radius;
* a route (an announced flight) is the corridor within the half-width ``m`` of its geodesic
  segments, built within :data:`MARGIN_ERROR_SHARE` of ``m``;
* a polygon keeps its vertices and the feed's edges: straight in lon/lat as given
  (GeoJSON, RFC 7946 section 3.1.1), or geodesics (NOTAMs), drawn with vertices
  close enough that the lon/lat edges stay within :data:`EDGE_ERROR_M` of them;
  a margin grows it by ``m`` geodesic metres, built within :data:`MARGIN_ERROR_SHARE`
  of the margin (lon/lat edges are first split every :data:`LONLAT_STEP_DEG`, so the
  geodesics between the split points follow them within centimetres).

"Within" means the built boundary lies within that distance of the true geodesic one
(``tests/proximity/test_notices.py`` measures it against GeographicLib).
"""

from __future__ import annotations

from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon

from config.records import CircleArea, Notice, NoticeArea, PolygonArea, RecordError, RouteArea, Zone, ZoneKind

from .errors import NoticeError
from .geometry import GeometryError, densify_geodesic_edges, geodesic_buffer, geodesic_circle

__all__ = [
    "CIRCLE_ERROR_SHARE",
    "EDGE_ERROR_M",
    "LONLAT_STEP_DEG",
    "MARGIN_ERROR_SHARE",
    "notice_area",
    "notice_max_error_m",
    "zone_from_notice",
]

#: Circles are built within this share of their radius (0.01 %: 1.5 m for 15 km).
CIRCLE_ERROR_SHARE = 1e-4
#: Margins around polygons within this share of the margin (0.05 %, as the zone catalogue;
#: a tighter share would need pieces too short for wide margins).
MARGIN_ERROR_SHARE = 5e-4

#: Geodesic polygon edges are drawn within this distance (m) of the geodesics.
EDGE_ERROR_M = 1.0
#: Lon/lat polygon edges are split this finely (degrees) before a margin is built.
LONLAT_STEP_DEG = 0.005

# Exercises and NOTAM areas are watched as exercise areas; an announced flight's route is a
# corridor (held, never watched: events about the flight say it was announced).
_ZONE_KIND: dict[str, ZoneKind] = {"exercise": "exercise", "notam": "exercise", "flight": "corridor"}


def notice_max_error_m(area: NoticeArea, margin_m: float) -> float:
    """The largest distance (m) between the built boundary and the true one (0: as given)."""
    if isinstance(area, CircleArea):
        return CIRCLE_ERROR_SHARE * (area.radius_m + margin_m)
    if isinstance(area, PolygonArea):
        edges_m = EDGE_ERROR_M if area.edges == "geodesic" else 0.0
        return edges_m + MARGIN_ERROR_SHARE * margin_m
    if isinstance(area, RouteArea):
        return MARGIN_ERROR_SHARE * margin_m
    raise NoticeError(f"area: no geometry for a {type(area).__name__}")


def notice_area(area: NoticeArea, margin_m: float = 0.0) -> Polygon | MultiPolygon:
    """The area in lon/lat: the circle or polygon grown by ``margin_m`` (geodesic metres).

    Raises :class:`proximity.errors.NoticeError` when it cannot be built as asked.
    """
    try:
        if isinstance(area, CircleArea):
            radius_m = area.radius_m + margin_m
            return geodesic_circle(area.lon_deg, area.lat_deg, radius_m, max_error_m=CIRCLE_ERROR_SHARE * radius_m)
        if isinstance(area, PolygonArea):
            if area.edges == "geodesic":
                polygon = densify_geodesic_edges(area.geometry, max_error_m=EDGE_ERROR_M)
            elif margin_m > 0:
                polygon = shapely.segmentize(area.geometry, LONLAT_STEP_DEG)
            else:
                return area.geometry  # type: ignore[return-value]  # PolygonArea holds only areas
            if margin_m == 0:
                return polygon
            return geodesic_buffer(polygon, margin_m, max_error_m=MARGIN_ERROR_SHARE * margin_m)
        if isinstance(area, RouteArea):
            # the corridor: every point within the half-width of the route's geodesic segments
            return geodesic_buffer(area.geometry, margin_m, max_error_m=MARGIN_ERROR_SHARE * margin_m)
    except GeometryError as e:
        raise NoticeError(f"area: {e}") from e
    raise NoticeError(f"area: no geometry for a {type(area).__name__}")


def zone_from_notice(notice: Notice) -> Zone:
    """The zone the engine watches for ``notice`` (same id, window, sides, domains, severity).

    ``properties`` keep the feed (``feed``, ``raw_ref``), who notified (``side``,
    ``country``, ``issued_s``), the declared forces (``declared``), a circle's
    ``radius_m`` and the notice's own properties. Raises
    :class:`proximity.errors.NoticeError` naming the notice.
    """
    try:
        geometry = notice_area(notice.area, notice.margin_m)
    except NoticeError as e:
        raise NoticeError(f"notice {notice.notice_id}: {e}") from e
    properties: dict[str, Any] = {
        "feed": notice.source,
        "raw_ref": notice.raw_ref,
        "side": notice.issuer_side,
        "country": notice.issuer_country,
    }
    if notice.issued_s is not None:
        properties["issued_s"] = notice.issued_s
    if notice.declared:
        properties["declared"] = dict(notice.declared)
    if isinstance(notice.area, CircleArea):
        properties["radius_m"] = notice.area.radius_m
    properties.update(notice.properties)
    try:
        return Zone(
            zone_id=notice.notice_id,
            name=notice.name,
            kind=_ZONE_KIND[notice.kind],
            geometry=geometry,
            buffer_m=notice.margin_m,
            sides=notice.sides,
            domains=notice.domains,
            severity=notice.severity,
            active_from_s=notice.active_from_s,
            active_until_s=notice.active_until_s,
            properties=properties,
        )
    except RecordError as e:
        raise NoticeError(f"notice {notice.notice_id}: {e}") from e
