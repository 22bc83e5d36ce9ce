"""Fixtures of the map tests (tests/maps, tests/robustness): the offline assets and a small, known situation.

The situation is made here (not copied from the feed samples): five tracks of every
domain and side near the Estonia–Russia border, each reporting every 10 s along its
course at its speed, an active and an expired exercise area. Its events are not written
by hand: the real engine (``proximity.engine``) makes them from the tracks, and the real
codec turns each revision into the value of the Kafka events topic (the canonical bytes of
``alerts.codec.encode_event``, decoded again), which is the one shape the maps take.

Up to T0 (10:40:00Z) a Russian ship whose name is an injection string is inside the
Russian territorial sea (a zone entry), a Russian Tu-95 flies near the borders (a bomber
sortie, open throughout) and it and a NATO aircraft converge (a predicted close approach,
with the predicted positions at the closest point of approach). The ``engagement`` goes on to T0 + 300 s: the two aircraft meet (a close
approach, revised as they close in) and part (it closes).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest
from pyproj import Geod
from shapely.geometry import Polygon, box

from alerts.codec import decode_event, encode_event
from config.records import TrackUpdate, Zone
from config.settings import ProximitySettings
from config.zones import load_borders
from maps.assets import AssetStore, fetch_assets
from proximity.engine import Engine

INJECTION = "<img src=x onerror=alert(1)>"
T0_S = 1_714_560_000.0  # 2024-05-01T10:40:00Z
FIRST_S = T0_S - 300.0  # the first reports
REPORT_EVERY_S = 10.0
_GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="session")
def asset_store() -> AssetStore:
    """Installs the pinned npm packages into the cache when missing (what
    `closewatch map assets` does; a no-op when `make assets` ran)."""
    return AssetStore(fetch_assets())


@dataclass
class Situation:
    zones: list[Zone]
    tracks: dict[str, list[TrackUpdate]]
    events: list[dict[str, Any]]  # values of the events topic, in the order the engine emitted them
    t0_s: float
    injection: str = INJECTION

    def revisions(self, kind: str) -> list[dict[str, Any]]:
        """The revisions of the one incident of ``kind``, in order."""
        revs = [e for e in self.events if e["properties"]["kind"] == kind]
        assert len({e["id"] for e in revs}) == 1, f"not one {kind} incident: {revs}"
        return revs

    def event_id(self, kind: str) -> str:
        return str(self.revisions(kind)[0]["id"])

    def positions(self) -> int:
        return sum(len(ups) for ups in self.tracks.values())


def _reports(track_id: str, lat: float, lon: float, domain: str, side: str, course: float, speed_mps: float,
             until_s: float, **kw: Any) -> list[TrackUpdate]:
    """Reports every 10 s from FIRST_S to ``until_s`` of a track at (lat, lon) at T0, moving on
    the geodesic along ``course`` at ``speed_mps``."""
    out = []
    t = FIRST_S
    while t <= until_s:
        lon_t, lat_t, _ = _GEOD.fwd(lon, lat, course, speed_mps * (t - T0_S))
        out.append(TrackUpdate(track_id=track_id, source="test", t_s=t, lat_deg=lat_t, lon_deg=lon_t,
                               domain=domain, side=side, heading_deg=course, course_deg=course,  # type: ignore[arg-type]
                               speed_mps=speed_mps, **kw))
        t += REPORT_EVERY_S
    return out


def make_situation(until_s: float = T0_S) -> Situation:
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
        "icao:4b1a2c": _reports("icao:4b1a2c", 59.72, 26.1, "air", "russia", 270.0, 120.0, until_s,
                                callsign="RFF1234", type_code="TU95", alt_m=9_500.0),
        "icao:45ac2d": _reports("icao:45ac2d", 59.66, 25.5, "air", "nato", 90.0, 120.0, until_s,
                                callsign="NATO01", alt_m=9_300.0),
        "ais:273123456": _reports("ais:273123456", 59.85, 27.9, "sea", "russia", 45.0, 7.0, until_s,
                                  name=INJECTION),
        # a ferry reporting neither course nor speed (the map draws a circle)
        "ais:230000001": [replace(u, heading_deg=None, course_deg=None, speed_mps=None)
                          for u in _reports("ais:230000001", 59.45, 24.6, "sea", "other", 45.0, 7.0, until_s,
                                            name="FINNMAID")],
        "cot:abc-1": _reports("cot:abc-1", 58.3, 27.6, "land", "unknown", 10.0, 7.0, until_s, callsign="UNIT 7"),
    }
    engine = Engine(ProximitySettings(), zones, wall_clock=lambda: until_s + 1.0)
    reports = sorted((u for ups in tracks.values() for u in ups), key=lambda u: (u.t_s, u.track_id))
    emitted = []
    for t in sorted({u.t_s for u in reports}):
        emitted += engine.process([u for u in reports if u.t_s == t])
    events = [decode_event(encode_event(e)) for e in emitted]
    return Situation(zones, tracks, events, T0_S)


@pytest.fixture
def near_border() -> dict[str, Any]:
    """An exercise area 27 km from the Estonia–Russia border as the engine reports it (no subjects)."""
    engine = Engine(ProximitySettings(), [], borders=[line for _name, line in load_borders()],
                    wall_clock=lambda: T0_S + 1.0)
    engine.process([TrackUpdate(track_id="ais:230000001", source="test", t_s=T0_S, lat_deg=59.45, lon_deg=24.6,
                                domain="sea", side="other")])
    zone = Zone("exercise:pskov-snap-1", "Snap exercise, Pskov", "exercise", box(28.25, 57.75, 28.55, 57.95),
                sides=("nato", "other", "unknown"), active_from_s=T0_S, active_until_s=T0_S + 3600)
    (event,) = engine.add_zones([zone])
    return decode_event(encode_event(event))


@pytest.fixture
def situation() -> Situation:
    return make_situation()


@pytest.fixture
def engagement() -> Situation:
    """The situation going on to T0 + 300 s: the two aircraft meet and part."""
    return make_situation(T0_S + 300.0)
