"""The archive as a sink of a run: records go into a bounded queue, a writer thread makes the files.

The pipeline's thread only numbers the records and queues them (``publish_*`` block only
when ``queue_batches`` batches wait: memory stays bounded, the run slows down rather than
the archive falling behind without limit). The writer thread turns each batch into an
Arrow table, buffers the rows by table and UTC hour, and writes a part file when a buffer
reaches ``part_rows`` rows, every ``flush_interval_s`` seconds, at each ``sync`` and at
``close``. When an hour is done (the data time is two hours past it) and at ``close``, the
run's small parts of each hour (under half ``part_rows``) are merged into one file;
retention runs at the start and at each new hour.

What is durable (``sync``): ``sync`` returns once every record published before it is in
a closed, fsynced part file whose name is in its fsynced folder. After ``kill -9`` the
archive holds every record published before the last ``sync`` returned (and those of
the parts written since by the interval); nothing partial is ever visible: a part being
written is a hidden temporary file until it is complete.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import defaultdict
from typing import Any, Callable, Sequence

import numpy as np
import pyarrow as pa

from closewatch import __version__
from closewatch.archive.errors import ArchiveWriteError
from closewatch.archive.schema import deadletters_table, events_table, tracks_rows, zones_table
from closewatch.archive.store import HOURLY, Archive, RunRecord, hour_key, new_run_id
from config.records import DeadLetter, FeedHealth, TrackUpdate, Zone
from config.settings import ArchiveSettings
from proximity.events import Event

__all__ = ["ArchiveSink", "settings_record"]

log = logging.getLogger(__name__)

_SECRET_KEYS = frozenset(("sasl_password", "ssl_key_password", "token"))


def settings_record(settings: Any) -> dict[str, Any]:
    """The settings as JSON-able data without secrets (passwords and tokens become ``"(not archived)"``)."""

    def scrub(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: ("(not archived)" if k in _SECRET_KEYS and v is not None else scrub(v)) for k, v in obj.items()}
        if isinstance(obj, list):
            return [scrub(v) for v in obj]
        return obj

    data: dict[str, Any] = scrub(settings.model_dump(mode="json"))
    return data


class ArchiveSink:
    """Every track update, event revision, dead letter and zone of a run, into the archive."""

    def __init__(
        self,
        settings: ArchiveSettings,
        *,
        run_settings: Any = None,
        kind: str = "run",
        run_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.archive = Archive(settings.path)
        self.settings = settings
        self.run_id = run_id or new_run_id(clock(), "" if kind == "run" else kind)
        self._clock = clock
        self._queue: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=settings.queue_batches)
        self._counts = {t: 0 for t in ("tracks", "events", "deadletters", "zones")}
        self._zone_calls = 0
        self._error: BaseException | None = None
        self._closed = False
        # writer-thread state
        self._buffers: dict[tuple[str, int | None], list[pa.Table]] = defaultdict(list)
        self._buffered_rows: dict[tuple[str, int | None], int] = defaultdict(int)
        self._data_t_s = -math.inf
        self._hours_written: dict[str, set[int]] = defaultdict(set)
        self._compacted: set[tuple[str, int]] = set()
        self._newest_hour: int | None = None
        self._last_write = time.monotonic()
        self.archive.root.mkdir(parents=True, exist_ok=True)
        self.archive.write_run(
            RunRecord(self.run_id, clock(), kind, __version__,
                      settings_record(run_settings) if run_settings is not None else None)
        )
        self.archive.apply_retention(settings.retention_days)
        self._thread = threading.Thread(target=self._work, name="closewatch-archive", daemon=True)
        self._thread.start()

    # -- the Sink protocol (pipeline thread) -------------------------------------------------

    def _put(self, item: tuple[Any, ...]) -> None:
        if self._error is not None:
            raise ArchiveWriteError(f"archive {self.archive.root}: the writer failed: {self._error}") from self._error
        if self._closed:
            raise ArchiveWriteError(f"archive {self.archive.root}: the sink is closed")
        self._queue.put(item)

    def _number(self, table: str, n: int) -> int:
        first = self._counts[table]
        self._counts[table] += n
        return first

    def publish_tracks(self, updates: Sequence[TrackUpdate]) -> None:
        if updates:
            self._put(("tracks", self._number("tracks", len(updates)), list(updates)))

    def publish_events(self, events: Sequence[Event]) -> None:
        if events:
            self._put(("events", self._number("events", len(events)), list(events)))

    def publish_deadletters(self, letters: Sequence[DeadLetter]) -> None:
        if letters:
            self._put(("deadletters", self._number("deadletters", len(letters)), list(letters)))

    def publish_zones(self, zones: Sequence[Zone]) -> None:
        """The first call brings the catalogue, later ones the zones feeds notify (``Sink``)."""
        origin = "catalogue" if self._zone_calls == 0 else "feed"
        self._zone_calls += 1
        if zones:
            self._put(("zones", self._counts["tracks"], origin, list(zones)))

    def publish_feed_health(self, records: Sequence[FeedHealth]) -> None:
        """Not archived: feed health is about the process, not the data (the dead-letter
        topic or file keeps it)."""

    def push(self) -> None:
        """Nothing to hand on: the writer thread writes a part every ``flush_interval_s`` itself."""

    def sync(self) -> None:
        """Return once everything published so far is in closed, fsynced files."""
        done = threading.Event()
        self._put(("sync", done))
        while not done.wait(0.5):
            if not self._thread.is_alive():
                break
        if self._error is not None:
            raise ArchiveWriteError(f"archive {self.archive.root}: the writer failed: {self._error}") from self._error

    def flush(self) -> None:
        self.sync()

    def close(self) -> None:
        """Write what is buffered, merge this run's parts of each hour, stop the writer."""
        if self._closed:
            return
        try:
            self.sync()
            self._put(("close",))
        finally:
            self._closed = True
            self._thread.join()
        if self._error is not None:
            raise ArchiveWriteError(f"archive {self.archive.root}: the writer failed: {self._error}") from self._error

    @property
    def counts(self) -> dict[str, int]:
        """Records published per table (tracks, events, deadletters, zones)."""
        return dict(self._counts)

    # -- the writer thread ---------------------------------------------------------------------

    def _work(self) -> None:
        interval = self.settings.flush_interval_s
        while True:
            try:
                item = self._queue.get(timeout=max(0.05, interval - (time.monotonic() - self._last_write)))
            except queue.Empty:
                item = ("interval",)
            try:
                what = item[0]
                if what == "close":
                    self._write_all()
                    self._compact_all()
                    return
                if what == "sync":
                    self._write_all()
                    item[1].set()
                    continue
                if what == "interval":
                    self._write_all()
                    continue
                self._take(item)
                if time.monotonic() - self._last_write >= interval:
                    self._write_all()
            except BaseException as e:  # reported to the pipeline at its next call
                log.error("archive %s: the writer failed: %s", self.archive.root, e)
                self._error = e
                if item[0] == "sync":
                    item[1].set()
                self._drain()
                return

    def _drain(self) -> None:
        """After a failure: release every waiting ``sync`` so the pipeline hears of it."""
        while True:
            try:
                item = self._queue.get(timeout=1.0)
            except queue.Empty:
                if self._closed:
                    return
                continue
            if item[0] == "sync":
                item[1].set()
            if item[0] == "close":
                return

    def _take(self, item: tuple[Any, ...]) -> None:
        what = item[0]
        if what == "tracks":
            _, first, updates = item
            table = tracks_rows(updates, self.run_id, first)
            t = table.column("t_s").to_numpy()
            self._data_t_s = max(self._data_t_s, float(t.max()))
            self._buffer_by_hour("tracks", table, t)
        elif what == "events":
            _, first, events = item
            table = events_table(events, self.run_id, first)
            self._buffer_by_hour("events", table, table.column("t_s").to_numpy())
        elif what == "deadletters":
            _, first, letters = item
            when = self._data_t_s if math.isfinite(self._data_t_s) else None
            t = [when if when is not None else (d.received_s if d.received_s is not None else self._clock())
                 for d in letters]
            self._buffer_by_hour("deadletters", deadletters_table(letters, t, self.run_id, first), np.array(t))
        elif what == "zones":
            _, arrival, origin, zones = item
            notified = self._data_t_s if math.isfinite(self._data_t_s) else None
            table = zones_table(zones, self.run_id, arrival, origin, notified)
            self._buffers[("zones", None)].append(table)
            self._buffered_rows[("zones", None)] += table.num_rows

    def _buffer_by_hour(self, name: str, table: pa.Table, t_s: np.ndarray) -> None:
        hours = np.floor(t_s / 3600.0).astype(np.int64)
        for h in np.unique(hours).tolist():
            if self._expired(int(h)):
                log.warning("archive: %d %s rows of %s not written: older than the retention",
                            int((hours == h).sum()), name, hour_key(int(h)))
                continue
            part = table if hours.size and (hours == h).all() else table.filter(pa.array(hours == h))
            key = (name, int(h))
            self._buffers[key].append(part)
            self._buffered_rows[key] += part.num_rows
            if self._buffered_rows[key] >= self.settings.part_rows:
                self._write(key)
            self._new_hour(int(h))

    def _expired(self, hour: int) -> bool:
        days = self.settings.retention_days
        return days is not None and self._newest_hour is not None and hour + 1 <= self._newest_hour + 1 - days * 24

    def _new_hour(self, hour: int) -> None:
        if self._newest_hour is not None and hour <= self._newest_hour:
            return
        self._newest_hour = hour
        self.archive.apply_retention(self.settings.retention_days, hour)
        for key in [k for k in self._buffers if k[1] is not None and self._expired(k[1])]:
            self._buffers.pop(key)
            self._buffered_rows.pop(key, None)
        # hours the data clock left two hours ago are done: merge this run's parts of them
        for name in HOURLY:
            for h in sorted(self._hours_written[name]):
                if h < hour - 1 and (name, h) not in self._compacted:
                    self._write((name, h))
                    self.archive.compact(name, self.run_id, h, below_rows=self._small)
                    self._compacted.add((name, h))

    def _write(self, key: tuple[str, int | None]) -> None:
        tables = self._buffers.pop(key, [])
        self._buffered_rows.pop(key, None)
        if not tables:
            return
        name, hour = key
        table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        self.archive.write_part(name, table, self.run_id, hour)
        if hour is not None:
            self._hours_written[name].add(hour)
            self._compacted.discard((name, hour))

    def _write_all(self) -> None:
        for key in list(self._buffers):
            self._write(key)
        self._last_write = time.monotonic()

    def _compact_all(self) -> None:
        for name in HOURLY:
            for h in sorted(self._hours_written[name]):
                if (name, h) not in self._compacted:
                    self.archive.compact(name, self.run_id, h, below_rows=self._small)
        self.archive.compact("zones", self.run_id)

    @property
    def _small(self) -> int:
        """Parts under this many rows are merged; larger ones stay as written."""
        return max(2, self.settings.part_rows // 2)
