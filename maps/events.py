"""Event revisions on the map pages: the one shape they come in, and what is drawn of them.

Events reach the maps in one shape, the contract of the Kafka events topic: the
GeoJSON Feature of :func:`alerts.codec.event_to_feature` (``EventFeature``),
whether they come from the topic, a JSON Lines file or the pipeline itself.
:func:`read_event` decodes it (:func:`alerts.codec.event_from_feature`);
:func:`event_features` is what a map draws of a revision (features with the
properties described in :mod:`maps.features`).
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Mapping

from pyproj import Geod

from alerts.codec import event_from_feature, event_geometry
from alerts.errors import CodecError
from config.times import format_utc
from maps.errors import MapInputError
from maps.features import FT_PER_M, format_duration, notification_text, popup_rows
from proximity.events import Event, Subject

__all__ = [
    "CLOSE_APPROACH_KINDS",
    "PAIR_LINE_KINDS",
    "EventFeature",
    "drawable_events",
    "event_features",
    "event_positions",
    "latest_revisions",
    "read_event",
]

log = logging.getLogger(__name__)

CLOSE_APPROACH_KINDS = ("close_approach", "predicted_close_approach")
# kinds drawn as the line between their two subjects (a bomber_sortie is drawn at the bomber)
PAIR_LINE_KINDS = (*CLOSE_APPROACH_KINDS, "shadowing", "intercept", "unsafe_air_intercept_of_ship",
                   "unsafe_manoeuvre_at_sea")
# Predicted positions at the closest point of approach when the engine gives them
# (metrics of the event topic, WGS 84 degrees; "a" is the first subject).
_CPA_KEYS = (("cpa_a_lon_deg", "cpa_a_lat_deg"), ("cpa_b_lon_deg", "cpa_b_lat_deg"))
# A zone-level event (no subjects) is drawn from the zone's point nearest the border to the border.
_ZONE_BORDER_KEYS = ("zone_lon_deg", "zone_lat_deg", "border_lon_deg", "border_lat_deg")
# An area-level event (gnss_interference) is drawn as its cells, its marker at their centre.
_AREA_KEYS = ("centre_lon_deg", "centre_lat_deg")
_GEOD = Geod(ellps="WGS84")

EventFeature = Mapping[str, Any]
"""An event revision as the maps take it: the value of the events topic, a GeoJSON Feature
(:func:`alerts.codec.event_to_feature`, or the value decoded by :func:`alerts.codec.decode_event`)."""


def read_event(feature: EventFeature) -> Event:
    """The event revision of ``feature`` (:func:`alerts.codec.event_from_feature`), with a
    place to draw it; raises :class:`~maps.errors.MapInputError` naming what is wrong."""
    try:
        e = event_from_feature(feature)
    except CodecError as err:
        raise MapInputError(str(err)) from err
    if e.cells:
        if not all(k in e.metrics for k in _AREA_KEYS):
            raise MapInputError(f"event {e.event_id}: an area without its centre in its metrics")
    elif not e.subjects and not all(k in e.metrics for k in _ZONE_BORDER_KEYS):
        raise MapInputError(f"event {e.event_id}: no subjects and no zone/border position in its metrics")
    return e


def drawable_events(events: Iterable[EventFeature]) -> tuple[list[Event], int]:
    """The revisions of ``events`` that can be drawn (:func:`read_event`), in order, and how
    many could not (each logged with the reason): one bad value does not stop a map."""
    out: list[Event] = []
    skipped = 0
    for feature in events:
        try:
            out.append(read_event(feature))
        except MapInputError as e:
            skipped += 1
            log.warning("event not drawn: %s", e)
    return out, skipped


def latest_revisions(events: Iterable[EventFeature]) -> list[Event]:
    """The last revision (highest ``seq``) of each incident, decoded (:func:`read_event`),
    in the order the incidents first appeared; values that cannot be drawn are logged and left out."""
    latest: dict[str, Event] = {}
    for e in drawable_events(events)[0]:
        have = latest.get(e.event_id)
        if have is None or e.seq >= have.seq:
            latest[e.event_id] = e
    return list(latest.values())


_METRIC_FORMATS: dict[str, tuple[str, Any]] = {
    "distance_m": ("Distance", lambda v: f"{v:,.0f} m ({v / 1852:.2f} NM)"),
    "cpa_m": ("Closest approach (CPA)", lambda v: f"{v:,.0f} m ({v / 1852:.2f} NM)"),
    "tcpa_s": ("Time to CPA", format_duration),
    "vertical_sep_m": ("Vertical separation", lambda v: f"{v * FT_PER_M:,.0f} ft ({v:,.0f} m)"),
    "eta_s": ("Time to entry", format_duration),
    "depth_m": ("Depth inside zone", lambda v: f"{v:,.0f} m"),
    "min_distance_m": ("Closest so far", lambda v: f"{v:,.0f} m ({v / 1852:.2f} NM)"),
    "min_t_s": ("Closest at", lambda v: format_utc(v, "milliseconds")[:21] + "Z"),
    "area_km2": ("Area", lambda v: f"{v:,.0f} km²"),
    "growth_km2": ("Growth since it opened", lambda v: f"{v:+,.0f} km²"),
    "share": ("Aircraft with degraded GNSS", lambda v: f"{v:.0%}"),
    "aircraft": ("Aircraft seen (window)", lambda v: f"{v:.0f}"),
    "degraded_aircraft": ("Aircraft degraded (window)", lambda v: f"{v:.0f}"),
    "n_cells": ("Cells (H3)", lambda v: f"{v:.0f}"),
    "start_t_s": ("Since", lambda v: format_utc(v)),
    "duration_s": ("Duration", format_duration),
}


def _who(s: Any) -> str:
    """Side, operator, domain and where: ``russia, military, sea, moored`` ."""
    parts = [s.side, *([s.category] if s.category != "unknown" else []), s.domain]
    if s.stationary:
        parts.append("stationary")
    if s.in_port:
        parts.append("in port")
    return ", ".join(parts)


def _metric_rows(metrics: Mapping[str, float]) -> list[tuple[str, str]]:
    rows = []
    positions = {k for pair in _CPA_KEYS for k in pair}
    for k in sorted((k for k in metrics if k not in positions), key=lambda k: (k not in _METRIC_FORMATS, k)):
        v = metrics[k]
        label, fmt = _METRIC_FORMATS.get(k, (k, lambda x: f"{x:g}"))
        rows.append((label, fmt(v)))
    return rows


def _subject_label(s: Subject) -> str:
    return s.name or s.callsign or s.track_id


def event_positions(e: Event) -> list[tuple[float, float]]:
    """Where an event is: its subjects' (lon, lat), or for a zone-level event the zone's
    point nearest the border and the border's."""
    if e.subjects:
        return [(s.lon_deg, s.lat_deg) for s in e.subjects]
    m = e.metrics
    if e.cells:
        return [(m["centre_lon_deg"], m["centre_lat_deg"])]
    return [(m["zone_lon_deg"], m["zone_lat_deg"]), (m["border_lon_deg"], m["border_lat_deg"])]


def event_features(e: Event) -> list[dict[str, Any]]:
    """What the map draws of an event revision (:func:`read_event`): its marker; for a
    close approach, a shadowing or an intercept (or a zone-level event) the line between its
    two subjects (the zone and the border; a bomber sortie's marker is at the bomber), and the two predicted positions at the closest point of approach when the
    engine gives them (metrics ``cpa_a_lon_deg``, ...); for an area (gnss_interference) its
    cells as one MultiPolygon (layer ``event_area``, with the ``share`` that shades it), the
    marker at their centre."""
    subs = e.subjects
    where = event_positions(e)
    pair = e.kind in PAIR_LINE_KINDS and len(subs) >= 2
    lon, lat = _GEOD.npts(*where[0], *where[1], 1)[0] if pair else where[0]
    title = e.kind.replace("_", " ").capitalize()
    rows: list[tuple[str, Any]] = [("Summary", e.summary), ("State", f"{e.state} (rev. {e.seq})"),
                                   ("Severity", e.severity)]
    rows += _metric_rows(e.metrics)
    rows += [("Zone", e.zone_name or e.zone_id), ("Time", format_utc(e.t_s))]
    rows += [(f"Subject {i + 1}", f"{_subject_label(s)} ({_who(s)})") for i, s in enumerate(subs)]
    if e.integrity_suspect:
        why = f" ({', '.join(e.integrity_reasons)})" if e.integrity_reasons else ""
        rows.append(("Integrity", f"SUSPECT: a subject's data failed an integrity check{why}"))
    if e.notification is not None:
        rows.append(("Notification", notification_text(e.notification)))
    if e.rule:
        rows.append(("Rule", e.rule))
    if e.close_reason:
        rows.append(("Closed", e.close_reason))
    rows.append(("Event", e.event_id))
    popup = {"title": title, "rows": popup_rows(rows)}
    base = {"event_id": e.event_id, "kind": e.kind, "severity": e.severity, "state": e.state, "t_s": e.t_s,
            "suspect": e.integrity_suspect}
    feats: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [float(lon), float(lat)]},
            "properties": {**base, "id": e.event_id, "layer": "event", "label": title, "popup": popup},
        }
    ]
    if e.cells:
        # the area's cells, shaded by the share of aircraft degraded (alerts.codec.event_geometry)
        feats.append(
            {
                "type": "Feature",
                "geometry": event_geometry(e),
                "properties": {**base, "id": f"{e.event_id}:area", "layer": "event_area", "popup": popup,
                               "share": float(e.metrics.get("share", 0.0))},
            }
        )
        return feats
    if subs and not pair:
        return feats
    feats.append(
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [list(where[0]), list(where[1])]},
            "properties": {**base, "id": f"{e.event_id}:line", "layer": "event_line", "popup": popup},
        }
    )
    m = e.metrics
    if not all(k in m for pair_keys in _CPA_KEYS for k in pair_keys):
        return feats
    tcpa = m.get("tcpa_s")
    cpa_rows = popup_rows([("In", format_duration(tcpa) if tcpa is not None else None), ("Event", e.event_id)])
    for s, (lon_key, lat_key) in zip(subs[:2], _CPA_KEYS):
        feats.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [m[lon_key], m[lat_key]]},
                "properties": {**base, "id": f"{e.event_id}:cpa:{s.track_id}", "layer": "cpa", "side": s.side,
                               "popup": {"title": f"Predicted position at CPA: {_subject_label(s)}",
                                         "rows": cpa_rows}},
            }
        )
    return feats
