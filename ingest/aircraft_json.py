"""readsb / dump1090 ``aircraft.json`` snapshots (and readsb ``trace_full`` files) to TrackUpdates.

Each input unit is one whole JSON document (a file's content, an HTTP response body):

* **dump1090** (``README-json.md`` of dump1090-mutability / dump1090-fa): ``now`` (epoch
  s), ``aircraft[]`` with ``hex``, ``flight``, ``lat``, ``lon``, ``altitude`` (ft or
  ``"ground"``), ``speed`` (kn), ``track`` (deg), ``vert_rate`` (ft/min), ``seen_pos``
  (s since the position was received), ``squawk``, ``category``.
* **readsb** (``README-json.md`` of readsb): ``now``, ``aircraft[]`` with ``hex`` (``~``
  prefix: not an ICAO address), ``flight``, ``alt_baro`` (ft or ``"ground"``),
  ``alt_geom``, ``gs`` (kn), ``track``, ``true_heading``, ``baro_rate``/``geom_rate``
  (ft/min), ``lat``, ``lon``, ``seen_pos``, ``r`` (registration), ``t`` (ICAO type
  designator), ``dbFlags``.
* **readsb trace_full** (tar1090 history): ``icao``, ``r``, ``t``, ``timestamp`` and
  ``trace[]`` rows ``[dt_s, lat, lon, alt_ft|"ground"|null, gs_kn, track_deg, flags,
  vrate_fpm, details|null, source, alt_geom_ft, ...]``.

The time of a position is ``now - seen_pos`` (``timestamp + dt`` in a trace). An aircraft
whose position is not newer than the one already emitted (the same position seen again in
the next poll) yields nothing. A document without ``now`` takes the decoder's clock (see
docs/feeds.md); without a clock its aircraft are dead letters ("no timestamp").
Altitudes: ``alt_baro`` (dump1090 ``altitude``, trace column 3) is the barometric
pressure altitude and becomes ``alt_m`` (``alt_ref = "baro"``); ``"ground"`` means on the
ground and gives ``alt_m = None``. ``alt_geom`` (trace column 10), "geometric (GNSS /
INS) altitude referenced to the WGS84 ellipsoid" in readsb's words, becomes
``alt_geom_m``, and ``alt_m`` (``"geom"``) when there is no barometric altitude at all.
Registration goes to ``name``, the type designator to ``type_code``.

Who and how good (readsb ``README-json.md``, dump1090 ``README-json.md``): ``category``
from :class:`config.classification.Classifier` with readsb's ``dbFlags`` (bit 0: military,
from the receiver's aircraft database; a trace file carries it at the top level), the
address, the callsign and ``t``; ``on_ground`` is ``True`` for ``"ground"``, ``False`` for
a numeric altitude, ``None`` without one; the position-quality categories ``version``
(ADS-B version), ``nic``, ``nac_p``, ``nac_v``, ``sil``, ``gva`` and dump1090's ``nucp``
(version 0), and ``gpsOkBefore`` (set by readsb while an aircraft's GNSS position is
degraded: the time it was last good) become the report's ``quality``
(:class:`config.records.PositionQuality`: ``adsb_version``, ``nic``, ``nac_p``,
``nac_v``, ``sil``, ``gva``, ``nuc_p``, ``gnss_ok_before_s``). In a trace row they come
from its details object (column 9) when the row has one, and hold for the rows after it.

Hostile input: a document longer than ``max_document_bytes`` or nested deeper than
``max_json_depth`` is refused before it is parsed; an aircraft (or trace row) without a
usable address, position or time is a dead letter; an optional value that is not a
number, not finite, out of range (an ``alt_baro`` of 10^400, a ``nic`` of 12, a
``dbFlags`` that is not a bit field) or a text longer than
:data:`config.records.MAX_TEXT_CHARS` is dropped and named in a ``bad field`` dead letter,
the rest of the report kept.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Iterator, Union

from config.records import DeadLetter, TrackUpdate
from ingest._aircraft import AircraftState
from ingest._common import (
    EPOCH_MAX_S,
    EPOCH_MIN_S,
    NO_TIME_HINT,
    DecoderBase,
    Rejected,
    bad_field,
    json_number,
    json_text,
    load_json,
    oversized,
    plausible_epoch,
    shown,
)

__all__ = ["AircraftJsonDecoder"]

Item = Union[TrackUpdate, DeadLetter]

_HEX = frozenset("0123456789abcdef")


def _num(v: Any, key: str, low: float, high: float) -> float | None:
    if v is None:
        return None
    f = json_number(v, key)
    if not low <= f <= high:
        raise Rejected(f"impossible value: {key}={shown(v)} is outside [{low:g}, {high:g}]")
    return f


def _alt_ft(v: Any, key: str) -> float | None:
    return _num(v, key, -1500.0, 130_000.0)


def _optional(dropped: list[str], parse: Callable[..., Any], *args: Any) -> Any:
    """``parse(*args)``, or None with a ``bad field`` reason added to ``dropped``."""
    try:
        return parse(*args)
    except Rejected as e:
        dropped.append(bad_field(str(e).partition(": ")[2]))
        return None


def _altitudes(a: AircraftState, baro: Any, baro_key: str, geom: Any, geom_key: str, dropped: list[str]) -> None:
    """Barometric altitude (ft, or ``"ground"``) and geometric height (ft) into ``a``."""
    if baro == "ground":
        a.on_ground, a.alt_ft = True, None
    else:  # airborne when it gives a usable altitude; not said without one
        a.alt_ft = _optional(dropped, _alt_ft, baro, baro_key)
        a.on_ground = None if a.alt_ft is None else False
    a.alt_geom_ft = _optional(dropped, _alt_ft, geom, geom_key)


# Position-quality members (readsb README-json.md) -> (AircraftState attribute, highest code).
_QUALITY = (("version", "adsb_version", 7), ("nic", "nic", 11), ("nac_p", "nac_p", 11), ("nac_v", "nac_v", 4),
            ("sil", "sil", 3), ("gva", "gva", 3), ("nucp", "nuc_p", 9))


def _code(v: Any, key: str, high: int) -> int | None:
    """A coded category 0..``high`` (a JSON number with no fraction), or None for null."""
    if v is None:
        return None
    f = json_number(v, key)
    if f != int(f):
        raise Rejected(f"malformed record: {key}={shown(v)} is not a whole number")
    if not 0 <= f <= high:
        raise Rejected(f"impossible value: {key}={shown(v)} is outside [0, {high}]")
    return int(f)


def _quality(a: AircraftState, e: dict[str, Any], dropped: list[str]) -> None:
    """The position-quality members of an entry (or a trace row's details) into ``a``; a bad
    one is dropped (``None``) with a ``bad field`` reason in ``dropped``."""
    changed = False
    for key, attr, high in _QUALITY:
        v = e.get(key)
        if v is not None:
            setattr(a, attr, _optional(dropped, _code, v, key, high))
            changed = True
    ok = e.get("gpsOkBefore")
    if ok is not None:
        a.gnss_ok_before_s = _optional(dropped, _num, ok, "gpsOkBefore", EPOCH_MIN_S, EPOCH_MAX_S)
        changed = True
    if changed:
        a.quality_changed()


def _db_flags(v: Any) -> int | None:
    """readsb's ``dbFlags``, a bit field (a non-negative JSON integer), or None for null."""
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise Rejected(f"malformed record: dbFlags={shown(v)} is not a bit field")
    return v


class AircraftJsonDecoder(DecoderBase):
    """Decode aircraft.json documents of one feed (state: last position time per aircraft)."""

    framing = "documents"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_t: dict[str, float] = {}

    def decode(self, units: Iterable[bytes], *, final: bool = True) -> Iterator[Item]:
        for raw in units:
            self.position += 1
            self.stats.lines += 1
            pos = self.position
            cap = self.limits.max_document_bytes
            if len(raw) > cap:
                yield self.stats.dead_letter(pos, raw[:cap], oversized(cap, "document", "max_document_bytes"))
                continue
            try:
                doc = load_json(raw, self.limits, "document")
            except Rejected as e:
                yield self.stats.dead_letter(pos, raw, str(e))
                continue
            try:
                if isinstance(doc, dict) and isinstance(doc.get("aircraft"), list):
                    yield from self._snapshot(doc, pos)
                elif isinstance(doc, dict) and isinstance(doc.get("trace"), list):
                    yield from self._trace(doc, pos)
                else:
                    raise Rejected("malformed document: no aircraft[] or trace[]")
            except Rejected as e:  # the document as a whole (its time, its address)
                yield self.stats.dead_letter(pos, raw, str(e))

    def _doc_time(self, doc: dict[str, Any], key: str) -> float:
        now = doc.get(key)
        if now is None:
            if self.clock is not None:
                return self.clock()
            raise Rejected(f"no timestamp: the document has no '{key}'; {NO_TIME_HINT}")
        try:
            t = json_number(now, key)
        except Rejected as e:
            raise Rejected(f"unparseable timestamp: {str(e).partition(': ')[2]}") from None
        if not plausible_epoch(t):
            raise Rejected(f"impossible timestamp: {key}={shown(now)} is outside 1990-2099")
        return t

    def _snapshot(self, doc: dict[str, Any], pos: int) -> Iterator[Item]:
        now = self._doc_time(doc, "now")
        for i, entry in enumerate(doc["aircraft"], start=1):
            if not isinstance(entry, dict):
                yield self.stats.dead_letter(pos, json.dumps(entry).encode(), f"malformed record: aircraft #{i} is not an object")
                continue
            dropped: list[str] = []
            try:
                update = self._aircraft(entry, now, pos, dropped)
            except Rejected as e:
                yield self.stats.dead_letter(pos, json.dumps(entry).encode(), f"{e} (aircraft #{i})")
                continue
            for reason in dropped:
                yield self.stats.dead_letter(pos, json.dumps(entry).encode(), f"{reason} (aircraft #{i})")
            if update is not None:
                yield update

    def _address(self, hex_value: Any) -> str:
        if not isinstance(hex_value, str):
            raise Rejected(f"malformed record: hex {hex_value!r}")
        h = hex_value.strip().lower()
        core = h[1:] if h.startswith("~") else h
        if len(core) != 6 or not _HEX.issuperset(core):
            raise Rejected(f"malformed record: hex {hex_value!r} is not a 24-bit address")
        return h

    def _emit(
        self, a: AircraftState, t_s: float, lat: float, lon: float, pos: int, registration: str | None,
        type_code: str | None, db_flags: int | None = None,
    ) -> TrackUpdate | None:
        last = self._last_t.get(a.address)
        if last is not None and t_s <= last + 1e-3:
            self.stats.ignored["position already seen"] += 1
            return None
        self._last_t[a.address] = t_s
        if a.address.startswith("~"):
            country, side = None, self.affiliation.for_other(a.callsign)
        else:
            country, side = self.affiliation.for_icao(a.address, a.callsign, None, t_s)
        category, source = self.classifier.aircraft(a.address, a.callsign, type_code, db_flags)
        update = a.report(self.feed, t_s, lat, lon, side, country, f"{self.ref_prefix}{pos}", registration,
                          type_code, category, source)
        self.stats.updates += 1
        return update

    def _aircraft(self, e: dict[str, Any], now: float, pos: int, dropped: list[str]) -> TrackUpdate | None:
        a = AircraftState(self._address(e.get("hex")))
        self.stats.messages += 1
        lat = _num(e.get("lat"), "lat", -90.0, 90.0)
        lon = _num(e.get("lon"), "lon", -180.0, 180.0)
        if lat is None or lon is None:
            self.stats.ignored["no position"] += 1
            return None
        seen_pos = _num(e.get("seen_pos"), "seen_pos", 0.0, 86_400.0) or 0.0
        baro_key = "alt_baro" if "alt_baro" in e else "altitude"
        _altitudes(a, e.get(baro_key), baro_key, e.get("alt_geom"), "alt_geom", dropped)
        gs_key = "gs" if "gs" in e else "speed"
        a.gs_kn = _optional(dropped, _num, e.get(gs_key), gs_key, 0.0, 2000.0)
        a.track_deg = _optional(dropped, _num, e.get("track"), "track", 0.0, 360.0)
        a.heading_deg = _optional(dropped, _num, e.get("true_heading"), "true_heading", 0.0, 360.0)
        for key in ("baro_rate", "geom_rate", "vert_rate"):
            a.vrate_fpm = _optional(dropped, _num, e.get(key), key, -100_000.0, 100_000.0)
            if a.vrate_fpm is not None:
                break
        a.callsign = _optional(dropped, json_text, e.get("flight"), "flight")
        registration = _optional(dropped, json_text, e.get("r"), "r")
        type_code = _optional(dropped, json_text, e.get("t"), "t")
        _quality(a, e, dropped)
        db_flags = _optional(dropped, _db_flags, e.get("dbFlags"))
        return self._emit(a, now - seen_pos, lat, lon, pos, registration, type_code, db_flags)

    def _trace(self, doc: dict[str, Any], pos: int) -> Iterator[Item]:
        t0 = self._doc_time(doc, "timestamp")
        address = self._address(doc.get("icao"))
        trace_dropped: list[str] = []
        registration = _optional(trace_dropped, json_text, doc.get("r"), "r")
        type_code = _optional(trace_dropped, json_text, doc.get("t"), "t")
        db_flags = _optional(trace_dropped, _db_flags, doc.get("dbFlags"))
        if trace_dropped:
            head = json.dumps({k: doc.get(k) for k in ("r", "t", "dbFlags")}).encode()[:1024]
            for reason in trace_dropped:
                yield self.stats.dead_letter(pos, head, reason)
        a = AircraftState(address)  # each row says all it knows: its values replace the last row's
        for i, row in enumerate(doc["trace"], start=1):
            if not isinstance(row, list) or len(row) < 8:
                yield self.stats.dead_letter(pos, json.dumps(row).encode(), f"malformed record: trace row #{i}")
                continue
            dropped: list[str] = []
            try:
                dt = _num(row[0], "dt", 0.0, 10 * 86_400.0)
                lat = _num(row[1], "lat", -90.0, 90.0)
                lon = _num(row[2], "lon", -180.0, 180.0)
                _altitudes(a, row[3], "alt", row[10] if len(row) > 10 else None, "alt_geom", dropped)
                a.gs_kn = _optional(dropped, _num, row[4], "gs", 0.0, 2000.0)
                a.track_deg = _optional(dropped, _num, row[5], "track", 0.0, 360.0)
                a.vrate_fpm = _optional(dropped, _num, row[7], "vrate", -100_000.0, 100_000.0)
                details = row[8] if len(row) > 8 else None
                if isinstance(details, dict):
                    flight = _optional(dropped, json_text, details.get("flight"), "flight")
                    if flight:
                        a.callsign = flight
                    _quality(a, details, dropped)
                self.stats.messages += 1
                if dt is None or lat is None or lon is None:
                    self.stats.ignored["no position"] += 1
                    continue
                update = self._emit(a, t0 + dt, lat, lon, pos, registration, type_code, db_flags)
            except Rejected as e:
                yield self.stats.dead_letter(pos, json.dumps(row).encode(), f"{e} (trace row #{i})")
                continue
            for reason in dropped:
                yield self.stats.dead_letter(pos, json.dumps(row).encode(), f"{reason} (trace row #{i})")
            if update is not None:
                yield update
