"""Raw Mode S / ADS-B frames with timestamps, decoded with pyModeS, to TrackUpdates.

Line formats (one frame per line, hexadecimal, 56 or 112 bits):

* ``<epoch_s>,<hex>[,...]``: a CSV row, the time first (quotes allowed), as in the
  pyModeS sample ``sample_data_adsb.csv`` (``1457996400,"8D406B90...",406B90,19``);
* ``*<hex>;``: the Beast/AVR text format of dump1090 port 30002 (no time: the decoder's
  clock gives it, see docs/feeds.md);
* ``@<12 hex digit counter><hex>;``: AVR with a 12 MHz receiver counter, which is not a
  time of day: the clock gives the time as for ``*``.

Decoding is :class:`pyModeS.PipeDecoder` (ICAO Annex 10 Vol IV; DO-260B for ADS-B):
airborne positions come from even/odd CPR frame pairs (within 10 s) and then from the
last accepted position (locally unambiguous decoding); pyModeS holds the first
positions of an aircraft back until three of them agree, so the first update of an
aircraft comes a few frames after its first position frame. Identification (TC 1-4),
airborne velocity (TC 19: ground speed, track, vertical rate, GNSS minus barometric
altitude) and altitudes are merged per aircraft into every position update. Altitudes:
the pressure altitude of DF 4/20 replies and TC 9-18 positions is ``alt_m``
(``alt_ref = "baro"``); the GNSS height above the ellipsoid of TC 20-22 positions, or
the pressure altitude plus TC 19's difference, is ``alt_geom_m`` (and ``alt_m`` when no
pressure altitude is known).

Dead letters: a line that is not one of the formats, hex that is not a Mode S frame
(pyModeS error), a DF 11/17/18 frame whose CRC fails ("checksum mismatch"), a time that
does not parse or is impossible.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Union

from pyModeS import PipeDecoder

from config.records import DeadLetter, TrackUpdate
from ingest._aircraft import AircraftState
from ingest._common import FT_TO_M, NO_TIME_HINT, DecoderBase, Rejected, oversized, plausible_epoch, shown

__all__ = ["ModeSDecoder"]

Item = Union[TrackUpdate, DeadLetter]

_HEXCHARS = frozenset("0123456789abcdefABCDEF")
# pyModeS gives the GNSS height of TC 20-22 (whole metres on the air) as int(metres * this).
_PYMODES_FT_PER_M = 3.28084


class ModeSDecoder(DecoderBase):
    """Decode raw Mode S frames of one feed; CPR pairing state carries across calls."""

    framing = "lines"

    def __init__(self, *args: Any, surface_ref: tuple[float, float] | str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pipe = PipeDecoder(surface_ref=surface_ref)
        self._state: dict[str, AircraftState] = {}

    def _split(self, line: bytes) -> tuple[float | None, str | None, str | None]:
        """-> (time or None, hex frame, error)."""
        s = line.decode("ascii", "replace").strip()
        if s.startswith("*") or s.startswith("@"):
            if not s.endswith(";"):
                return None, None, "malformed line: AVR frame without ';'"
            frame = s[1:-1] if s[0] == "*" else s[13:-1]
            return None, frame, None
        parts = [p.strip().strip('"') for p in s.split(",")]
        if len(parts) < 2:
            return None, None, "malformed line: neither '<time>,<hex>' nor an AVR frame"
        try:
            t = float(parts[0])
        except ValueError:
            return None, None, f"unparseable timestamp: {shown(parts[0], 30)}"
        if not plausible_epoch(t):
            return None, None, f"impossible timestamp: {shown(parts[0], 30)} is outside 1990-2099"
        return t, parts[1], None

    def decode(self, lines: Iterable[bytes], *, final: bool = True) -> Iterator[Item]:
        stats = self.stats
        max_line = self.limits.max_line_bytes
        for raw in lines:
            self.position += 1
            pos = self.position
            stats.lines += 1
            if len(raw) > max_line:
                yield stats.dead_letter(pos, raw[:max_line], oversized(max_line, "line", "max_line_bytes"))
                continue
            if not raw.strip():
                stats.ignored["blank line"] += 1
                continue
            if raw.lstrip().startswith(b"#"):
                stats.ignored["comment"] += 1
                continue
            t_s, frame, err = self._split(raw)
            if err is not None:
                yield stats.dead_letter(pos, raw, err)
                continue
            assert frame is not None
            if len(frame) not in (14, 28) or not _HEXCHARS.issuperset(frame):
                yield stats.dead_letter(pos, raw, f"malformed line: {shown(frame, 30)} is not a 56- or 112-bit frame")
                continue
            received_s = None
            if t_s is None:
                if self.clock is None:
                    yield stats.dead_letter(pos, raw, f"no timestamp: an AVR frame carries none; {NO_TIME_HINT}")
                    continue
                t_s = received_s = self.clock()
            try:
                d = self._pipe.decode(frame, timestamp=t_s)
            except Exception as e:  # pyModeS must never stop the feed
                yield stats.dead_letter(pos, raw, f"undecodable payload: {type(e).__name__}: {e}", received_s)
                continue
            if "error" in d:
                yield stats.dead_letter(pos, raw, f"undecodable payload: {d['error']}", received_s)
                continue
            df = d.get("df")
            if d.get("crc_valid") is False and df in (11, 17, 18):
                yield stats.dead_letter(pos, raw, f"checksum mismatch: Mode S CRC of a DF{df} frame", received_s)
                continue
            icao = d.get("icao")
            if not isinstance(icao, str) or len(icao) != 6:
                stats.ignored[f"DF{df} without address"] += 1
                continue
            stats.messages += 1
            address = icao.lower()
            st = self._state.get(address)
            if st is None:
                if len(self._state) > 200_000:
                    self._state.pop(next(iter(self._state)))
                st = self._state[address] = AircraftState(address)
            cs = d.get("callsign")
            if isinstance(cs, str) and cs.strip("_ #"):
                st.callsign = cs.strip("_ #")
            alt = d.get("altitude")
            if isinstance(alt, (int, float)) and -1500 <= alt <= 130_000:
                if 20 <= (d.get("typecode") or 0) <= 22:
                    # GNSS height above the ellipsoid (DO-260B), sent in whole metres.
                    st.alt_geom_ft = round(alt / _PYMODES_FT_PER_M) / FT_TO_M
                else:
                    st.alt_ft = float(alt)  # pressure altitude (Mode C/S code, TC 9-18)
                    st.alt_geom_ft = None  # derived from TC 19's difference from now on
            diff = d.get("geo_minus_baro")
            if isinstance(diff, (int, float)):
                st.geom_minus_baro_ft = float(diff)
            gs, trk, vr, hdg = d.get("groundspeed"), d.get("track"), d.get("vertical_rate"), d.get("heading")
            if isinstance(gs, (int, float)) and 0 <= gs <= 2000:
                st.gs_kn = float(gs)
            if isinstance(trk, (int, float)) and 0 <= trk <= 360:
                st.track_deg = float(trk)
            if isinstance(vr, (int, float)):
                st.vrate_fpm = float(vr)
            if isinstance(hdg, (int, float)) and 0 <= hdg <= 360:
                st.heading_deg = float(hdg)
            lat, lon = d.get("latitude"), d.get("longitude")
            if lat is None or lon is None:
                continue
            country, side = self.affiliation.for_icao(address, st.callsign)
            try:
                update = st.report(self.feed, t_s, float(lat), float(lon), side, country, f"{self.ref_prefix}{pos}")
            except Rejected as e:
                yield stats.dead_letter(pos, raw, str(e), received_s)
                continue
            stats.updates += 1
            yield update
