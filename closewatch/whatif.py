"""What-if: the incidents of a window with another configuration, against those raised at the time.

An incident is matched to one of the other side by what it is about (kind, subjects, zone)
and by time (their spans overlap; a still-open incident spans to the end of the window).
Then it is:

* ``same``: the same revisions, byte for byte but for the detection time;
* ``changed``: matched, but opened or closed at another time, reached another severity or
  minimum distance, has another number of revisions or another id (it opened at another
  time); ``what_changed`` says which, with both values;
* ``added``: raised by the replay only; ``removed``: raised at the time only.

The incidents compared are those with a revision in the window or open at its start.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from config.records import SEVERITIES
from config.times import format_utc
from closewatch.replay import IncidentSpan, Window, canonical_lines, incident_spans
from proximity.events import Event

__all__ = ["IncidentChange", "compare_incidents", "format_changes", "write_changes_csv"]


@dataclass
class IncidentChange:
    change: str  # added | removed | changed | same
    then: IncidentSpan | None
    now: IncidentSpan | None
    what_changed: list[str] = field(default_factory=list)

    @property
    def span(self) -> IncidentSpan:
        span = self.now or self.then
        assert span is not None
        return span


def _scoped(events: Iterable[Event], window: Window) -> list[IncidentSpan]:
    spans = incident_spans(events)
    return sorted(
        (s for s in spans.values() if s.open_at(window.from_s) or any(window.contains(r) for r in s.revisions)),
        key=lambda s: (s.opened_s, s.event_id),
    )


def _highest(span: IncidentSpan) -> str:
    return max((r.severity for r in span.revisions), key=SEVERITIES.index)


def _min_distance_m(span: IncidentSpan) -> float | None:
    values = [r.metrics[k] for r in span.revisions for k in ("distance_m", "cpa_m", "distance_to_border_m")
              if k in r.metrics]
    return min(values) if values else None


def _t(t: float | None) -> str:
    return format_utc(t) if t is not None else "open"


def _differences(a: IncidentSpan, b: IncidentSpan) -> list[str]:
    out = []
    if a.opened_s != b.opened_s:
        out.append(f"opened {_t(a.opened_s)} -> {_t(b.opened_s)} ({b.opened_s - a.opened_s:+.0f} s)")
    if a.closed_s != b.closed_s:
        out.append(f"closed {_t(a.closed_s)} -> {_t(b.closed_s)}")
    if _highest(a) != _highest(b):
        out.append(f"severity {_highest(a)} -> {_highest(b)}")
    da, db = _min_distance_m(a), _min_distance_m(b)
    if da is not None and db is not None and abs(da - db) >= 0.5:
        out.append(f"minimum distance {da:,.0f} m -> {db:,.0f} m")
    if len(a.revisions) != len(b.revisions):
        out.append(f"revisions {len(a.revisions)} -> {len(b.revisions)}")
    if a.event_id != b.event_id and not out:
        out.append(f"event id {a.event_id} -> {b.event_id}")
    if not out:
        out.append("revisions differ in their details (metrics, summaries)")
    return out


def compare_incidents(then: Sequence[Event], now: Sequence[Event], window: Window) -> list[IncidentChange]:
    """The incidents of ``window`` raised at the time (``then``) against a replay's (``now``)."""
    before = _scoped(then, window)
    after = _scoped(now, window)
    end = window.to_s
    taken: set[str] = set()
    changes: list[IncidentChange] = []
    for a in before:
        match = None
        for b in after:
            if b.event_id in taken or (b.kind, b.track_ids, b.zone_id) != (a.kind, a.track_ids, a.zone_id):
                continue
            if b.opened_s <= (a.closed_s if a.closed_s is not None else end) and \
               a.opened_s <= (b.closed_s if b.closed_s is not None else end):
                match = b
                break
        if match is None:
            changes.append(IncidentChange("removed", a, None))
            continue
        taken.add(match.event_id)
        if canonical_lines(a.revisions) == canonical_lines(match.revisions):
            changes.append(IncidentChange("same", a, match))
        else:
            changes.append(IncidentChange("changed", a, match, _differences(a, match)))
    changes.extend(IncidentChange("added", None, b) for b in after if b.event_id not in taken)
    order = {"added": 0, "removed": 1, "changed": 2, "same": 3}
    return sorted(changes, key=lambda c: (order[c.change], c.span.opened_s, c.span.event_id))


_COLUMNS = ["change", "kind", "subjects", "zone_id", "event_id_then", "event_id_now", "opened_then", "opened_now",
            "closed_then", "closed_now", "severity_then", "severity_now", "min_distance_m_then",
            "min_distance_m_now", "revisions_then", "revisions_now", "what_changed"]


def _row(c: IncidentChange) -> list[str]:
    def side(s: IncidentSpan | None) -> list[str]:
        if s is None:
            return ["", "", "", "", "", ""]
        d = _min_distance_m(s)
        return [s.event_id, format_utc(s.opened_s), _t(s.closed_s), _highest(s),
                f"{d:.1f}" if d is not None else "", str(len(s.revisions))]

    a, b = side(c.then), side(c.now)
    span = c.span
    cells = [c.change, span.kind, " ".join(span.track_ids), span.zone_id or ""]
    for i in range(6):
        cells += [a[i], b[i]]
    return cells + ["; ".join(c.what_changed)]


def write_changes_csv(changes: Sequence[IncidentChange], path: Path) -> Path:
    """The comparison as a CSV table (one row per incident; columns in ``_COLUMNS``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(_COLUMNS)
        w.writerows(_row(c) for c in changes)
    return path


def format_changes(changes: Sequence[IncidentChange]) -> list[str]:
    """The comparison for people: counts, then one line per incident that is not the same."""
    counts = {k: sum(1 for c in changes if c.change == k) for k in ("added", "removed", "changed", "same")}
    lines = ["incidents against those raised at the time: "
             + ", ".join(f"{n} {k}" for k, n in counts.items())]
    for c in changes:
        if c.change == "same":
            continue
        s = c.span
        who = " / ".join(s.track_ids) or (s.zone_id or "")
        detail = f": {'; '.join(c.what_changed)}" if c.what_changed else ""
        lines.append(f"  {c.change.upper():<8} {s.kind:<24} {who} opened {format_utc(s.opened_s)}{detail}")
    return lines
