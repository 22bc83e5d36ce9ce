"""Replay: the engine re-run over a past window, from the archive, the Kafka topics or feed files.

The rules (docs/archive.md, "Replay", says the same for users):

* **The window** is ``[from, to)`` in data time. It *contains* every event revision whose
  ``t_s`` lies in it (and, with ``--bbox``, one of whose positions lies in the box:
  the subjects' positions and the event's geometry, as ``closewatch tail --bbox``).
  The box selects what is reported, never what the engine reads: a close approach or a
  prediction joins tracks from far outside any box.
* **Carried in**: an incident opened before ``from`` and not closed before it is reported
  with its last revision before ``from``; **open at the end**: an incident whose last
  revision in the window is not a close.
* **Lead-in**: the engine starts with no state at ``from - lead_in_s`` (:func:`lead_in_s`:
  the longest staleness, plus the longest of the prediction horizon and the integrity
  hold, spoofing window, stuck time and dwell), long enough that every track live at
  ``from`` and every transient memory of the engine is rebuilt. An incident open at
  ``from`` may have opened long before: when the events raised at the time are known (the
  archive, the events topic), the lead-in start moves back to ``lead_in_s`` before the
  opening of every incident open at ``from``, and again for those open at the new start,
  until none is, or ``[archive] max_lead_in_s`` more would be needed (then those are
  listed as *not reproducible*: they reopen under new ids). Feed files are read from
  their start: the state at ``from`` is the run's own.
* **The end**: the engine reads the input up to ``to + tail_s(settings)`` and, if no
  report of that part lies beyond the first tick at or after ``to``, one report more: every
  revision a live run makes with a data time before ``to`` (also those a tick dates back:
  a zone that ended, an exercise that began) is then made. If the input ends first, the
  replay ends as a run over files does (incidents still open close ``end_of_input`` at
  the last data time), as the live run over the same recording did.

Under these rules the revisions in the window are those the live run made, byte for
byte but for ``detected_at``/``detected_s``; revisions of one data time may come in
another order (the engine's internal numbering of tracks follows the input from its
start).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

from alerts.codec import event_to_feature
from alerts.consumer import EventFilter
from closewatch.progress import Progress
from config.records import DeadLetter, Notice, TrackUpdate, Zone
from config.settings import ProximitySettings, Settings
from proximity.engine import Engine
from proximity.errors import NoticeError
from proximity.events import Event
from proximity.notices import zone_from_notice

__all__ = [
    "IncidentSpan",
    "InputContinues",
    "ReplayError",
    "ReplayResult",
    "Window",
    "canonical_lines",
    "incident_spans",
    "lead_in_s",
    "lead_in_start",
    "run_replay",
    "tail_s",
]

log = logging.getLogger(__name__)

class InputContinues:
    """Yielded by a source whose input goes on beyond what it could read (an unreadable archive
    file): the replay does not take the end of what it read for the end of the input."""


Item = TrackUpdate | Notice | Zone | DeadLetter | InputContinues


class ReplayError(Exception):
    """A replay cannot be made as asked (bad window, no input); the message says why."""


@dataclass(frozen=True)
class Window:
    """``[from_s, to_s)`` in data time, optionally within ``bbox`` (west, south, east, north)."""

    from_s: float
    to_s: float
    bbox: tuple[float, float, float, float] | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.from_s) and math.isfinite(self.to_s)):
            raise ReplayError("the window needs finite times")
        if self.to_s <= self.from_s:
            raise ReplayError("the window ends before it starts (--to must be after --from)")

    def in_box(self, event: Event) -> bool:
        return self.bbox is None or EventFilter(bbox=self.bbox).matches(event_to_feature(event))

    def contains(self, event: Event) -> bool:
        """The revision belongs to the window (module doc)."""
        return self.from_s <= event.t_s < self.to_s and self.in_box(event)


def lead_in_s(p: ProximitySettings) -> float:
    """How long before a window the engine starts from nothing (module doc)."""
    memory = max(p.horizon_s, p.suspect_hold_s, p.spoof_window_s, p.stuck_min_s, p.min_dwell_s)
    return max(p.stale_after_s.values()) + memory


def tail_s(p: ProximitySettings) -> float:
    """How far past ``to`` the replay reads: two tick intervals (a tick at or after ``to`` runs) and
    a minute for reports that arrive late."""
    return max(2.0 * p.pair_interval_s, 60.0)


# -- incidents from their revisions ------------------------------------------------------------


@dataclass
class IncidentSpan:
    """One incident as its revisions tell it."""

    event_id: str
    kind: str
    track_ids: tuple[str, ...]
    zone_id: str | None
    opened_s: float
    closed_s: float | None
    first_seq: int
    revisions: list[Event] = field(default_factory=list)

    def open_at(self, t_s: float) -> bool:
        return self.opened_s < t_s and (self.closed_s is None or self.closed_s >= t_s)


def incident_spans(events: Iterable[Event]) -> dict[str, IncidentSpan]:
    """The incidents of revisions (deduplicated on ``(event_id, seq)``), by ``event_id``."""
    out: dict[str, IncidentSpan] = {}
    seen: set[tuple[str, int]] = set()
    for e in sorted(events, key=lambda e: (e.event_id, e.seq)):
        if (e.event_id, e.seq) in seen:
            continue
        seen.add((e.event_id, e.seq))
        span = out.get(e.event_id)
        if span is None:
            span = out[e.event_id] = IncidentSpan(
                e.event_id, e.kind, tuple(sorted(s.track_id for s in e.subjects)), e.zone_id, e.t_s, None, e.seq
            )
        span.revisions.append(e)
        if e.state == "closed":
            span.closed_s = e.t_s
    return out


def lead_in_start(
    window: Window, settings: ProximitySettings, recorded: Sequence[Event] | None, max_lead_in_s: float
) -> tuple[float, list[str]]:
    """Where the replay's input starts, and notes on incidents it cannot reopen as they were.

    ``recorded`` are the revisions raised at the time from ``window.from_s - lead_in_s -
    max_lead_in_s`` on; an incident whose opening is not among them opened before that.
    """
    base = lead_in_s(settings)
    start = window.from_s - base
    if not recorded:
        return start, []
    floor = start - max_lead_in_s
    spans = incident_spans(recorded)
    for s in spans.values():
        if s.first_seq > 0:
            s.opened_s = -math.inf  # opened before the revisions read
    must_open = [s for s in spans.values() if s.open_at(window.from_s)]
    while True:
        pull = [s.opened_s - base for s in must_open if s.opened_s - base < start]
        if not pull:
            break
        start = max(min(pull), floor)
        if start == floor:
            break
        must_open = [s for s in spans.values() if s.open_at(start) or s.open_at(window.from_s)]
    notes = []
    for s in sorted(spans.values(), key=lambda s: (s.opened_s, s.event_id)):
        if s.open_at(window.from_s) and s.opened_s - base < start:
            when = "before the revisions read" if math.isinf(s.opened_s) else f"at data time {s.opened_s:.3f}"
            notes.append(f"{s.event_id} ({s.kind}) opened {when}, more than max_lead_in_s before the window's "
                         f"lead-in: it reopens in the replay under another id")
    return start, notes


# -- the run ------------------------------------------------------------------------------------


@dataclass
class ReplayResult:
    """What a replay found (module doc for the terms)."""

    window: Window
    start_s: float
    events: list[Event]
    carried_in: list[Event]
    open_at_end: list[Event]
    all_revisions: list[Event]
    updates: int
    ended: bool
    zones: list[Zone]
    notes: list[str]
    engine_stats: dict[str, int]
    input_items: list[Item] | None = None  # what the engine got, in order (keep_input=True)
    dead_letters: int = 0


def _pace(t_s: float, window: Window, speed: float | None, wall0: list[float]) -> float:
    """Seconds to wait before a report at data time ``t_s`` (``speed``: data seconds per wall second)."""
    if speed is None or speed <= 0 or t_s < window.from_s:
        return 0.0
    if not wall0:
        wall0.append(time.monotonic())
    return wall0[0] + (t_s - window.from_s) / speed - time.monotonic()


def run_replay(
    settings: Settings,
    zones: Sequence[Zone],
    items: Iterable[Item],
    window: Window,
    *,
    start_s: float = -math.inf,
    sinks: Sequence[Any] = (),
    speed: float | None = None,
    progress: Progress | None = None,
    borders: Sequence[Any] | None = None,
    notes: Sequence[str] = (),
    keep_input: bool = False,
    finish_if_ended: bool = True,
) -> ReplayResult:
    """Run the engine over ``items`` (track updates, notices, zones, in the order the live engine
    got them, from ``start_s`` on) and keep the revisions of ``window``.

    ``sinks`` get the window's revisions as they come (``Sink.publish_events``). ``speed``
    paces the window (not the lead-in) at that many data seconds per second.
    ``finish_if_ended=False`` never closes at the end of the input (for a re-run of a
    replay that did not end).
    """
    from closewatch.rules import build_rules
    from config.zones import load_borders, load_land

    p = settings.proximity
    if borders is None:
        borders = [line for _name, line in load_borders()]
    # the live run's rules and land
    engine = Engine(p, list(zones), borders=borders, rules=build_rules(settings), land=load_land())
    watched = list(zones)
    stop_tail = window.to_s + tail_s(p)
    trigger = math.ceil(window.to_s / p.pair_interval_s) * p.pair_interval_s
    revisions: list[Event] = []
    in_window: list[Event] = []
    kept: list[Item] | None = [] if keep_input else None
    batch: list[TrackUpdate] = []
    updates = 0
    letters = 0
    wall0: list[float] = []
    batch_size = settings.pipeline.batch_size

    def emit(events: Sequence[Event]) -> None:
        revisions.extend(events)
        mine = [e for e in events if window.contains(e)]
        if mine:
            in_window.extend(mine)
            for sink in sinks:
                sink.publish_events(mine)

    def flush() -> None:
        nonlocal updates
        if batch:
            emit(engine.process(batch))
            updates += len(batch)
            if progress is not None:
                progress.update(len(batch))
            batch.clear()

    triggered = False
    ended = True
    paced = speed is not None and speed > 0
    for item in items:
        if isinstance(item, TrackUpdate):
            t = item.t_s
            if t < start_s:
                continue
            if t >= stop_tail:
                if not triggered:
                    batch.append(item)
                    if kept is not None:
                        kept.append(item)
                ended = False
                break
            if paced:
                wait = _pace(t, window, speed, wall0)
                if wait > 0:
                    flush()
                    time.sleep(wait)
            batch.append(item)
            if kept is not None:
                kept.append(item)
            if t > trigger:
                triggered = True
            if len(batch) >= batch_size:
                flush()
        elif isinstance(item, (Notice, Zone)):
            flush()
            if isinstance(item, Notice):
                try:
                    zone = zone_from_notice(item)
                except NoticeError as e:
                    log.warning("notice %s not used: %s", item.notice_id, e)
                    letters += 1
                    continue
            else:
                zone = item
            if kept is not None:
                kept.append(zone)
            watched.append(zone)
            emit(engine.add_zones([zone]))
        elif isinstance(item, InputContinues):
            ended = False
            break
        else:
            letters += 1
    flush()
    if ended and finish_if_ended:
        emit(engine.finish())
    letters += len(engine.take_set_aside())  # held far ahead of the data clock, never confirmed
    spans = incident_spans(revisions)
    carried = []
    for s in spans.values():
        if s.open_at(window.from_s):
            before = [r for r in s.revisions if r.t_s < window.from_s]
            if before and window.in_box(before[-1]):
                carried.append(before[-1])
    in_ids = {e.event_id for e in in_window} | {e.event_id for e in carried}
    open_end = []
    for eid in sorted(in_ids):
        last = [r for r in spans[eid].revisions if r.t_s < window.to_s]
        if last and last[-1].state != "closed":
            open_end.append(last[-1])
    return ReplayResult(
        window=window,
        start_s=start_s,
        events=in_window,
        carried_in=sorted(carried, key=lambda e: (e.t_s, e.event_id)),
        open_at_end=sorted(open_end, key=lambda e: (e.t_s, e.event_id)),
        all_revisions=revisions,
        updates=updates,
        ended=ended and finish_if_ended,
        zones=watched,
        notes=list(notes),
        engine_stats=dict(engine.stats),
        input_items=kept,
        dead_letters=letters,
    )


def canonical_lines(events: Iterable[Event]) -> list[bytes]:
    """The revisions as the topic's values without the detection time, sorted by data time, id and
    seq: what "the same events" compares."""
    from alerts.codec import encode_event

    out = []
    for e in sorted(events, key=lambda e: (e.t_s, e.event_id, e.seq)):
        out.append(encode_event(_undetected(e)))
    return out


def _undetected(e: Event) -> Event:
    from dataclasses import replace

    return replace(e, detected_s=None)

