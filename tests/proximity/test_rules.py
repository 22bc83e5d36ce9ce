"""Rule profiles: what is raised and how loud, what is not and why (proximity.rules)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from closewatch.rules import load_profile
from config.profiles import profile_names, read_profile
from config.settings import ConfigError, ProximitySettings, RuleSettings
from proximity.engine import Engine
from proximity.events import event_kinds
from proximity.rules import ALL_TRAFFIC, Party, ProfileError, RuleProfile, Rules

LON0, LAT0 = 20.0, 55.0
T0 = 1_700_000_000.0
KN = 1852.0 / 3600.0


@pytest.fixture(scope="module")
def military() -> Rules:
    return Rules(load_profile("military"))


def _run(rules, reports, zones=(), settings=None):
    eng = Engine(settings or ProximitySettings(), list(zones), rules=rules, wall_clock=lambda: 0.0)
    events = []
    for i in range(0, len(reports), 7):
        events += eng.process(reports[i : i + 7])
    return eng, events + eng.finish()


# -- the profiles as data -------------------------------------------------------------------


def test_the_committed_profiles_parse_and_all_traffic_is_the_engine_default():
    assert {"military", "all-traffic"} <= set(profile_names())
    for name in profile_names():
        p = load_profile(name)
        assert p.name == name and p.version >= 1 and p.rules
    assert load_profile("all-traffic") == ALL_TRAFFIC
    assert Rules().profile is ALL_TRAFFIC


@pytest.mark.parametrize(
    "doc, says",
    [
        ({"version": 1}, "name: missing"),
        ({"name": "x", "version": "1"}, "version"),
        ({"name": "x", "version": 1, "colour": 1}, "colour: unknown key"),
        ({"name": "x", "version": 1, "rules": [{"id": "a", "kinds": ["close_aproach"]}]}, "rules[0].kinds"),
        ({"name": "x", "version": 1, "rules": [{"id": "a", "severity": "loud"}]}, "rules[0].severity"),
        ({"name": "x", "version": 1, "rules": [{"id": "a", "any_category": ["navy"]}]}, "rules[0].any_category"),
        ({"name": "x", "version": 1, "rules": [{"id": "a"}, {"id": "a"}]}, "ids repeated: a"),
        ({"name": "x", "version": 1, "context": {"stationary_pairs": "yes"}}, "context.stationary_pairs"),
        ({"name": "x", "version": 1, "severity": {"suspect_max_severity": "low"}}, "suspect_max_severity"),
    ],
)
def test_a_bad_profile_names_the_key(doc, says):
    with pytest.raises(ProfileError, match=r"p\.toml: .*" ):
        RuleProfile.parse(doc, "p.toml", known_kinds=tuple(event_kinds()))
    with pytest.raises(ProfileError) as e:
        RuleProfile.parse(doc, "p.toml", known_kinds=tuple(event_kinds()))
    assert says in str(e.value)


def test_an_unknown_profile_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="rules.profile: rule profile 'navy' is not one of"):
        load_profile("navy")
    bad = tmp_path / "p.toml"
    bad.write_text('name = "p"\nversion = 1\n[[rules]]\nid = "a"\naction = "shout"\n')
    with pytest.raises(ConfigError, match=r"rules\.profile: .*p\.toml: rules\[0\]\.action"):
        load_profile(str(bad))
    data, source = read_profile("military")
    assert source.endswith("config/data/profiles/military.toml") and data["name"] == "military"


# -- verdicts and severities ----------------------------------------------------------------


MIL, CIV, STATE, UNK = (Party(category=c) for c in ("military", "civil", "state", "unknown"))


def test_military_profile_verdicts(military):
    j = military.judge
    assert j("close_approach", [CIV, CIV]) .reason == "suppressed_by_rule"
    assert j("close_approach", [UNK, CIV]).reason == "suppressed_by_rule"
    assert j("close_approach", [MIL, MIL]).rule.id == "close-military-pair"
    assert j("close_approach", [STATE, MIL]).rule.id == "close-military-pair"
    assert j("predicted_close_approach", [MIL, CIV]).rule.id == "close-military-civil"
    assert j("zone_entry", [CIV], "border_buffer").reason == "suppressed_by_rule"
    assert j("zone_entry", [MIL], "border_buffer").rule.id == "zone-military"
    assert j("zone_entry", [Party("civil", innocent_passage=True)], "territorial").raised is False
    assert j("zone_entry", [Party("civil", innocent_passage=False)], "territorial").rule.id == "territorial-not-innocent"
    assert j("zone_entry", [Party("civil", innocent_passage=False)], "site").raised is False
    assert j("track_integrity", [CIV]).raised and j("exercise_near_border", []).raised
    moored = Party("military", stationary=True)
    assert j("close_approach", [moored, moored]).reason == "stationary"
    assert j("close_approach", [moored, MIL]).raised
    port = Party("civil", in_port=True)
    assert j("zone_entry", [Party("civil", in_port=True, innocent_passage=False)], "territorial").reason == "in_port"
    assert j("close_approach", [port, port]).reason == "in_port"
    assert j("close_approach", [Party("military", in_port=True), port]).raised
    # all-traffic raises everything
    assert all(Rules().judge(k, [CIV, CIV], "territorial").raised for k in event_kinds())


def test_severity_from_the_combination(military):
    sev = military.severity
    pair, mixed = military.rule("close-military-pair"), military.rule("close-military-civil")
    assert sev("close_approach", "critical", pair, watched=False, suspect=False) == "critical"
    assert sev("close_approach", "critical", mixed, watched=False, suspect=False) == "warning"
    assert sev("close_approach", "warning", mixed, watched=False, suspect=False) == "warning"
    # a watched type raises one level, the rule's ceiling too
    assert sev("close_approach", "critical", mixed, watched=True, suspect=False) == "critical"
    # a suspect subject: at most info, whatever the rest says
    assert sev("close_approach", "critical", pair, watched=True, suspect=True) == "info"
    # except the integrity event itself
    assert sev("track_integrity", "critical", military.rule("integrity"), watched=False, suspect=True) == "critical"
    terr = military.rule("territorial-not-innocent")
    assert sev("zone_entry", "critical", terr, watched=False, suspect=False) == "warning"
    assert Rules().severity("close_approach", "critical", None, watched=False, suspect=True) == "critical"


# -- the context of reports -------------------------------------------------------------------


def test_report_context_stationary_by_status_slowness_and_ground(upd):
    rules = Rules(context=RuleSettings(moored_after_s=600.0))
    ups = [
        upd("ais:1", T0, LON0, LAT0, nav_status=5, speed_mps=0.0),  # moored
        upd("ais:2", T0, LON0, LAT0, nav_status=1),  # at anchor
        upd("ais:3", T0, LON0, LAT0, nav_status=0, speed_mps=0.1),  # slow: not yet
        upd("ais:3", T0 + 700, LON0, LAT0, nav_status=0, speed_mps=0.1),  # slow for 700 s
        upd("ais:4", T0, LON0, LAT0, speed_mps=5.0),
        upd("icao:1", T0, LON0, LAT0, domain="air", on_ground=True, speed_mps=8.0),
        upd("icao:2", T0, LON0, LAT0, domain="air", alt_m=30.0),  # low, no speed
        upd("icao:3", T0, LON0, LAT0, domain="air", alt_m=30.0, speed_mps=60.0),  # landing
    ]
    slots = np.array([0, 1, 2, 2, 3, 4, 5, 6])
    cols = dict(
        t_s=np.array([u.t_s for u in ups]),
        lon=np.array([u.lon_deg for u in ups]),
        lat=np.array([u.lat_deg for u in ups]),
        alt=np.array([u.alt_m if u.alt_m is not None else math.nan for u in ups]),
        spd=np.array([u.speed_mps if u.speed_mps is not None else math.nan for u in ups]),
        dom=np.array([0 if u.domain == "air" else 1 for u in ups], np.int8),
    )
    ctx = rules.report_context(slots, ups, cols["t_s"], cols["lon"], cols["lat"], cols["alt"], cols["spd"],
                               cols["dom"], np.full(8, math.nan))
    assert ctx.stationary.tolist() == [True, True, False, True, False, True, True, False]
    # cut in two batches: the slow run carries over
    first = rules.report_context(slots[2:3], ups[2:3], cols["t_s"][2:3], cols["lon"][2:3], cols["lat"][2:3],
                                 cols["alt"][2:3], cols["spd"][2:3], cols["dom"][2:3], np.full(1, math.nan))
    second = rules.report_context(slots[3:4], ups[3:4], cols["t_s"][3:4], cols["lon"][3:4], cols["lat"][3:4],
                                  cols["alt"][3:4], cols["spd"][3:4], cols["dom"][3:4], first.slow_since_s)
    assert first.slow_since_s[0] == T0 and second.stationary[0]


# -- the engine under a profile ------------------------------------------------------------------


def _two_ships(upd, at, *, cat_a, cat_b, gap_m, n=20, **kw):
    reports = []
    for k in range(n):
        t = T0 + 10.0 * k
        reports.append(upd("ais:219000001", t, LON0, LAT0, side="nato", category=cat_a, **kw))
        reports.append(upd("ais:273000001", t + 1, *at(LON0, LAT0, 0.0, gap_m), side="russia", category=cat_b, **kw))
    return reports


def test_moored_merchant_ships_of_both_sides_raise_nothing(military, upd, at):
    reports = _two_ships(upd, at, cat_a="civil", cat_b="civil", gap_m=110.0, nav_status=5, speed_mps=0.0)
    eng, events = _run(military, reports)
    assert events == []
    assert eng.suppressed == {("close_approach", "stationary"): 1}
    assert eng.stats["suppressed"] == 1 and eng.stats["suppressed.close_approach.stationary"] == 1
    # all-traffic: today's critical close approach
    _, events = _run(Rules(), reports)
    assert [e.severity for e in events if e.state == "open"] == ["critical"]
    assert events[0].rule == "all-traffic@1/everything" and events[0].subjects[0].stationary


def test_moving_civil_ships_are_suppressed_by_rule_and_counted(military, upd, at):
    reports = _two_ships(upd, at, cat_a="civil", cat_b="civil", gap_m=300.0, speed_mps=0.0)
    eng, events = _run(military, reports)
    assert events == [] and eng.suppressed == {("close_approach", "suppressed_by_rule"): 1}


def test_a_military_ship_near_a_civil_one_of_the_other_side(military, upd, at):
    reports = _two_ships(upd, at, cat_a="civil", cat_b="military", gap_m=300.0, speed_mps=0.0)
    eng, events = _run(military, reports)
    opened = [e for e in events if e.state == "open"]
    assert [(e.kind, e.severity, e.rule) for e in opened] == [
        ("close_approach", "warning", "military@3/close-military-civil")  # under half: capped at warning
    ]
    assert [s.category for s in opened[0].subjects] == ["civil", "military"]
    reports = _two_ships(upd, at, cat_a="military", cat_b="military", gap_m=300.0, speed_mps=0.0)
    _, events = _run(military, reports)
    assert [(e.severity, e.rule) for e in events if e.state == "open"] == [
        ("critical", "military@3/close-military-pair")
    ]


def test_a_suspect_subject_caps_the_event_at_info_with_its_reason(military, upd, at):
    reports = _two_ships(upd, at, cat_a="military", cat_b="military", gap_m=300.0, n=6, speed_mps=0.0)
    # the Russian ship jumps 50 km away and back: implausible, suspect
    far = at(LON0, LAT0, 90.0, 50_000.0)
    reports.append(upd("ais:273000001", T0 + 62, *far, side="russia", category="military", speed_mps=0.0))
    reports += [upd("ais:273000001", T0 + 64 + 10 * k, *at(LON0, LAT0, 0.0, 200.0), side="russia",
                    category="military", speed_mps=0.0) for k in range(3)]
    reports += [upd("ais:219000001", T0 + 65 + 10 * k, LON0, LAT0, side="nato", category="military",
                    speed_mps=0.0) for k in range(3)]
    reports.sort(key=lambda u: u.t_s)
    _, events = _run(military, reports)
    suspect = [e for e in events if e.kind == "close_approach" and e.integrity_suspect]
    assert suspect, [(e.kind, e.state, e.integrity_suspect) for e in events]
    assert all(e.severity == "info" for e in suspect)
    assert all(set(e.integrity_reasons) & {"jump", "two_places"} for e in suspect)
    clean = [e for e in events if e.kind == "close_approach" and not e.integrity_suspect]
    assert clean and clean[0].severity == "critical"


def test_explained_tracks_get_context_events(upd, at):
    rules = Rules(load_profile("military"), explain=frozenset({"ais:273000001"}))
    reports = _two_ships(upd, at, cat_a="civil", cat_b="civil", gap_m=300.0, speed_mps=0.0)
    eng, events = _run(rules, reports)
    assert events == []
    context = eng.take_context()
    assert [e.state for e in context] == ["open", "closed"]
    assert {e.suppressed for e in context} == {"suppressed_by_rule"} and context[0].kind == "close_approach"
    assert eng.take_context() == []


def test_an_aircraft_on_the_ground_is_not_stuck(upd):
    # a parked aircraft reporting a ground speed (a bad transponder) at one place for 10 minutes
    reports = [upd("icao:4b1a2c", T0 + 10 * k, LON0, LAT0, domain="air", side="nato", speed_mps=5.0,
                   on_ground=True) for k in range(60)]
    _, events = _run(Rules(), reports)
    assert events == []
    airborne = [u.__class__(**{**{f: getattr(u, f) for f in u.__dataclass_fields__}, "on_ground": None, "alt_m": 3000.0})
                for u in reports]
    _, events = _run(Rules(), airborne)
    assert [e.kind for e in events if e.state == "open"] == ["track_integrity"]


def test_territorial_entry_raised_when_passage_stops_being_innocent(military, upd, at, circle_zone):
    zone = circle_zone("terr", LON0, LAT0, 20_000.0, kind="territorial", sides=("russia",))
    # a Russian merchant ship crossing the zone at 6 m/s: innocent passage, nothing raised
    crossing = [upd("ais:273000009", T0 + 30 * k, *at(LON0, LAT0, 90.0, 25_000.0 - 180.0 * k), side="russia",
                    category="civil", speed_mps=6.0, course_deg=270.0) for k in range(280)]
    eng, events = _run(military, crossing, [zone])
    assert [e for e in events if e.kind == "zone_entry"] == []
    assert eng.suppressed[("zone_entry", "suppressed_by_rule")] == 1
    # the same ship stops inside the zone for 20 minutes: no longer innocent passage
    stop = [upd("ais:273000009", T0 + 30 * k, *at(LON0, LAT0, 90.0, 25_000.0 - 180.0 * min(k, 60)), side="russia",
                category="civil", speed_mps=6.0 if k < 60 else 0.0, course_deg=270.0) for k in range(120)]
    eng, events = _run(military, stop, [zone])
    entries = [e for e in events if e.kind == "zone_entry"]
    assert entries[0].state == "open" and entries[0].seq == 0 and entries[0].severity == "warning"
    assert entries[0].rule == "military@3/territorial-not-innocent"
    assert entries[0].metrics["passage_stopped"] == 1.0
    assert entries[0].t_s >= T0 + 30 * 60 + 900  # stopped for passage_stop_s
