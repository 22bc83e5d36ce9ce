"""closewatch.incidents: the demo's table of incidents and its time order of revisions."""

from __future__ import annotations

from typing import Any

from closewatch.incidents import in_time_order, incident_table


def _rev(event_id: str, seq: int, t_s: float, kind: str = "close_approach", severity: str = "warning") -> dict[str, Any]:
    return {"type": "Feature", "geometry": None,
            "properties": {"event_id": event_id, "seq": seq, "t_s": t_s, "kind": kind, "severity": severity}}


def test_table_counts_incidents_under_their_highest_severity() -> None:
    revisions = [
        _rev("a", 0, 10, severity="warning"),
        _rev("a", 1, 20, severity="critical"),
        _rev("a", 2, 30, severity="warning"),  # fell back: still a critical incident
        _rev("b", 0, 15, severity="warning"),
        _rev("z", 0, 12, kind="zone_entry", severity="info"),
        _rev("z", 1, 40, kind="zone_entry", severity="info"),
    ]
    assert incident_table(revisions) == [
        "incidents by kind and highest severity:",
        "  kind                info   warning  critical  total",
        "  close_approach         -         1         1      2",
        "  zone_entry             1         -         -      1",
        "  all                    1         1         1      3",
    ]


def test_table_of_nothing_has_only_the_totals() -> None:
    assert incident_table([])[-1].split() == ["all", "-", "-", "-", "0"]


def test_time_order_breaks_ties_by_the_order_of_emission() -> None:
    # As a three-partition topic returns them: partition by partition.
    read_back = [_rev("p", 0, 50), _rev("p", 1, 70), _rev("q", 1, 70), _rev("q", 0, 60), _rev("r", 0, 70)]
    emitted = [("p", 0), ("q", 0), ("r", 0), ("q", 1), ("p", 1)]
    ordered = in_time_order(read_back, emitted)
    assert [(f["properties"]["event_id"], f["properties"]["seq"]) for f in ordered] == [
        ("p", 0), ("q", 0), ("r", 0), ("q", 1), ("p", 1)]


def test_time_order_puts_unknown_revisions_last_among_equals_and_is_stable() -> None:
    # e.g. a previous run's revisions on a reused broker: not emitted by this run.
    read_back = [_rev("old", 0, 70), _rev("new", 0, 70), _rev("old", 1, 10), _rev("old2", 0, 70)]
    ordered = in_time_order(read_back, [("new", 0)])
    assert [f["properties"]["event_id"] for f in ordered] == ["old", "new", "old", "old2"]
