"""Tracks, zones and events as GeoJSON features (RFC 7946) for the map pages.

Every feature carries ``properties.id`` (the key the live map matches features
by), ``properties.layer`` (``track``, ``trail``, ``zone``, ``outline``, ``event``,
``event_line``, ``cpa``) and a ``popup`` (``{"title": str, "rows": [[label,
value], ...]}``) already formatted with units. Strings from feeds are passed
through as *data*: the page's script puts them into the DOM with
``textContent``, never as HTML, so ``<img src=x onerror=alert(1)>`` shows as text.

Events arrive either as :class:`proximity.events.Event` objects (the pipeline)
or as dicts decoded from the Kafka event topic (a GeoJSON Feature whose
``properties`` are the event fields, or the bare fields);
:func:`event_record` turns both into one plain form.
"""

from __future__ import annotations

from dataclasses import asdict, fields, is_dataclass
from typing import Any, Iterable, Mapping, Sequence

from pyproj import Geod
from shapely.geometry import mapping as shapely_mapping
from shapely.geometry.base import BaseGeometry

from config.records import RecordError, TrackUpdate, Zone
from config.times import TimeFormatError, format_utc, parse_utc
from maps.errors import MapInputError
from proximity.events import EVENT_KINDS, ZONE_LEVEL_KINDS, Event

__all__ = [
    "CLOSE_APPROACH_KINDS",
    "event_features",
    "event_record",
    "feature_collection",
    "outline_features",
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


def _plain(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    return obj


def event_record(obj: Event | Mapping[str, Any]) -> dict[str, Any]:
    """An event as plain data with the fields of :class:`~proximity.events.Event`:
    ``subjects`` is a list of dicts with ``track_id``, ``lat_deg``, ``lon_deg``, ...;
    ``t_s`` is epoch seconds. Accepts an ``Event`` or a decoded topic message."""
    if isinstance(obj, Event):
        rec = asdict(obj)
        rec["metrics"] = dict(obj.metrics)
        rec["subjects"] = list(rec["subjects"])
        return rec
    if not isinstance(obj, Mapping):
        raise MapInputError(f"event {obj!r} is neither an Event nor a mapping")
    props: Mapping[str, Any] = obj.get("properties", obj) if obj.get("type") == "Feature" else obj
    if not isinstance(props, Mapping):
        raise MapInputError("event feature has no properties object")
    event_id = props.get("event_id")
    if not event_id:
        raise MapInputError(f"event without event_id: keys {sorted(props)}")
    kind = props.get("kind")
    if kind not in EVENT_KINDS:
        raise MapInputError(f"event {event_id}: kind {kind!r} is not one of {EVENT_KINDS}")
    subjects = [dict(_plain(s)) for s in props.get("subjects") or ()]
    # positions may live in the geometry (Point or MultiPoint of the subjects)
    geom = obj.get("geometry") if obj.get("type") == "Feature" else None
    if geom and any("lat_deg" not in s for s in subjects):
        pts = [geom["coordinates"]] if geom.get("type") == "Point" else list(geom.get("coordinates", ()))
        for s, p in zip(subjects, pts):
            s.setdefault("lon_deg", p[0])
            s.setdefault("lat_deg", p[1])
    for i, s in enumerate(subjects):
        if "lat_deg" not in s and "lat" in s:
            s["lat_deg"], s["lon_deg"] = s["lat"], s["lon"]
        if "lat_deg" not in s or "lon_deg" not in s or not s.get("track_id"):
            raise MapInputError(f"event {event_id}: subject {i} has no track_id or position")
    metrics_in = props.get("metrics") or {}
    if not subjects and not (kind in ZONE_LEVEL_KINDS and all(k in metrics_in for k in _ZONE_BORDER_KEYS)):
        raise MapInputError(f"event {event_id}: no subjects")
    t_raw = props.get("t_s", props.get("time"))
    if t_raw is None:
        raise MapInputError(f"event {event_id}: no t_s/time")
    metrics = {str(k): float(v) for k, v in (props.get("metrics") or {}).items() if isinstance(v, (int, float))}
    return {
        "event_id": str(event_id),
        "kind": kind,
        "state": props.get("state", "open"),
        "seq": int(props.get("seq", 0)),
        "t_s": _epoch_s(t_raw, f"event {event_id} time"),
        "severity": props.get("severity", "warning"),
        "subjects": subjects,
        "summary": props.get("summary") or "",
        "zone_id": props.get("zone_id"),
        "zone_name": props.get("zone_name"),
        "metrics": metrics,
        "integrity_suspect": bool(props.get("integrity_suspect", False)),
        "close_reason": props.get("close_reason"),
        "detected_s": props.get("detected_s"),
    }


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


def _subject_label(s: Mapping[str, Any]) -> str:
    return str(s.get("name") or s.get("callsign") or s["track_id"])


def _cpa_position(s: Mapping[str, Any], tcpa_s: float) -> tuple[float, float] | None:
    """Dead-reckoned position after ``tcpa_s`` along course at speed (geodesic)."""
    speed, course = s.get("speed_mps"), s.get("course_deg")
    if speed is None or course is None or tcpa_s <= 0:
        return None
    lon, lat, _ = _GEOD.fwd(s["lon_deg"], s["lat_deg"], course, speed * tcpa_s)
    return float(lon), float(lat)


def event_positions(e: Mapping[str, Any]) -> list[tuple[float, float]]:
    """Where an event record (:func:`event_record`) is: its subjects' (lon, lat), or for a
    zone-level event the zone's point nearest the border and the border's."""
    if e["subjects"]:
        return [(float(s["lon_deg"]), float(s["lat_deg"])) for s in e["subjects"]]
    m = e["metrics"]
    return [(m["zone_lon_deg"], m["zone_lat_deg"]), (m["border_lon_deg"], m["border_lat_deg"])]


def event_features(obj: Event | Mapping[str, Any]) -> list[dict[str, Any]]:
    """The marker of an event, and for a close approach the line between its two
    subjects and their predicted positions at the closest point of approach."""
    e = event_record(obj)
    subs = e["subjects"]
    lons = [p[0] for p in event_positions(e)]
    lats = [p[1] for p in event_positions(e)]
    if not subs:
        # A zone-level event (exercise near the border): from the zone's nearest point to the border's.
        lon, lat = lons[0], lats[0]
    elif e["kind"] in CLOSE_APPROACH_KINDS and len(subs) >= 2:
        lon, lat = _GEOD.npts(lons[0], lats[0], lons[1], lats[1], 1)[0]
    else:
        lon, lat = lons[0], lats[0]
    title = e["kind"].replace("_", " ").capitalize()
    rows: list[tuple[str, Any]] = [("Summary", e["summary"]), ("State", f"{e['state']} (rev. {e['seq']})"),
                                   ("Severity", e["severity"])]
    rows += _metric_rows(e["metrics"])
    rows += [("Zone", e["zone_name"] or e["zone_id"]), ("Time", format_utc(e["t_s"]))]
    rows += [(f"Subject {i + 1}", f"{_subject_label(s)} ({s.get('side', '?')}, {s.get('domain', '?')})")
             for i, s in enumerate(subs)]
    if e["integrity_suspect"]:
        rows.append(("Integrity", "SUSPECT: a subject's data failed an integrity check"))
    if e["close_reason"]:
        rows.append(("Closed", e["close_reason"]))
    rows.append(("Event", e["event_id"]))
    base = {"event_id": e["event_id"], "kind": e["kind"], "severity": e["severity"], "state": e["state"],
            "t_s": e["t_s"], "suspect": e["integrity_suspect"]}
    feats: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [float(lon), float(lat)]},
            "properties": {**base, "id": e["event_id"], "layer": "event", "label": title,
                           "popup": {"title": title, "rows": _rows(rows)}},
        }
    ]
    if (e["kind"] in CLOSE_APPROACH_KINDS and len(subs) >= 2) or not subs:
        feats.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[lons[0], lats[0]], [lons[1], lats[1]]]},
                "properties": {**base, "id": f"{e['event_id']}:line", "layer": "event_line",
                               "popup": {"title": title, "rows": _rows(rows)}},
            }
        )
        tcpa = e["metrics"].get("tcpa_s")
        metrics = e["metrics"]
        engine_cpa = all(k in metrics for pair in _CPA_KEYS for k in pair)
        if tcpa is not None or engine_cpa:
            for s, (lon_key, lat_key) in zip(subs[:2], _CPA_KEYS):
                pos = (metrics[lon_key], metrics[lat_key]) if engine_cpa else _cpa_position(s, tcpa or 0.0)
                if pos is None:
                    continue
                feats.append(
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [pos[0], pos[1]]},
                        "properties": {**base, "id": f"{e['event_id']}:cpa:{s['track_id']}", "layer": "cpa",
                                       "side": s.get("side", "unknown"),
                                       "popup": {"title": f"Predicted position at CPA: {_subject_label(s)}",
                                                 "rows": _rows([("In", _fmt_duration(tcpa) if tcpa is not None
                                                                 else None),
                                                                ("Event", e["event_id"])])}},
                    }
                )
    return feats


def feature_collection(features: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}

