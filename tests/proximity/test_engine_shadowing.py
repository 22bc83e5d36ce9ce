"""``shadowing`` and ``intercept`` on analytic encounters: tracks on WGS 84 geodesics at constant speed,
their true separations from GeographicLib (``geodesic_truth``), never from the engine's code."""

from __future__ import annotations

import json

from geographiclib.geodesic import Geodesic

from config.settings import ProximitySettings
from geodesic_truth import Mover, separation_m
from proximity.engine import Engine

G = Geodesic.WGS84
T0 = 1_700_000_000.0
LON0, LAT0 = 22.0, 58.5


def _behind(m: Mover, track_id: str, side: str, dist_m: float, speed_mps: float, **kw) -> Mover:
    """A track on ``m``'s geodesic, ``dist_m`` behind it at T0, at ``speed_mps``."""
    line = G.Line(m.lat, m.lon, m.azimuth_deg)
    p = line.Position(-dist_m)
    return Mover(track_id, side, m.domain, p["lon2"], p["lat2"], p["azi2"], speed_mps, t0_s=T0, **kw)


def _run(movers: list[tuple[Mover, float, dict]], until_s: float, settings: ProximitySettings | None = None):
    """Each mover reports every ``interval`` s (its keywords on each report) from T0 to T0 + until_s."""
    reports = []
    for mover, every, kw in movers:
        t = T0
        while t <= T0 + until_s:
            reports.append(mover.report(t, **kw))
            t += every
    reports.sort(key=lambda u: (u.t_s, u.track_id))
    engine = Engine(settings or ProximitySettings(), [], wall_clock=lambda: 0.0)
    events = []
    for i in range(0, len(reports), 50):
        events += engine.process(reports[i : i + 50])
    return events + engine.finish()


def _zero() -> float:
    return 0.0


def _of(events, kind):
    return [e for e in events if e.kind == kind]


RUS = Mover("ais:273000001", "russia", "sea", LON0, LAT0, 90.0, 7.0, t0_s=T0)
MIL = {"category": "military"}


def test_a_warship_keeping_station_astern_for_40_minutes_is_shadowing():
    nato = _behind(RUS, "ais:211000001", "nato", 6_000.0, 7.0)
    events = _run([(RUS, 10.0, MIL), (nato, 10.0, MIL)], 2_400.0)
    sh = _of(events, "shadowing")
    assert [e.state for e in sh] == ["open", "closed"]
    op, closed = sh
    # the band holds from the first tick; 20 minutes later it opens (within one report interval)
    assert T0 + 1_200.0 <= op.t_s <= T0 + 1_210.0
    assert [s.track_id for s in op.subjects] == ["ais:211000001", "ais:273000001"]  # the shadower first
    truth = separation_m(nato, RUS, op.t_s)
    assert abs(op.metrics["distance_m"] - truth) <= max(10.0, 0.01 * truth)
    assert (op.metrics["band_low_m"], op.metrics["band_high_m"]) == (4_000.0, 8_000.0)
    assert op.severity == "warning" and op.metrics["duration_s"] >= 1_200.0
    assert closed.close_reason == "end_of_input" and closed.metrics["duration_s"] >= 2_390.0
    json.dumps([e.canonical() for e in events])
    assert not _of(events, "intercept")


def test_closing_into_another_band_revises_and_turning_away_parts():
    # the NATO ship closes slowly from 10 km to 7 km over 50 minutes (1 m/s faster: still matching)
    nato = _behind(RUS, "ais:211000002", "nato", 10_000.0, 8.0)
    until = 3_000.0
    turn = Mover("ais:211000002", "nato", "sea", *nato.at(T0 + until)[:2], 180.0, 8.0, t0_s=T0 + until)
    reports = [(RUS, 10.0, MIL)]
    events = _run(reports + [(nato, 10.0, MIL)], until)
    sh = _of(events, "shadowing")
    assert [e.state for e in sh][:2] == ["open", "update"]
    bands = [(e.metrics["band_low_m"], e.metrics["band_high_m"]) for e in sh if e.state != "closed"]
    assert bands[0] == (8_000.0, 16_000.0) and bands[1] == (4_000.0, 8_000.0)
    up = sh[1]
    truth = separation_m(nato, RUS, up.t_s)
    assert truth < 8_000.0 / 1.1 and abs(up.metrics["distance_m"] - truth) <= max(10.0, 0.01 * truth)
    # then it turns south: parted after part_s (120 s), one incident from open to closed
    events = _run_two_legs(nato, turn, until)
    sh = _of(events, "shadowing")
    closed = sh[-1]
    assert closed.close_reason == "parted" and len({e.event_id for e in sh}) == 1
    assert T0 + until + 120.0 <= closed.t_s <= T0 + until + 140.0


def _run_two_legs(first: Mover, second: Mover, switch_s: float):
    reports = []
    t = T0
    while t <= T0 + switch_s + 600.0:
        reports.append(RUS.report(t, **MIL))
        leg = first if t <= T0 + switch_s else second
        reports.append(leg.report(t, **MIL))
        t += 10.0
    engine = Engine(ProximitySettings(), [], wall_clock=lambda: 0.0)
    return engine.process(reports) + engine.finish()


def test_no_shadowing_for_civil_ships_same_side_convoys_or_diverging_courses():
    civil = _behind(RUS, "ais:211000003", "nato", 6_000.0, 7.0)
    convoy = _behind(RUS, "ais:273000004", "russia", 6_000.0, 7.0)
    # a ship of the other side 6 km abeam on a course 40 degrees off: never matching
    off = Mover("ais:211000005", "nato", "sea", *G_direct(LON0, LAT0, 0.0, 6_000.0), 130.0, 7.0, t0_s=T0)
    events = _run([(RUS, 10.0, MIL), (civil, 10.0, {"category": "civil"}), (convoy, 10.0, MIL),
                   (off, 10.0, MIL)], 2_400.0)
    assert not _of(events, "shadowing") and not _of(events, "intercept")


def G_direct(lon: float, lat: float, azi: float, d: float) -> tuple[float, float]:
    r = G.Direct(lat, lon, azi, d)
    return r["lon2"], r["lat2"]


BOMBER = Mover("icao:150001", "russia", "air", 16.0, 71.0, 250.0, 200.0, alt_m=9_000.0, t0_s=T0)
TU95 = {"category": "military", "type_code": "TU95"}
F16 = {"category": "military", "type_code": "F16"}


def test_a_fighter_joining_a_bomber_within_2_km_is_an_intercept():
    fighter = _behind(BOMBER, "icao:478001", "nato", 40_000.0, 260.0, alt_m=9_000.0)
    events = _run([(BOMBER, 1.0, TU95), (fighter, 1.0, F16)], 660.0)
    ic = _of(events, "intercept")
    # still closing at 60 m/s: closer than the band (1 km) by its margin, a revision
    assert [e.state for e in ic] == ["open", "update", "closed"]
    assert ic[1].metrics["band_high_m"] == 1_000.0 and ic[1].metrics["distance_m"] < 1_000.0 / 1.1
    op = ic[0]
    # 40 km closing at 60 m/s: within 2 km at T0 + 633.3 s, the tick after it
    assert T0 + 633.3 <= op.t_s <= T0 + 640.0
    assert [s.track_id for s in op.subjects] == ["icao:478001", "icao:150001"]  # the fighter first
    truth = separation_m(fighter, BOMBER, op.t_s)
    assert abs(op.metrics["distance_m"] - truth) <= 10.0 and op.metrics["join_distance_m"] == op.metrics["distance_m"]
    assert op.severity == "critical"  # warning, raised one level for a watched type (TU95)
    assert not _of(events, "shadowing")


def test_a_fighter_already_alongside_or_not_matching_is_no_intercept():
    alongside = _behind(BOMBER, "icao:478002", "nato", 1_500.0, 200.0, alt_m=9_000.0)
    crossing = Mover("icao:478003", "nato", "air", *G_direct(16.0, 71.0, 250.0, 60_000.0), 340.0, 260.0,
                     alt_m=9_000.0, t0_s=T0)
    events = _run([(BOMBER, 1.0, TU95), (alongside, 1.0, F16), (crossing, 1.0, F16)], 400.0)
    assert not _of(events, "intercept")


def test_the_instruments_do_not_depend_on_the_batching_and_survive_a_restore():
    """Shadowing, intercept and a bomber sortie with an escort in one stream: the same events, byte for
    byte, in one batch, in random cuts, and through an engine restored from its state half way."""
    import numpy as np
    from shapely.geometry import LineString

    nato = _behind(RUS, "ais:211000001", "nato", 6_000.0, 7.0)
    fighter = _behind(BOMBER, "icao:478001", "nato", 40_000.0, 260.0, alt_m=9_000.0)
    escort = Mover("icao:150009", "russia", "air", *G_direct(16.0, 71.0, 340.0, 4_000.0), 250.0, 200.0,
                   alt_m=9_000.0, t0_s=T0)
    reports = []
    for t in np.arange(0.0, 900.0, 1.0):
        reports += [BOMBER.report(T0 + t, **TU95), fighter.report(T0 + t, **F16),
                    escort.report(T0 + t, category="military", type_code="SU27")]
        if t % 10 == 0:
            reports += [RUS.report(T0 + t, **MIL), nato.report(T0 + t, **MIL)]
    settings = ProximitySettings(shadowing={"sea_min_s": 300.0})
    border = [LineString([(14.0, 69.0), (14.0, 73.0)])]

    def run(cuts, pickle_at=None):
        engine = Engine(settings, [], borders=border, wall_clock=_zero)
        out, i = [], 0
        for c in cuts:
            out += engine.process(reports[i : i + c])
            i += c
            if pickle_at is not None and i >= pickle_at:
                engine, pickle_at = Engine.from_state(settings, engine.state(), borders=border, wall_clock=_zero), None
        out += engine.finish()
        return [json.dumps(e.canonical(), sort_keys=True) for e in out]

    whole = run([len(reports)])
    kinds = {json.loads(e)["kind"] for e in whole}
    assert {"shadowing", "intercept", "bomber_sortie"} <= kinds
    rng = np.random.default_rng(3)
    cuts = []
    while sum(cuts) < len(reports):
        cuts.append(int(min(rng.integers(1, 400), len(reports) - sum(cuts))))
    assert run(cuts) == whole
    assert run([97] * (len(reports) // 97) + [len(reports) % 97], pickle_at=len(reports) // 2) == whole
