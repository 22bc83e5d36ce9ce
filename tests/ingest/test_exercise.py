"""Exercise notifications: the GeoJSON format and ICAO NOTAMs, as notices with their areas
as the feed gives them (the zones built from them: tests/proximity/test_notices.py)."""

from __future__ import annotations

import json

import pytest
from notam_samples import NOTAMS

from config.records import CircleArea, DeadLetter, Notice, PolygonArea
from ingest.exercise import ExerciseGeoJsonDecoder, NotamDecoder


def _split(out):
    out = list(out)
    return [o for o in out if isinstance(o, Notice)], [o for o in out if isinstance(o, DeadLetter)]


def _feature(fid="zapad-25", geometry=None, **props):
    base = {"name": "Zapad-2025", "start": "2025-09-12T00:00:00Z", "end": "2025-09-16T23:59:59Z",
            "radius_m": 30_000, "country": "BY", "scale": {"troops": 13_000, "aircraft": 50, "ships": 0}}
    base.update(props)
    return {"type": "Feature", "id": fid, "geometry": geometry or {"type": "Point", "coordinates": [28.0, 55.0]},
            "properties": {k: v for k, v in base.items() if v is not ...}}


def test_point_with_radius_is_a_centre_and_a_radius() -> None:
    zones, dls = _split(ExerciseGeoJsonDecoder("ex").decode([json.dumps(_feature()).encode()]))
    assert dls == []
    (z,) = zones
    assert (z.notice_id, z.kind, z.name, z.severity) == ("exercise:zapad-25", "exercise", "Zapad-2025", "warning")
    assert z.active_from_s == 1_757_635_200.0 and z.active_until_s == 1_758_067_199.0
    assert z.sides == ("nato", "other", "unknown")  # Belarus is with Russia by default
    assert z.declared == {"troops": 13_000, "aircraft": 50, "ships": 0}
    assert z.issuer_side == "russia" and z.issuer_country == "BY"
    assert z.area == CircleArea(lon_deg=28.0, lat_deg=55.0, radius_m=30_000.0) and z.margin_m == 0.0
    assert (z.source, z.raw_ref, z.issued_s) == ("ex", "ex:1", None)
    assert z.properties == {"format": "exercise-geojson", "notification": "notified"}


def test_polygon_with_margin_snap_and_open_end() -> None:
    ring = [[20.0, 55.0], [21.0, 55.0], [21.0, 55.5], [20.0, 55.5], [20.0, 55.0]]
    poly = {"type": "Polygon", "coordinates": [ring]}
    f = _feature("snap-1", poly, radius_m=..., country=..., side="russia", notification="snap", end=None,
                 buffer_m=5_000, domains=["sea", "air"])
    (z,), _ = _split(ExerciseGeoJsonDecoder("ex").decode([json.dumps({"type": "FeatureCollection", "features": [f]}).encode()]))
    assert z.severity == "critical" and z.active_until_s is None and z.domains == ("sea", "air")
    assert z.margin_m == 5_000
    assert isinstance(z.area, PolygonArea) and z.area.edges == "lonlat"  # RFC 7946: straight in lon/lat
    assert [list(c) for c in z.area.geometry.exterior.coords] == ring
    assert (z.issuer_side, z.issuer_country, z.properties["notification"]) == ("russia", None, "snap")


def test_json_lines_of_features() -> None:
    lines = b"\n".join(json.dumps(_feature(f"f{i}")).encode() for i in range(3))
    zones, _ = _split(ExerciseGeoJsonDecoder("ex").decode([lines]))
    assert [z.notice_id for z in zones] == ["exercise:f0", "exercise:f1", "exercise:f2"]


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"radius_m": ...}, "malformed feature: a Point needs radius_m"),
        ({"start": "soon"}, "unparseable timestamp"),
        ({"end": "2025-09-01T00:00:00Z"}, "impossible value"),
        ({"side": "blue"}, "malformed feature"),
        ({"notification": "maybe"}, "malformed feature"),
        ({"scale": {"troops": -1}}, "malformed feature"),
        ({"radius_m": 5_000_000}, "malformed feature"),
        ({"country": "Belarus"}, "malformed feature"),
        ({"end": ...}, "malformed feature"),
        ({"buffer_m": 150_000}, "malformed feature: buffer_m"),
        ({"geometry": {"type": "Point", "coordinates": [10**400, 10.0]}}, "impossible value: longitude is an integer"),
        ({"start": "2099-01-01T00:00:00Z", "end": None}, "impossible timestamp: start is 2099-01-01T00:00Z"),
        ({"buffer_m": 10**400}, "malformed feature: buffer_m an integer of 401 digits"),
    ],
)
def test_bad_features_are_dead_letters(change, reason) -> None:
    change = dict(change)
    geometry = change.pop("geometry", None)
    bad = _feature("bad", geometry, **change)
    fc = {"type": "FeatureCollection", "features": [_feature("a"), bad, _feature("b")]}
    zones, dls = _split(ExerciseGeoJsonDecoder("ex").decode([json.dumps(fc).encode()]))
    assert [z.notice_id for z in zones] == ["exercise:a", "exercise:b"]
    assert len(dls) == 1 and dls[0].position == 2 and dls[0].text.startswith(reason)





def test_notams_become_notices() -> None:
    d = NotamDecoder("notam")
    zones, dls = _split(d.decode([NOTAMS]))
    assert dls == [] and d.stats.ignored == {"not an area NOTAM (QMR)": 1}
    a, b, c = zones
    assert (a.notice_id, a.active_from_s, a.active_until_s) == ("notam:A1234/24", 1_717_221_600.0, 1_717_264_800.0)
    assert a.issuer_country == "FI" and a.sides == ("russia", "other", "unknown")
    assert (a.properties["lower_ft"], a.properties["upper_ft"]) == (0, 20_000)
    assert (a.kind, a.domains, a.raw_ref) == ("notam", ("air",), "notam:1")
    # E) radius 10 NM around 601200N 0251200E, not the Q) 25 NM
    assert a.area == CircleArea(lon_deg=25.2, lat_deg=60.2, radius_m=10 * 1852.0)
    # Kaliningrad (UMK) is Russia, its polygon from E) (ICAO: geodesic edges); "EST" dropped from C)
    assert b.issuer_country == "RU" and b.sides == ("nato", "other", "unknown")
    assert isinstance(b.area, PolygonArea) and b.area.edges == "geodesic"
    assert b.area.geometry.bounds == pytest.approx((20.0, 54.5, 21.0, 54.8333333))
    assert b.active_until_s == 1_717_372_740.0
    # no area in E): the Q) line's centre and radius (10 NM); PERM: no end
    assert c.active_until_s is None and c.properties["q_code"] == "QWMLW"
    assert c.area == CircleArea(lon_deg=23.0, lat_deg=55.0, radius_m=10 * 1852.0)


@pytest.mark.parametrize(
    "text, reason",
    [
        (b"(A0001/24 NOTAMN\nQ) EFIN/QRTCA/IV/BO/W/000/200/6012N02512E999\nA) EFIN B) 2406010600 C) 2406011800\nE) AREA ACTIVE.)",
         "malformed NOTAM: no area"),
        (b"(A0002/24 NOTAMN\nQ) EFIN/QRTCA/IV/BO/W/000/200/6012N02512E025\nA) EFIN B) 2413010600 C) 2406011800\nE) X.)",
         "unparseable timestamp"),
        (b"(A0003/24 NOTAMN\nQ) EFIN/QRTCA/IV/BO/W/000/200/6012N02512E025\nA) EFIN B) 2406020600 C) 2406011800\nE) X.)",
         "impossible value"),
        (b"(A0004/24 NOTAMN\nQ) garbage\nA) EFIN B) 2406010600\nE) X.)", "malformed NOTAM"),
        (b"(A0005/24 NOTAMN\nA) EFIN B) 2406010600\nE) X.)", "malformed NOTAM"),
        (b"no notam here", "malformed NOTAM"),
    ],
)
def test_bad_notams(text: bytes, reason: str) -> None:
    zones, dls = _split(NotamDecoder("n").decode([text]))
    assert zones == [] and len(dls) == 1 and dls[0].text.startswith(reason)


def test_cancellation_is_counted_not_a_zone() -> None:
    d = NotamDecoder("n")
    text = b"(A0010/24 NOTAMC A0009/24\nQ) EFIN/QRTXX/IV/BO/W/000/200/6012N02512E025\nA) EFIN B) 2406010600\nE) CNL.)"
    assert list(d.decode([text])) == [] and d.stats.ignored == {"cancellation (NOTAMC)": 1}
