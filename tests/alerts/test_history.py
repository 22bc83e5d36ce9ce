"""Reading a topic by data time on the real broker: record times that follow the data times, and that do not."""

from __future__ import annotations

import json
import time

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from alerts.history import read_by_data_time
from config.settings import KafkaSettings

pytestmark = pytest.mark.kafka

T0 = 1_773_140_000.0  # data times: 2026-03-10, months before the record times of a replayed recording


def _topic(broker, name: str, partitions: int = 3) -> None:
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()


def _produce(broker, topic: str, stamped_as_data: bool) -> list[float]:
    """600 reports of 6 tracks, 1 s apart, keyed by track (so spread over the partitions)."""
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    times = []
    for i in range(600):
        t = T0 + i
        value = json.dumps({"schema_version": "1.1", "track_id": f"ais:23000000{i % 6}", "t_s": t}).encode()
        ts = int(t * 1000) if stamped_as_data else None
        producer.send(topic, value, key=f"ais:23000000{i % 6}".encode(), timestamp_ms=ts)
        times.append(t)
    producer.flush()
    producer.close()
    return times


def _t(value: bytes) -> float | None:
    return json.loads(value).get("t_s")


@pytest.mark.parametrize("stamped_as_data", [True, False], ids=["live-record-times", "replayed-recording"])
def test_reads_from_a_data_time_merged_across_partitions(kafka_broker, topic_prefix, stamped_as_data) -> None:
    topic = f"{topic_prefix}.tracks"
    _topic(kafka_broker, topic)
    _produce(kafka_broker, topic, stamped_as_data)
    kafka = KafkaSettings(bootstrap_servers=kafka_broker.bootstrap_servers)
    sizes: dict[int, int] = {}
    started = time.monotonic()
    got = list(read_by_data_time(kafka, topic, T0 + 300.0, T0 + 400.0, _t, slack_s=10.0, sizes=sizes))
    assert time.monotonic() - started < 60
    times = [r.t_s for r in got]
    assert times == sorted(times)  # merged by data time
    assert len(sizes) == 3 and sum(sizes.values()) <= 300 + 10 + 3  # seeked, not read from the beginning
    assert min(times) >= T0 + 290.0  # from start - slack
    assert {T0 + i for i in range(300, 400)} <= set(times)
    # each partition stops after its first record at or after the end
    per_partition_last = {}
    for r in got:
        per_partition_last[r.partition] = r.t_s
    assert all(t >= T0 + 400.0 for t in per_partition_last.values())
    assert all(t < T0 + 400.0 + 6 for t in per_partition_last.values())
    everything = list(read_by_data_time(kafka, topic, None, None, _t))
    assert len(everything) == 600
