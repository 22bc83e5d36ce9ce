"""`closewatch demo --scenario incsea`: the INCSEA scenario through the whole pipeline (its AIS NMEA and
readsb aircraft.json feeds decoded as `closewatch run` decodes them, the default `military` profile),
against the incidents computed from the scenario's geometry alone (closewatch/scenario/expected_incsea.json)
and against GeographicLib (tests/geodesic_truth.py)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from geographiclib.geodesic import Geodesic

from closewatch.scenario import incsea
from geodesic_truth import Mover, closest_approach, separation_m

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = json.loads((ROOT / "closewatch/scenario/expected_incsea.json").read_text())
T0 = EXPECTED["t0_s"]
KINDS = set(EXPECTED["kinds"])
AIS_S = EXPECTED["report_interval_s"]["ais"]
ADSB_S = EXPECTED["report_interval_s"]["aircraft_json"]
G = Geodesic.WGS84
BY_ID = {t.track_id: t for t in incsea.TRACKS}


def _close(value: float, truth: float) -> bool:
    return abs(value - truth) <= max(10.0, 0.01 * abs(truth))


def _mover(track_id: str, leg: int, t0_after: float | None = None) -> Mover:
    """The scenario track's leg ``leg`` as a GeographicLib mover (from its waypoint, on its geodesic)."""
    t = BY_ID[track_id]
    a, b = t.waypoints[leg], t.waypoints[leg + 1]
    inv = G.Inverse(a.lat_deg, a.lon_deg, b.lat_deg, b.lon_deg)
    domain = "air" if a.alt_m is not None else "sea"
    return Mover(track_id, t.side, domain, a.lon_deg, a.lat_deg, inv["azi1"], inv["s12"] / (b.t_s - a.t_s),
                 alt_m=a.alt_m, t0_s=T0 + a.t_s)


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> list[dict[str, Any]]:
    """The properties of every event revision of the demo, in order."""
    out = tmp_path_factory.mktemp("incsea")
    run = subprocess.run([sys.executable, "-m", "closewatch", "demo", "--scenario", "incsea", "--no-kafka",
                          "--out", str(out)], capture_output=True, text=True, timeout=900, cwd=out)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "incsea scenario written to" in run.stdout
    return [json.loads(line)["properties"] for line in (out / "events.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def incidents(events) -> dict[tuple[str, frozenset[str]], list[dict[str, Any]]]:
    by: dict[tuple[str, frozenset[str]], dict[str, list[dict[str, Any]]]] = {}
    for p in events:
        if p["kind"] in KINDS:
            key = (p["kind"], frozenset(s["track_id"] for s in p["subjects"][:1 if p["kind"] == "bomber_sortie" else 2]))
            by.setdefault(key, {}).setdefault(p["event_id"], []).append(p)
    # one incident per key
    assert all(len(ids) == 1 for ids in by.values()), {k: len(v) for k, v in by.items() if len(v) > 1}
    return {k: next(iter(v.values())) for k, v in by.items()}


def _expected(kind: str) -> list[dict[str, Any]]:
    return [i for i in EXPECTED["incidents"] if i["kind"] == kind]


def test_the_exact_incident_set_of_the_instruments_kinds(incidents):
    want = {(i["kind"], frozenset(i["subjects"])) for i in EXPECTED["incidents"]}
    assert set(incidents) == want
    # the negatives: convoys on parallel courses (the merchant ships are civil), the ferry turning
    # away from the destroyer, the Tu-160 far from any border
    mentioned = {tid for _, subjects in incidents for tid in subjects}
    assert not mentioned & {"ais:273440300", "ais:273440400", "ais:257040100", "ais:257040200",
                            "ais:257050900", "icao:151d60"}


def test_the_low_pass_over_the_destroyer(incidents):
    (exp,) = _expected("unsafe_air_intercept_of_ship")
    revs = incidents[("unsafe_air_intercept_of_ship", frozenset(exp["subjects"]))]
    op, last = revs[0], revs[-1]
    assert [s["track_id"] for s in op["subjects"]] == exp["subjects"]  # the aircraft first
    assert T0 + exp["entry_after_t0_s"] <= op["t_s"] <= T0 + exp["entry_after_t0_s"] + ADSB_S
    m = last["metrics"]
    # GeographicLib: the P-8's second leg (150 m, on its geodesic) against the destroyer
    p8, ship = _mover("icao:ae68a1", 0), _mover("ais:273310010", 0)
    t_min, horizontal = closest_approach(p8, ship, T0 + 560.0, T0 + 640.0)
    truth = math.hypot(horizontal, 150.0)
    assert _close(m["min_slant_range_m"], truth) and _close(m["min_slant_range_m"], exp["min_slant_range_m"])
    assert abs(m["min_t_s"] - t_min) <= 0.5
    assert abs(m["height_at_min_m"] - 150.0) <= 1.0  # the feed's altitude is whole feet
    assert min(m["pass_bearing_deg"], 360.0 - m["pass_bearing_deg"]) < 2.0  # head-on
    assert m["passes"] == exp["passes"] == 1 and m["attack_aspect"] == 1.0 and op["severity"] == "critical"
    assert last["state"] == "closed" and last["close_reason"] == "clear"
    assert abs(last["t_s"] - T0 - exp["clear_after_t0_s"]) <= ADSB_S + 5


def test_the_manoeuvre_across_the_frigates_bow(incidents):
    (exp,) = _expected("unsafe_manoeuvre_at_sea")
    revs = incidents[("unsafe_manoeuvre_at_sea", frozenset(exp["subjects"]))]
    op = revs[0]
    assert [s["track_id"] for s in op["subjects"]] == exp["subjects"]  # the AGI manoeuvred
    assert T0 + exp["open_after_t0_s"] <= op["t_s"] <= T0 + exp["open_after_t0_s"] + AIS_S
    m = op["metrics"]
    agi_after, agi_before, frigate = _mover("ais:273320020", 1), _mover("ais:273320020", 0), _mover("ais:257030500", 0)
    truth_after = closest_approach(agi_after, frigate, op["t_s"], op["t_s"] + 900.0, step_s=1.0)[1]
    assert _close(m["cpa_m"], truth_after) and _close(m["cpa_after_m"], exp["cpa_after_m"])
    truth_before = closest_approach(agi_before, frigate, m["cpa_before_t_s"], m["cpa_before_t_s"] + 900.0,
                                    step_s=5.0)[1]
    assert _close(m["cpa_before_m"], truth_before) and T0 + 900.0 <= m["cpa_before_t_s"] < T0 + 1200.0
    assert abs(m["turn_deg"] - exp["turn_deg"]) <= 1.0
    assert _close(m["distance_m"], separation_m(agi_after, frigate, op["t_s"]))
    last = revs[-1]
    assert last["close_reason"] == "passed" and last["metrics"]["gave_way"] == 0.0


def test_the_shadowing_of_the_frigate_hessen(incidents):
    (exp,) = _expected("shadowing")
    revs = incidents[("shadowing", frozenset(exp["subjects"]))]
    op, last = revs[0], revs[-1]
    assert [s["track_id"] for s in op["subjects"]] == ["ais:273330030", "ais:211050700"]  # astern: the shadower
    assert abs(op["t_s"] - T0 - exp["open_after_t0_s"]) <= AIS_S
    truth = separation_m(_mover("ais:273330030", 0), _mover("ais:211050700", 0), op["t_s"])
    assert _close(op["metrics"]["distance_m"], truth)
    assert last["close_reason"] == "parted" and abs(last["t_s"] - T0 - exp["parted_after_t0_s"]) <= AIS_S
    assert last["metrics"]["duration_s"] >= 2_400.0  # 40 minutes and more


def test_the_bomber_pair_escorted_and_intercepted(incidents):
    for exp in _expected("intercept"):
        revs = incidents[("intercept", frozenset(exp["subjects"]))]
        op = revs[0]
        fighter = next(t for t in exp["subjects"] if t.startswith("icao:4781"))
        assert op["subjects"][0]["track_id"] == fighter  # the fighter first
        assert abs(op["t_s"] - T0 - exp["open_after_t0_s"]) <= ADSB_S
        assert op["metrics"]["join_distance_m"] <= 2_000.0
    for exp in _expected("bomber_sortie"):
        revs = incidents[("bomber_sortie", frozenset(exp["subjects"]))]
        assert revs[0]["t_s"] - T0 <= exp["open_after_t0_s"] + ADSB_S
        seen_escorts = {s["track_id"] for r in revs for s in r["subjects"][1:] if s["side"] == "russia"}
        seen_interceptors = {s["track_id"] for r in revs for s in r["subjects"][1:] if s["side"] == "nato"}
        assert seen_escorts == set(exp["escorts"]) and seen_interceptors == set(exp["interceptors"])
        for state, closest in exp["closest_territorial_m"].items():
            assert _close(revs[-1]["metrics"][f"closest_territorial_{state}_m"], closest)
        assert revs[-1]["close_reason"] == "end_of_input"


# -- notified or not ----------------------------------------------------------------------------


def test_exercises_near_the_borders_say_whether_they_were_notified(events):
    notices = EXPECTED["notices"]
    revs: dict[str, list[dict[str, Any]]] = {}
    for p in events:
        if p["kind"] == "exercise_near_border":
            revs.setdefault(p["zone_id"], []).append(p)
    assert set(revs) == {e["zone_id"] for e in notices["exercise_near_border"]}
    for exp in notices["exercise_near_border"]:
        first = revs[exp["zone_id"]][0]
        assert first["state"] == "open" and first["t_s"] == T0 + incsea.EXERCISE_WINDOW_S[0]
        assert _close(first["metrics"]["distance_to_border_m"], exp["distance_to_border_m"])
        # every revision carries the same notification
        assert all(r["notification"] == first["notification"] for r in revs[exp["zone_id"]])
        note = first["notification"]
        assert note["status"] == exp["status"] and note["issuer"] == "RU"
    notified = revs["exercise:northern-fleet-coastal-1"][0]["notification"]
    # the negative: notified 60 days ahead, above the Vienna Document threshold, not flagged
    assert notified == {"status": "notified", "notice_id": "exercise:northern-fleet-coastal-1", "issuer": "RU",
                        "issued_s": T0 - 60 * 86_400, "lead_s": 60 * 86_400 + incsea.EXERCISE_WINDOW_S[0],
                        "notifiable": True, "observable": False}
    seen = revs["exercise:alakurtti-activity"][0]["notification"]
    assert "notice_id" not in seen and seen["activity_id"] == "exercise:alakurtti-activity"
    assert seen["notifiable"] and revs["exercise:alakurtti-activity"][0]["severity"] == "critical"


def test_the_announced_observation_flight_is_notified_wherever_it_raises_an_event(events):
    flight = EXPECTED["notices"]["flight"]
    assert flight["farthest_from_route_m"] < flight["corridor_m"]  # it keeps to its corridor
    about = [p for p in events if any(s["track_id"] == flight["track_id"] for s in p["subjects"])]
    entered = {p["zone_id"] for p in about if p["kind"] == "zone_entry"}
    assert entered == set(flight["zones_entered"])
    for p in about:
        note = p["notification"]
        assert (note["status"], note["notice_id"], note["track_id"]) == ("notified", flight["notice_id"],
                                                                         flight["track_id"]), p["kind"]
    # no event about any other track claims the flight's notice
    others = [p for p in events if p not in about and p.get("notification")]
    assert all(p["notification"].get("notice_id") != flight["notice_id"] for p in others)
