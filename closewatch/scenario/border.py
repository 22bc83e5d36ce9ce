"""The border the demo's helicopter approaches, as a distance function for the expectations."""

from __future__ import annotations

from typing import Callable

from config.zones import load_borders
from proximity.geometry import distance_to_geometry_m

__all__ = ["DEMO_BORDER", "DEMO_BUFFER_M", "border_distance_function"]

DEMO_BORDER = "Russia–Estonia border"
DEMO_BUFFER_M = 10_000.0


def border_distance_function() -> tuple[Callable[[float, float], float], float]:
    """(geodesic distance in metres from lon/lat to the Estonia-Russia border line, buffer)."""
    lines = {name: line for name, line in load_borders()}
    line = lines[DEMO_BORDER]
    return (lambda lon, lat: distance_to_geometry_m(lon, lat, line)), DEMO_BUFFER_M
