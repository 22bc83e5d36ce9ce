"""Settings: one TOML file (``closewatch.toml``), validated with pydantic.

Every key has a documented default (``closewatch.example.toml`` lists every
section and key with it; feeds are described in ``docs/feeds.md``, zones in
``docs/zones.md``, the engine's thresholds in ``docs/engine.md``), so an empty
file is a valid configuration that runs the embedded defaults: no Kafka, events
to a JSON Lines file.

A bad file stops the program with :class:`ConfigError`, whose message names each
offending key path (``proximity.thresholds.sea_sea_m``) and the reason.
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from config.hosts import canonical_host, is_loopback_host, split_host_port
from config.times import parse_utc

__all__ = [
    "ArchiveSettings",
    "ClassificationSettings",
    "ConfigError",
    "FeedSettings",
    "GnssSettings",
    "KafkaSettings",
    "MapSettings",
    "PipelineSettings",
    "ProximitySettings",
    "RuleSettings",
    "Settings",
    "ScaleSettings",
    "SidesSettings",
    "SinkSettings",
    "ThresholdSettings",
    "ZoneSettings",
    "load_settings",
    "parse_settings",
]


class ConfigError(Exception):
    """The configuration is unreadable or invalid; the message names key paths."""


class _Section(BaseModel):
    # A misspelt key is an error, not a silently ignored default; inf and nan are no numbers
    # of a configuration (TOML has them: ``horizon_s = inf``).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


PositiveFloat = Annotated[float, Field(gt=0)]

FeedFormat = Literal[
    "ais-nmea",  # NMEA 0183 !AIVDM/!AIVDO/!BSVDM, tag blocks, $PGHP (ITU-R M.1371)
    "sbs1",  # SBS-1 BaseStation CSV (port 30003)
    "aircraft-json",  # readsb/dump1090 aircraft.json snapshots
    "modes-raw",  # raw Mode S frames with timestamps (pyModeS)
    "cot",  # Cursor on Target XML events
    "exercise-geojson",  # notified exercise areas
    "notam",  # ICAO NOTAMs (danger/restricted/reserved areas)
    "tracks-jsonl",  # the generic track format (docs/feeds.md)
    "tracks-csv",
]
Transport = Literal["file", "follow", "tcp", "udp", "http", "kafka"]


def _servers(servers: str) -> str:
    """``host:port,host:port``: each a host name or address with an optional port."""
    for entry in servers.split(","):
        if not entry.strip():
            raise ValueError(f"{servers!r} has an empty entry")
        split_host_port(entry)  # a ValueError naming the entry
    return servers


BootstrapServers = Annotated[str, AfterValidator(_servers)]


def _check_key_pair(prefix: str, certfile: str | None, keyfile: str | None, password: str | None) -> None:
    """A certificate comes with its key (``<prefix>certfile`` and ``<prefix>keyfile``), a key
    password with a key."""
    if (certfile is None) != (keyfile is None):
        raise ValueError(f"a certificate needs both {prefix}certfile and {prefix}keyfile")
    if password is not None and keyfile is None:
        raise ValueError(f"{prefix}key_password is set but {prefix}keyfile is not")


class FeedSettings(_Section):
    """One named feed: what format its bytes are and how they arrive."""

    name: str = Field(min_length=1)
    format: FeedFormat
    transport: Transport = "file"
    path: str | None = None
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    url: str | None = None
    topic: str | None = None
    # 0 replays as fast as possible; 1 at the original pace; 10 ten times faster.
    speed: float = Field(default=0.0, ge=0)
    # HTTP polling period (aircraft.json).
    poll_interval_s: PositiveFloat = 5.0
    # Time of a message that carries none (no tag block ``c:``, ``$PGHP``, trailing epoch,
    # SBS-1 date/time...). None: live transports (follow, tcp, udp, http, kafka) use the
    # receive wall clock, a replayed file dead-letters the message ("no timestamp").
    # "receive": always the receive wall clock. An ISO 8601 UTC time
    # ("2024-05-01T12:00:00Z"): that fixed time (for replaying untimed samples).
    assume_time: str | None = None
    # follow: read the file from its start instead of only what is appended.
    from_start: bool = False
    # ais-nmea: the same message (payload) heard again within this much data time, by
    # another receiver, is one report (counted as a duplicate); 0 keeps every copy.
    dedup_window_s: float = Field(default=5.0, ge=0, le=3600)
    # kafka: the cluster (default: bootstrap_servers of the [kafka] section), the consumer
    # group, and where a new group starts reading.
    bootstrap_servers: BootstrapServers | None = None
    group_id: str = "closewatch-ingest"
    start_from: Literal["earliest", "latest"] = "latest"
    # What a decoder takes before it parses anything: a longer line (or CoT event), a
    # longer document (aircraft.json body, exercise or NOTAM file) or JSON nested deeper is
    # a dead letter, and no transport holds more of it (docs/feeds.md, "Hostile input").
    max_line_bytes: int = Field(default=65_536, ge=256, le=16 * 1024 * 1024)
    max_document_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    max_json_depth: int = Field(default=32, ge=2, le=500)
    # tcp: reconnect when nothing arrived for this long (a silent server; a dead peer is
    # also noticed by TCP keepalive within about a minute).
    read_timeout_s: PositiveFloat = 300.0

    @model_validator(mode="after")
    def _transport_needs(self) -> "FeedSettings":
        if self.url is not None and not re.match(r"https?://[^/?#\s]+", self.url, re.IGNORECASE):
            raise ValueError(f"url {self.url!r} is not an http:// or https:// URL")
        needs = {
            "file": ("path",),
            "follow": ("path",),
            "tcp": ("host", "port"),
            "udp": ("port",),
            "http": ("url",),
            "kafka": ("topic",),
        }[self.transport]
        missing = [k for k in needs if getattr(self, k) is None]
        if missing:
            raise ValueError(f"transport {self.transport!r} needs {', '.join(missing)}")
        if self.assume_time is not None and self.assume_time != "receive":
            self.assumed_epoch_s()
        return self

    def assumed_epoch_s(self) -> float | None:
        """``assume_time`` as epoch seconds (None when unset or "receive")."""
        if self.assume_time is None or self.assume_time == "receive":
            return None
        return parse_utc(self.assume_time, "assume_time")  # a ValueError: reported with the key path


class ThresholdSettings(_Section):
    """Close-approach thresholds per pair of domains (metres)."""

    air_air_lateral_m: PositiveFloat = 9_260.0  # 5 NM: en-route radar separation minimum
    air_air_vertical_m: PositiveFloat = 305.0  # 1,000 ft
    sea_sea_m: PositiveFloat = 1_852.0  # 1 NM
    air_sea_m: PositiveFloat = 5_556.0  # 3 NM lateral
    land_any_m: PositiveFloat = 5_000.0
    # An aircraft higher than this is not in a close approach with a ship or a land
    # track (an airliner overflying a ship is not an incident); None: any altitude.
    # An aircraft of unknown altitude always counts.
    air_surface_max_alt_m: PositiveFloat | None = 3_000.0


Band = tuple[PositiveFloat, PositiveFloat]


def _ordered_band(band: Band, key: str) -> None:
    if not band[0] < band[1]:
        raise ValueError(f"{key}: the lower limit {band[0]} must be below the upper {band[1]}")


class ShadowingSettings(_Section):
    """``shadowing`` and ``intercept`` (docs/engine.md): a track keeping station on one of the other side."""

    # The distance band kept (lower, upper limit), by domain: ships 2-20 km, aircraft 1-30 km.
    sea_band_m: Band = (2_000.0, 20_000.0)
    air_band_m: Band = (1_000.0, 30_000.0)
    # How long the band and a matching course and speed must hold before a shadowing opens.
    sea_min_s: PositiveFloat = 1_200.0
    air_min_s: PositiveFloat = 300.0
    # Matching: courses within this many degrees, speeds within this fraction of the faster one.
    course_tolerance_deg: float = Field(default=30.0, gt=0, le=90)
    speed_tolerance: float = Field(default=0.25, gt=0, lt=1)
    # Slower tracks keep station on nothing (a ship at anchor, an aircraft on the ground).
    sea_min_speed_mps: float = Field(default=1.0, ge=0)
    air_min_speed_mps: float = Field(default=40.0, ge=0)
    # An intercept: a fighter of one side, seen farther than this first, joins a bomber, ISR or
    # maritime patrol aircraft of the other within it on a matching course and speed.
    intercept_join_m: PositiveFloat = 2_000.0
    # An open incident closes (parted) when the band or the match is lost for this long.
    part_s: float = Field(default=120.0, ge=0)

    @model_validator(mode="after")
    def _bands(self) -> "ShadowingSettings":
        _ordered_band(self.sea_band_m, "sea_band_m")
        _ordered_band(self.air_band_m, "air_band_m")
        if self.intercept_join_m >= self.air_band_m[1]:
            raise ValueError("intercept_join_m must be below the upper limit of air_band_m")
        return self


def _default_sortie_types() -> tuple[str, ...]:
    from config.classification import military_types  # the table imports this module

    return tuple(d for d, t in military_types().items() if t.role == "bomber")


class SortieSettings(_Section):
    """``bomber_sortie`` (docs/engine.md): a heavy bomber near a border or territorial airspace."""

    # ICAO type designators watched (default: the bombers of military_types.csv: TU95, T160,
    # TU160, TU22, TU22M, B52, B1, B2); add other watch-list types here.
    types: tuple[str, ...] = Field(default_factory=lambda: _default_sortie_types())
    # A sortie is open while the aircraft is within this distance of a border line or of the
    # territorial airspace of a state of the other side.
    border_distance_m: PositiveFloat = 200_000.0
    # Escorts (same side) and interceptors (other side): aircraft within this distance on a
    # matching course and speed (the tolerances of [proximity.shadowing]).
    escort_m: PositiveFloat = 10_000.0


class AisGapSettings(_Section):
    """``ais_gap`` (docs/engine.md): a ship of interest silent on AIS near a zone while others
    around it are still heard."""

    # A ship of interest silent for this long (s of data time) has gone dark. The family reads the
    # track's last report whether or not the track is stale (stale_after_s.sea, 900 s), and its
    # incident outlives staleness (a gap is silence: its length is the point), so this may exceed
    # the stale time; it must stay below the time the track is forgotten (the larger of
    # stale_after_s.sea and forget_after_s), when its memory is reused.
    silence_s: PositiveFloat = 600.0
    # Within this distance (m) of a zone watching the ship's side and sea domain (or inside it).
    zone_distance_m: float = Field(default=20_000.0, ge=0)
    # The receiver is working: at least min_neighbours other AIS ships within neighbour_radius_m
    # of the last position are still heard (heard after the ship fell silent, within the last
    # silence_s).
    neighbour_radius_m: PositiveFloat = 20_000.0
    min_neighbours: int = Field(default=2, ge=0)


class IncseaSettings(_Section):
    """``unsafe_air_intercept_of_ship`` and ``unsafe_manoeuvre_at_sea`` (docs/engine.md): the
    conduct the INCSEA agreements (1972 US-USSR, 1986 UK-USSR and their successors) forbid."""

    # Air: a military aircraft of one side passing a warship or state ship of the other below
    # this height (m above the sea) within this slant range (m; 1 NM) is an unsafe pass.
    air_max_height_m: PositiveFloat = 300.0
    air_slant_range_m: PositiveFloat = 1_852.0
    # Passes separated by less than this (s) belong to one incident; out of the envelope for
    # this long, it closes (clear).
    air_part_s: float = Field(default=600.0, ge=0)
    # A pass from within this many degrees of the ship's bow (head-on) or of either beam
    # scores higher (critical): the profile of a simulated attack.
    attack_sector_deg: float = Field(default=30.0, gt=0, le=45)
    # Sea: a ship of one side whose CPA to a warship of the other is under sea_cpa_m (2 cables)
    # within sea_horizon_s, after a course change of at least sea_min_turn_deg within the
    # last sea_turn_window_s turned a CPA of at least sea_safe_cpa_m into it.
    sea_cpa_m: PositiveFloat = 370.0
    sea_safe_cpa_m: PositiveFloat = 740.0
    sea_horizon_s: PositiveFloat = 900.0
    sea_turn_window_s: PositiveFloat = 300.0
    sea_min_turn_deg: float = Field(default=15.0, gt=0, lt=180)
    # How often (s of data time) the course and position of each ship is remembered for that.
    sea_history_step_s: PositiveFloat = 30.0
    # Slower ships manoeuvre into nothing (at anchor, adrift).
    sea_min_speed_mps: float = Field(default=1.0, ge=0)

    @model_validator(mode="after")
    def _safe_above_unsafe(self) -> "IncseaSettings":
        if not self.sea_safe_cpa_m > self.sea_cpa_m:
            raise ValueError(
                f"sea_safe_cpa_m: {self.sea_safe_cpa_m} must be above sea_cpa_m {self.sea_cpa_m}")
        if self.sea_history_step_s > self.sea_turn_window_s:
            raise ValueError("sea_history_step_s: must not be longer than sea_turn_window_s")
        return self


class GnssSettings(_Section):
    """``gnss_interference`` (docs/engine.md): areas where many aircraft report degraded GNSS.

    Each H3 cell (https://h3geo.org) of ``resolution`` is judged over the last ``window_s``
    of data time from the aircraft that reported a position quality there: the share of them
    that reported a degraded one (the method of the public daily GPS-jamming maps, live).
    """

    # H3 resolution of the cells: 3 (about 12,400 km2), 4 (1,770 km2), 5 (250 km2).
    resolution: int = Field(default=4, ge=0, le=8)
    # The sliding window over which a cell is judged.
    window_s: PositiveFloat = 900.0
    # A cell is interfered when at least min_aircraft aircraft reported a position quality
    # there in the window, at least min_degraded of them degraded, a share of at least
    # min_share; it stays so while the share is at least clear_share (hysteresis).
    min_aircraft: int = Field(default=3, ge=1)
    min_degraded: int = Field(default=2, ge=1)
    min_share: float = Field(default=0.2, gt=0, le=1)
    clear_share: float = Field(default=0.1, gt=0, le=1)
    # Degraded: ADS-B NIC below nic_below (7: containment radius 0.2 NM or worse), NACp below
    # nac_p_below (8: 95 % bound 0.05 NM or worse), version-0 NUCp below nuc_p_below, or a
    # readsb gpsOkBefore (the aircraft says its GNSS was good only until then).
    nic_below: int = Field(default=7, ge=1, le=11)
    nac_p_below: int = Field(default=8, ge=1, le=11)
    nuc_p_below: int = Field(default=6, ge=1, le=9)
    # Tracks (any domain) inside an interference area are suspect (reason gnss_interference).
    mark_suspect: bool = True

    @model_validator(mode="after")
    def _shares(self) -> "GnssSettings":
        if self.clear_share > self.min_share:
            raise ValueError("clear_share must not exceed min_share")
        if self.min_degraded > self.min_aircraft:
            raise ValueError("min_degraded must not exceed min_aircraft")
        return self


_DEFAULT_STALE_AFTER_S: dict[Literal["air", "sea", "land"], float] = {"air": 120.0, "sea": 900.0, "land": 600.0}
# Fastest plausible ground speeds: supersonic military aircraft, fast patrol craft, road vehicles.
_DEFAULT_MAX_SPEED_MPS: dict[Literal["air", "sea", "land"], float] = {"air": 700.0, "sea": 30.0, "land": 70.0}
# Turn rates no airframe, hull or vehicle sustains for a second (degrees per second): fighters
# turn at most about 20-30 deg/s, fast craft and ships far less; and the speeds above which a
# reported course means something (slow ships' and taxiing aircraft's courses wander).
_DEFAULT_MAX_TURN_RATE_DPS: dict[Literal["air", "sea", "land"], float] = {"air": 40.0, "sea": 30.0, "land": 90.0}
_DEFAULT_TURN_MIN_SPEED_MPS: dict[Literal["air", "sea", "land"], float] = {"air": 50.0, "sea": 3.0, "land": 5.0}


# Prediction work grows with horizon_s / predict_step_s steps of the pair screen.
_MAX_PREDICT_SAMPLES = 10_000


class ProximitySettings(_Section):
    # How far ahead predictions look (at most a day: dead reckoning means nothing further).
    horizon_s: float = Field(default=900.0, gt=0, le=86_400)
    # Hysteresis: an event closes only when separation exceeds threshold * (1 + margin)
    # and the condition has held for min_dwell_s.
    hysteresis_margin: float = Field(default=0.1, ge=0, le=1)
    min_dwell_s: float = Field(default=30.0, ge=0)
    stale_after_s: dict[Literal["air", "sea", "land"], PositiveFloat] = Field(
        default_factory=lambda: dict(_DEFAULT_STALE_AFTER_S)
    )
    thresholds: ThresholdSettings = Field(default_factory=ThresholdSettings)
    # ICAO type designators whose presence raises an event's severity. Default: the types
    # marked "watch" in config/data/classification/military_types.csv (bombers, strike and
    # reconnaissance types: TU95, T160, TU22, SU24, SU34, IL20, A50...).
    watch_types: tuple[str, ...] = Field(default_factory=lambda: _default_watch_types())
    # Pairs of opposing tracks are compared at every multiple of this data time.
    pair_interval_s: PositiveFloat = 5.0
    # At a pair tick every track is dead-reckoned from its last report to the tick
    # (course, speed, vertical rate), by at most this long: a track silent for longer
    # is placed where its report puts it align_max_age_s later (0: reports as they are).
    align_max_age_s: float = Field(default=30.0, ge=0)
    # A zone_entry incident closes when the track is farther outside the zone than
    # max(zone_exit_margin_m, hysteresis_margin * zone.buffer_m) for min_dwell_s.
    zone_exit_margin_m: float = Field(default=500.0, ge=0)
    # An open incident gets an "update" revision when its distance falls this
    # fraction below the last reported minimum (or its severity changes).
    update_min_change: float = Field(default=0.1, gt=0, lt=1)
    # A close approach below this fraction of its threshold is "critical".
    critical_fraction: float = Field(default=0.5, gt=0, le=1)
    # Predictions (predicted_zone_entry, predicted_close_approach) are made for every
    # track once per predict_interval_s of data time, spread over predict_slices slices
    # of it: a track (a pair: its NATO track) is predicted in the slice its id falls into
    # (CRC-32 of the id), at the middle of that slice, so that no prediction run holds the
    # pipeline for long and none falls on a pair tick (docs/engine.md, "Time").
    # 1: every track at once.
    predict_interval_s: PositiveFloat = 30.0
    predict_slices: int = Field(default=30, ge=1, le=3_600)
    # Pair prediction screen: the horizon in steps of at most predict_step_s, each track's
    # path within a step bounded by a ball (speed x step / 2). Shorter steps, tighter balls but
    # more KD-trees per prediction slice: three steps of the default horizon (docs/engine.md).
    predict_step_s: PositiveFloat = 360.0
    # Zone-entry prediction: the path is sampled at least every predict_zone_step_m,
    # then the entry is refined to about a metre.
    predict_zone_step_m: float = Field(default=5_000.0, ge=100)
    # Tracks slower than this are not dead-reckoned into zones.
    predict_min_speed_mps: float = Field(default=0.5, ge=0)
    # exercise_near_border: an active exercise zone closer than this to a border line.
    exercise_border_distance_m: PositiveFloat = 50_000.0
    # an exercise notified less than this before it started is `late` (Vienna Document 2011,
    # paragraph 38: 42 days); events about notified areas carry it (proximity.notification)
    notification_lead_s: float = Field(default=42 * 86_400.0, ge=0, le=366 * 86_400.0)
    # track_integrity: a report farther from the previous one than
    # max_speed_mps[domain] * dt + jump_tolerance_m is a jump.
    max_speed_mps: dict[Literal["air", "sea", "land"], PositiveFloat] = Field(
        default_factory=lambda: dict(_DEFAULT_MAX_SPEED_MPS)
    )
    jump_tolerance_m: float = Field(default=1_000.0, ge=0)
    # Reports within stuck_radius_m of each other for stuck_min_s while the track
    # reports at least stuck_min_speed_mps: positions stuck.
    stuck_radius_m: float = Field(default=5.0, ge=0)
    stuck_min_s: PositiveFloat = 120.0
    stuck_min_speed_mps: PositiveFloat = 2.0
    # impossible_speed: a reported speed (over ground) above max_speed_mps[domain] plus this
    # fraction (a report no hull, airframe or vehicle can make).
    impossible_speed_tolerance: float = Field(default=0.1, ge=0)
    # impossible_turn: between two reports at least min_turn_dt_s apart, both at least
    # turn_min_speed_mps[domain], the reported course changed by more than
    # max_turn_rate_dps[domain] x dt + turn_noise_deg (a lower bound of the true turn rate).
    max_turn_rate_dps: dict[Literal["air", "sea", "land"], PositiveFloat] = Field(
        default_factory=lambda: dict(_DEFAULT_MAX_TURN_RATE_DPS)
    )
    turn_min_speed_mps: dict[Literal["air", "sea", "land"], PositiveFloat] = Field(
        default_factory=lambda: dict(_DEFAULT_TURN_MIN_SPEED_MPS)
    )
    turn_noise_deg: float = Field(default=10.0, ge=0, lt=180)
    min_turn_dt_s: PositiveFloat = 1.0
    # on_land: a ship farther than on_land_margin_m inside the land polygons given to the
    # engine (the coastline of the shipped outlines is good to about 2 km).
    on_land_margin_m: float = Field(default=5_000.0, ge=0)
    # same_position: ships or aircraft of different identities within same_position_m of each
    # other (identical positions: AIS and ADS-B positions are coded to about 0.2 m and 5 m),
    # their latest reports at most same_position_dt_s apart.
    same_position_m: float = Field(default=0.5, ge=0)
    same_position_dt_s: float = Field(default=10.0, ge=0)
    # A flagged track stays suspect this long after its last anomaly.
    suspect_hold_s: PositiveFloat = 600.0
    # GNSS-spoofing-like pattern: at least spoof_min_tracks distinct tracks jumped,
    # within spoof_window_s, to targets linked by spoof_link_m that lie within
    # spoof_point_radius_m of one point or within spoof_circle_tolerance_m
    # (or 2 % of the radius) of one circle.
    spoof_window_s: PositiveFloat = 300.0
    spoof_min_tracks: int = Field(default=4, ge=2)
    spoof_link_m: PositiveFloat = 30_000.0
    spoof_point_radius_m: PositiveFloat = 1_000.0
    spoof_circle_tolerance_m: PositiveFloat = 500.0
    # Tracks dead (stale) for this long are forgotten and their memory reused.
    forget_after_s: PositiveFloat = 3_600.0
    # A report this far ahead of the data clock is held until reports of this many tracks
    # confirm the new time (or the clock catches up): one mangled time must not move the
    # clock for everyone (proximity/_clock.py, docs/engine.md "Time").
    future_tolerance_s: PositiveFloat = 600.0
    future_confirm_tracks: int = Field(default=3, ge=1, le=1_000)
    future_held_max: int = Field(default=10_000, ge=1, le=1_000_000)
    shadowing: ShadowingSettings = Field(default_factory=ShadowingSettings)
    sortie: SortieSettings = Field(default_factory=SortieSettings)
    ais_gap: AisGapSettings = Field(default_factory=AisGapSettings)
    incsea: IncseaSettings = Field(default_factory=IncseaSettings)
    gnss: GnssSettings = Field(default_factory=GnssSettings)

    @model_validator(mode="after")
    def _bounded_prediction(self) -> "ProximitySettings":
        samples = self.horizon_s / self.predict_step_s
        if samples > _MAX_PREDICT_SAMPLES:
            raise ValueError(
                f"horizon_s / predict_step_s = {samples:,.0f} samples a pair; at most {_MAX_PREDICT_SAMPLES:,}"
            )
        return self

    @model_validator(mode="after")
    def _gap_before_forgotten(self) -> "ProximitySettings":
        # a sea track is forgotten once stale (stale_after_s.sea) and dead for forget_after_s. Only a
        # silence the file asks for is refused: with the default and a shorter memory chosen for
        # other reasons, ais_gap simply never opens (docs/engine.md), and the rest of the file runs.
        forgotten_s = max(self.stale_after_s.get("sea", math.inf), self.forget_after_s)
        if "silence_s" in self.ais_gap.model_fields_set and self.ais_gap.silence_s >= forgotten_s:
            raise ValueError(
                f"ais_gap.silence_s ({self.ais_gap.silence_s:g}) must be below the time a silent ship is "
                f"forgotten (the larger of stale_after_s.sea and forget_after_s, {forgotten_s:g})"
            )
        return self


class ZoneSettings(_Section):
    """Which zones to watch (see docs/zones.md)."""

    # "default": the committed catalogue in config/data/zones; "none": custom zones only.
    catalogue: Literal["default", "none"] = "default"
    # Which border-buffer bands of the catalogue to watch (metres; committed: 10000, 25000,
    # 50000; a band missing from the catalogue is an error when the catalogue is loaded).
    border_buffers_m: tuple[PositiveFloat, ...] = (10_000.0,)
    # Territory plus 12 NM (territorial sea and airspace) of Russia and the NATO states
    # around the Baltic, the Gulf of Finland, the Barents Sea and the Black Sea; Finland's
    # and Estonia's end 3 NM short of their median line in the Gulf of Finland (the corridor).
    territorial: bool = True
    custom: tuple[str, ...] = ()  # GeoJSON files of custom zones (format in docs/zones.md)

    @model_validator(mode="after")
    def _unique_bands(self) -> "ZoneSettings":
        if len(set(self.border_buffers_m)) != len(self.border_buffers_m):
            raise ValueError("border_buffers_m lists a band twice")
        return self


def _icao_address(value: str) -> str:
    a = value.strip().lower()
    if len(a) != 6 or any(c not in "0123456789abcdef" for c in a):
        raise ValueError(f"{value!r} is not a 24-bit ICAO address (six hexadecimal digits)")
    return a


def _pattern(value: str) -> str:
    p = value.strip()
    if not p:
        raise ValueError("empty pattern")
    try:
        re.compile(p)
    except re.error as e:
        raise ValueError(f"{value!r} is not a regular expression: {e}") from e
    return p


# ITU-R M.585: a Maritime Mobile Service Identity has nine digits.
Mmsi = Annotated[int, Field(ge=1, le=999_999_999)]
IcaoAddress = Annotated[str, AfterValidator(_icao_address)]  # normalised to lower case
Pattern = Annotated[str, AfterValidator(_pattern)]  # a regular expression (callsign, ship name)


def _joined(patterns: tuple[str, ...], key: str) -> re.Pattern[str] | None:
    """Patterns as one case-insensitive alternation (None: none); a ValueError names ``key``
    when they do not compile together."""
    if not patterns:
        return None
    try:
        return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
    except re.error as e:
        hint = " (a global flag such as (?i) must not be used: matching ignores case already)" if "flag" in str(e) else ""
        raise ValueError(f"{key} do not compile together: {e}{hint}") from e


class SidesSettings(_Section):
    """Affiliation overrides; tables in config/data decide the rest."""

    belarus: Literal["russia", "other"] = "russia"
    nato_mmsi: tuple[Mmsi, ...] = ()
    russia_mmsi: tuple[Mmsi, ...] = ()
    nato_icao: tuple[IcaoAddress, ...] = ()
    russia_icao: tuple[IcaoAddress, ...] = ()
    # Regular expressions matched case-insensitively against the whole callsign ("RFF\d+").
    nato_callsign_patterns: tuple[Pattern, ...] = ()
    russia_callsign_patterns: tuple[Pattern, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> "SidesSettings":
        both = sorted({str(m) for m in set(self.nato_mmsi) & set(self.russia_mmsi)}
                      | (set(self.nato_icao) & set(self.russia_icao)))
        if both:
            raise ValueError(f"listed as both nato and russia: {', '.join(both)}")
        for side in ("nato", "russia"):
            self.callsign_pattern(side)  # the patterns compile together too (a flag like (?i) mid-way does not)
        return self

    def callsign_pattern(self, side: Literal["nato", "russia"]) -> re.Pattern[str] | None:
        """The ``<side>_callsign_patterns`` as one case-insensitive pattern (None: none configured);
        a ValueError names the key when they do not compile together."""
        patterns = self.nato_callsign_patterns if side == "nato" else self.russia_callsign_patterns
        return _joined(patterns, f"{side}_callsign_patterns")


def _default_watch_types() -> tuple[str, ...]:
    from config.classification import watch_types  # the table imports this module

    return watch_types()


ListedCategory = Literal["military", "state", "civil"]
#: The categories [classification] lists, in the order of their keys.
LISTED_CATEGORIES: tuple[ListedCategory, ...] = ("military", "state", "civil")


class ClassificationSettings(_Section):
    """Who operates a track (military, state, civil): lists and patterns that override the
    tables of config/data/classification (see config/classification.py for the precedence).

    MMSI and ICAO address lists, and regular expressions matched case-insensitively against
    the whole callsign or ship name. A track listed under two categories, a pattern that does
    not compile or an address that is not 24-bit hex is an error naming the key.
    """

    military_mmsi: tuple[Mmsi, ...] = ()
    state_mmsi: tuple[Mmsi, ...] = ()
    civil_mmsi: tuple[Mmsi, ...] = ()
    military_icao: tuple[IcaoAddress, ...] = ()
    state_icao: tuple[IcaoAddress, ...] = ()
    civil_icao: tuple[IcaoAddress, ...] = ()
    military_callsign_patterns: tuple[Pattern, ...] = ()
    state_callsign_patterns: tuple[Pattern, ...] = ()
    civil_callsign_patterns: tuple[Pattern, ...] = ()
    military_name_patterns: tuple[Pattern, ...] = ()
    state_name_patterns: tuple[Pattern, ...] = ()
    civil_name_patterns: tuple[Pattern, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> "ClassificationSettings":
        for kind in ("mmsi", "icao"):
            seen: dict[object, str] = {}
            for category in ("military", "state", "civil"):
                for ident in getattr(self, f"{category}_{kind}"):
                    if ident in seen and seen[ident] != category:
                        raise ValueError(f"{ident} is listed as both {seen[ident]} and {category} ({kind})")
                    seen[ident] = category
        for listed in LISTED_CATEGORIES:
            self.pattern(listed, "callsign")  # the patterns of a key compile together too
            self.pattern(listed, "name")
        return self

    def pattern(self, category: ListedCategory, what: Literal["callsign", "name"]) -> re.Pattern[str] | None:
        """The ``<category>_<what>_patterns`` as one case-insensitive pattern (None: none)."""
        key = f"{category}_{what}_patterns"
        return _joined(getattr(self, key), key)


class RuleSettings(_Section):
    """What is raised and how loud (docs/engine.md, "Rule profiles" and "The context of a report")."""

    # A committed profile by name (config/data/profiles: military, all-traffic) or a .toml path.
    profile: str = Field(default="military", min_length=1)
    # Track ids (ais:<MMSI>, icao:<hex>, cot:<uid>) whose incidents that the profile does not
    # raise are written as context events (closewatch run --explain adds to it).
    explain: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    # A ship slower than moored_max_speed_mps for moored_after_s is stationary (as is one whose AIS
    # navigational status says at anchor or moored).
    moored_max_speed_mps: float = Field(default=0.5 * 1852.0 / 3600.0, ge=0, le=5)
    moored_after_s: float = Field(default=600.0, ge=0, le=86_400)
    # An aircraft below ground_max_alt_m with no speed (at most ground_max_speed_mps, or none) is on
    # the ground, as is one that says so (on-ground flag, surface position).
    ground_max_alt_m: float = Field(default=150.0, ge=-500, le=3_000)
    ground_max_speed_mps: float = Field(default=0.5, ge=0, le=50)
    # Innocent passage (UNCLOS art. 18: continuous and expeditious): a track in a territorial zone
    # slower than passage_min_speed_mps for passage_stop_s is stopped; one whose net distance over
    # the distance run falls below passage_min_straightness after passage_off_course_s loiters.
    passage_stop_s: float = Field(default=900.0, gt=0, le=86_400)
    passage_min_speed_mps: float = Field(default=1.0, ge=0, le=20)
    passage_off_course_s: float = Field(default=1_800.0, gt=0, le=86_400)
    passage_min_straightness: float = Field(default=0.6, gt=0, le=1)
    # Port areas: "default" the committed ports (config/data/ports), "none" custom ones only;
    # custom_ports: GeoJSON files of port or anchorage polygons.
    ports: Literal["default", "none"] = "default"
    custom_ports: tuple[str, ...] = ()


class KafkaSettings(_Section):
    bootstrap_servers: BootstrapServers = Field(min_length=1)
    events_topic: str = "closewatch.events.v1"
    tracks_topic: str = "closewatch.tracks.v1"
    deadletter_topic: str = "closewatch.deadletter.v1"
    # Notices either side's liaison publishes (`closewatch notices publish`; alerts/schemas/
    # notice.v1.json); a feed reads them (transport kafka, format exercise-geojson).
    notices_topic: str = "closewatch.notices.v1"
    # Context events (incidents the rule profile did not raise, of the tracks of [rules] explain /
    # run --explain); None: "<events_topic>.context" (docs/kafka.md). See context_topic_name.
    context_topic: str | None = Field(default=None, min_length=1)
    partitions: int = Field(default=3, ge=1)
    retention_ms: int = Field(default=7 * 24 * 3600 * 1000, ge=-1)
    client_id: str = "closewatch"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    # TLS (security_protocol SSL or SASL_SSL), PEM files: the CA that signed the brokers'
    # certificates (None: the system's trust store), and for mutual TLS the client's
    # certificate and private key, with the key's password if it is encrypted.
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_key_password: str | None = None
    spool_dir: str = ".closewatch/spool"
    spool_max_bytes: int = Field(default=256 * 1024 * 1024, gt=0)
    # The largest record closewatch sends (librdkafka's message.max.bytes; the broker's own
    # limit is about 1 MiB by default): a larger one becomes a dead letter instead.
    max_message_bytes: int = Field(default=1_000_000, ge=10_000, le=100_000_000)

    @property
    def context_topic_name(self) -> str:
        """The topic of the context events: ``context_topic``, else ``<events_topic>.context``."""
        return self.context_topic or f"{self.events_topic}.context"

    @model_validator(mode="after")
    def _security(self) -> "KafkaSettings":
        if self.security_protocol.startswith("SASL"):
            missing = [k for k in ("sasl_mechanism", "sasl_username", "sasl_password") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"security_protocol {self.security_protocol} needs {', '.join(missing)}")
        _check_key_pair("ssl_", self.ssl_certfile, self.ssl_keyfile, self.ssl_key_password)
        return self


class SinkSettings(_Section):
    """Where events and dead letters go when Kafka is not configured, and how often they reach the disk."""

    events_jsonl: str = "closewatch-events.jsonl"
    deadletter_jsonl: str = "closewatch-deadletter.jsonl"
    # The normalised tracks too (input for `closewatch map replay`); None: not kept.
    tracks_jsonl: str | None = None
    # During a run the sinks hand on what they buffer at least this often (wall clock): the
    # JSON Lines files then hold every line so far (a kill -9 loses nothing older).
    flush_interval_s: float = Field(default=1.0, gt=0, le=3600)
    # ... and fsync the files then (and at every sync), so a power cut loses nothing synced.
    fsync: bool = True
    # context events (incidents not raised, of the tracks of [rules] explain / run --explain)
    context_jsonl: str = "closewatch-context.jsonl"


def _host(value: str) -> str:
    canonical_host(value)  # a ValueError says what is wrong
    return value.strip()


def _allowed_host(value: str) -> str:
    split_host_port(value)
    return value.strip()


class MapSettings(_Section):
    output: str = "closewatch-map.html"
    host: Annotated[str, AfterValidator(_host)] = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    # The bearer token (RFC 6750 b64token syntax, at least 16 characters); required when
    # host is not a loopback address.
    token: str | None = Field(default=None, min_length=16, pattern=r"^[A-Za-z0-9\-._~+/]+=*$")
    # Host header values the server answers to besides 127.0.0.1, localhost and [::1] (and the
    # address it listens on): the names operators type ("map.ops.example", "map.ops.example:8443").
    # Any other Host is refused (421), which defeats DNS rebinding.
    allowed_hosts: tuple[Annotated[str, AfterValidator(_allowed_host)], ...] = ()
    # HTTPS: the server's certificate chain and private key (PEM), and the key's password if
    # it is encrypted. None: plain HTTP.
    tls_certfile: str | None = None
    tls_keyfile: str | None = None
    tls_key_password: str | None = None
    tile_url: str | None = None  # None: no tiles, country outlines only (air-gapped)
    refresh_s: PositiveFloat = 2.0  # how often the live page polls the server
    # no input for this long (wall clock): the live page shows a stale-feed warning
    feed_stale_after_s: PositiveFloat = 30.0
    trail_points: int = Field(default=20, ge=2, le=10_000)  # positions in a live track's trail
    trail_window_s: PositiveFloat = 600.0  # and at most this far back

    @model_validator(mode="after")
    def _token_off_loopback(self) -> "MapSettings":
        if not is_loopback_host(self.host) and not self.token:
            raise ValueError(f"host {self.host!r} is not loopback: set map.token")
        _check_key_pair("tls_", self.tls_certfile, self.tls_keyfile, self.tls_key_password)
        return self


class PipelineSettings(_Section):
    """How a run hands work on: micro-batches, and checkpoints for Kafka-fed runs."""

    # A batch goes to the engine at this many updates, or after this much wall time, or right
    # after the first report past the engine's next pair tick or prediction slice (its events
    # then go out at once; the events do not depend on where batches are cut).
    batch_size: int = Field(default=4096, ge=1, le=1_000_000)
    max_batch_delay_s: PositiveFloat = 0.05
    # Kafka-fed runs: the engine's state and the input positions are checkpointed here
    # (after the sinks acknowledged) so a restart, even after kill -9, resumes exactly.
    state_dir: str = ".closewatch/state"
    checkpoint_interval_s: PositiveFloat = 1.0


class ScaleSettings(_Section):
    """Several workers on a Kafka cluster (docs/scaling.md): ``closewatch run --role ingest|engine``.

    ``role`` "all" is the single process (the embedded default); "ingest" decodes the feeds
    and routes every track update to the partitions of ``cells_topic`` that judge it (its
    cell's, and halo copies); "engine" judges the partitions of ``cells_topic`` it is
    assigned in the consumer group ``engine_group`` and publishes the events they own.
    Every worker of a deployment must have the same ``partitions``, ``cell_deg``,
    ``one_way`` and ``history_s``: the engine workers refuse a partition's saved state made
    with others.
    """

    role: Literal["all", "ingest", "engine"] = "all"
    cells_topic: str = "closewatch.cells.v1"
    interest_topic: str = "closewatch.interest.v1"
    state_topic: str = "closewatch.engine-state.v1"
    engine_group: str = "closewatch-engine"
    # partitions of the cells and state topics: the most engine workers that can share the work
    partitions: int = Field(default=6, ge=1, le=10_000)
    cell_deg: float = Field(default=4.0, gt=0, le=90)
    # the long (prediction) halo for Russian reports only; pairs belong to their NATO track
    one_way: bool = True
    # ... and the other reports' halo also covers their own travel over this long
    history_s: float = Field(default=120.0, ge=0)
    # an engine worker saves each partition's state (then commits its offset) this often
    checkpoint_interval_s: PositiveFloat = 5.0
    # an engine worker silent this long (crashed, cut off) loses its partitions to the others
    session_timeout_s: float = Field(default=10.0, ge=6.0, le=300.0)
    # the largest state record (the state topic's max.message.bytes); a larger state is
    # written in pieces of about this size
    max_state_bytes: int = Field(default=64 * 1024 * 1024, ge=65_536, le=1_000_000_000)
    # partitions as regions of about equal traffic: positions on a Hilbert curve through
    # the cells, one fewer than the partitions, made by ``closewatch scale plan`` from a
    # recording; empty: hashed cells (closewatch/cells.py)
    region_cuts: tuple[Annotated[int, Field(ge=0, le=1 << 32)], ...] = ()

    @model_validator(mode="after")
    def _regions_fit(self) -> "ScaleSettings":
        if self.region_cuts:
            if len(self.region_cuts) != self.partitions - 1:
                raise ValueError(f"region_cuts has {len(self.region_cuts)} cuts for {self.partitions} partitions: "
                                 f"it needs {self.partitions - 1} (one fewer than the partitions; make them with "
                                 f"`closewatch scale plan`)")
            if list(self.region_cuts) != sorted(self.region_cuts):
                raise ValueError("region_cuts must ascend")
        return self


class ArchiveSettings(_Section):
    """The archive of every track update, event revision and dead letter (docs/archive.md)."""

    enabled: bool = True
    # A folder of GeoParquet files partitioned by UTC hour (created when missing).
    path: str = "closewatch-archive"
    # Delete whole hour partitions older than this many days before the newest data
    # archived (the data clock); None: keep everything.
    retention_days: PositiveFloat | None = None
    # A part file is written when this many rows of one table and hour wait, every
    # flush_interval_s, and whenever the run makes its sinks durable.
    part_rows: int = Field(default=200_000, ge=1)
    flush_interval_s: PositiveFloat = 10.0
    # Batches waiting for the writer thread; when full, the run waits (bounded memory).
    queue_batches: int = Field(default=64, ge=1)
    # Replay: how far before a window the lead-in may reach back to reopen the incidents
    # that were open when the window starts (docs/archive.md, "Replay").
    max_lead_in_s: float = Field(default=6 * 3600.0, ge=0)


class Settings(_Section):
    feeds: tuple[FeedSettings, ...] = ()
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    proximity: ProximitySettings = Field(default_factory=ProximitySettings)
    zones: ZoneSettings = Field(default_factory=ZoneSettings)
    sides: SidesSettings = Field(default_factory=SidesSettings)
    classification: ClassificationSettings = Field(default_factory=ClassificationSettings)
    rules: RuleSettings = Field(default_factory=RuleSettings)
    kafka: KafkaSettings | None = None
    sinks: SinkSettings = Field(default_factory=SinkSettings)
    map: MapSettings = Field(default_factory=MapSettings)
    archive: ArchiveSettings = Field(default_factory=ArchiveSettings)
    scale: ScaleSettings = Field(default_factory=ScaleSettings)

    @model_validator(mode="after")
    def _workers_need_kafka(self) -> "Settings":
        if self.scale.role != "all" and self.kafka is None:
            raise ValueError(f"scale.role {self.scale.role!r}: workers talk through Kafka: add a [kafka] section")
        return self

    @model_validator(mode="after")
    def _unique_feed_names(self) -> "Settings":
        names = [f.name for f in self.feeds]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"feed names must be unique, repeated: {', '.join(dupes)}")
        return self


def _format_errors(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        reason = e["msg"]
        if e["type"] == "extra_forbidden":
            reason = "unknown key"
        lines.append(f"  {path}: {reason}")
    return "\n".join(lines)


def parse_settings(data: dict[str, Any], source: str = "<settings>") -> Settings:
    """Validate a decoded TOML document; raise :class:`ConfigError` naming key paths."""
    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_errors(e, source)) from e


def load_settings(path: str | Path | None) -> Settings:
    """Read and validate ``path``; ``None`` gives the embedded defaults."""
    if path is None:
        return Settings()
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError as e:
        raise ConfigError(f"{p}: no such configuration file") from e
    except IsADirectoryError as e:
        raise ConfigError(f"{p}: is a directory, not a configuration file") from e
    except OSError as e:
        raise ConfigError(f"{p}: cannot read the configuration: {e.strerror or e}") from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise ConfigError(
            f"{p}: not UTF-8 text (TOML files are UTF-8): byte 0x{raw[e.start]:02x} at line {line}, column {column}"
        ) from e
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from e
    return parse_settings(data, str(p))
