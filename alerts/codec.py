"""The values and headers closewatch writes to Kafka: the contract with downstream systems.

* Events: a GeoJSON Feature (RFC 7946) whose geometry is where the event is and
  whose ``properties`` are the event fields; schema ``alerts/schemas/event.v1.json``.
  :func:`event_to_feature` is the one function that turns an event into GeoJSON;
  :func:`event_from_feature` reads a value back (the maps take events this way only).
* Tracks: a flat JSON object with the :class:`~config.records.TrackUpdate` fields;
  schema ``alerts/schemas/track.v1.json`` (its own minor version,
  :data:`TRACK_SCHEMA_VERSION`).
* Dead letters: the :class:`~config.records.DeadLetter` fields, raw bytes as
  base64 plus a printable text form (at most :data:`MAX_DEADLETTER_RAW_BYTES` of
  them; ``raw_bytes`` says how many there were); schema
  ``alerts/schemas/deadletter.v1.json``.
* Feed health: the :class:`~config.records.FeedHealth` fields, published on the
  dead-letter topic with ``ce_type`` :data:`FEED_HEALTH_CE_TYPE`; schema
  ``alerts/schemas/feed_health.v1.json``.
* Context events (incidents the rule profile did not raise, for the tracks an analyst
  asked about): event values with ``suppressed`` set, on the context topic with
  ``ce_type`` ``org.closewatch.context.<kind>.v1`` (:func:`context_ce_type`); schema
  ``alerts/schemas/context.v1.json`` (the event schema and a ``suppressed`` reason).

Bounded values: an event's free text (summary, zone name, a subject's callsign,
name, type code, country) longer than :data:`MAX_EVENT_TEXT_CHARS` characters is
cut (ending in "…") and the member is named in the event's ``truncated`` list, so
one oversized text never makes an event too large for its topic.

Values are canonical JSON (keys sorted, no spaces, UTF-8, no NaN): the same
record always gives the same bytes; for an event only ``detected_at`` and
``detected_s`` (the wall clock of detection) can differ between two runs.

Headers follow the CloudEvents 1.0 Kafka protocol binding in *binary* content
mode (cloudevents/spec ``kafka-protocol-binding.md`` section 3.2): every context
attribute is a header ``ce_<name>`` with a UTF-8 value and the value's media
type is in ``content-type``.

Versioning: ``schema_version`` is ``"<major>.<minor>"``. Within a major version
only new optional fields are added (minor bump); anything else is a new major
version published on a new topic (suffix ``.v2``). See docs/kafka.md.
"""

from __future__ import annotations

import base64
import json
import re
from importlib import resources
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pydantic_core

from config.records import CATEGORIES, DOMAINS, SEVERITIES, SIDES, DeadLetter, FeedHealth, PositionQuality, TrackUpdate
from config.times import TimeFormatError, format_utc, format_utc_many
from proximity.events import Event, Subject

from alerts.errors import CodecError

__all__ = [
    "FEED_HEALTH_CE_TYPE",
    "MAX_DEADLETTER_RAW_BYTES",
    "MAX_EVENT_TEXT_CHARS",
    "CE_SOURCE",
    "CE_SPECVERSION",
    "EVENT_CONTENT_TYPE",
    "JSON_CONTENT_TYPE",
    "SCHEMA_MAJOR",
    "SCHEMA_VERSION",
    "TRACK_SCHEMA_VERSION",
    "cloudevents_headers",
    "context_ce_type",
    "context_headers",
    "deadletter_headers",
    "deadletter_to_json",
    "decode_event",
    "decode_json",
    "encode_deadletter",
    "encode_event",
    "encode_events",
    "encode_feed_health",
    "encode_track",
    "encode_tracks",
    "event_ce_type",
    "event_from_feature",
    "event_geometry",
    "event_to_feature",
    "feed_health_headers",
    "feed_health_to_json",
    "iso_utc",
    "load_schema",
    "track_headers",
    "track_to_json",
]

SCHEMA_MAJOR = 1
# Events and dead letters: 1.1: subjects carry report_t_s; 1.2: close_approach metric min_t_s;
# 1.3: events may name their cut texts (truncated) and carry rule, integrity_reasons and
# suppressed (context events), subjects category, stationary and in_port; dead letters carry
# their stage and raw_bytes; feed_health records join the dead-letter topic
# 1.4: kinds shadowing, intercept, bomber_sortie
# 1.5: kinds unsafe_air_intercept_of_ship, unsafe_manoeuvre_at_sea (INCSEA) and gnss_interference
# (area-level: no subjects, its H3 cells in ``cells``, a MultiPolygon geometry); integrity reasons
# gnss_interference, on_land, same_position, impossible_speed, impossible_turn; kind ais_gap (a ship
# of interest silent on AIS near a zone while the ships around it are heard)
# 1.6: events about an area a notice made (exercise, NOTAM) carry ``notification``
SCHEMA_VERSION = f"{SCHEMA_MAJOR}.6"
# Track values: 1.2 adds alt_ref, alt_geom_m, category, category_source, nav_status, on_ground
# and quality (1.0 and 1.1 track values have the same members).
TRACK_SCHEMA_VERSION = f"{SCHEMA_MAJOR}.2"
CE_SPECVERSION = "1.0"
CE_SOURCE = "urn:closewatch"
EVENT_CONTENT_TYPE = "application/geo+json"  # RFC 7946 section 12
JSON_CONTENT_TYPE = "application/json"

#: The longest free text of an event value, characters (see the module docstring).
MAX_EVENT_TEXT_CHARS = 1_000
#: The most raw bytes a dead-letter value carries (the value says how many there were).
MAX_DEADLETTER_RAW_BYTES = 65_536
FEED_HEALTH_CE_TYPE = f"org.closewatch.feed_health.v{SCHEMA_MAJOR}"

# Predicted closest-approach positions, when the engine gives them (degrees, WGS 84).
_CPA_KEYS = ("cpa_a_lon_deg", "cpa_a_lat_deg", "cpa_b_lon_deg", "cpa_b_lat_deg")
# A zone-level event (exercise_near_border, no subjects): the zone's and the border's nearest points.
_ZONE_BORDER_KEYS = ("zone_lon_deg", "zone_lat_deg", "border_lon_deg", "border_lat_deg")


def iso_utc(t_s: float) -> str:
    """Epoch seconds as ISO 8601 UTC with milliseconds: ``2024-05-01T12:00:00.123Z``
    (:func:`config.times.format_utc`; raises :class:`CodecError`)."""
    try:
        return format_utc(t_s, "milliseconds")
    except TimeFormatError as e:
        raise CodecError(str(e)) from e


def _canonical(obj: Any, what: str) -> bytes:
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
            "utf-8"
        )
    except (TypeError, ValueError) as e:
        raise CodecError(f"{what}: not encodable as JSON: {e}") from e


def _pos(lon_deg: float, lat_deg: float) -> list[float]:
    # RFC 7946 section 3.1.1: longitude, latitude (decimal degrees, WGS 84); no altitude
    # because closewatch altitudes are not heights above the ellipsoid.
    return [float(lon_deg), float(lat_deg)]


def _segment(a: list[float], b: list[float]) -> dict[str, Any]:
    """A LineString a-b, split at the antimeridian into a MultiLineString (RFC 7946 section 3.1.9)."""
    (lon_a, lat_a), (lon_b, lat_b) = a, b
    if abs(lon_b - lon_a) <= 180.0:
        return {"type": "LineString", "coordinates": [a, b]}
    # Crossing 180: unwrap b next to a, interpolate the latitude at the meridian.
    lon_b_unwrapped = lon_b + 360.0 if lon_b < lon_a else lon_b - 360.0
    edge = 180.0 if lon_b_unwrapped > 180.0 else -180.0
    frac = (edge - lon_a) / (lon_b_unwrapped - lon_a)
    lat_x = lat_a + frac * (lat_b - lat_a)
    return {
        "type": "MultiLineString",
        "coordinates": [[a, [edge, lat_x]], [[-edge, lat_x], b]],
    }


def event_geometry(event: Event) -> dict[str, Any]:
    """Where the event is.

    One subject: a Point. Two subjects: the LineString between them, or, when the
    metrics carry the predicted closest-approach positions (``cpa_a_lon_deg``,
    ``cpa_a_lat_deg``, ``cpa_b_lon_deg``, ``cpa_b_lat_deg``; ``a`` is the first
    subject), the segment between the two tracks at CPA. More subjects: a MultiPoint.
    No subject (an exercise near the border): the segment from the zone's point
    nearest the border to the border's nearest point (a Point where they meet).
    """
    subjects = event.subjects
    if event.cells:
        return _cells_geometry(event)
    if not subjects:
        m = event.metrics
        if not all(k in m for k in _ZONE_BORDER_KEYS):
            raise CodecError(f"event {event.event_id}: no subject and no zone/border position in its metrics")
        a = _pos(m["zone_lon_deg"], m["zone_lat_deg"])
        b = _pos(m["border_lon_deg"], m["border_lat_deg"])
        return _segment(a, b) if a != b else {"type": "Point", "coordinates": a}
    if len(subjects) == 1:
        s = subjects[0]
        return {"type": "Point", "coordinates": _pos(s.lon_deg, s.lat_deg)}
    if len(subjects) == 2:
        m = event.metrics
        if all(k in m for k in _CPA_KEYS):
            a = _pos(m["cpa_a_lon_deg"], m["cpa_a_lat_deg"])
            b = _pos(m["cpa_b_lon_deg"], m["cpa_b_lat_deg"])
        else:
            a = _pos(subjects[0].lon_deg, subjects[0].lat_deg)
            b = _pos(subjects[1].lon_deg, subjects[1].lat_deg)
        return _segment(a, b)
    return {"type": "MultiPoint", "coordinates": [_pos(s.lon_deg, s.lat_deg) for s in subjects]}


def _cells_geometry(event: Event) -> dict[str, Any]:
    """The hexagons of an area's H3 cells as one MultiPolygon (each ring closed, counter-clockwise)."""
    import h3

    polygons = []
    for c in event.cells:
        try:
            ring = [_pos(lon, lat) for lat, lon in h3.cell_to_boundary(c)]
        except (h3.H3BaseException, TypeError, ValueError) as e:
            raise CodecError(f"event {event.event_id}: cell {c!r} is not an H3 cell: {e}") from e
        polygons.append([[*ring, ring[0]]])
    return {"type": "MultiPolygon", "coordinates": polygons}


def _cut(text: str | None, where: str, cut: list[str]) -> str | None:
    """``text`` within :data:`MAX_EVENT_TEXT_CHARS` (cut ending in "…", ``where`` noted in ``cut``)."""
    if text is None or len(text) <= MAX_EVENT_TEXT_CHARS:
        return text
    cut.append(where)
    return text[: MAX_EVENT_TEXT_CHARS - 1] + "…"


def _subject_to_json(s: Subject, iso: Callable[[float], str], cut: list[str], k: int) -> dict[str, Any]:
    # keys in sorted order (see _feature)
    return {
        "alt_m": s.alt_m,
        "callsign": _cut(s.callsign, f"subjects[{k}].callsign", cut),
        "category": s.category,
        "country": _cut(s.country, f"subjects[{k}].country", cut),
        "course_deg": s.course_deg,
        "domain": s.domain,
        "in_port": s.in_port,
        "lat_deg": s.lat_deg,
        "lon_deg": s.lon_deg,
        "name": _cut(s.name, f"subjects[{k}].name", cut),
        "report_t_s": s.report_t_s,
        "side": s.side,
        "speed_mps": s.speed_mps,
        "stationary": s.stationary,
        "suspect": s.suspect,
        "t_s": s.t_s,
        "time": iso(s.t_s),
        "track_id": s.track_id,
        "type_code": _cut(s.type_code, f"subjects[{k}].type_code", cut),
    }


def _feature(event: Event, iso: Callable[[float], str]) -> dict[str, Any]:
    """The Feature with every object's keys in sorted order: pydantic-core then writes canonical JSON."""
    geometry = event_geometry(event)
    cut: list[str] = []
    subjects = [_subject_to_json(s, iso, cut, k) for k, s in enumerate(event.subjects)]
    props: dict[str, Any] = {
        "close_reason": event.close_reason,
        "detected_at": iso(event.detected_s) if event.detected_s is not None else None,
        "detected_s": event.detected_s,
        "event_id": event.event_id,
        "integrity_reasons": list(event.integrity_reasons),
        "integrity_suspect": event.integrity_suspect,
        "kind": event.kind,
        "metrics": {k: float(v) for k, v in sorted(event.metrics.items())},
        "rule": event.rule,
        "schema_version": SCHEMA_VERSION,
        "seq": event.seq,
        "severity": event.severity,
        "state": event.state,
        "subjects": subjects,
        "summary": _cut(event.summary, "summary", cut),
        "suppressed": event.suppressed,
        "t_s": event.t_s,
        "time": iso(event.t_s),
        "zone_id": event.zone_id,
        "zone_name": _cut(event.zone_name, "zone_name", cut),
    }
    if event.cells:  # since 1.5, only on area-level kinds
        props["cells"] = list(event.cells)
    if cut:  # since 1.3, only when a text was cut
        props["truncated"] = sorted(cut)
    if event.notification is not None:  # since 1.6, only on events about a notified area
        props["notification"] = dict(sorted(event.notification.items()))
    if event.cells or cut or event.notification is not None:
        props = dict(sorted(props.items()))
    return {
        "geometry": {"coordinates": geometry["coordinates"], "type": geometry["type"]},
        "id": event.event_id,
        "properties": props,
        "type": "Feature",
    }


def event_to_feature(event: Event) -> dict[str, Any]:
    """The event as a GeoJSON Feature (RFC 7946 section 3.2); ``id`` is the ``event_id``."""
    return _feature(event, iso_utc)


def encode_event(event: Event) -> bytes:
    """Canonical JSON bytes of :func:`event_to_feature`."""
    return _canonical(event_to_feature(event), f"event {event.event_id} seq {event.seq}")


def encode_events(
    events: Sequence[Event], source: str = CE_SOURCE, ce_type: Callable[[str], str] | None = None,
) -> list[tuple[bytes, list[tuple[str, bytes]]]]:
    """Value and CloudEvents headers of each event: the bytes of :func:`encode_event` and
    :func:`cloudevents_headers`, made for a whole batch at once (a burst of revisions).
    ``ce_type``: the ``ce_type`` of a kind (default :func:`event_ce_type`; :func:`context_ce_type`
    for context events).

    As :func:`encode_tracks`: the times in one numpy call, the values by pydantic-core
    from objects built in key order, :func:`encode_event` where the two could differ.
    """
    type_of = ce_type or event_ce_type
    stamps = [t for e in events for t in (e.t_s, e.detected_s, *(s.t_s for s in e.subjects)) if t is not None]
    many = format_utc_many(np.array(stamps, dtype=float))
    iso: Callable[[float], str] = dict(zip(stamps, many)).__getitem__ if many is not None else iso_utc
    out: list[tuple[bytes, list[tuple[str, bytes]]]] = []
    for e in events:
        try:
            value = pydantic_core.to_json(_feature(e, iso))
        except (pydantic_core.PydanticSerializationError, ValueError):
            value = encode_event(e)  # raises CodecError where it should
        else:
            if not _surely_canonical(value):
                value = encode_event(e)
        out.append((value, _ce_headers(f"{e.event_id}:{e.seq}", type_of(e.kind), e.t_s, e.event_id,
                                       EVENT_CONTENT_TYPE, source, iso)))
    return out


def decode_json(value: bytes, what: str = "message") -> dict[str, Any]:
    """Parse a closewatch value; check it is an object of a schema major version we read."""
    try:
        obj = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CodecError(f"{what}: not UTF-8 JSON: {e}") from e
    if not isinstance(obj, dict):
        raise CodecError(f"{what}: a JSON {type(obj).__name__}, expected an object")
    version = obj.get("schema_version")
    if version is None and isinstance(obj.get("properties"), dict):
        version = obj["properties"].get("schema_version")
    if not isinstance(version, str) or version.split(".")[0] != str(SCHEMA_MAJOR):
        raise CodecError(f"{what}: schema_version {version!r} is not {SCHEMA_MAJOR}.x")
    return obj


def decode_event(value: bytes) -> dict[str, Any]:
    """An event value back as its GeoJSON Feature dict (raises :class:`CodecError`)."""
    obj = decode_json(value, "event value")
    if obj.get("type") != "Feature" or not isinstance(obj.get("properties"), dict):
        raise CodecError("event value: not a GeoJSON Feature with properties")
    return obj


_JSON_TYPES: dict[type, str] = {float: "a number", int: "an integer", str: "a string", bool: "a boolean",
                                list: "an array", dict: "an object"}


def _member(obj: Mapping[str, Any], key: str, what: str, kind: type, *, optional: bool = False) -> Any:
    """``obj[key]`` of the JSON type ``kind`` (``float``: any number, as a float; a boolean is
    no number); an ``optional`` member may be absent or null."""
    value = obj.get(key)
    if value is None:
        if optional:
            return None
        raise CodecError(f"{what}: {key} is null" if key in obj else f"{what}: no {key}")
    if kind in (float, int):
        ok = isinstance(value, int if kind is int else (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise CodecError(f"{what}: {key}={value!r} is not {_JSON_TYPES[kind]}")
    return float(value) if kind is float else value


def _choice(obj: Mapping[str, Any], key: str, what: str, allowed: tuple[str, ...]) -> Any:
    value = _member(obj, key, what, str)
    if value not in allowed:
        raise CodecError(f"{what}: {key}={value!r} is not one of {', '.join(allowed)}")
    return value


def _subject_from_json(s: Any, what: str) -> Subject:
    if not isinstance(s, Mapping):
        raise CodecError(f"{what} is not an object")
    track_id = s.get("track_id")
    if not isinstance(track_id, str) or not track_id:
        raise CodecError(f"{what} has no track_id")
    what = f"{what} ({track_id})"
    if not all(isinstance(s.get(k), (int, float)) and not isinstance(s.get(k), bool) for k in ("lat_deg", "lon_deg")):
        raise CodecError(f"{what} has no position (lat_deg, lon_deg)")
    opt_num = {k: _member(s, k, what, float, optional=True) for k in ("alt_m", "speed_mps", "course_deg",
                                                                        "report_t_s")}
    opt_str = {k: _member(s, k, what, str, optional=True) for k in ("callsign", "name", "type_code", "country")}
    return Subject(
        track_id=track_id,
        side=_choice(s, "side", what, SIDES),
        domain=_choice(s, "domain", what, DOMAINS),
        t_s=_member(s, "t_s", what, float),
        lat_deg=float(s["lat_deg"]),
        lon_deg=float(s["lon_deg"]),
        suspect=_member(s, "suspect", what, bool),
        # since 1.2; absent in earlier values
        category=_choice(s, "category", what, CATEGORIES) if s.get("category") is not None else "unknown",
        stationary=_member(s, "stationary", what, bool, optional=True) or False,
        in_port=_member(s, "in_port", what, bool, optional=True) or False,
        **opt_num,
        **opt_str,
    )


def event_from_feature(feature: Mapping[str, Any]) -> Event:
    """The event revision a value of the events topic carries: the inverse of :func:`event_to_feature`.

    ``feature`` is the GeoJSON Feature (:func:`event_to_feature`, or a value decoded
    by :func:`decode_event`). Members a later minor version adds are ignored; a
    nullable member may be absent. A missing or mistyped member, a major version we
    do not read, an unknown kind, state or severity raises :class:`CodecError`
    naming it. The geometry is not read: it follows from the properties.
    """
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise CodecError("event value: not a GeoJSON Feature")
    p = feature.get("properties")
    if not isinstance(p, Mapping):
        raise CodecError("event value: a Feature without properties")
    event_id = p.get("event_id")
    if not isinstance(event_id, str) or not event_id:
        raise CodecError(f"event value without event_id (members: {', '.join(sorted(map(str, p)))})")
    what = f"event {event_id}"
    version = p.get("schema_version")
    if not isinstance(version, str) or version.split(".")[0] != str(SCHEMA_MAJOR):
        raise CodecError(f"{what}: schema_version {version!r} is not {SCHEMA_MAJOR}.x")
    subjects = _member(p, "subjects", what, list)
    metrics = _member(p, "metrics", what, dict)
    try:
        return Event(
            event_id=event_id,
            kind=_member(p, "kind", what, str),
            state=_member(p, "state", what, str),
            seq=_member(p, "seq", what, int),
            t_s=_member(p, "t_s", what, float),
            severity=_choice(p, "severity", what, SEVERITIES),
            subjects=tuple(_subject_from_json(s, f"{what}: subject {i}") for i, s in enumerate(subjects)),
            summary=_member(p, "summary", what, str),
            zone_id=_member(p, "zone_id", what, str, optional=True),
            zone_name=_member(p, "zone_name", what, str, optional=True),
            metrics={str(k): _member(metrics, k, f"{what}: metrics", float) for k in metrics},
            integrity_suspect=_member(p, "integrity_suspect", what, bool),
            close_reason=_member(p, "close_reason", what, str, optional=True),
            detected_s=_member(p, "detected_s", what, float, optional=True),
            rule=_member(p, "rule", what, str, optional=True),
            integrity_reasons=tuple(_reasons(p, what)),
            suppressed=_member(p, "suppressed", what, str, optional=True),
            cells=tuple(_cells(p, what)),
            notification=_member(p, "notification", what, dict, optional=True),
        )
    except ValueError as e:  # the Event's own checks: kind, state, seq, subjects, finite metrics
        raise CodecError(f"{what}: {e}") from e


def _reasons(p: Mapping[str, Any], what: str) -> list[str]:
    reasons = _member(p, "integrity_reasons", what, list, optional=True) or []
    if not all(isinstance(r, str) for r in reasons):
        raise CodecError(f"{what}: integrity_reasons={reasons!r} is not an array of strings")
    return reasons


def _cells(p: Mapping[str, Any], what: str) -> list[str]:
    cells = _member(p, "cells", what, list, optional=True) or []
    if not all(isinstance(c, str) for c in cells):
        raise CodecError(f"{what}: cells={cells!r} is not an array of strings")
    return cells


def event_ce_type(kind: str) -> str:
    """CloudEvents ``type`` of an event kind: ``org.closewatch.event.<kind>.v<major>``."""
    return f"org.closewatch.event.{kind}.v{SCHEMA_MAJOR}"


def context_ce_type(kind: str) -> str:
    """CloudEvents ``type`` of a context event (an incident not raised): ``org.closewatch.context.<kind>.v<major>``."""
    return f"org.closewatch.context.{kind}.v{SCHEMA_MAJOR}"


def _ce_headers(
    ce_id: str, ce_type: str, t_s: float | None, subject: str, content_type: str, source: str,
    iso: Callable[[float], str] = iso_utc,
) -> list[tuple[str, bytes]]:
    """CloudEvents 1.0 context attributes as Kafka headers (binary mode; ``time`` omitted if unknown)."""
    pairs = [
        ("ce_specversion", CE_SPECVERSION),
        ("ce_id", ce_id),
        ("ce_source", source),
        ("ce_type", ce_type),
        ("ce_time", iso(t_s) if t_s is not None else None),
        ("ce_subject", subject),
        ("content-type", content_type),
    ]
    return [(k, v.encode("utf-8")) for k, v in pairs if v is not None]


def cloudevents_headers(
    event: Event, source: str = CE_SOURCE, ce_type: Callable[[str], str] = event_ce_type,
) -> list[tuple[str, bytes]]:
    """CloudEvents 1.0 binary-mode Kafka headers of an event.

    ``ce_id`` is ``<event_id>:<seq>`` (unique per revision, the deduplication key),
    ``ce_time`` the data time of the revision, ``ce_subject`` the ``event_id``, ``ce_type``
    ``ce_type(kind)``.
    """
    return _ce_headers(
        f"{event.event_id}:{event.seq}", ce_type(event.kind), event.t_s, event.event_id,
        EVENT_CONTENT_TYPE, source,
    )


def context_headers(event: Event, source: str = CE_SOURCE) -> list[tuple[str, bytes]]:
    """The headers of a context event: those of :func:`cloudevents_headers` but ``ce_type``
    :func:`context_ce_type`, so a consumer reading both topics tells the two apart."""
    return cloudevents_headers(event, source, context_ce_type)


def _quality_fields(q: PositionQuality) -> dict[str, Any]:
    # keys in sorted order, as in _track_fields
    return {
        "accuracy_high": q.accuracy_high,
        "adsb_version": q.adsb_version,
        "gnss_ok_before_s": q.gnss_ok_before_s,
        "gva": q.gva,
        "nac_p": q.nac_p,
        "nac_v": q.nac_v,
        "nic": q.nic,
        "nuc_p": q.nuc_p,
        "raim": q.raim,
        "sil": q.sil,
    }


def _track_fields(update: TrackUpdate, time_iso: str) -> dict[str, Any]:
    # keys in sorted order: the fast encoder below writes them as they come
    return {
        "alt_geom_m": update.alt_geom_m,
        "alt_m": update.alt_m,
        "alt_ref": update.alt_ref,
        "callsign": update.callsign,
        "category": update.category,
        "category_source": update.category_source,
        "country": update.country,
        "course_deg": update.course_deg,
        "domain": update.domain,
        "heading_deg": update.heading_deg,
        "lat_deg": update.lat_deg,
        "lon_deg": update.lon_deg,
        "name": update.name,
        "nav_status": update.nav_status,
        "on_ground": update.on_ground,
        "quality": None if update.quality is None else _quality_fields(update.quality),
        "raw_ref": update.raw_ref,
        "receiver": update.receiver,
        "schema_version": TRACK_SCHEMA_VERSION,
        "side": update.side,
        "source": update.source,
        "speed_mps": update.speed_mps,
        "t_s": update.t_s,
        "time": time_iso,
        "track_id": update.track_id,
        "type_code": update.type_code,
        "vrate_mps": update.vrate_mps,
    }


def track_to_json(update: TrackUpdate) -> dict[str, Any]:
    """A track update as a flat JSON object: every field, ``time`` (ISO 8601) and ``schema_version``
    (:data:`TRACK_SCHEMA_VERSION`)."""
    return _track_fields(update, iso_utc(update.t_s))


def encode_track(update: TrackUpdate) -> bytes:
    return _canonical(track_to_json(update), f"track {update.track_id} at {update.t_s}")


_TRACK_CE_TYPE = f"org.closewatch.track.v{SCHEMA_MAJOR}"


def track_headers(update: TrackUpdate, source: str = CE_SOURCE) -> list[tuple[str, bytes]]:
    """CloudEvents headers of a track update (``ce_id``: ``<track_id>@<t_s in ms>``)."""
    return _ce_headers(
        f"{update.track_id}@{round(update.t_s * 1000)}", _TRACK_CE_TYPE, update.t_s,
        update.track_id, JSON_CONTENT_TYPE, source,
    )


# Where pydantic-core's JSON could differ from _canonical: numbers below 1e-4 (Python writes
# 1e-05, pydantic-core 0.00001 or 1e-5) and non-finite floats (Python refuses them).
# Both searched by their literal part (the regular expression engine skips ahead to a literal
# prefix; a pattern that starts with a class or a lookbehind is tried at every byte, some 70 ms
# for the 3 MB of a batch of 6,000 tracks), the byte before each match checked apart.
_EXPONENT = re.compile(rb"e-\d")  # after a digit: 1e-05
_BELOW_1E_4 = re.compile(rb"0\.0000")  # not after a digit or a point: 0.00001, not 10.00001
_DIGITS = frozenset(b"0123456789")
_DIGITS_POINT = _DIGITS | {ord(".")}


def _has_exponent(value: bytes) -> bool:
    return any(m.start() > 0 and value[m.start() - 1] in _DIGITS for m in _EXPONENT.finditer(value))


def _has_below_1e_4(value: bytes) -> bool:
    return any(m.start() == 0 or value[m.start() - 1] not in _DIGITS_POINT for m in _BELOW_1E_4.finditer(value))


def _surely_canonical(value: bytes) -> bool:
    if b"NaN" in value or b"Infinity" in value:
        return False
    if b"0.0000" in value and _has_below_1e_4(value):
        return False
    return b"e-" not in value or not _has_exponent(value)


# Every track value starts with its first key (``_track_fields``): in pydantic-core's JSON of a
# list of them, this only stands between two values (a quote inside a string is escaped).
_TRACK_FIRST_KEY = b'{"alt_geom_m":'
_BETWEEN_TRACKS = b"}," + _TRACK_FIRST_KEY


def _track_values(updates: Sequence[TrackUpdate], fields: list[dict[str, Any]]) -> list[bytes]:
    """The bytes of :func:`encode_track` of each update: one pydantic-core call for the whole
    list, cut between the values; one by one where the batch cannot be encoded or cut."""
    try:
        whole = pydantic_core.to_json(fields)
    except pydantic_core.PydanticSerializationError:
        pass  # one by one below: the value that cannot be encoded raises there
    else:
        parts = whole[1:-1].split(_BETWEEN_TRACKS)
        if len(parts) == len(fields):
            if len(parts) == 1:
                values = parts
            else:
                values = [parts[0] + b"}", *(_TRACK_FIRST_KEY + v + b"}" for v in parts[1:-1]),
                          _TRACK_FIRST_KEY + parts[-1]]
            if _surely_canonical(whole):
                return values
            return [v if _surely_canonical(v) else encode_track(u) for u, v in zip(updates, values)]
    out = []
    for u, f in zip(updates, fields):
        try:
            value = pydantic_core.to_json(f)
        except pydantic_core.PydanticSerializationError:
            value = encode_track(u)  # raises CodecError (e.g. a lone surrogate in a name)
        out.append(value if _surely_canonical(value) else encode_track(u))
    return out


def encode_tracks(updates: Sequence[TrackUpdate], source: str = CE_SOURCE) -> list[tuple[bytes, list[tuple[str, bytes]]]]:
    """Value and CloudEvents headers of each update: the bytes of :func:`encode_track` and
    :func:`track_headers`, made for a whole batch at once (about ten times faster).

    Times (and the milliseconds of ``ce_id``) are computed in numpy calls; the values are
    written by one pydantic-core call from dicts already in key order, except where its
    number format could differ from Python's (numbers below 1e-4, non-finite values): those
    take :func:`encode_track`. The headers that are the same for every track are shared.
    """
    if not updates:
        return []
    t_s = np.fromiter((u.t_s for u in updates), float, len(updates))
    times = format_utc_many(t_s)
    if times is None:
        times = [iso_utc(u.t_s) for u in updates]  # raises CodecError where iso_utc does
        millis = [round(u.t_s * 1000) for u in updates]
    else:
        millis = np.rint(t_s * 1000).astype(np.int64).tolist()  # round(): half to even, as rint
    values = _track_values(updates, [_track_fields(u, iso) for u, iso in zip(updates, times)])
    spec = ("ce_specversion", CE_SPECVERSION.encode())
    src = ("ce_source", source.encode("utf-8"))
    typ = ("ce_type", _TRACK_CE_TYPE.encode())
    ctype = ("content-type", JSON_CONTENT_TYPE.encode())
    out: list[tuple[bytes, list[tuple[str, bytes]]]] = []
    for u, value, iso, ms in zip(updates, values, times, millis):
        tid = u.track_id.encode("utf-8")
        out.append((value, [spec, ("ce_id", b"%s@%d" % (tid, ms)), src, typ, ("ce_time", iso.encode("ascii")),
                            ("ce_subject", tid), ctype]))
    return out


def deadletter_to_json(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter: ``raw_base64`` (exact bytes) and ``raw_text`` (UTF-8, undecodable bytes as
    ``\\xNN``) of at most :data:`MAX_DEADLETTER_RAW_BYTES` of them; ``raw_bytes`` how many there were."""
    raw = letter.raw[:MAX_DEADLETTER_RAW_BYTES]
    return {
        "schema_version": SCHEMA_VERSION,
        "feed": letter.feed,
        "position": letter.position,
        "reason": letter.reason,
        "detail": letter.detail,
        "file": letter.file,
        "stage": letter.stage,
        "received_s": letter.received_s,
        "received_at": iso_utc(letter.received_s) if letter.received_s is not None else None,
        "raw_base64": base64.b64encode(raw).decode("ascii"),
        "raw_text": raw.decode("utf-8", errors="backslashreplace"),
        "raw_bytes": len(letter.raw),
    }


def encode_deadletter(letter: DeadLetter) -> bytes:
    return _canonical(deadletter_to_json(letter), f"dead letter {letter.feed}:{letter.position}")


def deadletter_headers(letter: DeadLetter, source: str = CE_SOURCE) -> list[tuple[str, bytes]]:
    """CloudEvents headers of a dead letter (``ce_id``: ``<feed>:<position>``)."""
    return _ce_headers(
        f"{letter.feed}:{letter.position}", f"org.closewatch.deadletter.v{SCHEMA_MAJOR}", letter.received_s,
        letter.feed, JSON_CONTENT_TYPE, source,
    )


def feed_health_to_json(health: FeedHealth) -> dict[str, Any]:
    """A feed's health (docs/operations.md): its fields, ``since_at`` (ISO 8601) and ``schema_version``."""
    return {
        "schema_version": SCHEMA_VERSION,
        "feed": health.feed,
        "state": health.state,
        "since_s": health.since_s,
        "since_at": iso_utc(health.since_s),
        "last_data_s": health.last_data_s,
        "error": health.error,
        "restarts": health.restarts,
    }


def encode_feed_health(health: FeedHealth) -> bytes:
    return _canonical(feed_health_to_json(health), f"feed_health of {health.feed}")


def feed_health_headers(health: FeedHealth, source: str = CE_SOURCE) -> list[tuple[str, bytes]]:
    """CloudEvents headers of a feed_health record (``ce_type`` :data:`FEED_HEALTH_CE_TYPE`,
    ``ce_id`` ``<feed>@<since_s in ms>``)."""
    return _ce_headers(
        f"{health.feed}@{round(health.since_s * 1000)}", FEED_HEALTH_CE_TYPE, health.since_s, health.feed,
        JSON_CONTENT_TYPE, source,
    )


def load_schema(name: str) -> dict[str, Any]:
    """A committed JSON Schema by file name (``event.v1.json``, ``context.v1.json``, ``track.v1.json``,
    ``deadletter.v1.json``, ``feed_health.v1.json``); ``context.v1.json`` refers to the event schema
    by its ``$id``."""
    text = resources.files("alerts").joinpath("schemas", name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
