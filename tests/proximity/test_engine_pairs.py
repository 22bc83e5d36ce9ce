"""close_approach incidents: thresholds per pair of domains, lifecycle, hysteresis, stale."""

from __future__ import annotations

import pytest
from geographiclib.geodesic import Geodesic

from config.settings import ProximitySettings
from proximity.engine import Engine

LON0, LAT0 = 20.0, 55.0
T0 = 1_700_000_000.0
WGS84 = Geodesic.WGS84


def _dist(u1, u2) -> float:
    return WGS84.Inverse(u1.lat_deg, u1.lon_deg, u2.lat_deg, u2.lon_deg)["s12"]


def _passing_ship(upd, at, t_s, *, miss_m=400.0, speed_mps=5.0, start_m=5_000.0):
    """A Russian ship passing a point westwards at ``miss_m`` to the north of it."""
    x = start_m - speed_mps * t_s
    base = at(LON0, LAT0, 0.0, miss_m)
    pos = at(*base, 90.0 if x >= 0 else 270.0, abs(x))
    return upd("ais:273000001", T0 + t_s, *pos, side="russia", domain="sea", speed_mps=speed_mps, course_deg=270.0)


def test_lifecycle_open_updates_close(settings, upd, at, clock):
    eng = Engine(settings, [], wall_clock=clock)
    reports = []
    for k in range(201):
        reports.append(_passing_ship(upd, at, 10.0 * k))
        reports.append(upd("ais:219000001", T0 + 10.0 * k + 3, LON0, LAT0, side="nato", domain="sea"))
    events = []
    for i in range(0, len(reports), 13):
        events += eng.process(reports[i : i + 13])
    events += eng.finish()
    assert {e.event_id for e in events} == {events[0].event_id}
    assert [e.seq for e in events] == list(range(len(events)))
    states = [e.state for e in events]
    assert states[0] == "open" and states[-1] == "closed" and set(states[1:-1]) == {"update"}
    opened, closed = events[0], events[-1]
    # the ship report at t=640 s is the first closer than 1 NM (1,843.9 m); it is
    # seen at the tick T0+640 (reports are applied before the tick they precede)
    ship_640 = _passing_ship(upd, at, 640.0)
    ship_630 = _passing_ship(upd, at, 630.0)
    nato = upd("ais:219000001", T0, LON0, LAT0, side="nato", domain="sea")
    assert _dist(ship_630, nato) > 1_852.0 > _dist(ship_640, nato)
    assert opened.t_s == T0 + 640
    assert opened.metrics["distance_m"] == pytest.approx(_dist(ship_640, nato), abs=0.01)
    assert opened.metrics["threshold_m"] == 1_852.0
    assert {s.track_id for s in opened.subjects} == {"ais:273000001", "ais:219000001"}
    assert opened.subjects[0].side == "nato"
    # each update reports a new minimum more than 10 % below the last reported one,
    # or a change of severity (critical below half the threshold, 926 m)
    reported = events[0].metrics["min_distance_m"]
    for prev, e in zip(events, events[1:-1]):
        new_min = e.metrics["distance_m"] < 0.9 * reported
        assert new_min or e.severity != prev.severity
        assert e.severity == ("critical" if e.metrics["distance_m"] < 926.0 else "warning")
        if new_min:
            reported = e.metrics["distance_m"]
    assert [e.severity for e in events].count("critical") >= 3
    # closest approach: 400 m abeam at t=1000 s
    assert closed.metrics["min_distance_m"] == pytest.approx(400.0, abs=1.0)
    # separation beyond 1852 * 1.1 = 2037.2 m from the report at t=1400 s (2,039.8 m),
    # held for 30 s of ticks: closed at the tick T0+1430
    assert _dist(_passing_ship(upd, at, 1390.0), nato) < 2_037.2 < _dist(_passing_ship(upd, at, 1400.0), nato)
    assert (closed.close_reason, closed.t_s) == ("separated", T0 + 1430)
    assert closed.severity in ("warning", "critical")
    assert eng.stats["open_incidents"] == 0


def test_severity_becomes_critical_below_half_the_threshold(settings, upd, at):
    eng = Engine(settings, [])
    events = []
    for k in range(140):
        events += eng.process([
            _passing_ship(upd, at, 10.0 * k, miss_m=300.0),
            upd("ais:219000001", T0 + 10.0 * k + 3, LON0, LAT0, side="nato", domain="sea"),
        ])
    sev = [(e.state, e.severity) for e in events]
    assert sev[0] == ("open", "warning")
    assert ("update", "critical") in sev
    first_critical = next(e for e in events if e.severity == "critical")
    assert first_critical.metrics["distance_m"] < 926.0


def test_air_air_needs_vertical_proximity_when_altitudes_are_known(settings, upd, at):
    eng = Engine(settings, [])
    p_ru = at(LON0, LAT0, 45.0, 3_000.0)

    def step(t, alt_ru, alt_nato=9_144.0):
        return eng.process([
            upd("icao:155001", T0 + t, *p_ru, side="russia", domain="air", alt_m=alt_ru),
            upd("icao:ae0001", T0 + t + 1, LON0, LAT0, side="nato", domain="air", alt_m=alt_nato),
        ])

    events = []
    for t in range(0, 60, 5):
        events += step(t, 9_144.0 + 600)  # 3 km apart laterally, 600 m vertically: separated
    assert events == []
    for t in range(60, 120, 5):
        events += step(t, 9_144.0 + 200)  # 200 m vertically: loss of separation
    assert [e.state for e in events] == ["open"]
    assert events[0].metrics["vertical_sep_m"] == pytest.approx(200.0)
    assert events[0].metrics["vertical_threshold_m"] == 305.0
    for t in range(120, 200, 5):
        events += step(t, 9_144.0 + 320)  # inside the vertical margin band (305 * 1.1): stays open
    assert [e.state for e in events] == ["open"]
    for t in range(200, 260, 5):
        events += step(t, 9_144.0 + 600)
    assert [e.state for e in events] == ["open", "closed"]
    assert events[-1].close_reason == "separated"


def test_air_air_without_altitude_is_lateral_only(settings, upd, at):
    eng = Engine(settings, [])
    events = eng.process([
        upd("icao:155001", T0, *at(LON0, LAT0, 0.0, 8_000.0), side="russia", domain="air"),
        upd("icao:ae0001", T0, LON0, LAT0, side="nato", domain="air", alt_m=9_000.0),
        upd("icao:ae0001", T0 + 6, LON0, LAT0, side="nato", domain="air", alt_m=9_000.0),
    ])
    assert [(e.kind, e.state) for e in events] == [("close_approach", "open")]
    assert "vertical_sep_m" not in events[0].metrics


@pytest.mark.parametrize(
    ("dom_ru", "dom_nato", "inside_m", "outside_m"),
    [("air", "sea", 5_500.0, 5_600.0), ("land", "air", 4_950.0, 5_050.0), ("sea", "sea", 1_800.0, 1_900.0)],
)
def test_threshold_per_pair_of_domains(settings, upd, at, dom_ru, dom_nato, inside_m, outside_m):
    eng = Engine(settings, [])
    batch = []
    for k, d in enumerate((inside_m, outside_m)):
        batch += [
            upd(f"ext:ru{k}", T0, *at(LON0 + k, LAT0, 0.0, d), side="russia", domain=dom_ru),
            upd(f"ext:na{k}", T0, LON0 + k, LAT0, side="nato", domain=dom_nato),
        ]
    events = eng.process(batch) + eng.process([upd("ext:tick", T0 + 6, 0.0, 0.0, side="other")])
    assert [sorted(s.track_id for s in e.subjects) for e in events] == [["ext:na0", "ext:ru0"]]


def test_same_side_and_neutral_tracks_do_not_pair(settings, upd):
    eng = Engine(settings, [])
    # 10 m apart (at one point they would be a same_position anomaly of track_integrity)
    events = eng.process([
        upd("ais:1", T0, LON0, LAT0, side="russia"),
        upd("ais:2", T0, LON0 + 0.0002, LAT0, side="russia"),
        upd("ais:3", T0, LON0 + 0.0004, LAT0, side="other"),
        upd("ais:4", T0, LON0 + 0.0006, LAT0, side="unknown"),
        upd("ais:5", T0 + 6, LON0 + 0.0008, LAT0, side="other"),
    ])
    assert events == []


def test_threshold_band_does_not_flap(settings, upd, at):
    eng = Engine(settings, [])
    events = []
    for k in range(100):
        d = 1_852.0 * (0.97 if k % 2 else 1.07)  # in and out of the threshold, inside the 10 % band
        events += eng.process([
            upd("ais:273000001", T0 + 5 * k, *at(LON0, LAT0, 0.0, d), side="russia"),
            upd("ais:219000001", T0 + 5 * k + 1, LON0, LAT0, side="nato"),
        ])
    assert [e.state for e in events] == ["open"]


def test_stale_subject_closes_the_incident(settings, upd, at):
    eng = Engine(settings, [])
    events = eng.process([
        upd("icao:155001", T0, *at(LON0, LAT0, 0.0, 2_000.0), side="russia", domain="air"),
        upd("icao:ae0001", T0, LON0, LAT0, side="nato", domain="air"),
    ])
    for k in range(1, 40):  # only the NATO aircraft keeps reporting
        events += eng.process([upd("icao:ae0001", T0 + 5 * k, LON0, LAT0, side="nato", domain="air")])
    assert [(e.state, e.close_reason) for e in events] == [("open", None), ("closed", "stale")]
    assert events[-1].t_s == T0 + 120  # when the Russian aircraft went stale, not the tick that saw it
    assert eng.stats["open_incidents"] == 0
    assert eng.stats["live_tracks"] == 1


def test_thresholds_come_from_the_settings(upd, at):
    s = ProximitySettings(thresholds={"sea_sea_m": 500.0})
    eng = Engine(s, [])
    events = eng.process([
        upd("ais:1", T0, *at(LON0, LAT0, 0.0, 700.0), side="russia"),
        upd("ais:2", T0, LON0, LAT0, side="nato"),
        upd("ais:2", T0 + 6, LON0, LAT0, side="nato"),
    ])
    assert events == []
