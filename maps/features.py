"""Tracks, zones and events as GeoJSON features (RFC 7946) for the map pages.

Every feature carries ``properties.id`` (the key the live map matches features
by), ``properties.layer`` (``track``, ``trail``, ``zone``, ``outline``, ``event``,
``event_line``, ``cpa``) and a ``popup`` (``{"title": str, "rows": [[label,
value], ...]}``) already formatted with units. Strings from feeds are passed
through as *data*: the page's script puts them into the DOM with
``textContent``, never as HTML, so ``<img src=x onerror=alert(1)>`` shows as text.

Events reach the maps in one shape, the contract of the Kafka events topic: the
GeoJSON Feature of :func:`alerts.codec.event_to_feature` (``EventFeature``),
whether they come from the topic, a JSON Lines file or the pipeline itself.
:func:`read_event` decodes it (:func:`alerts.codec.event_from_feature`);
:func:`event_features` is what a map draws of it.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Iterable, Mapping, Sequence

from pyproj import Geod
from shapely.geometry import mapping as shapely_mapping
from shapely.geometry.base import BaseGeometry

from alerts.codec import event_from_feature
from alerts.errors import CodecError
from config.records import RecordError, TrackUpdate, Zone
from config.times import TimeFormatError, format_utc, parse_utc
from maps.errors import MapInputError
from proximity.events import Event, Subject

__all__ = [
    "CLOSE_APPROACH_KINDS",
    "EventFeature",
    "event_features",
    "event_positions",
    "feature_collection",
    "outline_features",
    "read_event",
    "track_feature",
    "track_update",
    "trail_feature",
    "zone_feature",
]

CLOSE_APPROACH_KINDS = ("close_approach", "predicted_close_approach")
# Predicted positions at the closest point of approach when the engine gives them
# (metrics of the event topic, WGS 84 degrees; "a" is the first subject).
_CPA_KEYS = (("cpa_a_lon_deg", "cpa_a_lat_deg"), ("cpa_b_lon_deg", "cpa_b_lat_deg"))
# A zone-level event (no subjects) is drawn from the zone's point nearest the border to the border.
_ZONE_BORDER_KEYS = ("zone_lon_deg", "zone_lat_deg", "border_lon_deg", "border_lat_deg")
_GEOD = Geod(ellps="WGS84")
_KN_PER_MPS = 3600.0 / 1852.0
_FT_PER_M = 1.0 / 0.3048


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


def _fmt_duration(seconds: float) -> str:
    sign = "-" if seconds < 0 else ""
    s = abs(int(round(seconds)))
    if s >= 3600:
        return f"{sign}{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{sign}{s // 60} min {s % 60:02d} s"
    return f"{sign}{s} s"


def _rows(pairs: Iterable[tuple[str, Any]]) -> list[list[str]]:
    return [[k, str(v)] for k, v in pairs if v is not None and v != ""]


def _track_label(u: TrackUpdate) -> str:
    return (u.name or u.callsign or u.track_id).strip() or u.track_id


def track_feature(u: TrackUpdate, *, stale: bool = False) -> dict[str, Any]:
    """The last known position of a track: a Point with what the popup shows."""
    rotation = u.heading_deg if u.heading_deg is not None else u.course_deg
    alt = None
    if u.alt_m is not None:
        alt = f"{u.alt_m * _FT_PER_M:,.0f} ft ({u.alt_m:,.0f} m)"
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
            "label": _track_label(u),
            "rotation_deg": rotation,
            "t_s": u.t_s,
            "stale": stale,
            "popup": {
                "title": _track_label(u),
                "rows": _rows(
                    [
                        ("Track", u.track_id),
                        ("Name", u.name),
                        ("Callsign", u.callsign),
                        ("Type", u.type_code),
                        ("Side", u.side),
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
        return TrackUpdate(**data)
    except (TypeError, RecordError) as e:
        raise MapInputError(f"track message {data.get('track_id', '?')}: {e}") from e


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


def zone_feature(z: Zone) -> dict[str, Any]:
    window = None
    if z.active_from_s is not None or z.active_until_s is not None:
        window = " – ".join(format_utc(t) if t is not None else "…" for t in (z.active_from_s, z.active_until_s))
    return {
        "type": "Feature",
        "geometry": _geometry(z.geometry),
        "properties": {
            "id": f"zone:{z.zone_id}",
            "layer": "zone",
            "kind": z.kind,
            "severity": z.severity,
            "label": z.name,
            "popup": {
                "title": z.name or z.zone_id,
                "rows": _rows(
                    [
                        ("Zone", z.zone_id),
                        ("Kind", z.kind.replace("_", " ")),
                        ("Buffer", _fmt(z.buffer_m / 1000.0, "km", 1) if z.buffer_m else None),
                        ("Sides", ", ".join(z.sides)),
                        ("Domains", ", ".join(z.domains)),
                        ("Severity", z.severity),
                        ("Active", window),
                    ]
                ),
            },
        },
    }


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


# ---------------------------------------------------------------- events


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
    if not e.subjects and not all(k in e.metrics for k in _ZONE_BORDER_KEYS):
        raise MapInputError(f"event {e.event_id}: no subjects and no zone/border position in its metrics")
    return e


_METRIC_FORMATS: dict[str, tuple[str, Any]] = {
    "distance_m": ("Distance", lambda v: f"{v:,.0f} m ({v / 1852:.2f} NM)"),
    "cpa_m": ("Closest approach (CPA)", lambda v: f"{v:,.0f} m ({v / 1852:.2f} NM)"),
    "tcpa_s": ("Time to CPA", _fmt_duration),
    "vertical_sep_m": ("Vertical separation", lambda v: f"{v * _FT_PER_M:,.0f} ft ({v:,.0f} m)"),
    "eta_s": ("Time to entry", _fmt_duration),
    "depth_m": ("Depth inside zone", lambda v: f"{v:,.0f} m"),
}


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
    return [(m["zone_lon_deg"], m["zone_lat_deg"]), (m["border_lon_deg"], m["border_lat_deg"])]


def event_features(e: Event) -> list[dict[str, Any]]:
    """What the map draws of an event revision (:func:`read_event`): its marker; for a
    close approach (or a zone-level event) the line between its two subjects (the zone and
    the border), and the two predicted positions at the closest point of approach when the
    engine gives them (metrics ``cpa_a_lon_deg``, ...)."""
    subs = e.subjects
    where = event_positions(e)
    pair = e.kind in CLOSE_APPROACH_KINDS and len(subs) >= 2
    lon, lat = _GEOD.npts(*where[0], *where[1], 1)[0] if pair else where[0]
    title = e.kind.replace("_", " ").capitalize()
    rows: list[tuple[str, Any]] = [("Summary", e.summary), ("State", f"{e.state} (rev. {e.seq})"),
                                   ("Severity", e.severity)]
    rows += _metric_rows(e.metrics)
    rows += [("Zone", e.zone_name or e.zone_id), ("Time", format_utc(e.t_s))]
    rows += [(f"Subject {i + 1}", f"{_subject_label(s)} ({s.side}, {s.domain})") for i, s in enumerate(subs)]
    if e.integrity_suspect:
        rows.append(("Integrity", "SUSPECT: a subject's data failed an integrity check"))
    if e.close_reason:
        rows.append(("Closed", e.close_reason))
    rows.append(("Event", e.event_id))
    popup = {"title": title, "rows": _rows(rows)}
    base = {"event_id": e.event_id, "kind": e.kind, "severity": e.severity, "state": e.state, "t_s": e.t_s,
            "suspect": e.integrity_suspect}
    feats: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [float(lon), float(lat)]},
            "properties": {**base, "id": e.event_id, "layer": "event", "label": title, "popup": popup},
        }
    ]
    if not (pair or not subs):
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
    for s, (lon_key, lat_key) in zip(subs[:2], _CPA_KEYS):
        feats.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [m[lon_key], m[lat_key]]},
                "properties": {**base, "id": f"{e.event_id}:cpa:{s.track_id}", "layer": "cpa", "side": s.side,
                               "popup": {"title": f"Predicted position at CPA: {_subject_label(s)}",
                                         "rows": _rows([("In", _fmt_duration(tcpa) if tcpa is not None else None),
                                                        ("Event", e.event_id)])}},
            }
        )
    return feats


def feature_collection(features: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}

