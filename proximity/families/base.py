"""The interface of an event family: a small class with the same hooks for every kind.

A family watches for one kind of incident. The engine builds it once with the
shared state (``Context``) and calls its hooks; the lifecycle
(``proximity.lifecycle.Lifecycle``) asks it for what its events say. Every hook
has a default that does nothing, so a family writes only those it needs:

=====================================  ==============================================================
``on_zones(added, t_s)``               zones were (re)defined (numbers in ``ctx.zones``); ``t_s`` is
                                       the data time, None before the first report
``screen(batch)``                      a batch of reports before the track table takes it (the table
                                       still holds each track's previous report)
``on_reports(batch)``                  the same batch after the table took it; returns
                                       ``(report index, event)`` pairs: the engine orders the events
                                       of all families by report, then by family
``on_tick(t_s)``                       every tick (``pair_interval_s`` of data time), after stale
                                       tracks and ended zones closed their incidents
``on_predict(t_s, due)``               each prediction slice (``predict_slices`` of every
                                       ``predict_interval_s``): ``due``, by slot, marks the tracks
                                       to predict now (a pair is due with its first track)
``on_opened(inc, t_s, report)``        an incident of a kind in ``follows`` or ``fulfilled_by``
                                       opens; the events returned come just before its ``open``
                                       (default: close the incident it fulfils)
``closing(inc, t_s, reason)``          one of its incidents closes (any reason): last metrics
``subjects(inc, t_s, report)``         the subjects of a revision (default: the report, else each
                                       track's latest report)
``summary(inc, who, zone)``            the summary of ``open`` and ``update``
``closed_summary(inc, who, zone, w)``  the summary of ``closed`` (default: ``"<kind> a / b: w"``)
``cells(inc)``                         the H3 cells of an area-level incident (default: none)
``stats()``                            counters for ``Engine.stats``
``get_state()``, ``set_state(state)``  the family's own state as plain data (numbers, texts, lists,
                                       objects with text keys, numpy arrays of numbers), a copy;
                                       and back (``proximity.state``: snapshots and checkpoints)
=====================================  ==============================================================

The class attribute ``spec`` (a ``FamilySpec``) declares the kind: its name in
``Event.kind``, its ``level`` (``track``, ``pair``, ``zone`` or ``area``: what
its subjects are), the close reasons it gives itself (members of its own
``proximity.lifecycle.CloseReason``: the string of ``Event.close_reason`` and
the words of the summary), ``closes_with_zone`` (closed as ``zone_inactive``
when its zone's window ends), ``follows`` and ``fulfilled_by``. The families
of ``FAMILIES`` (``proximity.families``) register their kinds
(``proximity.events.register_kind``) with every close reason they may carry:
their own, ``end_of_input``, ``stale`` for track and pair levels,
``zone_inactive`` when they close with their zone.

A family reads the tracks from ``ctx.tracks`` (``proximity.tracks.TrackTable``:
numpy columns by slot; ``aligned`` brings tracks to one instant), the zones from
``ctx.zones``, and any family's open incidents from ``ctx.life.book`` by key
(``(kind, a, b)``; e.g. a prediction looks up ``("close_approach", a, b)``).
It keeps its own state as plain data (numbers, numpy arrays, dicts and tuples
of them; per-track values as columns of the track table), never callables; what
it keeps beyond what its zones and settings give it, ``get_state`` returns and
``set_state`` takes back (the track columns and the incidents are the engine's
to save).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Mapping, Sequence, TypeVar

import numpy as np
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from config.settings import ProximitySettings

from ..events import Event, KindLevel, KindSpec, Subject
from ..lifecycle import Closed, CloseReason, Incident, Lifecycle
from ..tracks import Report, ReportBatch, TrackTable
from ..zonetable import ZoneTable

__all__ = ["Context", "Family", "FamilySpec"]

I = TypeVar("I", bound=Incident)


@dataclass(frozen=True)
class FamilySpec:
    """The kind a family watches for (see the module docstring)."""

    kind: str
    level: KindLevel
    reasons: tuple[CloseReason, ...] = ()  # the close reasons the family gives itself
    closes_with_zone: bool = False  # closed as zone_inactive when its zone's window ends
    # its incidents stay open when their track goes stale (a silence is what it watches); the
    # family closes them itself, at the latest when the track is forgotten
    outlives_stale: bool = False
    follows: tuple[str, ...] = ()  # kinds whose incidents' opening it hears of (on_opened)
    # kind -> reason: when an incident of that kind opens, this family's incident with the same
    # key numbers closes with that reason, just before (a prediction fulfilled)
    fulfilled_by: Mapping[str, CloseReason] = field(default_factory=dict)

    def heard(self) -> tuple[str, ...]:
        """The kinds whose openings ``on_opened`` hears of."""
        return tuple(dict.fromkeys((*self.follows, *self.fulfilled_by)))

    def kind_spec(self) -> KindSpec:
        reasons = [r.value for r in self.reasons]
        if self.level in ("track", "pair") and not self.outlives_stale:
            reasons.append(Closed.STALE.value)
        if self.closes_with_zone:
            reasons.append(Closed.ZONE_INACTIVE.value)
        reasons.append(Closed.END_OF_INPUT.value)
        return KindSpec(self.kind, self.level, tuple(dict.fromkeys(reasons)))


@dataclass(eq=False)
class Context:
    """What the families share: settings, tracks, zones, the lifecycle, the border lines, the land."""

    settings: ProximitySettings
    tracks: TrackTable
    zones: ZoneTable
    life: Lifecycle
    borders: Sequence[LineString]
    land: BaseGeometry | None = None  # land polygons (lon/lat), for track_integrity's on_land


class Family(Generic[I]):
    """One kind of incident: when it opens, changes and closes (see the module docstring)."""

    spec: ClassVar[FamilySpec]

    @property
    def kind(self) -> str:
        return self.spec.kind

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.tracks = ctx.tracks
        self.zones = ctx.zones
        self.life = ctx.life
        self.book = ctx.life.book

    # -- hooks -----------------------------------------------------------------------------

    def on_zones(self, added: Sequence[int], t_s: float | None) -> list[Event]:
        return []

    def screen(self, batch: ReportBatch) -> None:
        pass

    def on_reports(self, batch: ReportBatch) -> list[tuple[int, Event]]:
        return []

    def on_tick(self, t_s: float) -> list[Event]:
        return []

    def on_predict(self, t_s: float, due: np.ndarray) -> list[Event]:
        return []

    def on_opened(self, inc: Incident, t_s: float, report: Report | None) -> list[Event]:
        reason = self.spec.fulfilled_by.get(inc.kind)
        key = (self.spec.kind, inc.key[1], inc.key[2])
        if reason is None or key not in self.book:
            return []
        return [self.life.close(key, t_s, reason, report)]

    def closing(self, inc: I, t_s: float, reason: CloseReason) -> None:
        pass

    def stats(self) -> dict[str, int]:
        return {}

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        pass

    # -- what its events say -----------------------------------------------------------

    def subjects(self, inc: I, t_s: float, report: Report | None) -> tuple[Subject, ...]:
        if report is not None:
            return (self.life.report_subject(report),)
        return tuple(self.life.latest_subject(s) for s in inc.slots)

    def summary(self, inc: I, who: Sequence[str], zone: str) -> str:
        raise NotImplementedError

    def closed_summary(self, inc: I, who: Sequence[str], zone: str, words: str) -> str:
        return f"{self.spec.kind.replace('_', ' ')} {' / '.join(who)}: {words}"

    def cells(self, inc: I) -> tuple[str, ...]:
        """The H3 cells of an area-level incident (``Event.cells``); none for other levels."""
        return ()
