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
import re
import socket
import ssl
import threading
import time
from typing import Any, Callable, Mapping, Sequence

from config.kafka_clients import kafka_client_settings
from config.settings import ConfigError, KafkaSettings

from alerts.errors import AlertsError, KafkaSecurityError

__all__ = ["RdProducer", "SendError", "rdkafka_config", "security_hint", "tls_probe"]

log = logging.getLogger(__name__)


class SendError(AlertsError):
    """A record could not be delivered; ``retriable`` says whether the spool can help.

    ``security``: the cluster answered but refused the connection's TLS or SASL
    (a configuration error: waiting does not help). ``refused``: this one record was
    refused for what it is (too large, invalid), not for the connection: it becomes a
    dead letter and the others go on.
    """

    def __init__(self, message: str, retriable: bool, security: bool = False, refused: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable
        self.security = security
        self.refused = refused


def rdkafka_config(settings: KafkaSettings) -> dict[str, Any]:
    """librdkafka settings for the connection: servers, client id, TLS and SASL (PLAIN, SCRAM),
    from :func:`config.kafka_clients.kafka_client_settings`."""
    try:
        cfg = kafka_client_settings(settings, "librdkafka")
    except ConfigError as e:
        raise AlertsError(str(e)) from e
    return {**cfg, "client.id": settings.client_id}


# What the TLS libraries say when a handshake is refused, by either side (OpenSSL's wording).
_TLS_REFUSED = re.compile(r"SSL routines|ssl/tls alert|certificate|CERTIFICATE|handshake", re.IGNORECASE)


def security_hint(settings: KafkaSettings, message: str) -> str:
    """Which closewatch settings a TLS or SASL refusal points at, for the error message."""
    low = message.lower()
    if "verify failed" in low or "unable to get local issuer" in low or "self-signed" in low \
            or "hostname mismatch" in low or "ip address mismatch" in low:
        ca = settings.ssl_cafile or "the system trust store"
        return (f"the broker's certificate is not trusted: it must be signed by the CA in kafka.ssl_cafile ({ca}) "
                f"and name the address dialled ({settings.bootstrap_servers})")
    if "alert" in low and ("bad certificate" in low or "certificate required" in low or "unknown ca" in low
                           or "certificate unknown" in low or "handshake failure" in low):
        cert = settings.ssl_certfile or "none configured"
        return (f"the broker refused the client certificate: kafka.ssl_certfile ({cert}) and kafka.ssl_keyfile "
                "must hold a certificate signed by a CA the broker trusts")
    if "sasl" in low or "authentication" in low:
        return (f"the broker rejected the SASL credentials: check kafka.sasl_mechanism ({settings.sasl_mechanism}), "
                "kafka.sasl_username and kafka.sasl_password")
    if "ssl.key" in low or "pem" in low or "ssl.certificate" in low or "ssl.ca" in low:
        return ("a TLS file could not be read: check kafka.ssl_cafile, kafka.ssl_certfile, kafka.ssl_keyfile "
                "and kafka.ssl_key_password")
    return "check the TLS and SASL settings of [kafka]"


def tls_probe(settings: KafkaSettings, timeout_s: float = 3.0) -> str | None:
    """Try a TLS handshake with each bootstrap server as kafka-python would; return the first refusal.

    ``None`` when TLS is off, when every reachable server accepts the handshake,
    or when no server answers at all (then the problem is not TLS). A client
    certificate refused under TLS 1.3 shows only after the handshake: the probe
    waits up to a second for the broker's alert. Used to explain a failed
    kafka-python bootstrap, which only logs the reason.
    """
    if settings.security_protocol not in ("SSL", "SASL_SSL"):
        return None
    try:
        ctx = ssl.create_default_context(cafile=settings.ssl_cafile)
        if settings.ssl_certfile:
            ctx.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile, settings.ssl_key_password)
    except (OSError, ssl.SSLError) as e:
        return f"TLS files unusable: {e}"
    for server in (s.strip() for s in settings.bootstrap_servers.split(",") if s.strip()):
        host, _, port = server.rpartition(":")
        host = host.strip("[]")
        try:
            raw = socket.create_connection((host, int(port)), timeout=timeout_s)
        except (OSError, ValueError):
            continue  # not answering: an outage, not a TLS problem
        try:
            with ctx.wrap_socket(raw, server_hostname=host) as tls:
                tls.settimeout(1.0)
                try:
                    tls.recv(1)  # a Kafka broker never speaks first: only an alert arrives here
                except (socket.timeout, TimeoutError):
                    pass
        except ssl.SSLError as e:
            return f"TLS handshake with {server} failed: {e}"
        except OSError:
            continue
    return None


# librdkafka error codes that mean "the cluster is not reachable now": the spool helps.
_UNREACHABLE = {"_MSG_TIMED_OUT", "_TRANSPORT", "_ALL_BROKERS_DOWN", "_TIMED_OUT", "_RESOLVE",
                "_PURGE_QUEUE", "_PURGE_INFLIGHT", "NOT_ENOUGH_REPLICAS", "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
                "REQUEST_TIMED_OUT", "LEADER_NOT_AVAILABLE", "NOT_LEADER_FOR_PARTITION"}


# librdkafka error codes that refuse one record for what it is: a dead letter, the rest goes on.
_REFUSED = {"MSG_SIZE_TOO_LARGE", "_MSG_SIZE_TOO_LARGE", "INVALID_MSG", "INVALID_MSG_SIZE", "CORRUPT_MESSAGE",
            "INVALID_RECORD", "RECORD_LIST_TOO_LARGE", "MESSAGE_TOO_LARGE"}


def _send_error(err: Any) -> SendError:
    name = err.name() if hasattr(err, "name") else str(err)
    retriable = name in _UNREACHABLE or bool(getattr(err, "retriable", lambda: False)())
    return SendError(f"{name}: {err.str() if hasattr(err, 'str') else err}", retriable and name not in _REFUSED,
                     refused=name in _REFUSED)


def _is_security_refusal(name: str, message: str) -> bool:
    if name in ("_SSL", "_AUTHENTICATION", "SASL_AUTHENTICATION_FAILED", "TOPIC_AUTHORIZATION_FAILED",
                "CLUSTER_AUTHORIZATION_FAILED"):
        return True
    return name == "_TRANSPORT" and bool(_TLS_REFUSED.search(message))


_DIGITS = re.compile(r"\d+")


class _QuietLog:
    """librdkafka's log lines, each distinct line at most once per ``window_s`` (a retry loop repeats them).

    confluent-kafka calls ``log(level, fmt, *args)`` from its own threads.
    """

    def __init__(self, target: logging.Logger, window_s: float = 60.0) -> None:
        self._target = target
        self._window_s = window_s
        self._seen: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def log(self, level: int, msg: str, *args: Any) -> None:
        text = msg % args if args else msg
        key = _DIGITS.sub("#", text.split("]: ", 1)[-1])  # "after 3ms" and thread tags vary
        now = time.monotonic()
        with self._lock:
            first, repeats = self._seen.get(key, (-1e18, 0))
            if now - first < self._window_s:
                self._seen[key] = (first, repeats + 1)
                return
            if len(self._seen) > 1000:
                self._seen.clear()
            self._seen[key] = (now, 0)
        if repeats:
            text += f" (and {repeats} times more in the last {self._window_s:.0f} s)"
        self._target.log(level, "%s", text)


# One for every producer: the spool's reconnection attempts make new producers that repeat the same lines.
_LIBRDKAFKA_LOG = _QuietLog(logging.getLogger("alerts.transport.librdkafka"))


class _ClientErrors:
    """What librdkafka's error callback reported (client-level errors: connection, TLS, SASL)."""

    def __init__(self) -> None:
        self.last: tuple[str, str] | None = None
        self.security: str | None = None

    def seen(self, err: Any) -> None:
        name, text = err.name(), err.str()
        self.last = (name, text)
        if _is_security_refusal(name, text):
            self.security = text


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
        from confluent_kafka import KafkaException, Producer

        self._settings = settings
        self._kafka_exception = KafkaException
        self._on_ack = on_ack
        self._on_error = on_error
        # librdkafka's error callback holds this small record, not the producer: a callback bound
        # to the producer would make a reference cycle with librdkafka's handle, which then
        # outlives a retired producer (its sockets and threads) until a full garbage collection
        # (seen as some 6 more descriptors after each broker outage).
        self._errors = _ClientErrors()
        cfg = {
            "linger.ms": 5,
            "request.timeout.ms": 10_000,
            **dict(overrides or {}),
            **rdkafka_config(settings),
            "acks": "all",
            "enable.idempotence": True,
            "max.in.flight.requests.per.connection": 5,
            "message.timeout.ms": int(delivery_timeout_s * 1000),
            "message.max.bytes": settings.max_message_bytes,
            "error_cb": self._errors.seen,
        }
        try:
            self._producer = Producer(cfg, logger=_LIBRDKAFKA_LOG)
        except KafkaException as e:
            text = str(e.args[0].str() if e.args and hasattr(e.args[0], "str") else e)
            if re.search(r"ssl|sasl", text, re.IGNORECASE):
                raise KafkaSecurityError(f"Kafka client settings refused: {text}; {security_hint(settings, text)}") from e
            raise AlertsError(f"librdkafka refused the producer settings: {text}") from e
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, name="closewatch-rdkafka-poll", daemon=True)
        self._poller.start()

    @property
    def last_error(self) -> tuple[str, str] | None:
        """(librdkafka error name, text) of the last client-level error."""
        return self._errors.last

    @property
    def security_error(self) -> str | None:
        """The last TLS/SASL refusal seen."""
        return self._errors.security

    def connect(self, bootstrap_timeout_s: float) -> None:
        """Wait for cluster metadata: the broker answers (and accepts our credentials).

        Raises a retriable :class:`SendError`; ``security`` is set when the
        broker answered but refused our TLS or SASL (the message says which setting).
        """
        from confluent_kafka import KafkaException

        start = time.monotonic()
        deadline = start + bootstrap_timeout_s
        while True:
            try:
                self._producer.list_topics(timeout=max(min(0.5, deadline - time.monotonic()), 0.01))
                return
            except KafkaException as e:
                now = time.monotonic()
                # A refusal seen for a second is not a broker still starting: say so early.
                refused = self.security_error is not None and now - start >= 1.0
                if not refused and now < deadline:
                    continue
                if self.security_error is not None:
                    raise SendError(
                        f"Kafka at {self._settings.bootstrap_servers} refused the connection: "
                        f"{self.security_error}; {security_hint(self._settings, self.security_error)}",
                        retriable=True, security=True) from e
                why = f" (last error: {self.last_error[1]})" if self.last_error else ""
                raise SendError(f"no answer from Kafka within {bootstrap_timeout_s} s: {e}{why}",
                                retriable=True) from e

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    def _delivered(self, token: Any, err: Any, _msg: Any) -> None:
        if err is None:
            self._on_ack(token)
        else:
            self._on_error(token, _send_error(err))

    def send(self, topic: str, value: bytes, key: bytes, headers: Sequence[tuple[str, bytes]], token: Any,
             max_block_s: float) -> None:
        """Queue one record, reported as ``token``; blocks up to ``max_block_s`` while the local queue is full."""
        self.send_many(topic, ((key, value, list(headers)),), functools.partial(self._delivered, token), max_block_s)

    def send_many(self, topic: str, records: Sequence[tuple[bytes, bytes, Any]],
                  on_delivery: Callable[[Any, Any], None], max_block_s: float) -> None:
        """Queue (key, value, headers) records, each reported to ``on_delivery(err, msg)`` (librdkafka's own call).

        For many records of one kind (track updates): no token nor wrapper per record.
        Blocks up to ``max_block_s`` per record while the local queue is full.
        """
        produce = self._producer.produce
        for key, value, headers in records:
            deadline: float | None = None
            while True:
                try:
                    produce(topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
                    break
                except BufferError:
                    now = time.monotonic()
                    deadline = now + max_block_s if deadline is None else deadline
                    if now >= deadline:
                        raise SendError(f"local producer queue full for {max_block_s} s", retriable=True) from None
                    time.sleep(0.01)
                except self._kafka_exception as e:
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
