"""``ais_gap``: a ship of interest silent on AIS near a zone while the ships around it are heard.

Scenarios whose answers follow from time and geometry: a Russian warship inside a zone stops
reporting at a known time while two merchant ships 5 and 8 km away keep reporting every 5 s; the
distances are WGS 84 geodesics (pyproj), the times multiples of the reporting periods.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from pyproj import Geod

from config.settings import ConfigError, ProximitySettings, parse_settings
from proximity.engine import Engine

GEOD = Geod(ellps="WGS84")
T0 = 1_700_000_000.0
LON0, LAT0 = 20.0, 57.0
KIND = "ais_gap"
SHIP = "ais:273000001"
LAST_S = 300.0  # the warship's last report before the gap (s after T0)


def _ship(upd, at, tid, t_from, t_to, start, every=10.0, offset=0.0, **kw):
    """Reports every ``every`` s from ``t_from`` to ``t_to`` (s after T0), slowly north from ``start``."""
    out = []
    t = t_from + offset
    while t <= t_to + 1e-9:
        lon, lat = at(*start, 0.0, 2.0 * (t - t_from))
        out.append(upd(tid, T0 + t, lon, lat, speed_mps=2.0, course_deg=0.0, **kw))
        t += every
    return out


def _scene(upd, at, *, category="military", back_s=2_000.0, end_s=2_500.0, ship_at=(LON0, LAT0),
           neighbours=True, neighbours_until=None, jump=(90.0, 6_000.0), **kw):
    """The warship reports until LAST_S, is silent, and reappears at ``back_s`` (None: never) at
    ``jump`` (bearing, metres) from its last position; two merchant ships report every 5 s (at 5k+1 s,
    so a tick runs at every multiple of 5 s) until ``neighbours_until``."""
    reports = _ship(upd, at, SHIP, 0.0, LAST_S, ship_at, category=category, **kw)
    last = reports[-1]
    if back_s is not None:
        lon, lat = at(last.lon_deg, last.lat_deg, *jump)
        reports += _ship(upd, at, SHIP, back_s, end_s, (lon, lat), category=category, **kw)
    until = end_s if neighbours_until is None else neighbours_until
    if neighbours:
        for k, (bearing, d) in enumerate([(45.0, 5_000.0), (200.0, 8_000.0)]):
            reports += _ship(upd, at, f"ais:23000000{k}", 0.0, until, at(*ship_at, bearing, d), every=5.0,
                             offset=1.0, category="civil", side="nato")
    else:  # someone far away keeps the data time going (a tick at every multiple of 5 s)
        reports += _ship(upd, at, "ais:230000009", 0.0, until, at(*ship_at, 0.0, 200_000.0), every=5.0,
                         offset=1.0, category="civil", side="nato")
    reports.sort(key=lambda u: (u.t_s, u.track_id))
    return reports, last


@pytest.fixture
def zone(circle_zone):
    return circle_zone("gulf", LON0, LAT0, 10_000.0, sides=("russia",), domains=("sea",))


def _run(reports, zones, settings=None, cuts=None):
    eng = Engine(settings or ProximitySettings(), zones, wall_clock=lambda: 0.0)
    events = []
    if cuts is None:
        cuts = [len(reports)]
    i = 0
    for c in cuts:
        events += eng.process(reports[i : i + c])
        i += c
    events += eng.finish()
    return events


def _gaps(events):
    return [e for e in events if e.kind == KIND]


def test_a_warship_dark_in_a_zone_while_others_are_heard_opens_then_closes_when_it_reappears(upd, at, zone):
    reports, last = _scene(upd, at)
    events = _gaps(_run(reports, [zone]))
    assert [e.state for e in events] == ["open", "update", "closed"]
    opened, update, closed = events
    # opens at the first tick at which the silence has lasted silence_s (600 s): ticks every 5 s
    assert 0.0 <= opened.t_s - (last.t_s + 600.0) < 5.0
    assert opened.t_s == T0 + LAST_S + 600.0
    assert opened.zone_id == "gulf"
    assert [s.track_id for s in opened.subjects] == [SHIP]
    m = opened.metrics
    assert m["last_lat_deg"] == pytest.approx(last.lat_deg, abs=1e-12)
    assert m["last_lon_deg"] == pytest.approx(last.lon_deg, abs=1e-12)
    assert m["silence_s"] == 600.0
    assert m["neighbours_heard"] == 2.0
    assert m["zone_distance_m"] == 0.0
    # an update when the silence doubles (1200 s); the track going stale (900 s) closes nothing
    assert update.t_s == T0 + LAST_S + 1_200.0 and update.metrics["silence_s"] == 1_200.0
    assert closed.close_reason == "reappeared"
    assert closed.t_s == T0 + 2_000.0
    back = next(u for u in reports if u.track_id == SHIP and u.t_s == T0 + 2_000.0)
    _, _, jump = GEOD.inv(last.lon_deg, last.lat_deg, back.lon_deg, back.lat_deg)
    assert jump == pytest.approx(6_000.0, abs=1e-3)
    cm = closed.metrics
    assert cm["silence_s"] == 1_700.0
    assert cm["reappeared_lat_deg"] == back.lat_deg and cm["reappeared_lon_deg"] == back.lon_deg
    assert cm["jump_m"] == pytest.approx(jump, abs=1e-6)
    assert cm["last_lat_deg"] == m["last_lat_deg"]
    assert closed.subjects[0].lat_deg == back.lat_deg  # the reappearing report
    assert "reporting again" in closed.summary


def test_a_warship_just_outside_a_zone_within_the_distance_opens_with_its_distance(upd, at, zone):
    # 15 km from the centre of a 10 km zone: 5 km from its edge, within zone_distance_m (20 km)
    reports, _ = _scene(upd, at, ship_at=at(LON0, LAT0, 270.0, 15_000.0), jump=(0.0, 0.0))
    events = _gaps(_run(reports, [zone]))
    assert [e.state for e in events] == ["open", "update", "closed"]
    # the last position is 600 m north of the start (2 m/s for 300 s): the zone edge is 5-5.1 km away
    assert 4_900.0 < events[0].metrics["zone_distance_m"] < 5_100.0
    assert events[-1].metrics["jump_m"] == pytest.approx(0.0, abs=1e-6)


def test_a_watched_type_of_unknown_category_is_a_ship_of_interest(upd, at, zone):
    s = ProximitySettings(watch_types=("KILO",))
    reports, _ = _scene(upd, at, category="unknown", type_code="kilo")
    assert [e.state for e in _gaps(_run(reports, [zone], s))] == ["open", "update", "closed"]


def test_a_civil_ship_going_dark_raises_nothing(upd, at, zone):
    reports, _ = _scene(upd, at, category="civil")
    assert _gaps(_run(reports, [zone])) == []


def test_a_warship_dark_when_nobody_around_is_heard_raises_nothing(upd, at, zone):
    # a receiver outage: the merchant ships fall silent with the warship
    reports, _ = _scene(upd, at, neighbours_until=LAST_S + 50.0)
    events = _run(reports, [zone])
    assert _gaps(events) == []
    # and with only someone 200 km away heard
    reports, _ = _scene(upd, at, neighbours=False)
    assert _gaps(_run(reports, [zone])) == []


def test_one_neighbour_heard_is_not_enough_by_default_but_is_when_set(upd, at, zone):
    reports, _ = _scene(upd, at)
    reports = [u for u in reports if u.track_id != "ais:230000001"]
    assert _gaps(_run(reports, [zone])) == []
    s = ProximitySettings.model_validate({"ais_gap": {"min_neighbours": 1}})
    events = _gaps(_run(reports, [zone], s))
    assert events[0].metrics["neighbours_heard"] == 1.0


def test_a_warship_far_from_any_zone_raises_nothing(upd, at, zone):
    reports, _ = _scene(upd, at, ship_at=at(LON0, LAT0, 90.0, 100_000.0))
    assert _gaps(_run(reports, [zone])) == []
    # nor with no zone at all
    reports, _ = _scene(upd, at)
    assert _gaps(_run(reports, [])) == []


def test_a_warship_never_heard_again_closes_forgotten(upd, at, zone):
    reports, last = _scene(upd, at, back_s=None, end_s=4_200.0)
    events = _run(reports, [zone])
    gaps = _gaps(events)
    assert [e.state for e in gaps] == ["open", "update", "update", "closed"]
    assert [e.metrics["silence_s"] for e in gaps[1:3]] == [1_200.0, 2_400.0]
    closed = gaps[-1]
    assert closed.close_reason == "forgotten"
    # the tick that forgets the track: the first past forget_after_s (3600 s) of silence
    assert 0.0 < closed.t_s - (last.t_s + 3_600.0) <= 5.0
    assert "jump_m" not in closed.metrics


def test_silence_s_must_be_below_the_time_a_silent_ship_is_forgotten():
    with pytest.raises(ConfigError, match=r"proximity.*ais_gap\.silence_s"):
        parse_settings({"proximity": {"ais_gap": {"silence_s": 4_000.0}}})
    with pytest.raises(ConfigError, match=r"proximity\.ais_gap\.min_neighbours"):
        parse_settings({"proximity": {"ais_gap": {"min_neighbours": -1}}})
    # above the stale time is fine: the family reads the last report of a stale track
    assert parse_settings({"proximity": {"ais_gap": {"silence_s": 1_800.0}}}).proximity.ais_gap.silence_s == 1_800.0
    # forgotten once stale and dead for forget_after_s: the larger of the two bounds the silence
    assert parse_settings({"proximity": {"forget_after_s": 600.0}}).proximity.ais_gap.silence_s == 600.0
    # a short memory chosen for other reasons with the default silence: accepted (ais_gap never opens)
    short = parse_settings({"proximity": {"forget_after_s": 60.0, "stale_after_s": {"sea": 120.0}}}).proximity
    assert short.ais_gap.silence_s == 600.0 and short.forget_after_s == 60.0
    with pytest.raises(ConfigError, match=r"ais_gap\.silence_s"):
        parse_settings({"proximity": {"forget_after_s": 600.0, "ais_gap": {"silence_s": 900.0}}})


def _canon(events):
    return [json.dumps(e.canonical(), sort_keys=True) for e in events]


@pytest.mark.parametrize("seed", [1, 2])
def test_the_same_events_however_the_reports_are_cut(upd, at, zone, seed):
    reports, _ = _scene(upd, at)
    whole = _canon(_run(reports, [zone]))
    assert any(KIND in e for e in whole)
    rng = np.random.default_rng(seed)
    cuts: list[int] = []
    while sum(cuts) < len(reports):
        cuts.append(int(min(rng.integers(1, 120), len(reports) - sum(cuts))))
    assert _canon(_run(reports, [zone], cuts=cuts)) == whole


@pytest.mark.parametrize("cut_s", [LAST_S + 400.0, LAST_S + 1_000.0])
def test_an_engine_restored_during_the_gap_goes_on_alike(upd, at, zone, cut_s):
    """Restored before the gap is found (400 s) and with it open and the track stale (1000 s)."""
    reports, _ = _scene(upd, at)
    whole = _canon(_run(reports, [zone]))
    k = sum(1 for u in reports if u.t_s <= T0 + cut_s)
    eng = Engine(ProximitySettings(), [zone], wall_clock=lambda: 0.0)
    events = eng.process(reports[:k])
    is_open = any(key[0] == KIND for key in eng._book.open)
    assert is_open == (cut_s > LAST_S + 600.0)
    state = eng.state()
    json.dumps(state.doc, allow_nan=False)
    eng = Engine.from_state(ProximitySettings(), state, wall_clock=lambda: 0.0)
    events += eng.process(reports[k:])
    events += eng.finish()
    assert _canon(events) == whole


def test_the_military_profile_raises_an_ais_gap(upd, at, zone):
    from closewatch.rules import load_profile
    from proximity.rules import Rules

    reports, _ = _scene(upd, at)
    eng = Engine(ProximitySettings(), [zone], rules=Rules(load_profile("military")), wall_clock=lambda: 0.0)
    events = _gaps(eng.process(reports) + eng.finish())
    assert [(e.state, e.rule, e.severity) for e in events] == [
        ("open", "military@3/ais-gap", "warning"), ("update", "military@3/ais-gap", "warning"),
        ("closed", "military@3/ais-gap", "warning")]
