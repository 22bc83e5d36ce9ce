"""Workers on Kafka (docs/scaling.md): ``closewatch run --role ingest`` and ``--role engine``.

* **Ingest** reads the feeds as a run does (decoding, de-duplication, normalising), publishes
  the normalised tracks and dead letters on the public topics as a run does, and routes every
  track update to the internal cells topic (``[scale] cells_topic``): to the partition of its
  own cell, as a halo copy (header ``cw_copy: 1``) to every other partition with a cell within
  its halo (``closewatch.cells.route_reports``), and as an *interest* copy to every partition
  that wants its track. What each partition wants, its engine worker announces on the
  compacted interest topic (key: the partition; value ``{"partition": P, "tracks": [...]}``),
  which every ingest worker follows from its start. Every record carries the worker's layout
  (header ``cw_layout``, ``layout_id``): an engine worker of another layout stops.
* **Engine** workers share the cells topic's partitions in one consumer group
  (``[scale] engine_group``). A worker holds one ``PartitionJudge`` per partition it is
  assigned and publishes the revisions that partition owns on the events topic (the contract
  of one process, docs/kafka.md).

**State moves with its partition.** Every ``checkpoint_interval_s``, and when a partition is
taken away in a rebalance or the worker stops, the worker waits until the events so far are
acknowledged, writes each partition's state (its judge, its engine, the next offset to read)
to the compacted state topic (``[scale] state_topic``; partition P's state on partition P,
key P; the checkpoint format of ``closewatch.checkpoint``, which cannot run code and carries a
SHA-256), then commits the partition's offset. A worker assigned a partition restores the last
state written and reads on from its offset. The events it makes again after a restore are the
revisions it made before (same ``event_id``, ``seq`` and content): the at-least-once contract of
docs/kafka.md. A state made with other proximity, zone or ``[scale]`` settings is set aside
with a warning (the partition starts afresh from the group's offset); a state that fails its
checksum stops the worker (exit code 2): something else writes on the state topic.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from alerts.codec import encode_tracks
from alerts.producer import TopicSpec, client_security_config, create_topics
from alerts.transport import rdkafka_config
from config.records import DeadLetter, FeedHealth, Notice, TrackUpdate
from config.settings import Settings
from config.zones import load_borders, load_catalogue, load_land
from ingest.positions import KafkaPositions
from ingest.transports import GroupWatch, know_topic
from proximity.engine import Engine
from proximity.events import Event
from proximity.state import EngineState, StateError, export_zones, import_zones

from .cells import CellGrid, route_reports
from .checkpoint import CheckpointError, settings_fingerprint, state_bytes, state_from_bytes
from .partition import PartitionJudge
from .pipeline import feed_items, notice_zone
from .rules import build_rules
from .sinks import FanOut

__all__ = ["COPY_HEADER", "KIND_HEADER", "LAYOUT_HEADER", "EngineWorker", "IngestWorker", "WorkerError", "ensure_worker_topics",
           "layout_id", "worker_topics"]

log = logging.getLogger(__name__)

COPY_HEADER = "cw_copy"  # b"1": a halo or interest copy; b"0": the report's own partition
LAYOUT_HEADER = "cw_layout"  # the routing layout (``layout_id``) of the ingest worker that sent the record
KIND_HEADER = "cw_kind"  # b"zones": notified zones (``proximity.state.export_zones``); none: a track update
_STATE_FORMAT = 1

_Headers = list[tuple[str, str | bytes | None]]  # a record's headers, as confluent-kafka takes them


class WorkerError(Exception):
    """A worker cannot go on: its topics or a partition's state are not what it needs."""


def worker_topics(settings: Settings) -> list[TopicSpec]:
    """The internal topics of the workers: cells, interest (compacted) and state (compacted)."""
    s, k = settings.scale, settings.kafka
    assert k is not None, "workers need [kafka] (checked by the settings)"
    return [
        TopicSpec(s.cells_topic, s.partitions, k.retention_ms),
        TopicSpec(s.interest_topic, 1, -1, (("cleanup.policy", "compact"),)),
        TopicSpec(s.state_topic, s.partitions, -1,
                  (("cleanup.policy", "compact"), ("max.message.bytes", str(s.max_state_bytes)))),
    ]


def ensure_worker_topics(settings: Settings, timeout_s: float = 30.0) -> None:
    """Create the workers' topics when missing; refuse cells or state topics of another partition
    count than ``[scale] partitions`` (the partition of a cell would differ between workers)."""
    from kafka import KafkaConsumer

    k = settings.kafka
    assert k is not None
    specs = worker_topics(settings)
    create_topics(k, specs, timeout_s)
    probe = KafkaConsumer(**client_security_config(k), enable_auto_commit=False)
    try:
        for spec in specs:
            parts = probe.partitions_for_topic(spec.name) or set()
            if spec.name != settings.scale.interest_topic and len(parts) != spec.partitions:
                raise WorkerError(f"topic {spec.name} has {len(parts)} partitions, scale.partitions is "
                                  f"{spec.partitions}: every worker must use the topic's count")
    finally:
        probe.close()


def _grid(settings: Settings) -> CellGrid:
    return CellGrid(settings.scale.cell_deg, settings.scale.region_cuts)


def _layout(settings: Settings) -> dict[str, Any]:
    """The ``[scale]`` settings that decide where a report goes (``region_cuts`` only when set, so
    that states saved before they existed keep their fingerprint)."""
    s = settings.scale
    return {"partitions": s.partitions, "cell_deg": s.cell_deg, "one_way": s.one_way, "history_s": s.history_s,
            **({"region_cuts": list(s.region_cuts)} if s.region_cuts else {})}


def layout_id(settings: Settings) -> bytes:
    """A short fingerprint of how reports are routed to partitions: the layout and the proximity
    settings behind the halo. Every ingest worker stamps its records with it; an engine worker
    with another one stops (the workers' settings differ: events would be lost or doubled)."""
    doc = {**_layout(settings), "proximity": settings.proximity.model_dump(mode="json")}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16].encode()


# -- ingest ---------------------------------------------------------------------------------


class InterestView:
    """The interest topic followed from its start: which partitions want which tracks."""

    def __init__(self, settings: Settings, stop: threading.Event) -> None:
        self._settings = settings
        self._stop = stop
        self._lock = threading.Lock()
        self._by_partition: dict[int, frozenset[str]] = {}
        self._by_track: dict[str, tuple[int, ...]] | None = {}
        self._thread = threading.Thread(target=self._follow, name="interest", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        from kafka import KafkaConsumer, TopicPartition

        k = self._settings.kafka
        assert k is not None
        tp = TopicPartition(self._settings.scale.interest_topic, 0)
        while not self._stop.is_set():
            try:
                consumer = KafkaConsumer(**client_security_config(k), enable_auto_commit=False)
                consumer.assign([tp])
                consumer.seek_to_beginning(tp)
                while not self._stop.is_set():
                    for records in consumer.poll(timeout_ms=200).values():
                        for rec in records:
                            self._take(rec.value)
            except Exception as e:  # noqa: BLE001 - the broker went away: follow again (from the start)
                log.warning("interest topic: %s; reading it again", e)
                self._stop.wait(1.0)

    def _take(self, value: bytes | None) -> None:
        try:
            doc = json.loads(value or b"")
            partition, tracks = int(doc["partition"]), frozenset(str(t) for t in doc["tracks"])
        except (ValueError, KeyError, TypeError) as e:
            log.warning("interest topic: a record that is not an interest announcement (%s): ignored", e)
            return
        with self._lock:
            self._by_partition[partition] = tracks
            self._by_track = None

    def by_track(self) -> dict[str, tuple[int, ...]]:
        """Each wanted track with the partitions that want it."""
        with self._lock:
            if self._by_track is None:
                inverted: dict[str, list[int]] = {}
                for p, tracks in self._by_partition.items():
                    for t in tracks:
                        inverted.setdefault(t, []).append(p)
                self._by_track = {t: tuple(ps) for t, ps in inverted.items()}
            return self._by_track


OWN, HALO, INTEREST = 0, 1, 2  # why a record goes to a partition of the cells topic


def cell_routes(updates: Sequence[TrackUpdate], settings: Settings,
                wanted: dict[str, tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(report index, partition, why)`` of every record the cells topic gets for ``updates``, in
    the reports' order: its own partition (``OWN``), halo copies (``HALO``) and copies to the
    partitions that want its track (``INTEREST``), each partition once per report."""
    s = settings.scale
    routes = route_reports(updates, _grid(settings), settings.proximity, s.partitions, one_way=s.one_way,
                           history_s=s.history_s)
    n = len(updates)
    index = [np.arange(n), routes.copy_index]
    part = [routes.own, routes.copy_partition]
    why = [np.full(n, OWN), np.full(len(routes.copy_index), HALO)]
    if wanted:
        extra = [(i, p) for i, u in enumerate(updates) for p in wanted.get(u.track_id, ())]
        if extra:
            index.append(np.array([i for i, _ in extra], np.int64))
            part.append(np.array([p for _, p in extra], np.int64))
            why.append(np.full(len(extra), INTEREST))
    idx, prt, kind = np.concatenate(index), np.concatenate(part), np.concatenate(why)
    order = np.lexsort((kind, prt, idx))  # by report, then partition, the strongest reason first
    idx, prt, kind = idx[order], prt[order], kind[order]
    first = np.ones(len(idx), bool)
    first[1:] = (idx[1:] != idx[:-1]) | (prt[1:] != prt[:-1])
    return idx[first], prt[first], kind[first]


class IngestWorker:
    """``closewatch run --role ingest`` (module docstring)."""

    def __init__(self, settings: Settings, sink: FanOut, stop: threading.Event) -> None:
        from confluent_kafka import Producer

        assert settings.kafka is not None
        self.settings = settings
        self.sink = sink
        self.stop = stop
        self.interest = InterestView(settings, stop)
        self.layout = layout_id(settings)
        self._producer = Producer({**rdkafka_config(settings.kafka), "linger.ms": 5, "acks": "all",
                                   "enable.idempotence": True})
        self._failed: list[str] = []
        # raw Kafka feeds: their offsets are committed once what was read from them is acknowledged
        self._positions = {f.name: KafkaPositions() for f in settings.feeds if f.transport == "kafka"}
        for book in self._positions.values():
            book.last_word_expected = True  # on stop, a last commit of what was acknowledged
        self.updates = 0
        self.records = 0
        self.copies = 0  # halo copies
        self.interest_copies = 0
        self.notices = 0
        self.letters = 0

    def _delivered(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self._failed.append(str(err))

    def route(self, updates: Sequence[TrackUpdate]) -> None:
        """Send ``updates`` to the cells topic (own partitions, halo and interest copies)."""
        if not updates:
            return
        topic = self.settings.scale.cells_topic
        idx, part, why = cell_routes(updates, self.settings, self.interest.by_track())
        values = [v for v, _ in encode_tracks(updates)]
        layout = (LAYOUT_HEADER, self.layout)
        own_h: _Headers = [(COPY_HEADER, b"0"), layout]
        copy_h: _Headers = [(COPY_HEADER, b"1"), layout]
        for i, p, w in zip(idx.tolist(), part.tolist(), why.tolist()):
            self._send(topic, values[i], updates[i].track_id.encode("utf-8"), p, copy_h if w != OWN else own_h)
        self._producer.poll(0)
        self.updates += len(updates)
        self.records += len(idx)
        self.copies += int(np.count_nonzero(why == HALO))
        self.interest_copies += int(np.count_nonzero(why == INTEREST))

    def route_notice(self, feed: str, notice: Notice) -> None:
        """Send a notice's zone to every partition of the cells topic (or its dead letter to the
        dead-letter topic): every partition's engine watches every notified zone."""
        zone = notice_zone(feed, notice)
        if isinstance(zone, DeadLetter):
            self.letters += 1
            self.sink.publish_deadletters([zone])
            return
        self.sink.publish_zones([zone])  # the archive's zones, at their place among the tracks
        value = state_bytes(*export_zones([zone]))
        headers: _Headers = [(COPY_HEADER, b"1"), (KIND_HEADER, b"zones"), (LAYOUT_HEADER, self.layout)]
        for p in range(self.settings.scale.partitions):
            self._send(self.settings.scale.cells_topic, value, zone.zone_id.encode("utf-8"), p, headers)
        self._producer.poll(0)
        self.notices += 1

    def _send(self, topic: str, value: bytes, key: bytes, partition: int, headers: _Headers) -> None:
        """One record to ``partition`` of ``topic``, waiting while librdkafka's queue is full."""
        while True:
            try:
                self._producer.produce(topic, value, key, partition=partition, headers=headers,
                                       on_delivery=self._delivered)
                return
            except BufferError:  # the queue is full: let it drain
                self._producer.poll(0.1)

    def run(self) -> int:
        """Route every feed's updates until the feeds end (recordings) or ``stop``; 0, or 1 when
        records could not be delivered to the cells topic."""
        size, delay = self.settings.pipeline.batch_size, self.settings.pipeline.max_batch_delay_s
        taken: collections.Counter[str] = collections.Counter()
        self.sink.publish_zones(load_catalogue(self.settings.zones))  # the zones a replay of the archive starts with
        try:
            return self._route_feeds(taken, size, delay)
        finally:
            self._last_word()  # (again) so that no feed waits for a word that will not come

    def _last_word(self) -> None:
        """The raw Kafka feeds may commit what they were last asked to and close (``KafkaPositions.last_word``)."""
        for book in self._positions.values():
            book.last_word()

    def _route_feeds(self, taken: collections.Counter[str], size: int, delay: float) -> int:
        batch: list[TrackUpdate] = []
        letters: list[DeadLetter] = []
        started = last_commit = time.monotonic()
        last_word = False
        for entry in feed_items(self.settings, self.stop, positions=self._positions):
            if self.stop.is_set() and not last_word and self._positions:
                # stopping: what was read so far goes out, and once it is acknowledged the raw
                # feeds commit it before their consumers close (the next worker goes on from there)
                self._hand_on(batch, letters)
                batch, letters = [], []
                self._commit(taken)
                self._last_word()
                last_word = True
            if entry is not None:
                feed, item = entry
                if not isinstance(item, FeedHealth):
                    taken[feed] += 1
                if isinstance(item, TrackUpdate):
                    if not batch:
                        started = time.monotonic()
                    batch.append(item)
                elif isinstance(item, DeadLetter):
                    letters.append(item)
                elif isinstance(item, FeedHealth):
                    self.sink.publish_feed_health([item])
                elif isinstance(item, Notice):  # at its place among the reports: what came before first
                    self._hand_on(batch, letters)
                    batch, letters = [], []
                    self.route_notice(feed, item)
            if entry is None or len(batch) >= size or len(letters) >= size or time.monotonic() - started >= delay:
                self._hand_on(batch, letters)
                batch, letters = [], []
                if self._positions and time.monotonic() - last_commit >= self.settings.scale.checkpoint_interval_s:
                    self._commit(taken)
                    last_commit = time.monotonic()
        self._hand_on(batch, letters)
        left = self._producer.flush(60.0)
        self.sink.sync()
        if left or self._failed:
            log.error("cells topic: %d records not delivered (%s)", left + len(self._failed),
                      "; ".join(sorted(set(self._failed))[:3]))
            return 1
        return 0

    def _commit(self, handed: collections.Counter[str]) -> None:
        """Raw Kafka feeds: once every record handed on so far is acknowledged (the cells topic
        and the public topics), commit the input positions behind them (the feed's consumer
        commits at its next poll). Nothing is committed after a record failed: the input is
        read again by the next worker (at least once, never skipped)."""
        if self._producer.flush(30.0) or self._failed:
            return
        self.sink.sync()
        for name, book in self._positions.items():
            safe = book.safe_positions(handed[name])
            if safe:
                book.request_commit(safe)

    def _hand_on(self, batch: list[TrackUpdate], letters: list[DeadLetter]) -> None:
        if batch:
            self.route(batch)
            self.sink.publish_tracks(batch)
        if letters:
            self.letters += len(letters)
            self.sink.publish_deadletters(letters)
        self.sink.push()


# -- engine ---------------------------------------------------------------------------------

PIECE_HEADER = "cw_piece"  # on the records of a state written in pieces: b"<save> <k> <n>", the last b"<save> of <n>"


def _piece_bytes(max_state_bytes: int) -> int:
    """The largest piece of a state: the topic's record limit, less room for the key and headers."""
    return max_state_bytes - 4096


def state_records(p: int, value: bytes, piece_bytes: int) -> list[tuple[bytes, bytes, _Headers]]:
    """``(key, value, headers)`` of the records that write partition ``p``'s state ``value``: one
    record (key ``p``) when it fits ``piece_bytes``; else its pieces in order (keys ``p#k``, which
    compaction keeps until a later state of as many pieces replaces them), then a last record
    (key ``p``) naming the save and the count, which a reader finds first and reads back from."""
    if len(value) <= piece_bytes:
        return [(str(p).encode(), value, [])]
    save = secrets.token_hex(8)
    n = -(-len(value) // piece_bytes)
    out: list[tuple[bytes, bytes, _Headers]] = [
        (f"{p}#{k}".encode(), value[k * piece_bytes:(k + 1) * piece_bytes], [(PIECE_HEADER, f"{save} {k} {n}".encode())])
        for k in range(n)]
    out.append((str(p).encode(), json.dumps({"save": save, "pieces": n, "bytes": len(value)}).encode(),
                [(PIECE_HEADER, f"{save} of {n}".encode())]))
    return out


def _piece_header(rec: Any) -> str | None:
    for name, value in rec.headers or ():
        if name == PIECE_HEADER:
            return bytes(value).decode("utf-8", "replace")
    return None


def _pieces_of(rec: Any) -> tuple[str, int] | None:
    """``(save, n)`` when ``rec`` is the last record of a state written in ``n`` pieces, else None."""
    header = _piece_header(rec)
    if header is None:
        return None
    save, _, n = header.partition(" of ")
    if not n.isdigit() or int(n) < 1:
        raise CheckpointError(f"state topic {rec.topic}[{rec.partition}]@{rec.offset}: header {PIECE_HEADER} "
                              f"{header!r} is not '<save> of <n>'")
    return save, int(n)


@dataclass
class _Held:
    """A partition this worker holds."""

    judge: PartitionJudge
    next_offset: int | None  # the next offset to read; None: from the group's committed offset
    announced: frozenset[str] | None = None  # the interest last announced
    dirty: bool = False  # processed since its state was last written
    state_offset: int | None = None  # where its last state is on the state topic (written or read here)


class EngineWorker:
    """``closewatch run --role engine`` (module docstring)."""

    def __init__(self, settings: Settings, sink: FanOut, stop: threading.Event) -> None:
        from confluent_kafka import Producer
        from kafka import ConsumerRebalanceListener, KafkaConsumer

        k = settings.kafka
        assert k is not None
        self.settings = settings
        self.sink = sink
        self.stop = stop
        s = settings.scale
        self.grid = _grid(settings)
        self.zones = load_catalogue(settings.zones)
        self.borders = [line for _name, line in load_borders()]
        self.land = load_land()
        self.rules = build_rules(settings)
        self.fingerprint = settings_fingerprint(settings, scale=_layout(settings))
        self.layout = layout_id(settings)
        self.held: dict[int, _Held] = {}
        self._kept: dict[int, _Held] = {}  # partitions given up in a rebalance, their state written
        self.events = 0
        self.context_events = 0
        self.reports = 0
        self.notified_zones = 0
        self.restored = 0
        self._producer = Producer({**rdkafka_config(k), "acks": "all", "enable.idempotence": True,
                                   "message.max.bytes": s.max_state_bytes + 65536,
                                   # a batch of records is what the broker holds to the topic's limit:
                                   # the pieces of a state go one per batch
                                   "batch.size": s.max_state_bytes})
        self._connection = client_security_config(k)
        worker = self

        class _Handover(ConsumerRebalanceListener):  # type: ignore[misc]
            def on_partitions_revoked(self, revoked: Iterable[Any]) -> None:
                worker._give_up([tp.partition for tp in revoked])

            def on_partitions_assigned(self, assigned: Iterable[Any]) -> None:
                worker._take([tp.partition for tp in assigned])

        def join() -> Any:
            consumer = KafkaConsumer(group_id=s.engine_group, enable_auto_commit=False,
                                     auto_offset_reset="earliest", metadata_max_age_ms=10_000,
                                     session_timeout_ms=int(s.session_timeout_s * 1000),
                                     heartbeat_interval_ms=int(s.session_timeout_s * 1000 / 3),
                                     max_poll_records=settings.pipeline.batch_size,
                                     **{**self._connection, "client_id": self._watch.client_id})
            know_topic(consumer, s.cells_topic, s.partitions)
            consumer.subscribe([s.cells_topic], listener=_Handover())
            return consumer

        self._join = join
        self._watch = GroupWatch(s.engine_group, self._connection)
        # the zones are cut and grown once per process (proximity caches them): done before
        # joining, a rebalance listener then builds a partition's engine in milliseconds
        Engine(settings.proximity, self.zones, borders=self.borders, rules=self.rules, land=self.land)
        self.consumer = join()

    # -- partitions coming and going ------------------------------------------------------

    def _take(self, partitions: Sequence[int]) -> None:
        from kafka import TopicPartition

        for p in partitions:
            held = self._restore(p)
            self.held[p] = held
            if held.next_offset is not None:
                self.consumer.seek(TopicPartition(self.settings.scale.cells_topic, p), held.next_offset)
        if partitions:
            log.info("engine worker: holds partitions %s", sorted(self.held))

    def _give_up(self, partitions: Sequence[int]) -> None:
        # kafka-python 3.0 runs the listener on the consumer's IO thread, where it cannot commit:
        # the state written names the next offset, which the partition's next owner reads
        self._save([p for p in partitions if p in self.held], commit=False)
        for p in partitions:
            held = self.held.pop(p, None)
            if held is not None and not held.dirty and held.state_offset is not None:
                # kept: if the partition comes back and its last state is still this one (the eager
                # protocol takes every partition away on every rebalance), no restore is needed
                self._kept[p] = held

    def _new_judge(self, p: int) -> PartitionJudge:
        engine = Engine(self.settings.proximity, self.zones, borders=self.borders, rules=self.rules, land=self.land)
        return PartitionJudge(p, self.settings.scale.partitions, engine, self.grid, guard=True)

    def _last_state(self, p: int, known: int | None = None) -> tuple[int, bytes | None] | None:
        """(offset, value) of the last record of the state topic's partition ``p``; None: none;
        value None when that record is at offset ``known`` (not read again)."""
        from kafka import KafkaConsumer, TopicPartition

        s = self.settings.scale
        tp = TopicPartition(s.state_topic, p)
        reader = KafkaConsumer(**self._connection, enable_auto_commit=False,
                               max_partition_fetch_bytes=s.max_state_bytes + 65536,
                               fetch_max_bytes=s.max_state_bytes + 65536)
        try:
            reader.assign([tp])
            end = reader.end_offsets([tp])[tp]
            if not end:
                return None
            if known is not None and end - 1 == known:
                return known, None
            (last,) = self._read_range(reader, tp, end - 1, end)
            pieces = _pieces_of(last)
            if pieces is None:
                return last.offset, last.value
            save, n = pieces
            where = f"state topic {s.state_topic}[{p}]"
            if last.offset < n:
                raise CheckpointError(f"{where}: the state at offset {last.offset} has {n} pieces before it, "
                                      f"the partition fewer")
            records = self._read_range(reader, tp, last.offset - n, last.offset)
            got = [_piece_header(r) for r in records]
            if got != [f"{save} {k} {n}" for k in range(n)]:
                raise CheckpointError(f"{where}: the {n} pieces of the state at offset {last.offset} (save {save}) "
                                      f"are not the records before it: something else writes on the state topic")
            return last.offset, b"".join(r.value or b"" for r in records)
        finally:
            reader.close()

    def _read_range(self, reader: Any, tp: Any, start: int, end: int) -> list[Any]:
        """The records of ``tp`` from offset ``start`` up to ``end`` (excluded), within 60 s."""
        reader.seek(tp, start)
        deadline = time.monotonic() + 60.0
        out: list[Any] = []
        while time.monotonic() < deadline:
            out += [r for r in reader.poll(timeout_ms=500).get(tp, []) if start <= r.offset < end]
            if out and out[-1].offset >= end - 1:
                return out
        raise WorkerError(f"state topic {tp.topic}[{tp.partition}]: records {start}-{end - 1} could not be read "
                          f"within 60 s")

    def _restore(self, p: int) -> _Held:
        s = self.settings.scale
        kept = self._kept.pop(p, None)
        last = self._last_state(p, kept.state_offset if kept is not None else None)
        if last is None:
            return _Held(self._new_judge(p), None)
        offset, value = last
        if value is None:
            if kept is not None and offset == kept.state_offset:  # the last state is this worker's: go on
                kept.announced = None
                return kept
            return _Held(self._new_judge(p), None)  # a tombstone: no state
        what = f"state of partition {p} ({s.state_topic}[{p}]@{offset})"
        doc, arrays = state_from_bytes(value, what)  # CheckpointError: not ours, or damaged
        if doc.get("format") != _STATE_FORMAT or doc.get("fingerprint") != self.fingerprint:
            log.warning("%s was made with other proximity, zone or [scale] settings: set aside, the partition "
                        "starts afresh", what)
            return _Held(self._new_judge(p), None)
        try:
            engine = Engine.from_state(self.settings.proximity, EngineState(doc["engine"], arrays),
                                       borders=self.borders, rules=self.rules, land=self.land)
            judge = PartitionJudge.from_state(doc["judge"], engine, self.grid, guard=True)
            next_offset = int(doc["next_offset"])
        except StateError as e:
            log.warning("%s does not fit this closewatch (%s): set aside, the partition starts afresh", what, e)
            return _Held(self._new_judge(p), None)
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{what}: unreadable: {e}") from e
        self.restored += 1
        log.info("engine worker: partition %d restored from %s, reading on from offset %d", p, what, next_offset)
        return _Held(judge, next_offset, state_offset=offset)

    def _save(self, partitions: Sequence[int], commit: bool = True) -> None:
        """Write the state of ``partitions`` (those processed since their last state), then commit
        their offsets (``commit``); only once every event so far is acknowledged (or spooled)."""
        from kafka import TopicPartition
        from kafka.structs import OffsetAndMetadata

        todo = [p for p in partitions if self.held[p].dirty and self.held[p].next_offset is not None]
        if not todo:
            return
        self.sink.sync()
        s = self.settings.scale
        failed: list[str] = []

        written: dict[int, int] = {}

        def delivered(err: Any, msg: Any) -> None:
            if err is not None:
                failed.append(str(err))
            else:
                written[msg.partition()] = msg.offset()

        for p in todo:
            held = self.held[p]
            judge_doc, state = held.judge.state()
            doc = {"format": _STATE_FORMAT, "fingerprint": self.fingerprint, "next_offset": held.next_offset,
                   "judge": judge_doc, "engine": state.doc}
            for key, value, headers in state_records(p, state_bytes(doc, state.arrays), _piece_bytes(s.max_state_bytes)):
                self._producer.produce(s.state_topic, value, key, partition=p, headers=headers, on_delivery=delivered)
        left = self._producer.flush(60.0)
        if left or failed:
            log.error("engine worker: states of partitions %s not written (%s): their offsets stay uncommitted",
                      todo, "; ".join(failed[:3]) or f"{left} not acknowledged")
            return
        if commit:
            try:
                self.consumer.commit({TopicPartition(s.cells_topic, p):
                                      OffsetAndMetadata(self.held[p].next_offset, "", -1) for p in todo})
            except Exception as e:  # noqa: BLE001 - the state is written: the group's offset only follows it
                log.info("engine worker: offset commit deferred: %s", e)
        for p in todo:
            self.held[p].dirty = False
            self.held[p].state_offset = written[p]

    # -- the loop -----------------------------------------------------------------------

    def run(self) -> int:
        """Judge the partitions held until ``stop``; save their states on the way out."""
        last_save = time.monotonic()
        interval = self.settings.scale.checkpoint_interval_s
        try:
            while not self.stop.is_set():
                if self._watch.fell_out():
                    # kafka-python 3.0 under load (ingest.transports.GroupWatch): the partitions
                    # are others' now, so nothing is saved for them (their last states and
                    # committed offsets stand); a new consumer joins afresh
                    log.warning("engine worker: no longer a member of group %s: partitions %s lost, joining again",
                                self.settings.scale.engine_group, sorted(self.held))
                    self.held.clear()
                    self._kept.clear()
                    self.consumer.close(autocommit=False)
                    self.consumer = self._join()
                for tp, records in self.consumer.poll(timeout_ms=200).items():
                    held = self.held.get(tp.partition)
                    if held is not None and records:
                        self._judge(tp.partition, held, records)
                if time.monotonic() - last_save >= interval:
                    self._save(list(self.held))
                    last_save = time.monotonic()
                self.sink.push()
            self._save(list(self.held))
        finally:
            self.consumer.close(autocommit=False)
            self._watch.close()
            self._producer.flush(10.0)
        return 0

    def _add_zones(self, p: int, held: _Held, rec: Any, letters: list[DeadLetter]) -> list[Event]:
        """The zones of a zones record join partition ``p``'s engine; the revisions it owns of
        the zones that apply at once. A record that is not zones, or zones the engine cannot
        take, is a dead letter."""
        where = f"{self.settings.scale.cells_topic}[{p}]"
        try:
            zones = import_zones(*state_from_bytes(rec.value or b"", f"{where} offset {rec.offset}"))
        except (CheckpointError, StateError) as e:
            letters.append(DeadLetter.of(where, rec.offset, rec.value or b"", f"malformed record: not zones: {e}",
                                         stage="decode"))
            return []
        try:
            events = held.judge.add_zones(zones)
        except Exception as e:  # noqa: BLE001 - the engine is put back (guard); the zones are not watched
            log.error("%s offset %d: the engine could not take zones %s: %s", where, rec.offset,
                      [z.zone_id for z in zones], e)
            letters.append(DeadLetter.of(where, rec.offset, rec.value or b"",
                                         f"engine failure: {type(e).__name__}: {e}", stage="engine"))
            return []
        self.notified_zones += len(zones)
        return events

    def _judge(self, p: int, held: _Held, records: Sequence[Any]) -> None:
        from maps.features import MapInputError, track_update

        reports: list[TrackUpdate] = []
        own: list[bool] = []
        letters: list[DeadLetter] = []
        events: list[Event] = []
        topic = self.settings.scale.cells_topic

        def judge_reports() -> None:
            if reports:
                events.extend(held.judge.process(reports, own))
                letters.extend(held.judge.refused)
                self.reports += len(reports)
                reports.clear()
                own.clear()

        for rec in records:
            headers = rec.headers or ()
            zones = False
            for name, value in headers:
                if name == LAYOUT_HEADER and value != self.layout:
                    raise WorkerError(
                        f"{topic}[{p}] offset {rec.offset} was routed by an ingest worker with another layout "
                        f"({value!r}, this worker's {self.layout!r}): every worker of a deployment needs the same "
                        f"[scale] partitions, cell_deg, one_way, history_s and region_cuts, and [proximity]")
                zones = zones or (name == KIND_HEADER and value == b"zones")
            if zones:  # notified zones: at their place among the reports, in every partition
                judge_reports()
                events.extend(self._add_zones(p, held, rec, letters))
                continue
            try:
                reports.append(track_update(json.loads(rec.value)))
            except (ValueError, TypeError, MapInputError) as e:
                letters.append(DeadLetter.of(f"{topic}[{p}]", rec.offset, rec.value or b"",
                                             f"malformed record: not a track update: {e}", stage="decode"))
                continue
            own.append((COPY_HEADER, b"1") not in headers)
        judge_reports()
        held.next_offset = records[-1].offset + 1
        held.dirty = True
        if events:
            self.events += len(events)
            self.sink.publish_events(events)
        context = held.judge.take_context()  # --explain
        if context:
            self.context_events += len(context)
            self.sink.publish_context(context)
        if letters:
            self.sink.publish_deadletters(letters)
        held.judge.engine.take_context()  # context events are a single run's (--explain); not kept here
        wanted = held.judge.wanted
        if wanted != held.announced:
            value = json.dumps({"partition": p, "tracks": sorted(wanted)}).encode()
            self._producer.produce(self.settings.scale.interest_topic, value, str(p).encode(), partition=0)
            self._producer.poll(0)
            held.announced = wanted
