"""The engine's state as plain data: a snapshot in memory, and an export that cannot run code.

Two uses, one inventory of what an ``Engine`` holds (everything else is derived
from its settings, its zones and its border lines when it is built):

* :func:`snapshot` / :func:`rollback`: a copy in memory, cheap enough to take
  often (numpy columns copied, frozen records shared), put back in place. The
  pipeline isolates a report that makes ``Engine.process`` raise with it
  (``closewatch.engine_guard``). The zones must not have changed in between.
* :func:`export_state` / :func:`import_state` (``Engine.state()``,
  ``Engine.from_state()``): an :class:`EngineState`, numpy arrays of numbers,
  booleans and bytes plus a JSON-able document, self-describing (schema name
  and version, the proximity settings it was made with, the fields of the
  records it holds, every zone with its geometry as WKB). One state is one
  engine instance: an engine per partition or per spatial cell exports and
  restores its own. Nothing in it is code or names code: no pickle, no class
  paths; an incident's class is looked up by name among the families' own.
  ``closewatch.checkpoint`` writes it to disk with a checksum.

The document's values are JSON: numbers that JSON cannot hold (``inf``,
``-inf``, ``nan``) are written ``{"$float": "inf"}``; an array of the state is
named by ``{"$array": "<name>"}``.

What the state holds (docs/engine.md, "The engine's state"):

=============== ==========================================================================
clock           data time, the current tick, the last tick and prediction slice
counters        updates, out-of-order drops, expiries, forgotten tracks
tracks          every column of the track table (the families' too), the track ids, the
                free slots, the unit vectors, and each slot's latest report (every field
                of ``TrackUpdate``)
incidents       every open incident of every family, in the order they opened
families        each family's own state (``Family.get_state``)
zones           every zone in number order (catalogue and notified), geometry as WKB
pending         events made but not yet returned (zones given at construction)
far_ahead       reports held far ahead of the data clock, those set aside not yet taken,
                and the counts held / released / set aside (``proximity._clock``)
=============== ==========================================================================
"""

from __future__ import annotations

import collections.abc
import copy
import dataclasses
import json
import math
import operator
import types
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
import shapely

from config.records import TrackUpdate, Zone
from config.settings import ProximitySettings

from ._clock import FarAhead
from .errors import ProximityError
from .events import Event
from .lifecycle import Incident

if TYPE_CHECKING:
    from shapely.geometry import LineString
    from shapely.geometry.base import BaseGeometry

    from .engine import Engine
    from .rules import Rules

__all__ = [
    "STATE_SCHEMA",
    "STATE_VERSION",
    "EngineSnapshot",
    "EngineState",
    "StateError",
    "export_state",
    "export_zones",
    "import_state",
    "import_zones",
    "rollback",
    "snapshot",
]

STATE_SCHEMA = "closewatch.engine-state"
STATE_VERSION = 3  # 2: reports held far ahead of the data clock (proximity._clock); 3: prediction slices

# the field names of each record class, in order (dataclasses.fields is slow on the hot path)
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}

# numpy dtypes an exported array may have: numbers, booleans, raw bytes (never objects)
_ARRAY_KINDS = frozenset("biuf")


class StateError(ProximityError):
    """An engine state cannot be made or read: the message says what does not fit."""


@dataclass(frozen=True, slots=True)
class EngineState:
    """An engine's state as data: ``doc`` (JSON-able) and ``arrays`` (numeric numpy arrays)."""

    doc: dict[str, Any]
    arrays: dict[str, np.ndarray]


# -- the in-memory snapshot ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EngineSnapshot:
    """A copy of everything an engine changes as it runs (frozen records shared, not copied)."""

    zones: int  # the zone table's generation when taken
    tracks: dict[str, Any]
    incidents: list[Incident]
    families: list[dict[str, Any]]
    clock: dict[str, Any]
    pending: list[Event]
    far_ahead: FarAhead


def _copy_incident(inc: Incident) -> Incident:
    """A copy of an incident: its containers (metrics, flags) copied, their plain contents shared."""
    cls = type(inc)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(inc))
    new = object.__new__(cls)
    for n in names:
        value = getattr(inc, n)
        if type(value) in (dict, set, list):
            value = value.copy()
        setattr(new, n, value)
    return new


_CLOCK = ("_data_t_s", "_tick_k", "_last_tick_t_s", "_slice_k",
          "_n_updates", "_n_dropped", "_n_expired", "_n_forgotten")


def snapshot(engine: Engine) -> EngineSnapshot:
    """A copy of ``engine``'s changing state, to put back with :func:`rollback`."""
    tr = engine._tracks
    tracks = {
        "n": tr.n,
        "cap": tr._cap,
        "ids": list(tr.ids),
        "free": list(tr._free),
        "columns": dict(tr._columns),
        "data": {name: col.copy() for name, col in tr._data.items()},
        "xyz": tr.xyz.copy(),
        "update": tr.update.copy(),
    }
    return EngineSnapshot(
        zones=engine._zones.generation,
        tracks=tracks,
        incidents=[_copy_incident(inc) for inc in engine._book.open.values()],
        families=[fam.get_state() for fam in engine._families],
        clock={name: getattr(engine, name) for name in _CLOCK},
        pending=list(engine._pending),
        far_ahead=dataclasses.replace(engine._far, held=list(engine._far.held),
                                      set_aside=list(engine._far.set_aside)),
    )


def rollback(engine: Engine, snap: EngineSnapshot) -> None:
    """Put ``engine`` back as it was when ``snap`` was taken (its zones unchanged since)."""
    if engine._zones.generation != snap.zones:
        raise StateError("the engine's zones changed since the snapshot: it cannot be put back")
    tr = engine._tracks
    t = snap.tracks
    tr.n, tr._cap = t["n"], t["cap"]
    tr.ids = list(t["ids"])
    tr.index = {tid: s for s, tid in enumerate(tr.ids) if tid is not None}
    tr._free = list(t["free"])
    tr._columns = dict(t["columns"])
    tr._data = {name: col.copy() for name, col in t["data"].items()}
    tr.xyz = t["xyz"].copy()
    tr.update = t["update"].copy()
    tr._bind()
    _restore_book(engine, [_copy_incident(inc) for inc in snap.incidents])
    for fam, state in zip(engine._families, snap.families):
        fam.set_state(state)  # set_state keeps none of the given containers
    for name, value in snap.clock.items():
        setattr(engine, name, value)
    engine._pending = list(snap.pending)
    far = snap.far_ahead
    engine._far = dataclasses.replace(far, held=list(far.held), set_aside=list(far.set_aside))


def _restore_book(engine: Engine, incidents: Sequence[Incident]) -> None:
    book = engine._book
    book.clear()
    for inc in incidents:
        book.add(inc)


# -- plain data: JSON values with tagged floats and arrays ------------------------------------


class _Arrays:
    """The arrays of a state being written: names them and checks their dtype."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def put(self, name: str, arr: np.ndarray) -> dict[str, str]:
        arr = np.ascontiguousarray(arr)
        if arr.dtype.kind not in _ARRAY_KINDS:
            raise StateError(f"state array {name}: dtype {arr.dtype} is not a number, boolean or bytes")
        if name in self.arrays:
            raise StateError(f"state array {name} is written twice")
        self.arrays[name] = arr
        return {"$array": name}


_PLAIN = (str, bool, int, type(None))


def _to_json(value: Any, arrays: _Arrays, name: str) -> Any:
    """``value`` as a JSON value (see the module docstring); arrays go to ``arrays`` under ``name``."""
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if kind in _PLAIN:
        return value
    if kind is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str or k.startswith("$"):
                raise StateError(f"state {name}: key {k!r} is not a plain text key")
            t = type(v)
            out[k] = v if t in _PLAIN or (t is float and math.isfinite(v)) else _to_json(v, arrays, f"{name}.{k}")
        return out
    if kind is list or kind is tuple:
        return [v if type(v) in _PLAIN else _to_json(v, arrays, f"{name}.{i}") for i, v in enumerate(value)]
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _to_json(float(value), arrays, name)
    if isinstance(value, np.ndarray):
        return arrays.put(name, value)
    if isinstance(value, Mapping):
        return _to_json(dict(value), arrays, name)
    if isinstance(value, (list, tuple)):
        return _to_json(list(value), arrays, name)
    if isinstance(value, (set, frozenset)):
        return sorted(_to_json(v, arrays, name) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _record_json(value, arrays, name)
    raise StateError(f"state {name}: a {type(value).__name__} is not plain data")


def _from_json(value: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    """The inverse of :func:`_to_json` (tuples and sets come back as lists)."""
    if isinstance(value, dict):
        if len(value) == 1 and "$float" in value:
            text = value["$float"]
            if text not in ("inf", "-inf", "nan"):
                raise StateError(f"state: {text!r} is not a float")
            return float(text)
        if len(value) == 1 and "$array" in value:
            name = value["$array"]
            if name not in arrays:
                raise StateError(f"state: array {name!r} is missing")
            return arrays[name]
        return {k: _from_json(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v, arrays) for v in value]
    return value


def _typed(tp: Any, value: Any, what: str) -> Any:
    """A plain value (from :func:`_from_json`) as the type ``tp`` of a record's field."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _typed(inner[0], value, what)
        raise StateError(f"state {what}: no reading for the type {tp}")
    if origin is typing.Literal:
        if value not in args:
            raise StateError(f"state {what}: {value!r} is not one of {args}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise StateError(f"state {what}: {value!r} is not a number")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise StateError(f"state {what}: {value!r} is not an integer")
        return value
    if tp is bool or tp is str:
        if not isinstance(value, tp):
            raise StateError(f"state {what}: {value!r} is not a {tp.__name__}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise StateError(f"state {what}: {value!r} is not a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_typed(args[0], v, what) for v in value)
        if len(args) != len(value):
            raise StateError(f"state {what}: {len(value)} items, expected {len(args)}")
        return tuple(_typed(a, v, what) for a, v in zip(args, value))
    if origin in (set, frozenset, list):
        if not isinstance(value, list):
            raise StateError(f"state {what}: {value!r} is not a list")
        return origin(_typed(args[0], v, what) for v in value)
    if origin in (dict, collections.abc.Mapping):
        if not isinstance(value, dict):
            raise StateError(f"state {what}: {value!r} is not an object")
        return {k: _typed(args[1], v, what) for k, v in value.items()}
    if tp is Any:
        return value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _record(tp, value, what)
    raise StateError(f"state {what}: no reading for the type {tp}")


def _record(cls: type, value: Any, what: str) -> Any:
    """A dataclass record from an object of its fields (every field present, no other)."""
    if not isinstance(value, dict):
        raise StateError(f"state {what}: {value!r} is not an object")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    if sorted(value) != sorted(names):
        raise StateError(f"state {what}: fields {sorted(value)} are not those of {cls.__name__} {sorted(names)}")
    return cls(**{n: _typed(hints[n], value[n], f"{what}.{n}") for n in names})


def _record_json(obj: Any, arrays: _Arrays, name: str) -> dict[str, Any]:
    names = _FIELD_NAMES.get(type(obj))
    if names is None:
        names = _FIELD_NAMES[type(obj)] = tuple(f.name for f in dataclasses.fields(obj))
    return _to_json({n: getattr(obj, n) for n in names}, arrays, name)


# -- strings as arrays ------------------------------------------------------------------------


def _pack_strings(values: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UTF-8 bytes of every string joined, the end offset of each, and which are present."""
    present = np.fromiter((v is not None for v in values), bool, len(values))
    encoded = [v.encode("utf-8") if v is not None else b"" for v in values]
    ends = np.cumsum(np.fromiter((len(b) for b in encoded), np.int64, len(encoded)), dtype=np.int64)
    return np.frombuffer(b"".join(encoded), np.uint8).copy(), ends, present


def _unpack_strings(data: np.ndarray, ends: np.ndarray, present: np.ndarray, what: str) -> list[str | None]:
    if data.dtype != np.uint8 or ends.dtype.kind != "i" or present.dtype != np.bool_ or ends.shape != present.shape:
        raise StateError(f"state {what}: string arrays of the wrong types or shapes")
    if ends.size and (ends[-1] != data.size or np.any(np.diff(ends) < 0) or ends[0] < 0):
        raise StateError(f"state {what}: string offsets do not fit the bytes")
    raw = data.tobytes()
    out: list[str | None] = []
    start = 0
    try:
        for end, here in zip(ends.tolist(), present.tolist()):
            out.append(raw[start:end].decode("utf-8") if here else None)
            start = end
    except UnicodeDecodeError as e:
        raise StateError(f"state {what}: not UTF-8: {e}") from None
    return out


def _put_strings(arrays: _Arrays, name: str, values: Sequence[str | None]) -> dict[str, Any]:
    data, ends, present = _pack_strings(values)
    return {"strings": [arrays.put(f"{name}.bytes", data)["$array"], arrays.put(f"{name}.ends", ends)["$array"],
                        arrays.put(f"{name}.present", present)["$array"]]}


def _get_strings(spec: Any, arrays: Mapping[str, np.ndarray], what: str) -> list[str | None]:
    if not isinstance(spec, dict) or not isinstance(spec.get("strings"), list) or len(spec["strings"]) != 3:
        raise StateError(f"state {what}: not a string column")
    try:
        data, ends, present = (arrays[n] for n in spec["strings"])
    except (KeyError, TypeError):
        raise StateError(f"state {what}: its arrays are missing") from None
    return _unpack_strings(data, ends, present, what)


# -- reports (TrackUpdate) as columns ---------------------------------------------------------


def _field_kinds(cls: type) -> list[tuple[str, str]]:
    """(name, "float" | "text" | "json") of each field of a record: numbers as a float column,
    texts as a string column, anything else (integers, booleans, nested records) as JSON texts."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp = base = hints[f.name]
        if typing.get_origin(tp) in (typing.Union, types.UnionType):
            base = next(a for a in typing.get_args(tp) if a is not type(None))
        if base is float:
            out.append((f.name, "float"))
        elif base is str or typing.get_origin(base) is typing.Literal:
            out.append((f.name, "text"))
        elif base in (int, bool) or (isinstance(base, type) and dataclasses.is_dataclass(base)):
            out.append((f.name, "json"))
        else:
            raise StateError(f"{cls.__name__}.{f.name}: a {tp} has no column form")
    return out


def _plain(value: Any) -> Any:
    """A field value as JSON (a nested record as an object of its fields)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def _put_reports(arrays: _Arrays, updates: np.ndarray, prefix: str = "reports") -> dict[str, Any]:
    """Reports (the latest of each slot, or none) as one column per ``TrackUpdate`` field."""
    n = updates.size
    kinds = _field_kinds(TrackUpdate)
    get = operator.attrgetter(*(name for name, _ in kinds))
    empty = (None,) * len(kinds)
    present = np.fromiter((u is not None for u in updates), bool, n)
    rows = [get(u) if u is not None else empty for u in updates.tolist()]
    columns: dict[str, Any] = {}
    for (name, kind), values in zip(kinds, zip(*rows) if rows else [()] * len(kinds)):
        if kind == "float":
            have = np.fromiter((v is not None for v in values), bool, n)
            col = np.array([0.0 if v is None else v for v in values], np.float64).reshape(n)
            columns[name] = {"float": [arrays.put(f"{prefix}.{name}", col)["$array"],
                                       arrays.put(f"{prefix}.{name}.present", have)["$array"]]}
        elif kind == "json":
            texts = [None if v is None else json.dumps(_plain(v), sort_keys=True, allow_nan=False) for v in values]
            columns[name] = _put_strings(arrays, f"{prefix}.{name}", texts)
        else:
            columns[name] = _put_strings(arrays, f"{prefix}.{name}", values)
    return {"present": arrays.put(f"{prefix}.present", present), "fields": kinds, "columns": columns}


def _get_reports(spec: Any, arrays: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    fields = [tuple(f) for f in spec.get("fields", [])] if isinstance(spec, dict) else []
    if fields != _field_kinds(TrackUpdate):
        raise StateError(f"state reports: fields {fields} are not those of TrackUpdate {_field_kinds(TrackUpdate)}")
    hints = typing.get_type_hints(TrackUpdate)
    present = _from_json(spec["present"], arrays)
    if present.dtype != np.bool_ or present.shape != (n,):
        raise StateError("state reports: 'present' does not fit the track table")
    values: dict[str, list[Any]] = {}
    for name, kind in fields:
        col = spec["columns"].get(name)
        if kind == "float":
            try:
                data, have = (arrays[a] for a in col["float"])
            except (KeyError, TypeError):
                raise StateError(f"state reports.{name}: its arrays are missing") from None
            if data.dtype != np.float64 or have.dtype != np.bool_ or data.shape != (n,) or have.shape != (n,):
                raise StateError(f"state reports.{name}: arrays of the wrong types or shapes")
            values[name] = [float(v) if h else None for v, h in zip(data.tolist(), have.tolist())]
        else:
            values[name] = _get_strings(col, arrays, f"reports.{name}")
            if len(values[name]) != n:
                raise StateError(f"state reports.{name}: {len(values[name])} values for {n} slots")
            if kind == "json":
                hint = hints[name]
                try:
                    values[name] = [None if v is None else _typed(hint, json.loads(v), f"reports.{name}")
                                    for v in values[name]]
                except ValueError as e:
                    raise StateError(f"state reports.{name}: not JSON: {e}") from None
    out = np.empty(n, object)
    for i in np.nonzero(present)[0].tolist():
        try:
            out[i] = TrackUpdate(**{name: values[name][i] for name, _ in fields})
        except (TypeError, ValueError) as e:
            raise StateError(f"state reports, slot {i}: {e}") from None
    return out


# -- zones ----------------------------------------------------------------------------------


_ZONE_FIELDS = tuple(f.name for f in dataclasses.fields(Zone) if f.name != "geometry")


def _objects(updates: Sequence[TrackUpdate]) -> np.ndarray:
    out = np.empty(len(updates), object)
    out[:] = updates
    return out


def _put_zones(arrays: _Arrays, zones: Sequence[Zone]) -> list[dict[str, Any]]:
    wkb = [bytes(shapely.to_wkb(z.geometry)) for z in zones]
    data = np.frombuffer(b"".join(wkb), np.uint8).copy()
    ends = np.cumsum(np.fromiter((len(b) for b in wkb), np.int64, len(wkb)), dtype=np.int64)
    arrays.put("zones.wkb", data)
    arrays.put("zones.wkb_ends", ends)
    out = []
    for i, z in enumerate(zones):
        d = {name: getattr(z, name) for name in _ZONE_FIELDS}
        # properties are for display: what JSON cannot hold is kept as its text
        d["properties"] = json.loads(json.dumps(dict(z.properties), default=str, allow_nan=False))
        out.append(_to_json(d, arrays, f"zones.{i}"))
    return out


def _get_zones(specs: Any, arrays: Mapping[str, np.ndarray]) -> list[Zone]:
    if not isinstance(specs, list):
        raise StateError("state zones: not a list")
    try:
        data, ends = arrays["zones.wkb"], arrays["zones.wkb_ends"]
    except KeyError:
        raise StateError("state zones: the geometry arrays are missing") from None
    if data.dtype != np.uint8 or ends.dtype.kind != "i" or ends.shape != (len(specs),):
        raise StateError("state zones: geometry arrays of the wrong types or shapes")
    raw = data.tobytes()
    hints = typing.get_type_hints(Zone)
    zones = []
    start = 0
    for i, (spec, end) in enumerate(zip(specs, ends.tolist())):
        what = f"zones.{i}"
        if not isinstance(spec, dict) or sorted(spec) != sorted(_ZONE_FIELDS):
            raise StateError(f"state {what}: fields are not those of Zone {sorted(_ZONE_FIELDS)}")
        if not start <= end <= len(raw):
            raise StateError(f"state {what}: geometry offsets do not fit the bytes")
        try:
            geometry = shapely.from_wkb(raw[start:end])
        except shapely.errors.GEOSException as e:
            raise StateError(f"state {what}: geometry is not WKB: {e}") from None
        start = end
        fields = {n: _typed(hints[n], spec[n], f"{what}.{n}") for n in _ZONE_FIELDS if n != "properties"}
        properties = spec["properties"]
        if not isinstance(properties, dict):
            raise StateError(f"state {what}.properties: not an object")
        try:
            zones.append(Zone(geometry=geometry, properties=properties, **fields))
        except (TypeError, ValueError) as e:
            raise StateError(f"state {what}: {e}") from None
    return zones


def export_zones(zones: Sequence[Zone]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``zones`` as a JSON document and arrays (the state's own form of zones: geometry as WKB),
    for ``closewatch.checkpoint.state_bytes``: how a notified zone travels to engine workers."""
    arrays = _Arrays()
    return {"zones": _put_zones(arrays, zones)}, arrays.arrays


def import_zones(doc: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> list[Zone]:
    """The zones of :func:`export_zones`; raises :class:`StateError` naming what is wrong."""
    if not isinstance(doc, Mapping) or "zones" not in doc:
        raise StateError("zones: the document has no zones")
    try:
        return _get_zones(doc["zones"], arrays)
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        raise StateError(f"zones do not fit: {type(e).__name__}: {e}") from None


# -- incidents ---------------------------------------------------------------------------------


def _incident_classes() -> dict[str, type[Incident]]:
    """Every incident record of the families, by class name (the only classes a state may name)."""
    out: dict[str, type[Incident]] = {}
    todo: list[type[Incident]] = [Incident]
    while todo:
        cls = todo.pop()
        if cls.__name__ in out and out[cls.__name__] is not cls:
            raise StateError(f"two incident records are named {cls.__name__}")
        out[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return out


# -- export and import ----------------------------------------------------------------------


def export_state(engine: Engine) -> EngineState:
    """``engine``'s state as plain data (see the module docstring)."""
    arrays = _Arrays()
    tr = engine._tracks
    n = tr.n
    columns = {}
    for name, (dtype, fill) in tr._columns.items():
        columns[name] = {"dtype": np.dtype(dtype).str, "fill": _to_json(fill, arrays, name),
                         "data": arrays.put(f"tracks.{name}", tr._data[name][:n])}
    doc: dict[str, Any] = {
        "schema": STATE_SCHEMA,
        "version": STATE_VERSION,
        "settings": engine._s.model_dump(mode="json"),
        "clock": _to_json({name: getattr(engine, name) for name in _CLOCK}, arrays, "clock"),
        "tracks": {
            "n": n,
            "ids": _put_strings(arrays, "tracks.ids", tr.ids[:n]),
            "free": arrays.put("tracks.free", np.asarray(tr._free, np.int64)),
            "columns": columns,
            "xyz": arrays.put("tracks.xyz", tr.xyz[:n]),
            "reports": _put_reports(arrays, tr.update[:n]),
        },
        "incidents": [
            {"record": type(inc).__name__, "fields": _record_json(inc, arrays, f"incidents.{i}")}
            for i, inc in enumerate(engine._book.open.values())
        ],
        "families": {fam.kind: _to_json(fam.get_state(), arrays, f"families.{fam.kind}") for fam in engine._families},
        "zones": _put_zones(arrays, engine._zones.zones),
        "pending": [_record_json(e, arrays, f"pending.{i}") for i, e in enumerate(engine._pending)],
        "far_ahead": {
            "held": _put_reports(arrays, _objects(engine._far.held), "far_ahead.held"),
            "set_aside": _put_reports(arrays, _objects(engine._far.set_aside), "far_ahead.set_aside"),
            "counts": [engine._far.n_held, engine._far.n_released, engine._far.n_set_aside],
        },
    }
    return EngineState(doc, arrays.arrays)


def import_state(
    settings: ProximitySettings,
    state: EngineState,
    *,
    borders: Sequence[LineString] = (),
    wall_clock: Callable[[], float] | None = None,
    rules: Rules | None = None,
    land: BaseGeometry | None = None,
) -> Engine:
    """An engine that goes on exactly where the one that exported ``state`` stood.

    ``settings`` must be those it was made with (the state says which); ``borders``
    are the border lines, ``land`` the land polygons and ``rules`` the rule profile, as
    given to the engine that exported it. Raises :class:`StateError` naming what does not fit.
    """
    from .engine import Engine

    doc, arrays = state.doc, state.arrays
    if not isinstance(doc, dict) or doc.get("schema") != STATE_SCHEMA:
        raise StateError(f"not an engine state (schema {doc.get('schema') if isinstance(doc, dict) else None!r})")
    if doc.get("version") != STATE_VERSION:
        raise StateError(f"engine state version {doc.get('version')!r}, this closewatch reads {STATE_VERSION}")
    for name, arr in arrays.items():
        if arr.dtype.kind not in _ARRAY_KINDS:
            raise StateError(f"state array {name}: dtype {arr.dtype} is not a number, boolean or bytes")
    if doc.get("settings") != settings.model_dump(mode="json"):
        raise StateError("the engine state was made with other proximity settings")
    try:
        zones = _get_zones(doc["zones"], arrays)
        kwargs: dict[str, Any] = {"borders": borders, "rules": rules, "land": land}
        if wall_clock is not None:
            kwargs["wall_clock"] = wall_clock
        engine = Engine(settings, zones, **kwargs)
        _import_into(engine, doc, arrays)
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        raise StateError(f"engine state does not fit: {type(e).__name__}: {e}") from None
    return engine


def _import_into(engine: Engine, doc: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
    t = doc["tracks"]
    n = t["n"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise StateError(f"state tracks.n={n!r} is not a count")
    tr = engine._tracks
    cap = max(n, 1)
    names = set(t["columns"])
    if names != set(tr._columns):
        raise StateError(f"state track columns {sorted(names)} are not this engine's {sorted(tr._columns)}")
    data = {}
    for name, (dtype, fill) in tr._columns.items():
        spec = t["columns"][name]
        arr = _from_json(spec["data"], arrays)
        if spec["dtype"] != np.dtype(dtype).str or arr.dtype != np.dtype(dtype) or arr.shape != (n,):
            raise StateError(f"state track column {name}: {arr.dtype}{arr.shape}, expected {np.dtype(dtype)}({n},)")
        col: np.ndarray = np.full(cap, fill, dtype)
        col[:n] = arr
        data[name] = col
    ids = _get_strings(t["ids"], arrays, "tracks.ids")
    free = _from_json(t["free"], arrays)
    xyz = _from_json(t["xyz"], arrays)
    if len(ids) != n or free.dtype.kind != "i" or xyz.shape != (n, 3) or xyz.dtype != np.float64:
        raise StateError("state tracks: ids, free slots or unit vectors do not fit the table")
    if free.size and (free.min() < 0 or free.max() >= n):
        raise StateError("state tracks: a free slot outside the table")
    update = np.empty(cap, object)
    update[:n] = _get_reports(t["reports"], arrays, n)
    xyz_full = np.zeros((cap, 3))
    xyz_full[:n] = xyz
    tr.n, tr._cap = n, cap
    tr.ids = ids
    tr.index = {tid: s for s, tid in enumerate(ids) if tid is not None}
    tr._free = [int(s) for s in free.tolist()]
    tr._data = data
    tr.xyz = xyz_full
    tr.update = update
    tr._bind()

    classes = _incident_classes()
    incidents = []
    for i, spec in enumerate(doc["incidents"]):
        cls = classes.get(str(spec.get("record"))) if isinstance(spec, dict) else None
        if cls is None:
            raise StateError(f"state incidents.{i}: unknown incident record {spec.get('record')!r}")
        incidents.append(_record(cls, _from_json(spec["fields"], arrays), f"incidents.{i}"))
    for inc in incidents:
        if inc.kind not in {fam.kind for fam in engine._families}:
            raise StateError(f"state: an incident of kind {inc.kind!r}, which no family of this engine watches")
        if any(not 0 <= s < n for s in inc.slots) or (inc.zone_no is not None and not 0 <= inc.zone_no < len(engine._zones)):
            raise StateError(f"state: incident {inc.event_id} names a track slot or zone outside the state")
    _restore_book(engine, incidents)

    families = doc["families"]
    if sorted(families) != sorted(fam.kind for fam in engine._families):
        raise StateError(f"state families {sorted(families)} are not this engine's")
    for fam in engine._families:
        fam.set_state(_from_json(families[fam.kind], arrays))

    clock = _from_json(doc["clock"], arrays)
    if sorted(clock) != sorted(_CLOCK):
        raise StateError(f"state clock: {sorted(clock)}, expected {sorted(_CLOCK)}")
    for name in _CLOCK:
        value = clock[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise StateError(f"state clock.{name}={value!r} is not a number")
        setattr(engine, name, value)
    engine._pending = [_record(Event, _from_json(e, arrays), f"pending.{i}") for i, e in enumerate(doc["pending"])]
    far = doc["far_ahead"]
    counts = far["counts"]
    if not (isinstance(counts, list) and len(counts) == 3
            and all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts)):
        raise StateError(f"state far_ahead.counts={counts!r} are not three counts")
    lists = []
    for name in ("held", "set_aside"):
        spec = far[name]
        present = _from_json(spec["present"], arrays) if isinstance(spec, dict) else None
        n_far = int(present.shape[0]) if isinstance(present, np.ndarray) and present.ndim == 1 else -1
        if n_far < 0:
            raise StateError(f"state far_ahead.{name}: not a list of reports")
        got = _get_reports(spec, arrays, n_far)
        if any(u is None for u in got):
            raise StateError(f"state far_ahead.{name}: a report is missing")
        lists.append(list(got))
    engine._far.held, engine._far.set_aside = lists
    engine._far.n_held, engine._far.n_released, engine._far.n_set_aside = counts

