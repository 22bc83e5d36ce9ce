"""A Kafka-fed pipeline killed with SIGKILL mid-stream and restarted loses nothing.

The input is the demo scenario's normalised tracks on a one-partition topic. A
clean run reads it whole; a second run (its own consumer group and output topic)
is killed with SIGKILL while the input is still being produced, then restarted
with the same configuration. The union of the second run's events must equal
the clean run's, and its duplicates must be identical revisions (same
event_id and seq, same content).

The test waits for conditions, not for time, so a loaded machine only makes it
slower: the second half of the input is produced only after the kill, and the
kill comes once events are on the topic and a checkpoint was written and its offsets committed.
"""

from __future__ import annotations

import heapq
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from alerts.codec import encode_track
from closewatch.scenario.baltic import write_scenario
from config.records import TrackUpdate
from config.settings import SidesSettings, load_settings
from ingest import open_feed
from kafka_fixtures import group_lag, read_topic

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _scenario_tracks(tmp_path: Path) -> list[bytes]:
    paths = write_scenario(tmp_path / "scenario")
    settings = load_settings(paths["config"])
    streams = [
        [i for i in open_feed(f, SidesSettings()) if isinstance(i, TrackUpdate)] for f in settings.feeds
    ]
    merged = heapq.merge(*streams, key=lambda u: u.t_s)
    return [encode_track(u) for u in merged]


def _config(path: Path, bootstrap: str, topic_in: str, group: str, events: str, state: Path) -> Path:
    path.write_text(
        f"""
[[feeds]]
name = "tracks"
format = "tracks-jsonl"
transport = "kafka"
topic = "{topic_in}"
group_id = "{group}"
start_from = "earliest"

[pipeline]
state_dir = "{state}"
checkpoint_interval_s = 0.2
max_batch_delay_s = 0.02

[zones]
territorial = false

[archive]
path = "{state}/archive"

[kafka]
bootstrap_servers = "{bootstrap}"
events_topic = "{events}"
tracks_topic = "{events}.tracks"
deadletter_topic = "{events}.dl"
partitions = 2
spool_dir = "{state}/spool"
"""
    )
    return path


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "closewatch", "run", "-c", str(config)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _events(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    out = []
    for value, _ in read_topic(bootstrap, topic):
        props = json.loads(value)["properties"]
        props.pop("detected_s")
        props.pop("detected_at")
        out.append(props)
    return out


def _run_until_caught_up(config: Path, log: Path, bootstrap: str, group: str, topic: str, end: int) -> None:
    proc = _start(config, log)
    try:
        deadline = time.monotonic() + 600  # a loaded machine is slow, not wrong
        while time.monotonic() < deadline:
            if group_lag(bootstrap, group, topic, end) == 0:
                break
            assert proc.poll() is None, log.read_text()
            time.sleep(0.3)
        else:
            pytest.fail(f"the pipeline did not catch up: {log.read_text()[-3000:]}")
    finally:
        proc.send_signal(signal.SIGTERM)
        returncode = proc.wait(60)
    assert returncode == 0, log.read_text()[-3000:]


def test_sigkill_mid_stream_then_restart_gives_the_clean_runs_events(kafka_broker, topic_prefix, tmp_path):
    bootstrap = kafka_broker.bootstrap_servers
    lines = _scenario_tracks(tmp_path)
    topic_in = f"{topic_prefix}.in"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic_in, 1, 1)])
    admin.close()
    # The input topic is there before the run starts: a group that joins while the broker's
    # metadata does not list it yet is assigned nothing until the next rebalance.
    probe = KafkaConsumer(bootstrap_servers=bootstrap)
    deadline = time.monotonic() + 60
    while not probe.partitions_for_topic(topic_in):
        assert time.monotonic() < deadline, f"topic {topic_in} never appeared in the metadata"
        time.sleep(0.2)
        probe.topics()  # a metadata request
    probe.close()

    # The crash run starts first, on an input still being produced (about 250 records/s).
    crash_cfg = _config(tmp_path / "crash.toml", bootstrap, topic_in, "crash", f"{topic_prefix}.crash", tmp_path / "state-crash")
    crash_log = tmp_path / "crash.log"
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    produced = threading.Event()
    killed = threading.Event()
    half = len(lines) // 2

    def produce() -> None:
        for i, line in enumerate(lines):
            if i == half:  # the rest only once the first run is dead: the kill is mid-stream
                producer.flush()
                killed.wait(600)
            producer.send(topic_in, line)
            if i % 25 == 24:
                producer.flush()
                time.sleep(0.1)
        producer.flush()
        produced.set()

    proc = _start(crash_cfg, crash_log)
    feeder = threading.Thread(target=produce, daemon=True)
    feeder.start()
    try:
        # Kill it hard once it has published events and committed a checkpoint.
        deadline = time.monotonic() + 600
        before_kill: list[dict[str, Any]] = []
        while not before_kill:
            assert time.monotonic() < deadline, f"no event before the kill: {crash_log.read_text()[-3000:]}"
            assert proc.poll() is None, crash_log.read_text()[-3000:]
            time.sleep(0.5)
            before_kill = _events(bootstrap, f"{topic_prefix}.crash")
        # offsets are committed only after a checkpoint: one was written, with input behind it
        while group_lag(bootstrap, "crash", topic_in, 0) >= 0 or not list(
            (tmp_path / "state-crash").glob("checkpoint-*.npz")
        ):
            assert time.monotonic() < deadline, f"no checkpoint committed: {crash_log.read_text()[-3000:]}"
            assert proc.poll() is None, crash_log.read_text()[-3000:]
            time.sleep(0.2)
        assert not produced.is_set(), "the input was produced before the kill: the kill was not mid-stream"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        killed.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    feeder.join(600)
    producer.close()
    assert produced.is_set()

    _run_until_caught_up(crash_cfg, crash_log, bootstrap, "crash", topic_in, len(lines))
    clean_cfg = _config(tmp_path / "clean.toml", bootstrap, topic_in, "clean", f"{topic_prefix}.clean", tmp_path / "state-clean")
    _run_until_caught_up(clean_cfg, tmp_path / "clean.log", bootstrap, "clean", topic_in, len(lines))

    clean = _events(bootstrap, f"{topic_prefix}.clean")
    crash = _events(bootstrap, f"{topic_prefix}.crash")
    assert clean, "the clean run produced no events"
    canon = lambda p: json.dumps(p, sort_keys=True)  # noqa: E731
    by_revision: dict[tuple[str, int], set[str]] = {}
    for p in crash:
        by_revision.setdefault((p["event_id"], p["seq"]), set()).add(canon(p))
    assert all(len(v) == 1 for v in by_revision.values()), "a duplicate differs from its original"
    assert {canon(p) for p in crash} == {canon(p) for p in clean}
    assert len(clean) == len({(p["event_id"], p["seq"]) for p in clean}), "the clean run repeated itself"
