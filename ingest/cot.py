"""Cursor on Target (CoT) XML events to TrackUpdates, parsed with defusedxml.

CoT event schema (MITRE "Cursor on Target Message Router User's Guide", event 2.0)::

    <event version="2.0" uid="..." type="a-f-A-M-F" how="m-g"
           time="2020-02-08T18:11:31.863Z" start="..." stale="...">
      <point lat="43.99" lon="-66.00" hae="36.0" ce="9999999.0" le="9999999.0"/>
      <detail><contact callsign="ISR2 2"/><track course="90.0" speed="12.5"/></detail>
    </event>

Input units are byte chunks of a stream (TCP segments, UDP datagrams, files, Kafka
records): events are cut out at ``</event>`` whatever the chunking; bytes between events
that are not whitespace or an XML declaration are a dead letter. ``position`` counts
events.

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
* ``track_id = "cot:<uid>"``; ``detail/contact@callsign`` is the callsign.
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

from config.records import DeadLetter, Domain, RecordError, Side, TrackUpdate
from ingest._common import DecoderBase, Rejected, iso_epoch_s

__all__ = ["CotDecoder", "parse_cot_time"]

Item = Union[TrackUpdate, DeadLetter]

_END = b"</event>"
_START = re.compile(rb"<event[\s>]")
_DECL = re.compile(rb"\s*(<\?xml[^>]*\?>)?\s*")
_UNKNOWN = 9_999_999.0
_MAX_EVENT_BYTES = 1 << 20

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
        raise Rejected(f"malformed event: {el.tag}@{key}={v[:20]!r} is not a number") from e
    if not math.isfinite(f):
        raise Rejected(f"malformed event: {el.tag}@{key}={v[:20]!r} is not finite")
    return None if f == _UNKNOWN else f


class CotDecoder(DecoderBase):
    """Decode a CoT event stream of one feed."""

    framing = "documents"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._buf = b""

    def decode(self, units: Iterable[bytes], *, final: bool = True) -> Iterator[Item]:
        for chunk in units:
            self._buf += chunk
            yield from self._cut()
        if final:
            rest = self._buf
            self._buf = b""
            if rest.strip():
                self.position += 1
                self.stats.lines += 1
                yield self.stats.dead_letter(self.position, rest, "truncated event: stream ended before </event>")

    def _cut(self) -> Iterator[Item]:
        while True:
            buf = self._buf
            end = buf.find(_END)
            if end < 0:
                if len(buf) > _MAX_EVENT_BYTES:
                    self._buf = b""
                    self.position += 1
                    self.stats.lines += 1
                    yield self.stats.dead_letter(self.position, buf, "malformed event: no </event> within 1 MiB")
                return
            end += len(_END)
            m = _START.search(buf, 0, end)
            if m is None:
                junk, self._buf = buf[:end], buf[end:]
                self.position += 1
                self.stats.lines += 1
                yield self.stats.dead_letter(self.position, junk, "malformed event: </event> without <event")
                continue
            head = buf[: m.start()]
            if head and not _DECL.fullmatch(head):
                self.position += 1
                self.stats.lines += 1
                yield self.stats.dead_letter(self.position, head, "malformed line: bytes between events")
            event, self._buf = buf[m.start() : end], buf[end:]
            self.position += 1
            self.stats.lines += 1
            try:
                update = self._event(event)
            except Rejected as e:
                yield self.stats.dead_letter(self.position, event, str(e))
                continue
            if update is not None:
                yield update

    def _event(self, raw: bytes) -> TrackUpdate | None:
        try:
            ev = fromstring(raw)
        except (ParseError, DefusedXmlException, ValueError) as e:
            raise Rejected(f"malformed event: {type(e).__name__}: {e}") from e
        uid, cot_type = ev.get("uid"), ev.get("type")
        if not uid or not cot_type:
            raise Rejected("malformed event: no uid or type")
        atoms = cot_type.split("-")
        self.stats.messages += 1
        if atoms[0] != "a" or len(atoms) < 3:
            self.stats.ignored[f"not a track ({'-'.join(atoms[:3])})"] += 1
            return None
        asserted = _AFFILIATION.get(atoms[1])
        domain = _DIMENSION.get(atoms[2])
        if asserted is None:
            raise Rejected(f"malformed event: type {cot_type!r} has no known affiliation")
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
        hae = _float(point, "hae")
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
            track = detail.find("track")
            if track is not None:
                course = _float(track, "course")
                speed = _float(track, "speed")
                if course is not None and not 0 <= course <= 360:
                    raise Rejected(f"impossible value: track@course {course}")
                if speed is not None and not 0 <= speed <= 1500:
                    raise Rejected(f"impossible value: track@speed {speed} m/s")
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
                raw_ref=f"{self.feed}:{self.position}",
                category=category,
                category_source=category_source,
            )
        except RecordError as e:
            raise Rejected(f"impossible value: {e}") from e
        self.stats.updates += 1
        return update
