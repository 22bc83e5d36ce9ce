"""End to end: the demo scenario through the pipeline, to Kafka and to JSON Lines.

The expected incidents come from ``closewatch/scenario/expected.json``, computed
from the scenario geometry alone (not from the engine).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from kafka import KafkaConsumer

from alerts.codec import load_schema
from closewatch.cmd_run import build_sinks
from closewatch.pipeline import Pipeline
from closewatch.scenario.baltic import write_scenario
from config.settings import KafkaSettings, load_settings

EXPECTED = json.loads((Path(__file__).resolve().parents[2] / "closewatch/scenario/expected.json").read_text())
T0_S = EXPECTED["t0_s"]


def _incidents(features: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Revisions grouped by event_id, in seq order (checking seq rises by one)."""
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in features:
        by_id[f["properties"]["event_id"]].append(f["properties"])
    for revisions in by_id.values():
        revisions.sort(key=lambda p: p["seq"])
        assert [p["seq"] for p in revisions] == list(range(revisions[0]["seq"], revisions[0]["seq"] + len(revisions)))
    return by_id


def _check_against_expected(features: list[dict[str, Any]]) -> None:
    by_id = _incidents(features)
    interval = {"air": EXPECTED["report_interval_s"]["sbs1"], "sea": EXPECTED["report_interval_s"]["ais"]}
    interval["land"] = max(interval.values())  # zone-level events follow the slowest feed's reports
    predict_s = EXPECTED["predict_interval_s"]

    def key(kind: str, subjects: list[str], zone_id: str | None) -> tuple[str, tuple[str, ...], str | None]:
        return kind, tuple(sorted(subjects)), zone_id

    found = {key(r[0]["kind"], [s["track_id"] for s in r[0]["subjects"]], r[0]["zone_id"]): r for r in by_id.values()}
    expected = {key(i["kind"], i["subjects"], i.get("zone_id")): i for i in EXPECTED["incidents"]}
    assert set(found) == set(expected), f"incidents differ: got {sorted(found)}, expected {sorted(expected)}"
    assert len(by_id) == len(expected), "one incident must be one event_id"
    for k, inc in expected.items():
        revisions = found[k]
        opened, last = revisions[0], revisions[-1]
        domain = opened["subjects"][0]["domain"] if opened["subjects"] else "land"
        assert opened["state"] == "open"
        assert last["state"] == "closed", f"{k} never closed"
        assert all(r["state"] == "update" for r in revisions[1:-1])
        opened_after_t0_s = opened["t_s"] - T0_S
        if inc["kind"].startswith("predicted_"):
            # A track is predicted once every predict_interval_s of data time, from its first
            # report on; its slice runs at the first report after it, and a run over several
            # slices is stamped at the last: up to one report interval later.
            assert abs(opened_after_t0_s - inc["open_after_t0_s"]) <= predict_s + interval[domain], (
                k, opened_after_t0_s)
        else:
            assert abs(opened_after_t0_s - inc["open_after_t0_s"]) <= interval[domain], (k, opened_after_t0_s)
        if inc["kind"] == "close_approach":
            assert last["t_s"] >= T0_S + inc["separated_after_t0_s"] - interval[domain]
            closest = min(r["metrics"]["min_distance_m"] for r in revisions)
            assert closest == pytest.approx(inc["min_distance_m"], rel=0.01)
        elif inc["kind"] == "zone_entry":
            assert last["t_s"] >= T0_S + inc["outside_again_after_t0_s"] - interval[domain]
            assert last["close_reason"] == "exit"
        elif inc["kind"] == "predicted_close_approach":
            # A prediction is an estimate: the engine (on the ellipsoid) and the scenario's
            # flat-plane check agree within 5 %.
            assert opened["metrics"]["cpa_m"] == pytest.approx(inc["cpa_m"], rel=0.05)
            assert last["close_reason"] == "occurred"
        elif inc["kind"] == "exercise_near_border":
            assert last["close_reason"] == "zone_inactive"
            assert last["t_s"] == pytest.approx(T0_S + inc["closed_after_t0_s"], abs=interval["land"])
            assert opened["metrics"]["distance_to_border_m"] == pytest.approx(inc["distance_to_border_m"], rel=0.01)
        elif inc["kind"] == "shadowing":
            assert last["close_reason"] == "parted"
            assert abs(last["t_s"] - T0_S - inc["parted_after_t0_s"]) <= interval[domain]
            assert [s["track_id"] for s in opened["subjects"]][0] == "icao:3f6b21"  # the Eurofighter shadows
        elif inc["kind"] == "predicted_zone_entry":
            predicted_entry = opened["metrics"]["entry_t_s"] - T0_S
            assert abs(predicted_entry - inc["predicted_entry_after_t0_s"]) <= predict_s, (k, predicted_entry)


def _dead_letter_feeds(lines: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for d in lines:
        counts[d["feed"]] += 1
    return dict(counts)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> dict[str, Path]:
    return write_scenario(tmp_path_factory.mktemp("demo"))


def _canonical_values(features: list[dict[str, Any]]) -> list[str]:
    out = []
    for f in features:
        props = dict(f["properties"])
        props.pop("detected_s", None)
        props.pop("detected_at", None)
        out.append(json.dumps({**f, "properties": props}, sort_keys=True))
    return out


def test_scenario_without_kafka_writes_expected_events_to_json_lines(scenario):
    """The embedded default: no Kafka configured, events to the JSON Lines file (via the CLI)."""
    settings = load_settings(scenario["config"])
    assert settings.kafka is None
    proc = subprocess.run(
        [sys.executable, "-m", "closewatch", "run", "-c", str(scenario["config"])],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in Path(settings.sinks.events_jsonl).read_text().splitlines()]
    schema = load_schema("event.v1.json")
    for e in events:
        jsonschema.validate(e, schema)
    _check_against_expected(events)
    letters = [json.loads(line) for line in Path(settings.sinks.deadletter_jsonl).read_text().splitlines()]
    assert _dead_letter_feeds(letters) == EXPECTED["dead_letters"]
    assert all(d["reason"] for d in letters)
    assert "dead letters: 3" in proc.stdout


@pytest.mark.kafka
@pytest.mark.slow
def test_scenario_through_real_kafka_gives_expected_events(scenario, kafka_broker, tmp_path):
    settings = load_settings(scenario["config"])
    topic_suffix = tmp_path.name.replace("_", "-")
    kafka = KafkaSettings(
        bootstrap_servers=kafka_broker.bootstrap_servers,
        events_topic=f"e2e.events.{topic_suffix}",
        tracks_topic=f"e2e.tracks.{topic_suffix}",
        deadletter_topic=f"e2e.deadletter.{topic_suffix}",
        spool_dir=str(tmp_path / "spool"),
    )
    settings = settings.model_copy(update={"kafka": kafka})
    from contextlib import ExitStack

    with ExitStack() as stack:
        sinks = build_sinks(settings, stack)
        summary = Pipeline(settings, sinks).run()
    assert summary.events > 0

    def read_all(topic: str) -> list[Any]:
        consumer = KafkaConsumer(
            topic,
            bootstrap_servers=kafka.bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            consumer_timeout_ms=5000,
        )
        try:
            return list(consumer)
        finally:
            consumer.close()

    records = read_all(kafka.events_topic)
    assert len(records) == summary.events
    features = [json.loads(r.value) for r in records]
    schema = load_schema("event.v1.json")
    for r, f in zip(records, features):
        jsonschema.validate(f, schema)
        assert r.key.decode() == f["properties"]["event_id"]
        headers = dict(r.headers)
        assert headers["ce_id"].decode() == f"{f['properties']['event_id']}:{f['properties']['seq']}"
        assert headers["ce_specversion"] == b"1.0"
    _check_against_expected(features)

    # The same events, byte for byte but for the detection time, as the JSON Lines run.
    jsonl_path = tmp_path / "events.jsonl"
    jsonl_settings = settings.model_copy(
        update={"kafka": None, "sinks": settings.sinks.model_copy(update={"events_jsonl": str(jsonl_path), "deadletter_jsonl": str(tmp_path / "dl.jsonl"), "tracks_jsonl": None})}
    )
    with ExitStack() as stack:
        Pipeline(jsonl_settings, build_sinks(jsonl_settings, stack)).run()
    from_file = [json.loads(line) for line in jsonl_path.read_text().splitlines()]
    by_key = lambda f: (f["properties"]["event_id"], f["properties"]["seq"])  # noqa: E731
    assert _canonical_values(sorted(from_file, key=by_key)) == _canonical_values(sorted(features, key=by_key))

    tracks = read_all(kafka.tracks_topic)
    assert len(tracks) == summary.updates
    track_schema = load_schema("track.v1.json")
    for r in tracks:
        jsonschema.validate(json.loads(r.value), track_schema)
    letters = [json.loads(r.value) for r in read_all(kafka.deadletter_topic)]
    assert _dead_letter_feeds(letters) == EXPECTED["dead_letters"]
