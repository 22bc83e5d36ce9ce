"""The generic track formats: JSON Lines (``tracks-jsonl``) and CSV (``tracks-csv``).

For any source without a decoder of its own, and for closewatch's own normalised
tracks read back from Kafka (the ``closewatch.tracks.v1`` value, schema
``alerts/schemas/track.v1.json``, is a valid ``tracks-jsonl`` line). Field names are
those of :class:`config.records.TrackUpdate` (documented in docs/feeds.md):

* required: ``track_id`` (namespaced ``ais:``/``icao:``/``cot:``/``ext:``; a bare id
  becomes ``ext:<id>``), ``lat_deg``, ``lon_deg``, ``domain`` (air/sea/land), and the
  time as ``t_s`` (UTC epoch seconds) or ``time`` (ISO 8601 with a zone);
* optional: ``alt_m``, ``alt_ref`` (``baro``/``geom``: what ``alt_m`` is), ``alt_geom_m``
  (height above the WGS 84 ellipsoid), ``speed_mps``, ``course_deg``, ``heading_deg``,
  ``vrate_mps``, ``side``, ``country``, ``callsign``, ``name``, ``type_code``,
  ``receiver``, ``category`` and ``category_source``, ``nav_status``, ``on_ground``,
  and the position quality (:class:`config.records.PositionQuality`) as the object
  ``quality`` (JSON Lines, as the Kafka value has it) or its members by name,
  ``accuracy_high``, ``raim``, ``adsb_version``, ``nic``, ``nac_p``, ``nac_v``, ``sil``,
  ``gva``, ``nuc_p``, ``gnss_ok_before_s`` (both formats); booleans ``true``/``false``,
  in CSV also ``1``/``0``; unknown
  members are ignored (forward compatibility), ``null`` or an empty CSV cell is None.

What is refused, and how much of the record it costs (docs/feeds.md):

* a required field missing, of the wrong JSON type, not finite or out of range: the
  whole record is a dead letter;
* an optional field of the wrong JSON type, out of range (a course of -121, a ``nic`` of
  12, a ``category`` not of :data:`config.records.CATEGORIES`), or a text longer than
  :data:`config.records.MAX_TEXT_CHARS`: that field (one member of ``quality``) is
  dropped, the report kept, and a dead letter ``bad field`` names it (as AIS does for a
  bad heading);
* JSON: numbers must be JSON numbers and texts JSON strings (a ``track_id`` of
  ``["a"]`` is refused, not turned into text); CSV cells are all text.

``source`` and ``raw_ref`` are set by closewatch (feed name, feed:line). Side: the
configured lists and callsign patterns first, then the ``side`` given in the record,
then the MID/ICAO tables for ``ais:``/``icao:`` ids, judged at the record's time;
``country`` as given, else from the tables. Category: the configured lists and patterns
first, then the ``category`` given in the record (with its ``category_source``, else
``feed``), then the tables (:class:`config.classification.Classifier`). CSV: the first
non-blank line is the header; a cell may be quoted but may not hold a line break.
"""

from __future__ import annotations

import csv
from typing import Any, Callable, Iterable, Iterator, Union

from config.classification import Decision
from config.records import (
    ALT_REFS,
    CATEGORIES,
    DOMAINS,
    MAX_ID_CHARS,
    MAX_TEXT_CHARS,
    SIDES,
    TRACK_BOUNDS,
    DeadLetter,
    PositionQuality,
    RecordError,
    Side,
    TrackUpdate,
    position_quality,
)
from ingest._common import (
    NO_TIME_HINT,
    DecoderBase,
    Rejected,
    bad_field,
    iso_epoch_s,
    json_number,
    json_text,
    load_json,
    oversized,
    plausible_epoch,
    shown,
)

__all__ = ["TRACK_FIELDS", "TracksCsvDecoder", "TracksJsonlDecoder"]

Item = Union[TrackUpdate, DeadLetter]

_FLOATS = ("alt_m", "alt_geom_m", "speed_mps", "course_deg", "heading_deg", "vrate_mps")
_TEXTS = ("alt_ref", "country", "callsign", "name", "type_code", "receiver")
_QUALITY_FLAGS = ("accuracy_high", "raim")
_QUALITY = ("accuracy_high", "raim", "adsb_version", "nic", "nac_p", "nac_v", "sil", "gva", "nuc_p", "gnss_ok_before_s")
TRACK_FIELDS = ("track_id", "t_s", "time", "lat_deg", "lon_deg", "domain", "side", *_FLOATS, *_TEXTS,
                "category", "category_source", "nav_status", "on_ground", "quality", *_QUALITY)
_FLAG_TEXTS = {"true": True, "false": False, "1": True, "0": False}  # CSV cells


class _TrackRecords(DecoderBase):
    """Record -> TrackUpdate, shared by the JSON Lines and CSV decoders."""

    framing = "lines"
    # CSV cells are text: numbers are read from text there, and only there.
    _numbers_from_text = False

    def _number(self, rec: dict[str, Any], key: str) -> float | None:
        """A number, or None when absent (raises :class:`Rejected`)."""
        v = rec.get(key)
        if v is None or v == "":
            return None
        return json_number(v, key, from_text=self._numbers_from_text)

    @staticmethod
    def _text(rec: dict[str, Any], key: str, limit: int = MAX_TEXT_CHARS) -> str | None:
        """A text, or None when absent or blank (raises :class:`Rejected`)."""
        return json_text(rec.get(key), key, limit)

    def _code(self, rec: dict[str, Any], key: str) -> int | None:
        """A coded indicator (``nic``, ``nav_status``...): a whole number, or None when absent
        (raises :class:`Rejected`); its range is the record's."""
        f = self._number(rec, key)
        if f is None:
            return None
        if f != int(f):
            raise Rejected(f"malformed record: {key}={shown(rec[key])} is not a whole number")
        return int(f)

    def _flag(self, rec: dict[str, Any], key: str) -> bool | None:
        """A JSON boolean (in CSV the text ``true``, ``false``, ``1`` or ``0``), or None when
        absent (raises :class:`Rejected`)."""
        v = rec.get(key)
        if v is None or v == "":
            return None
        if v is True or v is False:
            return v
        flag = _FLAG_TEXTS.get(v.strip().lower()) if self._numbers_from_text and isinstance(v, str) else None
        if flag is None:
            raise Rejected(f"malformed record: {key}={shown(v)} is not true or false")
        return flag

    @staticmethod
    def _optional(dropped: list[str], parse: Callable[[dict[str, Any], str], Any], rec: dict[str, Any], key: str) -> Any:
        """``parse(rec, key)``, or None with a ``bad field`` reason added to ``dropped``."""
        try:
            return parse(rec, key)
        except Rejected as e:
            dropped.append(_bad_field(e))
            return None

    def _quality(self, rec: dict[str, Any], dropped: list[str]) -> PositionQuality | None:
        """The position quality of a record: its ``quality`` object, or the members by name.
        A member of the wrong type or out of its range is dropped (a ``bad field``), the
        others kept."""
        nested = rec.get("quality")
        if nested is not None and not isinstance(nested, dict):
            dropped.append(bad_field(f"quality={shown(nested)} is not an object"))
            return None
        q = nested if nested is not None else rec
        values: dict[str, Any] = {}
        for key in _QUALITY:
            if q.get(key) is None:
                continue
            parse = self._flag if key in _QUALITY_FLAGS else self._number if key == "gnss_ok_before_s" else self._code
            v = self._optional(dropped, parse, q, key)
            if v is None:
                continue
            try:
                position_quality(**{key: v})  # the record's range of this member (cached)
            except RecordError as e:
                dropped.append(bad_field(str(e)))
                continue
            values[key] = v
        return position_quality(**values) if values else None

    def _required(self, rec: dict[str, Any], key: str) -> float:
        v = self._number(rec, key)
        if v is None:
            raise Rejected(f"malformed record: no {key}")
        return v

    def _update(self, rec: dict[str, Any], pos: int, dropped: list[str]) -> TrackUpdate:
        """The report of one record; the optional fields it had to drop are added to
        ``dropped`` (as ``bad field`` reasons)."""
        track_id = self._text(rec, "track_id", MAX_ID_CHARS)
        if not track_id:
            raise Rejected("malformed record: no track_id")
        if ":" not in track_id:
            track_id = "ext:" + track_id
            if len(track_id) > MAX_ID_CHARS:
                raise Rejected(f"malformed record: track_id has more than {MAX_ID_CHARS} characters with ext:")
        if rec.get("t_s") not in (None, ""):
            t_s = self._required(rec, "t_s")
            if not plausible_epoch(t_s):
                raise Rejected(f"impossible timestamp: t_s={t_s} is outside 1990-2099")
        elif rec.get("time") not in (None, ""):
            time_text = rec["time"]
            if not isinstance(time_text, str):
                raise Rejected(f"unparseable timestamp: time is {shown(time_text)}, not an ISO 8601 string")
            try:
                t_s = iso_epoch_s(time_text, "time")
            except ValueError as e:
                raise Rejected(str(e)) from None
        elif self.clock is not None:
            t_s = self.clock()
        else:
            raise Rejected(f"no timestamp: the record has no t_s or time; {NO_TIME_HINT}")
        lat = self._required(rec, "lat_deg")
        lon = self._required(rec, "lon_deg")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise Rejected(f"impossible value: lat_deg={lat}, lon_deg={lon}")
        domain = self._text(rec, "domain")
        if domain not in DOMAINS:
            raise Rejected(f"malformed record: domain {shown(domain)} is not one of {DOMAINS}")

        def optional_text(key: str) -> str | None:
            return self._optional(dropped, self._text, rec, key)  # type: ignore[no-any-return]

        given = optional_text("side")
        if given is not None and given not in SIDES:
            dropped.append(bad_field(f"side={shown(given)} is not one of {SIDES}"))
            given = None
        asserted: Side | None = None if given in (None, "unknown") else given  # type: ignore[assignment]
        callsign = optional_text("callsign")
        name, type_code = optional_text("name"), optional_text("type_code")
        category = optional_text("category")
        if category is not None and category not in CATEGORIES:
            dropped.append(bad_field(f"category={shown(category)} is not one of {CATEGORIES}"))
            category = None
        category_source = optional_text("category_source")
        claimed: Decision | None = None
        if category is not None and category != "unknown":
            claimed = (category, category_source or "feed")  # type: ignore[assignment]
        scheme, _, ident = track_id.partition(":")
        country: str | None
        classifier = self.classifier
        if scheme == "ais" and ident.isdigit() and len(ident) <= 9:
            country, side = self.affiliation.for_mmsi(int(ident), callsign, asserted, t_s)
            decided = classifier.ais(int(ident), type_code, name, callsign, claimed)
        elif scheme == "icao":
            country, side = self.affiliation.for_icao(ident, callsign, asserted, t_s)
            decided = classifier.aircraft(ident.strip().lower(), callsign, type_code, None, claimed)
        else:
            country, side = None, self.affiliation.for_other(callsign, asserted)
            decided = classifier.other(callsign, name, type_code, claimed)
        country = optional_text("country") or country
        numbers: dict[str, float | None] = {}
        for key in _FLOATS:
            try:
                v = self._number(rec, key)
            except Rejected as e:
                dropped.append(_bad_field(e))
                v = None
            if v is not None:
                low, high = TRACK_BOUNDS[key]
                if not low <= v <= high:
                    dropped.append(bad_field(f"{key}={v!r} is outside [{low:g}, {high:g}]"))
                    v = None
            numbers[key] = v
        alt_ref = optional_text("alt_ref")
        if alt_ref is not None and (alt_ref not in ALT_REFS or numbers["alt_m"] is None):
            why = f"is not one of {ALT_REFS}" if alt_ref not in ALT_REFS else "without an alt_m"
            dropped.append(bad_field(f"alt_ref={shown(alt_ref)} {why}"))
            alt_ref = None
        nav_status = self._optional(dropped, self._code, rec, "nav_status")
        if nav_status is not None and not 0 <= nav_status <= 14:  # TrackUpdate's range (Table 45)
            dropped.append(bad_field(f"nav_status={nav_status} is outside [0, 14]"))
            nav_status = None
        on_ground = self._optional(dropped, self._flag, rec, "on_ground")
        try:
            return TrackUpdate(
                track_id=track_id,
                source=self.feed,
                t_s=t_s,
                lat_deg=lat,
                lon_deg=lon,
                domain=domain,  # type: ignore[arg-type]
                side=side,
                alt_m=numbers["alt_m"],
                alt_ref=alt_ref,  # type: ignore[arg-type]  # one of ALT_REFS, checked above
                alt_geom_m=numbers["alt_geom_m"],
                speed_mps=numbers["speed_mps"],
                course_deg=numbers["course_deg"],
                heading_deg=numbers["heading_deg"],
                vrate_mps=numbers["vrate_mps"],
                country=country,
                callsign=callsign,
                name=name,
                type_code=type_code,
                receiver=optional_text("receiver"),
                raw_ref=f"{self.ref_prefix}{pos}",
                category=decided[0],
                category_source=decided[1],
                nav_status=nav_status,
                on_ground=on_ground,
                quality=self._quality(rec, dropped),
            )
        except RecordError as e:
            raise Rejected(f"impossible value: {e}") from e

    def decode(self, lines: Iterable[bytes], *, final: bool = True) -> Iterator[Item]:
        max_line = self.limits.max_line_bytes
        for raw in lines:
            self.position += 1
            self.stats.lines += 1
            if len(raw) > max_line:
                yield self.stats.dead_letter(self.position, raw[:max_line], oversized(max_line, "line", "max_line_bytes"))
                continue
            if not raw.strip():
                self.stats.ignored["blank line"] += 1
                continue
            dropped: list[str] = []
            try:
                rec = self._record(raw)
                if rec is None:
                    continue
                update = self._update(rec, self.position, dropped)
            except Rejected as e:
                yield self.stats.dead_letter(self.position, raw, str(e))
                continue
            for reason in dropped:
                yield self.stats.dead_letter(self.position, raw, reason)
            self.stats.messages += 1
            self.stats.updates += 1
            yield update

    def _record(self, raw: bytes) -> dict[str, Any] | None:
        """The fields of one line (``None``: a line that holds no record, such as a header)."""
        raise NotImplementedError


def _bad_field(e: Rejected) -> str:
    """A record-level reason about an optional field, as a ``bad field`` reason."""
    return bad_field(str(e).partition(": ")[2])


class TracksJsonlDecoder(_TrackRecords):
    """One JSON object per line."""

    def _record(self, raw: bytes) -> dict[str, Any] | None:
        rec = load_json(raw, self.limits, "line")
        if not isinstance(rec, dict):
            raise Rejected("malformed line: not a JSON object")
        return rec


class TracksCsvDecoder(_TrackRecords):
    """A header line, then one track update per line."""

    _numbers_from_text = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header: list[str] | None = None

    def _record(self, raw: bytes) -> dict[str, Any] | None:
        try:
            row = next(csv.reader([raw.decode("utf-8")]))
        except (csv.Error, UnicodeDecodeError, StopIteration) as e:
            raise Rejected(f"malformed line: {str(e)[:80]}") from None
        if self._header is None:
            header = [c.strip() for c in row]
            missing = {"track_id", "lat_deg", "lon_deg", "domain"} - set(header)
            if missing or not ({"t_s", "time"} & set(header) or self.clock is not None):
                need = sorted(missing) if missing else f"t_s or time (or {NO_TIME_HINT})"
                raise Rejected(f"malformed header: missing {need}")
            self._header = header
            self.stats.ignored["header"] += 1
            return None
        if len(row) != len(self._header):
            raise Rejected(f"malformed line: {len(row)} cells, the header has {len(self._header)}")
        return dict(zip(self._header, row))
