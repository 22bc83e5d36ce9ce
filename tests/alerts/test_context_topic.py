"""Context events (incidents the rule profile did not raise, for the tracks of ``--explain``) on
their own Kafka topic, against the real broker: through the spool like events, in their schema."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from kafka.admin import KafkaAdminClient
from kafka_fixtures import read_topic

from alerts.broker import find_free_port
from alerts.codec import context_headers, encode_event
from alerts.producer import KafkaSink, topic_specs
from config.settings import KafkaSettings

pytestmark = pytest.mark.kafka


def _settings(bootstrap: str, prefix: str, **kw) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=bootstrap, events_topic=f"{prefix}.events.v1",
                         tracks_topic=f"{prefix}.tracks.v1", deadletter_topic=f"{prefix}.deadletter.v1", **kw)


def test_the_context_topic_is_named_after_the_events_topic_or_configured():
    s = KafkaSettings(bootstrap_servers="127.0.0.1:9092")
    assert s.context_topic_name == "closewatch.events.v1.context"
    assert "closewatch.events.v1.context" in [t.name for t in topic_specs(s)]
    named = KafkaSettings(bootstrap_servers="127.0.0.1:9092", events_topic="ops.events", context_topic="ops.why")
    assert named.context_topic_name == "ops.why"


def test_context_events_wait_in_the_spool_then_reach_their_topic(kafka_broker, tmp_path, topic_prefix,
                                                                 event_factory, validators):
    reasons = ("in_port", "stationary", "suppressed_by_rule")
    context = [replace(event_factory(f"close_approach-{i:016x}", r, state="open" if r == 0 else "update"),
                       suppressed=reasons[i % 3]) for r in range(3) for i in range(4)]
    raised = [event_factory("zone_entry-00000000000000aa", 0, kind="zone_entry")]
    # the broker away: context events are spooled, in order with the events
    dead = _settings(f"127.0.0.1:{find_free_port()}", topic_prefix)
    sink = KafkaSink(dead, spool_dir=tmp_path / "spool", spool_after_s=1.0, connect_timeout_s=1.0)
    sink.publish_context(context[:6])
    sink.publish_events(raised)
    sink.publish_context(context[6:])
    sink.sync(5)
    assert sink.mode == "spooling" and sink.stats()["spool_pending"] == len(context) + 1
    sink.close(timeout_s=1.0)
    # closewatch restarted with the broker back: the spool drains to both topics
    live = _settings(kafka_broker.bootstrap_servers, topic_prefix)
    restarted = KafkaSink(live, spool_dir=tmp_path / "spool", spool_after_s=1.0)
    restarted.ensure_topics()  # (the sink's own connection may have created them first: it drains the spool)
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap_servers)
    try:
        assert f"{topic_prefix}.events.v1.context" in admin.list_topics()
    finally:
        admin.close()
    later = [replace(event_factory(f"close_approach-{0:016x}", 3, state="closed"), suppressed="in_port")]
    restarted.publish_context(later)  # after the spooled ones, in order
    restarted.flush(60)
    assert restarted.stats()["spool_pending"] == 0
    restarted.close()

    context += later
    got = read_topic(kafka_broker.bootstrap_servers, live.context_topic_name)
    assert sorted(v for v, _ in got) == sorted(encode_event(e) for e in context)
    by_value = {encode_event(e): e for e in context}
    for value, headers in got:
        validators["context"].validate(json.loads(value))
        assert headers == dict(context_headers(by_value[value]))
    per_incident: dict[str, list[int]] = {}
    for value, _ in got:
        p = json.loads(value)["properties"]
        per_incident.setdefault(p["event_id"], []).append(p["seq"])
    # key event_id: one partition, in seq order
    assert per_incident == {f"close_approach-{i:016x}": [0, 1, 2, 3] if i == 0 else [0, 1, 2] for i in range(4)}
    # the events topic has the raised event only, never a context event
    assert [v for v, _ in read_topic(kafka_broker.bootstrap_servers, live.events_topic)] == [
        encode_event(e) for e in raised]
