"""The wiring of one run: feeds -> engine -> sinks.

Sources. Feeds that are all file replays are merged by data time (a k-way
merge of the decoded streams), so a replay of several files is deterministic and
paced on one clock: with ``speed`` k, data time runs k times faster than the
wall clock, starting at the earliest report of any feed. Live feeds (follow,
TCP, UDP, HTTP, Kafka) each run in a thread and meet in a queue, in arrival
order.

Micro-batches. Track updates are handed to the engine in batches of up to
``batch_size`` updates, or whatever arrived within ``max_batch_delay_s`` of wall
time, whichever comes first; the engine's results do not depend on where the
batches are cut. Notices from the feeds (exercise areas, NOTAMs) become zones
(``proximity.notices.zone_from_notice``) and reach the engine and the sinks in
stream order (the batch before them is processed first); a notice whose area
cannot be built is a dead letter. Dead letters go to the dead-letter sink and are
counted per feed and reason.

Sinks receive the engine's events, the normalised tracks and the dead letters,
in that order, per batch, and the zones: the catalogue's at the start, then those the
feeds notify as they come; ``sync`` returns once they are durable (written to
disk, acknowledged by the broker, or in the broker sink's on-disk spool).

Kafka-fed runs checkpoint the engine with the input positions it has consumed,
after the sinks are durable, then commit those offsets (``closewatch.checkpoint``,
``ingest.positions``): a restart, even after ``kill -9``, resumes exactly.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Protocol, Sequence

from config.classification import Classifier
from config.records import DeadLetter, Notice, TrackUpdate, Zone
from config.settings import FeedSettings, Settings
from config.zones import load_borders, load_catalogue
from closewatch.checkpoint import CheckpointStore
from ingest import open_feed, open_feeds
from ingest import stats as ingest_stats
from ingest.positions import KafkaPositions, Positions
from proximity.engine import Engine
from proximity.errors import NoticeError
from proximity.events import Event
from proximity.notices import zone_from_notice

__all__ = ["Pipeline", "RunSummary", "Sink"]

log = logging.getLogger(__name__)

Item = TrackUpdate | Notice | DeadLetter


class Sink(Protocol):
    """Where a run's output goes: JSON Lines files, Kafka topics, the live map."""

    def publish_events(self, events: Sequence[Event]) -> None: ...

    def publish_tracks(self, updates: Sequence[TrackUpdate]) -> None: ...

    def publish_deadletters(self, letters: Sequence[DeadLetter]) -> None: ...

    def publish_zones(self, zones: Sequence[Zone]) -> None:
        """The zones the run watches: the catalogue's when the run starts, then each zone a
        feed notifies (exercise areas) in stream order, as the engine gets it."""

    def sync(self) -> None:
        """Return once everything published is durable: acknowledged, or written to disk."""

    def flush(self) -> None: ...

    def close(self) -> None: ...


@dataclass
class RunSummary:
    """What one run did, for the operator and the tests."""

    updates: int = 0
    events: int = 0
    zones_from_feeds: int = 0
    dead_letters: Counter[tuple[str, str]] = field(default_factory=Counter)  # (feed, reason) -> count
    # (feed, reason) -> the first dead letter's detail (or the start of its raw bytes): one example each
    dead_letter_examples: dict[tuple[str, str], str] = field(default_factory=dict)
    updates_per_feed: Counter[str] = field(default_factory=Counter)
    events_per_kind: Counter[str] = field(default_factory=Counter)
    engine_stats: dict[str, int] = field(default_factory=dict)
    # Copies of one message heard by several receivers, merged into one report (AIS), per feed.
    duplicates_per_feed: Counter[str] = field(default_factory=Counter)

    def count_dead_letter(self, letter: DeadLetter) -> None:
        key = (letter.feed, letter.reason)
        self.dead_letters[key] += 1
        if key not in self.dead_letter_examples:
            where = f"{letter.file}:{letter.position}" if letter.file else f"#{letter.position}"
            what = letter.detail if letter.detail is not None else repr(letter.raw[:60])
            self.dead_letter_examples[key] = f"{what[:160]} ({where})"


class Pipeline:
    """One run of closewatch over the feeds of ``settings``."""

    def __init__(
        self,
        settings: Settings,
        sinks: Sequence[Sink],
        *,
        engine: Engine | None = None,
    ) -> None:
        self.settings = settings
        self.sinks = list(sinks)
        self.zones = load_catalogue(settings.zones)
        self.engine = engine or Engine(
            settings.proximity,
            self.zones,
            borders=[line for _name, line in load_borders()],
        )
        self.batch_size = settings.pipeline.batch_size
        self.max_batch_delay_s = settings.pipeline.max_batch_delay_s
        self.summary = RunSummary()
        # Kafka-fed feeds: checkpoints pair the engine's state with the input positions.
        self._taken: Counter[str] = Counter()  # items taken from each feed
        self._handled: dict[str, int] = {}  # ... of which the engine and the sinks have seen
        self._positions: dict[str, KafkaPositions] = {}
        self._checkpoints: CheckpointStore | None = None
        self._last_checkpoint = time.monotonic()
        kafka_feeds = [f.name for f in settings.feeds if f.transport == "kafka"]
        if kafka_feeds:
            self._checkpoints = CheckpointStore(settings)
            saved = self._checkpoints.load()
            if saved is not None:
                log.info("resuming from checkpoint %s", self._checkpoints.path)
                self.engine = saved.engine
            for name in kafka_feeds:
                initial = saved.positions.get(name) if saved is not None else None
                self._positions[name] = KafkaPositions(initial)

    # -- sources ---------------------------------------------------------------------------

    def _items(self, stop: threading.Event) -> Iterator[tuple[str, Item] | None]:
        """Items from every feed; ``None`` marks a pause in a live stream (flush what you have)."""
        feeds = self.settings.feeds
        if feeds and all(f.transport == "file" for f in feeds):
            yield from self._replay(feeds, stop)
        else:
            yield from self._live(feeds, stop)

    def _replay(self, feeds: Sequence[FeedSettings], stop: threading.Event) -> Iterator[tuple[str, Item] | None]:
        speed = max(f.speed for f in feeds)
        classifier = Classifier(self.settings.classification)
        streams = [
            _timed(
                f.name,
                open_feed(
                    f.model_copy(update={"speed": 0.0}), self.settings.sides, stop=stop, kafka=self.settings.kafka,
                    classifier=classifier,
                ),
            )
            for f in feeds
        ]
        # heapq.merge keeps each stream's own order and breaks ties by stream order: deterministic.
        merged = heapq.merge(*streams, key=lambda entry: entry[0])
        wall_start = time.monotonic()
        data_start: float | None = None
        for t_s, _order, feed, item in merged:
            if stop.is_set():
                return
            if speed > 0 and isinstance(item, TrackUpdate):
                if data_start is None:
                    data_start = t_s
                lag_s = (t_s - data_start) / speed - (time.monotonic() - wall_start)
                if lag_s > 0:
                    yield None  # let the batch go out before we wait
                    stop.wait(lag_s)
            yield feed, item

    def _live(self, feeds: Sequence[FeedSettings], stop: threading.Event) -> Iterator[tuple[str, Item] | None]:
        yield from open_feeds(
            feeds,
            self.settings.sides,
            stop,
            kafka=self.settings.kafka,
            idle_s=self.max_batch_delay_s,
            positions=self._positions,
            classification=self.settings.classification,
        )

    # -- the run ---------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> RunSummary:
        """Process every feed to its end (or until ``stop``), then close what is open."""
        stop = stop or threading.Event()
        batch: list[TrackUpdate] = []
        letters: list[DeadLetter] = []
        batch_started = time.monotonic()
        for sink in self.sinks:
            sink.publish_zones(self.zones)
        try:
            for entry in self._items(stop):
                if entry is not None:
                    feed, item = entry
                    self._taken[feed] += 1
                    if isinstance(item, TrackUpdate):
                        if not batch:
                            batch_started = time.monotonic()
                        batch.append(item)
                        self.summary.updates_per_feed[feed] += 1
                    elif isinstance(item, DeadLetter):
                        letters.append(item)
                        self.summary.count_dead_letter(item)
                    else:
                        self._process(batch, letters)
                        batch, letters = [], []
                        self._notice(feed, item)
                        self._handled = dict(self._taken)
                        continue
                full = len(batch) >= self.batch_size
                late = bool(batch) and time.monotonic() - batch_started >= self.max_batch_delay_s
                if entry is None or full or late:
                    self._process(batch, letters)
                    batch, letters = [], []
                    self._checkpoint()
            self._process(batch, letters)
            if not stop.is_set() and not self._positions:
                # A replay has ended: close what is open. A Kafka-fed run only pauses.
                self._emit(self.engine.finish(), [], [])
        finally:
            for sink in self.sinks:
                sink.sync()
        self._checkpoint(force=True)
        self.summary.engine_stats = dict(self.engine.stats)
        for name in {f.name for f in self.settings.feeds}:
            counted = ingest_stats.get(name)
            if counted is not None and counted.duplicates:
                self.summary.duplicates_per_feed[name] = counted.duplicates
        return self.summary

    def _notice(self, feed: str, notice: Notice) -> None:
        """A notified area joins the engine's zones and the sinks' maps (or is a dead letter)."""
        try:
            zone = zone_from_notice(notice)
        except NoticeError as e:
            log.warning("feed %s: %s", feed, e)
            _, _, position = (notice.raw_ref or "").rpartition(":")
            letter = DeadLetter(
                feed, int(position) if position.isdigit() else 0, repr(notice.area).encode(), "impossible value",
                detail=str(e),
            )
            self.summary.count_dead_letter(letter)
            self._emit([], [], [letter])
            return
        self.summary.zones_from_feeds += 1
        self._emit(self.engine.add_zones([zone]), [], [])
        for sink in self.sinks:
            sink.publish_zones([zone])

    def _process(self, batch: list[TrackUpdate], letters: list[DeadLetter]) -> None:
        if batch or letters:
            events = self.engine.process(batch) if batch else []
            self.summary.updates += len(batch)
            self._emit(events, batch, letters)
        self._handled = dict(self._taken)

    def _checkpoint(self, force: bool = False) -> None:
        """Kafka-fed runs: once the sinks acknowledged, save the engine with its input positions."""
        if self._checkpoints is None:
            return
        if not force and time.monotonic() - self._last_checkpoint < self.settings.pipeline.checkpoint_interval_s:
            return
        for sink in self.sinks:
            sink.sync()  # every event so far is acknowledged, or durably spooled
        positions: dict[str, Positions] = {}
        for name, book in self._positions.items():
            safe = book.safe_positions(self._handled.get(name, 0))
            positions[name] = safe if safe is not None else dict(book.initial)
        self._checkpoints.save(self.engine, positions)
        for name, book in self._positions.items():
            if positions[name]:
                book.request_commit(positions[name])
        self._last_checkpoint = time.monotonic()

    def _emit(self, events: Sequence[Event], updates: Sequence[TrackUpdate], letters: Sequence[DeadLetter]) -> None:
        self.summary.events += len(events)
        self.summary.events_per_kind.update(e.kind for e in events)
        for sink in self.sinks:
            if events:
                sink.publish_events(events)
            if updates:
                sink.publish_tracks(updates)
            if letters:
                sink.publish_deadletters(letters)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


def _timed(feed: str, items: Iterable[Item]) -> Iterator[tuple[float, int, str, Item]]:
    """Attach a merge key: data time, for items without one the last seen in their stream.

    A notice or dead letter thus keeps its place among the reports around it.
    """
    last_t = float("-inf")
    for order, item in zip(itertools.count(), items):
        if isinstance(item, TrackUpdate):
            last_t = item.t_s
        yield last_t, order, feed, item
