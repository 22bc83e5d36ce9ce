"""Transports: where a feed's bytes come from.

Every transport yields *units* for one decoder: lines (bytes, no line ending) for the
line formats (AIS, SBS-1, raw Mode S, generic tracks), or whole documents / stream
chunks for the document formats (aircraft.json, CoT, exercise GeoJSON, NOTAM). The same
decoder reads them whatever the transport: one decode path.

All of them stop promptly when the ``stop`` event is set (sockets and waits time out
every ``_TICK_S``) and never raise on bad *input*; they raise :class:`TransportError`
only for what cannot go on (a missing file, a port that cannot be bound).
"""

from __future__ import annotations

import gzip
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Iterable, Iterator, Literal

from ingest.errors import TransportError
from ingest.positions import KafkaPositions

__all__ = [
    "Framing",
    "Backoff",
    "file_units",
    "follow_units",
    "http_units",
    "kafka_units",
    "split_lines",
    "tcp_units",
    "udp_units",
]

log = logging.getLogger(__name__)

Framing = Literal["lines", "documents"]

_TICK_S = 0.2
MAX_LINE_BYTES = 64 * 1024


def _stopped(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


def _sleep(stop: threading.Event | None, seconds: float) -> bool:
    """Wait ``seconds``; True when ``stop`` was set meanwhile."""
    if stop is None:
        time.sleep(seconds)
        return False
    return stop.wait(seconds)


class Backoff:
    """Exponential reconnect delays: ``initial_s``, doubling, capped at ``max_s``; ``reset()`` after success."""

    def __init__(self, initial_s: float = 0.5, max_s: float = 30.0) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self.next_s = initial_s

    def step(self) -> float:
        d = self.next_s
        self.next_s = min(self.max_s, self.next_s * 2)
        return d

    def reset(self) -> None:
        self.next_s = self.initial_s


def split_lines(buffer: bytearray, data: bytes) -> Iterator[bytes]:
    """Append ``data`` to ``buffer`` and yield every complete line (CR LF or LF)."""
    buffer += data
    while True:
        i = buffer.find(b"\n")
        if i < 0:
            break
        line = bytes(buffer[:i]).rstrip(b"\r")
        del buffer[: i + 1]
        yield line
    if len(buffer) > MAX_LINE_BYTES:  # no line ending in sight: hand it on (a dead letter)
        line = bytes(buffer)
        buffer.clear()
        yield line


# -- file ----------------------------------------------------------------------------


def _open(path: Path) -> IO[bytes]:
    try:
        if path.suffix == ".gz":
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return path.open("rb")
    except OSError as e:
        raise TransportError(f"cannot open {path}: {e}") from e


def file_lines(path: str | Path, stop: threading.Event | None = None) -> Iterator[bytes]:
    """Lines of a file (``.gz`` decompressed), without line endings, until EOF or ``stop``."""
    p = Path(path)
    with _open(p) as f:
        try:
            for line in f:
                if stop is not None and stop.is_set():
                    return
                yield line.rstrip(b"\r\n")
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise TransportError(f"reading {p} failed: {e}") from e


def _read_whole(p: Path) -> bytes:
    with _open(p) as f:
        try:
            return f.read()
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise TransportError(f"reading {p} failed: {e}") from e


def file_units(path: str | Path, framing: Framing, stop: threading.Event | None = None) -> Iterator[bytes]:
    """A file replayed once: its lines, or (documents) its content; a directory: each file in name order."""
    p = Path(path)
    if framing == "lines":
        if p.is_dir():
            for child in sorted(c for c in p.iterdir() if c.is_file()):
                yield from file_lines(child, stop)
            return
        yield from file_lines(p, stop)
        return
    if p.is_dir():
        for child in sorted(c for c in p.iterdir() if c.is_file()):
            if _stopped(stop):
                return
            yield _read_whole(child)
        return
    if not p.exists():
        raise TransportError(f"cannot open {p}: no such file")
    yield _read_whole(p)


# -- follow a growing file -----------------------------------------------------------


def follow_units(
    path: str | Path,
    framing: Framing,
    stop: threading.Event | None = None,
    *,
    poll_s: float = _TICK_S,
    from_start: bool = False,
) -> Iterator[bytes]:
    """Follow a file as it grows (``tail -F``).

    Lines: lines appended after the file was first opened (from its start when
    ``from_start``); a truncated or replaced file (rotation) is reopened from its start.
    Documents: the whole file each time it is rewritten (its size or modification time
    changes), as dump1090 rewrites ``aircraft.json`` every second. A file that does not
    exist yet is waited for.
    """
    p = Path(path)
    if framing == "documents":
        last: tuple[int, int] | None = None
        while not _stopped(stop):
            try:
                st = p.stat()
                sig = (st.st_mtime_ns, st.st_size)
                if sig != last:
                    data = p.read_bytes()
                    last = sig
                    if data.strip():
                        yield data
            except FileNotFoundError:
                pass
            except OSError as e:
                log.warning("follow %s: %s", p, e)
            _sleep(stop, poll_s)
        return
    f: IO[bytes] | None = None
    inode = None
    seek_end = not from_start
    buffer = bytearray()
    try:
        while not _stopped(stop):
            if f is None:
                try:
                    f = p.open("rb")
                except FileNotFoundError:
                    seek_end = False  # a file created later is read from its start
                    _sleep(stop, poll_s)
                    continue
                except OSError as e:
                    raise TransportError(f"cannot follow {p}: {e}") from e
                inode = os.fstat(f.fileno()).st_ino
                if seek_end:
                    f.seek(0, os.SEEK_END)
                    seek_end = False
            data = f.read(65536)
            if data:
                yield from split_lines(buffer, data)
                continue
            try:  # at the end: rotated or truncated?
                st = p.stat()
                if st.st_ino != inode or st.st_size < f.tell():
                    log.info("follow %s: file replaced or truncated, reopening", p)
                    f.close()
                    f = None
                    buffer.clear()
                    continue
            except FileNotFoundError:
                pass
            _sleep(stop, poll_s)
    finally:
        if f is not None:
            f.close()


# -- TCP client ----------------------------------------------------------------------


def tcp_units(
    host: str,
    port: int,
    framing: Framing,
    stop: threading.Event | None = None,
    *,
    backoff: Backoff | None = None,
    connect_timeout_s: float = 5.0,
    max_connects: int | None = None,
) -> Iterator[bytes]:
    """Read a TCP server (dump1090 30003, an AIS forwarder), reconnecting with backoff.

    A connection that fails or ends is retried after 0.5 s, 1 s, 2 s ... up to 30 s;
    the delay resets once a connection has delivered data. An unfinished line at a
    disconnect is handed on as it is (the decoder dead-letters it). ``max_connects``
    bounds the attempts (tests); None retries until ``stop``.
    """
    backoff = backoff or Backoff()
    attempts = 0
    while not _stopped(stop):
        if max_connects is not None and attempts >= max_connects:
            return
        attempts += 1
        try:
            sock = socket.create_connection((host, port), timeout=connect_timeout_s)
        except OSError as e:
            delay = backoff.step()
            log.warning("tcp %s:%d: connect failed (%s); retrying in %.1f s", host, port, e, delay)
            if _sleep(stop, delay):
                return
            continue
        log.info("tcp %s:%d: connected", host, port)
        buffer = bytearray()
        try:
            sock.settimeout(_TICK_S)
            while not _stopped(stop):
                try:
                    data = sock.recv(65536)
                except socket.timeout:
                    continue
                except OSError as e:
                    log.warning("tcp %s:%d: %s", host, port, e)
                    break
                if not data:
                    log.warning("tcp %s:%d: connection closed by the server", host, port)
                    break
                backoff.reset()
                if framing == "lines":
                    yield from split_lines(buffer, data)
                else:
                    yield data
        finally:
            sock.close()
        if buffer:
            yield bytes(buffer)
        delay = backoff.step()
        if _sleep(stop, delay):
            return


# -- UDP listener --------------------------------------------------------------------


def udp_units(
    port: int,
    framing: Framing,
    stop: threading.Event | None = None,
    *,
    host: str = "127.0.0.1",
    ready: threading.Event | None = None,
    sock: socket.socket | None = None,
) -> Iterator[bytes]:
    """Datagrams on ``host:port`` (AIS is often sent as one or more sentences per datagram).

    Lines: each datagram's lines; documents: each datagram whole (one CoT event). Binds
    ``127.0.0.1`` unless ``host`` says otherwise (``0.0.0.0`` for a network receiver).
    ``ready`` is set once the socket is bound.
    """
    own = sock is None
    if sock is None:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((host, port))
        except OSError as e:
            sock.close()
            raise TransportError(f"udp {host}:{port}: cannot bind: {e}") from e
    sock.settimeout(_TICK_S)
    if ready is not None:
        ready.set()
    try:
        while not _stopped(stop):
            try:
                data, _addr = sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError as e:
                log.warning("udp %s:%d: %s", host, port, e)
                continue
            if framing == "lines":
                for line in data.splitlines():
                    yield line
            else:
                yield data
    finally:
        if own:
            sock.close()


# -- HTTP polling --------------------------------------------------------------------


def http_units(
    url: str,
    interval_s: float,
    stop: threading.Event | None = None,
    *,
    timeout_s: float = 10.0,
    max_polls: int | None = None,
) -> Iterator[bytes]:
    """GET ``url`` every ``interval_s`` (readsb/dump1090 ``/data/aircraft.json``); each body is a document.

    A failed request (refused, timeout, HTTP error) is logged and retried at the next
    interval; the feed goes on.
    """
    polls = 0
    while not _stopped(stop):
        if max_polls is not None and polls >= max_polls:
            return
        polls += 1
        started = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 - configured URL
                body = resp.read()
            yield body
        except (urllib.error.URLError, OSError, ValueError) as e:
            log.warning("http %s: %s", url, e)
        wait = interval_s - (time.monotonic() - started)
        if wait > 0 and _sleep(stop, wait):
            return


# -- Kafka consumer ------------------------------------------------------------------


def kafka_units(
    topic: str,
    framing: Framing,
    stop: threading.Event | None = None,
    *,
    bootstrap_servers: str,
    group_id: str,
    start_from: Literal["earliest", "latest"] = "latest",
    client_config: dict[str, object] | None = None,
    max_idle_polls: int | None = None,
    positions: KafkaPositions | None = None,
) -> Iterator[bytes]:
    """Records of ``topic`` read in consumer group ``group_id`` (kafka-python, classic group protocol).

    Lines: each record value's lines (a raw feed line per record, or several); documents:
    each value whole. ``max_idle_polls`` ends the iterator after that many empty polls in
    a row (tests); None reads until ``stop``. ``client_config``: further kafka-python
    settings of the consumer (the ``[kafka]`` section's cluster, TLS and SASL, from
    :func:`config.kafka_clients.kafka_client_settings`; its servers replace ``bootstrap_servers``).

    Without ``positions`` offsets are committed automatically (kafka-python's periodic
    auto-commit). With ``positions`` (a running pipeline) nothing is committed but what
    the pipeline asks for once its sinks acknowledged the results
    (:class:`ingest.positions.KafkaPositions`), and assigned partitions start from the
    pipeline's checkpoint where it has one.
    """
    try:
        from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
        from kafka.errors import KafkaError
        from kafka.structs import OffsetAndMetadata
    except ImportError as e:  # pragma: no cover - kafka-python is a dependency
        raise TransportError("kafka-python is not installed") from e

    class _SeekToCheckpoint(ConsumerRebalanceListener):  # type: ignore[misc]
        def on_partitions_revoked(self, revoked: object) -> None:
            pass

        def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
            for tp in assigned:
                offset = positions.initial.get((tp.topic, tp.partition)) if positions else None
                if offset is not None:
                    consumer.seek(tp, offset)

    try:
        connection: dict[str, object] = {"bootstrap_servers": bootstrap_servers, **(client_config or {})}
        consumer = KafkaConsumer(
            group_id=group_id,
            auto_offset_reset=start_from,
            enable_auto_commit=positions is None,
            **connection,
        )
        consumer.subscribe([topic], listener=_SeekToCheckpoint())
    except KafkaError as e:
        raise TransportError(f"kafka {bootstrap_servers} topic {topic}: {e}") from e
    idle = 0
    try:
        while not _stopped(stop):
            if positions is not None:
                positions.units_exhausted()
                pending = positions.take_commit()
                if pending:
                    try:
                        consumer.commit(
                            {TopicPartition(t, p): OffsetAndMetadata(off, "", -1) for (t, p), off in pending.items()}
                        )
                    except KafkaError as e:
                        # A rebalance or a coordinator move: the pipeline's checkpoint holds the
                        # truth, the group's offsets only follow it; try again at the next poll.
                        log.info("kafka %s: offset commit deferred: %s", topic, e)
                        positions.request_commit(pending, only_if_none=True)
            batches = consumer.poll(timeout_ms=int(_TICK_S * 1000))
            if not batches:
                idle += 1
                if max_idle_polls is not None and idle >= max_idle_polls:
                    return
                continue
            idle = 0
            for tp, records in batches.items():
                for rec in records:
                    if positions is not None:
                        positions.record_started(tp.topic, tp.partition, rec.offset)
                    value = rec.value
                    if value is None:
                        continue
                    if framing == "lines":
                        yield from value.splitlines()
                    else:
                        yield value
    finally:
        consumer.close()
