"""The INCSEA kinds on analytic encounters: tracks on WGS 84 geodesics at constant speed, their true
separations from GeographicLib (``geodesic_truth``), never from the engine's code.

``unsafe_air_intercept_of_ship``: a maritime patrol aircraft passing low over a warship of the other side.
"""

from __future__ import annotations

import json
import math

from geographiclib.geodesic import Geodesic
from scipy.optimize import minimize_scalar

from config.records import TrackUpdate
from config.settings import ProximitySettings
from geodesic_truth import Mover, separation_m
from proximity.engine import Engine

G = Geodesic.WGS84
T0 = 1_700_000_000.0
LON0, LAT0 = 20.0, 58.0
AIR_KIND = "unsafe_air_intercept_of_ship"
MIL = {"category": "military"}
P8 = {"category": "military", "type_code": "P8"}

# a Russian warship steaming north at 8 m/s
SHIP = Mover("ais:273000010", "russia", "sea", LON0, LAT0, 0.0, 8.0, t0_s=T0)


def _point(lon: float, lat: float, azi: float, d: float) -> tuple[float, float]:
    r = G.Direct(lat, lon, azi, d)
    return r["lon2"], r["lat2"]


def _run(streams: list[list[TrackUpdate]], settings: ProximitySettings | None = None, batch: int = 40):
    reports = sorted((u for s in streams for u in s), key=lambda u: (u.t_s, u.track_id))
    engine = Engine(settings or ProximitySettings(), [], wall_clock=lambda: 0.0)
    events = []
    for i in range(0, len(reports), batch):
        events += engine.process(reports[i : i + batch])
    return events + engine.finish()


def _reports(m: Mover, every: float, t_from: float, t_to: float, **kw) -> list[TrackUpdate]:
    out = []
    t = t_from
    while t <= t_to + 1e-9:
        out.append(m.report(t, **kw))
        t += every
    return out


def _of(events, kind):
    return [e for e in events if e.kind == kind]


def _true_min_slant(air: Mover, ship: Mover, t_from: float, t_to: float) -> tuple[float, float]:
    """(time, slant range) of the closest pass, from GeographicLib: a scan and Brent's method."""

    def slant(t: float) -> float:
        alt = air.at(t)[3]
        return math.hypot(separation_m(air, ship, t), alt or 0.0)

    # times from t_from: the minimiser's tolerance is relative to the magnitude of its variable
    step = 0.5
    taus = [k * step for k in range(int((t_to - t_from) / step) + 1)]
    k = min(range(len(taus)), key=lambda i: slant(t_from + taus[i]))
    res = minimize_scalar(lambda tau: slant(t_from + tau), bounds=(taus[max(k - 1, 0)], taus[min(k + 1, len(taus) - 1)]),
                          method="bounded", options={"xatol": 1e-6})
    return t_from + float(res.x), float(res.fun)


def _entry_time(air: Mover, ship: Mover, limit_m: float, t_from: float, t_to: float, out: bool = False) -> float:
    """The first time the slant range falls to ``limit_m`` (``out``: rises above it; a scan every 0.1 s)."""
    t = t_from
    while t <= t_to:
        if (math.hypot(separation_m(air, ship, t), air.at(t)[3] or 0.0) <= limit_m) != out:
            return t
        t += 0.1
    raise AssertionError("never within the limit")


def _head_on_patrol(offset_m: float = 200.0, alt_m: float = 150.0, track_id: str = "icao:4d0001") -> Mover:
    """A NATO aircraft 20 km north of the ship (and ``offset_m`` east), flying south at 120 m/s."""
    lon, lat = _point(*_point(LON0, LAT0, 0.0, 20_000.0), 90.0, offset_m)
    return Mover(track_id, "nato", "air", lon, lat, 180.0, 120.0, alt_m=alt_m, t0_s=T0)


def test_a_low_head_on_pass_over_a_warship_opens_with_its_closest_point():
    air = _head_on_patrol()
    events = _run([_reports(SHIP, 10.0, T0, T0 + 1_200.0, **MIL), _reports(air, 1.0, T0, T0 + 1_200.0, **P8)])
    inc = _of(events, AIR_KIND)
    # open, revised as the slant range falls by 10 % steps, closed
    states = [e.state for e in inc]
    assert states[0] == "open" and states[-1] == "closed" and set(states[1:-1]) <= {"update"}
    assert len({e.event_id for e in inc}) == 1
    op, closed = inc[0], inc[-1]
    # it opens at the first tick after the aircraft came within 1 NM slant range
    t_in = _entry_time(air, SHIP, 1_852.0, T0, T0 + 400.0)
    assert t_in <= op.t_s <= t_in + 5.0
    assert [s.track_id for s in op.subjects] == ["icao:4d0001", "ais:273000010"]  # the aircraft first
    t_min, true_min = _true_min_slant(air, SHIP, T0 + 100.0, T0 + 250.0)
    m = closed.metrics
    assert abs(m["min_slant_range_m"] - true_min) <= max(10.0, 0.01 * true_min)
    assert abs(m["min_t_s"] - t_min) <= 0.1
    assert abs(m["height_at_min_m"] - 150.0) <= 0.01
    assert abs(m["horizontal_at_min_m"] - separation_m(air, SHIP, t_min)) <= 10.0
    # head-on: the aircraft came from ahead of the ship; the profile of a simulated attack
    assert min(m["pass_bearing_deg"], 360.0 - m["pass_bearing_deg"]) < 1.0
    assert m["attack_aspect"] == 1.0 and m["passes"] == 1.0
    assert op.severity == "critical"
    # it closes once the aircraft stayed out of the envelope for air_part_s (600 s)
    # out beyond the envelope and its hysteresis margin (10 %): the dwell starts at the next tick
    t_out = _entry_time(air, SHIP, 1_852.0 * 1.1, t_min, T0 + 400.0, out=True)
    assert closed.close_reason == "clear"
    assert t_out + 600.0 <= closed.t_s <= t_out + 600.0 + 10.0
    json.dumps([e.canonical() for e in events])


def test_circling_back_for_a_second_pass_from_astern_is_one_incident_of_two_passes():
    air = _head_on_patrol(offset_m=300.0)
    turn_t = T0 + 300.0
    back = Mover("icao:4d0001", "nato", "air", *air.at(turn_t)[:2], 0.0, 120.0, alt_m=150.0, t0_s=turn_t)
    leg1 = _reports(air, 1.0, T0, turn_t, **P8)
    leg2 = _reports(back, 1.0, turn_t + 1.0, T0 + 900.0, **P8)
    events = _run([_reports(SHIP, 10.0, T0, T0 + 900.0, **MIL), leg1 + leg2])
    inc = _of(events, AIR_KIND)
    assert len({e.event_id for e in inc}) == 1
    states = [e.state for e in inc]
    assert states[0] == "open" and states[-1] == "closed" and inc[-1].close_reason == "end_of_input"
    second = [e for e in inc if e.state == "update" and e.metrics["passes"] == 2.0]
    assert second, [e.metrics["passes"] for e in inc]
    t2_in = _entry_time(back, SHIP, 1_852.0, turn_t, T0 + 900.0)
    assert t2_in <= second[0].t_s <= t2_in + 5.0
    last = inc[-1].metrics
    assert last["passes"] == 2.0 and last["attack_aspect"] == 1.0  # the first was head-on
    # the closest of both passes, from GeographicLib
    t1, m1 = _true_min_slant(air, SHIP, T0 + 100.0, turn_t)
    t2, m2 = _true_min_slant(back, SHIP, turn_t, T0 + 900.0)
    true_min = min(m1, m2)
    assert abs(last["min_slant_range_m"] - true_min) <= max(10.0, 0.01 * true_min)


def test_a_fast_jet_passing_between_two_ticks_is_caught_at_its_closest_point():
    # 300 m/s at 100 m on a beam run (westbound across the northbound ship's bow, 500 m ahead of it
    # at the pass), reporting every 4 s: within 1 NM slant for about 12 s
    t_pass = T0 + 62.5  # between the ticks at +60 and +65
    ahead = _point(*SHIP.at(t_pass)[:2], 0.0, 500.0)
    start = _point(*ahead, 90.0, 300.0 * (t_pass - T0))
    line = G.InverseLine(start[1], start[0], ahead[1], ahead[0])
    jet = Mover("icao:4d0002", "nato", "air", start[0], start[1], line.azi1, 300.0, alt_m=100.0, t0_s=T0)
    events = _run([_reports(SHIP, 10.0, T0, T0 + 300.0, **MIL),
                   _reports(jet, 4.0, T0 + 1.0, T0 + 300.0, category="military", type_code="F16")])
    inc = _of(events, AIR_KIND)
    assert inc and inc[0].state == "open"
    t_min, true_min = _true_min_slant(jet, SHIP, T0 + 40.0, T0 + 90.0)
    m = inc[-1].metrics
    assert abs(m["min_slant_range_m"] - true_min) <= max(10.0, 0.01 * true_min)
    assert abs(m["min_t_s"] - t_min) <= 10.0 / 300.0
    # from starboard, on the beam: the other profile of a simulated attack
    assert abs(m["pass_bearing_deg"] - 90.0) < 15.0 and m["attack_aspect"] == 1.0


def test_no_unsafe_pass_high_far_civil_same_side_or_without_altitude():
    high = _head_on_patrol(alt_m=600.0, track_id="icao:4d0003")  # overhead, but above 300 m
    far = _head_on_patrol(offset_m=3_000.0, track_id="icao:4d0004")  # low, but 3 km off
    civil = _head_on_patrol(track_id="icao:4d0005")
    same_side = Mover("icao:150010", "russia", "air", high.lon, high.lat, 180.0, 120.0, alt_m=150.0, t0_s=T0)
    no_alt = Mover("icao:4d0006", "nato", "air", high.lon, high.lat, 180.0, 120.0, t0_s=T0)
    merchant = Mover("ais:273000011", "russia", "sea", LON0 + 0.5, LAT0, 0.0, 8.0, t0_s=T0)
    over_merchant = Mover("icao:4d0007", "nato", "air", *_point(LON0 + 0.5, LAT0, 0.0, 20_000.0), 180.0, 120.0,
                          alt_m=150.0, t0_s=T0)
    until = T0 + 600.0
    events = _run([
        _reports(SHIP, 10.0, T0, until, **MIL),
        _reports(merchant, 10.0, T0, until, category="civil"),
        _reports(high, 1.0, T0, until, **P8),
        _reports(far, 1.0, T0, until, **P8),
        _reports(civil, 1.0, T0, until, category="civil", type_code="A320"),
        _reports(same_side, 1.0, T0, until, category="military", type_code="IL38"),
        _reports(no_alt, 1.0, T0, until, **P8),
        _reports(over_merchant, 1.0, T0, until, **P8),
    ])
    assert not _of(events, AIR_KIND)


def test_settings_of_the_incsea_kinds_are_validated():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="sea_safe_cpa_m"):
        ProximitySettings.model_validate({"incsea": {"sea_cpa_m": 800.0}})
    with pytest.raises(ValidationError, match="air_max_height_m"):
        ProximitySettings.model_validate({"incsea": {"air_max_height_m": -1.0}})
    s = ProximitySettings.model_validate({"incsea": {"air_max_height_m": 500.0, "air_slant_range_m": 3_000.0}})
    assert s.incsea.air_max_height_m == 500.0


# -- unsafe_manoeuvre_at_sea -------------------------------------------------------------------------

SEA_KIND = "unsafe_manoeuvre_at_sea"
TURN_T = T0 + 600.0


def _crossing_legs(track_id: str = "ais:211000020", ahead_m: float = 250.0, speed: float = 10.0,
                   abeam_m: float = 2_000.0) -> tuple[Mover, Mover]:
    """A NATO ship ``abeam_m`` east of the warship on a parallel course (a safe CPA), which turns at
    TURN_T to cross the warship's bow: it heads for the point ``ahead_m`` ahead of where the warship
    will be when it gets there."""
    first = Mover(track_id, "nato", "sea", *_point(LON0, LAT0, 90.0, abeam_m), 0.0, 8.0, t0_s=T0)
    here = first.at(TURN_T)[:2]
    # the point it aims at: iterate on the arrival time
    t_arr = 200.0
    for _ in range(20):
        target = _point(*SHIP.at(TURN_T + t_arr)[:2], 0.0, ahead_m)
        t_arr = G.Inverse(here[1], here[0], target[1], target[0])["s12"] / speed
    azi = G.Inverse(here[1], here[0], target[1], target[0])["azi1"]
    return first, Mover(track_id, "nato", "sea", *here, azi % 360.0, speed, t0_s=TURN_T)


def _true_cpa(a: Mover, b: Mover, t_from: float, horizon: float = 900.0) -> float:
    from geodesic_truth import closest_approach

    return closest_approach(a, b, t_from, t_from + horizon, step_s=1.0)[1]


def test_a_ship_turning_across_a_warships_bow_is_an_unsafe_manoeuvre():
    first, second = _crossing_legs()
    until = TURN_T + 900.0
    ship = _reports(first, 10.0, T0, TURN_T - 10.0, **MIL) + _reports(second, 10.0, TURN_T, until, **MIL)
    events = _run([_reports(SHIP, 10.0, T0, until, **MIL), ship])
    inc = _of(events, SEA_KIND)
    assert inc and inc[0].state == "open" and len({e.event_id for e in inc}) == 1
    op = inc[0]
    # the first report on the new course is at TURN_T: the tick after it, within one report interval
    assert TURN_T <= op.t_s <= TURN_T + 10.0
    assert [s.track_id for s in op.subjects] == ["ais:211000020", "ais:273000010"]  # the manoeuvring ship first
    m = op.metrics
    truth_after = _true_cpa(second, SHIP, op.t_s)
    assert truth_after < 370.0
    assert abs(m["cpa_m"] - truth_after) <= max(10.0, 0.01 * truth_after) and m["cpa_after_m"] == m["cpa_m"]
    truth_before = _true_cpa(first, SHIP, m["cpa_before_t_s"])
    assert truth_before >= 740.0 and abs(m["cpa_before_m"] - truth_before) <= max(10.0, 0.01 * truth_before)
    assert TURN_T - 300.0 <= m["cpa_before_t_s"] < TURN_T
    assert abs(m["turn_deg"] - (_angle(second.azimuth_deg - 0.0))) < 1.0 and m["turn_deg"] < 0  # to port
    assert abs(m["distance_m"] - separation_m(second, SHIP, op.t_s)) <= 10.0
    # nobody gives way: they pass, and it closes once they are apart
    closed = inc[-1]
    assert closed.state == "closed" and closed.close_reason == "passed" and closed.metrics["gave_way"] == 0.0
    _, true_min = _true_min_distance(second, SHIP, TURN_T, until)
    assert closed.metrics["min_distance_m"] >= true_min - 1.0
    json.dumps([e.canonical() for e in events])


def _angle(d: float) -> float:
    return (d + 180.0) % 360.0 - 180.0


def _true_min_distance(a: Mover, b: Mover, t_from: float, t_to: float) -> tuple[float, float]:
    from geodesic_truth import closest_approach

    return closest_approach(a, b, t_from, t_to, step_s=1.0)


def test_the_warship_giving_way_is_recorded_and_the_incident_clears():
    first, second = _crossing_legs(track_id="ais:211000021")
    give_t = TURN_T + 60.0
    # the warship has the crossing ship on its starboard side: it gives way, hard to starboard, astern of it
    evade = Mover(SHIP.track_id, "russia", "sea", *SHIP.at(give_t)[:2], 120.0, 8.0, t0_s=give_t)
    until = TURN_T + 900.0
    war = _reports(SHIP, 10.0, T0, give_t - 10.0, **MIL) + _reports(evade, 10.0, give_t, until, **MIL)
    ship = _reports(first, 10.0, T0, TURN_T - 10.0, **MIL) + _reports(second, 10.0, TURN_T, until, **MIL)
    events = _run([war, ship])
    inc = _of(events, SEA_KIND)
    assert inc and inc[0].state == "open"
    gave = [e for e in inc if e.metrics["gave_way"] == 2.0]
    assert gave and gave[0].state in ("update", "closed") and give_t <= gave[0].t_s <= give_t + 10.0
    assert inc[-1].close_reason == "cleared"
    assert "gave way" in gave[0].summary


def test_no_unsafe_manoeuvre_on_steady_courses_well_clear_or_towards_a_civil_ship():
    until = T0 + 1_500.0
    # steady courses meeting 300 m apart: a close approach, no manoeuvre
    steady = Mover("ais:211000030", "nato", "sea", *_point(*_point(LON0, LAT0, 0.0, 12_000.0), 90.0, 300.0), 180.0,
                   8.0, t0_s=T0)
    # a civil ship of the other side 1.5 km abeam of the warship turning 20 degrees away: well clear
    clear_first = Mover("ais:211000031", "nato", "sea", *_point(LON0, LAT0, 270.0, 1_500.0), 0.0, 8.0, t0_s=T0)
    clear_second = Mover("ais:211000031", "nato", "sea", *clear_first.at(TURN_T)[:2], 340.0, 8.0, t0_s=TURN_T)
    # a ship turning across the bow of a Russian merchant ship (no warship)
    merchant = Mover("ais:273000031", "russia", "sea", LON0 + 0.3, LAT0, 0.0, 8.0, t0_s=T0)
    towards_first = Mover("ais:211000032", "nato", "sea", *_point(LON0 + 0.3, LAT0, 90.0, 1_500.0), 0.0, 8.0,
                          t0_s=T0)
    here = towards_first.at(TURN_T)[:2]
    target = _point(*merchant.at(TURN_T + 250.0)[:2], 0.0, 100.0)
    towards_second = Mover("ais:211000032", "nato", "sea", *here,
                           G.Inverse(here[1], here[0], target[1], target[0])["azi1"] % 360.0, 10.0, t0_s=TURN_T)
    events = _run([
        _reports(SHIP, 10.0, T0, until, **MIL),
        _reports(steady, 10.0, T0, until, **MIL),
        _reports(clear_first, 10.0, T0, TURN_T - 10.0, category="civil")
        + _reports(clear_second, 10.0, TURN_T, until, category="civil"),
        _reports(merchant, 10.0, T0, until, category="civil"),
        _reports(towards_first, 10.0, T0, TURN_T - 10.0, **MIL) + _reports(towards_second, 10.0, TURN_T, until, **MIL),
    ])
    assert not _of(events, SEA_KIND), [(e.summary, e.t_s - T0) for e in _of(events, SEA_KIND)]
    assert _of(events, "close_approach")  # the steady pair is a close approach, not a manoeuvre


def _both_kinds(ship_id: str) -> list[TrackUpdate]:
    """A low pass over the warship and a ship (``ship_id``) turning across its bow, in time order."""
    air = _head_on_patrol()
    first, second = _crossing_legs(track_id=ship_id)
    until = TURN_T + 600.0
    return sorted(
        _reports(SHIP, 10.0, T0, until, **MIL) + _reports(air, 2.0, T0, until, **P8)
        + _reports(first, 10.0, T0, TURN_T - 10.0, **MIL) + _reports(second, 10.0, TURN_T, until, **MIL),
        key=lambda u: (u.t_s, u.track_id))


def test_the_incsea_kinds_do_not_depend_on_the_batching_and_survive_a_restore():
    """A low pass and a manoeuvre across a bow in one stream: the same events, byte for byte, in one
    batch, in random cuts, and through an engine restored from its exported state half way."""
    import numpy as np

    reports = _both_kinds("ais:211000040")
    settings = ProximitySettings()

    def run(cuts, restore_at=None):
        engine = Engine(settings, [], wall_clock=lambda: 0.0)
        out, i = [], 0
        for c in cuts:
            out += engine.process(reports[i : i + c])
            i += c
            if restore_at is not None and i >= restore_at:
                engine, restore_at = Engine.from_state(settings, engine.state(), wall_clock=lambda: 0.0), None
        out += engine.finish()
        return [json.dumps(e.canonical(), sort_keys=True) for e in out]

    whole = run([len(reports)])
    kinds = {json.loads(e)["kind"] for e in whole}
    assert {AIR_KIND, SEA_KIND} <= kinds
    rng = np.random.default_rng(5)
    cuts: list[int] = []
    while sum(cuts) < len(reports):
        cuts.append(int(min(rng.integers(1, 200), len(reports) - sum(cuts))))
    assert run(cuts) == whole
    # restored at the turn: the history of both ships crosses the restore
    at_turn = next(i for i, u in enumerate(reports) if u.t_s >= TURN_T - 30.0)
    assert run([at_turn, len(reports) - at_turn], restore_at=at_turn) == whole
    assert run([97] * (len(reports) // 97) + [len(reports) % 97], restore_at=len(reports) // 2) == whole


def test_the_military_profile_raises_both_incsea_kinds():
    from closewatch.rules import load_profile
    from proximity.rules import Rules

    reports = _both_kinds("ais:211000050")
    engine = Engine(ProximitySettings(), [], rules=Rules(load_profile("military")), wall_clock=lambda: 0.0)
    events = engine.process(reports) + engine.finish()
    opened = {(e.kind, e.rule) for e in events if e.state == "open" and e.kind in (AIR_KIND, SEA_KIND)}
    assert opened == {(AIR_KIND, "military@3/incsea"), (SEA_KIND, "military@3/incsea")}
