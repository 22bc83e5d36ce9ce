"""Notices to zones: circles and margins within the stated error, against GeographicLib."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from geodesic_truth import G, direct, dist_m, distance_to_lines_m
from shapely.geometry import MultiPolygon, Point, Polygon, box

from config.records import MAX_NOTICE_MARGIN_M, MAX_NOTICE_RADIUS_M, CircleArea, Notice, PolygonArea
from proximity.errors import NoticeError
from proximity.notices import (
    CIRCLE_ERROR_SHARE,
    EDGE_ERROR_M,
    MARGIN_ERROR_SHARE,
    notice_area,
    notice_max_error_m,
    zone_from_notice,
)


def _notice(area, **kw) -> Notice:
    kw.setdefault("notice_id", "exercise:x")
    kw.setdefault("kind", "exercise")
    kw.setdefault("name", "X")
    kw.setdefault("source", "feed")
    return Notice(area=area, **kw)


def _boundary_points(area: shapely.Geometry) -> np.ndarray:
    """Every vertex of every ring, and the midpoint (in lon/lat) of every straight edge."""
    out = []
    for part in shapely.get_parts(area):
        for ring in [part.exterior, *part.interiors]:
            c = np.asarray(ring.coords)
            out += [c, 0.5 * (c[:-1] + c[1:])]
    return np.vstack(out)


@pytest.mark.parametrize(
    "lon, lat, radius_m",
    [
        (28.40, 57.85, 15_000.0),  # the demo's snap exercise near Pskov
        (28.0, 55.0, 30_000.0),
        (25.2, 60.2, 18_520.0),  # 10 NM
        (33.0, 69.5, 185_200.0),  # 100 NM, far north
        (20.0, 55.0, 1_000.0),
        (30.0, 60.0, MAX_NOTICE_RADIUS_M),
    ],
)
def test_circle_is_within_its_error_bound_of_the_geodesic_circle(lon: float, lat: float, radius_m: float) -> None:
    notice = _notice(CircleArea(lon_deg=lon, lat_deg=lat, radius_m=radius_m))
    zone = zone_from_notice(notice)
    bound_m = notice_max_error_m(notice.area, 0.0)
    assert bound_m == CIRCLE_ERROR_SHARE * radius_m
    assert zone.geometry.geom_type == "Polygon" and zone.geometry.is_valid
    errors = [dist_m(lon, lat, x, y) - radius_m for x, y in _boundary_points(zone.geometry)]
    assert max(abs(e) for e in errors) <= bound_m, (min(errors), max(errors))
    # membership just inside and outside the bound, all around
    for az in range(0, 360, 10):
        assert zone.geometry.contains(Point(direct(lon, lat, az, radius_m - 2 * bound_m)))
        assert not zone.geometry.contains(Point(direct(lon, lat, az, radius_m + 2 * bound_m)))


def test_circle_vertices_lie_on_the_circle() -> None:
    """Moved with the geometry from tests/ingest/test_exercise.py."""
    zone = zone_from_notice(_notice(CircleArea(lon_deg=28.0, lat_deg=55.0, radius_m=30_000.0)))
    dists = [dist_m(28.0, 55.0, x, y) for x, y in zone.geometry.exterior.coords]
    assert max(abs(d - 30_000) for d in dists) < 0.01
    assert zone.geometry.contains(Point(28.0, 55.26)) and not zone.geometry.contains(Point(28.0, 55.28))
    notam = zone_from_notice(_notice(CircleArea(lon_deg=25.2, lat_deg=60.2, radius_m=10 * 1852.0)))
    dists = [dist_m(25.2, 60.2, x, y) for x, y in notam.geometry.exterior.coords]
    assert max(abs(x - 10 * 1852) for x in dists) < 0.01


def test_circle_with_a_margin_is_the_wider_circle() -> None:
    zone = zone_from_notice(_notice(CircleArea(lon_deg=28.4, lat_deg=57.85, radius_m=15_000.0), margin_m=5_000.0))
    bound_m = CIRCLE_ERROR_SHARE * 20_000.0
    assert max(abs(dist_m(28.4, 57.85, x, y) - 20_000.0) for x, y in _boundary_points(zone.geometry)) <= bound_m
    assert zone.buffer_m == 5_000.0 and zone.properties["radius_m"] == 15_000.0


SQUARE = [(20.0, 55.0), (21.0, 55.0), (21.0, 55.5), (20.0, 55.5), (20.0, 55.0)]


def test_polygon_with_a_margin_is_within_its_error_bound() -> None:
    area = PolygonArea(geometry=Polygon(SQUARE))  # straight lon/lat edges (GeoJSON)
    zone = zone_from_notice(_notice(area, margin_m=5_000.0))
    bound_m = MARGIN_ERROR_SHARE * 5_000.0
    assert notice_max_error_m(area, 5_000.0) == bound_m
    # Moved from tests/ingest/test_exercise.py: 5 km south of the southern edge is on the boundary.
    lon, lat = direct(20.5, 55.0, 180.0, 5_000)
    assert zone.geometry.exterior.distance(Point(lon, lat)) < 0.001 * 5_000 / 111_000
    assert zone.geometry.contains(Point(20.5, 54.97)) and not zone.geometry.contains(Point(20.5, 54.94))
    # The whole boundary, against GeographicLib: the lon/lat edges split every 0.01 degree, where
    # the geodesics between the split points keep within 4 cm of them.
    edges = np.asarray(shapely.segmentize(Polygon(SQUARE), 0.01).exterior.coords)
    rng = np.random.default_rng(3)
    points = _boundary_points(zone.geometry)
    for x, y in points[rng.choice(len(points), 40, replace=False)]:
        assert abs(distance_to_lines_m(x, y, [edges]) - 5_000.0) <= bound_m, (x, y)


def test_widest_margin_is_built_within_its_bound() -> None:
    area = PolygonArea(geometry=box(24.0, 58.0, 25.0, 58.5))
    zone = zone_from_notice(_notice(area, margin_m=MAX_NOTICE_MARGIN_M))
    bound_m = MARGIN_ERROR_SHARE * MAX_NOTICE_MARGIN_M
    edges = np.asarray(shapely.segmentize(area.geometry, 0.01).exterior.coords)
    points = _boundary_points(zone.geometry)
    rng = np.random.default_rng(4)
    for x, y in points[rng.choice(len(points), 30, replace=False)]:
        assert abs(distance_to_lines_m(x, y, [edges]) - MAX_NOTICE_MARGIN_M) <= bound_m, (x, y)


def _geodesic_ring(coords: list[tuple[float, float]], step_m: float = 100.0) -> np.ndarray:
    """The polygon's edges as geodesics (GeographicLib), sampled every ``step_m``."""
    out = []
    for (lon1, lat1), (lon2, lat2) in zip(coords, coords[1:]):
        line = G.InverseLine(lat1, lon1, lat2, lon2)
        for s in np.linspace(0.0, line.s13, max(2, int(line.s13 / step_m))):
            p = line.Position(s)
            out.append((p["lon2"], p["lat2"]))
    return np.array(out)


def test_notam_polygon_edges_are_geodesics() -> None:
    """ICAO polygons join their points by geodesics: the northern edge bows north by ~100 m."""
    coords = [(20.0, 54.8333333), (21.0, 54.8333333), (21.0, 54.5), (20.0, 54.5), (20.0, 54.8333333)]
    zone = zone_from_notice(_notice(PolygonArea(geometry=Polygon(coords), edges="geodesic"), kind="notam",
                                    notice_id="notam:B0456/24"))
    truth = _geodesic_ring(coords)
    for x, y in _boundary_points(zone.geometry)[::7]:
        assert distance_to_lines_m(x, y, [truth]) <= EDGE_ERROR_M, (x, y)
    # the geodesic's northmost point is inside; the straight edge would have left it out
    north = truth[np.argmax(truth[:, 1])]
    assert north[1] - 54.8333333 > 0.0008  # about 90 m
    assert zone.geometry.contains(Point(north[0], north[1] - 1e-5))
    assert not Polygon(coords).contains(Point(north[0], north[1] - 1e-5))


def test_zone_keeps_the_notice() -> None:
    notice = _notice(
        CircleArea(lon_deg=28.4, lat_deg=57.85, radius_m=15_000.0),
        name="Snap", active_from_s=10.0, active_until_s=20.0, sides=("nato",), domains=("air", "land"),
        severity="critical", issuer_country="RU", issuer_side="russia", declared={"troops": 3500},
        raw_ref="feed:3", properties={"notification": "snap"},
    )
    z = zone_from_notice(notice)
    assert (z.zone_id, z.name, z.kind, z.buffer_m, z.severity) == ("exercise:x", "Snap", "exercise", 0.0, "critical")
    assert (z.active_from_s, z.active_until_s, z.sides, z.domains) == (10.0, 20.0, ("nato",), ("air", "land"))
    assert z.properties == {"feed": "feed", "raw_ref": "feed:3", "side": "russia", "country": "RU",
                            "declared": {"troops": 3500}, "radius_m": 15_000.0, "notification": "snap"}


def test_polygon_as_given_without_margin() -> None:
    poly = MultiPolygon([box(20, 55, 21, 56), box(22, 55, 23, 56)])
    assert notice_area(PolygonArea(geometry=poly)) is poly


def test_an_area_that_cannot_be_built_is_a_notice_error() -> None:
    class Corridor:  # a shape a later notice kind may bring, unknown to this module
        pass

    with pytest.raises(NoticeError, match="no geometry for a Corridor"):
        notice_area(Corridor())  # type: ignore[arg-type]
