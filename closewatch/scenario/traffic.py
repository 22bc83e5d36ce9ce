"""A synthetic hour of Baltic traffic at realistic density, with military encounters whose outcome is known.

Mostly civil: merchant ships, ferries and fishing boats under way or at anchor, and airliners at
cruise levels and on approach; a few military and state tracks. Sides follow the flags of the
Baltic: most ships and aircraft NATO, a tenth Russian, the rest other. Straight courses at
constant speed (ships report every 10 s, aircraft every 5 s).

``ENCOUNTERS``: the military encounters built into it (two tracks that pass at a known
distance at a known time); every one must be raised under the ``military`` profile. Civil tracks
of both sides also meet by chance (the density does that): under ``military`` none of those may
be raised. Used by ``bench/bench_relevance.py`` and ``tests/closewatch/test_scenario_traffic.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pyproj import Geod

from config.records import TrackUpdate

__all__ = ["ENCOUNTERS", "Encounter", "baltic_hour"]

T0_S = 1_773_136_800.0  # 2026-03-10T10:00:00Z
DURATION_S = 3_600.0
BOX = (17.0, 54.5, 23.5, 59.5)  # central Baltic: Gotland, the Kaliningrad and Latvian coasts
_GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class Encounter:
    """Two tracks (a: NATO, b: Russian) that pass ``miss_m`` apart at ``t_s`` after T0."""

    name: str
    a: str
    b: str
    kind: str  # the event kind that must be raised
    centre: tuple[float, float]
    t_s: float
    miss_m: float
    domain: str  # air or sea
    cat_a: str
    cat_b: str
    speed_a: float
    speed_b: float
    course_a: float
    alt_m: float | None = None


ENCOUNTERS: tuple[Encounter, ...] = (
    Encounter("warships pass", "ais:211900001", "ais:273900001", "close_approach", (19.2, 55.6), 1_500.0, 700.0,
              "sea", "military", "military", 7.0, 8.0, 60.0),
    Encounter("Il-20 intercepted", "icao:3f9001", "icao:159001", "close_approach", (20.3, 57.4), 2_000.0, 1_200.0,
              "air", "military", "military", 230.0, 170.0, 10.0, 8_000.0),
    Encounter("corvette near a ferry", "ais:265900001", "ais:273900002", "close_approach", (18.6, 56.9), 2_400.0,
              900.0, "sea", "civil", "military", 10.0, 9.0, 200.0),
    Encounter("border guard and trawler", "ais:276900001", "ais:273900003", "close_approach", (21.3, 57.9), 1_000.0,
              500.0, "sea", "state", "civil", 6.0, 3.0, 300.0),
)


def _track(tid: str, lon: float, lat: float, course: float, speed: float, period: float, phase: float,
           **kw: object) -> list[TrackUpdate]:
    n = int((DURATION_S - phase) // period) + 1
    t = phase + period * np.arange(n)
    lons, lats, back = _GEOD.fwd(np.full(n, lon), np.full(n, lat), np.full(n, course), speed * t)
    crs = (np.asarray(back) + 180.0) % 360.0
    return [
        TrackUpdate(track_id=tid, source="scenario", t_s=T0_S + float(ti), lon_deg=float(x), lat_deg=float(y),
                    speed_mps=speed, course_deg=float(c), **kw)  # type: ignore[arg-type]
        for ti, x, y, c in zip(t.tolist(), np.asarray(lons).tolist(), np.asarray(lats).tolist(), crs.tolist())
    ]


def _encounter(e: Encounter) -> list[TrackUpdate]:
    """Both tracks of an encounter: straight lines through points ``miss_m`` apart at ``t_s``."""
    out = []
    side_a = _GEOD.fwd(*e.centre, e.course_a + 90.0, e.miss_m / 2)[:2]
    side_b = _GEOD.fwd(*e.centre, e.course_a - 90.0, e.miss_m / 2)[:2]
    course_b = (e.course_a + 180.0) % 360.0  # head-on, offset by the miss distance
    period = 5.0 if e.domain == "air" else 10.0
    for tid, (lon, lat), course, speed, side, cat in (
        (e.a, side_a, e.course_a, e.speed_a, "nato", e.cat_a),
        (e.b, side_b, course_b, e.speed_b, "russia", e.cat_b),
    ):
        start = _GEOD.fwd(lon, lat, (course + 180.0) % 360.0, speed * e.t_s)
        kw: dict[str, object] = dict(domain=e.domain, side=side, category=cat, category_source="scenario")
        if e.domain == "air":
            kw["alt_m"] = e.alt_m
        out += _track(tid, start[0], start[1], course, speed, period, 1.0 if side == "nato" else 3.0, **kw)
    return out


def baltic_hour(seed: int = 11, ships: int = 700, aircraft: int = 160) -> list[TrackUpdate]:
    """The hour's reports in time order (civil traffic plus ``ENCOUNTERS``)."""
    rng = np.random.default_rng(seed)
    west, south, east, north = BOX
    out: list[TrackUpdate] = []
    sides = np.array(["nato", "russia", "other"])
    for k in range(ships):
        side = str(rng.choice(sides, p=[0.75, 0.10, 0.15]))
        anchored = rng.random() < 0.15
        speed = 0.0 if anchored else float(rng.uniform(3.0, 10.0))
        cat = "civil" if rng.random() < 0.9 else "unknown"
        mid = {"nato": 230, "russia": 273, "other": 636}[side]
        out += _track(f"ais:{mid}{k:06d}", float(rng.uniform(west, east)), float(rng.uniform(south, north)),
                      float(rng.uniform(0, 360)), speed, 10.0, float(rng.uniform(0, 10)), domain="sea", side=side,
                      category=cat, category_source="scenario", nav_status=1 if anchored else 0)
    for k in range(aircraft):
        side = str(rng.choice(sides, p=[0.80, 0.05, 0.15]))
        low = rng.random() < 0.2
        alt = float(rng.uniform(900, 3_000) if low else rng.uniform(9_000, 12_000))
        out += _track(f"icao:{0x400000 + k:06x}", float(rng.uniform(west, east)), float(rng.uniform(south, north)),
                      float(rng.uniform(0, 360)), float(rng.uniform(120, 240)), 5.0, float(rng.uniform(0, 5)),
                      domain="air", side=side, category="civil", category_source="scenario", alt_m=alt)
    for e in ENCOUNTERS:
        out += _encounter(e)
    out.sort(key=lambda u: (u.t_s, u.track_id))
    return out


def _check() -> None:
    assert all(math.isfinite(e.miss_m) for e in ENCOUNTERS)


_check()
