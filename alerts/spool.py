"""A bounded, durable, ordered on-disk spool of Kafka records.

When the broker cannot be reached, :class:`~alerts.producer.KafkaSink` appends
records here instead of dropping them, and delivers them in order when the
broker is back. The spool survives a restart of closewatch.

Layout of the spool directory:

* ``seg-<first index, 20 digits>.log``: append-only segments of frames
  ``b"CW" | u32 payload length | u32 CRC-32 of payload | payload`` (big endian);
  the payload is ``u16 topic length, topic, u32 key length, key, u32 value length,
  value, u16 header count, (u16 name length, name, u32 value length, value)*``.
* ``head``: the index of the first record not yet delivered (written to a
  temporary file, fsynced, renamed).
* ``lock``: an exclusive ``flock`` so two processes never share a spool.

Every append is fsynced (file, and the directory when a segment is created)
before it returns. A frame torn by a crash at the end of the last segment is cut
off when the spool is opened; a bad frame anywhere else is an error, never
skipped silently. Appending beyond ``max_bytes`` of undelivered records raises
:class:`~alerts.errors.SpoolFullError` (and logs an error): nothing is dropped.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Sequence

from alerts.errors import AlertsError, SpoolFullError, SpoolInUseError
from config.durable import fsync_dir

__all__ = ["Spool", "SpoolCorruptError", "Record"]

log = logging.getLogger(__name__)

_MAGIC = b"CW"
_FRAME = struct.Struct(">2sII")  # magic, payload length, crc32
_SEG_PREFIX = "seg-"
_SEG_SUFFIX = ".log"


class SpoolCorruptError(AlertsError):
    """A spool frame failed its check somewhere other than a torn tail."""


@dataclass(frozen=True, slots=True)
class Record:
    """One Kafka record as closewatch writes it (and the spool keeps it)."""

    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def _encode(rec: Record) -> bytes:
    topic = rec.topic.encode("utf-8")
    parts = [struct.pack(">H", len(topic)), topic, struct.pack(">I", len(rec.key)), rec.key,
             struct.pack(">I", len(rec.value)), rec.value, struct.pack(">H", len(rec.headers))]
    for name, value in rec.headers:
        n = name.encode("utf-8")
        parts += [struct.pack(">H", len(n)), n, struct.pack(">I", len(value)), value]
    payload = b"".join(parts)
    return _FRAME.pack(_MAGIC, len(payload), zlib.crc32(payload)) + payload


def _decode(payload: bytes) -> Record:
    pos = 0

    def take(fmt: str) -> int:
        nonlocal pos
        (n,) = struct.unpack_from(fmt, payload, pos)
        pos += struct.calcsize(fmt)
        return int(n)

    def blob(n: int) -> bytes:
        nonlocal pos
        out = payload[pos:pos + n]
        if len(out) != n:
            raise ValueError("payload shorter than its lengths")
        pos += n
        return out

    topic = blob(take(">H")).decode("utf-8")
    key = blob(take(">I"))
    value = blob(take(">I"))
    headers = []
    for _ in range(take(">H")):
        name = blob(take(">H")).decode("utf-8")
        headers.append((name, blob(take(">I"))))
    return Record(topic, key, value, tuple(headers))


@dataclass
class _Segment:
    base: int  # index of its first record
    path: Path
    count: int
    size: int
    offsets: list[int]  # byte offset of each frame (kept for the undelivered segments only)
    sizes: list[int]


class Spool:
    """Ordered durable record queue in ``directory``, at most ``max_bytes`` of undelivered frames.

    Indices are global and keep rising across restarts. :meth:`append` is durable
    when it returns; :meth:`peek` reads from the head; :meth:`ack` moves the head
    (and deletes delivered segments). Thread-safe.
    """

    def __init__(self, directory: Path | str, max_bytes: int, segment_bytes: int = 8 * 1024 * 1024) -> None:
        if max_bytes <= 0:
            raise AlertsError(f"spool max_bytes={max_bytes} must be positive")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_file: IO[bytes] | None = open(self.directory / "lock", "ab")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            self._lock_file.close()
            self._lock_file = None
            raise SpoolInUseError(f"spool {self.directory} is in use by another closewatch process") from e
        self._segments: list[_Segment] = []
        self._head = self._read_head()
        self._writer: IO[bytes] | None = None
        self._load()

    # -- opening ------------------------------------------------------------------
    def _read_head(self) -> int:
        try:
            return int((self.directory / "head").read_text(encoding="ascii").strip())
        except FileNotFoundError:
            return 0
        except ValueError as e:
            raise SpoolCorruptError(f"{self.directory / 'head'}: not an index") from e

    def _load(self) -> None:
        paths = sorted(self.directory.glob(f"{_SEG_PREFIX}*{_SEG_SUFFIX}"))
        for i, path in enumerate(paths):
            base = int(path.name[len(_SEG_PREFIX):-len(_SEG_SUFFIX)])
            data = path.read_bytes()
            offsets: list[int] = []
            sizes: list[int] = []
            pos = 0
            while pos < len(data):
                bad = self._check_frame(data, pos)
                if bad is not None:
                    if i == len(paths) - 1:
                        log.warning("spool %s: cutting a torn frame at byte %d (%s)", path, pos, bad)
                        with open(path, "r+b") as f:
                            f.truncate(pos)
                            os.fsync(f.fileno())
                        data = data[:pos]
                        break
                    raise SpoolCorruptError(f"spool segment {path}: bad frame at byte {pos}: {bad}")
                (_, length, _) = _FRAME.unpack_from(data, pos)
                offsets.append(pos)
                sizes.append(_FRAME.size + length)
                pos += _FRAME.size + length
            seg = _Segment(base, path, len(offsets), len(data), offsets, sizes)
            if self._segments and seg.base != self._segments[-1].base + self._segments[-1].count:
                raise SpoolCorruptError(f"spool segment {path}: starts at {base}, expected "
                                        f"{self._segments[-1].base + self._segments[-1].count}")
            self._segments.append(seg)
        # drop segments wholly delivered (a crash between ack and unlink)
        while self._segments and self._segments[0].base + self._segments[0].count <= self._head:
            if len(self._segments) == 1:
                break  # keep the last one: it fixes the next index
            self._segments.pop(0).path.unlink()
        if self._segments and self._head < self._segments[0].base:
            raise SpoolCorruptError(f"spool {self.directory}: head {self._head} before the first segment")
        if self.pending_count:
            log.warning("spool %s holds %d undelivered records from an earlier run", self.directory,
                        self.pending_count)

    @staticmethod
    def _check_frame(data: bytes, pos: int) -> str | None:
        if len(data) - pos < _FRAME.size:
            return "truncated header"
        magic, length, crc = _FRAME.unpack_from(data, pos)
        if magic != _MAGIC:
            return "bad magic"
        payload = data[pos + _FRAME.size:pos + _FRAME.size + length]
        if len(payload) != length:
            return "truncated payload"
        if zlib.crc32(payload) != crc:
            return "CRC mismatch"
        return None

    # -- state ----------------------------------------------------------------------
    @property
    def next_index(self) -> int:
        if not self._segments:
            return self._head
        last = self._segments[-1]
        return last.base + last.count

    @property
    def head(self) -> int:
        return self._head

    @property
    def pending_count(self) -> int:
        return self.next_index - self._head

    @property
    def pending_bytes(self) -> int:
        total = 0
        for seg in self._segments:
            first = max(self._head - seg.base, 0)
            if first < seg.count:
                total += seg.size - seg.offsets[first]
        return total

    def __len__(self) -> int:
        return self.pending_count

    # -- writing --------------------------------------------------------------------
    def append(self, records: Sequence[Record]) -> int:
        """Append durably (fsync) and return the index of the last one; :class:`SpoolFullError` if over the bound."""
        if not records:
            return self.next_index - 1
        frames = [_encode(r) for r in records]
        size = sum(len(f) for f in frames)
        with self._lock:
            pending = self.pending_bytes
            if pending + size > self.max_bytes:
                msg = (f"spool {self.directory} is full: {pending} bytes undelivered, {size} more would pass "
                       f"the bound of {self.max_bytes} bytes ({self.pending_count} records waiting for Kafka)")
                log.error(msg)
                raise SpoolFullError(msg)
            seg = self._segments[-1] if self._segments else None
            if seg is None or seg.size >= self.segment_bytes:
                seg = self._new_segment()
            writer = self._open_writer(seg)
            for frame in frames:
                seg.offsets.append(seg.size)
                seg.sizes.append(len(frame))
                seg.size += len(frame)
                seg.count += 1
            writer.write(b"".join(frames))
            writer.flush()
            os.fsync(writer.fileno())
            return self.next_index - 1

    def _new_segment(self) -> _Segment:
        base = self.next_index
        path = self.directory / f"{_SEG_PREFIX}{base:020d}{_SEG_SUFFIX}"
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        path.touch()
        fsync_dir(self.directory)
        seg = _Segment(base, path, 0, 0, [], [])
        self._segments.append(seg)
        return seg

    def _open_writer(self, seg: _Segment) -> IO[bytes]:
        if self._writer is None or self._writer.name != str(seg.path):
            if self._writer is not None:
                self._writer.close()
            self._writer = open(seg.path, "ab")
        return self._writer

    # -- reading and acknowledging ----------------------------------------------------
    def peek(self, max_records: int, max_bytes: int = 4 * 1024 * 1024) -> list[tuple[int, Record]]:
        """Up to ``max_records`` undelivered records from the head, in order, with their indices."""
        out: list[tuple[int, Record]] = []
        with self._lock:
            index = self._head
            budget = max_bytes
            for seg in list(self._segments):
                if index >= seg.base + seg.count:
                    continue
                with open(seg.path, "rb") as f:
                    while index < seg.base + seg.count and len(out) < max_records and (budget > 0 or not out):
                        i = index - seg.base
                        f.seek(seg.offsets[i])
                        frame = f.read(seg.sizes[i])
                        if self._check_frame(frame, 0) is not None:
                            raise SpoolCorruptError(f"spool segment {seg.path}: frame {index} changed on disk")
                        out.append((index, _decode(frame[_FRAME.size:])))
                        budget -= len(frame)
                        index += 1
                if len(out) >= max_records or (budget <= 0 and out):
                    break
        return out

    def ack(self, through_index: int) -> None:
        """Records up to ``through_index`` are delivered: move the head past them, durably."""
        with self._lock:
            new_head = min(through_index + 1, self.next_index)
            if new_head <= self._head:
                return
            self._head = new_head
            tmp = self.directory / "head.tmp"
            with open(tmp, "w", encoding="ascii") as f:
                f.write(f"{new_head}\n")
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(self.directory / "head")
            removed = False
            while len(self._segments) > 1 and self._segments[0].base + self._segments[0].count <= new_head:
                self._segments.pop(0).path.unlink()
                removed = True
            last = self._segments[-1] if self._segments else None
            if last is not None and last.base + last.count <= new_head and last.size >= self.segment_bytes:
                # the writer will roll to a new segment anyway: drop the delivered one now
                if self._writer is not None:
                    self._writer.close()
                    self._writer = None
                self._segments.pop().path.unlink()
                removed = True
            if removed:
                fsync_dir(self.directory)

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            if self._lock_file is not None:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)
                self._lock_file.close()
                self._lock_file = None

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
