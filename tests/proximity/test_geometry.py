"""Geodesic buffers, circles and distances, measured against GeographicLib."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from geodesic_truth import direct, dist_m, distance_to_line_m, distance_to_lines_m, normal_samples
from pyproj import CRS, Transformer
from shapely.geometry import LineString, MultiLineString, Point, Polygon

from config.zones import load_country_outlines
from proximity.geometry import (
    GeometryError,
    LocalAeqd,
    distance_to_geometry_m,
    geodesic_buffer,
    geodesic_circle,
    geodesic_length_m,
)

# A zigzag line with sharp and gentle turns, long enough to be cut into pieces,
# at the latitude of the Russia-Norway border (where degrees distort most).
ZIGZAG_NORTH = np.array(
    [[28.0, 69.0], [28.6, 69.35], [28.9, 69.1], [29.8, 69.6], [31.5, 69.7], [31.7, 70.9], [33.0, 71.2]]
)
# A gentler one at the latitude of the Gulf of Finland, with a long straight segment.
LINE_SOUTH = np.array([[24.0, 57.5], [26.5, 57.9], [27.2, 58.8], [27.5, 59.0], [31.0, 59.3]])

RATIOS = (0.2, 0.9, 0.99, 0.9985, 1.0015, 1.01, 1.1, 1.6)


def _assert_membership(area: shapely.Geometry, coords: np.ndarray, buffer_m: float) -> int:
    """Every sample is classified right unless within 0.1 % of buffer_m of the boundary."""
    shapely.prepare(area)
    checked = 0
    for lon, lat, _ in normal_samples(coords, [r * buffer_m for r in RATIOS]):
        truth = distance_to_line_m(lon, lat, coords)
        if abs(truth - buffer_m) <= 1e-3 * buffer_m:
            continue
        inside = bool(shapely.contains_xy(area, lon, lat))
        assert inside == (truth < buffer_m), (lon, lat, truth, buffer_m)
        checked += 1
    return checked


@pytest.mark.parametrize("coords", [ZIGZAG_NORTH, LINE_SOUTH], ids=["north", "south"])
@pytest.mark.parametrize("buffer_m", [10_000.0, 50_000.0])
def test_buffer_membership_matches_geographiclib(coords: np.ndarray, buffer_m: float) -> None:
    area = geodesic_buffer(LineString(coords), buffer_m, max_error_m=buffer_m * 5e-4)
    assert area.is_valid
    checked = _assert_membership(area, coords, buffer_m)
    assert checked >= (len(coords) - 1) * 2 * (len(RATIOS) - 2)


@pytest.mark.parametrize("buffer_m", [10_000.0, 22_224.0])
def test_buffer_boundary_is_at_the_buffer_distance(buffer_m: float) -> None:
    max_error_m = buffer_m * 5e-4
    area = geodesic_buffer(LineString(ZIGZAG_NORTH), buffer_m, max_error_m=max_error_m)
    ring = np.asarray(area.exterior.coords)
    # Vertices and the midpoints of straight lon/lat edges, where edges stray most.
    mids = 0.5 * (ring[:-1] + ring[1:])
    rng = np.random.default_rng(7)
    for pts in (ring[rng.choice(len(ring) - 1, 60, replace=False)], mids[rng.choice(len(mids), 60, replace=False)]):
        for lon, lat in pts:
            err = distance_to_line_m(lon, lat, ZIGZAG_NORTH) - buffer_m
            assert abs(err) <= max_error_m, (lon, lat, err)


SQUARE = Polygon([(26.0, 58.0), (27.0, 58.0), (27.0, 58.5), (26.0, 58.5)])


def _north_of_top_edge(offsets_m: list[float]) -> list[tuple[float, float, float]]:
    """Points on the outward normal of the square's top edge (a geodesic, bowing north)."""
    top = np.array([[27.0, 58.5], [26.0, 58.5]])
    return [(lon, lat, d) for lon, lat, d in normal_samples(top, offsets_m) if lat > 58.5]


def test_buffer_of_a_polygon_contains_it_and_its_surroundings() -> None:
    area = geodesic_buffer(SQUARE, 12_000.0, max_error_m=6.0)
    assert area.covers(SQUARE)
    (lon_in, lat_in, _), (lon_out, lat_out, _) = _north_of_top_edge([11_990.0, 12_010.0])
    assert area.contains(Point(lon_in, lat_in))
    assert not area.contains(Point(lon_out, lat_out))


@pytest.mark.slow
def test_buffer_of_a_real_coast_matches_geographiclib() -> None:
    """Estonia's islands and bays, 12 NM: the polygon path behind the territorial zones."""
    estonia = next(o for o in load_country_outlines() if o.code == "EE").geometry
    buffer_m = 22_224.0
    area = geodesic_buffer(estonia, buffer_m, max_error_m=buffer_m * 5e-4)
    assert area.is_valid and area.covers(estonia)
    shapely.prepare(area)
    rings = [np.asarray(r.coords) for p in shapely.get_parts(estonia) for r in (p.exterior, *p.interiors)]
    checked = 0
    for ring in sorted(rings, key=len)[-4:]:
        every = max(1, (len(ring) - 1) // 12)
        for lon, lat, _ in normal_samples(ring, [r * buffer_m for r in (0.5, 0.998, 1.002, 1.2)], every=every):
            if estonia.covers(Point(lon, lat)):
                continue
            truth = distance_to_lines_m(lon, lat, rings)
            if abs(truth - buffer_m) <= 1e-3 * buffer_m:
                continue
            assert bool(shapely.contains_xy(area, lon, lat)) == (truth < buffer_m), (lon, lat, truth)
            checked += 1
    assert checked >= 100


def test_multilinestring_buffer_covers_every_part() -> None:
    lines = MultiLineString([ZIGZAG_NORTH, LINE_SOUTH])
    area = geodesic_buffer(lines, 10_000.0, max_error_m=5.0)
    assert area.geom_type == "MultiPolygon"
    for c in (ZIGZAG_NORTH, LINE_SOUTH):
        assert area.covers(LineString(c))


@pytest.mark.parametrize("radius_m", [5_000.0, 200_000.0])
def test_geodesic_circle_radius(radius_m: float) -> None:
    lon0, lat0 = 30.3, 59.9
    circle = geodesic_circle(lon0, lat0, radius_m, max_error_m=radius_m * 5e-4)
    ring = np.asarray(circle.exterior.coords)
    mids = 0.5 * (ring[:-1] + ring[1:])
    for lon, lat in np.vstack([ring, mids]):
        assert abs(dist_m(lon0, lat0, lon, lat) - radius_m) <= radius_m * 5e-4
    for az in range(0, 360, 15):
        assert circle.contains(Point(direct(lon0, lat0, az, radius_m * 0.999)))
        assert not circle.contains(Point(direct(lon0, lat0, az, radius_m * 1.001)))


def test_distance_matches_geographiclib_up_to_500_km() -> None:
    line = LineString(ZIGZAG_NORTH)
    rng = np.random.default_rng(11)
    worst = 0.0
    for _ in range(40):
        # a random point of the line, then a random direction and distance
        s = rng.uniform(0, 1)
        p = line.interpolate(s, normalized=True)
        lon, lat = direct(p.x, p.y, rng.uniform(0, 360), rng.uniform(1_000.0, 500_000.0))
        ours = distance_to_geometry_m(lon, lat, line)
        truth = distance_to_line_m(lon, lat, ZIGZAG_NORTH)
        worst = max(worst, abs(ours - truth))
    assert worst <= 1.0


def test_distance_to_points_and_inside_polygons() -> None:
    assert distance_to_geometry_m(24.0, 60.0, Point(25.0, 60.0)) == pytest.approx(dist_m(24.0, 60.0, 25.0, 60.0), abs=1e-3)
    assert distance_to_geometry_m(26.5, 58.2, SQUARE) == 0.0
    ((lon, lat, _),) = _north_of_top_edge([3_000.0])
    assert distance_to_geometry_m(lon, lat, SQUARE) == pytest.approx(3_000.0, abs=1e-3)


def test_local_aeqd_is_projs_ellipsoidal_aeqd() -> None:
    lon0, lat0 = 28.0, 69.0
    proj = LocalAeqd(lon0, lat0)
    crs = CRS.from_proj4(f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +ellps=WGS84 +units=m +no_defs")
    tr = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    lon = np.array([28.0, 29.5, 25.0, 33.0, 28.0])
    lat = np.array([69.5, 70.1, 68.0, 71.0, 65.0])
    x, y = proj.forward(lon, lat)
    px, py = tr.transform(lon, lat)
    assert np.allclose(x, px, atol=1e-3) and np.allclose(y, py, atol=1e-3)
    back_lon, back_lat = proj.inverse(x, y)
    assert np.allclose(back_lon, lon, atol=1e-9) and np.allclose(back_lat, lat, atol=1e-9)


def test_geodesic_length() -> None:
    assert geodesic_length_m(LineString([(24.0, 60.0), (25.0, 60.0)])) == pytest.approx(
        dist_m(24.0, 60.0, 25.0, 60.0), abs=1e-3
    )


@pytest.mark.parametrize(
    ("geom", "distance_m", "max_error_m", "match"),
    [
        (LineString([(24, 60), (25, 60)]), -5.0, 1.0, "positive"),
        (LineString([(24, 60), (25, 60)]), 1_000.0, 0.0, "positive"),
        (LineString([(400_000, 6_000_000), (500_000, 6_000_000)]), 1_000.0, 1.0, "lon/lat"),
        (LineString(), 1_000.0, 1.0, "empty"),
        (LineString([(24, 60), (25, 60)]), 3_000_000.0, 0.01, "cannot be built"),
    ],
)
def test_buffer_rejects_bad_requests(geom, distance_m, max_error_m, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(GeometryError, match=match):
        geodesic_buffer(geom, distance_m, max_error_m=max_error_m)


def test_the_segment_screen_keeps_the_nearest_segment() -> None:
    """The screen on the sphere drops only segments that cannot hold the nearest point: the
    distance equals the minimum over every segment of a real border line, refined one by one."""
    from config.zones import load_borders
    from proximity.geometry import _segment_min_distance_m

    (line,) = [g for name, g in load_borders() if name == "Russia–Estonia border"]
    coords = np.asarray(line.coords)
    rng = np.random.default_rng(7)
    for lon, lat in zip(rng.uniform(26.0, 30.0, 4), rng.uniform(56.5, 60.0, 4)):
        brute = min(_segment_min_distance_m(float(lon), float(lat), tuple(a), tuple(b))
                    for a, b in zip(coords[:-1], coords[1:]))
        assert distance_to_geometry_m(float(lon), float(lat), line) == pytest.approx(brute, abs=1e-6)
        # the second call uses the segments prepared by the first: the same answer
        assert distance_to_geometry_m(float(lon), float(lat), line) == pytest.approx(brute, abs=1e-6)


def test_the_nearest_point_of_a_segment_is_geographiclibs() -> None:
    """The nearest point of one geodesic segment (where the way to the point is perpendicular to it, or
    an end) within 1 mm of GeographicLib's minimum, for segments of 1 m to 1,000 km, points beside,
    before and beyond them, and a point on the segment."""
    from proximity.geometry import WGS84, _segment_min_distance_m

    def course(a, b):
        return float(WGS84.inv(a[0], a[1], b[0], b[1])[0])

    rng = np.random.default_rng(11)
    for length_m in (1.0, 1_000.0, 50_000.0, 1_000_000.0):
        for _ in range(12):
            a = (float(rng.uniform(-170, 170)), float(rng.uniform(-75, 75)))
            b = direct(*a, float(rng.uniform(0, 360)), length_m)
            p = direct(*a, float(rng.uniform(0, 360)), float(rng.uniform(0, 2.0 * length_m + 5_000.0)))
            truth = distance_to_line_m(p[0], p[1], np.array([a, b]))
            assert _segment_min_distance_m(p[0], p[1], a, b) == pytest.approx(truth, abs=1e-3)
    # points on it: its ends, and one in the middle (the geodesic's own course there)
    a, b = (20.0, 60.0), (21.0, 60.5)
    middle = direct(*a, course(a, b), 30_000.0)
    for on in (a, b, middle):
        assert _segment_min_distance_m(on[0], on[1], a, b) == pytest.approx(0.0, abs=1e-3)
