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
"""

from __future__ import annotations

from config.records import AltRef, RecordError, Side, TrackUpdate
from ingest._common import FPM_TO_MPS, FT_TO_M, KNOTS_TO_MPS, Rejected

__all__ = ["AircraftState"]


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
    )

    def __init__(self, address: str) -> None:
        self.address = address  # 24-bit address, lower-case hex ("~" first: not an ICAO address)
        self.track_id = "icao:" + address
        self.callsign: str | None = None
        self.alt_ft: float | None = None
        self.on_ground = False  # said "ground" instead of an altitude: alt_m stays None
        self.alt_geom_ft: float | None = None
        self.geom_minus_baro_ft: float | None = None
        self.gs_kn: float | None = None
        self.track_deg: float | None = None
        self.heading_deg: float | None = None
        self.vrate_fpm: float | None = None
        self.squawk: str | None = None

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
        elif geom is not None and not self.on_ground:
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
            )
        except RecordError as e:
            raise Rejected(f"impossible value: {e}") from e
