"""Publishing events, tracks and dead letters to Kafka with delivery guarantees.

:class:`KafkaSink` sends through librdkafka (:mod:`alerts.transport`) with
``acks=all`` and idempotence (KIP-98: no duplicates from retries, order kept per
partition with up to 5 requests in flight), retrying until the delivery timeout;
records it cannot deliver go to the on-disk spool (:mod:`alerts.spool`).
Keys: ``event_id`` for events (every revision of one incident goes to the same
partition, in order), ``track_id`` for tracks, the feed name for dead letters.
Context events (incidents the rule profile did not raise, for the tracks of
``--explain``: :meth:`KafkaSink.publish_context`) take the events' path, spool
included, to the context topic (``[kafka] context_topic``).

Every record gets a rising *ordinal* when published. :meth:`KafkaSink.flush`
returns only when every record published so far is acknowledged by the broker,
and :attr:`KafkaSink.acked_through` is the highest ordinal up to which all
records are acknowledged: a pipeline reading tracks from Kafka remembers
``mark = sink.last_ordinal`` after publishing the events of a batch and commits
the batch's consumer offsets once ``sink.acked_through >= mark``.

A record refused for what it is, not for the connection (larger than
``[kafka] max_message_bytes``, or refused by the broker as too large or
invalid), never blocks the others: it is not sent (or counted as done), and
becomes a dead letter (stage ``encode`` when it is too large to send, ``deliver``
when the broker refused it) handed to ``reject_listener`` (a pipeline publishes
it to every sink) or, without one, sent to the dead-letter topic by the sink
itself. Such a record still counts as acknowledged for :attr:`acked_through`:
offsets and checkpoints go on past it.

Tracks (tens of thousands a second) take a lighter path than events: a batch of
track updates is numbered and handed to the sink's track thread, which encodes it
at once (:func:`alerts.codec.encode_tracks`) and sends it without a record object
or a bookkeeping entry each, while the caller goes on (with the engine's next
batch, in a pipeline); the batch is one entry in flight, acknowledged when its
last record is (tracks are not spooled).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from config.records import DeadLetter, FeedHealth, TrackUpdate, Zone
from config.kafka_clients import kafka_client_settings
from config.settings import ConfigError, KafkaSettings
from proximity.events import Event

from alerts import codec
from alerts.errors import AlertsError, DeliveryError, KafkaSecurityError, KafkaUnreachableError, SpoolFullError
from alerts.spool import Record, Spool
from alerts.transport import RdProducer, SendError, _send_error, security_hint, tls_probe

__all__ = ["KafkaSink", "Record", "TopicSpec", "client_security_config", "topic_specs", "unreachable_error"]

log = logging.getLogger(__name__)


def client_security_config(settings: KafkaSettings) -> dict[str, Any]:
    """kafka-python keyword arguments for the connection: servers, TLS and SASL (PLAIN, SCRAM),
    from :func:`config.kafka_clients.kafka_client_settings`."""
    try:
        return kafka_client_settings(settings, "kafka-python")
    except ConfigError as e:
        raise AlertsError(str(e)) from e


def unreachable_error(settings: KafkaSettings, cause: BaseException) -> KafkaUnreachableError:
    """The error for a kafka-python client that could not bootstrap: a TLS refusal is named as such.

    kafka-python only logs why a TLS handshake failed; :func:`~alerts.transport.tls_probe`
    repeats the handshake to say it (:class:`KafkaSecurityError`).
    """
    refusal = tls_probe(settings)
    if refusal is not None:
        return KafkaSecurityError(f"Kafka at {settings.bootstrap_servers}: {refusal}; {security_hint(settings, refusal)}")
    return KafkaUnreachableError(f"Kafka at {settings.bootstrap_servers} unreachable: {cause}")


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int
    configs: tuple[tuple[str, str], ...] = ()  # further topic configs (cleanup.policy, ...)


def topic_specs(settings: KafkaSettings) -> list[TopicSpec]:
    """The four topics closewatch writes: events, tracks, dead letters and context events."""
    return [
        TopicSpec(t, settings.partitions, settings.retention_ms)
        for t in (settings.events_topic, settings.tracks_topic, settings.deadletter_topic,
                  settings.context_topic_name)
    ]


def create_topics(settings: KafkaSettings, specs: Sequence[TopicSpec], timeout_s: float = 30.0) -> list[str]:
    """Create the topics of ``specs`` that are missing; return those created.

    Replication factor: the cluster default (``default.replication.factor``, KIP-464).
    """
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError, KafkaTimeoutError

    config = {**client_security_config(settings), "client_id": settings.client_id}
    try:
        admin = KafkaAdminClient(request_timeout_ms=int(timeout_s * 1000),
                                 bootstrap_timeout_ms=int(timeout_s * 1000), **config)
    except KafkaTimeoutError as e:
        raise unreachable_error(settings, e) from e
    except KafkaError as e:
        raise DeliveryError(f"cannot reach Kafka at {settings.bootstrap_servers}: {e}") from e
    try:
        existing = set(admin.list_topics())
        wanted = {
            s.name: {"num_partitions": s.partitions,
                     "configs": {"retention.ms": str(s.retention_ms), **dict(s.configs)}}
            for s in specs
            if s.name not in existing
        }
        if not wanted:
            return []
        result = admin.create_topics(wanted, timeout_ms=int(timeout_s * 1000), raise_errors=False)
        created = []
        for t in result.get("topics", []):
            code = t.get("error_code", 0)
            if code == 0:
                created.append(t["name"])
            elif code != 36:  # TOPIC_ALREADY_EXISTS: another process was quicker
                raise DeliveryError(
                    f"creating topic {t['name']!r} failed: error {code} {t.get('error_message')}"
                )
        if created:
            admin.wait_for_topics(created, timeout_ms=int(timeout_s * 1000))
            log.info("created Kafka topics %s", ", ".join(created))
        return created
    except KafkaError as e:
        raise DeliveryError(f"creating topics on {settings.bootstrap_servers} failed: {e}") from e
    finally:
        admin.close()


_DIRECT = "direct"
_SPOOLING = "spooling"


class _TrackGroup:
    """Track records published together: one entry in flight, acknowledged when all its records are.

    ``delivered`` is the librdkafka delivery callback of each of its records (one
    bound method for the batch, no per-record token).
    """

    __slots__ = ("sink", "first", "size", "remaining", "topic", "updates")

    def __init__(self, sink: "KafkaSink", first: int, updates: list[TrackUpdate], topic: str) -> None:
        self.sink = sink
        self.first = first
        self.size = len(updates)
        self.remaining = self.size
        self.topic = topic
        self.updates: list[TrackUpdate] | None = updates  # until the track thread has sent them

    def delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            exc = _send_error(err)
            if not exc.refused:
                self.sink._on_error(self.first, exc, f"{self.topic} (key {msg.key()!r})")
                return
            self.sink._refuse(self.topic, msg.value() or b"", f"refused by Kafka: {exc}", "deliver")
        self.remaining -= 1
        if self.remaining == 0:
            self.sink._on_group_acked(self)


class KafkaSink:
    """The producer side of the contract, with a durable spool (see module docstring, docs/kafka.md).

    Modes: *direct* (records go to the kafka-python producer) and *spooling*
    (records go to the on-disk spool, a background thread delivers the spool in
    order once the broker answers, then switches back to direct). The sink starts
    spooling when the producer cannot bootstrap, when a send fails with a
    retriable error, or when a record waits longer than ``spool_after_s`` for its
    acknowledgement; records in flight at that moment are moved to the spool
    too (so they may be delivered twice: identical bytes, same ``event_id``/``seq``).
    A sink that finds records in its spool at start delivers them before anything new.

    Tracks are not spooled unless ``spool_tracks``: while spooling they are
    dropped and counted (``stats()["dropped_tracks"]``, a warning in the log).
    A record refused for what it is becomes a dead letter (module docstring).
    Other non-retriable errors (authorisation) and a full spool are fatal: the
    next call raises.

    ``producer_overrides``: extra librdkafka settings (``linger.ms``,
    ``batch.size``, ...); ``acks``, idempotence and the delivery timeout are fixed.
    ``create_topics``: on the first connection, create missing topics
    (:meth:`ensure_topics`; a refusal is logged, not fatal).
    ``ack_listener(ordinal)`` is called (from a client thread) when a record is
    acknowledged by the broker, directly or from the spool.
    """

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        source: str = codec.CE_SOURCE,
        producer_overrides: dict[str, Any] | None = None,
        spool_dir: str | Path | None = None,
        use_spool: bool = True,
        spool_after_s: float = 10.0,
        spool_tracks: bool = False,
        connect_timeout_s: float = 10.0,
        drain_batch: int = 1000,
        ack_listener: Callable[[int], None] | None = None,
        create_topics: bool = True,
    ) -> None:
        self.settings = settings
        self.source = source
        self._overrides = dict(producer_overrides or {})
        self.spool_after_s = spool_after_s
        self._delivery_timeout_s = max(spool_after_s * 2, 11.0)
        self.spool_tracks = spool_tracks
        self.connect_timeout_s = connect_timeout_s
        self.drain_batch = drain_batch
        self._ack_listener = ack_listener
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._producer: RdProducer | None = None
        self._retiring: RdProducer | None = None
        self._drain_producer: RdProducer | None = None
        self._drain_lock = threading.Lock()
        self._drain_outcome: dict[int, SendError | None] | None = None
        self._create_topics = create_topics
        self._topics_checked = False
        self._connected_once = False
        self._last_outage_reason: str | None = None
        self._next_ordinal = 0
        # ordinal -> (record, sent at, monotonic); a batch of tracks: its first ordinal -> (_TrackGroup, sent at)
        self._inflight: dict[int, tuple[Record | _TrackGroup, float]] = {}
        self._spooled: deque[tuple[int, int]] = deque()  # (spool index, ordinal), this run's records only
        self._fatal: AlertsError | None = None
        self._switch_reason: BaseException | None = None
        self._closed = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._track_queue: queue.SimpleQueue[_TrackGroup | None] = queue.SimpleQueue()
        self._track_thread: threading.Thread | None = None
        self._counts = {"acked": 0, "spooled": 0, "drained": 0, "dropped_tracks": 0, "outages": 0, "refused": 0}
        # a record refused (too large, invalid) as a dead letter: to the listener, or sent by the sink itself
        self.reject_listener: Callable[[DeadLetter], None] | None = None
        self._refused_letters: deque[DeadLetter] = deque()
        self._spool: Spool | None = None
        if use_spool:
            self._spool = Spool(Path(spool_dir if spool_dir is not None else settings.spool_dir),
                                settings.spool_max_bytes)
        self._mode = _SPOOLING if self._spool is not None and self._spool.pending_count else _DIRECT
        if self._mode == _SPOOLING:
            self._ensure_thread()

    # -- connection ---------------------------------------------------------------
    def _new_producer(self, bootstrap_timeout_s: float) -> RdProducer:
        """A connected librdkafka producer; raises :class:`SendError` when no broker answers."""
        producer = RdProducer(self.settings, self._on_ack, self._on_error,
                              delivery_timeout_s=self._delivery_timeout_s, overrides=self._overrides)
        try:
            producer.connect(bootstrap_timeout_s)
        except SendError:
            producer.retire()
            raise
        if self._create_topics and not self._topics_checked:
            self._topics_checked = True
            try:
                self.ensure_topics(timeout_s=bootstrap_timeout_s + 5.0)
            except AlertsError as e:  # e.g. no right to create topics on a managed cluster
                log.warning("could not check or create the closewatch topics: %s", e)
        return producer

    def ensure_topics(self, timeout_s: float = 30.0) -> list[str]:
        """Create the missing topics (configured partitions, ``retention.ms``); return those created."""
        return create_topics(self.settings, topic_specs(self.settings), timeout_s)

    # -- records --------------------------------------------------------------------
    def event_record(self, event: Event) -> Record:
        return Record(
            self.settings.events_topic,
            event.event_id.encode("utf-8"),
            codec.encode_event(event),
            tuple(codec.cloudevents_headers(event, self.source)),
        )

    def event_records(self, events: Sequence[Event]) -> list[Record]:
        """The records of many events: the same as :meth:`event_record` each, encoded as a batch."""
        topic = self.settings.events_topic
        return [Record(topic, e.event_id.encode("utf-8"), value, tuple(headers))
                for e, (value, headers) in zip(events, codec.encode_events(events, self.source))]

    def context_records(self, events: Sequence[Event]) -> list[Record]:
        """The records of context events (incidents the rule profile did not raise): event values
        on the context topic, key ``event_id``, ``ce_type`` ``org.closewatch.context.<kind>.v1``."""
        topic = self.settings.context_topic_name
        return [Record(topic, e.event_id.encode("utf-8"), value, tuple(headers))
                for e, (value, headers) in zip(events, codec.encode_events(events, self.source, codec.context_ce_type))]

    def track_record(self, update: TrackUpdate) -> Record:
        return Record(
            self.settings.tracks_topic,
            update.track_id.encode("utf-8"),
            codec.encode_track(update),
            tuple(codec.track_headers(update, self.source)),
        )

    def deadletter_record(self, letter: DeadLetter) -> Record:
        return Record(
            self.settings.deadletter_topic,
            letter.feed.encode("utf-8"),
            codec.encode_deadletter(letter),
            tuple(codec.deadletter_headers(letter, self.source)),
        )

    # -- publishing -----------------------------------------------------------------
    def publish_events(self, events: Iterable[Event]) -> int:
        """Hand events over for delivery (key ``event_id``); return how many.

        Returns once each is with the producer or durably in the spool. Raises
        :class:`SpoolFullError` or :class:`DeliveryError` when delivery has failed for good.
        """
        return self.publish_records(self.event_records(list(events)))

    def publish_context(self, events: Iterable[Event]) -> int:
        """Hand context events over for delivery to the context topic, as events are (spooled
        when the broker is away, counted by the ordinals); return how many."""
        return self.publish_records(self.context_records(list(events)))

    def track_records(self, updates: Sequence[TrackUpdate]) -> list[Record]:
        """The records of many updates: the same as :meth:`track_record` each, encoded as a batch."""
        topic = self.settings.tracks_topic
        return [
            Record(topic, u.track_id.encode("utf-8"), value, tuple(headers))
            for u, (value, headers) in zip(updates, codec.encode_tracks(updates, self.source))
        ]

    def publish_tracks(self, updates: Iterable[TrackUpdate]) -> int:
        """Hand track updates over for delivery (key ``track_id``); return how many.

        Returns at once: the sink's track thread encodes and sends them (in the
        order of the calls); ``flush``/``sync`` wait for them like for any record.
        Not spooled (unless ``spool_tracks``): while the broker is unreachable they
        are counted in ``stats()["dropped_tracks"]``; an update that cannot be
        encoded is logged and counted there too. The batch is acknowledged as one:
        ``ack_listener`` hears of its ordinals when its last record is acknowledged.
        """
        updates = list(updates)
        if not updates:
            return 0
        if self.spool_tracks:
            return self.publish_records(self.track_records(updates))
        self._check_usable()
        self._ensure_thread()
        if self._mode == _DIRECT and self._producer is None:
            self._connect()
        n = len(updates)
        with self._lock:
            first = self._next_ordinal
            self._next_ordinal += n
            if self._mode == _SPOOLING:
                try:
                    self._spool_locked([], dropped_tracks=n)
                finally:
                    self._cond.notify_all()
                return n
            group = _TrackGroup(self, first, updates, self.settings.tracks_topic)
            self._inflight[first] = (group, time.monotonic())
        if self._track_thread is None or not self._track_thread.is_alive():
            self._track_thread = threading.Thread(target=self._send_tracks, name="closewatch-kafka-tracks",
                                                  daemon=True)
            self._track_thread.start()
        self._track_queue.put(group)
        return n

    def _send_tracks(self) -> None:
        """The track thread: encode each batch of tracks and hand it to librdkafka, in order."""
        while True:
            group = self._track_queue.get()
            if group is None:
                return
            updates, group.updates = group.updates, None
            assert updates is not None
            try:
                encoded = self._encode_tracks(group, updates)
                with self._lock:
                    producer = self._producer
                    if self._inflight.get(group.first, (None,))[0] is not group:
                        continue  # given up meanwhile (an outage): counted as dropped then
                    if not encoded:
                        self._inflight.pop(group.first)
                        self._cond.notify_all()
                        continue
                    assert producer is not None, "direct mode always has a producer"
                producer.send_many(group.topic, encoded, group.delivered, self.spool_after_s)
            except SendError as e:
                if e.retriable:
                    self._switch_to_spool(e)
                else:
                    self._on_error(group.first, e)
            except Exception as e:  # noqa: BLE001 - the thread must not die silently
                self._thread_failed("track", e)
                return

    def _encode_tracks(self, group: _TrackGroup, updates: list[TrackUpdate]) -> list[tuple[bytes, bytes, Any]]:
        """(key, value, headers) of each update; one that cannot be encoded is logged, counted, left out;
        one too large to send is a dead letter."""
        try:
            pairs = codec.encode_tracks(updates, self.source)
            encoded = [(u.track_id.encode("utf-8"), v, h) for u, (v, h) in zip(updates, pairs)]
        except AlertsError:
            pass
        else:
            limit = self.settings.max_message_bytes - 4096  # the headers of a track are far below that
            if all(len(k) + len(v) <= limit for k, v, _ in encoded):
                return encoded
            fitting = [r for r in encoded if len(r[0]) + len(r[1]) <= limit]
            for k, v, _ in encoded:
                if len(k) + len(v) > limit:
                    self._refuse(group.topic, v, f"record too large: {len(k) + len(v):,} bytes, more than "
                                 f"kafka.max_message_bytes = {self.settings.max_message_bytes:,}", "encode")
            with self._lock:
                group.remaining -= len(encoded) - len(fitting)
            return fitting
        out = []
        for u in updates:
            try:
                out.append((u.track_id.encode("utf-8"), codec.encode_track(u), codec.track_headers(u, self.source)))
            except AlertsError as e:
                log.error("track update not published: %s", e)
        skipped = len(updates) - len(out)
        with self._lock:
            self._counts["dropped_tracks"] += skipped
            group.remaining -= skipped
        return out

    def publish_deadletters(self, letters: Iterable[DeadLetter]) -> int:
        return self.publish_records([self.deadletter_record(d) for d in letters])

    def feed_health_record(self, health: FeedHealth) -> Record:
        return Record(
            self.settings.deadletter_topic,
            health.feed.encode("utf-8"),
            codec.encode_feed_health(health),
            tuple(codec.feed_health_headers(health, self.source)),
        )

    def publish_feed_health(self, records: Iterable[FeedHealth]) -> int:
        """Feed health records to the dead-letter topic (``ce_type`` ``org.closewatch.feed_health.v1``)."""
        return self.publish_records([self.feed_health_record(h) for h in records])

    def push(self) -> None:
        """Nothing to do: librdkafka sends what it holds within ``linger.ms``."""

    # -- records refused for what they are ----------------------------------------------
    def _size(self, rec: Record) -> int:
        return len(rec.key) + len(rec.value) + sum(len(k) + len(v) for k, v in rec.headers) + 512

    def _refuse(self, topic: str, value: bytes, reason: str, stage: str) -> None:
        """A record not delivered for what it is: a dead letter (see the module docstring)."""
        with self._lock:
            self._counts["refused"] += 1
        if topic == self.settings.deadletter_topic:
            log.error("a dead-letter record was refused too (%s): dropped, %d bytes", reason, len(value))
            return
        log.error("a record for %s is not delivered (%s): it becomes a dead letter", topic, reason)
        letter = DeadLetter.of(topic, 0, bytes(value), reason,  # the codec keeps 64 KiB of it and its length
                               stage="encode" if stage == "encode" else "deliver")
        if self.reject_listener is not None:
            self.reject_listener(letter)
        else:
            self._refused_letters.append(letter)

    def _fitting(self, records: Sequence[Record]) -> Sequence[Record]:
        """``records`` without those too large to send (each a dead letter)."""
        limit = self.settings.max_message_bytes
        if all(self._size(r) <= limit for r in records):
            return records
        out = []
        for r in records:
            size = self._size(r)
            if size <= limit:
                out.append(r)
            else:
                self._refuse(r.topic, r.value, f"record too large: {size:,} bytes, more than "
                             f"kafka.max_message_bytes = {limit:,}", "encode")
        return out

    def publish_zones(self, zones: Iterable[Zone]) -> int:
        """Zones the feeds notified (exercise areas): not published, returns 0.

        The topics of the contract (docs/kafka.md) carry events, tracks and dead
        letters; a zone reaches subscribers as the ``zone_id`` and ``zone_name`` of
        the events about it (``exercise_near_border``, ``zone_entry``).
        """
        return 0

    def publish_records(self, records: Sequence[Record]) -> int:
        if self._refused_letters and self.reject_listener is None:
            letters = []
            while self._refused_letters:
                letters.append(self._refused_letters.popleft())
            records = [*records, *(self.deadletter_record(d) for d in letters)]
        records = self._fitting(records)
        if not records:
            return 0
        self._check_usable()
        self._ensure_thread()
        if self._mode == _DIRECT and self._producer is None:
            self._connect()
        with self._lock:
            first = self._next_ordinal
            self._next_ordinal += len(records)
            if self._mode == _SPOOLING:
                try:
                    self._spool_locked(list(zip(range(first, first + len(records)), records)))
                finally:
                    self._cond.notify_all()
                return len(records)
            producer = self._producer
            assert producer is not None, "direct mode always has a producer"
            now = time.monotonic()
            for i, rec in enumerate(records):
                self._inflight[first + i] = (rec, now)
        for i, rec in enumerate(records):
            try:
                producer.send(rec.topic, rec.value, rec.key, rec.headers, first + i, self.spool_after_s)
            except SendError as e:
                if e.refused:
                    self._on_refused(first + i, e)
                    continue
                if e.retriable:
                    # the rest of the batch is still in flight: the switch moves it to the spool
                    self._switch_to_spool(e)
                else:
                    self._on_error(first + i, e)
                break
        self._check_usable()
        return len(records)

    def _connect(self) -> None:
        try:
            producer = self._new_producer(self.connect_timeout_s)
        except KafkaSecurityError as e:
            self._fatal = self._fatal or e
            raise
        except SendError as e:
            if e.security and not self._connected_once:
                # The cluster answered and refused our TLS/SASL: a configuration error, not an outage.
                err = KafkaSecurityError(str(e))
                self._fatal = self._fatal or err
                raise err from e
            if self._spool is None:
                raise KafkaUnreachableError(f"Kafka at {self.settings.bootstrap_servers} unreachable: {e}") from e
            self._switch_to_spool(e)
            return
        self._connected_once = True
        with self._lock:
            if self._mode == _DIRECT and self._producer is None:
                self._producer = producer
                return
        producer.retire()

    def _spool_locked(self, items: list[tuple[int, Record]], dropped_tracks: int = 0) -> None:
        """Append (ordinal, record) pairs to the spool, count ``dropped_tracks``; the caller holds the lock."""
        if self._spool is None:
            err = DeliveryError(f"Kafka at {self.settings.bootstrap_servers} unreachable and no spool configured: "
                                f"{len(items) + dropped_tracks} records not delivered")
            self._fatal = self._fatal or err
            raise err
        keep: list[tuple[int, Record]] = []
        dropped = dropped_tracks
        for ordinal, rec in items:
            if rec.topic == self.settings.tracks_topic and not self.spool_tracks:
                dropped += 1
            else:
                keep.append((ordinal, rec))
        if dropped:
            if self._counts["dropped_tracks"] == 0 or dropped >= 1000:
                log.warning("Kafka unreachable: %d track updates not delivered (tracks are not spooled)", dropped)
            self._counts["dropped_tracks"] += dropped
        if not keep:
            return
        try:
            last = self._spool.append([rec for _, rec in keep])
        except SpoolFullError as e:
            self._fatal = self._fatal or e
            raise
        first_index = last - len(keep) + 1
        for j, (ordinal, _) in enumerate(keep):
            self._spooled.append((first_index + j, ordinal))
        self._counts["spooled"] += len(keep)

    # -- callbacks (the producer's I/O thread) ---------------------------------------
    def _on_ack(self, ordinal: int) -> None:
        if ordinal < 0:
            self._drain_result(ordinal, None)
            return
        with self._lock:
            if self._inflight.pop(ordinal, None) is None:
                return
            self._counts["acked"] += 1
            self._cond.notify_all()
        if self._ack_listener is not None:
            self._ack_listener(ordinal)

    def _on_group_acked(self, group: _TrackGroup) -> None:
        with self._lock:
            if self._inflight.pop(group.first, None) is None:
                return  # the batch was given up (an outage) meanwhile
            self._counts["acked"] += group.size
            self._cond.notify_all()
        if self._ack_listener is not None:
            for ordinal in range(group.first, group.first + group.size):
                self._ack_listener(ordinal)

    def _on_refused(self, ordinal: int, exc: SendError) -> None:
        """One record refused for what it is: a dead letter, and done as far as offsets go."""
        with self._lock:
            entry = self._inflight.pop(ordinal, None)
            self._cond.notify_all()
        if entry is None:
            return
        rec = entry[0]
        if isinstance(rec, Record):
            self._refuse(rec.topic, rec.value, f"refused by Kafka: {exc}", "deliver")
        if self._ack_listener is not None:
            self._ack_listener(ordinal)

    def _on_error(self, ordinal: int, exc: SendError, what: str | None = None) -> None:
        if ordinal < 0:
            self._drain_result(ordinal, exc)
            return
        if exc.refused:
            self._on_refused(ordinal, exc)
            return
        with self._lock:
            entry = self._inflight.get(ordinal)
            if entry is None:
                return  # already moved to the spool (or a record of the drain, handled there)
            if exc.retriable and self._spool is not None:
                self._switch_reason = self._switch_reason or exc
            else:
                rec = entry[0]
                what = what or (f"{rec.topic} (key {rec.key!r})" if isinstance(rec, Record) else rec.topic)
                self._fatal = self._fatal or DeliveryError(f"delivery to {what} failed for good: {exc}")
                log.error("%s", self._fatal)
            self._cond.notify_all()

    def _drain_result(self, token: int, exc: SendError | None) -> None:
        with self._drain_lock:
            if self._drain_outcome is not None:
                self._drain_outcome[token] = exc

    # -- switching ------------------------------------------------------------------
    def _switch_to_spool(self, reason: BaseException) -> None:
        with self._lock:
            if self._mode == _SPOOLING:
                return
            self._mode = _SPOOLING
            self._counts["outages"] += 1
            old, self._producer = self._producer, None
            self._retiring = old
            moved = sorted((o, rec) for o, (rec, _) in self._inflight.items() if isinstance(rec, Record))
            lost_tracks = sum(g.remaining for g, _ in self._inflight.values() if isinstance(g, _TrackGroup))
            self._inflight.clear()
            log.warning("Kafka at %s unreachable (%s): spooling %d in-flight and all new records to %s",
                        self.settings.bootstrap_servers, reason, len(moved) + lost_tracks,
                        self._spool.directory if self._spool is not None else "(no spool)")
            try:
                self._spool_locked(moved, dropped_tracks=lost_tracks)
            except AlertsError:
                pass  # fatal is set, the next call raises
            self._cond.notify_all()
        if old is not None:
            old.retire()
        with self._lock:
            self._retiring = None
        self._ensure_thread()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._supervise, name="closewatch-kafka-sink", daemon=True)
            self._thread.start()

    def _supervise(self) -> None:
        backoff_s = 0.2
        while not self._stop.is_set():
            try:
                if self._mode == _DIRECT:
                    self._watch_direct()
                    self._stop.wait(0.1)
                    continue
                if self._drain_once():
                    backoff_s = 0.2
                    continue
                self._stop.wait(backoff_s)
                backoff_s = min(backoff_s * 2, 5.0)
            except Exception as e:  # noqa: BLE001 - the thread must not die silently
                self._thread_failed("delivery", e)
                return

    def _thread_failed(self, which: str, e: Exception) -> None:
        with self._lock:
            self._fatal = self._fatal or DeliveryError(f"Kafka {which} thread failed: {e!r}")
            self._cond.notify_all()
        log.exception("Kafka %s thread failed", which)

    def _watch_direct(self) -> None:
        with self._lock:
            reason = self._switch_reason
            self._switch_reason = None
            if reason is None and self._inflight:
                _, (rec, sent) = next(iter(self._inflight.items()))
                age_s = time.monotonic() - sent
                if age_s > self.spool_after_s:
                    reason = TimeoutError(f"no acknowledgement for {age_s:.1f} s")
        if reason is not None and self._spool is not None:
            self._switch_to_spool(reason)

    def _drain_once(self) -> bool:
        """Deliver one batch of the spool; switch back to direct when it is empty. True on progress."""
        assert self._spool is not None
        if self._retiring is not None:
            return False
        if self._drain_producer is None:
            try:
                self._drain_producer = self._new_producer(min(self.connect_timeout_s, 3.0))
            except SendError as e:
                reason = str(e)
                if e.security and reason != self._last_outage_reason:
                    log.error("Kafka still refuses the connection, records stay in the spool: %s", reason)
                else:
                    log.debug("Kafka still unreachable: %s", e)
                self._last_outage_reason = reason
                return False
            self._connected_once = True
        producer = self._drain_producer
        batch = self._spool.peek(self.drain_batch)
        if not batch:
            with self._lock:
                if self._spool.pending_count == 0:
                    self._mode = _DIRECT
                    self._producer, self._drain_producer = producer, None
                    log.warning("Kafka at %s reachable again: spool delivered, back to direct sending",
                                self.settings.bootstrap_servers)
                    self._cond.notify_all()
            return True
        # Spool records travel with negative tokens: the callbacks tell them from direct sends.
        outcome: dict[int, SendError | None] = {}
        with self._drain_lock:
            self._drain_outcome = outcome
        failed: SendError | None = None
        try:
            for index, r in batch:
                try:
                    producer.send(r.topic, r.value, r.key, r.headers, -1 - index, self.spool_after_s)
                except SendError as e:
                    if not e.refused:
                        raise
                    with self._drain_lock:
                        outcome[-1 - index] = e  # refused for what it is: a dead letter below
            # Wait for every record's report (librdkafka gives one within the delivery timeout):
            # giving up earlier and resending through a new producer would duplicate what a slow
            # broker did store.
            producer.flush(self._delivery_timeout_s + 1.0)
        except SendError as e:
            failed = e
        with self._drain_lock:
            self._drain_outcome = None
            result = dict(outcome)
        refused = {token: e for token, e in result.items() if e is not None and e.refused}
        for token in refused:
            rec = next(r for index, r in batch if -1 - index == token)
            self._refuse(rec.topic, rec.value, f"refused by Kafka: {refused[token]}", "deliver")
        errors = [e for token, e in result.items() if e is not None and token not in refused]
        if failed is not None:
            errors.insert(0, failed)
        elif len(result) < len(batch):
            errors.append(SendError("no acknowledgement in time", retriable=True))
        if errors:
            exc = errors[0]
            if not exc.retriable:
                with self._lock:
                    self._fatal = self._fatal or DeliveryError(f"spooled record rejected by Kafka: {exc}")
                    self._cond.notify_all()
                log.error("%s", self._fatal)
                self._stop.set()
                return False
            log.debug("spool delivery interrupted (%s); retrying", exc)
            self._drain_producer = None
            producer.retire()
            return False
        last_index = batch[-1][0]
        self._spool.ack(last_index)
        acked: list[int] = []
        with self._lock:
            while self._spooled and self._spooled[0][0] <= last_index:
                acked.append(self._spooled.popleft()[1])
            self._counts["drained"] += len(batch)
            self._cond.notify_all()
        if self._ack_listener is not None:
            for ordinal in acked:
                self._ack_listener(ordinal)
        return True

    # -- progress -------------------------------------------------------------------
    def _check_usable(self) -> None:
        if self._closed:
            raise DeliveryError("the Kafka sink is closed")
        if self._fatal is not None:
            raise self._fatal

    def _acked_through_locked(self) -> int:
        firsts = []
        if self._inflight:
            firsts.append(next(iter(self._inflight)))
        if self._spooled:
            firsts.append(self._spooled[0][1])
        return min(firsts) - 1 if firsts else self._next_ordinal - 1

    def _durable_through_locked(self) -> int:
        return next(iter(self._inflight)) - 1 if self._inflight else self._next_ordinal - 1

    @property
    def last_ordinal(self) -> int:
        """Ordinal of the last record handed over (-1: none yet)."""
        with self._lock:
            return self._next_ordinal - 1

    @property
    def acked_through(self) -> int:
        """Every record with an ordinal up to this one is acknowledged by the broker."""
        with self._lock:
            return self._acked_through_locked()

    @property
    def durable_through(self) -> int:
        """Every record with an ordinal up to this one is acknowledged or fsynced in the spool."""
        with self._lock:
            return self._durable_through_locked()

    @property
    def mode(self) -> str:
        """``"direct"`` or ``"spooling"``."""
        return self._mode

    def stats(self) -> dict[str, int | str]:
        with self._lock:
            return {
                "mode": self._mode,
                "inflight": sum(r.remaining if isinstance(r, _TrackGroup) else 1 for r, _ in self._inflight.values()),
                "spool_pending": self._spool.pending_count if self._spool else 0,
                **self._counts,
            }

    def _wait(self, which: str, target: int, timeout_s: float | None) -> None:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        get = self._acked_through_locked if which == "acked" else self._durable_through_locked
        with self._lock:
            while get() < target:
                if self._fatal is not None:
                    raise self._fatal
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise DeliveryError(
                        f"records up to #{target} not {which} within {timeout_s} s "
                        f"({len(self._inflight)} in flight, "
                        f"{self._spool.pending_count if self._spool else 0} in the spool)"
                    )
                self._cond.wait(0.5 if remaining is None else min(remaining, 0.5))
            if self._fatal is not None:
                raise self._fatal

    def flush(self, timeout_s: float | None = None) -> None:
        """Return when every record handed over so far is acknowledged by the broker.

        While the broker is down this waits for it (spooled records count only
        once delivered); raises :class:`DeliveryError` after ``timeout_s``.
        """
        self._wait("acked", self.last_ordinal, timeout_s)

    def sync(self, timeout_s: float | None = None) -> None:
        """Return when every record handed over so far is safe: acknowledged, or fsynced in the spool.

        What a pipeline waits for before committing its input offsets.
        """
        self._wait("durable", self.last_ordinal, timeout_s)

    def close(self, timeout_s: float = 30.0) -> None:
        """Deliver what can be delivered within ``timeout_s``; keep the rest in the spool; stop.

        Never drops: records still unacknowledged at the end are moved to the
        spool (delivered at the next start). Raises if delivery had failed for good.
        """
        if self._closed:
            return
        try:
            self.flush(timeout_s)
        except DeliveryError as e:
            if self._fatal is not None:
                log.error("closing the Kafka sink after a delivery failure: %s", e)
            elif self._mode == _DIRECT and self._inflight:
                self._switch_to_spool(e)
        finally:
            self._stop.set()
            if self._track_thread is not None:
                self._track_queue.put(None)
                self._track_thread.join(30.0)
            if self._thread is not None:
                self._thread.join(30.0)
            for p in (self._producer, self._drain_producer):
                if p is None:
                    continue
                if self._inflight or self._fatal:
                    p.retire()
                else:
                    p.close(timeout_s)
            self._producer = self._drain_producer = None
            self._closed = True
            if self._spool is not None:
                if self._spool.pending_count:
                    log.warning("%d records stay in the spool %s until the next start",
                                self._spool.pending_count, self._spool.directory)
                self._spool.close()
        if self._fatal is not None:
            raise self._fatal

    def __enter__(self) -> "KafkaSink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
