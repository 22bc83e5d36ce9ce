"""Against the real local broker: topics, producer, consumer helper, `closewatch tail`, `closewatch kafka`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alerts.codec import encode_event, encode_track, track_headers
from alerts.consumer import EventFilter, subscribe
from alerts.producer import KafkaSink
from config.settings import KafkaSettings

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2]


def _settings(broker, prefix: str, **kw) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=broker.bootstrap_servers,
        events_topic=f"{prefix}.events.v1",
        tracks_topic=f"{prefix}.tracks.v1",
        deadletter_topic=f"{prefix}.deadletter.v1",
        **kw,
    )


def _read_all(settings_or_servers, topic: str, timeout_s: float = 2.0) -> list:
    from kafka import KafkaConsumer

    servers = settings_or_servers.bootstrap_servers
    consumer = KafkaConsumer(topic, bootstrap_servers=servers, group_id=None, auto_offset_reset="earliest",
                             consumer_timeout_ms=int(timeout_s * 1000))
    try:
        return list(consumer)
    finally:
        consumer.close()


def _incidents(event_factory, n_incidents: int = 4, revisions: int = 5) -> list:
    events = []
    for r in range(revisions):
        for i in range(n_incidents):
            events.append(event_factory(f"close_approach-{i:016x}", r, state="open" if r == 0 else "update",
                                        severity=("info", "warning", "critical")[i % 3]))
    return events


def test_ensure_topics_creates_partitions_and_retention(kafka_broker, topic_prefix, tmp_path):
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource

    settings = _settings(kafka_broker, topic_prefix, partitions=3, retention_ms=3_600_000)
    sink = KafkaSink(settings, spool_dir=tmp_path / "spool")
    assert sorted(sink.ensure_topics()) == sorted(
        [settings.events_topic, settings.tracks_topic, settings.deadletter_topic, f"{topic_prefix}.events.v1.context"]
    )
    assert sink.ensure_topics() == []  # idempotent
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap_servers)
    try:
        (described,) = admin.describe_topics([settings.events_topic])
        assert len(described["partitions"]) == 3, described
        configs = admin.describe_configs([ConfigResource("TOPIC", settings.events_topic)])
        (topic_configs,) = [v for by_name in configs.values() for v in by_name.values()]
        retention = topic_configs["retention.ms"]
        assert (retention["value"] if isinstance(retention, dict) else retention) == "3600000"
    finally:
        admin.close()


def test_events_round_trip_with_key_headers_schema_and_order(kafka_broker, topic_prefix, tmp_path, event_factory, validators):
    settings = _settings(kafka_broker, topic_prefix)
    events = _incidents(event_factory)
    with KafkaSink(settings, spool_dir=tmp_path / "spool") as sink:
        sink.ensure_topics()
        assert sink.publish_events(events) == len(events)
        sink.flush(30)
        assert sink.acked_through == sink.last_ordinal == len(events) - 1
        assert sink.stats()["inflight"] == 0 and sink.stats()["spooled"] == 0
    received = list(subscribe(settings, from_beginning=True, timeout_s=2))
    assert len(received) == len(events)
    assert {r.feature["properties"]["event_id"] for r in received} == {e.event_id for e in events}
    by_value = {encode_event(e): e for e in events}
    partitions: dict[str, set[int]] = {}
    seqs: dict[str, list[int]] = {}
    for r in received:
        validators["event"].validate(r.feature)
        ev = by_value[encode_event_from(r)]
        assert r.key == ev.event_id.encode()
        assert r.headers["ce_specversion"] == b"1.0"
        assert r.headers["ce_id"] == f"{ev.event_id}:{ev.seq}".encode()
        assert r.headers["ce_type"] == b"org.closewatch.event.close_approach.v1"
        assert r.headers["content-type"] == b"application/geo+json"
        assert {"ce_source", "ce_time"} <= set(r.headers)
        partitions.setdefault(r.event_id, set()).add(r.partition)
        seqs.setdefault(r.event_id, []).append(r.seq)
    # every revision of one incident in one partition, in order
    assert all(len(p) == 1 for p in partitions.values())
    assert all(s == sorted(s) == list(range(5)) for s in seqs.values())


def encode_event_from(r) -> bytes:
    return json.dumps(r.feature, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_tracks_and_dead_letters_validate(kafka_broker, topic_prefix, tmp_path, track_factory, deadletter_factory, validators):
    settings = _settings(kafka_broker, topic_prefix)
    tracks = [track_factory(i) for i in range(20)]
    letters = [deadletter_factory(i, raw=bytes([0xFF, i]) + b"junk") for i in range(3)]
    heard: list[int] = []
    with KafkaSink(settings, spool_dir=tmp_path / "spool", ack_listener=heard.append) as sink:
        sink.ensure_topics()
        sink.publish_tracks(tracks[:12])  # a batch of tracks is one entry in flight, acknowledged as one
        sink.publish_deadletters(letters)
        sink.publish_tracks(tracks[12:])
        sink.flush(30)
        assert sink.acked_through == sink.last_ordinal == 22
        assert sink.stats()["acked"] == 23 and sink.stats()["inflight"] == 0
    assert sorted(heard) == list(range(23))
    got_tracks = _read_all(settings, settings.tracks_topic)
    assert sorted(m.value for m in got_tracks) == sorted(encode_track(t) for t in tracks)
    for m in got_tracks:
        validators["track"].validate(json.loads(m.value))
        assert m.key == json.loads(m.value)["track_id"].encode()
        assert dict(m.headers) == dict(track_headers(next(t for t in tracks if encode_track(t) == m.value)))
    got_letters = _read_all(settings, settings.deadletter_topic)
    assert len(got_letters) == 3
    for m in got_letters:
        validators["deadletter"].validate(json.loads(m.value))
        assert m.key == b"ais-dma"


def _cli(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "closewatch", *args], cwd=cwd or REPO, capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.mark.slow
def test_tail_prints_filtered_events_for_people_and_scripts(kafka_broker, topic_prefix, event_factory,
                                                            subject_factory, tmp_path):
    settings = _settings(kafka_broker, topic_prefix)
    events = _incidents(event_factory, n_incidents=3, revisions=2)
    bering = event_factory("zone_entry-00000000000000bb", 0, kind="zone_entry", severity="critical",
                           subjects=(subject_factory("icao:155f00", "russia", -179.5, 65.5, domain="air"),),
                           metrics={"distance_m": 5000.0}, t_s=1_800_000_000.0)
    with KafkaSink(settings, spool_dir=tmp_path / "spool") as sink:
        sink.ensure_topics()
        sink.publish_events([*events, bering])
    base = ["tail", "--bootstrap", kafka_broker.bootstrap_servers, "--topic", settings.events_topic,
            "--from-beginning", "--timeout-s", "2"]

    out = _cli(*base)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == len(events) + 1
    assert all(" close_approach " in ln or " zone_entry " in ln for ln in lines)

    out = _cli(*base, "--json", "--severity", "critical")
    assert out.returncode == 0, out.stderr
    got = [json.loads(ln) for ln in out.stdout.splitlines()]
    assert {g["properties"]["severity"] for g in got} == {"critical"}
    assert len(got) == 1 + sum(1 for e in events if e.severity == "critical")

    out = _cli(*base, "--json", "--bbox", "179,65,-179,66")
    assert [json.loads(ln)["id"] for ln in out.stdout.splitlines()] == [bering.event_id]

    out = _cli(*base, "--json", "--kind", "close_approach", "--side", "nato", "--max", "2")
    got = [json.loads(ln) for ln in out.stdout.splitlines()]
    assert len(got) == 2 and all(g["properties"]["kind"] == "close_approach" for g in got)

    out = _cli(*base, "--json", "--since", "2027-01-01T00:00:00Z")
    assert [json.loads(ln)["id"] for ln in out.stdout.splitlines()] == [bering.event_id]

    out = _cli(*base, "--bbox", "1,2,3")
    assert out.returncode == 2 and "bbox" in out.stderr


def test_subscribe_filter_and_group(kafka_broker, topic_prefix, tmp_path, event_factory):
    settings = _settings(kafka_broker, topic_prefix)
    with KafkaSink(settings, spool_dir=tmp_path / "spool") as sink:
        # no ensure_topics(): the sink creates the topics at its first connection
        sink.publish_events(_incidents(event_factory, n_incidents=3, revisions=1))
        sink.flush(30)
    flt = EventFilter(severities=frozenset({"info"}))
    got = list(subscribe(kafka_broker.bootstrap_servers, settings.events_topic, from_beginning=True, timeout_s=2,
                         event_filter=flt, group_id=f"{topic_prefix}-g"))
    assert [g.properties["severity"] for g in got] == ["info"]
    # the group committed its offsets: nothing new the second time
    again = list(subscribe(kafka_broker.bootstrap_servers, settings.events_topic, from_beginning=True,
                           timeout_s=2, group_id=f"{topic_prefix}-g"))
    assert again == []


def test_tail_without_broker_is_exit_3(tmp_path):
    out = _cli("tail", cwd=tmp_path)
    assert out.returncode == 3 and "closewatch kafka up" in out.stderr


@pytest.mark.slow
def test_kafka_up_status_down(tmp_path):
    out = _cli("kafka", "up", cwd=tmp_path, timeout=200)
    try:
        assert out.returncode == 0, out.stderr
        bootstrap = out.stdout.strip()
        assert bootstrap.startswith("127.0.0.1:")
        status = _cli("kafka", "status", cwd=tmp_path)
        assert status.returncode == 0 and status.stdout.startswith(bootstrap)
        state = json.loads((tmp_path / ".closewatch/kafka/state.json").read_text())
        assert state["port"] == int(bootstrap.split(":")[1])
        # `up` created the default topics; tail finds the broker by itself
        from alerts.broker import running_broker_bootstrap

        assert running_broker_bootstrap(tmp_path / ".closewatch/kafka") == bootstrap
        tail = _cli("tail", "--from-beginning", "--timeout-s", "2", cwd=tmp_path)
        assert tail.returncode == 0, tail.stderr
        assert _cli("kafka", "up", cwd=tmp_path).stdout.strip() == bootstrap  # already running
    finally:
        down = _cli("kafka", "down", cwd=tmp_path)
    assert down.returncode == 0 and "stopped" in down.stdout
    status = _cli("kafka", "status", cwd=tmp_path)
    assert status.returncode == 1 and "not running" in status.stdout
