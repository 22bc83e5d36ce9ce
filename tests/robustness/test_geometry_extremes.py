"""Areas at the antimeridian and the poles: built right (measured against GeographicLib),
and zones of every kind there do not stop the engine or a run.

The watched region is Europe, but a NOTAM or exercise feed is global: a circle over the
date line, a margin round a polar area or a NOTAM polygon across 180 degrees must come
out as lon/lat areas within +-180/+-90 (cut at the antimeridian, closed at the pole)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import shapely
from geodesic_truth import G, direct, dist_m, distance_to_line_m
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon, box

from closewatch.pipeline import Pipeline
from closewatch.sinks import RecorderSink
from config.records import CircleArea, Notice, PolygonArea, TrackUpdate, Zone
from config.settings import ProximitySettings, parse_settings
from proximity.engine import Engine
from proximity.geometry import densify_geodesic_edges, geodesic_buffer, geodesic_circle
from proximity.notices import zone_from_notice

T0 = 1_700_000_000.0


def _wrap(lon: np.ndarray) -> np.ndarray:
    return (np.asarray(lon) + 180.0) % 360.0 - 180.0


def _is_lonlat_area(area: object) -> None:
    assert isinstance(area, (Polygon, MultiPolygon)) and area.is_valid and not area.is_empty
    xmin, ymin, xmax, ymax = area.bounds
    assert -180.0 <= xmin <= xmax <= 180.0 and -90.0 <= ymin <= ymax <= 90.0


CIRCLES = [
    (180.0, 60.0, 50_000.0),  # centred on the antimeridian
    (-179.9, 0.0, 50_000.0),  # at the equator, just west of it
    (179.99, -45.0, 300_000.0),
    (0.0, 89.9, 50_000.0),  # holds the North Pole
    (120.0, -89.5, 200_000.0),  # holds the South Pole
    (-180.0, 89.0, 500_000.0),  # holds the pole and crosses the antimeridian
    (179.0, 85.0, 400_000.0),  # crosses the antimeridian near the pole, does not hold it
]


@pytest.mark.parametrize("lon, lat, radius_m", CIRCLES)
def test_circle_at_the_antimeridian_or_a_pole_matches_geographiclib(lon: float, lat: float, radius_m: float) -> None:
    err = 1e-4 * radius_m
    area = geodesic_circle(lon, lat, radius_m, max_error_m=err)
    _is_lonlat_area(area)
    azimuths = np.arange(0.0, 360.0, 2.5)
    inside = np.array([direct(lon, lat, a, radius_m - 2 * err) for a in azimuths])
    outside = np.array([direct(lon, lat, a, radius_m + 2 * err) for a in azimuths])
    assert shapely.intersects_xy(area, _wrap(inside[:, 0]), inside[:, 1]).all()
    assert not shapely.intersects_xy(area, _wrap(outside[:, 0]), outside[:, 1]).any()
    holds_pole = radius_m > dist_m(lon, lat, 0.0, math.copysign(90.0, lat))
    pole_lat = math.copysign(89.999, lat)
    assert bool(shapely.intersects_xy(area, 0.0, pole_lat)) == holds_pole
    if dist_m(lon, lat, 180.0, lat) < radius_m - 2 * err:  # over the antimeridian: on both sides of it
        assert shapely.intersects_xy(area, [179.9999, -179.9999], [lat, lat]).all()


def _check_buffer_against_truth(area: object, lines: list[np.ndarray], margin_m: float, err_m: float,
                                lons: np.ndarray, lats: np.ndarray) -> int:
    """(A point on the boundary counts as inside, as in the zone index.) Every sample point clearly nearer than ``margin_m`` to a line (GeographicLib) is in the
    area, every one clearly farther is not; returns how many points were decided."""
    decided = 0
    for lon, lat in zip(lons, lats):
        d = min(distance_to_line_m(float(lon), float(lat), c) for c in lines)
        if abs(d - margin_m) <= 2 * err_m:
            continue
        assert bool(shapely.intersects_xy(area, float(lon), float(lat))) == (d < margin_m), (lon, lat, d)
        decided += 1
    return decided


def test_buffer_of_a_line_across_the_antimeridian_matches_geographiclib() -> None:
    west, east = np.array([[179.5, 60.0], [180.0, 60.0]]), np.array([[-180.0, 60.0], [-179.5, 60.0]])
    margin, err = 30_000.0, 15.0
    area = geodesic_buffer(MultiLineString([west, east]), margin, max_error_m=err)
    _is_lonlat_area(area)
    rng = np.random.default_rng(7)
    lons = _wrap(rng.uniform(178.8, 181.2, 400))
    lats = rng.uniform(59.4, 60.6, 400)
    assert _check_buffer_against_truth(area, [west, east], margin, err, lons, lats) > 300


def test_buffer_of_a_geodesic_over_the_pole_matches_geographiclib() -> None:
    line = np.array([[0.0, 89.8], [180.0, 89.8]])  # the geodesic runs over the North Pole
    margin, err = 20_000.0, 10.0
    area = geodesic_buffer(LineString(line), margin, max_error_m=err)
    _is_lonlat_area(area)
    assert shapely.intersects_xy(area, 90.0, 89.999)  # the pole's neighbourhood is within 20 km of it
    rng = np.random.default_rng(11)
    lons, lats = rng.uniform(-180.0, 180.0, 300), rng.uniform(89.3, 90.0, 300)
    assert _check_buffer_against_truth(area, [line], margin, err, lons, lats) > 250


def test_geodesic_polygon_across_the_antimeridian_is_the_small_one() -> None:
    ring = [(179.0, 60.0), (-179.0, 60.0), (-179.0, 61.0), (179.0, 61.0)]
    area = densify_geodesic_edges(Polygon(ring), max_error_m=1.0)
    _is_lonlat_area(area)
    assert area.geom_type == "MultiPolygon"
    assert shapely.intersects_xy(area, [179.5, -179.5, 180.0, -180.0], [60.5] * 4).all()
    assert not shapely.intersects_xy(area, [0.0, 170.0, -170.0], [60.5] * 3).any()
    # its area is that of the geodesic quadrilateral (GeographicLib), not of a 358-degree band
    poly = G.Polygon()
    for lon, lat in ring:
        poly.AddPoint(lat, lon)
    _, _, truth_m2 = poly.Compute(False, True)
    from pyproj import Geod

    built_m2 = abs(Geod(ellps="WGS84").geometry_area_perimeter(area)[0])
    assert built_m2 == pytest.approx(abs(truth_m2), rel=1e-3)


def test_geodesic_polygon_round_a_pole_is_refused_with_a_reason() -> None:
    from proximity.geometry import GeometryError

    # lon/lat vertices whose geodesic edges go round the pole: no lon/lat polygon says that
    with pytest.raises(GeometryError, match="round a pole"):
        densify_geodesic_edges(Polygon([(0, 80), (100, 80), (-150, 80.5), (-100, 80)]), max_error_m=1.0)


NOTICE_AREAS = [
    (CircleArea(lon_deg=179.95, lat_deg=10.0, radius_m=10_000.0), 0.0),
    (CircleArea(lon_deg=0.0, lat_deg=89.0, radius_m=200_000.0), 0.0),
    (CircleArea(lon_deg=-180.0, lat_deg=-88.0, radius_m=300_000.0), 20_000.0),
    (PolygonArea(geometry=box(179.5, 0.0, 180.0, 1.0)), 50_000.0),
    (PolygonArea(geometry=box(-10.0, 88.0, 10.0, 90.0)), 10_000.0),
    (PolygonArea(geometry=Polygon([(179, 60), (-179, 60), (-179, 61), (179, 61)]), edges="geodesic"), 0.0),
    (PolygonArea(geometry=Polygon([(179, 60), (-179, 60), (-179, 61), (179, 61)]), edges="geodesic"), 5_000.0),
]


@pytest.mark.parametrize("area, margin_m", NOTICE_AREAS)
def test_notices_at_the_antimeridian_and_the_poles_become_zones(area: object, margin_m: float) -> None:
    notice = Notice(notice_id="notam:A0001/26", kind="notam", name="extreme", area=area, source="f",
                    margin_m=margin_m)
    zone = zone_from_notice(notice)
    _is_lonlat_area(zone.geometry)


def _zones_at_the_extremes() -> list[Zone]:
    antimeridian = MultiPolygon([box(179.0, 60.0, 180.0, 61.0), box(-180.0, 60.0, -179.0, 61.0)])
    north = box(-180.0, 89.0, 180.0, 90.0)
    south = geodesic_circle(45.0, -89.5, 100_000.0, max_error_m=10.0)
    zones = []
    for kind in ("border_buffer", "territorial", "exercise", "site", "custom"):
        for where, geometry in (("antimeridian", antimeridian), ("north", north), ("south", south)):
            zones.append(Zone(zone_id=f"{kind}-{where}", name=f"{kind} {where}", kind=kind, geometry=geometry,
                              buffer_m=1_000.0, sides=("russia", "nato")))
    return zones


def _report(track_id: str, t_s: float, lon: float, lat: float, **kw: object) -> TrackUpdate:
    kw.setdefault("domain", "sea")
    kw.setdefault("side", "russia")
    return TrackUpdate(track_id=track_id, source="t", t_s=t_s, lat_deg=lat, lon_deg=lon, **kw)  # type: ignore[arg-type]


def test_zones_of_every_kind_at_the_antimeridian_and_the_poles_do_not_stop_the_engine() -> None:
    engine = Engine(ProximitySettings(), _zones_at_the_extremes())
    events = list(engine.process([]))
    reports = []
    for i in range(40):
        t = T0 + 10.0 * i
        # one ship sails east over the date line, one aircraft flies over the North Pole,
        # one over the South Pole, and a NATO ship meets the first at the date line
        lon = 179.9 + 0.01 * i
        reports.append(_report("ais:273000001", t, float(_wrap(np.array([lon]))[0]), 60.5, speed_mps=8.0, course_deg=90.0))
        reports.append(_report("icao:154a12", t, 10.0 if i < 20 else -170.0, 89.95 - abs(20 - i) * 0.002,
                               domain="air", speed_mps=200.0, course_deg=0.0 if i < 20 else 180.0, alt_m=9000.0))
        reports.append(_report("icao:154a13", t, float(_wrap(np.array([45.0 + 9.0 * i]))[0]), -89.7, domain="air", speed_mps=150.0,
                               course_deg=90.0, alt_m=9000.0))
        reports.append(_report("ais:230000001", t, float(_wrap(np.array([lon + 0.001]))[0]), 60.5, side="nato",
                               speed_mps=8.0, course_deg=90.0))
    for start in range(0, len(reports), 17):  # cut into batches anywhere
        events.extend(engine.process(reports[start : start + 17]))
    events.extend(engine.finish())
    entered = {e.zone_id for e in events if e.kind == "zone_entry"}
    kinds = {e.kind for e in events}
    assert "zone_entry" in kinds and "close_approach" in kinds
    assert engine.stats["updates"] == len(reports)
    # the zones at the extremes are watched like any other: every one of them is entered
    assert entered == {z.zone_id for z in _zones_at_the_extremes()}


def test_a_run_with_notams_at_the_extremes_goes_on(tmp_path: Path) -> None:
    t0 = 1_794_657_600.0  # 2026-11-14T12:00:00Z, within the NOTAMs' window
    notams = tmp_path / "notams.txt"
    notams.write_text(
        "(A0001/26 NOTAMN\nQ) UHMM/QRTCA/IV/BO/W/000/200/6530N17900W010\nA) UHMM B) 2611140000 C) 2611150000\n"
        "E) AREA WI 653000N 1790000E - 653000N 1790000W - 663000N 1790000W - 663000N 1790000E.)\n\n"
        "(A0002/26 NOTAMN\nQ) ENOB/QRTCA/IV/BO/W/000/200/8950N00000E060\nA) ENOB B) 2611140000 C) 2611150000\n"
        "E) AREA ACTIVATED.)\n\n"
        "(A0003/26 NOTAMN\nQ) UHMM/QRTCA/IV/BO/W/000/200/9900N18100E010\nA) UHMM B) 2611140000 C) 2611150000\n"
        "E) AREA ACTIVATED.)\n"
    )
    tracks = tmp_path / "tracks.jsonl"
    tracks.write_text("\n".join(
        json.dumps({"track_id": "ext:a", "t_s": t0 + 10 * i, "lat_deg": 66.0, "lon_deg": 179.995 if i % 2 else -179.995,
                    "domain": "air", "side": "nato", "alt_m": 3000})
        for i in range(20)
    ) + "\n")
    settings = parse_settings({
        "feeds": [{"name": "notam", "format": "notam", "path": str(notams)},
                  {"name": "tracks", "format": "tracks-jsonl", "path": str(tracks)}],
        "zones": {"catalogue": "none"},
        "sinks": {"events_jsonl": str(tmp_path / "e.jsonl"), "deadletter_jsonl": str(tmp_path / "d.jsonl")},
        "rules": {"profile": "all-traffic"},  # an aircraft of unknown category: every entry raised
    })
    sink = RecorderSink()
    summary = Pipeline(settings, [sink]).run()
    assert summary.zones_from_feeds == 2
    assert summary.dead_letters == {("notam", "impossible value"): 1}
    assert "9900N18100E" in summary.dead_letter_examples[("notam", "impossible value")]
    assert summary.updates == 20
    entries = [e for e in sink.events if e["properties"]["kind"] == "zone_entry"]
    assert entries and {e["properties"]["zone_id"] for e in entries} == {"notam:A0001/26"}
