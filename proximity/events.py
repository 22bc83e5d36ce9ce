"""Events: what the engine tells an operator, and how one incident stays one id.

An incident (a track inside a zone, two opposing tracks too close, ...) is one
``event_id`` from ``open`` through ``update`` revisions to ``closed``; ``seq``
rises by one at each revision. Ids are derived from the incident's identity
(kind, subjects, zone, data time it opened), so a replay or a restart finds the
same ids. ``t_s`` is the data time of the revision; ``detected_s`` is the wall
clock when closewatch emitted it and is the only field that differs between
two runs over the same input (:meth:`Event.canonical` leaves it out).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Mapping

from config.records import Domain, Severity, Side

__all__ = [
    "EVENT_KINDS",
    "EVENT_STATES",
    "ZONE_LEVEL_KINDS",
    "Event",
    "EventKind",
    "EventState",
    "Subject",
    "derive_event_id",
]

EventKind = Literal[
    "zone_entry",
    "predicted_zone_entry",
    "close_approach",
    "predicted_close_approach",
    "track_integrity",
    "exercise_near_border",
]
EventState = Literal["open", "update", "closed"]

EVENT_KINDS: tuple[EventKind, ...] = (
    "zone_entry",
    "predicted_zone_entry",
    "close_approach",
    "predicted_close_approach",
    "track_integrity",
    "exercise_near_border",
)
EVENT_STATES: tuple[EventState, ...] = ("open", "update", "closed")
# Kinds about a zone rather than tracks: their events may have no subjects.
ZONE_LEVEL_KINDS: tuple[EventKind, ...] = ("exercise_near_border",)


@dataclass(frozen=True, slots=True)
class Subject:
    """A track as it was when the event revision was made: the positions used.

    ``t_s`` is the time at which ``lat_deg``, ``lon_deg``, ``alt_m`` and
    ``course_deg`` hold; ``report_t_s`` the time of the track report they come
    from. ``close_approach`` and ``predicted_close_approach`` compare tracks at
    one instant: their subjects are dead-reckoned from the report to the event
    time (``t_s`` > ``report_t_s`` for a moving track; docs/engine.md, "Tracks at
    one instant"); the other kinds use the report as it is (``t_s`` ==
    ``report_t_s``). ``report_t_s`` is None when not given.
    """

    track_id: str
    side: Side
    domain: Domain
    t_s: float
    lat_deg: float
    lon_deg: float
    alt_m: float | None = None
    speed_mps: float | None = None
    course_deg: float | None = None
    callsign: str | None = None
    name: str | None = None
    type_code: str | None = None
    country: str | None = None
    suspect: bool = False  # its data failed an integrity check
    report_t_s: float | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """One revision of one incident.

    ``metrics`` holds the numbers that explain it, units in the names
    (``distance_m``, ``cpa_m``, ``tcpa_s``, ``vertical_sep_m``, ``eta_s``);
    treat it as read-only. ``integrity_suspect`` is true when any subject's data
    is suspect: the event is still raised, flagged.
    """

    event_id: str
    kind: EventKind
    state: EventState
    seq: int
    t_s: float
    severity: Severity
    subjects: tuple[Subject, ...]
    summary: str
    zone_id: str | None = None
    zone_name: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    integrity_suspect: bool = False
    close_reason: str | None = None
    detected_s: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"event kind {self.kind!r} is not one of {EVENT_KINDS}")
        if self.state not in EVENT_STATES:
            raise ValueError(f"event state {self.state!r} is not one of {EVENT_STATES}")
        if self.seq < 0:
            raise ValueError(f"event seq {self.seq} is negative")
        if not self.subjects and self.kind not in ZONE_LEVEL_KINDS:
            raise ValueError(f"a {self.kind} event needs at least one subject")
        for k, v in self.metrics.items():
            if not math.isfinite(v):
                raise ValueError(f"event metric {k}={v!r} is not finite")

    def canonical(self) -> dict[str, Any]:
        """Every field but ``detected_s``, as plain data: equal for equal input."""
        d = asdict(self)
        d.pop("detected_s")
        d["metrics"] = dict(sorted(self.metrics.items()))
        return d


def derive_event_id(kind: str, track_ids: tuple[str, ...], zone_id: str | None, opened_t_s: float) -> str:
    """A stable id for an incident: the same identity and opening time give the same id."""
    key = "|".join((kind, ",".join(sorted(track_ids)), zone_id or "", f"{opened_t_s:.3f}"))
    return f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
