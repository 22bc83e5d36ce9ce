"""AIS: NMEA 0183 ``!AIVDM``/``!AIVDO`` (and ``!BSVDM``, ``!ABVDM``...) to TrackUpdates.

The payload decoding is pyais (ITU-R M.1371-5); this module does what surrounds it in a
real feed, on one decode path shared by every transport:

* **Framing.** One sentence per line. A line may start with an NMEA 4.0 tag block
  (``\\c:1671533231,s:receiver*hh\\!AIVDM...``, IEC 61162-1 §7.9); a tag block alone on
  a line (the Danish Maritime Authority's ``\\si:AISD*3F\\``) applies to the next AIS
  sentence. ``$PGHP,1,...`` (Gatehouse wrapper: ``$PGHP,1,yyyy,mm,dd,hh,mi,ss,ms,
  country,region,pss,online,cs*hh``) gives the time of the next AIS sentence. The USCG
  NAIS format appends ``,<station>,<epoch>`` after the checksum. Blank lines and ``#``
  comment lines are skipped (counted under ``ignored``); other NMEA sentences with a
  valid checksum (``$PSTT``, ``$GPGGA``...) are counted as ignored too.
* **Multi-sentence messages.** Fragments are assembled per (sequential message id,
  channel, talker, fragment count). A fragment 1 that replaces an unfinished message, a
  fragment without its fragment 1, a fragment out of order, or a message still
  incomplete ``max_group_lines`` lines after it began or when the feed ends is a dead
  letter ("truncated multi-sentence message") carrying all its lines.
* **Time**, first that applies: tag block ``c:`` (UNIX seconds, or milliseconds when
  above 10^11), the preceding ``$PGHP``, the USCG trailing epoch, then the decoder's
  ``clock`` (receive wall clock on live transports, or a configured assumed time);
  without any, the message is a dead letter ("no timestamp"). A time that does not
  parse or lies outside 1990-2100 is a dead letter ("unparseable timestamp",
  "impossible timestamp").
* **Messages.** Position reports 1, 2, 3 (Class A), 18 (Class B), 19 (Class B
  extended), 27 (long range) become ``sea`` tracks; 9 (SAR aircraft) an ``air`` track
  whose altitude (m) is ``alt_m`` with ``alt_ref`` from the altitude sensor bit (Table
  52: GNSS ``"geom"`` or barometric ``"baro"``); the standard names no vertical datum
  for the GNSS altitude, so ``alt_geom_m`` (ellipsoid height) stays None.
  Static data 5 and 24 (A: name; B: ship type, callsign, dimensions) and the static
  part of 19 are kept per MMSI and merged into that ship's later updates. Type 21
  (aid to navigation) is not a track: counted as ignored; so are the other types.
* **Several receivers.** The same message heard by several stations is one report:
  a message whose payload (which holds the MMSI and every field) equals that of a message seen within
  ``dedup_window_s`` of data time (default 5 s; 0: off) is dropped before decoding and
  counted in ``stats.duplicates``. Memory is bounded (``max_dedup`` payloads, the
  oldest forgotten first). A moored ship may repeat an identical report minutes later
  (same position, same time-stamp second): outside the window, that is a new report.
* **Who, and how good** (see :class:`config.records.TrackUpdate`): ``category`` from
  :class:`config.classification.Classifier` (MMSI format, ship type, name); the position
  accuracy flag and RAIM flag of messages 1, 2, 3, 9, 18, 19 and 27 (Table 46 ff.) as
  ``quality.accuracy_high`` and ``quality.raim``; the navigational status of 1, 2, 3
  and 27 as ``nav_status`` (Table 45; 15 "not defined" becomes None). The side is
  judged at the message's time (NATO membership by date).
* **Not available** (ITU-R M.1371-5 Table 46/48): latitude 91, longitude 181 (no
  position: no update, counted "no position"), speed 102.3 kn (type 27: 63 kn; type 9:
  1023 kn), course 360 (type 27: 511), heading 511, type 9 altitude 4095 m, ship type 0
  become None. A value outside its field's range (latitude 95, heading 400, course 370)
  is a dead letter ("impossible value"). Speeds are converted from knots to m/s.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from functools import reduce
from operator import xor
from typing import Any, Iterable, Iterator, Union

from pyais.exceptions import InvalidNMEAMessageException, MissingPayloadException, UnknownMessageException
from pyais.messages import AISSentence

from config.records import (
    MAX_TEXT_CHARS,
    AltRef,
    Category,
    DeadLetter,
    Domain,
    RecordError,
    TrackUpdate,
    position_quality,
)
from ingest._common import (
    EPOCH_MAX_S,
    EPOCH_MIN_S,
    KNOTS_TO_MPS,
    NO_TIME_HINT,
    DecoderBase,
    bad_field,
    nmea_checksum,
    oversized,
)

__all__ = ["AisDecoder", "ShipStatic", "encode_nmea"]

log = logging.getLogger(__name__)

AisItem = Union[TrackUpdate, DeadLetter]

_BANG = 0x21  # '!'
_DOLLAR = 0x24  # '$'
_BACKSLASH = 0x5C  # '\\'
_HASH = 0x23  # '#'
_STAR = 0x2A  # '*'
_COMMA = b","
_VDM_VDO = (b"VDM", b"VDO")
_POSITION_TYPES = frozenset((1, 2, 3, 18, 19, 27, 9))
_NO_TIME = f"no timestamp: no tag block c:, $PGHP or trailing time; {NO_TIME_HINT}"
# The position quality of an AIS report: [position accuracy flag][RAIM flag], as pyais decodes
# them (bool, or None when the payload is too short to hold them).
_AIS_QUALITY = {
    acc: {raim: position_quality(accuracy_high=acc, raim=raim) for raim in (True, False, None)}
    for acc in (True, False, None)
}


@dataclass(slots=True)
class ShipStatic:
    """Static data of one MMSI, merged from types 5, 19 and 24 (ITU-R M.1371-5)."""

    name: str | None = None
    callsign: str | None = None
    type_code: str | None = None  # ship and cargo type (Table 53), as text
    length_m: float | None = None  # to_bow + to_stern
    beam_m: float | None = None  # to_port + to_starboard
    imo: int | None = None
    # (category, source) of the ship as its static data say, worked out at its next report
    # (None: not yet, or the static data changed since).
    decided: tuple[Category, str | None] | None = None


class _Tag:
    """What a tag block says: validity, time, source."""

    __slots__ = ("error", "t_s", "source")

    def __init__(self, error: str | None, t_s: float | None, source: str | None) -> None:
        self.error = error
        self.t_s = t_s
        self.source = source


class _Group:
    """An unfinished multi-sentence message."""

    __slots__ = ("first_pos", "raws", "parts", "t_s", "t_error", "receiver", "received_s")

    def __init__(self, first_pos: int) -> None:
        self.first_pos = first_pos
        self.raws: list[bytes] = []
        self.parts: list[AISSentence] = []
        self.t_s: float | None = None
        self.t_error: str | None = None
        self.receiver: str | None = None
        self.received_s: float | None = None


def _text(value: object) -> str | None:
    """pyais 6-bit text: '@' padding and blanks stripped; empty -> None."""
    if not isinstance(value, str):
        return None
    s = value.replace("@", " ").strip()
    return s or None


def _parse_tag(raw: bytes) -> _Tag:
    """Parse an NMEA 4.0 tag block body (between the backslashes)."""
    star = raw.rfind(b"*")
    if star < 0:
        return _Tag("malformed tag block: no checksum", None, None)
    body = raw[:star]
    try:
        expected = int(raw[star + 1 :], 16)
    except ValueError:
        return _Tag(f"malformed tag block: checksum {raw[star + 1:]!r} is not hex", None, None)
    actual = reduce(xor, body, 0)
    if actual != expected:
        return _Tag(f"checksum mismatch: tag block expects {expected:02X}, computed {actual:02X}", None, None)
    t_s: float | None = None
    source: str | None = None
    for field in body.split(_COMMA):
        code, sep, value = field.partition(b":")
        if not sep:
            return _Tag(f"malformed tag block: field {field!r} has no ':'", None, None)
        if code == b"c":
            try:
                t = float(value)
            except ValueError:
                return _Tag(f"unparseable timestamp: tag block c:{value!r}", None, None)
            if t > 1e11:  # milliseconds
                t /= 1000.0
            if not EPOCH_MIN_S <= t < EPOCH_MAX_S:
                return _Tag(f"impossible timestamp: tag block c:{value.decode('ascii', 'replace')}", None, None)
            t_s = t
        elif code == b"s":
            source = value.decode("ascii", "replace") or None
    return _Tag(None, t_s, source)


class AisDecoder(DecoderBase):
    """Decode AIS NMEA lines of one feed into TrackUpdates and DeadLetters.

    ``decode`` may be called repeatedly with successive chunks of the same feed (one
    call per UDP datagram, say) with ``final=False``; state (pending fragments, static
    data, positions) carries over. ``final=True`` (the default) dead-letters fragments
    still pending when the input ends.
    """

    framing = "lines"

    def __init__(
        self,
        *args: Any,
        max_group_lines: int = 64,
        max_ships: int = 500_000,
        dedup_window_s: float = 5.0,
        max_dedup: int = 200_000,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_group_lines = max_group_lines
        self.max_ships = max_ships
        self.dedup_window_s = dedup_window_s
        self.max_dedup = max_dedup
        self._recent: dict[bytes, float] = {}  # payload -> data time of its first copy, oldest first
        self._swept_s = -float("inf")
        self._by_mmsi: dict[int, tuple[Category, str | None]] = {}
        self._static: dict[int, ShipStatic] = {}
        self._groups: dict[tuple[int, str, str, int], _Group] = {}
        self._tag_cache: dict[bytes, _Tag] = {}
        self._pghp_base: dict[bytes, float | None] = {}
        self._pending_tag: _Tag | None = None
        self._pending_pghp: tuple[float | None, str | None, str | None] | None = None
        self._receivers: dict[bytes, str] = {}

    # -- public ----------------------------------------------------------------------

    def static(self, mmsi: int) -> ShipStatic | None:
        """Static data merged so far for ``mmsi`` (name, callsign, type, dimensions)."""
        return self._static.get(mmsi)

    def decode(self, lines: Iterable[bytes], *, final: bool = True) -> Iterator[AisItem]:
        stats = self.stats
        dead = stats.dead_letter
        clock = self.clock
        tag_cache = self._tag_cache
        max_line = self.limits.max_line_bytes
        for raw in lines:
            self.position += 1
            pos = self.position
            stats.lines += 1
            if len(raw) > max_line:
                yield dead(pos, raw[:max_line], oversized(max_line, "line", "max_line_bytes"))
                continue
            line = raw.strip()
            if not line:
                stats.ignored["blank line"] += 1
                continue
            c0 = line[0]
            tag: _Tag | None = None
            if c0 == _BACKSLASH:
                end = line.find(b"\\", 1)
                if end < 0:
                    yield dead(pos, raw, "malformed tag block: no closing backslash")
                    continue
                tag_raw = line[1:end]
                tag = tag_cache.get(tag_raw)
                if tag is None:
                    tag = _parse_tag(tag_raw)
                    if tag.t_s is None:  # timed blocks differ on every line: do not cache
                        if len(tag_cache) > 1024:
                            tag_cache.clear()
                        tag_cache[tag_raw] = tag
                if tag.error is not None:
                    self._pending_tag = None
                    yield dead(pos, raw, tag.error)
                    continue
                line = line[end + 1 :]
                if not line:
                    self._pending_tag = tag  # applies to the next AIS sentence
                    continue
                c0 = line[0]
            elif c0 == _HASH:
                stats.ignored["comment"] += 1
                continue

            # Checksum and the USCG trailer after it.
            star = line.rfind(b"*")
            if star < 0 or c0 not in (_BANG, _DOLLAR):
                yield dead(pos, raw, "malformed line: not an NMEA sentence")
                continue
            trailer = None
            if len(line) != star + 3:
                trailer = line[star + 3 :]
                line = line[: star + 3]
            try:
                expected = int(line[star + 1 :], 16)
            except ValueError:
                yield dead(pos, raw, f"malformed line: checksum field {line[star + 1:]!r} is not hex")
                continue
            actual = reduce(xor, line[1:star], 0)
            if actual != expected:
                yield dead(pos, raw, f"checksum mismatch: expected {expected:02X}, computed {actual:02X}")
                continue

            fields = line.split(_COMMA)
            head = fields[0]
            if c0 == _DOLLAR:
                if head == b"$PGHP" and len(fields) > 1 and fields[1] == b"1":
                    err = self._take_pghp(fields)
                    if err is not None:
                        yield dead(pos, raw, err)
                else:
                    stats.ignored["other sentence"] += 1
                continue
            if head[3:] not in _VDM_VDO:
                stats.ignored["other sentence"] += 1
                continue
            try:
                sentence = AISSentence(line, fields)
            except (InvalidNMEAMessageException, ValueError, IndexError) as e:
                yield dead(pos, raw, f"malformed sentence: {e}")
                continue

            # Time and receiver of this sentence.
            if tag is None:
                tag = self._pending_tag
            self._pending_tag = None
            pghp = self._pending_pghp
            self._pending_pghp = None
            t_s: float | None = None
            t_error: str | None = None
            receiver: str | None = None
            if tag is not None:
                t_s = tag.t_s
                receiver = tag.source
            if t_s is None and pghp is not None:
                t_s = pghp[0]
                if receiver is None:
                    receiver = pghp[1]
            if trailer is not None:
                tt, trecv, t_error = self._parse_trailer(trailer)
                if t_s is None:
                    t_s = tt
                if receiver is None:
                    receiver = trecv
            received_s: float | None = None
            if clock is not None and t_s is None and t_error is None:
                t_s = received_s = clock()

            if sentence.frag_cnt == 1:
                if t_error is not None:
                    yield dead(pos, raw, t_error)
                    continue
                if t_s is None:
                    yield dead(pos, raw, _NO_TIME)
                    continue
                yield from self._message(sentence, pos, raw, t_s, receiver, received_s)
                continue

            # Multi-sentence message.
            slot = (sentence.seq_id or -1, sentence.channel, sentence.talker_id, sentence.frag_cnt)
            groups = self._groups
            if groups:
                yield from self._expire(pos)
            group = groups.get(slot)
            frag_num = sentence.frag_num
            if frag_num == 1:
                if group is not None:
                    del groups[slot]
                    yield self._truncated(group)
                group = _Group(pos)
                group.t_s, group.t_error, group.receiver, group.received_s = t_s, t_error, receiver, received_s
                group.raws.append(raw)
                group.parts.append(sentence)
                groups[slot] = group
                continue
            if group is None:
                yield dead(
                    pos, raw, f"truncated multi-sentence message: fragment {frag_num} of {sentence.frag_cnt} without fragment 1"
                )
                continue
            if frag_num != len(group.parts) + 1:
                del groups[slot]
                group.raws.append(raw)
                yield dead(
                    group.first_pos,
                    b"\n".join(group.raws),
                    f"truncated multi-sentence message: fragment {frag_num} of {sentence.frag_cnt} "
                    f"after fragment {len(group.parts)}",
                )
                continue
            group.raws.append(raw)
            group.parts.append(sentence)
            if group.t_s is None and group.t_error is None:
                group.t_s, group.t_error = t_s, t_error
            if frag_num < sentence.frag_cnt:
                continue
            del groups[slot]
            joined = b"\n".join(group.raws)
            if group.t_error is not None:
                yield dead(group.first_pos, joined, group.t_error)
                continue
            if group.t_s is None:
                yield dead(group.first_pos, joined, _NO_TIME)
                continue
            try:
                assembled = AISSentence.assemble_from_iterable(group.parts)
            except (InvalidNMEAMessageException, ValueError, IndexError) as e:
                yield dead(group.first_pos, joined, f"malformed sentence: {e}")
                continue
            yield from self._message(assembled, group.first_pos, joined, group.t_s, group.receiver, group.received_s)
        if final:
            yield from self.flush()

    def flush(self) -> Iterator[DeadLetter]:
        """Dead-letter every multi-sentence message still incomplete."""
        groups = list(self._groups.values())
        self._groups.clear()
        for g in groups:
            yield self._truncated(g)

    # -- helpers ---------------------------------------------------------------------

    def _truncated(self, g: _Group) -> DeadLetter:
        n = g.parts[0].frag_cnt if g.parts else 0
        return self.stats.dead_letter(
            g.first_pos,
            b"\n".join(g.raws),
            f"truncated multi-sentence message: {len(g.parts)} of {n} fragments",
        )

    def _expire(self, pos: int) -> Iterator[DeadLetter]:
        limit = self.max_group_lines
        stale = [k for k, g in self._groups.items() if pos - g.first_pos > limit]
        for k in stale:
            yield self._truncated(self._groups.pop(k))

    def _take_pghp(self, fields: list[bytes]) -> str | None:
        """Gatehouse ``$PGHP,1,yyyy,mm,dd,hh,mi,ss,ms,country,region,pss,online,cs``."""
        if len(fields) < 9:
            self._pending_pghp = None
            return f"unparseable timestamp: $PGHP has {len(fields)} fields"
        key = b",".join(fields[2:6])
        base = self._pghp_base.get(key, False)
        if base is False:
            try:
                y, mo, d, h = (int(x) for x in fields[2:6])
                if not (1990 <= y < 2100 and 1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1] and 0 <= h < 24):
                    raise ValueError("out of range")
                base = float(calendar.timegm((y, mo, d, h, 0, 0)))
            except ValueError:
                base = None
            if len(self._pghp_base) > 4096:
                self._pghp_base.clear()
            self._pghp_base[key] = base
        try:
            mi, s, ms = int(fields[6]), int(fields[7]), int(fields[8])
        except ValueError:
            base = None
            mi = s = ms = 0
        if base is None or not (0 <= mi < 60 and 0 <= s <= 60 and 0 <= ms < 1000):
            self._pending_pghp = None
            return "unparseable timestamp: $PGHP date/time " + b",".join(fields[2:9]).decode("ascii", "replace")
        pss = self._receiver(fields[11]) if len(fields) > 11 and fields[11] else None
        self._pending_pghp = (base + mi * 60 + s + ms / 1000.0, pss, None)
        return None

    def _receiver(self, raw: bytes) -> str:
        """A receiver id as text (a feed has few: decoded once each)."""
        name = self._receivers.get(raw)
        if name is None:
            if len(self._receivers) > 4096:
                self._receivers.clear()
            name = self._receivers[raw] = raw.decode("ascii", "replace")
        return name

    @staticmethod
    def _parse_trailer(trailer: bytes) -> tuple[float | None, str | None, str | None]:
        """USCG NAIS fields after the checksum -> (time, station, error).

        ``,b003669794,1272412827`` or ``,s22,d-107,T31.62,x123,r003669946,1218325447``:
        the station is the ``b``/``r`` field, the time the last field when it is an
        integer (UNIX seconds). A trailer without such a field carries no time.
        """
        parts = trailer.split(_COMMA)
        if parts[0] != b"":
            return None, None, f"malformed line: {trailer[:20]!r} after the checksum"
        station = None
        for p in parts[1:-1]:
            if p[:1] in (b"b", b"r") and station is None:
                station = p.decode("ascii", "replace")
        last = parts[-1]
        if not last.isdigit():
            return None, station, None
        t_s = float(last)
        if not EPOCH_MIN_S <= t_s < EPOCH_MAX_S:
            return None, station, f"impossible timestamp: trailing epoch {last.decode('ascii', 'replace')}"
        return t_s, station, None

    def _ship(self, mmsi: int) -> ShipStatic:
        st = self._static.get(mmsi)
        if st is None:
            if len(self._static) >= self.max_ships:
                # Forget the ship heard of longest ago (dicts keep insertion order).
                self._static.pop(next(iter(self._static)))
                self.stats.evict("ship static data")
            st = self._static[mmsi] = ShipStatic()
        st.decided = None  # the caller is about to change its static data
        return st

    def _message(
        self,
        sentence: AISSentence,
        pos: int,
        raw: bytes,
        t_s: float,
        receiver: str | None,
        received_s: float | None,
    ) -> Iterator[AisItem]:
        stats = self.stats
        window = self.dedup_window_s
        if window > 0:
            payload = sentence.payload
            recent = self._recent
            first = recent.get(payload)
            if first is not None:
                if -window <= t_s - first <= window:
                    stats.duplicates += 1
                    return
                del recent[payload]  # an old copy: this one starts a new window, last in the order
            recent[payload] = t_s
            if len(recent) > self.max_dedup or t_s - self._swept_s > window:
                self._sweep(t_s)
        try:
            msg: Any = sentence.decode()  # a union of ~60 pyais classes; fields read by type below
        except UnknownMessageException:
            stats.ignored[f"message type {sentence.ais_id}"] += 1
            return
        except MissingPayloadException:
            yield stats.dead_letter(pos, raw, "empty payload")
            return
        except Exception as e:  # pyais raises many kinds on corrupt payloads
            yield stats.dead_letter(pos, raw, f"undecodable payload: {type(e).__name__}: {e}")
            return
        stats.messages += 1
        mt = msg.msg_type
        mmsi = msg.mmsi
        if mmsi is None or not 0 < mmsi <= 999_999_999:
            yield stats.dead_letter(pos, raw, f"impossible value: MMSI {mmsi}")
            return
        if mt not in _POSITION_TYPES:
            if mt == 5:
                self._static5(msg)
            elif mt == 24:
                self._static24(msg)
            elif mt == 21:
                stats.ignored["aid to navigation (type 21)"] += 1
            else:
                stats.ignored[f"message type {mt}"] += 1
            return
        lat = msg.lat
        lon = msg.lon
        if lat is None or lon is None:
            yield stats.dead_letter(pos, raw, f"truncated payload: type {mt} has {len(sentence.bv)} bits")
            return
        if lat == 91.0 or lon == 181.0:
            stats.ignored["no position"] += 1
            return
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            yield stats.dead_letter(pos, raw, f"impossible value: lat {lat}, lon {lon}")
            return
        domain: Domain = "sea"
        alt_m: float | None = None
        alt_ref: AltRef | None = None
        heading: float | None = None
        nav_status: int | None = None
        speed_kn = msg.speed
        course = msg.course
        if mt <= 3 or mt == 27:
            status = msg.status
            if status is not None and status != 15:  # Table 45: 15 "not defined"
                nav_status = int(status)
        if mt == 27:
            # Long range: speed 0-62 kn (63 n/a), course 0-359 deg (511 n/a), no heading.
            speed_kn = None if speed_kn == 63 else speed_kn
            if course == 511:
                course = None
            elif course is not None and course > 359:
                yield stats.dead_letter(pos, raw, bad_field(f"course {course} is outside [0, 359] (type 27)"))
                course = None
        elif mt == 9:
            domain = "air"
            alt = msg.alt
            if alt is not None and alt != 4095:
                alt_m = float(alt)
                # ITU-R M.1371-5 Table 52 "altitude sensor" (0 GNSS, 1 barometric): the
                # first of the 8 bits after the time stamp, which pyais calls reserved_1.
                alt_ref = "baro" if (msg.reserved_1 or 0) & 0x80 else "geom"
            speed_kn = None if speed_kn is None or speed_kn == 1023 else speed_kn
            if course is not None and course >= 360.0:
                if course != 360.0:
                    yield stats.dead_letter(pos, raw, bad_field(f"course {course} is outside [0, 360)"))
                course = None
        else:
            if speed_kn is not None and speed_kn >= 102.3:
                speed_kn = None
            if course is not None and course >= 360.0:
                if course != 360.0:
                    yield stats.dead_letter(pos, raw, bad_field(f"course {course} is outside [0, 360)"))
                course = None
            h = msg.heading
            if h is not None and h != 511:
                if h > 359:
                    yield stats.dead_letter(pos, raw, bad_field(f"heading {h} is outside [0, 359]"))
                else:
                    heading = float(h)
            if mt == 19:
                st = self._ship(mmsi)
                name = _text(msg.shipname)
                if name:
                    st.name = name
                self._dims_type(st, msg)
        known = self._static.get(mmsi)
        if known is not None:
            name, callsign, type_code = known.name, known.callsign, known.type_code
            decided = known.decided
            if decided is None:
                decided = known.decided = self.classifier.ais(mmsi, type_code, name, callsign)
        else:
            name = callsign = type_code = None
            decided = self._by_mmsi.get(mmsi)  # what the MMSI alone says (no static data)
            if decided is None:
                if len(self._by_mmsi) >= self.max_ships:
                    stats.evict("MMSI classifications", len(self._by_mmsi))
                    self._by_mmsi.clear()
                decided = self._by_mmsi[mmsi] = self.classifier.ais(mmsi)
        country, side = self.affiliation.for_mmsi(mmsi, callsign, None, t_s)
        if receiver is not None and len(receiver) > MAX_TEXT_CHARS:
            yield stats.dead_letter(pos, raw, bad_field(f"receiver id of {len(receiver):,} characters, more than {MAX_TEXT_CHARS}"))
            receiver = None
        try:
            update = TrackUpdate(
                track_id=f"ais:{mmsi}",
                source=self.feed,
                t_s=t_s,
                lat_deg=lat,
                lon_deg=lon,
                domain=domain,
                side=side,
                alt_m=alt_m,
                alt_ref=alt_ref,
                speed_mps=None if speed_kn is None else speed_kn * KNOTS_TO_MPS,
                course_deg=course,
                heading_deg=heading,
                country=country,
                callsign=callsign,
                name=name,
                type_code=type_code,
                receiver=receiver,
                raw_ref=self.ref_prefix + str(pos),
                category=decided[0],
                category_source=decided[1],
                nav_status=nav_status,
                quality=_AIS_QUALITY[msg.accuracy][msg.raim],
            )
        except RecordError as e:  # the last net: every value above was checked
            yield stats.dead_letter(pos, raw, f"impossible value: {e}")
            return
        stats.updates += 1
        yield update

    def _sweep(self, t_s: float) -> None:
        """Forget the payloads seen longer than ``dedup_window_s`` before ``t_s``, oldest first,
        and the oldest beyond ``max_dedup`` (run at most once per window of data time; input
        out of time order stops the sweep early, the size bound still holds)."""
        recent = self._recent
        self._swept_s = t_s
        horizon = t_s - self.dedup_window_s
        stale = []
        for key, seen_s in recent.items():
            if seen_s >= horizon:
                break
            stale.append(key)
        for key in stale:
            del recent[key]
        over = len(recent) - self.max_dedup
        for _ in range(over):
            del recent[next(iter(recent))]
        if over > 0:
            self.stats.evict("payloads kept to merge copies", over)

    @staticmethod
    def _dims_type(st: ShipStatic, msg: object) -> None:
        ship_type = getattr(msg, "ship_type", None)
        if ship_type:
            st.type_code = str(int(ship_type))
        bow, stern = getattr(msg, "to_bow", None), getattr(msg, "to_stern", None)
        port, stbd = getattr(msg, "to_port", None), getattr(msg, "to_starboard", None)
        if bow is not None and stern is not None and bow + stern > 0:
            st.length_m = float(bow + stern)
        if port is not None and stbd is not None and port + stbd > 0:
            st.beam_m = float(port + stbd)

    def _static5(self, msg: object) -> None:
        st = self._ship(msg.mmsi)  # type: ignore[attr-defined]
        name = _text(getattr(msg, "shipname", None))
        callsign = _text(getattr(msg, "callsign", None))
        if name:
            st.name = name
        if callsign:
            st.callsign = callsign
        imo = getattr(msg, "imo", None)
        if imo:
            st.imo = int(imo)
        self._dims_type(st, msg)

    def _static24(self, msg: object) -> None:
        st = self._ship(msg.mmsi)  # type: ignore[attr-defined]
        partno = getattr(msg, "partno", None)
        if partno == 0:
            name = _text(getattr(msg, "shipname", None))
            if name:
                st.name = name
        elif partno == 1:
            callsign = _text(getattr(msg, "callsign", None))
            if callsign:
                st.callsign = callsign
            self._dims_type(st, msg)


def _nmea_cs(body: bytes) -> str:
    return f"{nmea_checksum(body):02X}"


def encode_nmea(
    data: dict[str, object],
    t_s: float | None = None,
    *,
    timestamp: str = "tag",
    source: str | None = None,
    talker_id: str = "AI",
    sentence_type: str = "VDM",
    channel: str = "A",
    seq_id: int | None = None,
) -> list[bytes]:
    """Encode one AIS message (pyais ``encode_dict`` fields) as feed lines with its time.

    ``timestamp``: ``"tag"`` (NMEA 4.0 tag block ``\\c:<t>,s:<source>*hh\\`` before the
    first sentence), ``"pghp"`` (a ``$PGHP,1,...`` line before the sentences), ``"uscg"``
    (``,<source>,<t>`` after every sentence's checksum), or ``"none"``. The inverse of
    :meth:`AisDecoder.decode`, for scenario generators and tests.
    """
    from pyais import encode_dict

    sentences = [
        s.encode("ascii")
        for s in encode_dict(
            data, talker_id=talker_id, sentence_type=sentence_type, radio_channel=channel, seq_id=seq_id  # type: ignore[arg-type]
        )
    ]
    if timestamp == "none" or t_s is None:
        return sentences
    if timestamp == "tag":
        # Whole seconds as UNIX seconds; a fractional time as milliseconds (both in use).
        fields = [f"c:{int(t_s)}" if t_s == int(t_s) else f"c:{round(t_s * 1000)}"]
        if source:
            fields.append(f"s:{source}")
        body = ",".join(fields).encode("ascii")
        return [b"\\" + body + b"*" + _nmea_cs(body).encode() + b"\\" + sentences[0], *sentences[1:]]
    if timestamp == "pghp":
        import datetime as _dt

        d = _dt.datetime.fromtimestamp(t_s, _dt.timezone.utc)
        wrapped_cs = sentences[0][-2:].decode()
        body = (
            f"PGHP,1,{d.year},{d.month},{d.day},{d.hour},{d.minute},{d.second},{d.microsecond // 1000},"
            f",,{source or ''},1,{wrapped_cs}"
        ).encode("ascii")
        return [b"$" + body + b"*" + _nmea_cs(body).encode(), *sentences]
    if timestamp == "uscg":
        tail = f",{source or 'r000000000'},{int(t_s)}".encode("ascii")
        return [s + tail for s in sentences]
    raise ValueError(f"timestamp must be 'tag', 'pghp', 'uscg' or 'none', not {timestamp!r}")
