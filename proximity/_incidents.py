"""The book of open incidents: one record per incident, found by key, by track and by zone.

A key is ``(kind, a, b)``: ``(zone kind, slot, zone number)`` for zone incidents,
``(pair kind, NATO slot, Russian slot)`` for pairs, ``("track_integrity", slot,
-1)`` and ``("exercise_near_border", -1, zone number)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from config.records import Severity

from .events import EventKind

__all__ = ["Incident", "IncidentBook", "Key"]

Key = tuple[str, int, int]


@dataclass(slots=True)
class Incident:
    kind: EventKind
    event_id: str
    opened_t_s: float
    slots: tuple[int, ...]
    zone_no: int | None = None
    seq: int = 0
    severity: Severity = "warning"
    last_inside_t_s: float = 0.0
    pending_since_s: float | None = None
    min_m: float = math.inf  # smallest distance (or CPA) seen
    reported_min_m: float = math.inf  # smallest distance (or CPA) reported
    reported_t_s: float = math.nan  # predicted time last reported (entry time)
    metrics: dict[str, float] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)


class IncidentBook:
    def __init__(self) -> None:
        self.open: dict[Key, Incident] = {}
        self._by_slot: dict[int, set[Key]] = {}
        self._by_zone: dict[int, set[Key]] = {}

    def __len__(self) -> int:
        return len(self.open)

    def get(self, key: Key) -> Incident | None:
        return self.open.get(key)

    def add(self, key: Key, inc: Incident) -> None:
        self.open[key] = inc
        for s in inc.slots:
            self._by_slot.setdefault(s, set()).add(key)
        if inc.zone_no is not None:
            self._by_zone.setdefault(inc.zone_no, set()).add(key)

    def remove(self, key: Key) -> Incident:
        inc = self.open.pop(key)
        for s in inc.slots:
            keys = self._by_slot[s]
            keys.discard(key)
            if not keys:
                del self._by_slot[s]
        if inc.zone_no is not None:
            keys = self._by_zone[inc.zone_no]
            keys.discard(key)
            if not keys:
                del self._by_zone[inc.zone_no]
        return inc

    def of_slot(self, slot: int) -> list[Key]:
        return sorted(self._by_slot.get(slot, ()))

    def of_zone(self, zone_no: int) -> list[Key]:
        return sorted(self._by_zone.get(zone_no, ()))

    def of_kind(self, kind: str) -> list[Key]:
        return sorted(k for k in self.open if k[0] == kind)
