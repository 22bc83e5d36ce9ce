"""Publishing events, tracks and dead letters to Kafka with delivery guarantees.

:class:`KafkaSink` wraps one kafka-python producer with ``acks=all``,
idempotence (KIP-98: no duplicates from retries, order kept per partition with up
to 5 requests in flight) and unbounded retries within ``delivery_timeout_ms``.
Keys: ``event_id`` for events (every revision of one incident goes to the same
partition, in order), ``track_id`` for tracks, the feed name for dead letters.

Every record gets a rising *ordinal* when published. :meth:`KafkaSink.flush`
returns only when every record published so far is acknowledged by the broker,
and :attr:`KafkaSink.acked_through` is the highest ordinal up to which all
records are acknowledged: a pipeline reading tracks from Kafka remembers
``mark = sink.last_ordinal`` after publishing the events of a batch and commits
the batch's consumer offsets once ``sink.acked_through >= mark``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable

from config.records import DeadLetter, TrackUpdate
from config.settings import KafkaSettings
from proximity.events import Event

from alerts import codec
from alerts.errors import AlertsError, DeliveryError

__all__ = ["KafkaSink", "Record", "TopicSpec", "client_security_config", "topic_specs"]

log = logging.getLogger(__name__)


def client_security_config(settings: KafkaSettings) -> dict[str, Any]:
    """kafka-python keyword arguments for the connection: servers, TLS and SASL (PLAIN, SCRAM)."""
    cfg: dict[str, Any] = {
        "bootstrap_servers": [s.strip() for s in settings.bootstrap_servers.split(",") if s.strip()],
        "security_protocol": settings.security_protocol,
    }
    if settings.security_protocol.startswith("SASL"):
        if settings.sasl_mechanism is None:
            raise AlertsError(f"kafka.security_protocol={settings.security_protocol} needs kafka.sasl_mechanism")
        cfg["sasl_mechanism"] = settings.sasl_mechanism
        cfg["sasl_plain_username"] = settings.sasl_username
        cfg["sasl_plain_password"] = settings.sasl_password
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        cfg["ssl_cafile"] = settings.ssl_cafile
        cfg["ssl_certfile"] = settings.ssl_certfile
        cfg["ssl_keyfile"] = settings.ssl_keyfile
    return cfg


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int


def topic_specs(settings: KafkaSettings) -> list[TopicSpec]:
    """The three topics closewatch writes: events, tracks, dead letters."""
    return [
        TopicSpec(t, settings.partitions, settings.retention_ms)
        for t in (settings.events_topic, settings.tracks_topic, settings.deadletter_topic)
    ]


@dataclass(frozen=True, slots=True)
class Record:
    """One Kafka record as closewatch writes it."""

    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


class KafkaSink:
    """The producer side of the contract (see module docstring and docs/kafka.md).

    Creating the sink does not touch the network; the producer connects on the
    first publish. ``producer_overrides`` are extra kafka-python producer settings
    (``linger_ms``, ``batch_size``, ...); the delivery settings (``acks``,
    idempotence, retries) are fixed.
    """

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        source: str = codec.CE_SOURCE,
        producer_overrides: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.source = source
        self._overrides = dict(producer_overrides or {})
        self._producer: Any = None
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._next_ordinal = 0  # ordinal of the next record
        self._pending: dict[int, Record] = {}  # published, not yet acknowledged (insertion-ordered)
        self._acked_through = -1
        self._failures: list[tuple[Record, BaseException]] = []
        self.acked_count = 0

    # -- connection ---------------------------------------------------------------
    def _client_config(self) -> dict[str, Any]:
        cfg = client_security_config(self.settings)
        cfg["client_id"] = self.settings.client_id
        return cfg

    def _get_producer(self) -> Any:
        if self._producer is None:
            from kafka import KafkaProducer
            from kafka.errors import KafkaError

            cfg = {
                "linger_ms": 5,
                "max_block_ms": 30_000,
                **self._overrides,
                **self._client_config(),
                "acks": "all",
                "enable_idempotence": True,
                "retries": float("inf"),
                "max_in_flight_requests_per_connection": 5,
            }
            try:
                self._producer = KafkaProducer(**cfg)
            except KafkaError as e:
                raise DeliveryError(f"cannot connect a producer to {self.settings.bootstrap_servers}: {e}") from e
        return self._producer

    def ensure_topics(self, timeout_s: float = 30.0) -> list[str]:
        """Create the missing topics (configured partitions, ``retention.ms``); return those created.

        Replication factor: the cluster default (``default.replication.factor``, KIP-464).
        """
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        specs = topic_specs(self.settings)
        try:
            admin = KafkaAdminClient(request_timeout_ms=int(timeout_s * 1000), **self._client_config())
        except KafkaError as e:
            raise DeliveryError(f"cannot reach Kafka at {self.settings.bootstrap_servers}: {e}") from e
        try:
            existing = set(admin.list_topics())
            wanted = {
                s.name: {"num_partitions": s.partitions, "configs": {"retention.ms": str(s.retention_ms)}}
                for s in specs
                if s.name not in existing
            }
            if not wanted:
                return []
            result = admin.create_topics(wanted, timeout_ms=int(timeout_s * 1000), raise_errors=False,
                                         wait_for_metadata=False)
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
            raise DeliveryError(f"creating topics on {self.settings.bootstrap_servers} failed: {e}") from e
        finally:
            admin.close()

    # -- publishing ---------------------------------------------------------------
    def event_record(self, event: Event) -> Record:
        return Record(
            self.settings.events_topic,
            event.event_id.encode("utf-8"),
            codec.encode_event(event),
            tuple(codec.cloudevents_headers(event, self.source)),
        )

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

    def publish_events(self, events: Iterable[Event]) -> int:
        """Queue events for delivery (key ``event_id``); return how many. Non-blocking but for metadata."""
        return self.publish_records(self.event_record(e) for e in events)

    def publish_tracks(self, updates: Iterable[TrackUpdate]) -> int:
        return self.publish_records(self.track_record(u) for u in updates)

    def publish_deadletters(self, letters: Iterable[DeadLetter]) -> int:
        return self.publish_records(self.deadletter_record(d) for d in letters)

    def publish_records(self, records: Iterable[Record]) -> int:
        from kafka.errors import KafkaError

        producer = self._get_producer()
        n = 0
        for rec in records:
            with self._lock:
                ordinal = self._next_ordinal
                self._next_ordinal += 1
                self._pending[ordinal] = rec
            try:
                fut = producer.send(rec.topic, value=rec.value, key=rec.key, headers=list(rec.headers))
            except KafkaError as e:
                self._on_error(ordinal, e)
                continue
            fut.add_callback(self._on_ack, ordinal)
            fut.add_errback(self._on_error, ordinal)
            n += 1
        return n

    def _on_ack(self, ordinal: int, _metadata: Any) -> None:
        with self._lock:
            self._pending.pop(ordinal, None)
            self.acked_count += 1
            self._advance()
            self._done.notify_all()

    def _on_error(self, ordinal: int, exc: BaseException) -> None:
        with self._lock:
            rec = self._pending.get(ordinal)
            if rec is not None:
                self._failures.append((rec, exc))
                log.error("delivery to %s failed: %s", rec.topic, exc)
            self._done.notify_all()

    def _advance(self) -> None:
        # acked_through: every ordinal <= it is acknowledged (pending is insertion ordered).
        if self._pending:
            self._acked_through = next(iter(self._pending)) - 1
        else:
            self._acked_through = self._next_ordinal - 1

    # -- progress -----------------------------------------------------------------
    @property
    def last_ordinal(self) -> int:
        """Ordinal of the last record published (-1: none yet)."""
        with self._lock:
            return self._next_ordinal - 1

    @property
    def acked_through(self) -> int:
        """Every record with an ordinal up to this one is acknowledged by the broker."""
        with self._lock:
            return self._acked_through

    @property
    def pending_count(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self, timeout_s: float | None = None) -> None:
        """Return when every record published so far is acknowledged; else raise :class:`DeliveryError`."""
        producer = self._producer
        target = self.last_ordinal
        if producer is None or target < 0:
            return
        from kafka.errors import KafkaTimeoutError

        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        try:
            producer.flush(timeout=timeout_s)
        except KafkaTimeoutError as e:
            raise DeliveryError(f"{self.pending_count} records not acknowledged within {timeout_s} s") from e
        with self._lock:
            while self._acked_through < target:
                if self._failures:
                    rec, exc = self._failures[0]
                    raise DeliveryError(
                        f"{len(self._failures)} records failed (first: topic {rec.topic} key {rec.key!r}: {exc})"
                    )
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise DeliveryError(f"{len(self._pending)} records not acknowledged within {timeout_s} s")
                self._done.wait(remaining)

    def close(self, timeout_s: float = 30.0) -> None:
        """Flush, then close the producer."""
        if self._producer is None:
            return
        try:
            self.flush(timeout_s)
        finally:
            self._producer.close(timeout=timeout_s)
            self._producer = None

    def __enter__(self) -> "KafkaSink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
