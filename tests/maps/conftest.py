"""Fixtures of the map tests: the offline assets and a small, known situation.

The situation is made here (not copied from the feed samples): five tracks of
every domain and side near the Estonia–Russia border, an active and an expired
exercise area, a close approach between two aircraft (as an ``Event``) and a
zone entry (as a decoded topic message, a GeoJSON Feature) whose ship carries
the injection string as its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from shapely.geometry import Polygon, box

from config.records import TrackUpdate, Zone
from maps.assets import AssetStore, fetch_assets
from proximity.events import Event, Subject

INJECTION = "<img src=x onerror=alert(1)>"
T0_S = 1_714_560_000.0  # 2024-05-01T10:40:00Z


@pytest.fixture(scope="session")
def asset_store() -> AssetStore:
    """Installs the pinned npm packages into the cache when missing (what
    `closewatch map assets` does; a no-op when `make assets` ran)."""
    return AssetStore(fetch_assets())


@dataclass
class Situation:
    zones: list[Zone]
    tracks: dict[str, list[TrackUpdate]]
    events: list[Any]
    t0_s: float
    injection: str = INJECTION


def _track(track_id: str, lat: float, lon: float, domain: str, side: str, heading: float | None,
           n: int = 6, **kw: Any) -> list[TrackUpdate]:
    speed = 120.0 if domain == "air" else 7.0
    return [
        TrackUpdate(track_id=track_id, source="test", t_s=T0_S - 60.0 * i, lat_deg=lat - 0.01 * i,  # type: ignore[arg-type]
                    lon_deg=lon - 0.02 * i, domain=domain, side=side, heading_deg=heading,  # type: ignore[arg-type]
                    course_deg=heading, speed_mps=speed, **kw)
        for i in range(n - 1, -1, -1)
    ]


def make_situation() -> Situation:
    zones = [
        Zone("bb-ee-ru-10km", "Estonia–Russia border buffer 10 km", "border_buffer",
             Polygon([(27.3, 57.5), (28.3, 57.5), (28.3, 59.5), (27.3, 59.5)]), buffer_m=10_000.0),
        Zone("tw-ru", "Russian territorial sea", "territorial", box(27.8, 59.6, 28.6, 60.1)),
        Zone("ex-active", "Exercise " + INJECTION, "exercise", box(24.0, 59.75, 25.0, 60.1),
             active_from_s=T0_S - 3600, active_until_s=T0_S + 3600),
        Zone("ex-expired", "Exercise over", "exercise", box(22.0, 58.0, 23.0, 58.5),
             active_from_s=T0_S - 7200, active_until_s=T0_S - 3600),
    ]
    tracks = {
        "icao:4b1a2c": _track("icao:4b1a2c", 59.72, 26.1, "air", "russia", 270.0, callsign="RFF1234",
                              type_code="TU95", alt_m=9_500.0),
        "icao:45ac2d": _track("icao:45ac2d", 59.6, 25.5, "air", "nato", 90.0, callsign="NATO01", alt_m=9_100.0),
        "ais:273123456": _track("ais:273123456", 59.85, 27.4, "sea", "russia", 45.0, name=INJECTION),
        "ais:230000001": _track("ais:230000001", 59.45, 24.6, "sea", "other", None, name="FINNMAID"),
        "cot:abc-1": _track("cot:abc-1", 58.3, 27.6, "land", "unknown", 10.0, callsign="UNIT 7"),
    }
    a = tracks["icao:4b1a2c"][-1]
    b = tracks["icao:45ac2d"][-1]
    s1 = Subject(a.track_id, "russia", "air", T0_S, a.lat_deg, a.lon_deg, alt_m=a.alt_m, speed_mps=120.0,
                 course_deg=270.0, callsign="RFF1234", type_code="TU95")
    s2 = Subject(b.track_id, "nato", "air", T0_S, b.lat_deg, b.lon_deg, alt_m=b.alt_m, speed_mps=120.0,
                 course_deg=90.0, callsign="NATO01")
    close = Event("close_approach-0001", "close_approach", "open", 0, T0_S, "critical", (s1, s2),
                  "RFF1234 and NATO01 closing", metrics={"distance_m": 36_000.0, "cpa_m": 850.0,
                                                         "tcpa_s": 150.0, "vertical_sep_m": 400.0})
    ship = tracks["ais:273123456"][-1]
    entry = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [ship.lon_deg, ship.lat_deg]},
        "properties": {
            "event_id": "zone_entry-0002", "kind": "zone_entry", "state": "update", "seq": 1,
            "t_s": T0_S, "severity": "warning", "summary": INJECTION + " entered the zone",
            "zone_id": "tw-ru", "zone_name": "Russian territorial sea",
            "subjects": [{"track_id": ship.track_id, "side": "russia", "domain": "sea", "t_s": T0_S,
                          "name": INJECTION}],
            "metrics": {"depth_m": 1_200.0},
        },
    }
    return Situation(zones, tracks, [close, entry], T0_S)


@pytest.fixture
def situation() -> Situation:
    return make_situation()
