"""The incidents of a run, for people: a table by kind and severity, and the revisions in time order.

Works on event values as published (GeoJSON Features of ``alerts.codec``), whether
read back from the Kafka topic or encoded from the run's own events, so the demo
prints the same thing with and without a broker.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

from config.records import SEVERITIES

__all__ = ["incident_table", "in_time_order"]

Feature = Mapping[str, Any]


def incident_table(features: Iterable[Feature]) -> list[str]:
    """One row per event kind, one column per severity, counting incidents (event ids).

    An incident counts under the highest severity any of its revisions reached; the last
    row (``all``) holds the totals. Returns the lines: a title, the header, the rows.
    """
    highest: dict[str, tuple[str, int]] = {}  # event_id -> (kind, index of its highest severity)
    for f in features:
        p = f["properties"]
        rank = SEVERITIES.index(p["severity"])
        kind, best = highest.get(p["event_id"], (p["kind"], rank))
        highest[p["event_id"]] = (kind, max(best, rank))
    kinds = sorted({kind for kind, _ in highest.values()})
    counts = {k: [0] * len(SEVERITIES) for k in kinds + ["all"]}
    for kind, rank in highest.values():
        counts[kind][rank] += 1
        counts["all"][rank] += 1
    width = max([len("kind"), *(len(k) for k in kinds)])
    rows = [
        "incidents by kind and highest severity:",
        f"  {'kind':<{width}}" + "".join(f"  {s:>8}" for s in SEVERITIES) + f"  {'total':>5}",
    ]
    for k in kinds + ["all"]:
        cells = "".join(f"  {(str(n) if n else '-'):>8}" for n in counts[k])
        rows.append(f"  {k:<{width}}{cells}  {sum(counts[k]):>5}")
    return rows


def in_time_order(features: Iterable[Feature], emitted: Sequence[tuple[str, int]] = ()) -> list[Feature]:
    """The revisions sorted by event time (``t_s``); at equal times in the order the engine
    emitted them (``emitted``: ``(event_id, seq)`` pairs in emission order), revisions it did
    not emit last. The sort is stable: equal keys keep the order they came in."""
    rank = {key: i for i, key in enumerate(emitted)}

    def key(f: Feature) -> tuple[float, float]:
        p = f["properties"]
        return float(p["t_s"]), rank.get((p["event_id"], p["seq"]), math.inf)

    return sorted(features, key=key)
