import dataclasses

import pytest
from shapely.geometry import LineString, Point, box

from config.records import DeadLetter, RecordError, TrackUpdate, Zone


def _update(**kw):
    base = dict(track_id="ais:273123456", source="f", t_s=1.7e9, lat_deg=59.9, lon_deg=26.5, domain="sea")
    base.update(kw)
    return TrackUpdate(**base)


def test_track_update_is_frozen_and_slotted():
    u = _update(speed_mps=7.2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        u.lat_deg = 1.0  # type: ignore[misc]
    assert not hasattr(u, "__dict__")


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"lat_deg": 91.0}, "lat_deg=91.0"),
        ({"lon_deg": 181.0}, "lon_deg=181.0"),
        ({"domain": "space"}, "domain 'space'"),
        ({"side": "blue"}, "side 'blue'"),
        ({"track_id": "273123456"}, "not namespaced"),
        ({"t_s": float("nan")}, "finite"),
        ({"heading_deg": 511.0}, "heading_deg=511.0"),
        ({"speed_mps": -1.0}, "speed_mps=-1.0"),
    ],
)
def test_track_update_rejects_out_of_domain_values(kw, message):
    with pytest.raises(RecordError, match=message):
        _update(**kw)


def test_velocity_heading_prefers_course_over_ground():
    assert _update(course_deg=90.0, heading_deg=100.0).velocity_heading_deg == 90.0
    assert _update(heading_deg=100.0).velocity_heading_deg == 100.0
    assert _update().velocity_heading_deg is None


def test_zone_validation_and_active_window():
    z = Zone("z1", "Zone", "exercise", box(27, 57, 28, 58), active_from_s=100.0, active_until_s=200.0)
    assert not z.is_active(99.0) and z.is_active(150.0) and not z.is_active(201.0)
    with pytest.raises(RecordError, match="need an area"):
        Zone("z2", "Line", "custom", LineString([(0, 0), (1, 1)]))
    with pytest.raises(RecordError, match="empty"):
        Zone("z3", "Empty", "custom", Point(0, 0).buffer(0))
    with pytest.raises(RecordError, match="ends before it starts"):
        Zone("z4", "Backwards", "exercise", box(0, 0, 1, 1), active_from_s=2.0, active_until_s=1.0)
    with pytest.raises(RecordError, match="kind 'moat'"):
        Zone("z5", "Moat", "moat", box(0, 0, 1, 1))  # type: ignore[arg-type]


def test_dead_letter_needs_a_reason():
    assert DeadLetter("ais", 3, b"!AIVDM,bad", "checksum").position == 3
    with pytest.raises(RecordError, match="ais:3 has no reason"):
        DeadLetter("ais", 3, b"x", "")


def test_track_update_is_built_with_keywords_only():
    with pytest.raises(TypeError):
        TrackUpdate("ais:273123456", "f", 1.7e9, 59.9, 26.5, "sea")  # type: ignore[misc]


def test_altitude_reference():
    u = _update(domain="air", alt_m=9000.0, alt_ref="baro", alt_geom_m=9120.0)
    assert (u.alt_m, u.alt_ref, u.alt_geom_m) == (9000.0, "baro", 9120.0)
    assert _update(alt_m=300.0).alt_ref is None  # a generic feed need not say
    with pytest.raises(RecordError, match="alt_ref 'qnh'"):
        _update(alt_m=300.0, alt_ref="qnh")
    with pytest.raises(RecordError, match="alt_ref 'geom' needs an alt_m"):
        _update(alt_ref="geom", alt_geom_m=300.0)
    with pytest.raises(RecordError, match="alt_geom_m=50000.0"):
        _update(alt_geom_m=50_000.0)
    with pytest.raises(RecordError, match="alt_m=nan"):
        _update(alt_m=float("nan"))
