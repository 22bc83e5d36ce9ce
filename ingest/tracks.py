"""The generic track formats: JSON Lines (``tracks-jsonl``) and CSV (``tracks-csv``).

For any source without a decoder of its own, and for closewatch's own normalised
tracks read back from Kafka (the ``closewatch.tracks.v1`` value, schema
``alerts/schemas/track.v1.json``, is a valid ``tracks-jsonl`` line). Field names are
those of :class:`config.records.TrackUpdate` (documented in docs/feeds.md):

* required: ``track_id`` (namespaced ``ais:``/``icao:``/``cot:``/``ext:``; a bare id
  becomes ``ext:<id>``), ``lat_deg``, ``lon_deg``, ``domain`` (air/sea/land), and the
  time as ``t_s`` (UTC epoch seconds) or ``time`` (ISO 8601 with a zone);
* optional: ``alt_m``, ``speed_mps``, ``course_deg``, ``heading_deg``, ``vrate_mps``,
  ``side``, ``country``, ``callsign``, ``name``, ``type_code``, ``receiver``; unknown
  members are ignored (forward compatibility), ``null`` or an empty CSV cell is None.

``source`` and ``raw_ref`` are set by closewatch (feed name, feed:line). Side: the
configured lists and callsign patterns first, then the ``side`` given in the record,
then the MID/ICAO tables for ``ais:``/``icao:`` ids; ``country`` as given, else from the
tables. CSV: the first non-blank line is the header; a cell may be quoted but may not
hold a line break.
"""

from __future__ import annotations

import csv
import json
import math
from typing import Any, Iterable, Iterator, Union

from config.records import DOMAINS, SIDES, DeadLetter, RecordError, Side, TrackUpdate
from ingest._common import DecoderBase, iso_epoch_s, plausible_epoch

__all__ = ["TRACK_FIELDS", "TracksCsvDecoder", "TracksJsonlDecoder"]

Item = Union[TrackUpdate, DeadLetter]

_FLOATS = ("alt_m", "speed_mps", "course_deg", "heading_deg", "vrate_mps")
_TEXTS = ("country", "callsign", "name", "type_code", "receiver")
TRACK_FIELDS = ("track_id", "t_s", "time", "lat_deg", "lon_deg", "domain", "side", *_FLOATS, *_TEXTS)


class _Bad(ValueError):
    pass


def _number(rec: dict[str, Any], key: str, required: bool = False) -> float | None:
    v = rec.get(key)
    if v is None or v == "":
        if required:
            raise _Bad(f"malformed record: no {key}")
        return None
    if isinstance(v, bool):
        raise _Bad(f"malformed record: {key}={v!r} is not a number")
    try:
        f = float(v)
    except (TypeError, ValueError) as e:
        raise _Bad(f"malformed record: {key}={str(v)[:30]!r} is not a number") from e
    if not math.isfinite(f):
        raise _Bad(f"impossible value: {key}={v!r}")
    return f


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
            raise _Bad("malformed record: no track_id")
        if ":" not in track_id:
            track_id = "ext:" + track_id
        if rec.get("t_s") not in (None, ""):
            t_s = _number(rec, "t_s")
        elif rec.get("time") not in (None, ""):
            try:
                t_s = iso_epoch_s(str(rec["time"]), "time")
            except ValueError as e:
                raise _Bad(str(e)) from None
        elif self.clock is not None:
            t_s = self.clock()
        else:
            raise _Bad("no timestamp: no t_s or time and no clock")
        assert t_s is not None
        if not plausible_epoch(t_s):
            raise _Bad(f"impossible timestamp: {t_s}")
        lat = _number(rec, "lat_deg", True)
        lon = _number(rec, "lon_deg", True)
        assert lat is not None and lon is not None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise _Bad(f"impossible value: lat {lat}, lon {lon}")
        domain = _text(rec, "domain")
        if domain not in DOMAINS:
            raise _Bad(f"malformed record: domain {domain!r} is not one of {DOMAINS}")
        given = _text(rec, "side")
        if given is not None and given not in SIDES:
            raise _Bad(f"malformed record: side {given!r} is not one of {SIDES}")
        asserted: Side | None = None if given in (None, "unknown") else given  # type: ignore[assignment]
        callsign = _text(rec, "callsign")
        scheme, _, ident = track_id.partition(":")
        country: str | None
        if scheme == "ais" and ident.isdigit():
            country, side = self.affiliation.for_mmsi(int(ident), callsign, asserted)
        elif scheme == "icao":
            country, side = self.affiliation.for_icao(ident, callsign, asserted)
        else:
            country, side = None, self.affiliation.for_other(callsign, asserted)
        country = _text(rec, "country") or country
        alt, speed, course, heading, vrate = (_number(rec, k) for k in _FLOATS)
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
                speed_mps=speed,
                course_deg=course,
                heading_deg=heading,
                vrate_mps=vrate,
                country=country,
                callsign=callsign,
                name=_text(rec, "name"),
                type_code=_text(rec, "type_code"),
                receiver=_text(rec, "receiver"),
                raw_ref=f"{self.feed}:{pos}",
            )
        except RecordError as e:
            raise _Bad(f"impossible value: {e}") from e

    def _one(self, rec: dict[str, Any], pos: int, raw: bytes) -> Item:
        try:
            update = self._update(rec, pos)
        except _Bad as e:
            return self.stats.dead_letter(pos, raw, str(e))
        self.stats.messages += 1
        self.stats.updates += 1
        return update


class TracksJsonlDecoder(_TrackRecords):
    """One JSON object per line."""

    def decode(self, lines: Iterable[bytes], *, final: bool = True) -> Iterator[Item]:
        for raw in lines:
            self.position += 1
            self.stats.lines += 1
            if not raw.strip():
                self.stats.ignored["blank line"] += 1
                continue
            try:
                rec = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as e:
                yield self.stats.dead_letter(self.position, raw, f"malformed line: not JSON: {e}")
                continue
            if not isinstance(rec, dict):
                yield self.stats.dead_letter(self.position, raw, "malformed line: not a JSON object")
                continue
            yield self._one(rec, self.position, raw)


class TracksCsvDecoder(_TrackRecords):
    """A header line, then one track update per line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header: list[str] | None = None

    def decode(self, lines: Iterable[bytes], *, final: bool = True) -> Iterator[Item]:
        for raw in lines:
            self.position += 1
            self.stats.lines += 1
            if not raw.strip():
                self.stats.ignored["blank line"] += 1
                continue
            try:
                row = next(csv.reader([raw.decode("utf-8")]))
            except (csv.Error, UnicodeDecodeError, StopIteration) as e:
                yield self.stats.dead_letter(self.position, raw, f"malformed line: {e}")
                continue
            if self._header is None:
                header = [c.strip() for c in row]
                missing = {"track_id", "lat_deg", "lon_deg", "domain"} - set(header)
                if missing or not ({"t_s", "time"} & set(header) or self.clock is not None):
                    yield self.stats.dead_letter(
                        self.position, raw, f"malformed header: missing {sorted(missing) or 't_s or time'}"
                    )
                    continue
                self._header = header
                self.stats.ignored["header"] += 1
                continue
            if len(row) != len(self._header):
                yield self.stats.dead_letter(
                    self.position, raw, f"malformed line: {len(row)} cells, the header has {len(self._header)}"
                )
                continue
            yield self._one(dict(zip(self._header, row)), self.position, raw)
