"""Fixtures for the proximity tests: report and zone factories in plain geometry.

Zones are built here from circles and bands around chosen points (metric
buffers in a local azimuthal-equidistant projection), not from the default
catalogue, so that each scenario knows its distances exactly.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
from pyproj import Geod

from config.records import TrackUpdate, Zone
from config.settings import ProximitySettings
from proximity.geometry import geodesic_circle

GEOD = Geod(ellps="WGS84")
T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z, a multiple of 5 s


def offset(lon: float, lat: float, bearing_deg: float, dist_m: float) -> tuple[float, float]:
    """The point ``dist_m`` from (lon, lat) along ``bearing_deg`` (WGS 84 geodesic)."""
    lon2, lat2, _ = GEOD.fwd(lon, lat, bearing_deg, dist_m)
    return float(lon2), float(lat2)


def make_update(track_id: str, t_s: float, lon: float, lat: float, **kw: Any) -> TrackUpdate:
    kw.setdefault("domain", "sea")
    kw.setdefault("side", "russia")
    kw.setdefault("source", "test")
    return TrackUpdate(track_id=track_id, t_s=t_s, lat_deg=lat, lon_deg=lon, **kw)


def make_circle_zone(zone_id: str, lon: float, lat: float, radius_m: float, **kw: Any) -> Zone:
    kw.setdefault("name", f"zone {zone_id}")
    kw.setdefault("kind", "site")
    return Zone(zone_id=zone_id, geometry=geodesic_circle(lon, lat, radius_m, max_error_m=1.0), buffer_m=radius_m, **kw)


@pytest.fixture
def settings() -> ProximitySettings:
    return ProximitySettings()


@pytest.fixture(scope="session")
def upd() -> Callable[..., TrackUpdate]:
    return make_update


@pytest.fixture(scope="session")
def circle_zone() -> Callable[..., Zone]:
    return make_circle_zone


@pytest.fixture(scope="session")
def at() -> Callable[[float, float, float, float], tuple[float, float]]:
    return offset


class FakeClock:
    def __init__(self) -> None:
        self.now = 5_000_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
