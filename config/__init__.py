"""Settings, the zone catalogue and affiliation tables: read by every room."""

from config.records import DOMAINS, SIDES, ZONE_KINDS, DeadLetter, RecordError, TrackUpdate, Zone
from config.settings import ConfigError, Settings, load_settings, parse_settings

__all__ = [
    "DOMAINS",
    "SIDES",
    "ZONE_KINDS",
    "ConfigError",
    "DeadLetter",
    "RecordError",
    "Settings",
    "TrackUpdate",
    "Zone",
    "load_settings",
    "parse_settings",
]
