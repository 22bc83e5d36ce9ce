"""The producer transport: librdkafka (confluent-kafka) behind the small interface KafkaSink needs.

kafka-python reaches about 3,000-5,000 acknowledged records/s on this kind of
machine (pure Python, one GIL for encoding and I/O); the sink must carry 20,000
track updates/s plus their events, so records go out through librdkafka, whose
I/O runs in native threads. Admin calls and consumers stay on kafka-python.

:class:`RdProducer` sends with ``acks=all`` and idempotence (librdkafka keeps
the order per partition across retries, KIP-98), reports each record's outcome
to a callback from its own poll thread, and can be *retired*: purged without
delivering what it still holds (those records are in the spool by then).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import Any, Callable, Mapping

from config.settings import KafkaSettings

from alerts.errors import AlertsError

__all__ = ["RdProducer", "SendError", "rdkafka_config", "security_items"]

log = logging.getLogger(__name__)


class SendError(AlertsError):
    """A record could not be delivered; ``retriable`` says whether the spool can help."""

    def __init__(self, message: str, retriable: bool) -> None:
        super().__init__(message)
        self.retriable = retriable


def security_items(settings: KafkaSettings) -> dict[str, Any]:
    """The TLS and SASL settings in force for ``security_protocol`` (generic names, ``None`` left out).

    Keys: ``sasl_mechanism``, ``sasl_username``, ``sasl_password`` (SASL_*),
    ``ssl_cafile``, ``ssl_certfile``, ``ssl_keyfile`` (SSL, SASL_SSL).
    """
    items: dict[str, Any] = {}
    if settings.security_protocol.startswith("SASL"):
        if settings.sasl_mechanism is None:
            raise AlertsError(f"kafka.security_protocol={settings.security_protocol} needs kafka.sasl_mechanism")
        items.update(sasl_mechanism=settings.sasl_mechanism, sasl_username=settings.sasl_username,
                     sasl_password=settings.sasl_password)
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        items.update(ssl_cafile=settings.ssl_cafile, ssl_certfile=settings.ssl_certfile,
                     ssl_keyfile=settings.ssl_keyfile)
    return {k: v for k, v in items.items() if v is not None}


_RDKAFKA_NAMES = {
    "sasl_mechanism": "sasl.mechanism",
    "sasl_username": "sasl.username",
    "sasl_password": "sasl.password",
    "ssl_cafile": "ssl.ca.location",
    "ssl_certfile": "ssl.certificate.location",
    "ssl_keyfile": "ssl.key.location",
}


def rdkafka_config(settings: KafkaSettings) -> dict[str, Any]:
    """librdkafka settings for the connection: servers, client id, TLS and SASL (PLAIN, SCRAM)."""
    cfg: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "client.id": settings.client_id,
        "security.protocol": settings.security_protocol.lower(),
    }
    cfg.update({_RDKAFKA_NAMES[k]: v for k, v in security_items(settings).items()})
    return cfg


# librdkafka error codes that mean "the cluster is not reachable now": the spool helps.
_UNREACHABLE = {"_MSG_TIMED_OUT", "_TRANSPORT", "_ALL_BROKERS_DOWN", "_TIMED_OUT", "_RESOLVE",
                "_PURGE_QUEUE", "_PURGE_INFLIGHT", "NOT_ENOUGH_REPLICAS", "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
                "REQUEST_TIMED_OUT", "LEADER_NOT_AVAILABLE", "NOT_LEADER_FOR_PARTITION"}


def _send_error(err: Any) -> SendError:
    name = err.name() if hasattr(err, "name") else str(err)
    retriable = name in _UNREACHABLE or bool(getattr(err, "retriable", lambda: False)())
    return SendError(f"{name}: {err.str() if hasattr(err, 'str') else err}", retriable)


class RdProducer:
    """One librdkafka producer; ``send`` reports to ``on_ack(token)`` / ``on_error(token, SendError)``.

    ``connect()`` fails with a retriable :class:`SendError` when no broker
    answers within ``bootstrap_timeout_s`` (librdkafka itself connects lazily).
    """

    def __init__(
        self,
        settings: KafkaSettings,
        on_ack: Callable[[Any], None],
        on_error: Callable[[Any, SendError], None],
        *,
        delivery_timeout_s: float,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        from confluent_kafka import Producer

        self._on_ack = on_ack
        self._on_error = on_error
        cfg = {
            "linger.ms": 5,
            "request.timeout.ms": 10_000,
            **dict(overrides or {}),
            **rdkafka_config(settings),
            "acks": "all",
            "enable.idempotence": True,
            "max.in.flight.requests.per.connection": 5,
            "message.timeout.ms": int(delivery_timeout_s * 1000),
        }
        self._producer = Producer(cfg, logger=logging.getLogger("alerts.transport.librdkafka"))
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, name="closewatch-rdkafka-poll", daemon=True)
        self._poller.start()

    def connect(self, bootstrap_timeout_s: float) -> None:
        """Wait for cluster metadata: the broker answers (and accepts our credentials)."""
        from confluent_kafka import KafkaException

        try:
            self._producer.list_topics(timeout=bootstrap_timeout_s)
        except KafkaException as e:
            raise SendError(f"no answer from Kafka within {bootstrap_timeout_s} s: {e}", retriable=True) from e

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    def _delivered(self, token: Any, err: Any, _msg: Any) -> None:
        if err is None:
            self._on_ack(token)
        else:
            self._on_error(token, _send_error(err))

    def send(self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]], token: Any,
             max_block_s: float) -> None:
        """Queue one record; blocks up to ``max_block_s`` while the local queue is full."""
        from confluent_kafka import KafkaException

        hdrs: list[tuple[str, str | bytes | None]] = list(headers)
        deadline = time.monotonic() + max_block_s
        callback = functools.partial(self._delivered, token)
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, headers=hdrs, on_delivery=callback)
                return
            except BufferError:
                if time.monotonic() >= deadline:
                    raise SendError(f"local producer queue full for {max_block_s} s", retriable=True) from None
                time.sleep(0.01)
            except KafkaException as e:
                raise _send_error(e.args[0]) from e

    def flush(self, timeout_s: float) -> int:
        """Wait for outstanding deliveries; return how many are still outstanding."""
        return int(self._producer.flush(timeout_s))

    def retire(self) -> None:
        """Drop what is queued or in flight (reported as errors, ignored by the sink) and stop."""
        try:
            self._producer.purge(in_queue=True, in_flight=True, blocking=False)
            self._producer.flush(0)
        finally:
            self._stop.set()
            self._poller.join(5.0)

    def close(self, timeout_s: float) -> int:
        """Deliver what is outstanding within ``timeout_s`` and stop; return what was left."""
        left = self.flush(timeout_s)
        self._stop.set()
        self._poller.join(5.0)
        return left
