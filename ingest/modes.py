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

Who and how good (``config.records.TrackUpdate``): ``category`` from
:class:`config.classification.Classifier` (address block, callsign); ``on_ground`` from the
position type code (surface TC 5-8: on the ground; airborne TC 9-18, 20-22: airborne).
Position quality (RTCA DO-260/260A/260B; ICAO Doc 9871): the aircraft operational status
message (TC 31) gives the ADS-B version, NACp, SIL and NIC supplement A (version 1 and 2),
GVA (version 2 airborne) and, for a version 2 aircraft on the surface, NIC supplement C and
NACv from its capability class; the airborne velocity (TC 19) gives NACv (version 1 and 2).
Each position message then gives the NIC from its type code and the supplements
(:func:`ingest._aircraft.nic_of`; version 2 airborne positions carry supplement B
themselves). Until an operational status message tells the version, and for version 0,
the position's type code gives the NUCp instead (``nuc_p``; ``adsb_version`` stays None
while unknown). A value the standard leaves reserved (NACp 12-15, NACv 5-7) is None.

Dead letters: a line that is not one of the formats, hex that is not a Mode S frame
(pyModeS error), a DF 11/17/18 frame whose CRC fails ("checksum mismatch"), a time that
does not parse or is impossible.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Union

from pyModeS import PipeDecoder

from config.records import DeadLetter, TrackUpdate
from ingest._aircraft import AircraftState, nic_of, nuc_p_of
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
                    stats.evict("aircraft")
                st = self._state[address] = AircraftState(address)
            cs = d.get("callsign")
            if isinstance(cs, str) and cs.strip("_ #"):
                st.callsign = cs.strip("_ #")
            tc = d.get("typecode")
            if df in (17, 18) and isinstance(tc, int):
                _quality(st, tc, d, frame)
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
            country, side = self.affiliation.for_icao(address, st.callsign, None, t_s)
            category, source = self.classifier.aircraft(address, st.callsign)
            try:
                update = st.report(self.feed, t_s, float(lat), float(lon), side, country, f"{self.ref_prefix}{pos}",
                                   None, None, category, source)
            except Rejected as e:
                yield stats.dead_letter(pos, raw, str(e), received_s)
                continue
            stats.updates += 1
            yield update


def _quality(st: AircraftState, tc: int, d: dict[str, Any], frame: str) -> None:
    """What an ADS-B message (DF 17/18 of type code ``tc``, decoded into ``d``) says of the
    aircraft's position quality and air/ground state (see the module doc)."""
    version = st.adsb_version
    if tc == 31:
        v = d.get("version")
        if not isinstance(v, int) or not 0 <= v <= 7:  # 3 bits: never else, but this runs outside any try
            return
        st.adsb_version = v
        if v < 1:  # version 0 carries none of the fields below
            st.quality_changed()
            return
        nac_p, sil, nic_a = d.get("nac_p"), d.get("sil"), d.get("nic_supplement_a")
        st.nac_p = nac_p if isinstance(nac_p, int) and 0 <= nac_p <= 11 else None
        st.sil = sil if isinstance(sil, int) and 0 <= sil <= 3 else None
        st.nic_a = nic_a if nic_a in (0, 1) else None
        if v == 2:
            payload = int(frame[8:22], 16)  # the 56-bit ME field
            if d.get("subtype") == 0:
                st.gva = (payload >> 6) & 0x3  # ME bits 49-50
            elif d.get("subtype") == 1:
                cc = (payload >> 32) & 0xFFFF  # surface capability class, ME bits 9-24
                st.nic_c = (cc >> 4) & 0x1  # ME bit 20
                nac_v = (cc >> 5) & 0x7  # ME bits 17-19
                st.nac_v = nac_v if nac_v <= 4 else None
    elif tc == 19:
        velocity_accuracy = d.get("nac_v")  # version 0 sends NUCr in these bits
        if version is None or version < 1:
            return
        ok = isinstance(velocity_accuracy, int) and 0 <= velocity_accuracy <= 4
        st.nac_v = velocity_accuracy if ok else None
    elif 5 <= tc <= 22:
        st.on_ground = tc <= 8
        if version is None or version == 0:
            nuc_p, nic = nuc_p_of(tc), None
        else:
            nic_b = d.get("nic_b") if tc >= 9 else None
            nuc_p, nic = None, nic_of(tc, version, st.nic_a, nic_b if nic_b in (0, 1) else None, st.nic_c)
        if nuc_p == st.nuc_p and nic == st.nic:
            return  # the usual case: nothing changed
        st.nuc_p, st.nic = nuc_p, nic
    else:
        return
    st.quality_changed()
