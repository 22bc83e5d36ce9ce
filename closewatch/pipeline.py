"""The wiring of one run: feeds -> engine -> sinks.

Sources. Feeds that are all file replays are merged by data time (a k-way
merge of the decoded streams), so a replay of several files is deterministic and
paced on one clock: with ``speed`` k, data time runs k times faster than the
wall clock, starting at the earliest report of any feed. Live feeds (follow,
TCP, UDP, HTTP, Kafka) each run in a thread and meet in a queue, in arrival
order; a live feed that fails is restarted with backoff (``ingest.feeds.open_feeds``).

Micro-batches. Track updates are handed to the engine in batches of up to
``batch_size`` updates, or whatever arrived within ``max_batch_delay_s`` of wall
time, whichever comes first; the engine's results do not depend on where the
batches are cut. Dead letters go out the same way, in groups of at most
``batch_size`` or ``max_batch_delay_s`` old, with or without updates: a feed of
nothing but junk never piles them up. Notices from the feeds (exercise areas,
NOTAMs) become zones (``proximity.notices.zone_from_notice``) and reach the engine
and the sinks in stream order (the batch before them is processed first).

A record can fail, a feed can fail, the process does not (docs/operations.md):
one guard per stage turns a record that fails into a dead letter with its stage
and the stream goes on: ``decode`` (``ingest.feeds``), ``zone`` (a notice whose
area cannot be built), ``engine`` (``closewatch.engine_guard``: a report that
makes the engine raise is found and set aside), ``encode`` (an event that cannot
be encoded, here) and ``deliver`` (a record Kafka refuses, reported by the
Kafka sink). Dead letters are counted per feed and reason, and per stage.
``FeedHealth`` records from the feeds go to every sink (``publish_feed_health``).

Sinks receive the engine's events, the normalised tracks and the dead letters,
in that order, per batch, and the zones: the catalogue's at the start, then those the
feeds notify as they come. Every ``[sinks] flush_interval_s`` they are told to
``push`` what they buffer (the JSON Lines files reach the disk); ``sync`` returns
once everything is durable (written to disk, acknowledged by the broker, or in
the broker sink's on-disk spool).

Kafka-fed runs checkpoint the engine with the input positions it has consumed,
after the sinks are durable, then commit those offsets (``closewatch.checkpoint``,
``ingest.positions``): a restart, even after ``kill -9``, resumes exactly.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import math
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Protocol, Sequence

from alerts.codec import encode_event, encode_track
from alerts.errors import CodecError
from config.classification import Classifier
from config.records import DeadLetter, FeedHealth, Notice, TrackUpdate, Zone
from config.settings import FeedSettings, Settings
from config.zones import load_borders, load_catalogue, load_land
from closewatch.checkpoint import CheckpointError, CheckpointStore
from closewatch.engine_guard import EngineGuard, raw_ref_position
from closewatch.memory import TRIM_INTERVAL_S, release_free_memory
from closewatch.rules import build_rules
from ingest import open_feed, open_feeds
from ingest import stats as ingest_stats
from ingest.positions import KafkaPositions, Positions
from proximity.engine import Engine
from proximity.errors import NoticeError
from proximity.events import Event
from proximity.notices import zone_from_notice

__all__ = ["Pipeline", "RunSummary", "Sink", "feed_items", "notice_zone"]

log = logging.getLogger(__name__)

Item = TrackUpdate | Notice | DeadLetter | FeedHealth


class Sink(Protocol):
    """Where a run's output goes: JSON Lines files, Kafka topics, the live map."""

    def publish_events(self, events: Sequence[Event]) -> None: ...

    def publish_tracks(self, updates: Sequence[TrackUpdate]) -> None: ...

    def publish_deadletters(self, letters: Sequence[DeadLetter]) -> None: ...

    def publish_zones(self, zones: Sequence[Zone]) -> None:
        """The zones the run watches: the catalogue's when the run starts, then each zone a
        feed notifies (exercise areas) in stream order, as the engine gets it."""

    def publish_feed_health(self, records: Sequence[FeedHealth]) -> None:
        """How the feeds are doing: a record when a feed starts, fails, restarts or is given up."""

    def push(self) -> None:
        """Hand on what is buffered (a file's buffer to the operating system, fsynced when so
        set) without waiting for a remote acknowledgement; every ``[sinks] flush_interval_s``."""

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
    dead_letters_per_stage: Counter[str] = field(default_factory=Counter)
    feed_health: dict[str, FeedHealth] = field(default_factory=dict)  # the latest record of each feed
    stopped: bool = False  # ended by ``stop`` (SIGTERM), not by its feeds

    @property
    def failed_feeds(self) -> dict[str, str]:
        """Feeds given up, with why."""
        return {f: h.error or "failed" for f, h in sorted(self.feed_health.items()) if h.state == "failed"}

    @property
    def all_rejected(self) -> bool:
        """Input came, and not one record of it was used."""
        return self.updates == 0 and self.zones_from_feeds == 0 and sum(self.dead_letters.values()) > 0
    # Incidents the rule profile did not raise, by (kind, reason) (proximity.rules).
    suppressed: dict[tuple[str, str], int] = field(default_factory=dict)
    context_events: int = 0  # of those, revisions written as context events (--explain)
    profile: str = ""  # the rule profile, name@version

    def count_dead_letter(self, letter: DeadLetter) -> None:
        key = (letter.feed, letter.reason)
        self.dead_letters[key] += 1
        self.dead_letters_per_stage[letter.stage] += 1
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
        borders = [line for _name, line in load_borders()]
        land = load_land()  # track_integrity's on_land
        rules = build_rules(settings)
        self.batch_size = settings.pipeline.batch_size
        self.max_batch_delay_s = settings.pipeline.max_batch_delay_s
        self.summary = RunSummary()
        # Kafka-fed feeds: checkpoints pair the engine's state with the input positions.
        self._taken: Counter[str] = Counter()  # items taken from each feed
        self._handled: dict[str, int] = {}  # ... of which the engine and the sinks have seen
        self._positions: dict[str, KafkaPositions] = {}
        self._checkpoints: CheckpointStore | None = None
        self._last_checkpoint = time.monotonic()
        saved = None
        kafka_feeds = [f.name for f in settings.feeds if f.transport == "kafka"]
        if kafka_feeds:
            self._checkpoints = CheckpointStore(settings)
            saved = self._checkpoints.load(borders=borders, rules=rules, land=land)  # CheckpointError: refused
            if saved is not None:
                log.info("resuming from checkpoint %s", self._checkpoints.path)
            for name in kafka_feeds:
                initial = saved.positions.get(name) if saved is not None else None
                self._positions[name] = KafkaPositions(initial)
        if engine is not None:
            self.engine = engine
        elif saved is not None:
            self.engine = saved.engine
        else:
            self.engine = Engine(settings.proximity, self.zones, borders=borders, rules=rules, land=land)
        self._guard = EngineGuard(self.engine, encode=encode_track)
        self._cut_last = -math.inf  # the last tick a batch was cut at
        self._cut_at = self._next_cut()
        # records a sink could not take, reported from its own threads (Kafka delivery)
        self._rejected: queue.SimpleQueue[DeadLetter] = queue.SimpleQueue()
        for sink in self.sinks:
            self.attach(sink)
        self._flush_interval_s = settings.sinks.flush_interval_s
        self._last_push = self._last_trim = time.monotonic()
        self._checkpoint_failures = 0
        self._saved: tuple[int, dict[str, Positions]] | None = None  # (updates, positions) last checkpointed

    def attach(self, sink: Sink) -> None:
        """Hear of the records ``sink`` refuses (a sink with a ``reject_listener``)."""
        if hasattr(sink, "reject_listener"):
            sink.reject_listener = self._rejected.put

    # -- sources ---------------------------------------------------------------------------

    def _items(self, stop: threading.Event) -> Iterator[tuple[str, Item] | None]:
        return feed_items(self.settings, stop, positions=self._positions)

    # -- the run ---------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> RunSummary:
        """Process every feed to its end (or until ``stop``), then close what is open."""
        stop = stop or threading.Event()
        batch: list[TrackUpdate] = []
        letters: list[DeadLetter] = []
        batch_started = letters_started = time.monotonic()
        tick_due = False  # the batch holds a report past the engine's next tick or prediction slice
        for sink in self.sinks:
            sink.publish_zones(self.zones)
        try:
            for entry in self._items(stop):
                if entry is not None:
                    feed, item = entry
                    if isinstance(item, FeedHealth):
                        self._feed_health(item)
                        continue
                    self._taken[feed] += 1
                    if isinstance(item, TrackUpdate):
                        if not batch:
                            batch_started = time.monotonic()
                        batch.append(item)
                        self.summary.updates_per_feed[feed] += 1
                        if item.t_s > self._cut_at:
                            tick_due = self._passes_tick(item.t_s)
                    elif isinstance(item, DeadLetter):
                        if not letters:
                            letters_started = time.monotonic()
                        letters.append(item)
                        self.summary.count_dead_letter(item)
                    else:
                        self._process(batch, letters)
                        batch, letters = [], []
                        self._notice(feed, item)
                        self._handled = dict(self._taken)
                        continue
                now = time.monotonic()
                full = len(batch) >= self.batch_size or len(letters) >= self.batch_size
                late = (bool(batch) and now - batch_started >= self.max_batch_delay_s) or (
                    bool(letters) and now - letters_started >= self.max_batch_delay_s
                )
                if entry is None or full or late or tick_due:
                    self._process(batch, letters)
                    batch, letters = [], []
                    tick_due = False
                    self._checkpoint()
                if now - self._last_push >= self._flush_interval_s:
                    self._push()
            self._process(batch, letters)
            if not stop.is_set() and not self._positions:
                # A replay has ended: close what is open. A Kafka-fed run only pauses.
                try:
                    events = self._guard.finish()
                    given_up = self._guard.far_ahead_letters()
                    for letter in given_up:
                        self.summary.count_dead_letter(letter)
                    self._emit(events, [], given_up)
                except Exception:
                    log.exception("the engine failed closing the incidents still open at the end of the input")
            self._emit([], [], [])  # what the sinks refused meanwhile
        finally:
            self.summary.stopped = stop.is_set()
            for sink in self.sinks:
                sink.sync()
        self._checkpoint(force=True)
        self.summary.engine_stats = dict(self.engine.stats)
        self.summary.suppressed = self.engine.suppressed
        self.summary.profile = self.engine.rules.profile.label
        for name in {f.name for f in self.settings.feeds}:
            counted = ingest_stats.get(name)
            if counted is not None and counted.duplicates:
                self.summary.duplicates_per_feed[name] = counted.duplicates
        return self.summary

    def _feed_health(self, health: FeedHealth) -> None:
        self.summary.feed_health[health.feed] = health
        for sink in self.sinks:
            sink.publish_feed_health([health])

    def _push(self) -> None:
        for sink in self.sinks:
            sink.push()
        self._last_push = time.monotonic()
        if self._last_push - self._last_trim >= TRIM_INTERVAL_S:
            release_free_memory()  # what a burst (a broker outage's backlog) freed goes back
            self._last_trim = self._last_push

    def _notice(self, feed: str, notice: Notice) -> None:
        """A notified area joins the engine's zones and the sinks' maps (or is a dead letter)."""
        zone = notice_zone(feed, notice)
        if isinstance(zone, DeadLetter):
            self._reject(zone)
            return
        where = raw_ref_position(notice.raw_ref)
        try:
            events = self._guard.add_zones([zone])
        except Exception as e:  # noqa: BLE001 - the engine is put back; the zone is not watched
            log.error("feed %s: the engine could not take the zone of notice %s: %s", feed, notice.notice_id, e)
            self._reject(DeadLetter.of(feed, where, repr(notice.area).encode(),
                                       f"engine failure: {type(e).__name__}: {e}", stage="engine"))
            return
        self.summary.zones_from_feeds += 1
        self._emit(events, [], [])
        for sink in self.sinks:
            sink.publish_zones([zone])

    def _reject(self, letter: DeadLetter) -> None:
        self.summary.count_dead_letter(letter)
        self._emit([], [], [letter])

    def _process(self, batch: list[TrackUpdate], letters: list[DeadLetter]) -> None:
        if batch or letters:
            events: list[Event] = []
            if batch:
                events, refused = self._guard.process(batch)
                if refused:
                    for letter in refused:
                        self.summary.count_dead_letter(letter)
                    letters = letters + refused
                    taken = {id(u) for u in batch} - {id(f.update) for f in self._guard.last_failures}
                    batch = [u for u in batch if id(u) in taken]
            self.summary.updates += len(batch)
            self._emit(events, batch, letters)
            self._cut_at = self._next_cut()
        self._handled = dict(self._taken)

    def _next_cut(self, first_t_s: float | None = None) -> float:
        """Where the next batch is cut: after the first report past the engine's next tick or
        prediction slice, so that the tick runs (and its events go out) at once rather than up to
        ``max_batch_delay_s`` later. Once per tick: a tick the engine did not run (its report
        was held far ahead) cuts no further batch. ``-inf``: the engine has no clock yet
        (``first_t_s``: the report that will start it)."""
        due = self.engine.next_tick_s(first_t_s)
        if due is None:
            return -math.inf
        return math.inf if due <= self._cut_last else due

    def _passes_tick(self, t_s: float) -> bool:
        """A report at ``t_s`` past ``_cut_at``: True when its batch is to be cut after it."""
        if self._cut_at == -math.inf:  # the engine's first report: its ticks count from this one
            self._cut_at = self._next_cut(t_s)
            return False
        self._cut_last, self._cut_at = self._cut_at, math.inf
        return True

    def _checkpoint(self, force: bool = False) -> None:
        """Kafka-fed runs: once the sinks acknowledged, save the engine with its input positions.

        A checkpoint that cannot be written is logged and tried again at the next one; the
        offsets are then not committed (a restart reads that input again: nothing is lost).
        """
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
        self._last_checkpoint = time.monotonic()
        done = (self.summary.updates + self.summary.zones_from_feeds, positions)
        if done == self._saved:
            return  # nothing new since the last checkpoint (an idle run does not rewrite it)
        try:
            self._checkpoints.save(self.engine, positions)
        except (OSError, CheckpointError, ValueError) as e:
            self._checkpoint_failures += 1
            if self._checkpoint_failures in (1, 10, 100) or self._checkpoint_failures % 1000 == 0:
                log.error("checkpoint %s not written (%d times so far): %s; input offsets stay uncommitted",
                          self._checkpoints.path, self._checkpoint_failures, e)
            return
        self._saved = done
        for name, book in self._positions.items():
            if positions[name]:
                book.request_commit(positions[name])

    def _encodable(self, events: Sequence[Event]) -> tuple[list[Event], list[DeadLetter]]:
        """The events every sink can encode; a dead letter (stage ``encode``) for each other."""
        good: list[Event] = []
        bad: list[DeadLetter] = []
        for e in events:
            try:
                encode_event(e)
            except (CodecError, ValueError, TypeError) as err:
                log.error("event %s seq %d not published: %s", e.event_id, e.seq, err)
                raw = json.dumps(e.canonical(), sort_keys=True, default=repr).encode("utf-8", "backslashreplace")
                bad.append(DeadLetter.of("events", e.seq, raw, f"unencodable event: {e.event_id}: {err}", stage="encode"))
            else:
                good.append(e)
        return good, bad

    def _emit(self, events: Sequence[Event], updates: Sequence[TrackUpdate], letters: Sequence[DeadLetter]) -> None:
        # context events (--explain): to the sinks that take them (the context file and topic)
        context: Sequence[Event] = self.engine.take_context()
        unencodable: list[DeadLetter] = []
        if events:
            events, bad = self._encodable(events)
            unencodable += bad
        if context:
            context, bad = self._encodable(context)
            unencodable += bad
        for letter in unencodable:
            self.summary.count_dead_letter(letter)
        letters = [*letters, *unencodable]
        while True:  # what a sink refused (too large for Kafka, ...) goes out as a dead letter
            try:
                refused = self._rejected.get_nowait()
            except queue.Empty:
                break
            self.summary.count_dead_letter(refused)
            letters = [*letters, refused]
        self.summary.events += len(events)
        self.summary.events_per_kind.update(e.kind for e in events)
        if context:
            self.summary.context_events += len(context)
            for sink in self.sinks:
                publish = getattr(sink, "publish_context", None)
                if publish is not None:
                    publish(context)
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


def notice_zone(feed: str, notice: Notice) -> Zone | DeadLetter:
    """The zone of a notice from ``feed``, or the dead letter saying why it has none (stage ``zone``)."""
    try:
        return zone_from_notice(notice)
    except Exception as e:  # noqa: BLE001 - NoticeError, or a geometry library's own error
        log.warning("feed %s: notice %s: %s", feed, notice.notice_id, e)
        reason = f"impossible value: {e}" if isinstance(e, NoticeError) else f"zone failure: {type(e).__name__}: {e}"
        return DeadLetter.of(feed, raw_ref_position(notice.raw_ref), repr(notice.area).encode(), reason, stage="zone")


def feed_items(settings: Settings, stop: threading.Event, *, positions: dict[str, KafkaPositions] | None = None
               ) -> Iterator[tuple[str, Item] | None]:
    """``(feed name, item)`` from every feed of ``settings``; ``None`` marks a pause in a live
    stream (hand on what you have). Recordings (every feed a file) are merged by data time and
    paced by their ``speed``; live feeds come as they arrive (Kafka feeds committed through
    ``positions`` where given, else automatically)."""
    feeds = settings.feeds
    if feeds and all(f.transport == "file" for f in feeds):
        yield from _replay(settings, feeds, stop)
    else:
        yield from open_feeds(
            feeds,
            settings.sides,
            stop,
            kafka=settings.kafka,
            idle_s=settings.pipeline.max_batch_delay_s,
            positions=positions if positions is not None else {},
            classification=settings.classification,
        )


def _replay(settings: Settings, feeds: Sequence[FeedSettings], stop: threading.Event
            ) -> Iterator[tuple[str, Item] | None]:
    speed = max(f.speed for f in feeds)
    classifier = Classifier(settings.classification)
    streams = [
        _timed(
            f.name,
            _given_up_on_failure(
                f.name,
                lambda f=f: open_feed(  # type: ignore[misc]
                    f.model_copy(update={"speed": 0.0}), settings.sides, stop=stop, kafka=settings.kafka,
                    classifier=classifier,
                ),
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


def _given_up_on_failure(feed: str, make: Callable[[], Iterator[Item]]) -> Iterator[Item]:
    """A replayed feed's items; if it fails, a ``failed`` FeedHealth ends it and the others go on.

    A replay is not restarted: reading the file again would repeat what was read.
    """
    last_data_s: float | None = None
    try:
        for item in make():
            last_data_s = time.time()
            yield item
    except Exception as e:  # noqa: BLE001 - one feed's failure must not end the run
        text = " ".join(str(e).split()) or type(e).__name__
        log.error("feed %s failed and is given up: %s", feed, text)
        yield FeedHealth(feed, "failed", time.time(), last_data_s, text[:500])


def _timed(feed: str, items: Iterable[Item]) -> Iterator[tuple[float, int, str, Item]]:
    """Attach a merge key: data time, for items without one the last seen in their stream.

    A notice or dead letter thus keeps its place among the reports around it.
    """
    last_t = float("-inf")
    for order, item in zip(itertools.count(), items):
        if isinstance(item, TrackUpdate):
            last_t = item.t_s
        yield last_t, order, feed, item
