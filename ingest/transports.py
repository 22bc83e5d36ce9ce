"""Transports: where a feed's bytes come from.

Every transport yields *units* for one decoder, as the decoder's ``framing`` asks:

* ``"lines"``: lines (bytes, no line ending) for the line formats (AIS, SBS-1, raw
  Mode S, generic tracks);
* ``"documents"``: whole documents for the formats parsed as one (aircraft.json,
  exercise GeoJSON, NOTAM): a file, an HTTP body, a datagram, a Kafka record;
* ``"stream"``: chunks of a byte stream cut wherever (CoT): a file read in pieces,
  appended bytes, TCP segments, datagrams, records.

The same decoder reads them whatever the transport: one decode path.

Hostile input never costs more memory than the caps: a line longer than
``max_line_bytes`` is handed on cut to ``max_line_bytes + 1`` bytes (the decoder
dead-letters it as oversized) and the rest of it is skipped, never held; a document
longer than ``max_document_bytes`` likewise (``DEFAULT_LIMITS`` when not given).

Recordings compressed with gzip or Zstandard are recognised by their magic bytes (not
only by a ``.gz``/``.zst`` suffix) and decompressed on the way, by ``file`` (a file or
each file of a folder) and ``follow`` (also while the file grows).

TCP feeds set ``SO_KEEPALIVE`` and ``TCP_KEEPIDLE``/``TCP_KEEPINTVL``/``TCP_KEEPCNT`` (a
dead peer is noticed within about ``KEEPALIVE_IDLE_S + KEEPALIVE_INTERVAL_S *
KEEPALIVE_COUNT``) and reconnect when nothing arrived for ``read_timeout_s`` (a silent
server, a half-open connection).

All of them stop promptly when the ``stop`` event is set (sockets and waits time out
every ``_TICK_S``) and never raise on bad *input*; they raise :class:`TransportError`
only for what cannot go on (a missing file, a port that cannot be bound).
"""

from __future__ import annotations

import gzip
import logging
import os
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, Literal

import zstandard

from ingest._common import DEFAULT_LIMITS, Limits
from ingest.errors import TransportError
from ingest.positions import KafkaPositions, Positions

__all__ = [
    "KEEPALIVE_COUNT",
    "KEEPALIVE_IDLE_S",
    "KEEPALIVE_INTERVAL_S",
    "Backoff",
    "Framing",
    "GroupWatch",
    "LineSplitter",
    "compression_of",
    "configure_keepalive",
    "file_units",
    "follow_units",
    "http_units",
    "kafka_units",
    "open_recording",
    "tcp_units",
    "udp_units",
]

log = logging.getLogger(__name__)

Framing = Literal["lines", "documents", "stream"]

_TICK_S = 0.2
_LAST_WORD_S = 60.0  # how long a stopping Kafka feed waits for its reader's last commit request
_READ_BYTES = 1 << 20  # a file is read in pieces of this size

#: TCP keepalive: the first probe after this long without traffic, then every
#: KEEPALIVE_INTERVAL_S, the connection given up after KEEPALIVE_COUNT unanswered probes.
KEEPALIVE_IDLE_S = 30
KEEPALIVE_INTERVAL_S = 10
KEEPALIVE_COUNT = 3

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


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


class LineSplitter:
    """Lines out of chunks of a byte stream, at most ``max_line_bytes`` of each held.

    ``feed`` returns the complete lines (LF or CR LF ends; the ending removed) of what
    came so far; a line longer than the cap comes out once, cut to ``max_line_bytes + 1``
    bytes (so its reader knows it was longer), and the rest of it is dropped as it comes.
    ``flush`` returns the unfinished last line, if any.
    """

    __slots__ = ("cap", "_tail", "_skipping")

    def __init__(self, max_line_bytes: int = DEFAULT_LIMITS.max_line_bytes) -> None:
        self.cap = max_line_bytes
        self._tail = b""
        self._skipping = False

    def feed(self, data: bytes) -> list[bytes]:
        cap = self.cap
        parts = data.split(b"\n")
        last = parts.pop()
        out: list[bytes] = []
        if parts:
            if self._skipping:  # the end of an oversized line: dropped with it
                self._skipping = False
                del parts[0]
            elif self._tail:
                parts[0] = self._tail + parts[0]
            self._tail = b""
            for line in parts:
                out.append(line[: cap + 1] if len(line) > cap else line.rstrip(b"\r"))
        if not self._skipping:
            tail = self._tail + last if self._tail else last
            if len(tail) > cap:
                out.append(tail[: cap + 1])
                self._skipping = True
                tail = b""
            self._tail = tail
        return out

    def flush(self) -> list[bytes]:
        tail, skipping = self._tail, self._skipping
        self._tail, self._skipping = b"", False
        return [tail.rstrip(b"\r")] if tail and not skipping else []


# -- recordings: plain, gzip or Zstandard ---------------------------------------------


def compression_of(head: bytes) -> Literal["gzip", "zstd"] | None:
    """The compression a file's first bytes announce (RFC 1952; RFC 8878 frame magic)."""
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    return None


def open_recording(path: Path) -> IO[bytes]:
    """A file for reading, decompressed when its magic bytes say gzip or Zstandard."""
    try:
        raw = path.open("rb")
    except OSError as e:
        raise TransportError(f"cannot open {path}: {e}") from e
    try:
        kind = compression_of(raw.read(4))
        raw.seek(0)
    except OSError as e:
        raw.close()
        raise TransportError(f"cannot read {path}: {e}") from e
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if kind == "zstd":
        return zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)  # type: ignore[return-value]
    return raw


def _incremental(kind: Literal["gzip", "zstd"]) -> Callable[[bytes], bytes]:
    """A decompressor of a growing compressed file: appended bytes in, new plain bytes out
    (a gzip file may hold several members one after another, RFC 1952 section 2.2)."""
    if kind == "zstd":
        return zstandard.ZstdDecompressor().decompressobj(read_across_frames=True).decompress
    state = [zlib.decompressobj(wbits=31)]

    def decompress(data: bytes) -> bytes:
        out = []
        while data:
            d = state[0]
            out.append(d.decompress(data))
            if not d.eof:
                break
            data = d.unused_data
            state[0] = zlib.decompressobj(wbits=31)
        return b"".join(out)

    return decompress


_READ_ERRORS = (OSError, EOFError, zlib.error, zstandard.ZstdError)


def _chunks(p: Path, stop: threading.Event | None) -> Iterator[bytes]:
    """The (decompressed) bytes of a file, a piece at a time. ``read1``: a cut compressed
    file gives every piece before the cut, then fails (``read`` would fill its whole
    piece first and lose up to a megabyte before the cut)."""
    with open_recording(p) as f:
        try:
            while not _stopped(stop):
                data = f.read1(_READ_BYTES)  # type: ignore[attr-defined]
                if not data:
                    return
                yield data
        except _READ_ERRORS as e:
            raise TransportError(f"reading {p} failed: {e}") from e


def file_lines(path: str | Path, stop: threading.Event | None = None, limits: Limits = DEFAULT_LIMITS) -> Iterator[bytes]:
    """Lines of a file (decompressed), without line endings, until EOF or ``stop``."""
    splitter = LineSplitter(limits.max_line_bytes)
    for data in _chunks(Path(path), stop):
        yield from splitter.feed(data)
    yield from splitter.flush()


def _read_whole(p: Path, cap: int) -> bytes:
    """A file's (decompressed) content, at most ``cap + 1`` bytes of it."""
    with open_recording(p) as f:
        try:
            return f.read(cap + 1)
        except _READ_ERRORS as e:
            raise TransportError(f"reading {p} failed: {e}") from e


def folder_files(path: Path) -> list[Path]:
    """The files of a folder a feed reads: regular files not starting with ``.``, in name order."""
    try:
        return sorted(c for c in path.iterdir() if c.is_file() and not c.name.startswith("."))
    except OSError as e:
        raise TransportError(f"cannot list {path}: {e}") from e


def file_units(
    path: str | Path, framing: Framing, stop: threading.Event | None = None, limits: Limits = DEFAULT_LIMITS
) -> Iterator[bytes]:
    """A file replayed once, in its decoder's framing (lines, its whole content, or pieces);
    a folder: each of its files in name order (``ingest.folders`` reads a folder feed in
    data-time order instead)."""
    p = Path(path)
    if p.is_dir():
        for child in folder_files(p):
            if _stopped(stop):
                return
            yield from file_units(child, framing, stop, limits)
        return
    if not p.exists():
        raise TransportError(f"cannot open {p}: no such file")
    if framing == "lines":
        yield from file_lines(p, stop, limits)
    elif framing == "stream":
        yield from _chunks(p, stop)
    else:
        yield _read_whole(p, limits.max_document_bytes)


# -- follow a growing file -----------------------------------------------------------


def follow_units(
    path: str | Path,
    framing: Framing,
    stop: threading.Event | None = None,
    *,
    poll_s: float = _TICK_S,
    from_start: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> Iterator[bytes]:
    """Follow a file as it grows (``tail -F``).

    Lines (and stream pieces): what is appended after the file was first opened (from its
    start when ``from_start``); a truncated or replaced file (rotation) is reopened from its
    start. A gzip or Zstandard file is decompressed as it grows (it is then always read
    from its start: a compressed stream cannot be entered in the middle). Documents: the
    whole (decompressed) file each time it is rewritten (its size or modification time
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
                    last = sig
                    data = _read_whole(p, limits.max_document_bytes)
                    if data.strip():
                        yield data
            except FileNotFoundError:
                pass
            except (OSError, TransportError) as e:
                log.warning("follow %s: %s", p, e)
            _sleep(stop, poll_s)
        return
    f: IO[bytes] | None = None
    inode = None
    seek_end = not from_start
    splitter = LineSplitter(limits.max_line_bytes)
    decompress: Callable[[bytes], bytes] | None = None
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
                kind = compression_of(f.read(4))
                f.seek(0)
                decompress = _incremental(kind) if kind is not None else None
                if seek_end and decompress is None:
                    f.seek(0, os.SEEK_END)
                seek_end = False
            data = f.read(65536)
            if data:
                if decompress is not None:
                    try:
                        data = decompress(data)
                    except _READ_ERRORS as e:
                        log.warning("follow %s: cannot decompress: %s; waiting for the file to be replaced", p, e)
                        decompress = lambda _data: b""  # noqa: E731 - skip to the next rotation
                        continue
                if framing == "stream":
                    if data:
                        yield data
                else:
                    yield from splitter.feed(data)
                continue
            try:  # at the end: rotated or truncated?
                st = p.stat()
                if st.st_ino != inode or st.st_size < f.tell():
                    log.info("follow %s: file replaced or truncated, reopening", p)
                    f.close()
                    f = None
                    splitter = LineSplitter(limits.max_line_bytes)
                    continue
            except FileNotFoundError:
                pass
            _sleep(stop, poll_s)
    finally:
        if f is not None:
            f.close()


# -- TCP client ----------------------------------------------------------------------


def configure_keepalive(sock: socket.socket) -> None:
    """Turn on TCP keepalive with :data:`KEEPALIVE_IDLE_S`, :data:`KEEPALIVE_INTERVAL_S` and
    :data:`KEEPALIVE_COUNT` (the options a platform lacks are left at its defaults)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE_S),
        ("TCP_KEEPALIVE", KEEPALIVE_IDLE_S),  # the name macOS gives the idle time
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL_S),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
    ):
        option = getattr(socket, name, None)
        if option is not None:
            sock.setsockopt(socket.IPPROTO_TCP, option, value)


def tcp_units(
    host: str,
    port: int,
    framing: Framing,
    stop: threading.Event | None = None,
    *,
    backoff: Backoff | None = None,
    connect_timeout_s: float = 5.0,
    read_timeout_s: float = 60.0,
    max_connects: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Iterator[bytes]:
    """Read a TCP server (dump1090 30003, an AIS forwarder), reconnecting with backoff.

    A connection that fails, ends, or brings nothing for ``read_timeout_s`` (a server gone
    silent, a half-open connection) is closed and retried after 0.5 s, 1 s, 2 s ... up to
    30 s; the delay resets once a connection has delivered data. Keepalive probes (see the
    module doc) end a connection whose peer is gone even when the timeout is long. An
    unfinished line at a disconnect is handed on as it is (the decoder dead-letters it).
    ``max_connects`` bounds the attempts (tests); None retries until ``stop``.
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
        splitter = LineSplitter(limits.max_line_bytes)
        try:
            configure_keepalive(sock)
            sock.settimeout(_TICK_S)
            last_data = time.monotonic()
            while not _stopped(stop):
                try:
                    data = sock.recv(65536)
                except socket.timeout:
                    silent_s = time.monotonic() - last_data
                    if silent_s >= read_timeout_s:
                        log.warning(
                            "tcp %s:%d: nothing received for %.0f s (read_timeout_s); reconnecting", host, port, silent_s
                        )
                        break
                    continue
                except OSError as e:
                    log.warning("tcp %s:%d: %s", host, port, e)
                    break
                if not data:
                    log.warning("tcp %s:%d: connection closed by the server", host, port)
                    break
                last_data = time.monotonic()
                backoff.reset()
                if framing == "lines":
                    yield from splitter.feed(data)
                else:
                    yield data
        finally:
            sock.close()
        yield from splitter.flush()
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

    Lines: each datagram's lines; documents and stream: each datagram whole. Binds
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
    limits: Limits = DEFAULT_LIMITS,
) -> Iterator[bytes]:
    """GET ``url`` every ``interval_s`` (readsb/dump1090 ``/data/aircraft.json``); each body is a document.

    A failed request (refused, timeout, HTTP error) is logged and retried at the next
    interval; the feed goes on. Of a body longer than ``max_document_bytes`` only that
    many bytes and one more are read (the decoder dead-letters it as oversized).
    """
    polls = 0
    while not _stopped(stop):
        if max_polls is not None and polls >= max_polls:
            return
        polls += 1
        started = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 - configured URL
                body = resp.read(limits.max_document_bytes + 1)
            yield body
        except (urllib.error.URLError, OSError, ValueError) as e:
            log.warning("http %s: %s", url, e)
        wait = interval_s - (time.monotonic() - started)
        if wait > 0 and _sleep(stop, wait):
            return


# -- Kafka consumer ------------------------------------------------------------------


def know_topic(consumer: Any, topic: str, partitions: int = 1, wait_s: float = 10.0) -> None:
    """Wait (up to ``wait_s``) until ``consumer``'s metadata knows ``partitions`` partitions of
    ``topic``, before it subscribes: a group's leader assigns only the partitions its metadata
    knows, so a topic just created, not yet in it, leaves the first generation with nothing
    assigned (and, with kafka-python 3.0, the leader out of its group: :class:`GroupWatch`)."""
    deadline = time.monotonic() + wait_s
    while len(consumer.partitions_for_topic(topic)) < partitions and time.monotonic() < deadline:
        time.sleep(0.2)


class GroupWatch:
    """Notices a consumer that fell out of its consumer group for good.

    Seen with kafka-python 3.0 on a loaded machine: the coordinator removes a member (a missed
    heartbeat, a rebalance listener that outlasts the session) and the member never joins again,
    polling nothing for ever, often still believing it holds its partitions, while the others
    hold every partition. The consumer joins with :attr:`client_id` (unique to this watch); every
    ``after_s`` one DescribeGroups request (kafka-python's admin client) asks whether the
    coordinator lists it among the members of its settled group. A member that holds no
    partition but is listed is legitimate (more members than partitions). When it answers True,
    the consumer's partitions are lost (others hold them now) and it is to join again, under a new
    :attr:`client_id`.
    """

    def __init__(self, group_id: str, connection: dict[str, object], after_s: float = 30.0) -> None:
        self._group_id = group_id
        self._connection = connection
        self._after_s = after_s
        self._asked = time.monotonic()
        self._admin: Any = None
        self._name = str(connection.get("client_id") or "closewatch")  # the configured name leads
        self.client_id = ""
        self._new_client_id()

    def _new_client_id(self) -> None:
        self.client_id = f"{self._name}-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"

    def fell_out(self) -> bool:
        now = time.monotonic()
        if now - self._asked < self._after_s:
            return False
        self._asked = now
        try:
            from kafka.admin import KafkaAdminClient
            from kafka.errors import KafkaError

            if self._admin is None:
                self._admin = KafkaAdminClient(**self._connection)
            described = self._admin.describe_groups([self._group_id]).get(self._group_id, {})
        except (KafkaError, OSError, ValueError) as e:  # the broker is away: the consumer retries by itself
            log.debug("kafka group %s not described: %s", self._group_id, e)
            return False
        members = described.get("members") or []
        if members and described.get("group_state") != "Stable":
            return False  # a rebalance under way: the member may be joining; ask again later
        if any(m.get("client_id") == self.client_id for m in members):
            return False
        self._new_client_id()
        return True

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()


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

    Lines: each record value's lines (a raw feed line per record, or several); documents
    and stream: each value whole. ``max_idle_polls`` ends the iterator after that many empty polls in
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

    # Where this process goes on reading a partition it read before (a consumer made anew after it
    # fell out of its group): the next offset; otherwise the pipeline's checkpoint, if any.
    next_offset: dict[tuple[str, int], int] = {}

    class _SeekToCheckpoint(ConsumerRebalanceListener):  # type: ignore[misc]
        def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
            for tp in revoked:  # another member may read it now: back to the checkpoint if it returns
                next_offset.pop((tp.topic, tp.partition), None)

        def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
            for tp in assigned:
                offset = next_offset.get((tp.topic, tp.partition))
                if offset is None and positions is not None:
                    offset = positions.initial.get((tp.topic, tp.partition))
                if offset is not None:
                    consumer.seek(tp, offset)

    # A topic created after the feed joined its group: the group is assigned nothing until the
    # client's metadata is refreshed (kafka-python's default: every 5 minutes); 10 s instead.
    connection: dict[str, object] = {"bootstrap_servers": bootstrap_servers, "metadata_max_age_ms": 10_000,
                                     **(client_config or {})}

    def join() -> Any:
        try:
            made = KafkaConsumer(group_id=group_id, auto_offset_reset=start_from,
                                 enable_auto_commit=positions is None, **{**connection, "client_id": watch.client_id})
            know_topic(made, topic)
            made.subscribe([topic], listener=_SeekToCheckpoint())
        except KafkaError as e:
            raise TransportError(f"kafka {bootstrap_servers} topic {topic}: {e}") from e
        return made

    def _offsets(at: Positions) -> dict[Any, Any]:
        """Positions as kafka-python commits them."""
        return {TopicPartition(t, p): OffsetAndMetadata(off, "", -1) for (t, p), off in at.items()}

    watch = GroupWatch(group_id, connection)
    consumer = join()
    idle = 0
    try:
        while not _stopped(stop):
            if watch.fell_out():
                # kafka-python 3.0 under load (GroupWatch): a new consumer joins afresh and goes
                # on where this one was
                log.warning("kafka %s: this feed's consumer is no longer a member of group %s: joining again",
                            topic, group_id)
                consumer.close()
                consumer = join()
            if positions is not None:
                positions.units_exhausted()
                pending = positions.take_commit()
                if pending:
                    try:
                        consumer.commit(_offsets(pending))
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
                    next_offset[(tp.topic, tp.partition)] = rec.offset + 1
                    value = rec.value
                    if value is None:
                        continue
                    if framing == "lines":
                        yield from value.splitlines()
                    else:
                        yield value
        if positions is not None:
            # stopped between records: every record handed out is done; the reader's last request
            # (an ingest worker's, once what it read is acknowledged) is committed before the
            # consumer goes
            positions.units_exhausted()
            last = positions.last_request(_LAST_WORD_S)
            if last:
                try:
                    consumer.commit(_offsets(last))
                except KafkaError as e:
                    log.warning("kafka %s: last offsets not committed (%s): the next reader reads them again", topic, e)
    finally:
        consumer.close()
        watch.close()
