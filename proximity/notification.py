"""Notified or not: what an event's area owes to a notice (Vienna Document, NOTAMs).

An exercise or NOTAM area the engine watches came from a notice (``proximity.notices``);
its zone's ``properties`` keep who notified it, when (``issued_s``), the forces declared
(``declared``) and the feed's own word (``notification``: ``notified``, ``snap`` or
``unnotified``). :func:`notification_of` turns them into the ``notification`` member every
event about such an area carries (event schema 1.6):

* ``unnotified``: activity seen with no notice (the feed says ``unnotified``);
* ``snap_exercise``: announced when it started or after (the feed says ``snap``, or the
  notice was issued after the window opened);
* ``late``: issued less than ``lead_s`` (``[proximity] notification_lead_s``, default the
  Vienna Document 2011's 42 days, paragraph 38) before the activity started, for an
  exercise whose declared forces reach the notification threshold (paragraph 40.1.1:
  9,000 troops, 250 battle tanks, 500 armoured combat vehicles or 250 artillery pieces)
  or whose size is not declared (it may reach it);
* ``notified``: otherwise (a NOTAM, an exercise notified in time, or one below the
  threshold: the Vienna Document asks no prior notification of it).

Beside the status: ``notice_id``, ``issuer`` (ISO 3166-1 country, or the side),
``issued_s`` where known, ``lead_s`` (start minus issue), ``notifiable`` (the declared forces
reach the notification threshold) and ``observable`` (they reach the observation threshold
of paragraph 47.4 as the notices format states it: 13,000 troops or 300 battle tanks).
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = [
    "NOTIFICATION_STATUSES",
    "NOTIFY_THRESHOLD",
    "OBSERVE_THRESHOLD",
    "VIENNA_LEAD_S",
    "notification_of",
    "reaches",
]

#: Vienna Document 2011, paragraph 38: notification 42 days or more in advance.
VIENNA_LEAD_S = 42 * 86_400.0
#: Paragraph 40.1.1: prior notification from any of these (declared forces, by category).
NOTIFY_THRESHOLD: Mapping[str, int] = {"troops": 9_000, "battle_tanks": 250, "acv": 500, "artillery": 250}
#: Paragraph 47.4: observers invited from any of these.
OBSERVE_THRESHOLD: Mapping[str, int] = {"troops": 13_000, "battle_tanks": 300}

NOTIFICATION_STATUSES = ("notified", "late", "snap_exercise", "unnotified")


def reaches(declared: Mapping[str, int], threshold: Mapping[str, int]) -> bool:
    """Whether any declared category reaches its threshold."""
    return any(declared.get(k, 0) >= v for k, v in threshold.items())


def notification_of(
    zone_id: str, properties: Mapping[str, Any], active_from_s: float | None, lead_s: float = VIENNA_LEAD_S
) -> dict[str, Any] | None:
    """The ``notification`` of an event about the zone, or None for a zone no notice made."""
    word = properties.get("notification")
    fmt = properties.get("format")
    if word is None and fmt != "notam":
        return None  # the catalogue's borders and sites: no notice concerns them
    declared: Mapping[str, int] = properties.get("declared") or {}
    issued_s = properties.get("issued_s")
    issuer = properties.get("country") or properties.get("side")
    out: dict[str, Any] = {"notice_id": zone_id}
    if issuer:
        out["issuer"] = issuer
    if declared:
        out["notifiable"] = reaches(declared, NOTIFY_THRESHOLD)
        out["observable"] = reaches(declared, OBSERVE_THRESHOLD)
    if word == "unnotified":
        out["status"] = "unnotified"
        del out["notice_id"]  # seen, not notified: the id is the activity's, no notice has it
        out["activity_id"] = zone_id
        return out
    if issued_s is not None:
        out["issued_s"] = float(issued_s)
        if active_from_s is not None:
            out["lead_s"] = float(active_from_s) - float(issued_s)
    lead = out.get("lead_s")
    if word == "snap" or (lead is not None and lead <= 0):
        out["status"] = "snap_exercise"
    elif fmt != "notam" and lead is not None and lead < lead_s and (not declared or out["notifiable"]):
        out["status"] = "late"
    else:
        out["status"] = "notified"
    return out
