"""Kafka's own ConsoleConsumer (from the Maven artefacts) reads what closewatch produced, headers included."""

from __future__ import annotations

import subprocess

import pytest

from alerts.broker import console_consumer_command
from alerts.codec import cloudevents_headers, encode_event
from alerts.producer import KafkaSink
from config.settings import KafkaSettings

pytestmark = pytest.mark.kafka


def test_console_consumer_prints_the_same_events_with_headers(kafka_broker, topic_prefix, tmp_path, event_factory):
    settings = KafkaSettings(bootstrap_servers=kafka_broker.bootstrap_servers, events_topic=f"{topic_prefix}.events.v1")
    events = [event_factory(f"close_approach-{i:016x}", r, state="open" if r == 0 else "update",
                            summary=f"incident {i}: ships within 1 NM, revision {r}")
              for r in range(3) for i in range(4)]
    with KafkaSink(settings, spool_dir=tmp_path / "spool") as sink:
        sink.ensure_topics()
        sink.publish_events(events)
        sink.flush(30)
    cmd = console_consumer_command(kafka_broker.bootstrap_servers, settings.events_topic,
                                   max_messages=len(events), timeout_ms=20_000)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == len(events), out.stderr
    want = {encode_event(e).decode(): e for e in events}
    seen = set()
    for line in lines:
        headers_text, key, value = line.split("\t")
        ev = want[value]  # byte-identical value
        seen.add(value)
        assert key == ev.event_id
        expected = ",".join(f"{k}:{v.decode()}" for k, v in cloudevents_headers(ev))
        assert headers_text == expected
    assert seen == set(want)
