"""The rule profile of a run: ``[rules]`` settings and the profile file made into ``proximity.rules.Rules``."""

from __future__ import annotations

import functools
from typing import Iterable

from shapely.geometry.base import BaseGeometry

from config.ports import PortFileError, load_custom_ports, load_port_points
from config.profiles import ProfileFileError, read_profile
from config.settings import ConfigError, RuleSettings, Settings
from proximity.events import event_kinds
from proximity.geometry import geodesic_circle
from proximity.rules import ProfileError, RuleProfile, Rules

__all__ = ["build_rules", "load_ports", "load_profile"]


def load_profile(name_or_path: str) -> RuleProfile:
    """A committed profile by name, or a profile file; :class:`ConfigError` says what is wrong, where."""
    try:
        data, source = read_profile(name_or_path)
        return RuleProfile.parse(data, source, known_kinds=tuple(event_kinds()))
    except (ProfileFileError, ProfileError) as e:
        raise ConfigError(f"rules.profile: {e}") from e


@functools.cache
def _committed_port_areas() -> tuple[BaseGeometry, ...]:
    # within 10 m of the 3-km circle: it says "inside a port", it measures nothing
    return tuple(geodesic_circle(p.lon_deg, p.lat_deg, p.radius_m, max_error_m=10.0) for p in load_port_points())


def load_ports(r: RuleSettings) -> list[BaseGeometry]:
    """The port areas of ``[rules]``: circles around the committed ports, then custom polygons."""
    areas: list[BaseGeometry] = []
    try:
        if r.ports == "default":
            areas += _committed_port_areas()
        for k, path in enumerate(r.custom_ports):
            try:
                areas += [a.geometry for a in load_custom_ports(path)]
            except PortFileError as e:
                raise ConfigError(f"rules.custom_ports.{k}: {e}") from e
    except PortFileError as e:
        raise ConfigError(f"rules.ports: {e}") from e
    return areas


def build_rules(settings: Settings, explain: Iterable[str] = ()) -> Rules:
    """The rules of a run: its profile, context settings and the tracks to explain
    (``[rules] explain`` plus ``explain``)."""
    r = settings.rules
    return Rules(
        profile=load_profile(r.profile),
        context=r,
        ports=load_ports(r),
        explain=frozenset((*r.explain, *explain)),
    )
