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
import json
import math
from typing import Any, Iterable, Iterator, Union

from config.classification import Decision
from config.records import (
    ALT_REFS,
    CATEGORIES,
    DOMAINS,
    SIDES,
    DeadLetter,
    PositionQuality,
    RecordError,
    Side,
    TrackUpdate,
    position_quality,
)
from ingest._common import DecoderBase, Rejected, iso_epoch_s, plausible_epoch

__all__ = ["TRACK_FIELDS", "TracksCsvDecoder", "TracksJsonlDecoder"]

Item = Union[TrackUpdate, DeadLetter]

_FLOATS = ("alt_m", "alt_geom_m", "speed_mps", "course_deg", "heading_deg", "vrate_mps")
_TEXTS = ("alt_ref", "country", "callsign", "name", "type_code", "receiver")
_QUALITY = ("accuracy_high", "raim", "adsb_version", "nic", "nac_p", "nac_v", "sil", "gva", "nuc_p", "gnss_ok_before_s")
TRACK_FIELDS = ("track_id", "t_s", "time", "lat_deg", "lon_deg", "domain", "side", *_FLOATS, *_TEXTS,
                "category", "category_source", "nav_status", "on_ground", "quality", *_QUALITY)
_BOOLEANS = {True: True, False: False, "true": True, "false": False, "1": True, "0": False}


def _number(rec: dict[str, Any], key: str, required: bool = False) -> float | None:
    v = rec.get(key)
    if v is None or v == "":
        if required:
            raise Rejected(f"malformed record: no {key}")
        return None
    if isinstance(v, bool):
        raise Rejected(f"malformed record: {key}={v!r} is not a number")
    try:
        f = float(v)
    except (TypeError, ValueError) as e:
        raise Rejected(f"malformed record: {key}={str(v)[:30]!r} is not a number") from e
    if not math.isfinite(f):
        raise Rejected(f"impossible value: {key}={v!r}")
    return f


def _code(rec: dict[str, Any], key: str) -> int | None:
    """A coded indicator (``nic``, ``nav_status``...): a whole number; its range is the record's."""
    f = _number(rec, key)
    if f is None:
        return None
    if f != int(f):
        raise Rejected(f"malformed record: {key}={rec[key]!r} is not a whole number")
    return int(f)


def _flag(rec: dict[str, Any], key: str) -> bool | None:
    v = rec.get(key)
    if v is None or v == "":
        return None
    flag = _BOOLEANS.get(v.strip().lower() if isinstance(v, str) else v)
    if flag is None or (not isinstance(v, (bool, str))):
        raise Rejected(f"malformed record: {key}={str(v)[:30]!r} is not true or false")
    return flag


def _quality(rec: dict[str, Any]) -> PositionQuality | None:
    """The position quality of a record: its ``quality`` object, or the members by name."""
    nested = rec.get("quality")
    if nested is not None and not isinstance(nested, dict):
        raise Rejected(f"malformed record: quality={str(nested)[:30]!r} is not an object")
    q = nested if nested is not None else rec
    try:
        return position_quality(
            accuracy_high=_flag(q, "accuracy_high"), raim=_flag(q, "raim"), adsb_version=_code(q, "adsb_version"),
            nic=_code(q, "nic"), nac_p=_code(q, "nac_p"), nac_v=_code(q, "nac_v"), sil=_code(q, "sil"),
            gva=_code(q, "gva"), nuc_p=_code(q, "nuc_p"), gnss_ok_before_s=_number(q, "gnss_ok_before_s"),
        )
    except RecordError as e:
        raise Rejected(f"impossible value: {e}") from e


def _text(rec: dict[str, Any], key: str) -> str | None:
    v = rec.get(key)
    if v is None:
        return None
    s = str(v).strip()
    return s or None


class _TrackRecords(DecoderBase):
    """Record -> TrackUpdate, shared by the JSON Lines and CSV decoders."""

    framing = "lines"

    def _update(self, rec: dict[str, Any], pos: int) -> TrackUpdate:
        track_id = _text(rec, "track_id")
        if not track_id:
            raise Rejected("malformed record: no track_id")
        if ":" not in track_id:
            track_id = "ext:" + track_id
        if rec.get("t_s") not in (None, ""):
            t_s = _number(rec, "t_s")
        elif rec.get("time") not in (None, ""):
            try:
                t_s = iso_epoch_s(str(rec["time"]), "time")
            except ValueError as e:
                raise Rejected(str(e)) from None
        elif self.clock is not None:
            t_s = self.clock()
        else:
            raise Rejected("no timestamp: no t_s or time and no clock")
        assert t_s is not None
        if not plausible_epoch(t_s):
            raise Rejected(f"impossible timestamp: {t_s}")
        lat = _number(rec, "lat_deg", True)
        lon = _number(rec, "lon_deg", True)
        assert lat is not None and lon is not None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise Rejected(f"impossible value: lat {lat}, lon {lon}")
        domain = _text(rec, "domain")
        if domain not in DOMAINS:
            raise Rejected(f"malformed record: domain {domain!r} is not one of {DOMAINS}")
        given = _text(rec, "side")
        if given is not None and given not in SIDES:
            raise Rejected(f"malformed record: side {given!r} is not one of {SIDES}")
        asserted: Side | None = None if given in (None, "unknown") else given  # type: ignore[assignment]
        callsign = _text(rec, "callsign")
        name, type_code = _text(rec, "name"), _text(rec, "type_code")
        category = _text(rec, "category")
        if category is not None and category not in CATEGORIES:
            raise Rejected(f"malformed record: category {category!r} is not one of {CATEGORIES}")
        claimed: Decision | None = None
        if category is not None and category != "unknown":
            claimed = (category, _text(rec, "category_source") or "feed")  # type: ignore[assignment]
        scheme, _, ident = track_id.partition(":")
        country: str | None
        classifier = self.classifier
        if scheme == "ais" and ident.isdigit():
            country, side = self.affiliation.for_mmsi(int(ident), callsign, asserted, t_s)
            decided = classifier.ais(int(ident), type_code, name, callsign, claimed)
        elif scheme == "icao":
            country, side = self.affiliation.for_icao(ident, callsign, asserted, t_s)
            decided = classifier.aircraft(ident.strip().lower(), callsign, type_code, None, claimed)
        else:
            country, side = None, self.affiliation.for_other(callsign, asserted)
            decided = classifier.other(callsign, name, type_code, claimed)
        country = _text(rec, "country") or country
        alt, alt_geom, speed, course, heading, vrate = (_number(rec, k) for k in _FLOATS)
        alt_ref = _text(rec, "alt_ref")
        if alt_ref is not None and alt_ref not in ALT_REFS:
            raise Rejected(f"malformed record: alt_ref {alt_ref!r} is not one of {ALT_REFS}")
        try:
            return TrackUpdate(
                track_id=track_id,
                source=self.feed,
                t_s=t_s,
                lat_deg=lat,
                lon_deg=lon,
                domain=domain,  # type: ignore[arg-type]
                side=side,
                alt_m=alt,
                alt_ref=alt_ref,  # type: ignore[arg-type]  # one of ALT_REFS, checked above
                alt_geom_m=alt_geom,
                speed_mps=speed,
                course_deg=course,
                heading_deg=heading,
                vrate_mps=vrate,
                country=country,
                callsign=callsign,
                name=name,
                type_code=type_code,
                receiver=_text(rec, "receiver"),
                raw_ref=f"{self.feed}:{pos}",
                category=decided[0],
                category_source=decided[1],
                nav_status=_code(rec, "nav_status"),
                on_ground=_flag(rec, "on_ground"),
                quality=_quality(rec),
            )
        except RecordError as e:
            raise Rejected(f"impossible value: {e}") from e

    def decode(self, lines: Iterable[bytes], *, final: bool = True) -> Iterator[Item]:
        for raw in lines:
            self.position += 1
            self.stats.lines += 1
            if not raw.strip():
                self.stats.ignored["blank line"] += 1
                continue
            try:
                rec = self._record(raw)
                if rec is None:
                    continue
                update = self._update(rec, self.position)
            except Rejected as e:
                yield self.stats.dead_letter(self.position, raw, str(e))
                continue
            self.stats.messages += 1
            self.stats.updates += 1
            yield update

    def _record(self, raw: bytes) -> dict[str, Any] | None:
        """The fields of one line (``None``: a line that holds no record, such as a header)."""
        raise NotImplementedError


class TracksJsonlDecoder(_TrackRecords):
    """One JSON object per line."""

    def _record(self, raw: bytes) -> dict[str, Any] | None:
        try:
            rec = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise Rejected(f"malformed line: not JSON: {e}") from None
        if not isinstance(rec, dict):
            raise Rejected("malformed line: not a JSON object")
        return rec


class TracksCsvDecoder(_TrackRecords):
    """A header line, then one track update per line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header: list[str] | None = None

    def _record(self, raw: bytes) -> dict[str, Any] | None:
        try:
            row = next(csv.reader([raw.decode("utf-8")]))
        except (csv.Error, UnicodeDecodeError, StopIteration) as e:
            raise Rejected(f"malformed line: {e}") from None
        if self._header is None:
            header = [c.strip() for c in row]
            missing = {"track_id", "lat_deg", "lon_deg", "domain"} - set(header)
            if missing or not ({"t_s", "time"} & set(header) or self.clock is not None):
                raise Rejected(f"malformed header: missing {sorted(missing) or 't_s or time'}")
            self._header = header
            self.stats.ignored["header"] += 1
            return None
        if len(row) != len(self._header):
            raise Rejected(f"malformed line: {len(row)} cells, the header has {len(self._header)}")
        return dict(zip(self._header, row))
