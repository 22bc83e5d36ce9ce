"""Exercise notifications and NOTAMs to :class:`config.records.Notice` records.

Two formats, both documented in docs/feeds.md:

* ``exercise-geojson``: the closewatch exercise notification format, GeoJSON (RFC 7946)
  Features of notified (or snap, or unnotified) exercise areas, a polygon or a point with a
  radius, with start and end, side and country, issue time, declared forces; of announced
  flights (kind ``flight``: an identity, a route and its corridor); and of NOTAMs (kind
  ``notam``: the text, as the notices topic carries them);
* ``notam``: ICAO NOTAMs (ICAO Annex 15 and PANS-AIM Doc 10066, Appendix 3; Q-codes
  from ICAO Doc 8126) announcing danger, restricted, reserved or temporary areas and
  military activity: Q-code subjects ``RA`` (airspace reservation), ``RD`` (danger
  area), ``RM`` (military operating area), ``RP`` (prohibited area), ``RR``
  (restricted area), ``RT`` (temporary restricted area), ``WE`` (exercises), ``WM``
  (missile, gun or rocket firing), ``WT`` (mass movement of aircraft). The area comes
  from the E) field (a polygon of coordinates, or a centre and a radius), else from the
  Q) line's centre and radius (NM; 999 means "the whole FIR" and is not an area); the
  window from B) and C) (``yyMMddhhmm`` UTC; ``PERM`` means no end; ``EST`` is dropped).

A notice keeps its area as the feed gives it: a centre and a radius stay a
:class:`~config.records.CircleArea`, a polygon a :class:`~config.records.PolygonArea`
(edges straight in lon/lat for GeoJSON, geodesics for NOTAMs), with the feed's margin
beside it; ``proximity.notices`` builds the zone's geometry. Each input unit is one
document (a file, an HTTP body, a Kafka record); ``position`` counts features or NOTAMs.

Hostile input: a document longer than ``max_document_bytes`` or (GeoJSON) nested deeper
than ``max_json_depth`` is refused before it is parsed; numbers too large for a float or
not finite are impossible values; a notice whose window starts more than
:data:`MAX_NOTICE_LEAD_S` after the wall clock when it is read (a NOTAM dated 2099) is an
impossible timestamp; a NOTAM ``Q)`` centre that is not a position (``9900N18100E``) is an
impossible value; a name longer than :data:`config.records.MAX_NOTICE_NAME_CHARS` is
dropped (the id names the notice) and named in a ``bad field`` dead letter.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Union

from shapely.geometry import Polygon, shape

from config.affiliation import country_of_location
from config.records import (
    DOMAINS,
    MAX_ID_CHARS,
    MAX_NOTICE_MARGIN_M,
    MAX_NOTICE_NAME_CHARS,
    SEVERITIES,
    SIDES,
    CircleArea,
    DeadLetter,
    Notice,
    NoticeArea,
    PolygonArea,
    RecordError,
    RouteArea,
    Side,
)
from ingest._common import DecoderBase, Rejected, bad_field, iso_epoch_s, json_number, load_json, oversized, shown

__all__ = ["MAX_NOTICE_LEAD_S", "NOTIFICATION_WORDS", "SCALE_KEYS", "ExerciseGeoJsonDecoder", "NotamDecoder",
           "notam_texts"]

Item = Union[Notice, DeadLetter]

NM_M = 1852.0

#: A notice may announce a window starting at most this long (366 days) after the wall
#: clock when it is read: NOTAMs are published days to weeks ahead, Vienna Document
#: exercise notifications 42 days ahead, annual calendars a year ahead.
MAX_NOTICE_LEAD_S = 366 * 86_400.0


#: ``notification`` of an exercise feature: notified (the default), announced only when it
#: started (``snap``), or activity seen with no notice at all (``unnotified``).
NOTIFICATION_WORDS = ("notified", "snap", "unnotified")
#: ``scale`` of an exercise feature: declared forces by category (the Vienna Document's
#: battle tanks, armoured combat vehicles and artillery pieces beside troops, aircraft, ships).
SCALE_KEYS = ("troops", "aircraft", "ships", "battle_tanks", "acv", "artillery")


_ICAO24 = re.compile(r"^[0-9a-fA-F]{6}$")
_CALLSIGN = re.compile(r"^[A-Z0-9]{1,8}$")


def _identity(value: Any) -> dict[str, Any]:
    """An announced flight's aircraft: ``icao24`` (the 24-bit address, 6 hex digits),
    ``callsign`` (1 to 8 letters or digits) and/or ``mmsi`` (9 digits); at least one."""
    if not isinstance(value, dict) or not value or set(value) - {"icao24", "callsign", "mmsi"}:
        raise Rejected(f"malformed feature: identity {shown(value)} (icao24, callsign and/or mmsi)")
    out: dict[str, Any] = {}
    if "icao24" in value:
        if not isinstance(value["icao24"], str) or not _ICAO24.match(value["icao24"]):
            raise Rejected(f"malformed feature: identity.icao24 {shown(value['icao24'])} is not 6 hex digits")
        out["icao24"] = value["icao24"].lower()
    if "callsign" in value:
        callsign = value["callsign"].strip().upper() if isinstance(value["callsign"], str) else None
        if callsign is None or not _CALLSIGN.match(callsign):
            raise Rejected(f"malformed feature: identity.callsign {shown(value['callsign'])} (1 to 8 letters or digits)")
        out["callsign"] = callsign
    if "mmsi" in value:
        mmsi = value["mmsi"]
        if isinstance(mmsi, bool) or not isinstance(mmsi, int) or not 100_000_000 <= mmsi <= 999_999_999:
            raise Rejected(f"malformed feature: identity.mmsi {shown(mmsi)} is not 9 digits")
        out["mmsi"] = mmsi
    return out


def _iso_time(value: Any, key: str) -> float:
    try:
        return iso_epoch_s(value, key)
    except ValueError as e:
        raise Rejected(str(e)) from None


def _not_far_ahead(start_s: float, what: str) -> None:
    """Refuse a window that starts more than :data:`MAX_NOTICE_LEAD_S` after now."""
    ahead_s = start_s - time.time()
    if ahead_s > MAX_NOTICE_LEAD_S:
        when = datetime.fromtimestamp(start_s, timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
        raise Rejected(f"impossible timestamp: {what} is {when}, {ahead_s / 86_400:,.0f} days from now (at most 366)")


def _watch_sides(own: Side) -> tuple[Side, ...]:
    """An exercise concerns the tracks of every side but its own (all sides when unknown)."""
    return tuple(s for s in SIDES if s != own) if own != "unknown" else SIDES


def _is_notam(f: Any) -> bool:
    return isinstance(f, dict) and isinstance(f.get("properties"), dict) and f["properties"].get("kind") == "notam"


class ExerciseGeoJsonDecoder(DecoderBase):
    """Decode exercise notification GeoJSON (FeatureCollection, Feature, or JSON Lines of Features).

    The notices topic carries NOTAMs too, as Features of kind ``notam`` with the NOTAM's text
    (:meth:`_notam_feature`)."""

    framing = "documents"
    _notams: "NotamDecoder | None" = None

    def decode(self, units: Iterable[bytes], *, final: bool = True) -> Iterator[Item]:
        for raw in units:
            cap = self.limits.max_document_bytes
            if len(raw) > cap:
                self.position += 1
                self.stats.lines += 1
                yield self.stats.dead_letter(self.position, raw[:cap], oversized(cap, "document", "max_document_bytes"))
                continue
            try:
                doc = load_json(raw, self.limits, "document")
            except Rejected as e:
                # JSON Lines of Features?
                lines = [ln for ln in raw.splitlines() if ln.strip()]
                if len(lines) > 1:
                    yield from self.decode(lines, final=final)
                    continue
                self.position += 1
                self.stats.lines += 1
                yield self.stats.dead_letter(self.position, raw, str(e))
                continue
            features = geojson_features(doc)
            if features is None:
                self.position += 1
                self.stats.lines += 1
                yield self.stats.dead_letter(self.position, raw, "malformed document: not a GeoJSON Feature or FeatureCollection")
                continue
            for f in features:
                self.position += 1
                self.stats.lines += 1
                dropped: list[str] = []
                notam = _is_notam(f)
                try:
                    notice = self._notam_feature(f) if notam else self._feature(f, dropped)
                except Rejected as e:
                    yield self.stats.dead_letter(self.position, _dumps(f), str(e))
                    continue
                for reason in dropped:
                    yield self.stats.dead_letter(self.position, _dumps(f), reason)
                if notice is None:
                    continue  # a cancellation, or a NOTAM that names no area: counted as ignored
                if not notam:  # the NOTAM decoder counts its own messages
                    self.stats.messages += 1
                self.stats.notices += 1
                yield notice

    def _notam_feature(self, f: dict[str, Any]) -> Notice | None:
        """A NOTAM the notices topic carries as a Feature of kind ``notam`` (its text in
        ``properties.notam``), decoded as the ``notam`` format decodes it."""
        text = f["properties"].get("notam")
        if not isinstance(text, str) or not _NOTAM_START.match(text.strip()):
            raise Rejected("malformed feature: kind notam needs properties.notam, the NOTAM's text "
                           "from its '(A1234/24 NOTAMN' header")
        if self._notams is None:
            self._notams = NotamDecoder(self.feed, self.affiliation, clock=self.clock, stats=self.stats,
                                        limits=self.limits, classifier=self.classifier)
        self._notams.position, self._notams.ref_prefix = self.position, self.ref_prefix
        return self._notams._notam(text.strip())

    def _feature(self, f: Any, dropped: list[str]) -> Notice:
        if not isinstance(f, dict) or f.get("type") != "Feature":
            raise Rejected("malformed feature: not a GeoJSON Feature")
        props = f.get("properties")
        if not isinstance(props, dict):
            raise Rejected("malformed feature: no properties")
        fid = f.get("id", props.get("id"))
        if not isinstance(fid, str) or not fid.strip():
            if not isinstance(fid, int) or isinstance(fid, bool) or fid.bit_length() > 64:
                raise Rejected("malformed feature: no id (a string, or an integer)")
        fid = str(fid).strip()
        if len(fid) > MAX_ID_CHARS - len("exercise:"):
            raise Rejected(f"malformed feature: an id of {len(fid):,} characters")
        name = props.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > MAX_NOTICE_NAME_CHARS):
            what = f"of {len(name):,} characters" if isinstance(name, str) else f"{shown(name)}, not a string"
            dropped.append(bad_field(f"name {what}; the id names the exercise"))
            name = None
        name = name or fid
        start = _iso_time(props.get("start"), "start")
        _not_far_ahead(start, "start")
        end = None if props.get("end") is None else _iso_time(props.get("end"), "end")
        if "end" not in props:
            raise Rejected("malformed feature: no end (null means until further notice)")
        if end is not None and end < start:
            raise Rejected("impossible value: end before start")
        country = props.get("country")
        if country is not None and (not isinstance(country, str) or len(country) != 2 or not country.isalpha()):
            raise Rejected(f"malformed feature: country {shown(country)} is not ISO 3166-1 alpha-2")
        country = country.upper() if country else None
        side = props.get("side")
        if side is None:
            side = self.affiliation.side_of_country(country)
        if side not in SIDES:
            raise Rejected(f"malformed feature: side {shown(side)} is not one of {SIDES}")
        kind = props.get("kind", "exercise")
        if kind not in ("exercise", "flight"):
            raise Rejected(f"malformed feature: kind {shown(kind)} is not 'exercise' or 'flight'")
        identity = _identity(props.get("identity")) if kind == "flight" else None
        notification = props.get("notification", "notified")
        if kind == "flight" and notification != "notified":
            raise Rejected(f"malformed feature: notification {shown(notification)}: an announced flight is notified")
        if notification not in NOTIFICATION_WORDS:
            raise Rejected(f"malformed feature: notification {shown(notification)} is not one of {NOTIFICATION_WORDS}")
        issued = None if props.get("issued") is None else _iso_time(props.get("issued"), "issued")
        if issued is not None and end is not None and issued > end:
            raise Rejected("impossible value: issued after the end")
        scale = props.get("scale", {})
        if not isinstance(scale, dict) or any(
            k not in SCALE_KEYS or isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2**53
            for k, v in scale.items()
        ):
            raise Rejected(f"malformed feature: scale {shown(scale)} ({', '.join(SCALE_KEYS)}: counts)")
        domains = props.get("domains", ["air"] if kind == "flight" else list(DOMAINS))
        if not isinstance(domains, list) or not domains or any(not isinstance(d, str) or d not in DOMAINS for d in domains):
            raise Rejected(f"malformed feature: domains {shown(domains)}")
        watch = props.get("watch_sides", list(_watch_sides(side)))
        if not isinstance(watch, list) or not watch or any(not isinstance(s, str) or s not in SIDES for s in watch):
            raise Rejected(f"malformed feature: watch_sides {shown(watch)}")
        severity = props.get("severity", "warning" if notification == "notified" else "critical")
        if not isinstance(severity, str) or severity not in SEVERITIES:
            raise Rejected(f"malformed feature: severity {shown(severity)}")
        margin_key = "corridor_m" if kind == "flight" else "buffer_m"
        buffer_m = props.get(margin_key, 0.0)
        if isinstance(buffer_m, bool) or not isinstance(buffer_m, (int, float)) or not 0 <= buffer_m <= MAX_NOTICE_MARGIN_M:
            raise Rejected(f"malformed feature: {margin_key} {shown(buffer_m)} (0 to {MAX_NOTICE_MARGIN_M:.0f} m)")
        geom = f.get("geometry")
        if not isinstance(geom, dict):
            raise Rejected("malformed feature: no geometry")
        radius_m = props.get("radius_m")
        area: NoticeArea
        try:
            if geom.get("type") == "Point":
                coordinates = geom.get("coordinates")
                if not isinstance(coordinates, list) or len(coordinates) < 2:
                    raise Rejected("malformed feature: a Point needs [lon, lat]")
                lon, lat = json_number(coordinates[0], "longitude"), json_number(coordinates[1], "latitude")
                if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                    raise Rejected(f"impossible value: point {lon}, {lat}")
                if isinstance(radius_m, bool) or not isinstance(radius_m, (int, float)):
                    raise Rejected("malformed feature: a Point needs radius_m")
                area = CircleArea(lon_deg=lon, lat_deg=lat, radius_m=json_number(radius_m, "radius_m"))
            elif kind == "flight" and geom.get("type") in ("LineString", "MultiLineString"):
                route = _lonlat_shape(geom, "route")
                if not buffer_m > 0:
                    raise Rejected("malformed feature: a route needs corridor_m (the corridor's half-width, m)")
                area = RouteArea(geometry=route)
            elif geom.get("type") in ("Polygon", "MultiPolygon"):
                area = PolygonArea(geometry=_lonlat_shape(geom, "polygon"), edges="lonlat")  # RFC 7946 section 3.1.1
            else:
                raise Rejected(f"malformed feature: geometry {geom.get('type')!r} is not Point, Polygon or MultiPolygon (or a LineString route of a flight)")
        except Rejected:
            raise
        except OverflowError:
            raise Rejected("impossible value: a coordinate is an integer too large for a float") from None
        except Exception as e:  # shapely and the record reject malformed coordinates in many ways
            raise Rejected(f"malformed feature: geometry: {type(e).__name__}: {str(e)[:120]}") from e
        properties: dict[str, Any] = {"format": "exercise-geojson", "notification": notification}
        if identity is not None:
            properties["identity"] = identity
        try:
            return Notice(
                notice_id=f"{kind}:{fid}",
                kind=kind,
                name=str(name),
                area=area,
                margin_m=float(buffer_m),
                active_from_s=start,
                active_until_s=end,
                sides=tuple(watch),
                domains=tuple(domains),
                severity=severity,
                issuer_country=country,
                issuer_side=side,
                issued_s=issued,
                declared=dict(scale),
                source=self.feed,
                raw_ref=f"{self.ref_prefix}{self.position}",
                properties=properties,
            )
        except RecordError as e:
            raise Rejected(f"impossible value: {e}") from e


# -- NOTAM ---------------------------------------------------------------------------

_NOTAM_START = re.compile(r"\(?\s*([A-Z]\d{4}/\d{2})\s+NOTAM([NRC])\b")
_ITEM = re.compile(r"(?:^|\s)([QABCDEFG])\)\s*")
_QLINE = re.compile(
    r"^(?P<fir>[A-Z]{4})/(?P<code>Q[A-Z]{4})/(?P<traffic>[IVK]*)/(?P<purpose>[NBOMK]*)/(?P<scope>[AEWK]*)/"
    r"(?P<lower>\d{3})/(?P<upper>\d{3})/(?P<lat>\d{4}[NS])(?P<lon>\d{5}[EW])(?P<radius>\d{3})$"
)
_COORD = re.compile(
    r"(?<![\d.])(?P<latd>\d{2})(?P<latm>\d{2})(?P<lats>\d{2}(?:\.\d+)?)?(?P<ns>[NS])\s*"
    r"(?P<lond>\d{3})(?P<lonm>\d{2})(?P<lons>\d{2}(?:\.\d+)?)?(?P<ew>[EW])\b"
)
_RADIUS = re.compile(r"RADIUS\s+(?:OF\s+)?(\d+(?:\.\d+)?)\s*(NM|KM|M)\b")
_AREA_SUBJECTS = frozenset(("RA", "RD", "RM", "RP", "RR", "RT", "WE", "WM", "WT"))


def _dms(deg: str, minutes: str, seconds: str | None, hemi: str) -> float:
    v = int(deg) + int(minutes) / 60.0 + (float(seconds) / 3600.0 if seconds else 0.0)
    if int(minutes) >= 60 or (seconds and float(seconds) >= 60):
        raise Rejected(f"impossible value: coordinate {deg}{minutes}{seconds or ''}{hemi}")
    return -v if hemi in "SW" else v


def _notam_time(text: str, item: str) -> float | None:
    """B)/C) ``yyMMddhhmm`` (UTC; the year is 20yy) -> epoch s; C) ``PERM`` -> None."""
    t = text.strip().split()[0] if text.strip() else ""
    if item == "C" and t == "PERM":
        return None
    try:
        if len(t) != 10 or not t.isdigit():
            raise ValueError(t)
        dt = datetime(2000 + int(t[:2]), int(t[2:4]), int(t[4:6]), int(t[6:8]), int(t[8:10]), tzinfo=timezone.utc)
    except ValueError as e:
        raise Rejected(f"unparseable timestamp: {item}) {shown(text.strip(), 20)}") from e
    return dt.timestamp()


def _lonlat_shape(geom: dict[str, Any], what: str) -> Any:
    """A GeoJSON geometry as a shapely one, valid and within lon/lat degrees."""
    g = shape(geom)
    if not g.is_valid or g.is_empty:
        raise Rejected(f"malformed feature: invalid {what}")
    minx, miny, maxx, maxy = g.bounds
    if not (-180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90):
        raise Rejected(f"impossible value: {what} outside lon/lat range")
    return g


def geojson_features(doc: Any) -> list[Any] | None:
    """The Features of a GeoJSON FeatureCollection or Feature (RFC 7946, 3.2 and 3.3); None for
    anything else."""
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection" and isinstance(doc.get("features"), list):
        return list(doc["features"])
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        return [doc]
    return None


def notam_texts(text: str) -> list[tuple[str, str]]:
    """The NOTAMs of ``text``: (series/number, the NOTAM's text from its header), in order."""
    marks = list(_NOTAM_START.finditer(text))
    return [(m.group(1), text[m.start():nxt.start() if nxt else len(text)].strip())
            for m, nxt in zip(marks, [*marks[1:], None])]


class NotamDecoder(DecoderBase):
    """Decode ICAO NOTAMs (one or more per unit) into notices of their areas."""

    framing = "documents"

    def decode(self, units: Iterable[bytes], *, final: bool = True) -> Iterator[Item]:
        for raw in units:
            text = raw.decode("utf-8", "replace")
            first = _NOTAM_START.search(text)
            if first is None:
                if text.strip():
                    self.position += 1
                    self.stats.lines += 1
                    yield self.stats.dead_letter(self.position, raw, "malformed NOTAM: no 'A1234/24 NOTAMN' header")
                continue
            if text[: first.start()].strip():
                self.position += 1
                self.stats.lines += 1
                yield self.stats.dead_letter(self.position, text[: first.start()].encode(), "malformed NOTAM: text before the first header")
            for _number, chunk in notam_texts(text):
                self.position += 1
                self.stats.lines += 1
                try:
                    notice = self._notam(chunk)
                except Rejected as e:
                    yield self.stats.dead_letter(self.position, chunk.encode(), str(e))
                    continue
                if notice is not None:
                    self.stats.notices += 1
                    yield notice

    def _notam(self, text: str) -> Notice | None:
        head = _NOTAM_START.match(text)
        assert head is not None
        notam_id, kind = head.group(1), head.group(2)
        body = text[head.end() :].rstrip()
        if body.endswith(")"):
            body = body[:-1]
        marks = list(_ITEM.finditer(body))
        items: dict[str, str] = {}
        for m, nxt in zip(marks, marks[1:] + [None]):
            items.setdefault(m.group(1), body[m.end() : nxt.start() if nxt else len(body)].strip())
        for need in ("Q", "A", "B", "E"):
            if need not in items:
                raise Rejected(f"malformed NOTAM: {notam_id} has no {need}) item")
        q = _QLINE.match(items["Q"].replace(" ", ""))
        if q is None:
            raise Rejected(f"malformed NOTAM: {notam_id} Q) line {items['Q'][:60]!r}")
        self.stats.messages += 1
        code = q.group("code")
        if kind == "C":
            self.stats.ignored["cancellation (NOTAMC)"] += 1
            return None
        if code[1:3] not in _AREA_SUBJECTS:
            self.stats.ignored[f"not an area NOTAM ({code[:3]})"] += 1
            return None
        start = _notam_time(items["B"], "B")
        end = _notam_time(items["C"], "C") if "C" in items else None
        assert start is not None
        _not_far_ahead(start, f"{notam_id} B)")
        if end is not None and end < start:
            raise Rejected(f"impossible value: {notam_id} C) before B)")
        area = self._area(items["E"], q)
        location = items["A"].split()[0] if items["A"].split() else q.group("fir")
        country = country_of_location(location) or country_of_location(q.group("fir"))
        side = self.affiliation.side_of_country(country)
        try:
            return Notice(
                notice_id=f"notam:{notam_id}",
                kind="notam",
                name=f"NOTAM {notam_id} {code} {location}",
                area=area,
                active_from_s=start,
                active_until_s=end,
                sides=_watch_sides(side),
                domains=("air",),
                severity="warning",
                issuer_country=country,
                issuer_side=side,
                source=self.feed,
                raw_ref=f"{self.ref_prefix}{self.position}",
                properties={
                    "format": "notam",
                    "notam_id": notam_id,
                    "q_code": code,
                    "fir": q.group("fir"),
                    "location": location,
                    "lower_ft": int(q.group("lower")) * 100,
                    "upper_ft": int(q.group("upper")) * 100,
                    "text": items["E"][:500],
                },
            )
        except RecordError as e:
            raise Rejected(f"impossible value: {e}") from e

    def _area(self, e_text: str, q: re.Match[str]) -> NoticeArea:
        """E) polygon (geodesic edges, ICAO), else E) centre and radius, else Q) centre and radius."""
        e_upper = e_text.upper()
        points = []
        for m in _COORD.finditer(e_upper):
            lat = _dms(m["latd"], m["latm"], m["lats"], m["ns"])
            lon = _dms(m["lond"], m["lonm"], m["lons"], m["ew"])
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise Rejected(f"impossible value: coordinate {m.group(0)}")
            points.append((lon, lat))
        r = _RADIUS.search(e_upper)
        try:
            if r is not None and len(points) >= 1 and len(points) < 3:
                value, unit = float(r.group(1)), r.group(2)
                radius_m = value * {"NM": NM_M, "KM": 1000.0, "M": 1.0}[unit]
                return CircleArea(lon_deg=points[0][0], lat_deg=points[0][1], radius_m=radius_m)
            if len(points) >= 3:
                if points[0] != points[-1]:
                    points.append(points[0])
                poly = Polygon(points)
                if not poly.is_valid or poly.area == 0:
                    raise Rejected("malformed NOTAM: E) polygon is not a valid area")
                return PolygonArea(geometry=poly, edges="geodesic")
            radius_nm = int(q.group("radius"))
            if radius_nm == 999 or radius_nm == 0:
                raise Rejected("malformed NOTAM: no area in E) and the Q) radius is 999 (whole FIR) or 0")
            lat = _dms(q.group("lat")[:2], q.group("lat")[2:4], None, q.group("lat")[4])
            lon = _dms(q.group("lon")[:3], q.group("lon")[3:5], None, q.group("lon")[5])
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise Rejected(f"impossible value: Q) centre {q.group('lat')}{q.group('lon')} is not a position")
            return CircleArea(lon_deg=lon, lat_deg=lat, radius_m=radius_nm * NM_M)
        except RecordError as e:
            raise Rejected(f"malformed NOTAM: area: {e}") from e


def _dumps(value: Any) -> bytes:
    """A feature as JSON bytes for a dead letter (what was parsed: numbers as JSON gave them)."""
    return json.dumps(value, default=str).encode()
