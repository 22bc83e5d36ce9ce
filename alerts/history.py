"""Reading a topic's history by data time: what ``archive import`` and ``replay --source kafka`` use.

Kafka finds records by their *record* time (``offsets_for_times``: the time the producer
stamped, the wall clock when closewatch published them). closewatch's windows are in
*data* time (``t_s`` in the value). On a live system the two differ by the latency; a
topic filled by the replay of an old recording has record times months after its data
times. So each partition is positioned in two steps:

1. ``offsets_for_times(target)`` gives the first record stamped at or after the target;
   the record before it tells on which side of it the first record of the target *data*
   time lies (live: a record is stamped after its data time, so at or after it);
2. a binary search over the offsets on that side, reading one record per probe, finds
   the first record whose data time is at or after the target (``slack_s`` earlier, for
   records that arrive slightly out of data-time order).

Then every partition is read (one consumer each, nothing committed) and the partitions
are merged by data time; each partition ends at its end offset as it was when reading
began, or, given ``end_s``, after its first record at or after ``end_s``.
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from config.kafka_clients import kafka_client_settings
from config.settings import KafkaSettings

from alerts.errors import AlertsError, KafkaUnreachableError

__all__ = ["TopicRecord", "read_by_data_time"]

log = logging.getLogger(__name__)

_POLL_MS = 1000
_PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class TopicRecord:
    """One record: its value, data time (``None``: the value has none), where it was, when stamped."""

    value: bytes
    t_s: float | None
    partition: int
    offset: int
    timestamp_ms: int | None


DataTime = Callable[[bytes], "float | None"]


def _consumer(kafka: KafkaSettings) -> Any:
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    try:
        return KafkaConsumer(
            group_id=None,
            enable_auto_commit=False,
            client_id=f"{kafka.client_id}-history",
            **kafka_client_settings(kafka, "kafka-python"),
        )
    except KafkaError as e:
        raise KafkaUnreachableError(f"Kafka at {kafka.bootstrap_servers} unreachable: {e}") from e


def _record_at(consumer: Any, tp: Any, offset: int) -> Any:
    """The first record of ``tp`` at or after ``offset`` (None at the end)."""
    import time

    consumer.seek(tp, offset)
    deadline = time.monotonic() + _PROBE_TIMEOUT_S
    while time.monotonic() < deadline:
        batch = consumer.poll(timeout_ms=_POLL_MS, max_records=1)
        for msg in batch.get(tp, []):
            return msg
    return None


def _first_offset(consumer: Any, tp: Any, begin: int, end: int, target_s: float, data_time: DataTime) -> int:
    """The first offset of ``tp`` whose data time is at or after ``target_s`` (module doc)."""

    def t_at(offset: int) -> tuple[float, int]:
        msg = _record_at(consumer, tp, offset)
        if msg is None:
            return float("inf"), end
        t = data_time(msg.value)
        return (float("-inf") if t is None else t), msg.offset

    lo, hi = begin, end
    found = consumer.offsets_for_times({tp: max(0, int(target_s * 1000))}).get(tp)
    if found is not None and begin < found.offset < end:
        t_before, _ = t_at(found.offset - 1)
        if t_before >= target_s:
            hi = found.offset
        else:
            lo = found.offset
    while lo < hi:
        mid = (lo + hi) // 2
        t_mid, at = t_at(mid)
        if t_mid >= target_s:
            hi = mid
        else:
            lo = max(mid, at) + 1
    return lo


def _partition(kafka: KafkaSettings, tp: Any, start: int, end: int, end_s: float | None,
               data_time: DataTime) -> Iterator[TopicRecord]:
    consumer = _consumer(kafka)
    try:
        consumer.assign([tp])
        consumer.seek(tp, start)
        position = start
        while position < end:
            batch = consumer.poll(timeout_ms=_POLL_MS)
            msgs = batch.get(tp, [])
            if not msgs and consumer.position(tp) >= end:
                return
            for msg in msgs:
                if msg.offset >= end:
                    return
                position = msg.offset + 1
                t = data_time(msg.value)
                yield TopicRecord(msg.value, t, msg.partition, msg.offset, msg.timestamp)
                if end_s is not None and t is not None and t >= end_s:
                    return
    finally:
        consumer.close()


def read_by_data_time(
    kafka: KafkaSettings,
    topic: str,
    start_s: float | None,
    end_s: float | None,
    data_time: DataTime,
    *,
    slack_s: float = 60.0,
    sizes: dict[int, int] | None = None,
) -> Iterator[TopicRecord]:
    """Records of ``topic`` from data time ``start_s - slack_s`` on (``None``: from the beginning),
    merged by data time (module doc). ``sizes``, when given, receives the number of records
    each partition has from its start to its end (for a progress bar)."""
    from kafka import TopicPartition

    probe = _consumer(kafka)
    try:
        ids = probe.partitions_for_topic(topic)
        if not ids:
            raise AlertsError(f"topic {topic} does not exist on {kafka.bootstrap_servers} (or has no partitions)")
        tps = [TopicPartition(topic, p) for p in sorted(ids)]
        begins = probe.beginning_offsets(tps)
        ends = probe.end_offsets(tps)
        probe.assign(tps)
        starts = {}
        for tp in tps:
            if start_s is None or begins[tp] >= ends[tp]:
                starts[tp] = begins[tp]
            else:
                starts[tp] = _first_offset(probe, tp, begins[tp], ends[tp], start_s - slack_s, data_time)
    finally:
        probe.close()
    if sizes is not None:
        sizes.update({tp.partition: ends[tp] - starts[tp] for tp in tps})
    log.info("reading %s from data time %s: %s", topic, start_s,
             ", ".join(f"[{tp.partition}] {starts[tp]}..{ends[tp]}" for tp in tps))
    streams = [_partition(kafka, tp, starts[tp], ends[tp], end_s, data_time) for tp in tps if starts[tp] < ends[tp]]
    yield from heapq.merge(*streams, key=lambda r: float("-inf") if r.t_s is None else r.t_s)
