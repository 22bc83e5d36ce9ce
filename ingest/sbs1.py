"""SBS-1 BaseStation CSV (port 30003) to TrackUpdates.

Each line is ``MSG,<type>,<session>,<aircraft>,<hex>,<flight>,<date gen>,<time gen>,
<date log>,<time log>,<callsign>,<alt ft>,<ground speed kn>,<track deg>,<lat>,<lon>,
<vertical rate ft/min>,<squawk>,<alert>,<emergency>,<spi>,<on ground>`` (22 fields;
Kinetic Avionics SBS-1 "BaseStation" socket format as emitted by dump1090 and readsb).
Transmission types: 1 identification (callsign), 2 surface position, 3 airborne
position, 4 airborne velocity, 5 surveillance altitude, 6 surveillance identity
(squawk), 7 air-to-air, 8 all-call reply. Lines other than ``MSG`` (``SEL``, ``ID``,
``AIR``, ``STA``, ``CLK``) carry no track data and are counted as ignored.

The lines of one aircraft are merged: identity, altitude and velocity update its state
and a TrackUpdate is emitted for every line that carries a position (types 2 and 3),
with the latest callsign, altitude, ground speed, track and vertical rate known then.
A velocity line alone emits nothing (its values reach the next position).

Time: the "generated" date and time fields (6 and 7, ``yyyy/mm/dd`` and
``hh:mm:ss.sss``, taken as UTC as dump1090-fa and readsb write them); the "logged" pair
(8 and 9) when those are empty; else the decoder's ``clock`` (receive wall clock on live
transports, or a configured assumed time); else a position line is a dead letter
("no timestamp"). Units: feet -> metres, knots -> m/s, ft/min -> m/s.

Altitude (field 12) is the barometric pressure altitude of the Mode C/S replies and
ADS-B airborne positions (``alt_ref = "baro"``; dump1090-fa started with ``--gnss``
writes GNSS heights there instead, which the line cannot tell).

On the ground (``on_ground``): field 22 ("IsOnGround", the squat switch or the air/ground
state of the message: ``-1`` true, ``0`` false; ``1`` is read as true too) when the line
fills it; otherwise a surface position (type 2) says on the ground and an airborne
position (type 3) says airborne. The SBS-1 format carries no position-quality indicators
(NIC, NACp, SIL): those fields of the record stay None. ``category`` comes from
:class:`config.classification.Classifier` (address block, callsign); the side is judged
at the line's time.

Bad input is a dead letter and nothing stops the stream: a line longer than
``max_line_bytes``, a wrong field count, a hex ident that is not 24-bit hex, a position
that does not parse or lies outside +-90/+-180, a date or time that does not parse
("unparseable timestamp") or lies outside 1990-2099 ("impossible timestamp"). A value of
the merged state that does not parse or is out of range (an altitude outside
-1,500..130,000 ft, a ground speed above 2,000 kn, a track outside 0..360, a vertical
rate beyond +-100,000 ft/min, a callsign longer than
:data:`config.records.MAX_TEXT_CHARS`, a squawk that is not four octal digits, an
on-ground flag that is not ``-1``, ``0`` or ``1``) is dropped and named in a ``bad field``
dead letter; the rest of the line is used.
"""

from __future__ import annotations

import calendar
import logging
from typing import Any, Callable, Iterable, Iterator, Union

from config.records import MAX_TEXT_CHARS, DeadLetter, TrackUpdate
from ingest._aircraft import AircraftState
from ingest._common import (
    EPOCH_MAX_S,
    EPOCH_MIN_S,
    NO_TIME_HINT,
    DecoderBase,
    Rejected,
    bad_field,
    oversized,
    shown,
)

__all__ = ["Sbs1Decoder"]

log = logging.getLogger(__name__)

SbsItem = Union[TrackUpdate, DeadLetter]

_HEX = frozenset(b"0123456789abcdefABCDEF")
_ON_GROUND = {b"-1": True, b"1": True, b"0": False}  # field 22
_OTHER_KINDS = frozenset((b"SEL", b"ID", b"AIR", b"STA", b"CLK"))


class _BadValue(ValueError):
    """A field that does not parse, or parses outside its range (the message says which)."""


def _ranged(low: float, high: float, what: str) -> Callable[[bytes], float]:
    """A parser of one numeric field that refuses values outside ``[low, high]`` (and NaN, inf)."""

    def parse(text: bytes) -> float:
        try:
            v = float(text)
        except ValueError:
            raise _BadValue(f"{what}={shown(text)} is not a number") from None
        if not low <= v <= high:
            raise _BadValue(f"{what}={shown(text)} is outside [{low:g}, {high:g}]")
        return v

    return parse


_alt_ft = _ranged(-1500.0, 130_000.0, "altitude (ft, field 12)")
_gs_kn = _ranged(0.0, 2000.0, "ground speed (kn, field 13)")
_track_deg = _ranged(0.0, 360.0, "track (deg, field 14)")
_vrate_fpm = _ranged(-100_000.0, 100_000.0, "vertical rate (ft/min, field 17)")
_lat = _ranged(-90.0, 90.0, "latitude (field 15)")
_lon = _ranged(-180.0, 180.0, "longitude (field 16)")


def _callsign(text: bytes) -> str | None:
    cs = text.strip()
    if len(cs) > MAX_TEXT_CHARS:
        raise _BadValue(f"callsign (field 11) of {len(cs):,} characters, more than {MAX_TEXT_CHARS}")
    return cs.decode("ascii", "replace") or None


def _squawk(text: bytes) -> str:
    if len(text) != 4 or not _OCTAL.issuperset(text):
        raise _BadValue(f"squawk (field 18)={shown(text)} is not four octal digits")
    return text.decode()


_OCTAL = frozenset(b"01234567")
# What each transmission type carries into the merged state: (field index, attribute, parser).
_STATE_FIELDS: dict[bytes, tuple[tuple[int, str, Callable[[bytes], object]], ...]] = {
    b"1": ((10, "callsign", _callsign),),
    b"2": ((11, "alt_ft", _alt_ft), (12, "gs_kn", _gs_kn), (13, "track_deg", _track_deg)),
    b"3": ((11, "alt_ft", _alt_ft),),
    b"4": ((12, "gs_kn", _gs_kn), (13, "track_deg", _track_deg), (16, "vrate_fpm", _vrate_fpm)),
    b"5": ((11, "alt_ft", _alt_ft),),
    b"6": ((17, "squawk", _squawk), (11, "alt_ft", _alt_ft)),
    b"7": ((11, "alt_ft", _alt_ft),),
    b"8": (),
}


class Sbs1Decoder(DecoderBase):
    """Decode SBS-1 lines of one feed; state per aircraft carries over between calls."""

    framing = "lines"

    def __init__(self, *args: Any, max_aircraft: int = 200_000, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_aircraft = max_aircraft
        self._aircraft: dict[bytes, AircraftState] = {}
        self._days: dict[bytes, float | None] = {}
        self._minutes: dict[tuple[bytes, bytes], float | None] = {}

    def aircraft_state(self, hex_ident: str) -> dict[str, object] | None:
        """What is merged so far for one aircraft (for inspection and tests)."""
        a = self._aircraft.get(hex_ident.upper().encode()) or self._aircraft.get(hex_ident.lower().encode())
        return None if a is None else a.as_dict()

    def _day(self, date: bytes) -> float | None:
        """``yyyy/mm/dd`` -> epoch s of its midnight (UTC); None when it is not a date.

        A real date outside 1990-2099 is kept (the caller calls its time impossible)."""
        day = self._days.get(date, False)
        if day is False:
            try:
                y, m, d = (int(x) for x in date.replace(b"-", b"/").split(b"/"))
                if not (1 <= y <= 9999 and 1 <= m <= 12 and 1 <= d <= calendar.monthrange(y, m)[1]):
                    raise ValueError(date)
                day = float(calendar.timegm((y, m, d, 0, 0, 0)))
            except ValueError:
                day = None
            if len(self._days) > 1000:
                self._days.clear()
            self._days[date] = day
        return day  # type: ignore[return-value]

    def _time(self, date: bytes, clock_s: bytes) -> float | None:
        """``yyyy/mm/dd`` + ``hh:mm:ss.sss`` (UTC) -> epoch s; the minute is cached."""
        key = (date, clock_s[:6])
        base = self._minutes.get(key, False)
        if base is False:
            base = None
            day = self._day(date)
            h, c1, mi, c2 = clock_s[:2], clock_s[2:3], clock_s[3:5], clock_s[5:6]
            if day is not None and c1 == b":" and c2 == b":" and h.isdigit() and mi.isdigit():
                hh, mm = int(h), int(mi)
                if hh < 24 and mm < 60:
                    base = day + hh * 3600 + mm * 60
            if len(self._minutes) > 10_000:
                self._minutes.clear()
            self._minutes[key] = base
        if base is None:
            return self._time_loose(date, clock_s)
        try:
            ss = float(clock_s[6:])
        except ValueError:
            return None
        if not 0.0 <= ss < 61.0:
            return None
        return base + ss  # type: ignore[operator]

    def _time_loose(self, date: bytes, clock_s: bytes) -> float | None:
        """Times not written ``hh:mm:ss.sss`` (``9:5:3.2``)."""
        day = self._day(date)
        parts = clock_s.split(b":")
        if day is None or len(parts) != 3:
            return None
        try:
            hh, mm, ss = int(parts[0]), int(parts[1]), float(parts[2])
        except ValueError:
            return None
        if not (0 <= hh < 24 and 0 <= mm < 60 and 0.0 <= ss < 61.0):
            return None
        return day + hh * 3600 + mm * 60 + ss

    def decode(self, lines: Iterable[bytes], *, final: bool = True) -> Iterator[SbsItem]:
        stats = self.stats
        dead = stats.dead_letter
        aircraft = self._aircraft
        affiliation = self.affiliation
        classifier = self.classifier
        clock = self.clock
        feed = self.feed
        ref_prefix = self.ref_prefix
        max_line = self.limits.max_line_bytes
        for raw in lines:
            self.position += 1
            pos = self.position
            stats.lines += 1
            if len(raw) > max_line:
                yield dead(pos, raw[:max_line], oversized(max_line, "line", "max_line_bytes"))
                continue
            f = raw.rstrip(b"\r\n ").split(b",")
            if len(f) != 22:
                if len(f) == 1 and not f[0].strip():
                    stats.ignored["blank line"] += 1
                    continue
                if f[0] in _OTHER_KINDS:
                    stats.ignored[f[0].decode()] += 1
                    continue
                yield dead(pos, raw, f"malformed line: {len(f)} fields, SBS-1 MSG has 22")
                continue
            if f[0] != b"MSG":
                if f[0] in _OTHER_KINDS:
                    stats.ignored[f[0].decode()] += 1
                    continue
                yield dead(pos, raw, f"malformed line: message type {f[0][:8]!r}")
                continue
            kind = f[1]
            key = f[4]
            a = aircraft.get(key)
            if a is None:
                h = key[1:] if key[:1] == b"~" else key
                if len(h) != 6 or not _HEX.issuperset(h):
                    yield dead(pos, raw, f"malformed line: hex ident {key[:10]!r} is not a 24-bit address")
                    continue
                if len(aircraft) >= self.max_aircraft:
                    aircraft.pop(next(iter(aircraft)))
                    stats.evict("aircraft")
                a = aircraft[key] = AircraftState(key.decode().lower())
            try:
                if kind != b"3" and kind != b"2":
                    if kind == b"4":
                        if f[12]:
                            a.gs_kn = _gs_kn(f[12])
                        if f[13]:
                            a.track_deg = _track_deg(f[13])
                        if f[16]:
                            a.vrate_fpm = _vrate_fpm(f[16])
                    elif kind == b"5" or kind == b"7":
                        if f[11]:
                            a.alt_ft = _alt_ft(f[11])
                    elif kind == b"1":
                        if f[10]:
                            a.callsign = _callsign(f[10]) or a.callsign
                    elif kind == b"6":
                        if f[17]:
                            a.squawk = _squawk(f[17])
                        if f[11]:
                            a.alt_ft = _alt_ft(f[11])
                    elif kind != b"8":
                        yield dead(pos, raw, f"malformed line: transmission type {kind[:4]!r}")
                        continue
                else:
                    # Position (2 surface, 3 airborne).
                    if f[11]:
                        a.alt_ft = _alt_ft(f[11])
                    if kind == b"2":
                        if f[12]:
                            a.gs_kn = _gs_kn(f[12])
                        if f[13]:
                            a.track_deg = _track_deg(f[13])
            except _BadValue:
                # Field by field: keep what is good, name what is not.
                for reason in self._state_fields(a, kind, f):
                    yield dead(pos, raw, reason)
            ground = None
            if f[21]:
                ground = _ON_GROUND.get(f[21])
                if ground is None:
                    yield dead(pos, raw, bad_field(f"on ground (field 22)={shown(f[21])} is not -1, 0 or 1"))
                else:
                    a.on_ground = ground
            stats.messages += 1
            if kind != b"3" and kind != b"2":
                continue
            if ground is None:
                a.on_ground = kind == b"2"  # surface position, else airborne
            lat_s, lon_s = f[14], f[15]
            if not lat_s or not lon_s:
                stats.ignored["no position"] += 1
                continue
            try:
                lat, lon = _lat(lat_s), _lon(lon_s)
            except _BadValue as e:
                yield dead(pos, raw, f"impossible value: {e}" if "outside" in str(e) else f"malformed line: {e}")
                continue
            t_s: float | None = None
            received_s: float | None = None
            if f[6] or f[7]:
                t_s = self._time(f[6], f[7])
                if t_s is None:
                    yield dead(pos, raw, f"unparseable timestamp: date/time generated {shown(f[6], 12)} {shown(f[7], 16)}")
                    continue
            elif f[8] or f[9]:
                t_s = self._time(f[8], f[9])
                if t_s is None:
                    yield dead(pos, raw, f"unparseable timestamp: date/time logged {shown(f[8], 12)} {shown(f[9], 16)}")
                    continue
            elif clock is not None:
                t_s = received_s = clock()
            else:
                yield dead(pos, raw, f"no timestamp: the date/time fields are empty; {NO_TIME_HINT}")
                continue
            if not EPOCH_MIN_S <= t_s < EPOCH_MAX_S:
                date, when = (f[6], f[7]) if f[6] or f[7] else (f[8], f[9])
                yield dead(pos, raw, f"impossible timestamp: {shown(date, 12)} {shown(when, 16)} is outside 1990-2099")
                continue
            country, side = affiliation.for_icao(a.address, a.callsign, None, t_s)
            category, source = classifier.aircraft(a.address, a.callsign)
            try:
                update = a.report(feed, t_s, lat, lon, side, country, ref_prefix + str(pos), None, None, category, source)
            except Rejected as e:
                yield dead(pos, raw, str(e), received_s)
                continue
            stats.updates += 1
            yield update

    @staticmethod
    def _state_fields(a: AircraftState, kind: bytes, f: list[bytes]) -> Iterator[str]:
        """Set the good values of one line's state fields; a ``bad field`` reason for each bad one."""
        for index, attribute, parse in _STATE_FIELDS.get(kind, ()):
            if not f[index]:
                continue
            try:
                value = parse(f[index])
            except _BadValue as e:
                yield bad_field(str(e))
                continue
            if value is not None:
                setattr(a, attribute, value)
