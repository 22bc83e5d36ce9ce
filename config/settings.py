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

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from config.times import parse_utc

__all__ = [
    "ConfigError",
    "FeedSettings",
    "KafkaSettings",
    "MapSettings",
    "PipelineSettings",
    "ProximitySettings",
    "Settings",
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
    # A misspelt key is an error, not a silently ignored default.
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    # kafka: the cluster (default: bootstrap_servers of the [kafka] section), the consumer
    # group, and where a new group starts reading.
    bootstrap_servers: str | None = None
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


_DEFAULT_STALE_AFTER_S: dict[Literal["air", "sea", "land"], float] = {"air": 120.0, "sea": 900.0, "land": 600.0}
# Fastest plausible ground speeds: supersonic military aircraft, fast patrol craft, road vehicles.
_DEFAULT_MAX_SPEED_MPS: dict[Literal["air", "sea", "land"], float] = {"air": 700.0, "sea": 30.0, "land": 70.0}


class ProximitySettings(_Section):
    horizon_s: PositiveFloat = 900.0
    # Hysteresis: an event closes only when separation exceeds threshold * (1 + margin)
    # and the condition has held for min_dwell_s.
    hysteresis_margin: float = Field(default=0.1, ge=0, le=1)
    min_dwell_s: float = Field(default=30.0, ge=0)
    stale_after_s: dict[Literal["air", "sea", "land"], PositiveFloat] = Field(
        default_factory=lambda: dict(_DEFAULT_STALE_AFTER_S)
    )
    thresholds: ThresholdSettings = Field(default_factory=ThresholdSettings)
    # ICAO type designators whose presence raises an event's severity.
    watch_types: tuple[str, ...] = ("TU95", "TU160", "TU22", "SU24", "SU34", "IL20", "A50")
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
    # Predictions (predicted_zone_entry, predicted_close_approach) run at the pair
    # ticks that fall on multiples of this data time.
    predict_interval_s: PositiveFloat = 30.0
    # Pair prediction screen: positions sampled every predict_step_s of the horizon.
    predict_step_s: PositiveFloat = 60.0
    # Zone-entry prediction: the path is sampled at least every predict_zone_step_m,
    # then the entry is refined to about a metre.
    predict_zone_step_m: PositiveFloat = 5_000.0
    # Tracks slower than this are not dead-reckoned into zones.
    predict_min_speed_mps: float = Field(default=0.5, ge=0)
    # exercise_near_border: an active exercise zone closer than this to a border line.
    exercise_border_distance_m: PositiveFloat = 50_000.0
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


class SidesSettings(_Section):
    """Affiliation overrides; tables in config/data decide the rest."""

    belarus: Literal["russia", "other"] = "russia"
    nato_mmsi: tuple[int, ...] = ()
    russia_mmsi: tuple[int, ...] = ()
    nato_icao: tuple[str, ...] = ()
    russia_icao: tuple[str, ...] = ()
    # Regular expressions matched case-insensitively against the whole callsign ("RFF\d+").
    nato_callsign_patterns: tuple[str, ...] = ()
    russia_callsign_patterns: tuple[str, ...] = ()


class KafkaSettings(_Section):
    bootstrap_servers: str = Field(min_length=1)
    events_topic: str = "closewatch.events.v1"
    tracks_topic: str = "closewatch.tracks.v1"
    deadletter_topic: str = "closewatch.deadletter.v1"
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


class SinkSettings(_Section):
    """Where events and dead letters go when Kafka is not configured."""

    events_jsonl: str = "closewatch-events.jsonl"
    deadletter_jsonl: str = "closewatch-deadletter.jsonl"
    # The normalised tracks too (input for `closewatch map replay`); None: not kept.
    tracks_jsonl: str | None = None


class MapSettings(_Section):
    output: str = "closewatch-map.html"
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    token: str | None = None
    tile_url: str | None = None  # None: no tiles, country outlines only (air-gapped)
    refresh_s: PositiveFloat = 2.0  # how often the live page polls the server
    # no input for this long (wall clock): the live page shows a stale-feed warning
    feed_stale_after_s: PositiveFloat = 30.0
    trail_points: int = Field(default=20, ge=2)  # positions in a live track's trail
    trail_window_s: PositiveFloat = 600.0  # and at most this far back

    @model_validator(mode="after")
    def _token_off_loopback(self) -> "MapSettings":
        if self.host not in ("127.0.0.1", "localhost", "::1") and not self.token:
            raise ValueError(f"host {self.host!r} is not loopback: set map.token")
        return self


class PipelineSettings(_Section):
    """How a run hands work on: micro-batches, and checkpoints for Kafka-fed runs."""

    # A batch goes to the engine at this many updates, or after this much wall time.
    batch_size: int = Field(default=4096, ge=1)
    max_batch_delay_s: PositiveFloat = 0.05
    # Kafka-fed runs: the engine's state and the input positions are checkpointed here
    # (after the sinks acknowledged) so a restart, even after kill -9, resumes exactly.
    state_dir: str = ".closewatch/state"
    checkpoint_interval_s: PositiveFloat = 1.0


class Settings(_Section):
    feeds: tuple[FeedSettings, ...] = ()
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    proximity: ProximitySettings = Field(default_factory=ProximitySettings)
    zones: ZoneSettings = Field(default_factory=ZoneSettings)
    sides: SidesSettings = Field(default_factory=SidesSettings)
    kafka: KafkaSettings | None = None
    sinks: SinkSettings = Field(default_factory=SinkSettings)
    map: MapSettings = Field(default_factory=MapSettings)

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
        with p.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError as e:
        raise ConfigError(f"{p}: no such configuration file") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from e
    return parse_settings(data, str(p))
