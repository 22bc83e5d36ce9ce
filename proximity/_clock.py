"""Reports far ahead of the data clock: held until other tracks confirm the new time.

The engine's data clock is the latest time of the reports it took (docs/engine.md,
"Time"). One report with a mangled but plausible time (a date eight days on that
passed the decoder's checks) would move it on its own: the tick it causes would
close every incident as ``stale``, forget every track, and stop the checks until
the data caught up. So a report more than ``future_tolerance_s`` ahead of the clock
is held, not taken, until either

* other tracks confirm the new time: reports of at least ``future_confirm_tracks``
  distinct tracks (fewer when fewer tracks are live: a lone aircraft's trace after a
  gap confirms itself) lie within the tolerance of one another, ahead of the clock;
  they are taken together, in their arrival order, and the clock moves (a recording
  of the next day is followed after its first few reports); or
* the clock catches up: a held report within the tolerance of the clock is taken
  (in arrival order) right after the report that moved the clock there.

Held reports are bounded (``future_held_max``: the oldest is set aside); those never
confirmed are set aside at the end of the input. A set-aside report becomes a dead
letter (reason ``time far ahead``) in the pipeline. Every decision is taken per
report in arrival order, so the reports taken, and the events, do not depend on
where the input is cut into batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from config.records import TrackUpdate

__all__ = ["FarAhead", "FAR_AHEAD_REASON"]

FAR_AHEAD_REASON = "time far ahead"


@dataclass
class FarAhead:
    """The held reports and the counters; :meth:`admit` decides per report."""

    tolerance_s: float
    confirm_tracks: int
    held_max: int
    held: list[TrackUpdate] = field(default_factory=list)
    set_aside: list[TrackUpdate] = field(default_factory=list)  # for the caller to take
    n_held: int = 0
    n_released: int = 0
    n_set_aside: int = 0

    def admit(self, updates: Sequence[TrackUpdate], clock: float | None, live_tracks: Callable[[], int],
              take: Callable[[list[TrackUpdate], np.ndarray | None], None]) -> None:
        """Hand ``take`` the reports to process, in order: ``updates`` less those held, plus those
        released. Before a far-ahead report is judged, what was taken before it is processed
        (``take``), so that ``live_tracks`` counts the tracks live at that report, whatever
        the batch cut."""
        tol = self.tolerance_s
        t = np.fromiter((u.t_s for u in updates), float, len(updates))
        start = float(t[0]) if clock is None else clock
        before = np.maximum.accumulate(np.concatenate(([start], t[:-1])))
        if not self.held and bool((t <= before + tol).all()):
            take(list(updates), t)  # the usual case: nothing far ahead, nothing held (their times given)
            return
        out: list[TrackUpdate] = []
        for u in updates:
            if clock is None or u.t_s <= clock + tol:
                out.append(u)
                if clock is None or u.t_s > clock:
                    clock = self._release_caught_up(u.t_s, out)
                continue
            take(out, None)
            out = []
            near = [h for h in self.held if abs(h.t_s - u.t_s) <= tol]
            tracks = {h.track_id for h in near}
            tracks.add(u.track_id)
            if len(tracks) >= min(self.confirm_tracks, max(1, live_tracks())):
                taken = {id(h) for h in near}
                self.held = [h for h in self.held if id(h) not in taken]
                self.n_released += len(near)
                out.extend(near)
                out.append(u)
                clock = self._release_caught_up(max(u.t_s, *(h.t_s for h in near)) if near else u.t_s, out)
            else:
                self.held.append(u)
                self.n_held += 1
                if len(self.held) > self.held_max:
                    self._set_aside([self.held.pop(0)])
        take(out, None)

    def _release_caught_up(self, clock: float, out: list[TrackUpdate]) -> float:
        """Take the held reports the clock has come within the tolerance of; the clock after them."""
        while self.held:
            ready = [h for h in self.held if h.t_s <= clock + self.tolerance_s]
            if not ready:
                break
            taken = {id(h) for h in ready}
            self.held = [h for h in self.held if id(h) not in taken]
            self.n_released += len(ready)
            out.extend(ready)
            clock = max(clock, *(h.t_s for h in ready))
        return clock

    def end_of_input(self) -> None:
        """The input ended: what is still held was never confirmed."""
        self._set_aside(self.held)
        self.held = []

    def _set_aside(self, reports: list[TrackUpdate]) -> None:
        self.set_aside.extend(reports)
        self.n_set_aside += len(reports)

    def take_set_aside(self) -> list[TrackUpdate]:
        out, self.set_aside = self.set_aside, []
        return out
