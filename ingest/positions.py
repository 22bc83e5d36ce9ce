"""Where a Kafka-fed feed stands, so that a run commits only what its sinks acknowledged.

At-least-once from a Kafka topic to the events topic needs three parties to
agree on a position:

* the **transport** (``kafka_units``, in the feed's thread) tells which record it
  starts handing to the decoder (:meth:`KafkaPositions.record_started`);
* the **feed** (``open_feed``, same thread) counts the items it yields and, at
  the first item after a new record started, notes a *boundary*: "the first
  ``k`` items came from records before these offsets" (:meth:`item_yielded`);
* the **pipeline** (main thread) processes items, waits for its sinks to
  acknowledge, then asks for the positions safe for the items it has processed
  (:meth:`safe_positions`), checkpoints its engine with them and asks the
  transport to commit them (:meth:`request_commit`; the consumer is not
  thread-safe, so the transport commits at its next poll).

Positions are "the offset of the next record to read" per (topic, partition),
as Kafka commits them. A record whose items were only partly processed is read
again after a crash; the engine drops the repeated reports (not newer than what
it holds), so the replay is idempotent.

Known limit: decoder state that spans records (an AIS message split over two
records, AIS static data merged into later positions) is not checkpointed; a
restart between such records loses that state until the feed repeats it.
"""

from __future__ import annotations

import threading
from collections import deque

__all__ = ["KafkaPositions", "Positions"]

Positions = dict[tuple[str, int], int]


class KafkaPositions:
    """The shared position book of one Kafka-fed feed."""

    def __init__(self, initial: Positions | None = None) -> None:
        self._lock = threading.Lock()
        self.initial: Positions = dict(initial or {})
        self._done: Positions = dict(self.initial)  # next offset to read, per partition, records fully handed out
        self._in_progress: dict[tuple[str, int], int] = {}
        self._started_since_item = False
        self._items = 0
        self._boundaries: deque[tuple[int, Positions]] = deque()
        self._commit: Positions | None = None
        # a reader that commits once more when it stops (an ingest worker, whose raw input
        # has no other checkpoint) says so; the transport then waits for that last request
        self.last_word_expected = False
        self._last_word = threading.Event()

    # -- the transport's side (feed thread) -------------------------------------------------

    def record_started(self, topic: str, partition: int, offset: int) -> None:
        """The transport hands the units of this record to the decoder now."""
        tp = (topic, partition)
        with self._lock:
            previous = self._in_progress.get(tp)
            if previous is not None:
                self._done[tp] = previous + 1
            elif tp not in self._done:
                self._done[tp] = offset
            self._in_progress[tp] = offset
            self._started_since_item = True

    def units_exhausted(self) -> None:
        """The decoder has taken every unit handed out: all records in progress are done."""
        with self._lock:
            for tp, offset in self._in_progress.items():
                self._done[tp] = offset + 1
            self._in_progress.clear()
            self._started_since_item = False
            if not self._boundaries or self._boundaries[-1][1] != self._done:
                self._boundaries.append((self._items, dict(self._done)))

    def restarted(self) -> None:
        """The feed is restarted (a new consumer): it starts where the items handed out end.

        A record whose items were handed out only in part is read again from its start.
        """
        with self._lock:
            restart = dict(self._done)
            restart.update(self._in_progress)
            self._in_progress.clear()
            self._started_since_item = False
            self.initial = dict(restart)
            self._done = restart

    def take_commit(self) -> Positions | None:
        """Positions the pipeline asked to commit, once (the transport commits them)."""
        with self._lock:
            pending, self._commit = self._commit, None
            return pending

    def last_request(self, timeout_s: float) -> Positions | None:
        """On stop, before the consumer closes: what to commit last. Waits (up to ``timeout_s``)
        for the pipeline's :meth:`last_word` when one is expected."""
        if self.last_word_expected:
            self._last_word.wait(timeout_s)
        return self.take_commit()

    # -- the feed's side (feed thread) ------------------------------------------------------

    def item_yielded(self) -> None:
        """Called just before the feed yields an item."""
        with self._lock:
            if self._started_since_item:
                # Every item before this one came from records before the ones in progress.
                self._boundaries.append((self._items, dict(self._done)))
                self._started_since_item = False
            self._items += 1

    # -- the pipeline's side (main thread) ----------------------------------------------------

    def safe_positions(self, processed_items: int) -> Positions | None:
        """Positions whose every earlier record's items are among the first ``processed_items``."""
        with self._lock:
            best: Positions | None = None
            while self._boundaries and self._boundaries[0][0] <= processed_items:
                best = self._boundaries.popleft()[1]
            if best is not None:
                # Keep it as the floor for the next call.
                self._boundaries.appendleft((processed_items, best))
            return dict(best) if best is not None else None

    def last_word(self) -> None:
        """The pipeline asks nothing more (its last :meth:`request_commit` is in, if any): the
        transport commits it and closes its consumer."""
        self._last_word.set()

    def request_commit(self, positions: Positions, *, only_if_none: bool = False) -> None:
        """Ask the transport to commit ``positions`` (a newer request replaces an older one)."""
        with self._lock:
            if only_if_none and self._commit is not None:
                return
            self._commit = dict(positions)
