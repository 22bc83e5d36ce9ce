"""The archive's tables: records to Arrow tables and back, and their GeoParquet 1.1 metadata.

Four tables, each written as Parquet files (``closewatch.archive.store``):

* ``tracks``: every normalised :class:`~config.records.TrackUpdate`, one row each, all
  its fields in typed columns (floats as DOUBLE, ``nav_status`` INT8, ``on_ground``
  BOOLEAN, ``quality`` a struct of the :class:`~config.records.PositionQuality` members,
  null when the record has none; texts as strings), plus ``run_id`` and ``arrival`` (the
  order in which the run's engine got the updates: replays follow it), ``time`` (``t_s``
  as a UTC timestamp, for SQL), ``geometry`` (the position as a WKB Point) and ``bbox``
  (its covering box);
* ``events``: every event revision: ``value`` is the exact value of the Kafka events
  topic (``alerts.codec``: canonical JSON, the record of truth, read back with
  ``alerts.codec.event_from_feature``), beside it the fields as columns for queries,
  ``track_ids``, ``metrics`` (a map), ``geometry`` (where the event is, as the topic's
  GeoJSON geometry) and ``bbox``;
* ``deadletters``: every dead letter, ``raw`` as the exact bytes; plain Parquet (no
  geometry), ``reason`` (a category), ``detail``, ``file`` (the file of a folder feed) and
  ``stage`` where it failed. ``t_s`` is the data time of the stream when it was
  dead-lettered (feed health records are not archived: they are about the process);
* ``zones``: the zones the run watched: the catalogue's at its start (``origin``
  ``catalogue``) and each zone a feed notified (``feed``) with the data time and the
  position in the track stream (``arrival``) at which the engine got it.

Geometry columns follow GeoParquet 1.1 (opengeospatial/geoparquet,
``format-specs/geoparquet.md``): WKB (ISO/OGC Simple Features) in a root-level binary
column, the ``geo`` key of the file metadata (``version`` 1.1.0, ``primary_column``,
``encoding`` WKB, ``geometry_types``, the CRS as PROJJSON of OGC:CRS84: longitude,
latitude on WGS 84, ``bbox`` of the file) and a ``covering`` naming the ``bbox``
column: a root-level struct of four DOUBLE fields ``xmin, ymin, xmax, ymax``.
"""

from __future__ import annotations

import gc
import json
import operator
from dataclasses import fields
from functools import lru_cache
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from shapely.geometry import shape

from alerts.codec import decode_event, encode_events, event_from_feature, event_geometry
from closewatch.archive.errors import ArchiveError
from config.records import (ALT_REFS, CATEGORIES, DOMAINS, MAX_ID_CHARS, MAX_TEXT_CHARS, SIDES, TRACK_BOUNDS, DeadLetter,
                            PositionQuality, RecordError, TrackUpdate, Zone, track_updates_from_columns)
from proximity.events import Event

__all__ = [
    "GEOPARQUET_VERSION",
    "QUALITY_FIELDS",
    "QUALITY_TYPE",
    "TABLES",
    "deadletters_table",
    "events_from_table",
    "events_table",
    "features_table",
    "geo_metadata",
    "letters_from_table",
    "point_wkb",
    "tracks_from_table",
    "tracks_rows",
    "tracks_table",
    "with_positions",
    "zones_from_table",
    "zones_table",
]

GEOPARQUET_VERSION = "1.1.0"
TABLES = ("tracks", "events", "deadletters", "zones")

TRACK_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(TrackUpdate))
_FLOAT_FIELDS = frozenset(
    ("t_s", "lat_deg", "lon_deg", "alt_m", "alt_geom_m", "speed_mps", "course_deg", "heading_deg", "vrate_mps")
)

BBOX_TYPE = pa.struct([("xmin", pa.float64()), ("ymin", pa.float64()), ("xmax", pa.float64()), ("ymax", pa.float64())])
_TIME_TYPE = pa.timestamp("us", tz="UTC")


# PositionQuality as a struct (its members by name, as the ``quality`` object of a track value
# in alerts.codec): one column per record field, and a null struct is exactly ``None``.
QUALITY_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(PositionQuality))
QUALITY_TYPE = pa.struct(
    [(name, pa.bool_() if name in ("accuracy_high", "raim") else pa.float64() if name == "gnss_ok_before_s"
      else pa.int8()) for name in QUALITY_FIELDS]
)
_TYPED_FIELDS: dict[str, pa.DataType] = {"nav_status": pa.int8(), "on_ground": pa.bool_(), "quality": QUALITY_TYPE}


def _track_type(name: str) -> pa.DataType:
    if name in _FLOAT_FIELDS:
        return pa.float64()
    return _TYPED_FIELDS.get(name, pa.string())


TRACKS_SCHEMA = pa.schema(
    [("run_id", pa.string()), ("arrival", pa.int64())]
    + [(name, _track_type(name)) for name in TRACK_FIELDS]
    + [("time", _TIME_TYPE), ("geometry", pa.binary()), ("bbox", BBOX_TYPE)]
)
_TRACK_ROWS_SCHEMA = pa.schema(list(TRACKS_SCHEMA)[:-3])  # without the columns derived from the position

EVENTS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("arrival", pa.int64()),
        ("event_id", pa.string()),
        ("seq", pa.int64()),
        ("kind", pa.string()),
        ("state", pa.string()),
        ("t_s", pa.float64()),
        ("time", _TIME_TYPE),
        ("detected_s", pa.float64()),
        ("severity", pa.string()),
        ("summary", pa.string()),
        ("zone_id", pa.string()),
        ("zone_name", pa.string()),
        ("integrity_suspect", pa.bool_()),
        ("close_reason", pa.string()),
        ("track_ids", pa.list_(pa.string())),
        ("metrics", pa.map_(pa.string(), pa.float64())),
        ("value", pa.string()),
        ("geometry", pa.binary()),
        ("bbox", BBOX_TYPE),
    ]
)

DEADLETTERS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("arrival", pa.int64()),
        ("feed", pa.string()),
        ("position", pa.int64()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("file", pa.string()),
        ("stage", pa.string()),
        ("received_s", pa.float64()),
        ("t_s", pa.float64()),
        ("time", _TIME_TYPE),
        ("raw", pa.binary()),
    ]
)

ZONES_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("arrival", pa.int64()),
        ("origin", pa.string()),
        ("notified_t_s", pa.float64()),
        ("zone_id", pa.string()),
        ("name", pa.string()),
        ("kind", pa.string()),
        ("buffer_m", pa.float64()),
        ("sides", pa.list_(pa.string())),
        ("domains", pa.list_(pa.string())),
        ("severity", pa.string()),
        ("active_from_s", pa.float64()),
        ("active_until_s", pa.float64()),
        ("properties", pa.string()),
        ("geometry", pa.binary()),
        ("bbox", BBOX_TYPE),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {
    "tracks": TRACKS_SCHEMA,
    "events": EVENTS_SCHEMA,
    "deadletters": DEADLETTERS_SCHEMA,
    "zones": ZONES_SCHEMA,
}


@lru_cache(maxsize=1)
def _crs84_projjson() -> dict[str, Any]:
    from pyproj import CRS

    projjson: dict[str, Any] = CRS.from_user_input("OGC:CRS84").to_json_dict()
    return projjson


def geo_metadata(table: pa.Table, geometry_types: Sequence[str]) -> dict[str, Any]:
    """The GeoParquet 1.1 ``geo`` metadata of a table with ``geometry`` and ``bbox`` columns."""
    column: dict[str, Any] = {
        "encoding": "WKB",
        "geometry_types": sorted(set(geometry_types)),
        "crs": _crs84_projjson(),
        "edges": "planar",
        "covering": {"bbox": {k: ["bbox", k] for k in ("xmin", "ymin", "xmax", "ymax")}},
    }
    if table.num_rows:
        bbox = table.column("bbox")
        lows = [pa.compute.min(bbox.combine_chunks().field(k)).as_py() for k in ("xmin", "ymin")]
        highs = [pa.compute.max(bbox.combine_chunks().field(k)).as_py() for k in ("xmax", "ymax")]
        column["bbox"] = lows + highs
    return {"version": GEOPARQUET_VERSION, "primary_column": "geometry", "columns": {"geometry": column}}


# -- geometry -------------------------------------------------------------------------------

_POINT_WKB = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])  # 21 bytes, packed


def point_wkb(lon_deg: np.ndarray, lat_deg: np.ndarray) -> pa.Array:
    """WKB Points (little-endian, type 1: OGC Simple Features, ISO 19125-1 section 8.2) as a
    binary array, built in one numpy pass (the same bytes as ``shapely.to_wkb``, which takes
    a microsecond per point on the archive's hot path)."""
    n = int(lon_deg.size)
    buf = np.empty(n, _POINT_WKB)
    buf["order"] = 1
    buf["type"] = 1
    buf["x"] = lon_deg
    buf["y"] = lat_deg
    offsets = np.arange(0, _POINT_WKB.itemsize * (n + 1), _POINT_WKB.itemsize, dtype=np.int32)
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(buf.tobytes())])


def _bbox_array(xmin: np.ndarray, ymin: np.ndarray, xmax: np.ndarray, ymax: np.ndarray) -> pa.StructArray:
    return pa.StructArray.from_arrays(
        [pa.array(xmin, pa.float64()), pa.array(ymin, pa.float64()), pa.array(xmax, pa.float64()),
         pa.array(ymax, pa.float64())],
        fields=list(BBOX_TYPE),
    )


def _geometries(geoms: Sequence[Any]) -> tuple[pa.Array, pa.StructArray]:
    """WKB and covering boxes of shapely geometries."""
    arr = np.array(geoms, dtype=object) if geoms else np.empty(0, object)
    wkb = shapely.to_wkb(arr) if len(geoms) else np.empty(0, object)
    bounds = shapely.bounds(arr) if len(geoms) else np.empty((0, 4))
    box = _bbox_array(bounds[:, 0], bounds[:, 1], bounds[:, 2], bounds[:, 3])
    return pa.array(list(wkb), pa.binary()), box


def _times(t_s: np.ndarray) -> pa.Array:
    """Epoch seconds as UTC timestamps to the microsecond (NaN: null)."""
    with np.errstate(invalid="ignore"):
        us = np.rint(t_s * 1e6)
    mask = ~np.isfinite(us)
    return pa.array(np.where(mask, 0, us).astype(np.int64), _TIME_TYPE, mask=mask)


def _floats(values: Sequence[float | None]) -> pa.Array:
    """A float column; ``None`` is null."""
    return pa.array(values, pa.float64())


# -- tracks ----------------------------------------------------------------------------------


def tracks_rows(updates: Sequence[TrackUpdate], run_id: str, first_arrival: int) -> pa.Table:
    """The ``tracks`` rows of ``updates`` (arrival numbers from ``first_arrival`` on) without the
    columns derived from the position (``time``, ``geometry``, ``bbox``: :func:`with_positions`).
    The archive's writer buffers these and derives the rest once per file, after sorting."""
    n = len(updates)
    columns: dict[str, pa.Array] = {
        "run_id": pa.array([run_id] * n, pa.string()) if n else pa.array([], pa.string()),
        "arrival": pa.array(np.arange(first_arrival, first_arrival + n, dtype=np.int64)),
    }
    for name in TRACK_FIELDS:
        values = list(map(operator.attrgetter(name), updates))
        if name in _FLOAT_FIELDS:
            columns[name] = _floats(values)
        elif name == "quality":
            columns[name] = _quality_array(values)
        else:
            columns[name] = pa.array(values, _track_type(name))
    return pa.Table.from_pydict(columns, schema=_TRACK_ROWS_SCHEMA)


def with_positions(rows: pa.Table) -> pa.Table:
    """A :func:`tracks_rows` table with its ``time``, ``geometry`` and ``bbox`` columns."""
    lon = rows.column("lon_deg").to_numpy()
    lat = rows.column("lat_deg").to_numpy()
    return pa.Table.from_arrays(
        rows.columns + [_times(rows.column("t_s").to_numpy()), point_wkb(lon, lat), _bbox_array(lon, lat, lon, lat)],
        schema=TRACKS_SCHEMA,
    )


def tracks_table(updates: Sequence[TrackUpdate], run_id: str, first_arrival: int) -> pa.Table:
    """The ``tracks`` rows of ``updates`` (arrival numbers from ``first_arrival`` on)."""
    return with_positions(tracks_rows(updates, run_id, first_arrival))


def _quality_array(values: list[PositionQuality | None]) -> pa.Array:
    """The ``quality`` struct column: each distinct instance made once, then taken per row (the
    decoders share one instance per set of values, so a batch holds a handful; ``None`` is one
    of them, a null struct)."""
    ids = np.fromiter(map(id, values), np.int64, len(values))  # by identity: the objects live through this call
    _, first, place = np.unique(ids, return_index=True, return_inverse=True)
    rows = [None if (q := values[i]) is None else {f: getattr(q, f) for f in QUALITY_FIELDS} for i in first.tolist()]
    return pa.array(rows, QUALITY_TYPE).take(pa.array(place.astype(np.int32)))


def _qualities(column: pa.ChunkedArray) -> list[PositionQuality | None]:
    """The ``quality`` column back as records, one shared instance per set of values (exact: a
    null struct is ``None``, a struct of nulls a ``PositionQuality()``)."""
    made: dict[tuple[Any, ...], PositionQuality] = {}
    out: list[PositionQuality | None] = []
    for row in column.to_pylist():
        if row is None:
            out.append(None)
            continue
        key = tuple(row.values())
        q = made.get(key)
        if q is None:
            q = made[key] = PositionQuality(**row)
        out.append(q)
    return out


def _values(column: pa.ChunkedArray) -> list[Any]:
    """A column as Python values, as ``to_pylist`` gives them, but with each distinct text one
    shared object where few differ (a replay reads a million rows of a few thousand identities
    and a handful of sources and domains: one string each) and floats through numpy (faster
    than Arrow's per-value conversion; integers and booleans too when none is null, as numpy
    would make them floats)."""
    array = column.combine_chunks()
    kind = array.type
    if array.null_count == len(array):
        return [None] * len(array)
    if pa.types.is_string(kind) and _few_distinct(array):
        coded = array.dictionary_encode()
        words = np.array([*coded.dictionary.to_pylist(), None], object)  # the last: null
        return words[coded.indices.fill_null(len(coded.dictionary)).to_numpy()].tolist()
    numeric = pa.types.is_integer(kind) or pa.types.is_boolean(kind)
    if pa.types.is_floating(kind) or (numeric and array.null_count == 0):
        numbers = array.to_numpy(zero_copy_only=False)  # with nulls: floats with NaN there, set below
        if array.null_count == 0:
            return numbers.tolist()
        values = numbers.astype(object)
        values[array.is_null().to_numpy(zero_copy_only=False)] = None
        return values.tolist()
    return array.to_pylist()


def _few_distinct(array: pa.Array, sample: int = 4096) -> bool:
    """At most a quarter of the first ``sample`` values differ: a column worth sharing its texts
    (sources, domains, identities); not ``raw_ref``, one text per report, whose dictionary would
    cost ten times ``to_pylist``."""
    head = array.slice(0, sample)
    return int(pc.count_distinct(head).as_py()) * 4 <= len(head)


def tracks_from_table(table: pa.Table) -> list[TrackUpdate]:
    """The updates of ``tracks`` rows, in row order (exact: every field as written; checked by
    the records' own rules, as a decoder's).

    The rules are tested on whole columns first (:func:`_rows_valid`); only when some row fails
    them is each record built by its checking constructor, which names the first one wrong.
    The cyclic garbage collector is paused meanwhile: the records hold no cycles, and making
    a million of them would otherwise run it a thousand times over every object of the
    process (a third of this function's time in a replay)."""
    cols = [_qualities(table.column(name)) if name == "quality" else _values(table.column(name))
            for name in TRACK_FIELDS]
    collecting = gc.isenabled()
    gc.disable()
    try:
        return track_updates_from_columns(cols, checked=not _rows_valid(table))
    except RecordError as e:  # a file edited or written by another program: named, not a traceback
        raise ArchiveError(f"a tracks row read from the archive breaks the record rules: {e}") from e
    finally:
        if collecting:
            gc.enable()


_REQUIRED = ("track_id", "source", "t_s", "lat_deg", "lon_deg", "domain", "side", "category")
_FREE_TEXTS = ("country", "callsign", "name", "type_code", "receiver")


def _rows_valid(table: pa.Table) -> bool:
    """Every row passes :class:`~config.records.TrackUpdate`'s checks (its ``__post_init__``,
    rule by rule), tested on the columns at once. May say False of valid rows (a null required
    text), never True of an invalid one: tests/closewatch/test_archive.py breaks each rule."""

    def col(name: str) -> pa.ChunkedArray:
        return table.column(name)

    def every(mask: Any) -> bool:  # nulls (an optional value absent) pass
        return bool(pc.all(mask).as_py() is not False)

    def within(name: str, low: float, high: float) -> bool:  # NaN compares false: fails
        return every(pc.and_(pc.greater_equal(col(name), low), pc.less_equal(col(name), high)))

    if table.num_rows == 0:
        return True
    if any(col(name).null_count for name in _REQUIRED):
        return False
    alt_ref = col("alt_ref")
    return (
        every(pc.less_equal(pc.utf8_length(col("track_id")), MAX_ID_CHARS))
        and every(pc.match_substring_regex(col("track_id"), r"(?s)^[a-z]+:."))  # scheme:id, scheme in a-z
        and every(pc.is_finite(col("t_s")))
        and within("lat_deg", -90.0, 90.0)
        and within("lon_deg", -180.0, 180.0)
        and every(pc.is_in(col("domain"), pa.array(DOMAINS)))
        and every(pc.is_in(col("side"), pa.array(SIDES)))
        and every(pc.is_in(col("category"), pa.array(CATEGORIES)))
        and all(within(name, low, high) for name, (low, high) in TRACK_BOUNDS.items())
        and every(pc.or_(pc.is_null(alt_ref), pc.and_(pc.is_in(alt_ref, pa.array(ALT_REFS)), pc.is_valid(col("alt_m")))))
        and all(every(pc.less_equal(pc.utf8_length(col(name)), MAX_TEXT_CHARS)) for name in _FREE_TEXTS)
        and every(pc.greater(pc.utf8_length(col("category_source")), 0))
        and within("nav_status", 0, 14)
    )


# -- events ----------------------------------------------------------------------------------


def events_table(events: Sequence[Event], run_id: str, first_arrival: int) -> pa.Table:
    """The ``events`` rows of ``events``: ``value`` is the events topic's value (``alerts.codec``)."""
    values = [v.decode("utf-8") for v, _headers in encode_events(events)] if events else []
    n = len(events)
    geoms = [shape(event_geometry(e)) for e in events]
    wkb, box = _geometries(geoms)
    t = np.array([e.t_s for e in events], dtype=np.float64)
    columns: dict[str, Any] = {
        "run_id": [run_id] * n,
        "arrival": np.arange(first_arrival, first_arrival + n, dtype=np.int64),
        "event_id": [e.event_id for e in events],
        "seq": [e.seq for e in events],
        "kind": [e.kind for e in events],
        "state": [e.state for e in events],
        "t_s": t,
        "time": _times(t),
        "detected_s": _floats([e.detected_s for e in events]),
        "severity": [e.severity for e in events],
        "summary": [e.summary for e in events],
        "zone_id": [e.zone_id for e in events],
        "zone_name": [e.zone_name for e in events],
        "integrity_suspect": [e.integrity_suspect for e in events],
        "close_reason": [e.close_reason for e in events],
        "track_ids": [[s.track_id for s in e.subjects] for e in events],
        "metrics": [sorted(e.metrics.items()) for e in events],
        "value": values,
        "geometry": wkb,
        "bbox": box,
    }
    return pa.Table.from_pydict(columns, schema=EVENTS_SCHEMA)


def features_table(features: Sequence[dict[str, Any]], run_id: str, first_arrival: int) -> pa.Table:
    """The ``events`` rows of values read from the events topic or a JSON Lines file (decoded,
    then encoded canonically again)."""
    return events_table([event_from_feature(f) for f in features], run_id, first_arrival)


def events_from_table(table: pa.Table) -> list[Event]:
    """The revisions of ``events`` rows, in row order, read from their ``value`` (exact)."""
    return [event_from_feature(decode_event(v.encode("utf-8"))) for v in table.column("value").to_pylist()]


# -- dead letters --------------------------------------------------------------------------------


def deadletters_table(letters: Sequence[DeadLetter], data_t_s: Sequence[float], run_id: str,
                      first_arrival: int) -> pa.Table:
    """The ``deadletters`` rows; ``data_t_s[i]`` is the stream's data time when letter i came."""
    n = len(letters)
    t = np.array(data_t_s, dtype=np.float64)
    return pa.Table.from_pydict(
        {
            "run_id": [run_id] * n,
            "arrival": np.arange(first_arrival, first_arrival + n, dtype=np.int64),
            "feed": [d.feed for d in letters],
            "position": [d.position for d in letters],
            "reason": [d.reason for d in letters],
            "detail": [d.detail for d in letters],
            "file": [d.file for d in letters],
            "stage": [d.stage for d in letters],
            "received_s": _floats([d.received_s for d in letters]),
            "t_s": t,
            "time": _times(t),
            "raw": [d.raw for d in letters],
        },
        schema=DEADLETTERS_SCHEMA,
    )


def letters_from_table(table: pa.Table) -> list[DeadLetter]:
    columns = ("feed", "position", "raw", "reason", "received_s", "detail", "file", "stage")
    names = table.column_names
    values = [table.column(c).to_pylist() if c in names else [None] * table.num_rows for c in columns]
    # an archive written before detail and file existed reads them as None; stage defaults to decode
    return [DeadLetter(**{c: v for c, v in zip(columns, row) if not (c == "stage" and v is None)})
            for row in zip(*values)]


# -- zones -----------------------------------------------------------------------------------


def _json_properties(zone: Zone) -> str:
    return json.dumps(dict(zone.properties), sort_keys=True, ensure_ascii=False, default=str)


def zones_table(zones: Sequence[Zone], run_id: str, arrival: int, origin: str,
                notified_t_s: float | None) -> pa.Table:
    """The ``zones`` rows of zones the run got at track-stream position ``arrival``."""
    n = len(zones)
    wkb, box = _geometries([z.geometry for z in zones])
    return pa.Table.from_pydict(
        {
            "run_id": [run_id] * n,
            "arrival": [arrival] * n,
            "origin": [origin] * n,
            "notified_t_s": [notified_t_s] * n,
            "zone_id": [z.zone_id for z in zones],
            "name": [z.name for z in zones],
            "kind": [z.kind for z in zones],
            "buffer_m": [z.buffer_m for z in zones],
            "sides": [list(z.sides) for z in zones],
            "domains": [list(z.domains) for z in zones],
            "severity": [z.severity for z in zones],
            "active_from_s": [z.active_from_s for z in zones],
            "active_until_s": [z.active_until_s for z in zones],
            "properties": [_json_properties(z) for z in zones],
            "geometry": wkb,
            "bbox": box,
        },
        schema=ZONES_SCHEMA,
    )


def zones_from_table(table: pa.Table) -> list[Zone]:
    """The zones of ``zones`` rows, in row order."""
    names = ("zone_id", "name", "kind", "geometry", "buffer_m", "sides", "domains", "severity",
             "active_from_s", "active_until_s", "properties")
    out = []
    for zid, name, kind, wkb, buf, sides, domains, sev, t0, t1, props in zip(
        *(table.column(c).to_pylist() for c in names)
    ):
        out.append(
            Zone(zid, name, kind, shapely.from_wkb(wkb), buf, tuple(sides), tuple(domains), sev, t0, t1,
                 json.loads(props))
        )
    return out


def geometry_types(name: str, table: pa.Table) -> list[str]:
    """What goes into ``geometry_types`` for a table of kind ``name``."""
    if name == "tracks":
        return ["Point"] if table.num_rows else []
    if name in ("events", "zones"):
        return sorted({g.geom_type for g in shapely.from_wkb(np.array(table.column("geometry").to_pylist(), object))}) \
            if table.num_rows else []
    return []
