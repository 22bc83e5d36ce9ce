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

An announced flight (Open Skies style: an aircraft's identity, a route corridor, a period;
zone kind ``corridor``) covers the events about that aircraft (:class:`AnnouncedFlights`):
``notified`` while it flies inside its corridor within the period, with ``track_id``;
``unnotified`` with ``detail`` (outside the announced corridor, or period) when it does not.

Beside the status: ``notice_id``, ``issuer`` (ISO 3166-1 country, or the side),
``issued_s`` where known, ``lead_s`` (start minus issue), ``notifiable`` (the declared forces
reach the notification threshold) and ``observable`` (they reach the observation threshold
of paragraph 47.4 as the notices format states it: 13,000 troops or 300 battle tanks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import shapely

if TYPE_CHECKING:
    from .events import Subject
    from .zonetable import ZoneTable

__all__ = [
    "AnnouncedFlights",
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
    vienna = fmt != "notam" and "identity" not in properties  # the 42 days are owed by exercises only
    if word == "snap" or (lead is not None and lead <= 0):
        out["status"] = "snap_exercise"
    elif vienna and lead is not None and lead < lead_s and (not declared or out["notifiable"]):
        out["status"] = "late"
    else:
        out["status"] = "notified"
    return out


class AnnouncedFlights:
    """The announced flights among the engine's zones (kind ``corridor``), by the identity they
    announce: the ICAO 24-bit address (track ``icao:<hex>``), the MMSI (``ais:<mmsi>``) or the
    callsign. Rebuilt when the zone table changes; nothing to do while no flight is announced."""

    def __init__(self, zones: "ZoneTable") -> None:
        self._zones = zones
        self._generation = -1
        self._by_track: dict[str, list[int]] = {}
        self._by_callsign: dict[str, list[int]] = {}

    def _index(self) -> None:
        if self._generation == self._zones.generation:
            return
        self._generation = self._zones.generation
        self._by_track, self._by_callsign = {}, {}
        for z, zone in enumerate(self._zones.zones):
            if zone.kind != "corridor":
                continue
            identity = zone.properties.get("identity") or {}
            if "icao24" in identity:
                self._by_track.setdefault(f"icao:{identity['icao24']}", []).append(z)
            if "mmsi" in identity:
                self._by_track.setdefault(f"ais:{identity['mmsi']}", []).append(z)
            if "callsign" in identity:
                self._by_callsign.setdefault(str(identity["callsign"]), []).append(z)

    def of(self, subjects: Sequence["Subject"]) -> dict[str, Any] | None:
        """The notification of the first subject an announced flight names: ``notified`` when
        it is inside that flight's corridor within its period, else ``unnotified`` with why."""
        self._index()
        if not self._by_track and not self._by_callsign:
            return None
        for s in subjects:
            zs = list(self._by_track.get(s.track_id, ()))
            if s.callsign:
                zs += [z for z in self._by_callsign.get(s.callsign.strip().upper(), ()) if z not in zs]
            if not zs:
                continue
            outside: tuple[int, str] | None = None
            for z in zs:
                zone = self._zones[z]
                if not zone.is_active(s.t_s):
                    outside = outside or (z, "outside the announced period")
                elif not shapely.contains_xy(zone.geometry, s.lon_deg, s.lat_deg):
                    outside = (z, "outside the announced corridor")
                else:
                    return self._note(z, s, "notified", None)
            assert outside is not None
            return self._note(outside[0], s, "unnotified", outside[1])
        return None

    def _note(self, z: int, s: "Subject", status: str, detail: str | None) -> dict[str, Any]:
        zone = self._zones[z]
        note = notification_of(zone.zone_id, zone.properties, zone.active_from_s) or {}
        note.update(status=status, track_id=s.track_id)
        note.pop("notifiable", None)
        note.pop("observable", None)
        if detail is not None:
            note["detail"] = detail
        return note
