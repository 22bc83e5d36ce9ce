"""Cursor on Target (CoT) XML events to TrackUpdates, parsed with defusedxml.

CoT event schema (MITRE "Cursor on Target Message Router User's Guide", event 2.0)::

    <event version="2.0" uid="..." type="a-f-A-M-F" how="m-g"
           time="2020-02-08T18:11:31.863Z" start="..." stale="...">
      <point lat="43.99" lon="-66.00" hae="36.0" ce="9999999.0" le="9999999.0"/>
      <detail><contact callsign="ISR2 2"/><track course="90.0" speed="12.5"/></detail>
    </event>

Input units are byte chunks of a stream (TCP segments, UDP datagrams, a file read in
chunks, Kafka records): events are cut out at ``</event>`` whatever the chunking, in time
linear in the stream (the buffer is scanned from where the last search stopped, never
from its start); bytes between events that are not whitespace or an XML declaration are
a dead letter. ``position`` counts events. An event longer than ``max_line_bytes`` is a
dead letter ("oversized input") and is skipped to its ``</event>`` without being held.

* Only atoms ``a-...`` (things that move: "atoms") are tracks; ``b-...`` (bits: chat,
  markers), ``t-...`` (tasking) and others are counted as ignored.
* Affiliation (2nd field): ``f`` friend, ``a`` assumed friend -> ``nato``; ``h`` hostile,
  ``s`` suspect -> ``russia``; ``n`` neutral -> ``other``; ``u``, ``p``, ``o``, ``j``, ``k``
  -> ``unknown``. Configured callsign patterns come first (config.affiliation).
* Dimension (3rd field): ``A`` air -> ``air``; ``S`` sea surface, ``U`` subsurface ->
  ``sea``; ``G`` ground, ``F`` SOF -> ``land``; ``P`` space and ``X`` other are ignored.
* ``time`` is the update's time; an event whose ``stale`` is before its ``time`` is a
  dead letter. ``hae``, ``ce``, ``le`` of 9999999 mean "unknown" (CoT convention) and
  become None; ``hae`` (m, height above the WGS 84 ellipsoid) is ``alt_geom_m`` and
  ``alt_m`` (``alt_ref = "geom"``).
  ``track@course`` (deg true) and ``track@speed`` (m/s) give course and speed.
* ``track_id = "cot:<uid>"``; ``detail/contact@callsign`` is the callsign. A uid or type
  longer than the record allows is a dead letter; a callsign longer than
  :data:`config.records.MAX_TEXT_CHARS`, a ``track@course`` outside 0..360, a
  ``track@speed`` outside 0..1,500 m/s or a ``hae`` outside -500..40,000 m is dropped and
  named in a ``bad field`` dead letter, the rest kept.
* ``category`` from the type tree (:class:`config.classification.Classifier`): function
  ``M`` of the air dimension (``a-u-A-M-F``) is military, ``C`` civil; ``S-C``
  combatant ships, ``S-X`` non-military ships, ``G-U`` ground units, ``G-E-V-C`` civilian
  vehicles... (``config/data/classification/cot_types.csv``).
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Iterator, Union
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from config.records import MAX_ID_CHARS, MAX_TEXT_CHARS, TRACK_BOUNDS, DeadLetter, Domain, RecordError, Side, TrackUpdate
from ingest._common import DecoderBase, Rejected, bad_field, iso_epoch_s, oversized, shown

__all__ = ["CotDecoder", "parse_cot_time"]

Item = Union[TrackUpdate, DeadLetter]

_END = b"</event>"
_START = re.compile(rb"<event[\s>]")
_DECL = re.compile(rb"\s*(<\?xml[^>]*\?>)?\s*")
_UNKNOWN = 9_999_999.0
# The buffer drops what it has consumed once that is this large (and half of it).
_COMPACT_BYTES = 1 << 16

_AFFILIATION: dict[str, Side] = {
    "f": "nato", "a": "nato", "h": "russia", "s": "russia", "n": "other",
    "u": "unknown", "p": "unknown", "o": "unknown", "j": "unknown", "k": "unknown",
}
_DIMENSION: dict[str, Domain] = {"A": "air", "S": "sea", "U": "sea", "G": "land", "F": "land"}


def parse_cot_time(text: str | None, what: str) -> float:
    """CoT xs:dateTime (``2020-02-08T18:11:31.863Z``) -> epoch seconds (UTC).

    CoT times are Zulu time by definition of the format: one written without ``Z``
    is read as UTC; one with another offset is converted.
    """
    if not text:
        raise Rejected(f"unparseable timestamp: event has no {what}")
    try:
        return iso_epoch_s(text, what, naive="utc")
    except ValueError as e:
        raise Rejected(str(e)) from None


def _float(el: Element, key: str, *, required: bool = False) -> float | None:
    v = el.get(key)
    if v is None or v == "":
        if required:
            raise Rejected(f"malformed event: {el.tag} has no {key}")
        return None
    try:
        f = float(v)
    except ValueError as e:
        raise Rejected(f"malformed event: {el.tag}@{key}={shown(v, 20)} is not a number") from e
    if not math.isfinite(f):
        raise Rejected(f"malformed event: {el.tag}@{key}={shown(v, 20)} is not finite")
    return None if f == _UNKNOWN else f


class CotDecoder(DecoderBase):
    """Decode a CoT event stream of one feed."""

    framing = "stream"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._buf = bytearray()
        self._start = 0  # the first byte not yet consumed
        self._scan = 0  # no </event> starts before this offset (past _start)
        self._skipping = False  # inside an oversized event: drop bytes up to its </event>

    def decode(self, units: Iterable[bytes], *, final: bool = True) -> Iterator[Item]:
        for chunk in units:
            self._buf += chunk
            yield from self._cut()
        if final:
            rest = bytes(self._buf[self._start :])
            self._buf.clear()
            self._start = self._scan = 0
            if rest.strip() and not self._skipping:
                self.position += 1
                self.stats.lines += 1
                yield self.stats.dead_letter(self.position, rest, "truncated event: stream ended before </event>")
            self._skipping = False

    def _consume(self, upto: int) -> None:
        """Everything before ``upto`` is used; the buffer forgets it now and then (amortised O(1))."""
        self._start = self._scan = upto
        if upto >= _COMPACT_BYTES and upto * 2 >= len(self._buf):
            del self._buf[:upto]
            self._start = self._scan = 0

    def _cut(self) -> Iterator[Item]:
        buf = self._buf
        cap = self.limits.max_line_bytes
        while True:
            end = buf.find(_END, self._scan)
            if end < 0:
                # Resume the search where a split </event> could start.
                self._scan = max(self._start, len(buf) - len(_END) + 1)
                if self._skipping:
                    self._consume(self._scan)
                elif len(buf) - self._start > cap:
                    self.position += 1
                    self.stats.lines += 1
                    yield self.stats.dead_letter(
                        self.position, bytes(buf[self._start : self._start + cap]), oversized(cap, "event", "max_line_bytes")
                    )
                    self._skipping = True
                    self._consume(self._scan)
                return
            end += len(_END)
            if self._skipping:  # the end of an oversized event, already dead-lettered
                self._skipping = False
                self._consume(end)
                continue
            m = _START.search(buf, self._start, end)
            if m is None:
                junk = bytes(buf[self._start : end])
                self._consume(end)
                self.position += 1
                self.stats.lines += 1
                yield self.stats.dead_letter(self.position, junk, "malformed event: </event> without <event")
                continue
            if m.start() > self._start:
                head = bytes(buf[self._start : m.start()])
                if not _DECL.fullmatch(head):
                    self.position += 1
                    self.stats.lines += 1
                    yield self.stats.dead_letter(self.position, head[:cap], "malformed line: bytes between events")
            event = bytes(buf[m.start() : end])
            self._consume(end)
            self.position += 1
            self.stats.lines += 1
            if len(event) > cap:
                yield self.stats.dead_letter(self.position, event[:cap], oversized(cap, "event", "max_line_bytes"))
                continue
            dropped: list[str] = []
            try:
                update = self._event(event, dropped)
            except Rejected as e:
                yield self.stats.dead_letter(self.position, event, str(e))
                continue
            for reason in dropped:
                yield self.stats.dead_letter(self.position, event, reason)
            if update is not None:
                yield update

    def _event(self, raw: bytes, dropped: list[str]) -> TrackUpdate | None:
        try:
            ev = fromstring(raw)
        except (ParseError, DefusedXmlException, ValueError) as e:
            raise Rejected(f"malformed event: {type(e).__name__}: {str(e)[:120]}") from e
        uid, cot_type = ev.get("uid"), ev.get("type")
        if not uid or not cot_type:
            raise Rejected("malformed event: no uid or type")
        if len(uid) > MAX_ID_CHARS - 4 or len(cot_type) > MAX_TEXT_CHARS:
            raise Rejected(f"malformed event: a uid of {len(uid):,} or a type of {len(cot_type):,} characters")
        atoms = cot_type.split("-")
        self.stats.messages += 1
        if atoms[0] != "a" or len(atoms) < 3:
            self.stats.ignored[f"not a track ({'-'.join(atoms[:3])})"] += 1
            return None
        asserted = _AFFILIATION.get(atoms[1])
        domain = _DIMENSION.get(atoms[2])
        if asserted is None:
            raise Rejected(f"malformed event: type {shown(cot_type)} has no known affiliation")
        if domain is None:
            self.stats.ignored[f"dimension {atoms[2]}"] += 1
            return None
        t_s = parse_cot_time(ev.get("time"), "time")
        stale = ev.get("stale")
        if stale is not None and parse_cot_time(stale, "stale") < t_s:
            raise Rejected(f"impossible value: stale {stale} before time {ev.get('time')}")
        point = ev.find("point")
        if point is None:
            raise Rejected("malformed event: no point")
        lat = _float(point, "lat", required=True)
        lon = _float(point, "lon", required=True)
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise Rejected(f"impossible value: point lat {point.get('lat')}, lon {point.get('lon')}")
        hae = self._ranged(point, "hae", "alt_m", dropped)
        for key in ("ce", "le"):
            err = _float(point, key)
            if err is not None and err < 0:
                raise Rejected(f"impossible value: point@{key} {err}")
        callsign = None
        course = speed = None
        detail = ev.find("detail")
        if detail is not None:
            contact = detail.find("contact")
            if contact is not None:
                callsign = (contact.get("callsign") or "").strip() or None
                if callsign is not None and len(callsign) > MAX_TEXT_CHARS:
                    dropped.append(bad_field(f"contact@callsign of {len(callsign):,} characters, more than {MAX_TEXT_CHARS}"))
                    callsign = None
            track = detail.find("track")
            if track is not None:
                course = self._ranged(track, "course", "course_deg", dropped)
                speed = self._ranged(track, "speed", "speed_mps", dropped)
        side = self.affiliation.for_other(callsign, asserted)
        category, category_source = self.classifier.cot(cot_type, callsign)
        try:
            update = TrackUpdate(
                track_id="cot:" + uid,
                source=self.feed,
                t_s=t_s,
                lat_deg=lat,
                lon_deg=lon,
                domain=domain,
                side=side,
                alt_m=hae,
                alt_ref=None if hae is None else "geom",
                alt_geom_m=hae,
                speed_mps=speed,
                course_deg=course,
                callsign=callsign,
                type_code=cot_type,
                raw_ref=f"{self.ref_prefix}{self.position}",
                category=category,
                category_source=category_source,
            )
        except RecordError as e:
            raise Rejected(f"impossible value: {e}") from e
        self.stats.updates += 1
        return update

    @staticmethod
    def _ranged(el: Element, key: str, field: str, dropped: list[str]) -> float | None:
        """An optional number within the range of the record's ``field``; out of it: dropped."""
        v = _float(el, key)
        low, high = TRACK_BOUNDS[field]
        if v is not None and not low <= v <= high:
            dropped.append(bad_field(f"{el.tag}@{key}={v:g} is outside [{low:g}, {high:g}]"))
            return None
        return v
