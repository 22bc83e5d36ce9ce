"""Tracks and zones as GeoJSON features (RFC 7946) for the map pages; events are in
:mod:`maps.events`.

Every feature carries ``properties.id`` (the key the live map matches features
by), ``properties.layer`` (``track``, ``trail``, ``zone``, ``outline``, ``event``,
``event_line``, ``event_area``, ``cpa``) and a ``popup`` (``{"title": str, "rows": [[label,
value], ...]}``) already formatted with units. Strings from feeds are passed
through as *data*: the page's script puts them into the DOM with
``textContent``, never as HTML, so ``<img src=x onerror=alert(1)>`` shows as text.
"""

from __future__ import annotations

import logging
from dataclasses import fields
from functools import lru_cache
from typing import Any, Iterable, Mapping, Sequence

import shapely
from shapely.geometry import mapping as shapely_mapping
from shapely.geometry.base import BaseGeometry

from config.records import RecordError, TrackUpdate, Zone, quality_from_mapping
from config.times import TimeFormatError, format_utc, parse_utc
from config.zones import ZoneCatalogueError, load_country_outlines
from maps.errors import MapInputError
from proximity.notification import notification_of

__all__ = [
    "FT_PER_M",
    "feature_collection",
    "format_duration",
    "group_tracks",
    "outline_features",
    "notification_text",
    "popup_rows",
    "thin",
    "track_feature",
    "track_stationary",
    "track_update",
    "trail_feature",
    "zone_drawn_geometry",
    "zone_feature",
]

log = logging.getLogger(__name__)

_KN_PER_MPS = 3600.0 / 1852.0
FT_PER_M = 1.0 / 0.3048


def _epoch_s(value: Any, what: str) -> float:
    """Epoch seconds, or an ISO 8601 time with its zone (:func:`config.times.parse_utc`)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return parse_utc(value, what)
    except TimeFormatError as e:
        raise MapInputError(str(e)) from e


def _fmt(value: float | None, unit: str, digits: int = 0) -> str | None:
    if value is None:
        return None
    return f"{value:,.{digits}f} {unit}"


def format_duration(seconds: float) -> str:
    """``-1 h 05 min``, ``2 min 30 s``, ``42 s``."""
    sign = "-" if seconds < 0 else ""
    s = abs(int(round(seconds)))
    if s >= 3600:
        return f"{sign}{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{sign}{s // 60} min {s % 60:02d} s"
    return f"{sign}{s} s"


def popup_rows(pairs: Iterable[tuple[str, Any]]) -> list[list[str]]:
    """The rows of a popup: (label, value) pairs with a value, as text."""
    return [[k, str(v)] for k, v in pairs if v is not None and v != ""]


def _track_label(u: TrackUpdate) -> str:
    return (u.name or u.callsign or u.track_id).strip() or u.track_id


# ITU-R M.1371-5, Table 45 (navigational status): the ones a watch officer reads as "not under way"
_NAV_STATUS = {0: "under way using engine", 1: "at anchor", 2: "not under command", 3: "restricted manoeuvrability",
               4: "constrained by draught", 5: "moored", 6: "aground", 7: "engaged in fishing",
               8: "under way sailing"}


def track_stationary(u: TrackUpdate) -> bool:
    """Moored or anchored (AIS navigational status 1 or 5) or on the ground, as the report says.

    The engine also counts a ship slow for ``[rules] moored_after_s`` (``proximity.rules``); a
    single report cannot show that, so the map dims only what the report itself says.
    """
    return (u.domain == "sea" and u.nav_status in (1, 5)) or (u.domain == "air" and u.on_ground is True)


def _operator(u: TrackUpdate) -> str | None:
    """Who operates the track and how that was decided; None (no row) when not known."""
    if u.category == "unknown" and u.category_source is None:
        return None
    return f"{u.category} ({u.category_source})" if u.category_source else u.category


def _status(u: TrackUpdate) -> str | None:
    if u.on_ground is not None and u.domain == "air":
        return "on the ground" if u.on_ground else "airborne"
    if u.nav_status is None:
        return None
    return _NAV_STATUS.get(u.nav_status, f"navigational status {u.nav_status}")


def track_feature(u: TrackUpdate, *, stale: bool = False) -> dict[str, Any]:
    """The last known position of a track: a Point with what the popup shows."""
    rotation = u.heading_deg if u.heading_deg is not None else u.course_deg
    alt = None
    if u.alt_m is not None:
        alt = f"{u.alt_m * FT_PER_M:,.0f} ft ({u.alt_m:,.0f} m)"
    speed = None
    if u.speed_mps is not None:
        speed = f"{u.speed_mps * _KN_PER_MPS:,.1f} kn"
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [u.lon_deg, u.lat_deg]},
        "properties": {
            "id": u.track_id,
            "layer": "track",
            "domain": u.domain,
            "side": u.side,
            "category": u.category,
            "stationary": track_stationary(u),
            "label": _track_label(u),
            "rotation_deg": rotation,
            "t_s": u.t_s,
            "stale": stale,
            "popup": {
                "title": _track_label(u),
                "rows": popup_rows(
                    [
                        ("Track", u.track_id),
                        ("Name", u.name),
                        ("Callsign", u.callsign),
                        ("Type", u.type_code),
                        ("Side", u.side),
                        ("Operator", _operator(u)),
                        ("Status", _status(u)),
                        ("Domain", u.domain),
                        ("Country", u.country),
                        ("Speed", speed),
                        ("Course", _fmt(u.course_deg, "°")),
                        ("Heading", _fmt(u.heading_deg, "°")),
                        ("Altitude", alt),
                        ("Time", format_utc(u.t_s)),
                        ("Source", u.source),
                    ]
                ),
            },
        },
    }


_TRACK_FIELDS = frozenset(f.name for f in fields(TrackUpdate))


def track_update(obj: Mapping[str, Any]) -> TrackUpdate:
    """A track update from a decoded tracks-topic message: the fields of
    :class:`~config.records.TrackUpdate`, bare or as the ``properties`` of a GeoJSON
    Feature whose Point geometry gives the position (RFC 7946: lon, lat[, alt])."""
    props: Mapping[str, Any] = (obj.get("properties") or {}) if obj.get("type") == "Feature" else obj
    data = {k: v for k, v in props.items() if k in _TRACK_FIELDS}
    geom = obj.get("geometry") if obj.get("type") == "Feature" else None
    if geom and geom.get("type") == "Point":
        coords = list(geom.get("coordinates") or ())
        if len(coords) >= 2:
            data.setdefault("lon_deg", coords[0])
            data.setdefault("lat_deg", coords[1])
    if "t_s" not in data and "time" in props:
        data["t_s"] = _epoch_s(props["time"], f"track {data.get('track_id')} time")
    try:
        if "quality" in data:
            data["quality"] = quality_from_mapping(data["quality"])
        return TrackUpdate(**data)
    except (TypeError, RecordError) as e:
        raise MapInputError(f"track message {data.get('track_id', '?')}: {e}") from e


def group_tracks(tracks: Mapping[str, Sequence[TrackUpdate]] | Iterable[TrackUpdate]) -> dict[str, list[TrackUpdate]]:
    """Updates by track id, each track's in time order (from a mapping of track id to its
    updates, checked to belong to it, or from updates in any order); empty tracks left out."""
    out: dict[str, list[TrackUpdate]] = {}
    if isinstance(tracks, Mapping):
        for tid, ups in tracks.items():
            for u in ups:
                if u.track_id != tid:
                    raise MapInputError(f"tracks[{tid!r}] holds an update of {u.track_id!r}")
            if ups:
                out[tid] = list(ups)
    else:
        for u in tracks:
            out.setdefault(u.track_id, []).append(u)
    return {tid: sorted(ups, key=lambda u: u.t_s) for tid, ups in out.items()}


def thin(updates: Sequence[TrackUpdate], budget: int) -> list[TrackUpdate]:
    """At most ``budget`` (at least 2) of ``updates``, evenly spread, the first and last kept."""
    if len(updates) <= budget:
        return list(updates)
    step = (len(updates) - 1) / (budget - 1)
    return [updates[round(i * step)] for i in range(budget)]


def trail_feature(track_id: str, updates: Sequence[TrackUpdate]) -> dict[str, Any] | None:
    """The recent path of a track (``None`` for fewer than two positions)."""
    coords = [[u.lon_deg, u.lat_deg] for u in updates]
    if len(coords) < 2:
        return None
    last = updates[-1]
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": coords},
        "properties": {"id": f"{track_id}:trail", "track_id": track_id, "layer": "trail", "side": last.side,
                       "domain": last.domain},
    }


def _geometry(geom: BaseGeometry | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(geom, BaseGeometry):
        return dict(shapely_mapping(geom))
    return dict(geom)


@lru_cache(maxsize=1)
def _land() -> BaseGeometry | None:
    """The land the map draws: the union of the catalogue's country outlines (``countries.geojson``);
    None (territorial zones drawn whole) when the outlines cannot be read."""
    try:
        land = shapely.union_all([o.geometry for o in load_country_outlines()])
    except ZoneCatalogueError as e:
        log.warning("map: territorial zones drawn whole (land included): %s", e)
        return None
    shapely.prepare(land)
    return land


@lru_cache(maxsize=512)
def _sea_part(geometry: BaseGeometry) -> BaseGeometry:
    land = _land()
    if land is None or not land.intersects(geometry):
        return geometry
    sea = shapely.difference(geometry, land, grid_size=None)
    return sea if not sea.is_empty else geometry


def zone_drawn_geometry(z: Zone) -> BaseGeometry:
    """The part of a zone the map shades: a territorial zone without the land.

    A territorial zone is national territory plus the 12 NM belt (the engine measures
    against all of it: territorial airspace covers the land); shading the land would hide
    the coast and the traffic, so the map draws its sea part, clipped by the same country
    outlines the map draws as land. Computed once per zone geometry (cached), with shapely.
    Other kinds are drawn whole.
    """
    if z.kind != "territorial":
        return z.geometry
    return _sea_part(z.geometry)


def zone_feature(z: Zone) -> dict[str, Any]:
    """A zone as the map draws it; an area a notice made says whether it was notified
    (``notification``: the status of :func:`proximity.notification.notification_of`, with
    the Vienna Document's 42 days as the lead; unnotified and snap activity drawn apart)."""
    note = notification_of(z.zone_id, z.properties, z.active_from_s)
    window = None
    if z.active_from_s is not None or z.active_until_s is not None:
        window = " – ".join(format_utc(t) if t is not None else "…" for t in (z.active_from_s, z.active_until_s))
    return {
        "type": "Feature",
        "geometry": _geometry(zone_drawn_geometry(z)),
        "properties": {
            "id": f"zone:{z.zone_id}",
            "layer": "zone",
            "kind": z.kind,
            "drawn": "sea part" if z.kind == "territorial" else "whole",
            "severity": z.severity,
            "label": z.name,
            **({"notification": note["status"]} if note is not None else {}),
            "popup": {
                "title": z.name or z.zone_id,
                "rows": popup_rows(
                    [
                        ("Zone", z.zone_id),
                        ("Kind", z.kind.replace("_", " ")),
                        ("Buffer", _fmt(z.buffer_m / 1000.0, "km", 1) if z.buffer_m else None),
                        ("Sides", ", ".join(z.sides)),
                        ("Domains", ", ".join(z.domains)),
                        ("Severity", z.severity),
                        ("Active", window),
                        ("Notification", notification_text(note) if note is not None else None),
                        ("Declared", _declared(z.properties.get("declared"))),
                        ("Aircraft", _identity(z.properties.get("identity"))),
                        ("Drawn", "sea part (the zone includes the land territory)"
                         if z.kind == "territorial" else None),
                    ]
                ),
            },
        },
    }


def notification_text(note: Mapping[str, Any]) -> str:
    """``LATE: exercise:x by RU, issued 2026-03-01 12:00Z, 12.0 days before it started``."""
    status = str(note.get("status", "?"))
    words = {"unnotified": "UNNOTIFIED activity", "snap_exercise": "SNAP EXERCISE", "late": "LATE notice"}
    text = words.get(status, "notified")
    ref = note.get("notice_id") or note.get("activity_id")
    if ref:
        text += f": {ref}"
    if note.get("issuer"):
        text += f" by {note['issuer']}"
    if note.get("issued_s") is not None:
        text += f", issued {format_utc(float(note['issued_s']))}"
    if note.get("lead_s") is not None:
        lead_d = float(note["lead_s"]) / 86_400.0
        text += f", {lead_d:.1f} days before it started" if lead_d >= 0 else f", {-lead_d:.1f} days after it started"
    if note.get("notifiable"):
        text += "; above the Vienna Document notification threshold"
    if note.get("observable"):
        text += " (observation)"
    return text


def _identity(identity: Mapping[str, Any] | None) -> str | None:
    """``icao24 154a12, callsign RFF9101``: the aircraft an announced flight names."""
    if not identity:
        return None
    return ", ".join(f"{k} {v}" for k, v in identity.items())


def _declared(declared: Mapping[str, int] | None) -> str | None:
    """``9,500 troops, 120 battle tanks``: the forces a notice declares."""
    if not declared:
        return None
    return ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in declared.items())


def outline_features(outlines: BaseGeometry | Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Country outlines for the base map when there are no tiles: a shapely
    geometry, a GeoJSON geometry, Feature or FeatureCollection."""
    if outlines is None:
        return []
    if isinstance(outlines, BaseGeometry):
        geoms = [_geometry(outlines)]
    elif outlines.get("type") == "FeatureCollection":
        geoms = [dict(f["geometry"]) for f in outlines.get("features", ()) if f.get("geometry")]
    elif outlines.get("type") == "Feature":
        geoms = [dict(outlines["geometry"])]
    else:
        geoms = [dict(outlines)]
    return [
        {"type": "Feature", "geometry": g, "properties": {"id": f"outline:{i}", "layer": "outline"}}
        for i, g in enumerate(geoms)
    ]


def feature_collection(features: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}

