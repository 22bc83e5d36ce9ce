"""The shared data model: what every room of closewatch passes to the next.

These records live in ``config`` (the one package every room may import) because
``ingest`` produces them and ``proximity`` consumes them, and neither may import
the other.

Conventions (see DESIGN.md):

* time is UTC epoch seconds as ``float`` (``t_s``), everywhere inside the
  pipeline; ISO 8601 strings appear only at the edges (JSON, HTML);
* positions are WGS 84 degrees, longitude/latitude order at every interface;
* ``None`` means "not available", never a magic number (AIS 511, 102.3, 91, 181);
* units are in the names: ``_m``, ``_mps``, ``_deg``, ``_s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, NoReturn

from shapely.geometry.base import BaseGeometry

__all__ = [
    "ALT_REFS",
    "DOMAINS",
    "SIDES",
    "ZONE_KINDS",
    "AltRef",
    "DeadLetter",
    "Domain",
    "Side",
    "ZoneKind",
    "RecordError",
    "TrackUpdate",
    "Zone",
]

Domain = Literal["air", "sea", "land"]
Side = Literal["nato", "russia", "other", "unknown"]
ZoneKind = Literal["border_buffer", "territorial", "exercise", "site", "custom"]
Severity = Literal["info", "warning", "critical"]
AltRef = Literal["baro", "geom"]

DOMAINS: tuple[Domain, ...] = ("air", "sea", "land")
SIDES: tuple[Side, ...] = ("nato", "russia", "other", "unknown")
ZONE_KINDS: tuple[ZoneKind, ...] = ("border_buffer", "territorial", "exercise", "site", "custom")
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
ALT_REFS: tuple[AltRef, ...] = ("baro", "geom")


class RecordError(ValueError):
    """A record was constructed with a value outside its domain."""


def _out_of_range(name: str, value: float, low: float, high: float) -> NoReturn:
    raise RecordError(f"{name}={value!r} is outside [{low}, {high}]")


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackUpdate:
    """One report of one track's state, normalised from any feed.

    Built with keywords only (``TrackUpdate(track_id=..., source=..., ...)``): a record
    of eighteen fields is not read right by position.

    ``track_id`` is namespaced by identity scheme: ``ais:<MMSI>``,
    ``icao:<24-bit hex, lower case>``, ``cot:<uid>``, ``ext:<id>``.
    ``type_code`` is the ICAO aircraft type designator (e.g. ``TU95``) or the AIS
    ship and cargo type number as text (ITU-R M.1371-5, Table 53).
    ``raw_ref`` points back at the feed line for audit (``feed:line``).

    Altitudes (metres; ``None``: not available):

    * ``alt_m`` is the altitude the engine compares. For aircraft it is the
      barometric pressure altitude (ICAO standard atmosphere, 1013.25 hPa: what
      Mode C/S and ADS-B report, and what air traffic control separates by) when
      the feed gives one, otherwise a geometric (GNSS) height;
    * ``alt_ref`` says which: ``"baro"`` or ``"geom"`` (``None`` when there is no
      ``alt_m``, or a generic feed does not say);
    * ``alt_geom_m`` is the geometric height above the WGS 84 ellipsoid, where the
      feed gives it in that datum (ADS-B GNSS height, readsb ``alt_geom``, CoT
      ``hae``), also when ``alt_m`` is barometric.

    The two kinds differ by hundreds of metres with the weather and the altitude:
    compare like with like.
    """

    track_id: str
    source: str
    t_s: float
    lat_deg: float
    lon_deg: float
    domain: Domain
    side: Side = "unknown"
    alt_m: float | None = None
    alt_ref: AltRef | None = None
    alt_geom_m: float | None = None
    speed_mps: float | None = None
    course_deg: float | None = None
    heading_deg: float | None = None
    vrate_mps: float | None = None
    country: str | None = None
    callsign: str | None = None
    name: str | None = None
    type_code: str | None = None
    receiver: str | None = None
    raw_ref: str | None = None

    def __post_init__(self) -> None:
        # Written out rather than looped: every decoded report passes here. A NaN fails
        # every comparison, so ``not low <= v <= high`` rejects it too.
        if ":" not in self.track_id:
            raise RecordError(f"track_id {self.track_id!r} is not namespaced (scheme:id)")
        if not math.isfinite(self.t_s):
            raise RecordError(f"t_s={self.t_s!r} is not a finite epoch time")
        if not -90.0 <= self.lat_deg <= 90.0:
            _out_of_range("lat_deg", self.lat_deg, -90.0, 90.0)
        if not -180.0 <= self.lon_deg <= 180.0:
            _out_of_range("lon_deg", self.lon_deg, -180.0, 180.0)
        if self.domain not in DOMAINS:
            raise RecordError(f"domain {self.domain!r} is not one of {DOMAINS}")
        if self.side not in SIDES:
            raise RecordError(f"side {self.side!r} is not one of {SIDES}")
        v = self.speed_mps
        if v is not None and not 0.0 <= v <= 1500.0:
            _out_of_range("speed_mps", v, 0.0, 1500.0)
        v = self.course_deg
        if v is not None and not 0.0 <= v <= 360.0:
            _out_of_range("course_deg", v, 0.0, 360.0)
        v = self.heading_deg
        if v is not None and not 0.0 <= v <= 360.0:
            _out_of_range("heading_deg", v, 0.0, 360.0)
        v = self.alt_m
        if v is not None and not -500.0 <= v <= 40_000.0:
            _out_of_range("alt_m", v, -500.0, 40_000.0)
        if self.alt_ref is not None and (self.alt_ref not in ALT_REFS or v is None):
            raise RecordError(f"alt_ref {self.alt_ref!r} needs an alt_m and is one of {ALT_REFS}")
        v = self.alt_geom_m
        if v is not None and not -500.0 <= v <= 40_000.0:
            _out_of_range("alt_geom_m", v, -500.0, 40_000.0)

    @property
    def velocity_heading_deg(self) -> float | None:
        """Direction of motion: course over ground, else heading."""
        return self.course_deg if self.course_deg is not None else self.heading_deg


@dataclass(frozen=True, slots=True)
class Zone:
    """An area the engine watches.

    ``geometry`` is the *area* in lon/lat (already buffered: a border buffer zone
    is the polygon within ``buffer_m`` of the border, built in a local metric
    projection, see ``proximity.geometry``); ``buffer_m`` records the distance it
    was built with (0 for a plain area). ``sides`` and ``domains`` say whose tracks
    it concerns; ``active_from_s``/``active_until_s`` bound it in time (``None``:
    always). ``properties`` carry provenance and feed details for display.
    """

    zone_id: str
    name: str
    kind: ZoneKind
    geometry: BaseGeometry
    buffer_m: float = 0.0
    sides: tuple[Side, ...] = ("russia",)
    domains: tuple[Domain, ...] = DOMAINS
    severity: Severity = "warning"
    active_from_s: float | None = None
    active_until_s: float | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.zone_id:
            raise RecordError("zone_id is empty")
        if self.kind not in ZONE_KINDS:
            raise RecordError(f"zone {self.zone_id}: kind {self.kind!r} is not one of {ZONE_KINDS}")
        if self.geometry.is_empty:
            raise RecordError(f"zone {self.zone_id}: geometry is empty")
        if self.geometry.geom_type not in ("Polygon", "MultiPolygon"):
            raise RecordError(f"zone {self.zone_id}: geometry is a {self.geometry.geom_type}, need an area")
        if self.buffer_m < 0:
            raise RecordError(f"zone {self.zone_id}: buffer_m={self.buffer_m} is negative")
        for s in self.sides:
            if s not in SIDES:
                raise RecordError(f"zone {self.zone_id}: side {s!r} is not one of {SIDES}")
        for d in self.domains:
            if d not in DOMAINS:
                raise RecordError(f"zone {self.zone_id}: domain {d!r} is not one of {DOMAINS}")
        if self.severity not in SEVERITIES:
            raise RecordError(f"zone {self.zone_id}: severity {self.severity!r} is not one of {SEVERITIES}")
        if (
            self.active_from_s is not None
            and self.active_until_s is not None
            and self.active_until_s < self.active_from_s
        ):
            raise RecordError(f"zone {self.zone_id}: active window ends before it starts")

    def is_active(self, t_s: float) -> bool:
        if self.active_from_s is not None and t_s < self.active_from_s:
            return False
        if self.active_until_s is not None and t_s > self.active_until_s:
            return False
        return True


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Input that could not be used, kept with the reason so nothing is lost silently.

    ``position`` is where it was in the feed: the 1-based line (or datagram,
    message, record) number since the feed was opened; ``raw`` the bytes as read.
    """

    feed: str
    position: int
    raw: bytes
    reason: str
    received_s: float | None = None

    def __post_init__(self) -> None:
        if not self.reason:
            raise RecordError(f"dead letter from {self.feed}:{self.position} has no reason")
