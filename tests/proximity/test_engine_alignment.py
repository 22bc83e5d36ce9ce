"""Close approaches compare tracks at one instant, even when their reports are not simultaneous.

Each scenario is an analytic encounter: every track moves along a WGS 84 geodesic at
constant speed (and vertical rate), so its true position at any time is known exactly
(GeographicLib). The tracks report at different times; the distance an event gives at
its tick must be the true simultaneous distance then, within 1 % or 10 m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from geographiclib.geodesic import Geodesic

from config.settings import ProximitySettings
from proximity.engine import Engine
from geodesic_truth import Mover, closest_approach

WGS84 = Geodesic.WGS84
T0 = 1_700_000_000.0
LON0, LAT0 = 24.0, 59.6


@dataclass(frozen=True)
class ParallelMover(Mover):
    """A track holding a constant course of 090 or 270 along its parallel (a rhumb line, not a geodesic)."""

    def at(self, t_s: float) -> tuple[float, float, float, float | None]:
        a, f = WGS84.a, WGS84.f
        e2 = f * (2 - f)
        phi = math.radians(self.lat)
        radius_m = a / math.sqrt(1 - e2 * math.sin(phi) ** 2) * math.cos(phi)  # of the parallel
        east = 1.0 if self.azimuth_deg == 90.0 else -1.0
        lon = self.lon + east * math.degrees(self.speed_mps * (t_s - T0) / radius_m)
        return lon, self.lat, self.azimuth_deg, self.alt_m


def _point(lon: float, lat: float, azimuth_deg: float, dist_m: float) -> tuple[float, float]:
    g = WGS84.Direct(lat, lon, azimuth_deg, dist_m)
    return g["lon2"], g["lat2"]


def _dist(a: tuple[float, float], b: tuple[float, float]) -> float:
    return WGS84.Inverse(a[1], a[0], b[1], b[0])["s12"]


def _true_distance(a: Mover, b: Mover, t_s: float) -> float:
    return _dist(a.at(t_s)[:2], b.at(t_s)[:2])


def _run(engine: Engine, schedule: list[tuple[float, Mover]]) -> list:
    """Reports in time order, a batch per report time; then the end of the input."""
    events = []
    for t, m in sorted(schedule, key=lambda x: (x[0], x[1].track_id)):
        events += engine.process([m.report(t)])
    return events + engine.finish()


def _within(measured: float, truth: float) -> bool:
    return abs(measured - truth) <= max(10.0, 0.01 * truth)


def _check_simultaneous(ev, a: Mover, b: Mover) -> None:
    """The event's distance, vertical separation and subjects are those at its time."""
    truth = _true_distance(a, b, ev.t_s)
    assert _within(ev.metrics["distance_m"], truth), (ev.state, ev.t_s - T0, ev.metrics["distance_m"], truth)
    by_id = {s.track_id: s for s in ev.subjects}
    for m in (a, b):
        s = by_id[m.track_id]
        assert s.t_s == ev.t_s  # the position holds at the event time ...
        assert s.report_t_s is not None and s.report_t_s <= ev.t_s  # ... reckoned from the last report
        lon, lat, course, alt = m.at(ev.t_s)
        assert _dist((s.lon_deg, s.lat_deg), (lon, lat)) < 0.01
        assert s.course_deg == pytest.approx(course, abs=1e-6)
        if alt is not None:
            assert s.alt_m == pytest.approx(alt, abs=1e-6)
    if "vertical_sep_m" in ev.metrics:
        assert ev.metrics["vertical_sep_m"] == pytest.approx(abs(a.at(ev.t_s)[3] - b.at(ev.t_s)[3]), abs=0.01)


def test_aircraft_head_on_reports_four_seconds_apart():
    # 250 m/s each, 1.5 km lateral offset, 40 km apart at T0; the NATO aircraft climbs at 2 m/s
    nato = Mover("icao:ae0001", "nato", "air", LON0, LAT0, 90.0, 250.0, alt_m=8_900.0, vrate_mps=2.0)
    start = _point(*_point(LON0, LAT0, 0.0, 1_500.0), 90.0, 40_000.0)
    rus = Mover("icao:155001", "russia", "air", *start, 270.0, 250.0, alt_m=9_000.0, vrate_mps=0.0)
    # the Russian reports on the ticks, the NATO aircraft 4 s after: 4 s old at every tick
    schedule = [(T0 + 5.0 * k, rus) for k in range(41)] + [(T0 + 5.0 * k + 1.0, nato) for k in range(40)]
    events = [e for e in _run(Engine(ProximitySettings(), []), schedule) if e.kind == "close_approach"]
    assert [e.state for e in events][0] == "open" and events[-1].state == "closed"
    assert events[-1].close_reason == "separated"
    naive_error_m = []
    for ev in events:
        _check_simultaneous(ev, nato, rus)
        rep = {s.track_id: s.report_t_s for s in ev.subjects}
        naive = _dist(nato.at(rep[nato.track_id])[:2], rus.at(rep[rus.track_id])[:2])
        naive_error_m.append(abs(naive - _true_distance(nato, rus, ev.t_s)))
    # the reports as they are would be up to 1 km off (4 s at 250 m/s)
    assert max(naive_error_m) > 900.0
    # it opens at the first tick truly closer than 5 NM, and its minimum is the true one (between ticks)
    ticks = [T0 + 5.0 * k for k in range(1, 41)]
    first = next(t for t in ticks if _true_distance(nato, rus, t) < 9_260.0)
    assert events[0].t_s == first
    t_min, closest = closest_approach(nato, rus, T0, events[-1].t_s)
    assert events[-1].metrics["min_distance_m"] == pytest.approx(closest, abs=0.5)
    assert events[-1].metrics["min_t_s"] == pytest.approx(t_min, abs=0.01)
    assert closest < 1_600.0


def test_constant_course_aircraft_reporting_every_30_s():
    # Dead reckoning follows the geodesic; aircraft holding a course follow a rhumb line. Over
    # the 30 s of the longest alignment at 250 m/s they part by 7.5 m at 59.6 N: within 10 m.
    nato = ParallelMover("icao:ae0003", "nato", "air", LON0, LAT0, 90.0, 250.0)
    rus = ParallelMover("icao:155003", "russia", "air", LON0 + 0.8, LAT0 + 0.02, 270.0, 250.0)
    schedule = [(T0 + 30.0 * k + 3.0, rus) for k in range(6)] + [(T0 + 5.0 * k + 1.0, nato) for k in range(36)]
    events = [e for e in _run(Engine(ProximitySettings(), []), schedule) if e.kind == "close_approach"]
    assert len(events) >= 3
    for ev in events:
        truth = _true_distance(nato, rus, ev.t_s)
        assert _within(ev.metrics["distance_m"], truth), (ev.t_s - T0, ev.metrics["distance_m"], truth)


def test_ships_crossing_reports_ten_seconds_apart():
    # 8 m/s each; the Russian ship crosses 600 m ahead of the NATO ship's track
    nato = Mover("ais:219000001", "nato", "sea", *_point(LON0, LAT0, 180.0, 3_000.0), 0.0, 8.0)
    rus = Mover("ais:273000001", "russia", "sea", *_point(*_point(LON0, LAT0, 0.0, 600.0), 90.0, 3_000.0), 270.0, 8.0)
    # every 20 s each, 10 s apart: ages 0 to 15 s at the ticks
    schedule = [(T0 + 20.0 * k, nato) for k in range(60)] + [(T0 + 20.0 * k + 10.0, rus) for k in range(60)]
    events = [e for e in _run(Engine(ProximitySettings(), []), schedule) if e.kind == "close_approach"]
    assert len(events) >= 3 and events[0].state == "open" and events[-1].close_reason == "separated"
    for ev in events:
        _check_simultaneous(ev, nato, rus)
    t_min, closest = closest_approach(nato, rus, T0, events[-1].t_s)
    assert events[-1].metrics["min_distance_m"] == pytest.approx(closest, abs=0.5)
    assert events[-1].metrics["min_t_s"] == pytest.approx(t_min, abs=0.05)


def test_predicted_close_approach_starts_from_both_tracks_at_the_tick():
    nato = Mover("icao:ae0002", "nato", "air", LON0, LAT0, 90.0, 220.0, alt_m=9_000.0)
    rus = Mover("icao:155002", "russia", "air", *_point(*_point(LON0, LAT0, 0.0, 3_000.0), 90.0, 150_000.0),
                270.0, 230.0, alt_m=9_100.0)
    schedule = [(T0 + 5.0 * k + 2.0, rus) for k in range(12)] + [(T0 + 5.0 * k + 4.5, nato) for k in range(12)]
    events = [e for e in _run(Engine(ProximitySettings(), []), schedule) if e.kind == "predicted_close_approach"]
    opened = events[0]
    assert opened.state == "open"
    _check_simultaneous(opened, nato, rus)
    # the true closest approach of the two geodesics, from the tick on
    tcpa = min(range(0, 900), key=lambda s: _true_distance(nato, rus, opened.t_s + s))
    assert opened.metrics["tcpa_s"] == pytest.approx(tcpa, abs=1.5)
    truth = _true_distance(nato, rus, opened.t_s + opened.metrics["tcpa_s"])
    assert opened.metrics["cpa_m"] == pytest.approx(truth, rel=0.01)


def _silent_ship(settings: ProximitySettings, last_report_m: float):
    """A Russian ship heads at 8 m/s for a NATO ship lying still, and falls silent at T0+100."""
    anchored = Mover("ais:219000002", "nato", "sea", LON0, LAT0, 0.0, 0.0)
    rus = Mover("ais:273000002", "russia", "sea", *_point(LON0, LAT0, 90.0, last_report_m + 800.0), 270.0, 8.0)
    schedule = [(T0 + 10.0 * k, rus) for k in range(11)] + [(T0 + 5.0 * k + 1.0, anchored) for k in range(40)]
    events = _run(Engine(settings, []), schedule)
    return [e for e in events if e.kind == "close_approach"], anchored, rus


def test_a_silent_track_is_reckoned_at_most_align_max_age_s():
    # last report 2,000 m away: 1,760 m at 30 s of dead reckoning, where it is then held
    events, anchored, rus = _silent_ship(ProximitySettings(), 2_000.0)
    assert [(e.state, e.close_reason) for e in events] == [("open", None), ("closed", "end_of_input")]
    # opens at the first tick where the reckoned ship is within 1 NM (20 s after its report)
    assert events[0].t_s == T0 + 120.0
    assert events[0].metrics["distance_m"] == pytest.approx(2_000.0 - 8.0 * 20.0, abs=0.5)
    closed = events[-1]
    assert closed.t_s == T0 + 196.0
    ship = next(s for s in closed.subjects if s.track_id == rus.track_id)
    assert (ship.report_t_s, ship.t_s) == (T0 + 100.0, T0 + 130.0)
    assert closed.metrics["distance_m"] == pytest.approx(2_000.0 - 8.0 * 30.0, abs=0.5)
    assert closed.metrics["min_distance_m"] == pytest.approx(1_760.0, abs=0.5)
    # the NATO ship lies still (speed 0): its position holds at any time
    still = next(s for s in closed.subjects if s.track_id == anchored.track_id)
    assert (still.report_t_s, still.t_s) == (T0 + 196.0, T0 + 196.0)


@pytest.mark.parametrize(("max_age_s", "closest_m"), [(0.0, None), (60.0, 1_520.0)])
def test_align_max_age_s_is_a_setting(max_age_s, closest_m):
    events, _, _ = _silent_ship(ProximitySettings(align_max_age_s=max_age_s), 2_000.0)
    if closest_m is None:
        assert events == []  # reports as they are: never closer than 2,000 m
    else:
        assert events[-1].metrics["min_distance_m"] == pytest.approx(closest_m, abs=0.5)


def test_a_track_without_course_stays_where_reported():
    rus = Mover("ais:273000003", "russia", "sea", *_point(LON0, LAT0, 45.0, 1_000.0), 0.0, 8.0)
    nato = Mover("ais:219000003", "nato", "sea", LON0, LAT0, 0.0, 0.0)
    eng = Engine(ProximitySettings(), [])
    events = eng.process([rus.report(T0 + 1.0, course_deg=None), nato.report(T0 + 2.0)])
    events += eng.process([nato.report(T0 + 6.0)])
    (ev,) = events
    ship = next(s for s in ev.subjects if s.track_id == rus.track_id)
    assert (ship.t_s, ship.report_t_s, ship.course_deg) == (T0 + 1.0, T0 + 1.0, None)
    assert ev.metrics["distance_m"] == pytest.approx(_dist(rus.at(T0 + 1.0)[:2], (LON0, LAT0)), abs=0.001)
    assert math.isclose(ship.lon_deg, rus.at(T0 + 1.0)[0]) and math.isclose(ship.lat_deg, rus.at(T0 + 1.0)[1])


def test_an_open_pair_is_still_measured_at_the_tick_when_a_track_changes_side():
    nato = Mover("ais:219000004", "nato", "sea", LON0, LAT0, 0.0, 0.0)
    rus = Mover("ais:273000004", "russia", "sea", *_point(LON0, LAT0, 90.0, 1_500.0), 90.0, 5.0)
    eng = Engine(ProximitySettings(), [])
    events = eng.process([nato.report(T0 + 1.0), rus.report(T0 + 2.0), nato.report(T0 + 6.0)])
    assert [(e.kind, e.state) for e in events] == [("close_approach", "open")]
    # the ship's affiliation is revised; the incident it is in is still followed at one instant
    other = Mover(rus.track_id, "other", "sea", rus.lon, rus.lat, rus.azimuth_deg, rus.speed_mps)
    events = eng.process([other.report(T0 + 8.0)])
    for k in range(2, 40):
        events += eng.process([nato.report(T0 + 5.0 * k + 1.0)])
        if k % 4 == 0:
            events += eng.process([other.report(T0 + 5.0 * k + 3.0)])
    (closed,) = events
    assert closed.close_reason == "separated"
    assert _within(closed.metrics["distance_m"], _true_distance(nato, rus, closed.t_s))
    assert _true_distance(nato, rus, closed.t_s - 30.0) > 1_852.0 * 1.1  # separated for min_dwell_s
