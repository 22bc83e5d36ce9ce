"""One partition of a split engine: its own reports and copies in, the revisions it owns out.

The rules (docs/scaling.md, "Incidents that stay with their owner"):

* Every report is *own* in exactly one partition, the one of its cell
  (``closewatch.cells.route_reports``); other partitions near it get halo copies.
* An incident belongs, for its whole life, to the partition that got as its own the
  report its first revision was made from: the report of its *anchor*, the NATO subject
  of a pair, else the subject with the least ``track_id`` (the subject's ``report_t_s``
  names the report). Every partition that makes the revision finds the same owner, and
  only the owner publishes the incident's revisions. An event of no track (an area, a
  zone) belongs to ``closewatch.cells.owner_partitions``'s partition.
* While an owned incident is open, the partition *wants* every report of its tracks
  (``wanted``): the router copies them to it wherever the tracks go, so the incident goes
  on as one engine would make it even after its tracks left the partition's cells.
"""

from __future__ import annotations

import collections
import math
from typing import Any, Sequence

from alerts.codec import encode_track
from config.records import DeadLetter, TrackUpdate, Zone
from proximity.engine import Engine
from proximity.events import Event
from proximity.state import EngineState

from .cells import CellGrid, owner_partitions
from .engine_guard import EngineGuard

__all__ = ["PartitionJudge", "anchor_of"]


def anchor_of(event: Event) -> tuple[str, float | None] | None:
    """(track_id, report_t_s) of the report an event revision is anchored on; None: no track."""
    if not event.subjects:
        return None
    nato = [s for s in event.subjects if s.side == "nato"]
    anchor = nato[0] if nato else min(event.subjects, key=lambda s: s.track_id)
    return anchor.track_id, anchor.report_t_s


class PartitionJudge:
    """The engine of partition ``partition`` of ``n_partitions`` (module docstring)."""

    def __init__(self, partition: int, n_partitions: int, engine: Engine, grid: CellGrid, *,
                 guard: bool = False) -> None:
        self.partition = partition
        self.n_partitions = n_partitions
        self.engine = engine
        self.grid = grid
        self._latest: dict[str, tuple[float, bool]] = {}  # each track's latest report here: (t_s, own)
        self._decided: dict[str, bool] = {}  # open incidents seen here: owned or not
        self._owned_tracks: dict[str, tuple[str, ...]] = {}  # owned open incidents: their tracks
        self._wanted: collections.Counter[str] = collections.Counter()
        # a track silent this long is forgotten by the engine (its next report starts a new track)
        p = engine.settings
        self._forget_s = max(p.forget_after_s, *p.stale_after_s.values())
        self._pruned_t_s = -math.inf
        # guard: a report that makes the engine raise becomes a dead letter (closewatch.engine_guard)
        self._guard = EngineGuard(engine, encode=encode_track) if guard else None
        self.refused: list[DeadLetter] = []  # the dead letters of the last batch (with guard)
        # the context events (``closewatch run --explain``) this partition owns, until taken:
        # revisions of incidents not raised, owned and followed as raised ones are
        self._context: list[Event] = []

    @property
    def wanted(self) -> frozenset[str]:
        """The tracks of the open incidents this partition owns: their reports must come here."""
        return frozenset(self._wanted)  # a track leaves the counter when its last owned incident closes

    def process(self, reports: Sequence[TrackUpdate], own: Sequence[bool]) -> list[Event]:
        """Judge a batch (in arrival order; ``own[i]``: report ``i`` is this partition's own, not a
        copy); return the revisions this partition owns."""
        batch = {(u.track_id, u.t_s): bool(o) for u, o in zip(reports, own)}
        if self._guard is not None:
            events, self.refused = self._guard.process(reports)
        else:
            events = self.engine.process(reports)
        out = self._owned(events, batch)
        self._context += self._owned(self.engine.take_context(), batch)
        for u, o in zip(reports, own):
            self._latest[u.track_id] = (u.t_s, bool(o))
        if reports:
            self._forget(max(u.t_s for u in reports))
        return out

    def add_zones(self, zones: Sequence[Zone]) -> list[Event]:
        """The engine watches ``zones`` too (notified areas, at their place among the reports, as
        in every partition); return the revisions of the zones that apply at once this
        partition owns. Raises as ``Engine.add_zones`` (with guard: the engine put back)."""
        events = self._guard.add_zones(zones) if self._guard is not None else self.engine.add_zones(zones)
        self._context += self._owned(self.engine.take_context(), {})
        return self._owned(events, {})

    def take_context(self) -> list[Event]:
        """The context events this partition owns since the last call (``Engine.take_context``)."""
        out, self._context = self._context, []
        return out

    def _owned(self, events: Sequence[Event], batch: dict[tuple[str, float], bool]) -> list[Event]:
        """The revisions of ``events`` this partition owns, keeping the books of ownership."""
        out = []
        for e in events:
            owned = self._decided.get(e.event_id)
            if owned is None:
                owned = self._decide(e, batch)
                self._decided[e.event_id] = owned
                if owned:
                    tracks = tuple(s.track_id for s in e.subjects)
                    self._owned_tracks[e.event_id] = tracks
                    self._wanted.update(tracks)
            if owned:
                out.append(e)
            if e.state == "closed":  # an incident's last revision: forget it
                self._decided.pop(e.event_id, None)
                tracks = self._owned_tracks.pop(e.event_id, ())
                self._wanted.subtract(tracks)
                for t in tracks:
                    if self._wanted[t] <= 0:
                        del self._wanted[t]
        return out

    def _forget(self, data_t_s: float) -> None:
        """Forget the latest report of tracks the engine has forgotten (checked every quarter of that time)."""
        if data_t_s - self._pruned_t_s < self._forget_s / 4:
            return
        self._pruned_t_s = data_t_s
        old = [t for t, (t_s, _) in self._latest.items() if t_s < data_t_s - self._forget_s]
        for t in old:
            del self._latest[t]

    def state(self) -> tuple[dict[str, Any], EngineState]:
        """What this judge holds besides its engine (JSON-able), and the engine's state."""
        doc = {
            "partition": self.partition,
            "n_partitions": self.n_partitions,
            "latest": [[t, t_s, own] for t, (t_s, own) in self._latest.items()],
            "decided": [[e, owned] for e, owned in self._decided.items()],
            "owned_tracks": [[e, list(tracks)] for e, tracks in self._owned_tracks.items()],
            "pruned_t_s": self._pruned_t_s if math.isfinite(self._pruned_t_s) else None,
        }
        return doc, self.engine.state()

    @classmethod
    def from_state(cls, doc: dict[str, Any], engine: Engine, grid: CellGrid, *, guard: bool = False) -> "PartitionJudge":
        """The judge that exported ``doc`` (with ``engine`` restored from the engine's state)."""
        judge = cls(int(doc["partition"]), int(doc["n_partitions"]), engine, grid, guard=guard)
        judge._latest = {str(t): (float(t_s), bool(own)) for t, t_s, own in doc["latest"]}
        judge._decided = {str(e): bool(owned) for e, owned in doc["decided"]}
        judge._owned_tracks = {str(e): tuple(str(t) for t in tracks) for e, tracks in doc["owned_tracks"]}
        for tracks in judge._owned_tracks.values():
            judge._wanted.update(tracks)
        pruned = doc["pruned_t_s"]
        judge._pruned_t_s = -math.inf if pruned is None else float(pruned)
        return judge

    @property
    def remembered(self) -> int:
        """How many tracks' latest reports the judge keeps."""
        return len(self._latest)

    def _decide(self, e: Event, batch: dict[tuple[str, float], bool]) -> bool:
        anchor = anchor_of(e)
        if anchor is None:
            return int(owner_partitions([e], self.grid, self.n_partitions)[0]) == self.partition
        track_id, t_s = anchor
        if t_s is None:
            return False
        own = batch.get((track_id, t_s))
        if own is None:
            latest = self._latest.get(track_id)
            own = latest is not None and latest[0] == t_s and latest[1]
        return own
