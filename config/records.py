"""The shared data model: what every room of closewatch passes to the next.

These records live in ``config`` (the one package every room may import) because
``ingest`` produces them and ``proximity`` consumes them, and neither may import
the other: :class:`TrackUpdate` (one report of a track), :class:`Notice` (an area a
feed notifies, as the feed gives it), :class:`Zone` (an area the engine watches),
:class:`DeadLetter` (input that could not be used) and :class:`FeedHealth` (how a feed
is doing).

Conventions (see DESIGN.md):

* time is UTC epoch seconds as ``float`` (``t_s``), everywhere inside the
  pipeline; ISO 8601 strings appear only at the edges (JSON, HTML);
* positions are WGS 84 degrees, longitude/latitude order at every interface;
* ``None`` means "not available", never a magic number (AIS 511, 102.3, 91, 181);
* units are in the names: ``_m``, ``_mps``, ``_deg``, ``_s``.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field, fields
from functools import lru_cache
from typing import Any, Literal, Mapping, NoReturn, Sequence

from shapely.geometry.base import BaseGeometry

__all__ = [
    "ALT_REFS",
    "CATEGORIES",
    "DEAD_LETTER_STAGES",
    "DOMAINS",
    "FEED_STATES",
    "EDGE_KINDS",
    "MAX_DEAD_LETTER_DETAIL_CHARS",
    "MAX_ID_CHARS",
    "MAX_NOTICE_MARGIN_M",
    "MAX_NOTICE_NAME_CHARS",
    "MAX_NOTICE_RADIUS_M",
    "MAX_TEXT_CHARS",
    "NOTICE_KINDS",
    "SEVERITIES",
    "SIDES",
    "TRACK_BOUNDS",
    "ZONE_KINDS",
    "AltRef",
    "Category",
    "CircleArea",
    "DeadLetter",
    "DeadLetterStage",
    "Domain",
    "EdgeKind",
    "FeedHealth",
    "FeedState",
    "Notice",
    "NoticeArea",
    "NoticeKind",
    "PolygonArea",
    "RouteArea",
    "PositionQuality",
    "RecordError",
    "Severity",
    "Side",
    "TrackUpdate",
    "Zone",
    "ZoneKind",
    "position_quality",
    "quality_from_mapping",
    "track_updates_from_columns",
]

Domain = Literal["air", "sea", "land"]
Side = Literal["nato", "russia", "other", "unknown"]
# ``corridor``: the route of an announced flight (an Open Skies style notice); held so that
# events about the flight say it was announced, never watched for entries (proximity.zonetable)
ZoneKind = Literal["border_buffer", "territorial", "exercise", "site", "custom", "corridor"]
Severity = Literal["info", "warning", "critical"]
AltRef = Literal["baro", "geom"]
Category = Literal["military", "state", "civil", "unknown"]
DeadLetterStage = Literal["decode", "zone", "engine", "encode", "deliver"]
FeedState = Literal["running", "restarting", "failed"]

DOMAINS: tuple[Domain, ...] = ("air", "sea", "land")
SIDES: tuple[Side, ...] = ("nato", "russia", "other", "unknown")
ZONE_KINDS: tuple[ZoneKind, ...] = ("border_buffer", "territorial", "exercise", "site", "custom", "corridor")
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
ALT_REFS: tuple[AltRef, ...] = ("baro", "geom")
#: Who operates a track: armed forces; other state services (coast guard, border guard,
#: law enforcement, search and rescue, government transport); civil; not known.
CATEGORIES: tuple[Category, ...] = ("military", "state", "civil", "unknown")
#: Where along the pipeline a record failed (docs/operations.md): decoding its feed's bytes,
#: building a notified area into a zone, the engine, encoding for a sink, delivery to Kafka.
DEAD_LETTER_STAGES: tuple[DeadLetterStage, ...] = ("decode", "zone", "engine", "encode", "deliver")
FEED_STATES: tuple[FeedState, ...] = ("running", "restarting", "failed")

#: The inclusive range of each optional number of a :class:`TrackUpdate`. Speeds up to
#: 1,500 m/s (Mach 4.4 at altitude); altitudes from the Dead Sea shore to 40 km (above
#: any aircraft or balloon); a vertical rate no faster than the fastest ground speed.
TRACK_BOUNDS: dict[str, tuple[float, float]] = {
    "alt_m": (-500.0, 40_000.0),
    "alt_geom_m": (-500.0, 40_000.0),
    "speed_mps": (0.0, 1500.0),
    "course_deg": (0.0, 360.0),
    "heading_deg": (0.0, 360.0),
    "vrate_mps": (-1500.0, 1500.0),
}
#: The longest ``track_id`` (scheme included), characters: a UUID or an ATAK
#: ``ANDROID-<serial>`` uid fits many times over.
MAX_ID_CHARS = 128
#: The longest free text of a :class:`TrackUpdate` (``callsign``, ``name``, ``type_code``,
#: ``country``, ``receiver``), characters. AIS names hold 20, callsigns 7 (ITU-R
#: M.1371-5); ICAO flight identifications 8; CoT callsigns are free but short.
MAX_TEXT_CHARS = 64
#: The longest :attr:`Notice.name`, characters.
MAX_NOTICE_NAME_CHARS = 200
#: A dead letter's ``detail`` is cut to this many characters (its raw bytes keep the rest).
MAX_DEAD_LETTER_DETAIL_CHARS = 500


class RecordError(ValueError):
    """A record was constructed with a value outside its domain."""


def _out_of_range(name: str, value: float, low: float, high: float) -> NoReturn:
    raise RecordError(f"{name}={value!r} is outside [{low}, {high}]")


def _too_long(name: str, text: str) -> NoReturn:
    raise RecordError(f"{name} has {len(text)} characters, more than {MAX_TEXT_CHARS}")


def _bad_code(name: str, value: object, high: int) -> NoReturn:
    raise RecordError(f"{name}={value!r} is not a code 0..{high}")


def _check_scope(
    what: str,
    sides: tuple[Side, ...],
    domains: tuple[Domain, ...],
    severity: Severity,
    active_from_s: float | None,
    active_until_s: float | None,
) -> None:
    """Whose tracks, which domains, how loud, and when: shared by zones and notices."""
    for s in sides:
        if s not in SIDES:
            raise RecordError(f"{what}: side {s!r} is not one of {SIDES}")
    for d in domains:
        if d not in DOMAINS:
            raise RecordError(f"{what}: domain {d!r} is not one of {DOMAINS}")
    if severity not in SEVERITIES:
        raise RecordError(f"{what}: severity {severity!r} is not one of {SEVERITIES}")
    for name, t in (("active_from_s", active_from_s), ("active_until_s", active_until_s)):
        if t is not None and not math.isfinite(t):
            raise RecordError(f"{what}: {name}={t!r} is not a finite epoch time")
    if active_from_s is not None and active_until_s is not None and active_until_s < active_from_s:
        raise RecordError(f"{what}: active window ends before it starts")


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionQuality:
    """How good a reported position is, as the feed codes it (``None``: not given).

    Integers are the coded categories of the standards, not metres:

    * AIS (ITU-R M.1371-5, Table 46 ff.; messages 1, 2, 3, 9, 18, 19, 27):
      ``accuracy_high``, the position accuracy flag (``True``: better than 10 m;
      ``False``: worse, or not known); ``raim``, receiver autonomous integrity
      monitoring in use.
    * ADS-B (RTCA DO-260/260A/260B; ICAO Doc 9871): ``adsb_version`` (0 DO-260,
      1 DO-260A, 2 DO-260B); ``nic``, navigation integrity category 0-11 (containment
      radius: 11 < 7.5 m, 10 < 25 m, 9 < 75 m, 8 < 0.1 NM, 7 < 0.2 NM, 6 < 0.5 NM,
      5 < 1 NM, 4 < 2 NM, 3 < 4 NM, 2 < 8 NM, 1 < 20 NM, 0 unknown); ``nac_p``,
      navigation accuracy category for position 0-11 (95 % bound: 11 < 3 m, 10 < 10 m,
      9 < 30 m, 8 < 0.05 NM, 7 < 0.1 NM, 6 < 0.3 NM, 5 < 0.5 NM, 4 < 1 NM, 3 < 2 NM,
      2 < 4 NM, 1 < 10 NM, 0 unknown); ``nac_v`` for velocity 0-4 (4 < 0.3 m/s ...
      1 < 10 m/s); ``sil``, source integrity level 0-3 (3: 1e-7 per hour or sample,
      2: 1e-5, 1: 1e-3, 0 unknown); ``gva``, geometric vertical accuracy 0-3 (2 < 45 m,
      1 < 150 m, 0 unknown); ``nuc_p``, navigation uncertainty category 0-9 of version 0
      transponders, in place of NIC and NACp; ``gnss_ok_before_s`` (readsb
      ``gpsOkBefore``): the aircraft's GNSS position was good until this UTC epoch
      second, set while it is degraded.

    Degraded GNSS shows as low ``nic``/``nac_p`` (or ``nuc_p``) from many aircraft in
    one area at once; one aircraft with low values proves nothing. Make them with
    :func:`position_quality`, which gives one shared instance per set of values and
    ``None`` when every value is ``None``.
    """

    accuracy_high: bool | None = None
    raim: bool | None = None
    adsb_version: int | None = None
    nic: int | None = None
    nac_p: int | None = None
    nac_v: int | None = None
    sil: int | None = None
    gva: int | None = None
    nuc_p: int | None = None
    gnss_ok_before_s: float | None = None

    def __post_init__(self) -> None:
        for name in ("accuracy_high", "raim"):
            b = getattr(self, name)
            if b is not None and b is not True and b is not False:
                raise RecordError(f"{name}={b!r} is not a boolean")
        for name, high in _QUALITY_CODES:
            v = getattr(self, name)
            if v is not None and (v.__class__ is not int or not 0 <= v <= high):
                _bad_code(name, v, high)
        t = self.gnss_ok_before_s
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t)):
            raise RecordError(f"gnss_ok_before_s={t!r} is not a finite epoch time")


# The coded indicators of PositionQuality and their highest value (all start at 0).
_QUALITY_CODES = (("adsb_version", 7), ("nic", 11), ("nac_p", 11), ("nac_v", 4), ("sil", 3), ("gva", 3), ("nuc_p", 9))


def position_quality(
    accuracy_high: bool | None = None,
    raim: bool | None = None,
    adsb_version: int | None = None,
    nic: int | None = None,
    nac_p: int | None = None,
    nac_v: int | None = None,
    sil: int | None = None,
    gva: int | None = None,
    nuc_p: int | None = None,
    gnss_ok_before_s: float | None = None,
) -> PositionQuality | None:
    """The :class:`PositionQuality` of these values (one shared instance for equal values:
    feeds repeat a handful of combinations), or ``None`` when every value is ``None``.
    Raises :class:`RecordError` for a value out of its range."""
    return _quality(accuracy_high, raim, adsb_version, nic, nac_p, nac_v, sil, gva, nuc_p, gnss_ok_before_s)


@lru_cache(maxsize=4096, typed=True)  # typed: True and 1, 8 and 8.0 are different values here
def _quality(
    accuracy_high: bool | None,
    raim: bool | None,
    adsb_version: int | None,
    nic: int | None,
    nac_p: int | None,
    nac_v: int | None,
    sil: int | None,
    gva: int | None,
    nuc_p: int | None,
    gnss_ok_before_s: float | None,
) -> PositionQuality | None:
    if (accuracy_high is None and raim is None and adsb_version is None and nic is None and nac_p is None
            and nac_v is None and sil is None and gva is None and nuc_p is None and gnss_ok_before_s is None):
        return None
    return PositionQuality(accuracy_high=accuracy_high, raim=raim, adsb_version=adsb_version, nic=nic, nac_p=nac_p,
                           nac_v=nac_v, sil=sil, gva=gva, nuc_p=nuc_p, gnss_ok_before_s=gnss_ok_before_s)


def quality_from_mapping(obj: Mapping[str, Any] | None) -> PositionQuality | None:
    """The :class:`PositionQuality` a JSON object gives (the ``quality`` member of a track
    value: its members by name, missing ones ``None``); ``None`` for ``None``. Raises
    :class:`RecordError` for anything else or a value out of its range."""
    if obj is None:
        return None
    if not isinstance(obj, Mapping):
        raise RecordError(f"quality {obj!r} is not an object")
    try:
        return position_quality(**{k: obj.get(k) for k in _QUALITY_FIELDS})
    except TypeError as e:  # an unhashable value (a list): not a code
        raise RecordError(f"quality {obj!r}: {e}") from e


_QUALITY_FIELDS = ("accuracy_high", "raim", "adsb_version", "nic", "nac_p", "nac_v", "sil", "gva", "nuc_p",
                   "gnss_ok_before_s")


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackUpdate:
    """One report of one track's state, normalised from any feed.

    Built with keywords only (``TrackUpdate(track_id=..., source=..., ...)``): a record
    of twenty-five fields is not read right by position.

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

    Who (``config.classification`` decides it in the decoders):

    * ``category``: one of :data:`CATEGORIES`; ``category_source`` says how it was
      decided (``ais_type_35``, ``icao_military_block:US``, ``callsign_prefix:RFF``,
      ``config_list``...; ``None`` when nothing decided). ``unknown`` may carry a
      source too: ``mmsi_aton`` (an aid to navigation, not a vessel), ``mmsi_sart``,
      ``mmsi_mob``, ``mmsi_epirb`` (distress beacons).

    Context the feed gives (for deciding that a track is stationary):

    * ``nav_status``: AIS navigational status, ITU-R M.1371-5 Table 45 (0 under way
      using engine, 1 at anchor, 5 moored, 6 aground, 7 engaged in fishing, 8 under
      way sailing, 14 AIS-SART/MOB/EPIRB active; 15 "not defined" is ``None``);
    * ``on_ground``: the aircraft says it is on the ground (SBS-1 field 22, readsb
      ``alt_baro == "ground"``, ADS-B surface position TC 5-8) or airborne (``False``);
      ``None`` when the feed does not say.

    How good the position is, as the feed codes it: ``quality``, a
    :class:`PositionQuality` (``None`` when the feed gives no indicator at all).

    Every number is finite and within :data:`TRACK_BOUNDS`; ``track_id`` has at most
    :data:`MAX_ID_CHARS` characters and each free text at most :data:`MAX_TEXT_CHARS`.
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
    category: Category = "unknown"
    category_source: str | None = None
    nav_status: int | None = None
    on_ground: bool | None = None
    quality: PositionQuality | None = None

    # Written by hand: the __init__ dataclasses generates for a frozen class calls
    # object.__setattr__ once per field, and every decoded report is built here. This one
    # (the same keyword-only signature, checked against the fields by
    # tests/config/test_records.py) calls each slot's own setter instead, about three
    # times cheaper per field.
    def __init__(
        self,
        *,
        track_id: str,
        source: str,
        t_s: float,
        lat_deg: float,
        lon_deg: float,
        domain: Domain,
        side: Side = "unknown",
        alt_m: float | None = None,
        alt_ref: AltRef | None = None,
        alt_geom_m: float | None = None,
        speed_mps: float | None = None,
        course_deg: float | None = None,
        heading_deg: float | None = None,
        vrate_mps: float | None = None,
        country: str | None = None,
        callsign: str | None = None,
        name: str | None = None,
        type_code: str | None = None,
        receiver: str | None = None,
        raw_ref: str | None = None,
        category: Category = "unknown",
        category_source: str | None = None,
        nav_status: int | None = None,
        on_ground: bool | None = None,
        quality: PositionQuality | None = None,
    ) -> None:
        s = _SETTERS  # the slots' own setters, in field order (see below the class)
        s[0](self, track_id)
        s[1](self, source)
        s[2](self, t_s)
        s[3](self, lat_deg)
        s[4](self, lon_deg)
        s[5](self, domain)
        s[6](self, side)
        s[7](self, alt_m)
        s[8](self, alt_ref)
        s[9](self, alt_geom_m)
        s[10](self, speed_mps)
        s[11](self, course_deg)
        s[12](self, heading_deg)
        s[13](self, vrate_mps)
        s[14](self, country)
        s[15](self, callsign)
        s[16](self, name)
        s[17](self, type_code)
        s[18](self, receiver)
        s[19](self, raw_ref)
        s[20](self, category)
        s[21](self, category_source)
        s[22](self, nav_status)
        s[23](self, on_ground)
        s[24](self, quality)
        self.__post_init__()

    def __post_init__(self) -> None:
        # Written out rather than looped: every decoded report passes here. A NaN fails
        # every comparison, so ``not low <= v <= high`` rejects it too (and +-inf).
        if len(self.track_id) > MAX_ID_CHARS:
            raise RecordError(f"track_id has {len(self.track_id)} characters, more than {MAX_ID_CHARS}")
        scheme, _, ident = self.track_id.partition(":")
        if not ident or not (scheme.isascii() and scheme.isalpha() and scheme.islower()):
            raise RecordError(f"track_id {self.track_id!r} is not namespaced (scheme:id, scheme in a-z)")
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
        v = self.vrate_mps
        if v is not None and not -1500.0 <= v <= 1500.0:
            _out_of_range("vrate_mps", v, -1500.0, 1500.0)
        v = self.alt_m
        if v is not None and not -500.0 <= v <= 40_000.0:
            _out_of_range("alt_m", v, -500.0, 40_000.0)
        if self.alt_ref is not None and (self.alt_ref not in ALT_REFS or v is None):
            raise RecordError(f"alt_ref {self.alt_ref!r} needs an alt_m and is one of {ALT_REFS}")
        v = self.alt_geom_m
        if v is not None and not -500.0 <= v <= 40_000.0:
            _out_of_range("alt_geom_m", v, -500.0, 40_000.0)
        t = self.callsign
        if t is not None and len(t) > MAX_TEXT_CHARS:
            _too_long("callsign", t)
        t = self.name
        if t is not None and len(t) > MAX_TEXT_CHARS:
            _too_long("name", t)
        t = self.type_code
        if t is not None and len(t) > MAX_TEXT_CHARS:
            _too_long("type_code", t)
        t = self.country
        if t is not None and len(t) > MAX_TEXT_CHARS:
            _too_long("country", t)
        t = self.receiver
        if t is not None and len(t) > MAX_TEXT_CHARS:
            _too_long("receiver", t)
        if self.category not in CATEGORIES:
            raise RecordError(f"category {self.category!r} is not one of {CATEGORIES}")
        c = self.category_source
        if c is not None and (c.__class__ is not str or not c):
            raise RecordError(f"category_source {c!r} is not a non-empty text")
        v = self.nav_status
        if v is not None and (v.__class__ is not int or not 0 <= v <= 14):
            _bad_code("nav_status", v, 14)
        b = self.on_ground
        if b is not None and b is not True and b is not False:
            raise RecordError(f"on_ground={b!r} is not a boolean")
        q = self.quality
        if q is not None and q.__class__ is not PositionQuality:
            raise RecordError(f"quality is a {type(q).__name__}, not a PositionQuality")

    @property
    def velocity_heading_deg(self) -> float | None:
        """Direction of motion: course over ground, else heading."""
        return self.course_deg if self.course_deg is not None else self.heading_deg


# The setters of TrackUpdate's slots, in field order: what its __init__ calls (a slot's
# descriptor sets the value without the frozen class's __setattr__).
_SETTERS = tuple(TrackUpdate.__dict__[f.name].__set__ for f in fields(TrackUpdate))
# the fields without a default: a record always has them
_NEEDED = tuple(f.name for f in fields(TrackUpdate) if f.default is MISSING)


def track_updates_from_columns(columns: Sequence[Sequence[Any]], *, checked: bool = True) -> list[TrackUpdate]:
    """The :class:`TrackUpdate` of each row of ``columns`` (one sequence of values per field, in
    field order). ``checked=False`` skips the constructor's checks: only for a reader that has
    checked the same rules on the whole columns (``closewatch.archive.schema``), which spares
    about a microsecond per record in a replay of millions."""
    if len(columns) != len(_SETTERS):
        raise ValueError(f"a TrackUpdate has {len(_SETTERS)} fields, not {len(columns)} columns")
    updates = list(map(_unchecked, *columns))
    if checked:
        for row, update in enumerate(updates):
            try:
                update.__post_init__()
            except (RecordError, TypeError) as e:  # TypeError: a value missing (None) where one is needed
                missing = [name for name in _NEEDED if getattr(update, name) is None]
                why = f"{', '.join(missing)} missing" if missing else str(e)
                raise RecordError(f"row {row} (track_id {update.track_id!r}): {why}") from e
    return updates


def _unchecked(
    track_id: Any, source: Any, t_s: Any, lat_deg: Any, lon_deg: Any, domain: Any, side: Any, alt_m: Any,
    alt_ref: Any, alt_geom_m: Any, speed_mps: Any, course_deg: Any, heading_deg: Any, vrate_mps: Any,
    country: Any, callsign: Any, name: Any, type_code: Any, receiver: Any, raw_ref: Any, category: Any,
    category_source: Any, nav_status: Any, on_ground: Any, quality: Any,
) -> TrackUpdate:
    """A :class:`TrackUpdate` of its values by position, not checked: written out as ``__init__``
    is (tests/config/test_records.py checks both against the fields)."""
    s = _SETTERS
    u: TrackUpdate = object.__new__(TrackUpdate)
    s[0](u, track_id)
    s[1](u, source)
    s[2](u, t_s)
    s[3](u, lat_deg)
    s[4](u, lon_deg)
    s[5](u, domain)
    s[6](u, side)
    s[7](u, alt_m)
    s[8](u, alt_ref)
    s[9](u, alt_geom_m)
    s[10](u, speed_mps)
    s[11](u, course_deg)
    s[12](u, heading_deg)
    s[13](u, vrate_mps)
    s[14](u, country)
    s[15](u, callsign)
    s[16](u, name)
    s[17](u, type_code)
    s[18](u, receiver)
    s[19](u, raw_ref)
    s[20](u, category)
    s[21](u, category_source)
    s[22](u, nav_status)
    s[23](u, on_ground)
    s[24](u, quality)
    return u


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
        _check_scope(f"zone {self.zone_id}", self.sides, self.domains, self.severity, self.active_from_s, self.active_until_s)

    def is_active(self, t_s: float) -> bool:
        return self.is_active_between(t_s, t_s)

    def is_active_between(self, start_s: float, end_s: float) -> bool:
        """Active at some time from ``start_s`` to ``end_s`` (both included)."""
        if self.active_from_s is not None and end_s < self.active_from_s:
            return False
        if self.active_until_s is not None and start_s > self.active_until_s:
            return False
        return True


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Input that could not be used, kept with the reason so nothing is lost silently.

    ``reason`` is a stable category a consumer can count and filter on
    (``"checksum mismatch"``, ``"bad field"``; docs/feeds.md lists them), ``detail`` what
    exactly was wrong with this input (``"course_deg=-121 is outside [0, 360]"``;
    ``None`` when the category says it all). ``position`` is where it was: the 1-based
    line (or datagram, message, record) number since the feed was opened, or, in a feed
    that reads a folder, in the file ``file`` (its name within the folder; ``None`` for
    every other feed). ``raw`` holds the bytes as read.
    ``stage`` is where it failed (:data:`DEAD_LETTER_STAGES`): most fail at ``decode``;
    a report the engine could not take fails at ``engine`` (``raw`` is then the report
    as the tracks topic carries it), an event that could not be encoded or delivered at
    ``encode`` or ``deliver`` (``raw``: what was to be sent, ``feed`` the sink's topic).
    """

    feed: str
    position: int
    raw: bytes
    reason: str
    received_s: float | None = None
    detail: str | None = None
    file: str | None = None
    stage: DeadLetterStage = "decode"

    def __post_init__(self) -> None:
        if not self.reason:
            raise RecordError(f"dead letter from {self.feed}:{self.position} has no reason")
        if self.stage not in DEAD_LETTER_STAGES:
            raise RecordError(f"dead letter stage {self.stage!r} is not one of {DEAD_LETTER_STAGES}")

    @property
    def text(self) -> str:
        """Reason and detail in one line, for people: ``"bad field: course_deg=-121 ..."``."""
        return self.reason if self.detail is None else f"{self.reason}: {self.detail}"

    @classmethod
    def of(
        cls,
        feed: str,
        position: int,
        raw: bytes,
        text: str,
        *,
        received_s: float | None = None,
        file: str | None = None,
        stage: DeadLetterStage = "decode",
    ) -> "DeadLetter":
        """A dead letter from ``text`` = ``"<category>: <detail>"`` (or a bare category):
        ``reason`` is the category, ``detail`` the rest cut to :data:`MAX_DEAD_LETTER_DETAIL_CHARS`."""
        category, _, detail = text.partition(": ")
        if len(detail) > MAX_DEAD_LETTER_DETAIL_CHARS:
            detail = detail[:MAX_DEAD_LETTER_DETAIL_CHARS] + "…"
        return cls(feed, position, raw, category, received_s, detail or None, file, stage)


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """How a feed is doing, as the pipeline reports it (docs/operations.md, ``feed_health``).

    ``state``: ``running``; ``restarting`` (it failed, a restart is due after a backoff);
    ``failed`` (given up: it cannot start, or a replayed file could not be read to its
    end). ``since_s``: UTC epoch seconds of the change to this state; ``last_data_s``: of
    the last item the feed delivered (None: none yet); ``error``: why it is not running
    (one line), else None; ``restarts``: how many times it was restarted in this run.
    """

    feed: str
    state: FeedState
    since_s: float
    last_data_s: float | None = None
    error: str | None = None
    restarts: int = 0

    def __post_init__(self) -> None:
        if not self.feed:
            raise RecordError("feed health without a feed name")
        if self.state not in FEED_STATES:
            raise RecordError(f"feed {self.feed}: state {self.state!r} is not one of {FEED_STATES}")
        if not math.isfinite(self.since_s) or (self.last_data_s is not None and not math.isfinite(self.last_data_s)):
            raise RecordError(f"feed {self.feed}: since_s/last_data_s are not finite epoch times")
        if self.restarts < 0:
            raise RecordError(f"feed {self.feed}: restarts={self.restarts} is negative")


# -- notices: areas notified by a feed, as the feed gives them ---------------------------

# ``flight``: an announced flight (Open Skies style): an aircraft's identity, a route corridor, a period
NoticeKind = Literal["exercise", "notam", "flight"]
NOTICE_KINDS: tuple[NoticeKind, ...] = ("exercise", "notam", "flight")

#: The largest circle (radius plus margin) a notice may give, metres.
MAX_NOTICE_RADIUS_M = 1_000_000.0
#: The widest margin around a notified polygon, metres (``proximity.notices`` builds
#: margins up to this within its error bound).
MAX_NOTICE_MARGIN_M = 100_000.0
@dataclass(frozen=True, slots=True, kw_only=True)
class CircleArea:
    """A notified circle as the feed gives it: a centre and a geodesic radius.

    ``proximity.notices`` builds the circle; nothing before it does.
    """

    lon_deg: float
    lat_deg: float
    radius_m: float

    def __post_init__(self) -> None:
        if not -180.0 <= self.lon_deg <= 180.0:
            _out_of_range("lon_deg", self.lon_deg, -180.0, 180.0)
        if not -90.0 <= self.lat_deg <= 90.0:
            _out_of_range("lat_deg", self.lat_deg, -90.0, 90.0)
        if not 0.0 < self.radius_m <= MAX_NOTICE_RADIUS_M:
            raise RecordError(f"radius_m={self.radius_m!r} is outside (0, {MAX_NOTICE_RADIUS_M:.0f}]")


EdgeKind = Literal["lonlat", "geodesic"]
EDGE_KINDS: tuple[EdgeKind, ...] = ("lonlat", "geodesic")


def _require_lonlat(g: BaseGeometry, what: str) -> None:
    minx, miny, maxx, maxy = g.bounds
    if not (-180.0 <= minx and maxx <= 180.0 and -90.0 <= miny and maxy <= 90.0):
        raise RecordError(f"{what} bounds {g.bounds} are not lon/lat degrees")


@dataclass(frozen=True, slots=True, kw_only=True)
class PolygonArea:
    """A notified area as the feed gives it: a Polygon or MultiPolygon in lon/lat degrees.

    ``edges`` says how the feed joins the vertices: ``"lonlat"``, straight in longitude
    and latitude (GeoJSON, RFC 7946 section 3.1.1), or ``"geodesic"``, the shortest path
    on the ellipsoid (ICAO airspace boundaries join their points by great circles unless
    they say otherwise). Over one degree of longitude at 55 degrees N the two differ by
    about 110 m.
    """

    geometry: BaseGeometry
    edges: EdgeKind = "lonlat"

    def __post_init__(self) -> None:
        g = self.geometry
        if g.is_empty or g.geom_type not in ("Polygon", "MultiPolygon"):
            raise RecordError(f"area is a {'empty ' if g.is_empty else ''}{g.geom_type}, need a polygon")
        if not g.is_valid:
            raise RecordError("area polygon is not valid (self-intersecting or degenerate)")
        _require_lonlat(g, "area")
        if self.edges not in EDGE_KINDS:
            raise RecordError(f"edges {self.edges!r} is not one of {EDGE_KINDS}")


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteArea:
    """An announced route as the feed gives it: a LineString or MultiLineString in lon/lat
    degrees, its segments geodesics; the notice's ``margin_m`` is the corridor's half-width
    (``proximity.notices`` builds the corridor)."""

    geometry: BaseGeometry

    def __post_init__(self) -> None:
        g = self.geometry
        if g.is_empty or g.geom_type not in ("LineString", "MultiLineString"):
            raise RecordError(f"route is a {'empty ' if g.is_empty else ''}{g.geom_type}, need a line")
        _require_lonlat(g, "route")


#: The shapes a notice's area may take. A new shape is one more record here and one more
#: case in ``proximity.notices``.
NoticeArea = CircleArea | PolygonArea | RouteArea


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """An area a feed notifies (an exercise, a NOTAM), with its area as the feed gives it.

    ``ingest`` makes notices; ``proximity.notices.zone_from_notice`` turns one into a
    :class:`Zone` with geometry built within a stated error (the only place circles and
    margins are built). Fields:

    * ``notice_id``: namespaced by kind (``exercise:<id>``, ``notam:<series/number>``);
      it becomes the zone's ``zone_id``;
    * ``kind``: the notification regime, one of :data:`NOTICE_KINDS`;
    * ``area``: a :class:`CircleArea` or :class:`PolygonArea`; ``margin_m`` the margin
      the feed asks around it (0: none);
    * ``active_from_s``/``active_until_s``: the notified window (``None``: open);
    * ``sides``/``domains``/``severity``: whose tracks the area concerns, and how loud;
    * ``issuer_country`` (ISO 3166-1 alpha-2), ``issuer_side``, ``issued_s``: who
      notified and when, where the feed says;
    * ``declared``: declared forces by category (``troops``, ``aircraft``, ``ships``;
      a Vienna Document notification adds ``battle_tanks``, ``acv``, ``artillery``...),
      non-negative counts;
    * ``source`` (feed name), ``raw_ref`` (``feed:position``) and ``properties``
      (details of the format, for display and audit).
    """

    notice_id: str
    kind: NoticeKind
    name: str
    area: NoticeArea
    source: str
    margin_m: float = 0.0
    active_from_s: float | None = None
    active_until_s: float | None = None
    sides: tuple[Side, ...] = SIDES
    domains: tuple[Domain, ...] = DOMAINS
    severity: Severity = "warning"
    issuer_country: str | None = None
    issuer_side: Side = "unknown"
    issued_s: float | None = None
    declared: Mapping[str, int] = field(default_factory=dict)
    raw_ref: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        what = f"notice {self.notice_id[:MAX_ID_CHARS]}"
        if ":" not in self.notice_id:
            raise RecordError(f"notice_id {self.notice_id[:MAX_ID_CHARS]!r} is not namespaced (kind:id)")
        if len(self.notice_id) > MAX_ID_CHARS:
            raise RecordError(f"notice_id has {len(self.notice_id)} characters, more than {MAX_ID_CHARS}")
        if len(self.name) > MAX_NOTICE_NAME_CHARS:
            raise RecordError(f"{what}: name has {len(self.name)} characters, more than {MAX_NOTICE_NAME_CHARS}")
        if self.kind not in NOTICE_KINDS:
            raise RecordError(f"{what}: kind {self.kind!r} is not one of {NOTICE_KINDS}")
        if not isinstance(self.area, (CircleArea, PolygonArea, RouteArea)):
            raise RecordError(f"{what}: area is a {type(self.area).__name__}, not one of the notice areas")
        if not 0.0 <= self.margin_m <= MAX_NOTICE_MARGIN_M:
            raise RecordError(f"{what}: margin_m={self.margin_m!r} is outside [0, {MAX_NOTICE_MARGIN_M:.0f}]")
        if isinstance(self.area, CircleArea):
            a = self.area
            if a.radius_m + self.margin_m > MAX_NOTICE_RADIUS_M:
                raise RecordError(f"{what}: radius plus margin exceeds {MAX_NOTICE_RADIUS_M:.0f} m")
        if isinstance(self.area, RouteArea) and self.margin_m <= 0:
            raise RecordError(f"{what}: a route needs a corridor half-width (margin_m > 0)")
        if not self.sides or not self.domains:
            raise RecordError(f"{what}: concerns no side or no domain")
        _check_scope(what, self.sides, self.domains, self.severity, self.active_from_s, self.active_until_s)
        if self.issuer_side not in SIDES:
            raise RecordError(f"{what}: issuer_side {self.issuer_side!r} is not one of {SIDES}")
        c = self.issuer_country
        if c is not None and not (len(c) == 2 and c.isalpha() and c.isupper()):
            raise RecordError(f"{what}: issuer_country {c!r} is not an ISO 3166-1 alpha-2 code")
        if self.issued_s is not None and not math.isfinite(self.issued_s):
            raise RecordError(f"{what}: issued_s={self.issued_s!r} is not a finite epoch time")
        for k, n in self.declared.items():
            if not isinstance(k, str) or isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise RecordError(f"{what}: declared {k!r}: {n!r} is not a count")
