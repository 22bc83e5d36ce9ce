"""The engine stage of "a record can fail, the process does not": a report that makes the engine
raise becomes a dead letter, and the batch goes on without it.

The engine validates nothing it is handed twice (every ``TrackUpdate`` is checked
when it is made), so a report that makes ``Engine.process`` raise is a case the
engine did not foresee: the guard cannot know beforehand which one it is. It
keeps a snapshot of the engine (``Engine.snapshot``) and the batches processed
since; when a batch raises it

1. puts the engine back as it was before the batch (the snapshot, then the
   batches since, again: the engine is deterministic, their events are the same
   and are not emitted twice);
2. finds the first report whose batch prefix raises, by bisection, each try on
   the state of step 1, and sets it aside as a dead letter (stage ``engine``);
3. repeats with the rest until the batch goes through whole, on the state of
   step 1: its events are those of the same input without the reports set aside,
   whatever the batch cut (the engine's own rule).

The snapshot is renewed every ``snapshot_every`` reports (and after every change
of zones, which a snapshot cannot take back), so the cost of a failure is bounded:
one replay of at most that many reports, then about log2(batch) tries of at
most one batch. A notice whose zone the engine cannot take (``add_zones``
raises) is put back the same way and set aside.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

from config.records import DeadLetter, TrackUpdate, Zone
from config.times import format_utc
from proximity._clock import FAR_AHEAD_REASON
from proximity.engine import Engine
from proximity.events import Event

__all__ = ["EngineFailure", "EngineGuard", "raw_ref_position"]

log = logging.getLogger(__name__)

_MAX_DETAIL_CHARS = 300


@dataclass(frozen=True, slots=True)
class EngineFailure:
    """A report set aside: it made the engine raise."""

    update: TrackUpdate
    error: BaseException

    def reason(self) -> str:
        text = " ".join(str(self.error).split())
        if len(text) > _MAX_DETAIL_CHARS:
            text = text[: _MAX_DETAIL_CHARS - 1] + "…"
        return f"engine failure: {type(self.error).__name__}: {text}" if text else \
            f"engine failure: {type(self.error).__name__}"


def _raw(update: TrackUpdate, encode: Callable[[TrackUpdate], bytes] | None) -> bytes:
    if encode is not None:
        try:
            return encode(update)
        except Exception:  # noqa: BLE001 - the report is what failed: keep what can be kept
            pass
    return repr(update).encode("utf-8", errors="backslashreplace")


def raw_ref_position(raw_ref: str | None) -> int:
    """Where in its feed a record was, from its ``raw_ref`` (``feed:position``); 0 when it does not say."""
    _, _, tail = (raw_ref or "").rpartition(":")
    return int(tail) if tail.isdigit() else 0


class EngineGuard:
    """``Engine.process``, ``add_zones`` and ``finish`` behind the guard (see the module docstring).

    ``encode(update)`` gives the bytes a dead letter keeps of a report (the tracks
    topic's value); ``feed_of(update)`` the feed to name (default: ``update.source``).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        snapshot_every: int = 50_000,
        encode: Callable[[TrackUpdate], bytes] | None = None,
        feed_of: Callable[[TrackUpdate], str] | None = None,
    ) -> None:
        self.engine = engine
        self.snapshot_every = snapshot_every
        self._encode = encode
        self._feed_of = feed_of or (lambda u: u.source)
        self._snap = engine.snapshot()
        self._since: list[Sequence[TrackUpdate]] = []  # batches processed since the snapshot
        self._since_n = 0
        self.failures = 0  # reports set aside so far
        self.last_failures: list[EngineFailure] = []  # those of the last call of process
        self.isolation_s = 0.0  # wall time spent isolating them

    # -- the three entries ------------------------------------------------------------------

    def process(self, batch: Sequence[TrackUpdate]) -> tuple[list[Event], list[DeadLetter]]:
        """The events of ``batch``, and a dead letter for each report the engine could not take."""
        self.last_failures = []
        if self._since_n >= self.snapshot_every:
            self._renew()
        try:
            events = self.engine.process(batch)
        except Exception as e:  # noqa: BLE001 - any failure of a record is isolated
            events, letters = self._isolate(batch, e)
            return events, letters + self.far_ahead_letters()
        self._since.append(batch)
        self._since_n += len(batch)
        return events, self.far_ahead_letters()

    def far_ahead_letters(self) -> list[DeadLetter]:
        """A dead letter for each report the engine gave up since the last call: held far ahead of
        the data clock and never confirmed by other tracks (``proximity._clock``)."""
        letters = []
        gone = self.engine.take_set_aside()
        if gone:  # one line for all (a feed whose clock is years off gives thousands: each is a dead letter)
            by_track = Counter(u.track_id for u in gone)
            named = ", ".join(f"{t} x {n}" for t, n in by_track.most_common(3))
            more = f" and {len(by_track) - 3} more tracks" if len(by_track) > 3 else ""
            log.warning("%d report(s) set aside (%s; each a dead letter): %s%s, the first for %s", len(gone),
                        FAR_AHEAD_REASON, named, more, format_utc(gone[0].t_s))
        for u in gone:
            letters.append(DeadLetter.of(
                self._feed_of(u), raw_ref_position(u.raw_ref), _raw(u, self._encode),
                f"{FAR_AHEAD_REASON}: {u.track_id} reported for {format_utc(u.t_s)}, more than "
                f"{self.engine.settings.future_tolerance_s:g} s ahead of the other tracks, and no other "
                "track confirmed that time", stage="engine"))
        return letters

    def add_zones(self, zones: Sequence[Zone]) -> list[Event]:
        """``Engine.add_zones``; raises (the engine put back) when the engine cannot take them."""
        try:
            events = self.engine.add_zones(zones)
        except Exception:
            self._back()
            raise
        self._renew()  # a snapshot cannot take a zone back: start a new one
        return events

    def finish(self) -> list[Event]:
        """``Engine.finish``; on a failure the engine is put back and the error raised."""
        try:
            return self.engine.finish()
        except Exception:
            self._back()
            raise

    # -- isolation ---------------------------------------------------------------------------

    def _renew(self) -> None:
        self._snap = self.engine.snapshot()
        self._since.clear()
        self._since_n = 0

    def _back(self) -> None:
        """The engine as it was after the last batch that went through."""
        self.engine.rollback(self._snap)
        for b in self._since:
            self.engine.process(b)
        # given up already, and explained already, when these batches first went through (the
        # callers take the context events after every call: the pipeline, PartitionJudge)
        self.engine.take_set_aside()
        self.engine.take_context()

    def _tries(self, updates: Sequence[TrackUpdate]) -> BaseException | None:
        """Process ``updates`` on the state of the last good batch; the error, or None."""
        self.engine.rollback(self._snap)
        try:
            self.engine.process(updates)
        except Exception as e:  # noqa: BLE001
            return e
        return None

    def _isolate(self, batch: Sequence[TrackUpdate], error: BaseException) -> tuple[list[Event], list[DeadLetter]]:
        started = time.monotonic()
        log.error("the engine failed on a batch of %d reports (%s: %s): finding the report that causes it",
                  len(batch), type(error).__name__, error)
        self._back()
        self._renew()  # the state before the batch: every try starts here
        rest = list(batch)
        failures: list[EngineFailure] = []
        while True:
            err = self._tries(rest)
            if err is None:
                break
            # the shortest prefix of ``rest`` that raises: its last report is set aside
            good, bad = 0, len(rest)
            while bad - good > 1:
                mid = (good + bad) // 2
                e = self._tries(rest[:mid])
                if e is None:
                    good = mid
                else:
                    bad, err = mid, e
            failures.append(EngineFailure(rest[bad - 1], err))
            del rest[bad - 1]
        # the batch without the reports set aside, on the state before it: its events are emitted
        # (and its context events; not those of the failed run and the tries)
        self.engine.rollback(self._snap)
        self.engine.take_context()
        events = self.engine.process(rest)
        self._since.append(rest)
        self._since_n += len(rest)
        self.failures += len(failures)
        self.last_failures = failures
        self.isolation_s += time.monotonic() - started
        letters = []
        for f in failures:
            log.error("report set aside (%s): %s", f.reason(), f.update.raw_ref or f.update.track_id)
            letters.append(DeadLetter.of(self._feed_of(f.update), raw_ref_position(f.update.raw_ref),
                                         _raw(f.update, self._encode), f.reason(), stage="engine"))
        return events, letters

