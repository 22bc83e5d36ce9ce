"""A record too large never blocks the topic or the checkpoint (issue item 1).

A Kafka-fed run reads the demo scenario's tracks with two reports changed in the
middle: one whose callsign is 600 kB (an event names its track) and one whose
callsign is 1.2 MB (more than ``[kafka] max_message_bytes``). Both lines are longer
than the feed's ``max_line_bytes``, so the decoder refuses them before parsing
(``oversized input`` dead letters, stage ``decode``). The run catches up to the end
of its input (offsets committed past both, so its checkpoint advanced), and the
revisions are those of a clean replay of the input without the two reports.
(An event whose free texts are too long for the topic is cut and says so: that
path is tested in tests/alerts/test_codec.py; records cap callsigns long before.)
"""

from __future__ import annotations

import heapq
import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from alerts.codec import encode_track
from closewatch.scenario.baltic import write_scenario
from config.records import TrackUpdate
from config.settings import SidesSettings, load_settings
from ingest import open_feed
from kafka_fixtures import group_lag, read_topic
from run_configs import tracks_run_config

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

HUGE = 1_200_000  # bytes of callsign: more than [kafka] max_message_bytes (1,000,000)


def _scenario(tmp_path: Path) -> list[TrackUpdate]:
    paths = write_scenario(tmp_path / "scenario")
    settings = load_settings(paths["config"])
    streams = [[i for i in open_feed(f, SidesSettings()) if isinstance(i, TrackUpdate)] for f in settings.feeds]
    return list(heapq.merge(*streams, key=lambda u: u.t_s))


def _replay(tmp_path: Path, write_config: Any, run_cli: Any, updates: list[TrackUpdate]) -> list[dict[str, Any]]:
    """The events of a file replay of ``updates`` (JSON Lines sinks)."""
    feed = tmp_path / "clean.jsonl"
    feed.write_bytes(b"".join(encode_track(u) + b"\n" for u in updates))
    config = write_config(tracks_run_config(feed, events=tmp_path / "clean-events.jsonl",
                                            dead=tmp_path / "clean-dead.jsonl"), "replay.toml")
    result = run_cli("run", "-c", config, timeout_s=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line)["properties"] for line in (tmp_path / "clean-events.jsonl").read_bytes().splitlines()]


def test_a_kafka_fed_run_with_records_too_large_in_the_middle_delivers_the_rest_and_moves_on(
    kafka_broker, topic_prefix, tmp_path, write_config, start_cli, run_cli
):
    bootstrap = kafka_broker.bootstrap_servers
    updates = _scenario(tmp_path)
    clean = _replay(tmp_path, write_config, run_cli, updates)
    # the case: a 600 kB callsign on the report an event of the second half names
    named = next(
        (s["track_id"], s["report_t_s"]) for e in clean[len(clean) // 2 :] for s in e["subjects"] if s["callsign"]
    )
    k_named = next(i for i, u in enumerate(updates) if (u.track_id, u.t_s) == named)
    # and a report whose track value is larger than the largest record Kafka takes
    k_huge = len(updates) // 2
    lines = [encode_track(u) for u in updates]
    for k, size in ((k_named, 600_000), (k_huge, HUGE)):
        value = json.loads(lines[k])
        value["callsign"] = "Y" * size
        lines[k] = json.dumps(value).encode()
    (tmp_path / "without").mkdir()
    expected = _replay(tmp_path / "without", write_config, run_cli,
                       [u for k, u in enumerate(updates) if k not in (k_named, k_huge)])
    topic_in = f"{topic_prefix}.in"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic_in, 1, 1, topic_configs={"max.message.bytes": "4000000"})])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=4_000_000)
    for line in lines:
        producer.send(topic_in, line)
    producer.flush()
    producer.close()

    config = write_config(f"""
[[feeds]]
name = "tracks"
format = "tracks-jsonl"
transport = "kafka"
topic = "{topic_in}"
group_id = "g"
start_from = "earliest"

[pipeline]
state_dir = "{tmp_path / 'state'}"
checkpoint_interval_s = 0.2

[zones]
territorial = false

[kafka]
bootstrap_servers = "{bootstrap}"
events_topic = "{topic_prefix}.events"
tracks_topic = "{topic_prefix}.tracks"
deadletter_topic = "{topic_prefix}.dl"
spool_dir = "{tmp_path / 'spool'}"
""")
    proc = start_cli("run", "-c", config)
    deadline = time.monotonic() + 600
    while group_lag(bootstrap, "g", topic_in, len(lines)) != 0:  # offsets committed past both records
        assert proc.poll() is None, proc.communicate()[1].decode()[-3000:]
        assert time.monotonic() < deadline, "the run did not get past the large records"
        time.sleep(0.5)
    assert list((tmp_path / "state").glob("checkpoint-*.npz"))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()[-3000:]

    letters = [json.loads(v) for v, h in read_topic(bootstrap, f"{topic_prefix}.dl")
               if h.get("ce_type") == b"org.closewatch.deadletter.v1"]
    assert len(letters) == 2, letters
    assert all(d["stage"] == "decode" and d["reason"] == "oversized input" for d in letters), letters
    assert all(d["raw_bytes"] >= 65_536 and len(d["raw_text"]) <= 65_536 for d in letters)  # the line as far as read

    events: list[dict[str, Any]] = []
    for value, _ in read_topic(bootstrap, f"{topic_prefix}.events"):
        assert len(value) < 100_000
        events.append(json.loads(value)["properties"])
    # the same revisions as the replay without the two reports (a Kafka-fed run does not close
    # what is open at its end)
    assert {(e["event_id"], e["seq"]) for e in events} == {
        (e["event_id"], e["seq"]) for e in expected if e["close_reason"] != "end_of_input"
    }
