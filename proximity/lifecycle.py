"""One incident lifecycle for every kind of event: open, revise, close.

An incident (a track inside a zone, two opposing tracks too close, ...) is one
``event_id`` from ``open`` through ``update`` revisions (``seq`` rising by one)
to ``closed`` with a close reason. Its id is derived from what it is about and
the data time it opened (``proximity.events.derive_event_id``), so a replay finds
the same ids. The family of the kind decides when; this module does the rest the
same way for every kind:

* ``Incident``: the record every kind's own record extends (plain data: slot
  and zone numbers, numbers, strings; never a live object), with the dwell
  timer of hysteresis (``dwelt``, ``settle``);
* ``IncidentBook``: the open incidents by key ``(kind, a, b)`` (``a``, ``b``:
  track slots, a zone number or -1, per kind), by track and by zone;
* ``Lifecycle``: opens, revises and closes them and makes the events (subjects,
  summary, zone, integrity flag, ``seq``), asking the family of the kind for
  what differs (``proximity.families.base.Family``);
* ``CloseReason``: a typed close reason, a ``StrEnum`` whose value is the
  string of ``Event.close_reason`` and whose ``words`` say it in a summary;
  ``Closed`` holds those the engine gives any kind (``stale``, ``zone_inactive``,
  ``end_of_input``), each family its own (e.g. ``ZoneEntryReason.EXIT``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Callable, Protocol, Self, Sequence, TypeVar

from config.records import Severity, TrackUpdate, Zone

from .events import Event, EventState, Subject, derive_event_id
from .notification import VIENNA_LEAD_S, AnnouncedFlights, notification_of
from .rules import Party, Rule, Rules
from .tracks import AlignedTracks, Report, TrackTable

if TYPE_CHECKING:
    from .zonetable import ZoneTable

__all__ = [
    "CloseReason",
    "Closed",
    "Incident",
    "IncidentBook",
    "Key",
    "KindRules",
    "Lifecycle",
    "SEVERITIES",
    "describe",
    "raise_severity",
]

# (kind, a, b): a and b are track slots, a zone number or -1, as the kind defines them
Key = tuple[str, int, int]

SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")


class CloseReason(StrEnum):
    """Why an incident closed: the value is ``Event.close_reason``, ``words`` how a summary says it.

    Members are written ``NAME = "value", "words"``.
    """

    _value_: str
    words: str

    def __new__(cls, value: str, words: str) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.words = words
        return member


class Closed(CloseReason):
    """Close reasons the engine gives any kind."""

    STALE = "stale", "stopped reporting (stale)"  # a subject's track stopped reporting
    ZONE_INACTIVE = "zone_inactive", "no longer watched (zone inactive)"  # the zone's window ended
    END_OF_INPUT = "end_of_input", "still open at the end of the input"  # a replay ended


def raise_severity(severity: Severity, levels: int = 1) -> Severity:
    """``levels`` steps up (down when negative), within info..critical."""
    return SEVERITIES[max(0, min(SEVERITIES.index(severity) + levels, len(SEVERITIES) - 1))]


def describe(u: TrackUpdate) -> str:
    """A track as a summary names it: its id, with its callsign or name and type when known."""
    extra = [x for x in (u.callsign or u.name, u.type_code) if x]
    return f"{u.track_id} ({', '.join(extra)})" if extra else u.track_id


@dataclass(slots=True)
class Incident:
    """An open incident; each kind's record extends it with its own state."""

    key: Key
    event_id: str
    opened_t_s: float
    slots: tuple[int, ...]  # the subjects' track slots, in subject order
    zone_no: int | None
    severity: Severity
    metrics: dict[str, float]
    seq: int = 0  # of the next revision
    pending_since_s: float | None = None  # since when the closing condition holds
    # the rule profile's verdict: ``muted`` says why it is not raised (None: raised by rule ``rule``)
    muted: str | None = None
    rule: str | None = None  # the id of the profile's rule that decided
    # a track-level incident in a territorial zone: is the track in innocent passage?
    innocent_passage: bool | None = None

    @property
    def kind(self) -> str:
        return self.key[0]

    def dwelt(self, t_s: float, dwell_s: float) -> bool:
        """The closing condition holds at ``t_s``: has it held for ``dwell_s`` (hysteresis)?"""
        if self.pending_since_s is None:
            self.pending_since_s = t_s
        return t_s - self.pending_since_s >= dwell_s

    def settle(self) -> None:
        """The closing condition does not hold: the dwell starts again next time."""
        self.pending_since_s = None


I = TypeVar("I", bound=Incident)


class KindRules(Protocol):
    """What the lifecycle asks of the family of a kind (``proximity.families.base.Family``)."""

    @property
    def kind(self) -> str: ...

    def subjects(self, inc: Incident, t_s: float, report: Report | None) -> tuple[Subject, ...]: ...
    def summary(self, inc: Incident, who: Sequence[str], zone: str) -> str: ...
    def closed_summary(self, inc: Incident, who: Sequence[str], zone: str, words: str) -> str: ...
    def closing(self, inc: Incident, t_s: float, reason: CloseReason) -> None: ...
    def on_opened(self, inc: Incident, t_s: float, report: Report | None) -> list[Event]: ...
    def cells(self, inc: Incident) -> tuple[str, ...]: ...


class IncidentBook:
    """The open incidents, by key, by track slot and by zone number."""

    def __init__(self) -> None:
        self.open: dict[Key, Incident] = {}
        self._by_slot: dict[int, set[Key]] = {}
        self._by_zone: dict[int, set[Key]] = {}
        self._by_kind: dict[str, set[Key]] = {}  # families ask at every tick: no scan of every incident

    def clear(self) -> None:
        for index in (self.open, self._by_slot, self._by_zone, self._by_kind):
            index.clear()

    def __len__(self) -> int:
        return len(self.open)

    def __contains__(self, key: Key) -> bool:
        return key in self.open

    def get(self, key: Key) -> Incident | None:
        return self.open.get(key)

    def add(self, inc: Incident) -> None:
        key = inc.key
        self.open[key] = inc
        for s in inc.slots:
            self._by_slot.setdefault(s, set()).add(key)
        if inc.zone_no is not None:
            self._by_zone.setdefault(inc.zone_no, set()).add(key)
        self._by_kind.setdefault(key[0], set()).add(key)

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
        keys = self._by_kind[key[0]]
        keys.discard(key)
        if not keys:
            del self._by_kind[key[0]]
        return inc

    def of_slot(self, slot: int) -> list[Key]:
        return sorted(self._by_slot.get(slot, ()))

    def of_zone(self, zone_no: int) -> list[Key]:
        return sorted(self._by_zone.get(zone_no, ()))

    def of_kind(self, kind: str) -> list[Key]:
        return sorted(self._by_kind.get(kind, ()))

    def keys_of_kind(self, kind: str) -> AbstractSet[Key]:
        """The open keys of ``kind`` in no order, not copied (read them before the book changes):
        for callers that sort or index them in bulk themselves."""
        return self._by_kind.get(kind, frozenset())


# the kinds whose event about an announced flight, inside its corridor and period, is what was announced
_ANNOUNCEABLE = frozenset({"zone_entry", "predicted_zone_entry"})


def _as_announced(kind: str, subjects: Sequence[Subject], notification: dict[str, Any] | None) -> bool:
    """Whether an event is an announced flight doing what it announced: a zone entry (or its
    prediction) of the aircraft a flight notice names, inside its corridor within its period."""
    return (kind in _ANNOUNCEABLE and notification is not None and notification.get("status") == "notified"
            and bool(subjects) and notification.get("track_id") == subjects[0].track_id)


class Lifecycle:
    """Opens, revises and closes incidents, and makes their events."""

    def __init__(
        self,
        tracks: TrackTable,
        zones: ZoneTable,
        watch_types: frozenset[str],
        wall_clock: Callable[[], float],
        rules: Rules | None = None,
        notification_lead_s: float = VIENNA_LEAD_S,
    ) -> None:
        self.book = IncidentBook()
        self._notification_lead_s = notification_lead_s
        self._flights = AnnouncedFlights(zones)
        self._tracks = tracks
        self._zones = zones
        self._watch = watch_types
        self._wall_clock = wall_clock
        self._rules: dict[str, KindRules] = {}
        self._followers: dict[str, list[KindRules]] = {}
        self.profile = rules if rules is not None else Rules()
        # incidents the profile did not raise, by (kind, reason), counted once each
        self.suppressed: Counter[tuple[str, str]] = Counter()
        # integrity reason -> the track column holding the data time until which a track is
        # suspect for it (a family that makes tracks suspect without a track_integrity incident
        # of their own, e.g. gnss_interference, registers its reason here)
        self.reason_columns: dict[str, str] = {}

    def register(self, rules: KindRules, follows: Sequence[str] = ()) -> None:
        """The family of ``rules.kind``; it hears of every incident of ``follows`` that opens."""
        self._rules[rules.kind] = rules
        for kind in follows:
            self._followers.setdefault(kind, []).append(rules)

    # -- the lifecycle ----------------------------------------------------------------------

    def new(
        self,
        make: Callable[..., I],
        key: Key,
        t_s: float,
        severity: Severity,
        metrics: dict[str, float],
        *,
        slots: tuple[int, ...],
        zone_no: int | None = None,
    ) -> I:
        """A new incident in the book (not yet announced: ``open`` does that).

        Its id comes from its kind, its subjects' track ids, its zone and ``t_s``;
        its severity is raised one level when a subject's type is watched.
        """
        kind = key[0]
        ids = tuple(self._tracks.ids[s] or "" for s in slots)
        zone_id = self._zones[zone_no].zone_id if zone_no is not None else None
        inc = make(
            key=key,
            event_id=derive_event_id(kind, ids, zone_id, t_s),
            opened_t_s=t_s,
            slots=slots,
            zone_no=zone_no,
            severity=raise_severity(severity) if self.watched(slots) else severity,
            metrics=metrics,
        )
        self.book.add(inc)
        return inc

    def open(self, inc: Incident, t_s: float, report: Report | None = None) -> list[Event]:
        """The first revision; the families that follow its kind speak first (e.g. a prediction it fulfils).

        The rule profile judges the incident here: one it does not raise is counted
        (``suppressed``) and its revisions carry ``suppressed`` (context events, which
        the engine keeps apart) until a later revision finds it raised.
        """
        verdict = self.profile.judge(inc.kind, self.parties(inc, report), self._zone_kind(inc))
        inc.rule = verdict.rule.id if verdict.rule is not None else None
        if not verdict.raised:
            inc.muted = verdict.reason
            self.suppressed[(inc.kind, verdict.reason or "suppressed_by_rule")] += 1
        events: list[Event] = []
        for follower in self._followers.get(inc.kind, ()):
            events.extend(follower.on_opened(inc, t_s, report))
        events.append(self._emit(inc, "open", t_s, None, report))
        return events

    def revise(self, inc: Incident, t_s: float, report: Report | None = None) -> Event:
        return self._emit(inc, "update", t_s, None, report)

    def close(self, key: Key, t_s: float, reason: CloseReason, report: Report | None = None) -> Event:
        """The last revision: out of the book, the family's last word on its metrics, then the event."""
        inc = self.book.remove(key)
        self._rules[inc.kind].closing(inc, t_s, reason)
        return self._emit(inc, "closed", t_s, reason, report)

    # -- what an event says ---------------------------------------------------------------

    def parties(self, inc: Incident, report: Report | None = None) -> list[Party]:
        """The subjects as the rule profile sees them (the report's context for the first, when given)."""
        tr = self._tracks
        stat, port = tr.column("stationary"), tr.column("in_port")
        out = []
        for k, s in enumerate(inc.slots):
            if report is not None and k == 0:
                u, st, ip = report.update, report.stationary, report.in_port
            else:
                u, st, ip = tr.latest(s), bool(stat[s]), bool(port[s])
            out.append(Party(u.category, u.side, st, ip, inc.innocent_passage))
        return out

    def _zone_kind(self, inc: Incident) -> str | None:
        return self._zones[inc.zone_no].kind if inc.zone_no is not None else None

    def watched(self, slots: Sequence[int]) -> bool:
        """A subject's type is one of ``watch_types``."""
        for s in slots:
            code = self._tracks.latest(s).type_code
            if code is not None and code.upper() in self._watch:
                return True
        return False

    def subject(
        self,
        u: TrackUpdate,
        slot: int,
        suspect_until_s: float,
        at: AlignedTracks | None = None,
        k: int = 0,
        context: tuple[bool, bool] | None = None,
    ) -> Subject:
        """The track of report ``u``: as reported, or at ``at[k]`` (brought to the event time).

        ``context``: (stationary, in port) of the report; None: the track's latest.
        """
        t_s, lat, lon, alt, course = u.t_s, u.lat_deg, u.lon_deg, u.alt_m, u.velocity_heading_deg
        if at is not None:
            t_s, lat, lon = float(at.t_s[k]), float(at.lat_deg[k]), float(at.lon_deg[k])
            alt = None if math.isnan(at.alt_m[k]) else float(at.alt_m[k])
            course = None if math.isnan(at.course_deg[k]) else float(at.course_deg[k])
        if context is None:
            stationary, in_port = bool(self._tracks.column("stationary")[slot]), bool(self._tracks.column("in_port")[slot])
        else:
            stationary, in_port = context
        return Subject(
            track_id=u.track_id,
            side=u.side,
            domain=u.domain,
            t_s=t_s,
            lat_deg=lat,
            lon_deg=lon,
            alt_m=alt,
            speed_mps=u.speed_mps,
            course_deg=course,
            callsign=u.callsign,
            name=u.name,
            type_code=u.type_code,
            country=u.country,
            suspect=bool(suspect_until_s >= u.t_s),
            report_t_s=u.t_s,
            category=u.category,
            stationary=stationary,
            in_port=in_port,
        )

    def latest_subject(self, slot: int, at: AlignedTracks | None = None, k: int = 0) -> Subject:
        """A track as its latest report gives it (or brought to ``at[k]``)."""
        return self.subject(self._tracks.latest(slot), slot, float(self._tracks.suspect_until_s[slot]), at, k)

    def report_subject(self, report: Report) -> Subject:
        return self.subject(
            report.update, report.slot, report.suspect_until_s, context=(report.stationary, report.in_port)
        )

    def _emit(
        self, inc: Incident, state: EventState, t_s: float, reason: CloseReason | None, report: Report | None
    ) -> Event:
        rules = self._rules[inc.kind]
        tr = self._tracks
        who = [
            describe(report.update if report is not None and k == 0 else tr.latest(s)) for k, s in enumerate(inc.slots)
        ]
        zone = self._zones[inc.zone_no] if inc.zone_no is not None else None
        zone_name = zone.name if zone is not None else ""
        if reason is None:
            summary = rules.summary(inc, who, zone_name)
        else:
            summary = rules.closed_summary(inc, who, zone_name, reason.words)
        subjects = rules.subjects(inc, t_s, report)
        if inc.muted is not None:
            # not raised so far: judged again at each revision (a track's category or context changed)
            verdict = self.profile.judge(inc.kind, self.parties(inc, report), self._zone_kind(inc))
            if verdict.raised:
                inc.muted = None
                inc.rule = verdict.rule.id if verdict.rule is not None else None
                if state == "update":
                    state = "open"  # the first revision a consumer sees
        suspect = any(x.suspect for x in subjects)
        profile = self.profile
        rule = profile.rule(inc.rule)
        notification = self._notification(zone, subjects)
        ev = Event(
            event_id=inc.event_id,
            kind=inc.kind,
            state=state,
            seq=inc.seq,
            t_s=t_s,
            severity=profile.severity(inc.kind, inc.severity, rule, watched=self._rule_watch(inc, rule), suspect=suspect,
                                      announced=_as_announced(inc.kind, subjects, notification)),
            subjects=subjects,
            summary=summary,
            zone_id=zone.zone_id if zone is not None else None,
            zone_name=zone.name if zone is not None else None,
            metrics=dict(inc.metrics),
            integrity_suspect=suspect,
            close_reason=None if reason is None else reason.value,
            detected_s=self._wall_clock(),
            rule=f"{profile.profile.label}/{inc.rule}" if inc.rule is not None else None,
            integrity_reasons=self._integrity_reasons(inc, subjects) if suspect else (),
            suppressed=inc.muted,
            cells=rules.cells(inc),
            notification=notification,
        )
        if inc.muted is None:
            inc.seq += 1
        return ev

    def _notification(self, zone: Zone | None, subjects: Sequence[Subject]) -> dict[str, Any] | None:
        """Whether the event's area was notified, else whether an announced flight covers a subject."""
        if zone is not None:
            note = notification_of(zone.zone_id, zone.properties, zone.active_from_s, self._notification_lead_s)
            if note is not None:
                return note
        return self._flights.of(subjects) if subjects else None

    def _rule_watch(self, inc: Incident, r: Rule | None) -> bool:
        """Whether the watch list matters to the severity its rule sets (asked only then)."""
        return r is not None and (r.severity != "kind" or r.max_severity is not None) and self.watched(inc.slots)

    def _integrity_reasons(self, inc: Incident, subjects: Sequence[Subject]) -> tuple[str, ...]:
        """The anomalies that made the subjects suspect (the open ``track_integrity`` incidents' flags,
        and the reasons of ``reason_columns`` that hold for the subject's report)."""
        found: set[str] = set()
        for s, subj in zip(inc.slots, subjects):
            if subj.suspect:
                flagged = self.book.get(("track_integrity", s, -1))
                flags = getattr(flagged, "flags", None) if flagged is not None else None
                if not flags and inc.kind == "track_integrity":
                    flags = getattr(inc, "flags", None)
                here = set(flags) if flags else set()
                for reason, column in self.reason_columns.items():
                    if self._tracks.column(column)[s] >= subj.report_t_s:
                        here.add(reason)
                found |= here if here else {"suspect"}
        return tuple(sorted(found))

