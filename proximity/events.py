"""Events: what the engine tells an operator, and how one incident stays one id.

An incident (a track inside a zone, two opposing tracks too close, ...) is one
``event_id`` from ``open`` through ``update`` revisions to ``closed``; ``seq``
rises by one at each revision. Ids are derived from the incident's identity
(kind, subjects, zone, data time it opened), so a replay or a restart finds the
same ids. ``t_s`` is the data time of the revision; ``detected_s`` is the wall
clock when closewatch emitted it and is the only field that differs between
two runs over the same input (:meth:`Event.canonical` leaves it out).

The kinds are not listed here: each event family of ``proximity.families``
registers its own (``register_kind``, a ``KindSpec``), and ``EVENT_KINDS`` is
the registered ones, in the order the engine runs their families.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Mapping

from config.records import Category, Domain, Severity, Side

__all__ = [
    "EVENT_KINDS",
    "EVENT_STATES",
    "ZONE_LEVEL_KINDS",
    "Event",
    "EventKind",
    "EventState",
    "KindLevel",
    "KindSpec",
    "Subject",
    "derive_event_id",
    "event_kinds",
    "kind_spec",
    "register_kind",
]

# The name of a kind of event (``Event.kind``): one of ``EVENT_KINDS``. A plain ``str``, so that
# an event family adds a kind by registering it (``register_kind``), not by editing a list here.
EventKind = str
EventState = Literal["open", "update", "closed"]
# What a kind's incidents are about: a track, a pair of tracks, a zone or an area (the last two
# have no track subjects).
KindLevel = Literal["track", "pair", "zone", "area"]

EVENT_STATES: tuple[EventState, ...] = ("open", "update", "closed")


@dataclass(frozen=True, slots=True)
class KindSpec:
    """A kind of event as a consumer sees it: its name, what it is about, how it may close."""

    name: str
    level: KindLevel
    close_reasons: tuple[str, ...]  # every ``close_reason`` its closing revisions may carry

    @property
    def subjectless(self) -> bool:
        """Its events may have no subjects (zone- and area-level kinds)."""
        return self.level in ("zone", "area")


_KINDS: dict[str, KindSpec] = {}
_loaded = False


def register_kind(spec: KindSpec) -> KindSpec:
    """Make a kind known (each event family registers its own; ``proximity.families``)."""
    known = _KINDS.get(spec.name)
    if known is not None and known != spec:
        raise ValueError(f"event kind {spec.name!r} is registered already, as {known}")
    _KINDS[spec.name] = spec
    return spec


def event_kinds() -> dict[str, KindSpec]:
    """Every registered kind, in the order of registration (the engine's families)."""
    global _loaded
    if not _loaded:
        _loaded = True
        import proximity.families  # noqa: F401  (its families register their kinds)
    return dict(_KINDS)


def kind_spec(name: str) -> KindSpec | None:
    """The registered kind ``name``, None if there is none."""
    spec = _KINDS.get(name)
    if spec is None and not _loaded:
        spec = event_kinds().get(name)
    return spec


# The registered kinds, and those about a zone rather than tracks (their events may have no
# subjects), computed when read: ``from proximity.events import EVENT_KINDS`` works as before.
EVENT_KINDS: tuple[EventKind, ...]
ZONE_LEVEL_KINDS: tuple[EventKind, ...]


def __getattr__(name: str) -> tuple[EventKind, ...]:
    if name == "EVENT_KINDS":
        return tuple(event_kinds())
    if name == "ZONE_LEVEL_KINDS":
        return tuple(k for k, spec in event_kinds().items() if spec.level == "zone")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    category: Category = "unknown"  # military, state, civil, unknown (config.classification)
    stationary: bool = False  # moored or anchored, or on the ground (proximity.rules)
    in_port: bool = False  # inside a port area (proximity.rules)


@dataclass(frozen=True, slots=True)
class Event:
    """One revision of one incident.

    ``metrics`` holds the numbers that explain it, units in the names
    (``distance_m``, ``cpa_m``, ``tcpa_s``, ``vertical_sep_m``, ``eta_s``);
    treat it as read-only. ``integrity_suspect`` is true when any subject's data
    is suspect: the event is still raised, flagged, with ``integrity_reasons``
    (and its severity capped by the rule profile). ``rule`` names the profile
    rule that raised it; ``suppressed`` is set only on a *context* event (an
    incident the profile did not raise, written for an analyst who asked).
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
    # the rule that raised it: "<profile>@<version>/<rule id>" (proximity.rules)
    rule: str | None = None
    # what made a subject suspect (track_integrity anomalies: jump, two_places, stuck, spoofing,
    # impossible_speed, impossible_turn, on_land, same_position; gnss_interference: inside an
    # area of GNSS interference)
    integrity_reasons: tuple[str, ...] = ()
    # set on context events only: why the profile did not raise it (proximity.rules.SUPPRESS_REASONS)
    suppressed: str | None = None
    # area-level kinds (gnss_interference): the H3 cells of the area, hexadecimal texts (schema 1.5)
    cells: tuple[str, ...] = ()
    # events about an area a notice made (exercise, NOTAM): whether and when it was notified
    # (proximity.notification; schema 1.6)
    notification: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        spec = kind_spec(self.kind)
        if spec is None:
            raise ValueError(f"event kind {self.kind!r} is not one of {tuple(event_kinds())}")
        if self.state not in EVENT_STATES:
            raise ValueError(f"event state {self.state!r} is not one of {EVENT_STATES}")
        if self.seq < 0:
            raise ValueError(f"event seq {self.seq} is negative")
        if not self.subjects and not spec.subjectless:
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
