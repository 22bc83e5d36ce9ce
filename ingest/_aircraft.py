"""What the ADS-B / Mode S decoders share: one aircraft's merged state and its report.

SBS-1 lines, raw Mode S frames and ``aircraft.json`` entries all speak in the units of
the avionics (feet, knots, feet per minute) and carry the values of an aircraft in
separate messages (identification, velocity, altitude, position). :class:`AircraftState`
holds what was heard last; :meth:`AircraftState.report` turns it, at a position, into a
:class:`config.records.TrackUpdate` in SI units.

Altitudes (ICAO Annex 10 Vol IV; RTCA DO-260B):

* ``alt_ft``: barometric pressure altitude (standard atmosphere, 1013.25 hPa), as
  Mode C/S replies and ADS-B airborne positions TC 9-18 report it;
* ``alt_geom_ft``: geometric height above the WGS 84 ellipsoid, as ADS-B airborne
  positions TC 20-22 ("GNSS height (HAE)") report it, or readsb's ``alt_geom``;
* ``geom_minus_baro_ft``: the difference GNSS height minus barometric altitude of ADS-B
  airborne velocity (TC 19), which gives the geometric height from a barometric one.

The report's ``alt_m`` is the barometric altitude when known (``alt_ref = "baro"``),
else the geometric height (``"geom"``), and ``None`` for an aircraft that reports
itself on the ground; ``alt_geom_m`` is the geometric height when known or derivable.

Quality and context: ``on_ground`` (``None`` until a message says), and the ADS-B
position-quality categories the feed gives (``adsb_version``, ``nic``, ``nac_p``,
``nac_v``, ``sil``, ``gva``, ``nuc_p``, ``gnss_ok_before_s``): a decoder sets them, then
calls :meth:`AircraftState.quality_changed`, and every report carries them as one
:class:`config.records.PositionQuality`. :func:`nic_of` derives the NIC of a position
message from its type code and the NIC supplements, as ADS-B versions 1 and 2 define it.
"""

from __future__ import annotations

from config.records import AltRef, Category, PositionQuality, RecordError, Side, TrackUpdate, position_quality
from ingest._common import FPM_TO_MPS, FT_TO_M, KNOTS_TO_MPS, Rejected

__all__ = ["AircraftState", "nic_of", "nuc_p_of"]

# NUCp of a position message by its type code, ADS-B version 0 (RTCA DO-260, 2.2.3.2.3; ICAO
# Doc 9871, Technical Provisions for Mode S Services and Extended Squitter: surface TC 5-8,
# airborne with barometric altitude TC 9-18, with GNSS height TC 20-22).
_NUC_P = {5: 9, 6: 8, 7: 7, 8: 6, 9: 9, 10: 8, 11: 7, 12: 6, 13: 5, 14: 4, 15: 3, 16: 2, 17: 1, 18: 0,
          20: 9, 21: 8, 22: 0}
# NIC of a position message by its type code, ADS-B versions 1 and 2 (DO-260A/B Table 2-14 and
# 2-15; ICAO Doc 9871 Appendix C). An int: the type code settles it. A dict: the NIC
# supplements decide; the key is (NIC supplement A, B) for airborne positions (version 1: the
# one supplement of TC 31, with B = A) and (A, C) for surface positions; a pair missing from
# the dict is not a valid combination (no NIC).
_NIC: dict[int, int | dict[tuple[int, int], int]] = {
    5: 11, 6: 10, 7: {(1, 0): 9, (0, 0): 8}, 8: {(1, 1): 7, (1, 0): 6, (0, 1): 6, (0, 0): 0},
    9: 11, 10: 10, 11: {(1, 1): 9, (0, 0): 8}, 12: 7, 13: 6, 14: 5, 15: 4,
    16: {(1, 1): 3, (0, 0): 2}, 17: 1, 18: 0, 20: 11, 21: 10, 22: 0,
}
# Version 1 (DO-260A) surface positions: TC 7 is NIC 8 or 9 by the one supplement; TC 8 is 0.
_NIC_V1_SURFACE: dict[int, dict[int, int]] = {7: {1: 9, 0: 8}}


def nuc_p_of(type_code: int) -> int | None:
    """NUCp of a version 0 position message (TC 5-8, 9-18, 20-22), else None."""
    return _NUC_P.get(type_code)


def nic_of(type_code: int, version: int | None, nic_a: int | None, nic_b: int | None, nic_c: int | None) -> int | None:
    """NIC of a position message of ADS-B version 1 or 2, or None when it cannot be told.

    ``nic_a`` is the NIC supplement of the operational status message (TC 31, ME bit 44);
    ``nic_b`` the supplement of a version 2 airborne position (ME bit 8); ``nic_c`` that of
    a version 2 surface operational status (capability class, ME bit 20). Version 0 has
    no NIC (see :func:`nuc_p_of`).
    """
    entry = _NIC.get(type_code)
    if entry is None or version not in (1, 2):
        return None
    if isinstance(entry, int):
        return entry
    if nic_a is None:
        return None
    if version == 1:
        if 5 <= type_code <= 8:
            if type_code == 8:
                return 0
            return _NIC_V1_SURFACE[type_code].get(nic_a)
        return entry.get((nic_a, nic_a))
    other = nic_c if 5 <= type_code <= 8 else nic_b
    return None if other is None else entry.get((nic_a, other))


class AircraftState:
    """The last values heard from one aircraft (avionics units; ``None``: not heard)."""

    __slots__ = (
        "address",
        "track_id",
        "callsign",
        "alt_ft",
        "on_ground",
        "alt_geom_ft",
        "geom_minus_baro_ft",
        "gs_kn",
        "track_deg",
        "heading_deg",
        "vrate_fpm",
        "squawk",
        "adsb_version",
        "nic",
        "nac_p",
        "nac_v",
        "sil",
        "gva",
        "nuc_p",
        "gnss_ok_before_s",
        "nic_a",
        "nic_c",
        "quality",
    )

    def __init__(self, address: str) -> None:
        self.address = address  # 24-bit address, lower-case hex ("~" first: not an ICAO address)
        self.track_id = "icao:" + address
        self.callsign: str | None = None
        self.alt_ft: float | None = None
        # True: the aircraft says it is on the ground (then a geometric height is not taken
        # for alt_m); False: airborne; None: not said.
        self.on_ground: bool | None = None
        self.alt_geom_ft: float | None = None
        self.geom_minus_baro_ft: float | None = None
        self.gs_kn: float | None = None
        self.track_deg: float | None = None
        self.heading_deg: float | None = None
        self.vrate_fpm: float | None = None
        self.squawk: str | None = None
        # Position quality as the feed gives it (config.records.TrackUpdate).
        self.adsb_version: int | None = None
        self.nic: int | None = None
        self.nac_p: int | None = None
        self.nac_v: int | None = None
        self.sil: int | None = None
        self.gva: int | None = None
        self.nuc_p: int | None = None
        self.gnss_ok_before_s: float | None = None
        # NIC supplements A and C of the last operational status message (raw Mode S).
        self.nic_a: int | None = None
        self.nic_c: int | None = None
        self.quality: PositionQuality | None = None  # the values above, as reports carry them

    def quality_changed(self) -> None:
        """Make :attr:`quality` of the current values (after a decoder set some).

        Raises :class:`ingest._common.Rejected` ("impossible value: ...") for a value the
        record refuses."""
        try:
            self.quality = position_quality(None, None, self.adsb_version, self.nic, self.nac_p, self.nac_v,
                                            self.sil, self.gva, self.nuc_p, self.gnss_ok_before_s)
        except RecordError as e:
            raise Rejected(f"impossible value: {e}") from e

    def as_dict(self) -> dict[str, object]:
        return {s: getattr(self, s) for s in self.__slots__}

    def report(
        self,
        source: str,
        t_s: float,
        lat_deg: float,
        lon_deg: float,
        side: Side,
        country: str | None,
        raw_ref: str,
        name: str | None = None,
        type_code: str | None = None,
        category: Category = "unknown",
        category_source: str | None = None,
    ) -> TrackUpdate:
        """The aircraft at a position, in SI units.

        Raises :class:`ingest._common.Rejected` ("impossible value: ...") when the
        record refuses a value.
        """
        baro, geom, gs, vr = self.alt_ft, self.alt_geom_ft, self.gs_kn, self.vrate_fpm
        if geom is None and baro is not None and self.geom_minus_baro_ft is not None:
            geom = baro + self.geom_minus_baro_ft
        alt_m: float | None = None
        alt_ref: AltRef | None = None
        if baro is not None:
            alt_m, alt_ref = baro * FT_TO_M, "baro"
        elif geom is not None and self.on_ground is not True:
            alt_m, alt_ref = geom * FT_TO_M, "geom"
        try:
            return TrackUpdate(
                track_id=self.track_id,
                source=source,
                t_s=t_s,
                lat_deg=lat_deg,
                lon_deg=lon_deg,
                domain="air",
                side=side,
                alt_m=alt_m,
                alt_ref=alt_ref,
                alt_geom_m=None if geom is None else geom * FT_TO_M,
                speed_mps=None if gs is None else gs * KNOTS_TO_MPS,
                course_deg=self.track_deg,
                heading_deg=self.heading_deg,
                vrate_mps=None if vr is None else vr * FPM_TO_MPS,
                country=country,
                callsign=self.callsign,
                name=name,
                type_code=type_code,
                raw_ref=raw_ref,
                category=category,
                category_source=category_source,
                on_ground=self.on_ground,
                quality=self.quality,
            )
        except RecordError as e:
            raise Rejected(f"impossible value: {e}") from e
