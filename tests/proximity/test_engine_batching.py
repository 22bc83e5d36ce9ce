"""The same reports give the same events, byte for byte, however they are cut into batches."""

from __future__ import annotations

import json

import h3
import numpy as np
import pytest
from shapely.geometry import LineString

from config.records import position_quality
from config.settings import ProximitySettings
from proximity.engine import Engine
from proximity.events import EVENT_KINDS

T0 = 1_700_000_000.0
LON0, LAT0 = 22.0, 58.0


def _scenario(upd, at, seed: int = 7, n_tracks: int = 80, duration_s: float = 1_800.0):
    """Tracks crossing a 60 km box; feed delays reorder some reports; some tracks fall silent."""
    rng = np.random.default_rng(seed)
    reports = []
    for k in range(n_tracks):
        air = k % 3 == 0
        side = ("nato", "russia", "other")[k % 5 % 3]
        prefix = "icao" if air else "ais"
        tid = f"{prefix}:{k:06d}"
        loiter = k % 7 == 0  # slow, in zone "a", and falls silent early
        lon, lat = at(LON0, LAT0, rng.uniform(0, 360), rng.uniform(0, 5_000 if loiter else 30_000))
        course = rng.uniform(0, 360)
        speed = rng.uniform(150, 250) if air else rng.uniform(3, 12)
        if loiter:
            speed = 0.5 if not air else 20.0
        alt = float(rng.choice([3_000.0, 3_200.0, 9_000.0])) if air else None
        silent_from = rng.uniform(100, 600) if loiter else duration_s * rng.uniform(0.5, 1.5)
        t = rng.uniform(0, 10)
        while t < min(duration_s, silent_from):
            p = at(lon, lat, course, speed * t)
            delay = rng.exponential(2.0)
            reports.append((T0 + t + delay, upd(
                tid, T0 + round(t, 3), *p, side=side, domain="air" if air else "sea",
                alt_m=alt, speed_mps=speed, course_deg=course,
            )))
            t += rng.uniform(1, 12) if air else rng.uniform(2, 20)
    # four ships whose receivers get spoofed onto one point at t=900 s, and one stuck ship
    target = at(LON0, LAT0, 200.0, 25_000.0)
    for k in range(4):
        tid = f"ais:9{k:05d}"
        start = at(LON0, LAT0, 90.0 * k, 20_000.0)
        for j in range(60):
            pos = at(*start, 0.0, 6.0 * 20 * j) if j < 45 else target
            reports.append((T0 + 20 * j + k, upd(tid, T0 + 20 * j + k, *pos, side="russia", speed_mps=6.0, course_deg=0.0)))
    stuck = at(LON0, LAT0, 300.0, 10_000.0)
    for j in range(40):
        reports.append((T0 + 15 * j, upd("ais:800000", T0 + 15 * j, *stuck, side="nato", speed_mps=7.0, course_deg=90.0)))
    # eight aircraft loitering in one H3 cell 45 km away, their GNSS jammed: a gnss_interference
    # area; its tracks are suspect (gnss_interference)
    jammed = position_quality(adsb_version=2, nic=0, nac_p=0)
    c_lat, c_lon = h3.cell_to_latlng(h3.latlng_to_cell(*at(LON0, LAT0, 0.0, 45_000.0)[::-1], 4))
    for k in range(8):
        lon, lat = at(c_lon, c_lat, 45.0 * k, 2_000.0)
        for j in range(0, 1_800, 15):
            reports.append((T0 + j + k, upd(f"icao:7{k:05d}", T0 + j + k, lon, lat, side="other", domain="air",
                                            alt_m=9_000.0, quality=jammed)))
    reports.sort(key=lambda r: r[0])
    return [u for _, u in reports]


BORDER = LineString([(LON0 + 0.45, LAT0 - 0.5), (LON0 + 0.45, LAT0 + 0.5)])


def _zones(circle_zone):
    return [
        circle_zone("a", LON0, LAT0, 12_000.0, sides=("russia", "nato")),
        circle_zone("b", LON0 + 0.2, LAT0 + 0.1, 8_000.0, sides=("russia",), domains=("sea",)),
        circle_zone("ex", LON0 - 0.2, LAT0, 15_000.0, kind="exercise", sides=("nato", "russia"),
                    active_from_s=T0 + 200, active_until_s=T0 + 800),
    ]


def _run(settings, zones, reports, cuts):
    eng = Engine(settings, zones, borders=[BORDER])
    events = []
    i = 0
    for c in cuts:
        events += eng.process(reports[i : i + c])
        i += c
    assert i == len(reports)
    events += eng.finish()
    return [json.dumps(e.canonical(), sort_keys=True) for e in events], eng.stats


@pytest.fixture(scope="module")
def scenario(upd, at, circle_zone):
    return _scenario(upd, at), _zones(circle_zone)


def test_scenario_exercises_every_rule(scenario):
    reports, zones = scenario
    events, stats = _run(ProximitySettings(), zones, reports, [len(reports)])
    decoded = [json.loads(e) for e in events]
    kinds = {(e["kind"], e["state"], e["close_reason"]) for e in decoded}
    for expected in [
        ("zone_entry", "open", None),
        ("zone_entry", "closed", "exit"),
        ("zone_entry", "closed", "stale"),
        ("zone_entry", "closed", "zone_inactive"),
        ("close_approach", "open", None),
        ("close_approach", "closed", "separated"),
        ("predicted_zone_entry", "open", None),
        ("predicted_zone_entry", "closed", "entered"),
        ("predicted_close_approach", "open", None),
        ("track_integrity", "open", None),
        ("track_integrity", "update", None),
        ("exercise_near_border", "open", None),
        ("exercise_near_border", "closed", "zone_inactive"),
        ("gnss_interference", "open", None),
    ]:
        assert expected in kinds
    assert stats["out_of_order_dropped"] > 10
    assert stats["stale_expired"] > 5
    # one incident is one id: open first, seq rising by one, closed last
    by_id: dict[str, list[dict]] = {}
    for e in decoded:
        by_id.setdefault(e["event_id"], []).append(e)
    for revs in by_id.values():
        assert [r["seq"] for r in revs] == list(range(len(revs)))
        assert revs[0]["state"] == "open" and revs[-1]["state"] == "closed"
        assert all(r["state"] == "update" for r in revs[1:-1])
        assert [r["t_s"] for r in revs] == sorted(r["t_s"] for r in revs)


@pytest.mark.parametrize("how", [pytest.param("one_by_one", marks=pytest.mark.slow), "random", "fixed_97"])
def test_events_do_not_depend_on_the_batching(scenario, how):
    reports, zones = scenario
    whole, stats_whole = _run(ProximitySettings(), zones, reports, [len(reports)])
    n = len(reports)
    if how == "one_by_one":
        cuts = [1] * n
    elif how == "fixed_97":
        cuts = [97] * (n // 97) + [n % 97]
    else:
        rng = np.random.default_rng(3)
        cuts = []
        while sum(cuts) < n:
            cuts.append(int(min(rng.integers(0, 400), n - sum(cuts))))
    cut, stats_cut = _run(ProximitySettings(), zones, reports, cuts)
    assert cut == whole
    assert stats_cut == stats_whole


def test_a_replay_finds_the_same_event_ids(scenario):
    reports, zones = scenario
    first, _ = _run(ProximitySettings(), zones, reports, [len(reports)])
    half = len(reports) // 2
    again, _ = _run(ProximitySettings(), zones, reports, [half, len(reports) - half])
    assert {json.loads(e)["event_id"] for e in first} == {json.loads(e)["event_id"] for e in again}


@pytest.mark.parametrize("cut", [0.25, 0.5, 0.75])
def test_an_engine_restored_from_its_exported_state_goes_on_with_the_same_events(scenario, cut):
    """A checkpoint holds the engine's exported state (plain data, no pickle): restored, the
    engine goes on as if it had never stopped, whatever incidents were open at the cut."""
    reports, zones = scenario
    whole, stats_whole = _run(ProximitySettings(), zones, reports, [len(reports)])
    k = int(len(reports) * cut)
    eng = Engine(ProximitySettings(), zones, borders=[BORDER])
    events = eng.process(reports[:k])
    open_kinds = {key[0] for key in eng._book.open}
    state = eng.state()
    assert all(a.dtype.kind in "biuf" for a in state.arrays.values())
    json.dumps(state.doc, allow_nan=False)  # the document is strict JSON
    eng = Engine.from_state(ProximitySettings(), state, borders=[BORDER])
    events += eng.process(reports[k:])
    events += eng.finish()
    assert [json.dumps(e.canonical(), sort_keys=True) for e in events] == whole
    assert eng.stats == stats_whole
    if cut == 0.25:
        # an incident of every kind of this scenario was open at the cut (shadowing, intercept
        # and bomber_sortie need military types: their restore is tested in test_engine_shadowing.py;
        # the INCSEA kinds in test_engine_incsea.py; ais_gap needs warships: test_engine_ais_gap.py)
        assert open_kinds == set(EVENT_KINDS) - {"shadowing", "intercept", "bomber_sortie",
                                                 "unsafe_air_intercept_of_ship", "unsafe_manoeuvre_at_sea",
                                                 "ais_gap"}


def test_an_engine_rolled_back_to_a_snapshot_goes_on_as_before(scenario):
    """``snapshot``/``rollback``: the pipeline's way to take back a batch that made the engine raise."""
    reports, zones = scenario
    whole, _ = _run(ProximitySettings(), zones, reports, [len(reports)])
    k = len(reports) // 3
    eng = Engine(ProximitySettings(), zones, borders=[BORDER])
    events = eng.process(reports[:k])
    snap = eng.snapshot()
    eng.process(reports[k : 2 * k])  # processed, then taken back
    eng.rollback(snap)
    events += eng.process(reports[k:])
    events += eng.finish()
    assert [json.dumps(e.canonical(), sort_keys=True) for e in events] == whole


def test_reports_older_than_their_tracks_latest_are_refused_as_one_by_one():
    """TrackTable.in_order (vectorised) against the rule report by report: a report is kept when it is
    not older than its track's stored time nor than the latest report of the batch kept before it."""
    from proximity.tracks import TrackTable

    rng = np.random.default_rng(3)
    for _ in range(500):
        table = TrackTable(capacity=16)
        stored = rng.choice([1.0, 2.0, 3.0, 5.0, np.nan], size=12)  # NaN: a slot no report reached
        table.t_s[:12] = stored
        keys = rng.integers(-4, 12, size=int(rng.integers(1, 50))).astype(np.int64)  # negative: a new track
        t = rng.choice([0.5, 1.0, 2.0, 2.5, 3.0, 4.0, 6.0], size=keys.size)
        latest: dict[int, float] = {}
        expected = []
        for k, ti in zip(keys.tolist(), t.tolist()):
            before = latest.get(k, stored[k] if k >= 0 and not np.isnan(stored[k]) else -np.inf)
            expected.append(ti >= before)
            if ti >= before:
                latest[k] = ti
        assert table.in_order(keys, t).tolist() == expected
