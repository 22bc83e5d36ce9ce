"""The proximity engine: ``TrackUpdate``s in, the few ``Event``s an operator must see out.

The engine keeps the clock and the shared state and runs the event families
(``proximity.families``) in the order of ``FAMILIES``. How one micro-batch is
processed (the rules in full: ``docs/engine.md``):

1. Reports older than their track's last accepted report are dropped and
   counted (``out_of_order_dropped``).
2. The batch is cut at the *ticks*: every multiple of ``pair_interval_s`` of
   data time. When the data time (the running maximum of the reports' ``t_s``)
   passes a tick, the tick runs first, on the state left by all earlier
   reports: stale tracks expire (their incidents close, ``stale``), incidents
   bound to a zone whose window ended close (``zone_inactive``), then every
   family's ``on_tick`` (exercise zones, integrity and spoofing, close
   approaches at one instant). If the data time jumps over several ticks, only
   the last runs. The predictions are cut the same way at their own *slices*:
   ``predict_interval_s`` is cut into ``predict_slices``, and at the middle of
   each every family's ``on_predict`` predicts the tracks whose id falls into
   that slice (each track once per interval; a pair by its NATO track). If the
   data time jumps over several slices, the tracks of all of them are predicted
   at the last.
3. Between ticks, the reports go to every family's ``screen`` (against each
   track's previous report), into the track table, then to every family's
   ``on_reports``; the events are ordered by the report that caused them.
   Before the families see them, each report gets its context (stationary, in
   a port: ``proximity.rules.Rules.report_context``).
4. The rule profile (``proximity.rules``) judges every incident as it opens:
   the revisions of one it does not raise are counted by kind and reason
   (``suppressed``) and kept apart as *context* events for the tracks listed
   in ``rules.explain`` (``take_context``); they are never returned.

Ticks are placed by data time and everything else runs per report in arrival
order: the events do not depend on how the input is cut into batches.
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from config.records import TrackUpdate, Zone
from config.settings import ProximitySettings

from ._clock import FarAhead
from .events import Event
from .families import FAMILIES, Context, Family
from .lifecycle import Closed, Lifecycle
from .rules import Rules
from .tracks import DOMAIN_CODE, ReportBatch, TrackTable
from .zonetable import ZoneTable

if TYPE_CHECKING:
    from .state import EngineSnapshot, EngineState

__all__ = ["Engine"]

log = logging.getLogger(__name__)


class Engine:
    """From track reports to events; see the module docstring and ``docs/engine.md``."""

    def __init__(
        self,
        settings: ProximitySettings,
        zones: Sequence[Zone],
        *,
        borders: Sequence[LineString] = (),
        wall_clock: Callable[[], float] = time.time,
        rules: Rules | None = None,
        land: BaseGeometry | None = None,
    ) -> None:
        self._s = settings
        self._tracks = TrackTable()
        self._zones = ZoneTable()
        self._rules = rules if rules is not None else Rules()  # default: all-traffic, today's behaviour
        for name, dtype, fill in (("stationary", np.bool_, False), ("in_port", np.bool_, False),
                                  ("slow_since_s", np.float64, math.nan)):
            self._tracks.add_column(name, dtype, fill)
        watch = frozenset(t.upper() for t in settings.watch_types)
        self._life = Lifecycle(
            self._tracks, self._zones, watch, wall_clock, self._rules, notification_lead_s=settings.notification_lead_s
        )
        self._book = self._life.book
        ctx = Context(settings, self._tracks, self._zones, self._life, borders, land)
        self._families: list[Family] = [make(ctx) for make in FAMILIES]
        for fam in self._families:
            self._life.register(fam, fam.spec.heard())
        self._with_zone = {fam.spec.kind for fam in self._families if fam.spec.closes_with_zone}
        self._outlive_stale = {fam.spec.kind for fam in self._families if fam.spec.outlives_stale}
        stale = {str(d): float(v) for d, v in settings.stale_after_s.items()}
        self._stale_after = np.array([stale.get(d, math.inf) for d in DOMAIN_CODE], dtype=np.float64)
        # data clock
        self._data_t_s: float | None = None
        self._tick_k: int | None = None
        self._last_tick_t_s: float | None = None
        self._slice_k: int | None = None  # the last prediction slice run
        self._slice_s = settings.predict_interval_s / settings.predict_slices
        self._far = FarAhead(settings.future_tolerance_s, settings.future_confirm_tracks, settings.future_held_max)
        # counters
        self._n_updates = 0
        self._n_dropped = 0
        self._n_expired = 0
        self._n_forgotten = 0
        self._freed = np.empty(0, np.int64)  # the slots the last tick that forgot tracks freed
        self._pending: list[Event] = []
        self._context: list[Event] = []
        self._pending.extend(self.add_zones(zones))

    # -- public API -----------------------------------------------------------------

    @property
    def stats(self) -> dict[str, int]:
        """Counters since construction (the first five are the documented minimum), the families' own."""
        return {
            "updates": self._n_updates,
            "out_of_order_dropped": self._n_dropped,
            "stale_expired": self._n_expired,
            "live_tracks": int(np.count_nonzero(self._tracks.live[: self._tracks.n])),
            "open_incidents": len(self._book),
            "known_tracks": self._tracks.n_known,
            "forgotten_tracks": self._n_forgotten,
            "far_ahead_held": len(self._far.held),
            "far_ahead_released": self._far.n_released,
            "far_ahead_set_aside": self._far.n_set_aside,
            **{k: v for fam in self._families for k, v in fam.stats().items()},
            "zones": len(self._zones),
            "suppressed": sum(self._life.suppressed.values()),
            **{f"suppressed.{kind}.{reason}": n for (kind, reason), n in sorted(self._life.suppressed.items())},
        }

    @property
    def suppressed(self) -> dict[tuple[str, str], int]:
        """Incidents the rule profile did not raise, by (kind, reason), each counted once."""
        return dict(sorted(self._life.suppressed.items()))

    @property
    def settings(self) -> ProximitySettings:
        return self._s

    @property
    def rules(self) -> Rules:
        return self._rules

    def take_set_aside(self) -> list[TrackUpdate]:
        """The reports given up since the last call: held far ahead of the data clock and never
        confirmed (``proximity._clock``); the caller makes them dead letters."""
        return self._far.take_set_aside()

    def take_context(self) -> list[Event]:
        """The context events since the last call: revisions of incidents not raised whose
        subjects include a track of ``rules.explain`` (each with ``suppressed`` set)."""
        out, self._context = self._context, []
        return out

    def _raised(self, events: list[Event]) -> list[Event]:
        """The raised events; those of incidents not raised go to the context (if explained) or nowhere."""
        if not any(e.suppressed is not None for e in events):
            return events
        explain = self._rules.explained
        out = []
        for e in events:
            if e.suppressed is None:
                out.append(e)
            elif explain([x.track_id for x in e.subjects]):
                self._context.append(e)
        return out

    @property
    def zones(self) -> tuple[Zone, ...]:
        return tuple(self._zones.zones)

    def add_zones(self, zones: Sequence[Zone]) -> list[Event]:
        """Watch more zones (a zone with a known ``zone_id`` replaces the old one).

        Returns the events of zones that apply at once, such as the
        ``exercise_near_border`` of an exercise zone active at the current data
        time (later ones open at the tick that finds them active).
        """
        added = self._zones.add(zones)
        events: list[Event] = []
        for fam in self._families:
            events.extend(fam.on_zones(added, self._data_t_s))
        return self._raised(events)

    def process(self, updates: Sequence[TrackUpdate]) -> list[Event]:
        """One micro-batch of reports, in arrival order; returns the events it caused."""
        events, self._pending = self._pending, []
        if len(updates) == 0:
            return events

        def take(admitted: list[TrackUpdate], t: np.ndarray | None) -> None:
            if admitted:
                self._process(admitted, events, t)

        # a report far ahead of the data clock waits for other tracks to confirm its time
        self._far.admit(updates, self._data_t_s, self._live_count, take)
        return self._raised(events)

    def next_tick_s(self, first_t_s: float | None = None) -> float | None:
        """The data time after which the next pair tick or prediction slice runs: the first report
        later than it makes it run (before that report). Before the engine's first report, as if
        ``first_t_s`` were it (None without it). A caller that cuts its batches there gets a
        tick's events one batch sooner; the events are the same."""
        P, S = self._s.pair_interval_s, self._slice_s
        tick_k, slice_k = self._tick_k, self._slice_k
        if tick_k is None or slice_k is None:
            if first_t_s is None:
                return None
            tick_k = math.ceil(first_t_s / P) - 1 if tick_k is None else tick_k
            slice_k = math.ceil(first_t_s / S - 0.5) - 1 if slice_k is None else slice_k
        return min((tick_k + 1) * P, (slice_k + 1.5) * S)

    def _live_count(self) -> int:
        return int(np.count_nonzero(self._tracks.live[: self._tracks.n]))

    def _process(self, updates: Sequence[TrackUpdate], events: list[Event],
                 t: np.ndarray | None = None) -> list[Event]:
        self._n_updates += len(updates)
        rest: Sequence[TrackUpdate] = updates
        while rest:
            rest, t = self._until_forgotten(rest, events, t), None
        return events

    def _until_forgotten(self, updates: Sequence[TrackUpdate], events: list[Event],
                         t_given: np.ndarray | None = None) -> Sequence[TrackUpdate]:
        """Take ``updates`` in order (``t_given``: their times, if known), up to a tick that forgets
        tracks; return those after that tick.

        The reports after such a tick are judged again on the table it left (a forgotten
        track's next report starts a new track, in a slot given then), as they would be had
        the batch been cut there: the events do not depend on the cuts.
        """
        tracks = self._tracks
        n = len(updates)
        keys = given_keys = tracks.keys_for([u.track_id for u in updates])
        t = np.fromiter((u.t_s for u in updates), float, n) if t_given is None else t_given
        keep = tracks.in_order(keys, t)
        idx = np.nonzero(keep)[0]
        m = int(idx.size)
        if m == 0:
            self._n_dropped += n
            return ()
        given = updates
        if m < n:
            updates = [updates[i] for i in idx.tolist()]
            keys = keys[idx]
            t = t[idx]
        upd = np.empty(m, object)
        upd[:] = updates
        cols = ReportBatch.columns(updates, t)
        # where the data time passes a tick or a prediction slice, it runs before that report
        P, S = self._s.pair_interval_s, self._slice_s
        if self._tick_k is None:
            self._tick_k = int(np.ceil(t[0] / P)) - 1
        if self._slice_k is None:
            self._slice_k = int(np.ceil(t[0] / S - 0.5)) - 1
        run, prev = _passed(np.ceil(t / P).astype(np.int64) - 1, self._tick_k)
        run_s, prev_s = _passed(np.ceil(t / S - 0.5).astype(np.int64) - 1, self._slice_k)
        cuts = np.nonzero((run > prev) | (run_s > prev_s))[0].tolist()
        bounds = sorted({0, *cuts, m})
        for a, b in zip(bounds[:-1], bounds[1:]):
            tick, predict = run[a] > prev[a], run_s[a] > prev_s[a]
            if tick or predict:
                forgotten = self._n_forgotten
                T_tick, T_slice = float(run[a] * P), (float(run_s[a]) + 0.5) * S
                if predict and not (tick and T_tick <= T_slice):
                    events.extend(self._predict(T_slice, int(prev_s[a]), int(run_s[a])))
                if tick:
                    self._tick_k = int(run[a])
                    events.extend(self._tick(T_tick))
                    if predict and T_tick <= T_slice:
                        events.extend(self._predict(T_slice, int(prev_s[a]), int(run_s[a])))
                first = int(idx[a])
                if self._n_forgotten != forgotten and np.isin(given_keys[first:], self._freed).any():
                    # a track of this report or one after it was forgotten: they are judged again
                    self._n_dropped += first - a
                    return given[first:]
            slots = keys[a:b]
            new = slots < 0
            if new.any():  # tracks not in the table: their slots now, after the ticks before them
                slots = slots.copy()
                at = np.nonzero(new)[0]
                slots[at] = tracks.slots_for([updates[a + i].track_id for i in at.tolist()])
            events.extend(self._reports(ReportBatch(slots, upd[a:b], {k: v[a:b] for k, v in cols.items()})))
            t_seg = float(t[a:b].max())
            if self._data_t_s is None or t_seg > self._data_t_s:
                self._data_t_s = t_seg
        self._n_dropped += n - m
        return ()

    # -- state ----------------------------------------------------------------------

    def state(self) -> "EngineState":
        """Everything this engine holds, as plain data that cannot run code (``proximity.state``)."""
        from .state import export_state

        return export_state(self)

    @classmethod
    def from_state(
        cls,
        settings: ProximitySettings,
        state: "EngineState",
        *,
        borders: Sequence[LineString] = (),
        wall_clock: Callable[[], float] = time.time,
        rules: Rules | None = None,
        land: BaseGeometry | None = None,
    ) -> "Engine":
        """The engine that exported ``state``, going on where it stood (its settings, border
        lines and rule profile given again; raises ``proximity.state.StateError`` naming what
        does not fit)."""
        from .state import import_state

        return import_state(settings, state, borders=borders, wall_clock=wall_clock, rules=rules, land=land)

    def snapshot(self) -> "EngineSnapshot":
        """A copy in memory of what processing changes, for :meth:`rollback`."""
        from .state import snapshot

        return snapshot(self)

    def rollback(self, snap: "EngineSnapshot") -> None:
        """Back to ``snap`` (taken from this engine, its zones unchanged since)."""
        from .state import rollback

        rollback(self, snap)

    def finish(self) -> list[Event]:
        """End of a replayed input: a last tick at the data time, then close what is open.
        Reports still held far ahead were never confirmed: they are set aside."""
        events, self._pending = self._pending, []
        self._far.end_of_input()
        if self._data_t_s is None:
            return events
        T = self._data_t_s
        if self._last_tick_t_s is None or T > self._last_tick_t_s:
            events.extend(self._tick(T))
        for key in sorted(self._book.open):
            events.append(self._life.close(key, T, Closed.END_OF_INPUT))
        return self._raised(events)

    # -- reports and ticks ----------------------------------------------------------

    def _reports(self, batch: ReportBatch) -> list[Event]:
        """Reports between two ticks: their context, screened, stored, then each family's state machines."""
        tr = self._tracks
        slow_since = tr.column("slow_since_s")
        ctx = self._rules.report_context(
            batch.slots, batch.updates, batch.t_s, batch.lon_deg, batch.lat_deg, batch.cols["alt_m"],
            batch.speed_mps, batch.domain, slow_since[batch.slots],
        )
        batch.stationary, batch.in_port = ctx.stationary, ctx.in_port
        for fam in self._families:
            fam.screen(batch)
        tr.assign(batch)
        last, slots = batch.last, batch.last_slots
        tr.column("stationary")[slots] = ctx.stationary[last]
        tr.column("in_port")[slots] = ctx.in_port[last]
        slow_since[slots] = ctx.slow_since_s[last]
        tagged: list[tuple[int, Event]] = []
        for fam in self._families:
            tagged.extend(fam.on_reports(batch))
        tagged.sort(key=lambda x: x[0])  # by report; stable: by family for one report
        return [e for _, e in tagged]

    def _predict(self, T: float, done_k: int, k: int) -> list[Event]:
        """The prediction slice ``k`` at its time ``T``, with the slices after ``done_k`` it passed
        over (all tracks when it passed over a whole interval)."""
        self._slice_k = k
        K = self._s.predict_slices
        tr = self._tracks
        phases = np.arange(max(done_k + 1, k - K + 1), k + 1) % K
        due = np.ones(tr.n, bool) if phases.size >= K else np.isin(tr.id_hash[: tr.n] % K, phases)
        events: list[Event] = []
        for fam in self._families:
            events.extend(fam.on_predict(T, due))
        return events

    def _tick(self, T: float) -> list[Event]:
        self._last_tick_t_s = T
        events = self._expire(T)
        for z in self._zones.ended_before(T):
            until_s = float(self._zones.until_s[z])
            for key in self._book.of_zone(z):
                if key[0] in self._with_zone:
                    events.append(self._life.close(key, until_s, Closed.ZONE_INACTIVE))
        for fam in self._families:
            events.extend(fam.on_tick(T))
        self._forget(T)
        return events

    def _expire(self, T: float) -> list[Event]:
        """Tracks silent for longer than ``stale_after_s``: no longer live, their incidents closed.

        A ``stale`` close is stamped when the track went stale, its last report plus its
        domain's ``stale_after_s``, not at the tick that noticed it (after a gap in the
        data that tick may come a week later)."""
        tr = self._tracks
        n = tr.n
        stale_after = self._stale_after[tr.domain[:n]]
        age_s: np.ndarray = T - tr.t_s[:n]
        idx = np.nonzero(tr.live[:n] & (age_s > stale_after))[0]
        if idx.size == 0:
            return []
        tr.live[idx] = False
        self._n_expired += int(idx.size)
        went_stale_s = tr.t_s[idx] + stale_after[idx]
        order = np.lexsort((idx, went_stale_s))  # the first to go stale closes an incident of two
        events: list[Event] = []
        for slot, t_s in zip(idx[order].tolist(), went_stale_s[order].tolist()):
            for key in self._book.of_slot(slot):
                if key in self._book and key[0] not in self._outlive_stale:
                    events.append(self._life.close(key, t_s, Closed.STALE))
        return events

    def _forget(self, T: float) -> None:
        """Tracks dead for ``forget_after_s``: their slots are reused."""
        tr = self._tracks
        n = tr.n
        age_s: np.ndarray = T - tr.t_s[:n]
        old = np.nonzero(~tr.live[:n] & (age_s > self._s.forget_after_s))[0]
        if old.size:
            self._n_forgotten += int(old.size)
            self._freed = old
            tr.free(old)


def _passed(need: np.ndarray, done: int) -> tuple[np.ndarray, np.ndarray]:
    """For the tick numbers each report needs run before it, and the last one run: the last
    tick run once each report is taken, and before it."""
    run = np.maximum.accumulate(np.maximum(need, done))
    return run, np.concatenate(([done], run[:-1]))
