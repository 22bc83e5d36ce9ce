"""track_integrity: jumps, stuck positions, one identity at two places, spoofing patterns."""

from __future__ import annotations

import math

import pytest

from config.settings import ProximitySettings
from proximity.engine import Engine

LON0, LAT0 = 28.0, 60.0
T0 = 1_700_000_000.0


def _kind(events, kind):
    return [e for e in events if e.kind == kind]


def _flight(upd, at, track_id, t0_rel, n, *, dt=5.0, speed=220.0, course=90.0, start=(LON0, LAT0), **kw):
    """An aircraft flying straight: reports every ``dt`` seconds."""
    kw.setdefault("side", "russia")
    out = []
    for k in range(n):
        pos = at(*start, course, speed * dt * k)
        out.append(upd(track_id, T0 + t0_rel + dt * k, *pos, domain="air", alt_m=9_000.0,
                       speed_mps=speed, course_deg=course, **kw))
    return out


def test_plausible_tracks_are_not_flagged(upd, at):
    eng = Engine(ProximitySettings(), [])
    events = []
    events += eng.process(_flight(upd, at, "icao:155001", 0, 200, speed=280.0))
    # a ship with 40 m of position noise, reporting every 3 s
    ship = []
    for k in range(300):
        p = at(LON0 + 1, LAT0, 45.0, 8.0 * 3 * k + (40.0 if k % 2 else -40.0))
        ship.append(upd("ais:273000001", T0 + 3 * k, *p, speed_mps=8.0, course_deg=45.0))
    events += eng.process(ship)
    assert _kind(events, "track_integrity") == []
    assert eng.stats["integrity_flags"] == 0


def test_a_jump_flags_the_track_and_its_other_events(upd, at, circle_zone):
    zone = circle_zone("z1", LON0 + 3, LAT0, 20_000.0)
    eng = Engine(ProximitySettings(), [zone])
    before = _flight(upd, at, "icao:155001", 0, 10)
    events = eng.process(before)
    # 5 s later it is 150 km away, inside the zone: 30 km/s implied
    jumped = upd("icao:155001", before[-1].t_s + 5, LON0 + 3, LAT0, domain="air", side="russia",
                 alt_m=9_000.0, speed_mps=220.0, course_deg=90.0)
    events += eng.process([jumped])
    integ = _kind(events, "track_integrity")
    assert [e.state for e in integ] == ["open"]
    m = integ[0].metrics
    assert m["jump_m"] > 140_000 and m["implied_speed_mps"] > 20_000 and m["max_speed_mps"] == 700.0
    assert integ[0].subjects[0].suspect and integ[0].integrity_suspect
    assert "jump" in integ[0].summary
    # the zone entry it caused is raised, flagged
    entry = _kind(events, "zone_entry")
    assert len(entry) == 1 and entry[0].integrity_suspect and entry[0].subjects[0].suspect
    # ten minutes without anomaly: cleared, and the flag is gone from new events
    later = _flight(upd, at, "icao:155001", jumped.t_s - T0 + 5, 130, start=(LON0 + 3, LAT0), course=0.0)
    events = eng.process(later)
    integ = _kind(events, "track_integrity")
    assert [(e.state, e.close_reason) for e in integ] == [("closed", "cleared")]
    assert integ[0].t_s >= jumped.t_s + 600
    assert integ[0].summary == "track integrity icao:155001: data no longer suspect"


def test_positions_stuck_while_reporting_speed(upd, at):
    eng = Engine(ProximitySettings(), [])
    p = at(LON0, LAT0, 0.0, 1_000.0)
    reports = [upd("ais:273000001", T0 + 10 * k, *p, speed_mps=9.0, course_deg=10.0) for k in range(20)]
    berth = at(LON0, LAT0, 0.0, 1_030.0)  # moored 30 m away (at the same point: same_position)
    moored = [upd("ais:273000002", T0 + 10 * k, *berth, speed_mps=0.1, course_deg=10.0) for k in range(20)]
    events = eng.process([r for pair in zip(reports, moored) for r in pair])
    integ = _kind(events, "track_integrity")
    assert [(e.state, e.subjects[0].track_id) for e in integ] == [("open", "ais:273000001")]
    assert integ[0].t_s == T0 + 120  # stuck for the 120 s minimum
    assert integ[0].metrics["stuck_s"] == pytest.approx(120.0)
    assert integ[0].metrics["reported_speed_mps"] == 9.0


def test_one_identity_at_two_places(upd, at):
    eng = Engine(ProximitySettings(), [])
    a = at(LON0, LAT0, 0.0, 0.0)
    b = at(LON0, LAT0, 90.0, 80_000.0)
    # one MMSI used by two ships 80 km apart, reports alternating every 30 s
    reports = [upd("ais:273000001", T0 + 30 * k, *(a if k % 2 == 0 else b), speed_mps=5.0, course_deg=0.0)
               for k in range(10)]
    events = eng.process(reports)
    integ = _kind(events, "track_integrity")
    assert [e.state for e in integ] == ["open", "update"]
    assert "jump" in integ[0].summary
    assert "two_places" in integ[1].summary
    assert integ[1].metrics["two_places_m"] == pytest.approx(80_000.0, rel=1e-3)


def test_simultaneous_reports_from_two_places(upd, at):
    eng = Engine(ProximitySettings(), [])
    b = at(LON0, LAT0, 90.0, 20_000.0)
    events = eng.process([
        upd("icao:155001", T0, LON0, LAT0, domain="air"),
        upd("icao:155001", T0, *b, domain="air"),
    ])
    integ = _kind(events, "track_integrity")
    assert [e.state for e in integ] == ["open"] and "two_places" in integ[0].summary


@pytest.mark.parametrize("pattern", ["point", "circle"])
def test_spoofing_pattern_many_tracks_jump_to_one_point_or_circle(upd, at, pattern):
    eng = Engine(ProximitySettings(), [])
    centre = at(LON0, LAT0, 45.0, 100_000.0)
    n = 8
    reports = []
    for k in range(n):  # ships scattered around, steaming normally
        start = at(LON0, LAT0, 360.0 * k / n, 30_000.0)
        reports += [upd(f"ais:27300000{k}", T0 + 10 * j, *at(*start, 0.0, 80.0 * j), speed_mps=8.0, course_deg=0.0)
                    for j in range(6)]
    reports.sort(key=lambda u: u.t_s)
    events = eng.process(reports)
    # then, within a minute, all of them report positions on one point (or on a 5 km circle)
    spoofed = []
    for k in range(n):
        target = centre if pattern == "point" else at(*centre, 360.0 * k / n, 5_000.0)
        spoofed.append(upd(f"ais:27300000{k}", T0 + 60 + 5 * k, *target, speed_mps=8.0, course_deg=0.0))
    events += eng.process(spoofed)
    events += eng.process([upd("ext:clock", T0 + 120, 0.0, 0.0, domain="land", side="other")])
    integ = _kind(events, "track_integrity")
    spoof = [e for e in integ if "spoofing" in e.summary]
    assert {e.subjects[0].track_id for e in spoof} == {f"ais:27300000{k}" for k in range(n)}
    assert max(e.metrics["spoof_cluster_tracks"] for e in spoof) == n
    for e in spoof:
        assert e.severity == "critical"
        # found as soon as 4 (spoof_min_tracks) had jumped there; later ones join the pattern
        assert 4 <= e.metrics["spoof_cluster_tracks"] <= n
        expected_r = 0.0 if pattern == "point" else 5_000.0
        assert e.metrics["spoof_radius_m"] == pytest.approx(expected_r, abs=50.0)
        d = math.hypot(
            (e.metrics["spoof_centre_lon_deg"] - centre[0]) * 111_320 * math.cos(math.radians(centre[1])),
            (e.metrics["spoof_centre_lat_deg"] - centre[1]) * 110_574,
        )
        assert d < 500.0


def test_a_few_unrelated_jumps_are_not_spoofing(upd, at):
    eng = Engine(ProximitySettings(), [])
    events = []
    for k in range(3):  # three jumps to three far-apart places
        events += eng.process([upd(f"ais:27300000{k}", T0, *at(LON0, LAT0, 0.0, 10_000.0 * k), speed_mps=5.0, course_deg=0.0)])
        events += eng.process([upd(f"ais:27300000{k}", T0 + 10, *at(LON0, LAT0, 120.0 * k, 200_000.0), speed_mps=5.0, course_deg=0.0)])
    events += eng.process([upd("ext:clock", T0 + 60, 0.0, 0.0, domain="land", side="other")])
    integ = _kind(events, "track_integrity")
    assert len(integ) == 3 and not any("spoofing" in e.summary for e in integ)
