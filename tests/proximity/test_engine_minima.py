"""A close approach's minimum separation and its time are exact between ticks.

Each encounter is analytic: both tracks move along WGS 84 geodesics at constant
speed (and vertical rate), reporting at their own rates, and pass each other at
a time that falls between two ticks (every 5 s of data time). Their true closest
approach comes from GeographicLib (``geodesic_truth.closest_approach``), not from
pyproj. ``min_distance_m`` must be within 1 % or 10 m of it, and ``min_t_s`` within
the time the two tracks take to close 10 m (or 0.05 s).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
from geographiclib.geodesic import Geodesic

from config.settings import ProximitySettings
from geodesic_truth import Mover, closest_approach, separation_m
from proximity.engine import Engine

G = Geodesic.WGS84
T0 = 1_700_000_000.0
LON0, LAT0 = 25.0, 59.7


def _mover(track_id: str, side: str, domain: str, heading_deg: float, speed_mps: float, side_m: float,
           meet_s: float, **kw) -> Mover:
    """A track that is ``side_m`` to the right of (LON0, LAT0), heading ``heading_deg``, at T0 + meet_s."""
    return _through(track_id, side, domain, heading_deg + 90.0, side_m, heading_deg, speed_mps, meet_s, **kw)


def _through(track_id: str, side: str, domain: str, bearing_deg: float, dist_m: float, heading_deg: float,
             speed_mps: float, meet_s: float, **kw) -> Mover:
    """A track at ``dist_m`` from (LON0, LAT0) along ``bearing_deg``, heading ``heading_deg`` there at T0 + meet_s
    (the heading in the tangent plane at (LON0, LAT0))."""
    there = G.Direct(LAT0, LON0, bearing_deg, dist_m)
    heading = heading_deg + (there["azi2"] - bearing_deg) if dist_m else heading_deg
    back = G.Direct(there["lat2"], there["lon2"], heading + 180.0, speed_mps * meet_s)
    return Mover(track_id, side, domain, back["lon2"], back["lat2"], (back["azi2"] + 180.0) % 360.0, speed_mps,
                 t0_s=T0, **kw)


def _pair(ids: tuple[str, str], domains: tuple[str, str], headings: tuple[float, float], speeds: tuple[float, float],
          miss_m: float, meet_s: float, alts: tuple[float | None, float | None] = (None, None),
          vrates: tuple[float | None, float | None] = (None, None)) -> tuple[Mover, Mover]:
    """A NATO and a Russian track closest (``miss_m`` apart) at T0 + meet_s: the NATO one then at (LON0, LAT0),
    the Russian one across the line of their relative motion."""
    (ha, hb), (va, vb) = headings, speeds
    ve = vb * math.sin(math.radians(hb)) - va * math.sin(math.radians(ha))
    vn = vb * math.cos(math.radians(hb)) - va * math.cos(math.radians(ha))
    across = math.degrees(math.atan2(ve, vn)) + 90.0
    a = _through(ids[0], "nato", domains[0], 0.0, 0.0, ha, va, meet_s, alt_m=alts[0], vrate_mps=vrates[0])
    b = _through(ids[1], "russia", domains[1], across, miss_m, hb, vb, meet_s, alt_m=alts[1], vrate_mps=vrates[1])
    return a, b


@dataclass(frozen=True)
class Encounter:
    name: str
    nato: Mover
    russia: Mover
    period_s: tuple[float, float]  # report periods (NATO, Russian); the Russian reports start later
    duration_s: float

    def schedule(self) -> list[tuple[float, Mover]]:
        pa, pb = self.period_s
        out = [(T0 + k * pa, self.nato) for k in range(int(self.duration_s / pa))]
        out += [(T0 + 0.37 + k * pb, self.russia) for k in range(int(self.duration_s / pb))]
        return sorted(out, key=lambda x: (x[0], x[1].track_id))


def _relative_speed(a: Mover, b: Mover, t_s: float) -> float:
    """|v_b - v_a| in the local plane at a."""
    la, pa, ca, _ = a.at(t_s)
    lb, pb, cb, _ = b.at(t_s)
    inv = G.Inverse(pa, la, pb, lb)
    cb_at_a = cb - (inv["azi2"] - inv["azi1"])
    ve = b.speed_mps * math.sin(math.radians(cb_at_a)) - a.speed_mps * math.sin(math.radians(ca))
    vn = b.speed_mps * math.cos(math.radians(cb_at_a)) - a.speed_mps * math.cos(math.radians(ca))
    return math.hypot(ve, vn)


def _encounters() -> list[Encounter]:
    meet = 102.7  # between the ticks at 100 and 105
    air = ("air", "air")
    return [
        # two jets head-on at 500 m/s each: closing at 1,000 m/s, 3 km apart sideways, 100 m vertically
        Encounter("head-on jets", *_pair(("icao:ae1001", "icao:151001"), air, (80.0, 260.0), (500.0, 500.0),
                                         3_000.0, meet, (9_000.0, 9_100.0)), (1.0, 1.3), 160.0),
        # crossing at right angles, 300 m/s each
        Encounter("crossing", *_pair(("icao:ae1002", "icao:151002"), air, (0.0, 90.0), (300.0, 300.0),
                                     2_000.0, meet, (8_000.0, 8_150.0)), (1.0, 2.0), 180.0),
        # overtaking at 60 m/s, 2 km to the side
        Encounter("overtaking", *_pair(("icao:ae1003", "icao:151003"), air, (45.0, 45.0), (200.0, 260.0),
                                       2_000.0, meet, (7_000.0, 7_050.0)), (0.5, 1.0), 200.0),
        # co-altitude at the pass: the NATO aircraft climbs through the Russian's level at 15 m/s
        Encounter("climbing", *_pair(("icao:ae1004", "icao:151004"), air, (120.0, 300.0), (250.0, 230.0),
                                     4_000.0, meet, (9_000.0 - 15.0 * meet, 9_000.0), (15.0, 0.0)), (1.0, 1.0), 160.0),
        # an aircraft low over a ship
        Encounter("air-sea", *_pair(("icao:ae1005", "ais:273001005"), ("air", "sea"), (200.0, 330.0), (180.0, 8.0),
                                    1_200.0, meet, (600.0, None)), (1.0, 6.0), 180.0),
        # two ships crossing, reporting every 10 and 6 s
        Encounter("sea", *_pair(("ais:219001006", "ais:273001006"), ("sea", "sea"), (30.0, 300.0), (12.0, 9.0),
                                400.0, 10 * meet), (10.0, 6.0), 1_500.0),
    ]


ENCOUNTERS = _encounters()


def _run(settings: ProximitySettings, schedule: list[tuple[float, Mover]], cuts: list[int] | None = None) -> list:
    eng = Engine(settings, [])
    reports = [m.report(t) for t, m in schedule]
    cuts = cuts or [1] * len(reports)
    events, i = [], 0
    for c in cuts:
        events += eng.process(reports[i : i + c])
        i += c
    return [e for e in events + eng.finish() if e.kind == "close_approach"]


@pytest.mark.parametrize("enc", ENCOUNTERS, ids=[e.name for e in ENCOUNTERS])
def test_minimum_and_its_time_are_those_of_geographiclib(enc):
    events = _run(ProximitySettings(), enc.schedule())
    assert events and events[0].state == "open" and events[-1].state == "closed"
    t_true, d_true = closest_approach(enc.nato, enc.russia, T0, events[-1].t_s)
    # the pass is between two ticks: the ticks alone would miss its minimum
    assert t_true % 5.0 > 0.5 and t_true % 5.0 < 4.5
    last = events[-1].metrics
    assert abs(last["min_distance_m"] - d_true) <= max(10.0, 0.01 * d_true), (last["min_distance_m"], d_true)
    v_rel = _relative_speed(enc.nato, enc.russia, t_true)
    assert abs(last["min_t_s"] - t_true) <= max(0.05, 10.0 / v_rel), (last["min_t_s"] - t_true, v_rel)
    ticks = [t for t in np.arange(T0 + 5.0, events[-1].t_s + 1.0, 5.0)]
    at_ticks = min(separation_m(enc.nato, enc.russia, float(t)) for t in ticks)
    assert last["min_distance_m"] < at_ticks or abs(t_true - round(t_true / 5.0) * 5.0) < 0.5
    # every revision reports the minimum so far, and no revision before it knows it
    for ev in events:
        assert ev.metrics["min_t_s"] <= ev.t_s
        if ev.t_s < t_true:
            assert ev.metrics["min_distance_m"] == pytest.approx(ev.metrics["distance_m"])


def _fast_pass() -> Encounter:
    # 9,000 m apart sideways, co-altitude, closing at 1,000 m/s: inside the 9,260 m threshold for 4.4 s,
    # from T0+100.5 to T0+104.9, between the ticks at 100 and 105
    meet = 102.7
    return Encounter(
        "fast pass", _mover("icao:ae1007", "nato", "air", 10.0, 500.0, 4_500.0, meet, alt_m=10_000.0),
        _mover("icao:151007", "russia", "air", 190.0, 500.0, 4_500.0, meet, alt_m=10_050.0), (1.0, 1.0), 200.0)


def test_a_pass_in_and_out_between_two_ticks_opens_and_closes():
    enc = _fast_pass()
    # at every tick they are farther apart than the threshold: the ticks alone see nothing
    for t in np.arange(T0 + 5.0, T0 + 200.0, 5.0):
        assert separation_m(enc.nato, enc.russia, float(t)) > 9_260.0
    events = _run(ProximitySettings(), enc.schedule())
    assert [(e.state, e.close_reason) for e in events] == [("open", None), ("closed", "separated")]
    opened, closed = events
    # it opens at the tick after the pass, at the separation then; the minimum and its time are the true ones
    assert opened.t_s == T0 + 105.0
    assert opened.metrics["distance_m"] > 9_260.0
    t_true, d_true = closest_approach(enc.nato, enc.russia, T0, T0 + 200.0)
    assert opened.metrics["min_distance_m"] == pytest.approx(d_true, abs=1.0)
    assert opened.metrics["min_t_s"] == pytest.approx(t_true, abs=0.01)
    assert opened.severity == "warning"
    assert "closest 9000 m" in opened.summary
    # separated from the next tick on, closed after min_dwell_s
    assert closed.t_s == T0 + 140.0
    assert closed.metrics["min_t_s"] == opened.metrics["min_t_s"]


def test_a_critical_pass_between_ticks_is_critical():
    # 4 km apart (under half the 9,260 m threshold) at T0+102.5, closing at 1,000 m/s: 4.7 km at the
    # ticks on either side, above half the threshold
    nato, rus = _pair(("icao:ae1008", "icao:151008"), ("air", "air"), (10.0, 190.0), (500.0, 500.0), 4_000.0,
                      102.5, (10_000.0, 10_000.0))
    for t in np.arange(T0 + 5.0, T0 + 150.0, 5.0):
        assert separation_m(nato, rus, float(t)) > 4_630.0
    events = _run(ProximitySettings(), Encounter("x", nato, rus, (0.5, 0.5), 150.0).schedule())
    assert [(e.t_s - T0, e.severity) for e in events if e.state != "closed"] == [
        (95.0, "warning"), (100.0, "warning"), (105.0, "critical"), (110.0, "warning")]
    at_pass = events[2]
    assert at_pass.metrics["min_distance_m"] == pytest.approx(4_000.0, abs=2.0)
    assert at_pass.metrics["distance_m"] > 4_630.0


def test_a_pass_between_ticks_vertically_apart_is_not_a_close_approach():
    enc = _fast_pass()
    high = Mover(enc.russia.track_id, "russia", "air", enc.russia.lon, enc.russia.lat, enc.russia.azimuth_deg,
                 enc.russia.speed_mps, alt_m=10_400.0, t0_s=T0)
    assert _run(ProximitySettings(), Encounter("high", enc.nato, high, (1.0, 1.0), 200.0).schedule()) == []


def test_a_pass_between_ticks_keeps_an_incident_from_separating():
    # a NATO helicopter hovers; a Russian jet passes it 2 km away at T0+20 (the incident opens), flies
    # on and is beyond the separation band (threshold x 1.1: 10,186 m) from T0+30, then comes back
    # at 1,000 m/s and passes 10 km away at T0+52.5: inside the band from T0+50.6 to T0+54.4 only
    heli = Mover("icao:ae1009", "nato", "air", LON0, LAT0, 0.0, 0.0, alt_m=3_000.0, t0_s=T0)
    out = _mover("icao:151009", "russia", "air", 90.0, 1_000.0, -2_000.0, 20.0, alt_m=3_000.0)
    back = _mover("icao:151009", "russia", "air", 270.0, 1_000.0, 10_000.0, 52.5, alt_m=3_000.0)
    for t in (50.0, 55.0):
        assert separation_m(heli, back, T0 + t) > 9_260.0 * 1.1
    reports = [heli.report(T0 + k) for k in range(160)]
    reports += [(out if k <= 40 else back).report(T0 + k + 0.5) for k in range(160)]
    reports.sort(key=lambda u: (u.t_s, u.track_id))
    eng = Engine(ProximitySettings(), [])
    events = [e for e in eng.process(reports) + eng.finish() if e.kind == "close_approach"]
    assert [(e.state, e.close_reason) for e in events][-1] == ("closed", "separated")
    assert len({e.event_id for e in events}) == 1
    # the ticks alone would have closed it at T0+60 (separated at every tick from T0+30 for 30 s);
    # the pass resets the dwell, which runs again from T0+60
    assert events[-1].t_s == T0 + 90.0
    assert events[-1].metrics["min_distance_m"] == pytest.approx(2_000.0, abs=2.0)


@pytest.mark.parametrize("how", ["whole", "one_by_one", "random"])
def test_minima_do_not_depend_on_the_batching(how):
    reports = [m.report(t) for enc in (*ENCOUNTERS[:2], _fast_pass()) for t, m in enc.schedule()]
    reports.sort(key=lambda u: (u.t_s, u.track_id))
    n = len(reports)
    if how == "whole":
        cuts = [n]
    elif how == "one_by_one":
        cuts = [1] * n
    else:
        rng = np.random.default_rng(11)
        cuts = []
        while sum(cuts) < n:
            cuts.append(int(min(rng.integers(1, 50), n - sum(cuts))))

    def run(cuts):
        eng = Engine(ProximitySettings(), [])
        events, i = [], 0
        for c in cuts:
            events += eng.process(reports[i : i + c])
            i += c
        return [json.dumps(e.canonical(), sort_keys=True) for e in events + eng.finish()]

    assert run(cuts) == run([n])
