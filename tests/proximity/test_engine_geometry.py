"""The engine's distances and zone answers against GeographicLib, and its memory of tracks."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from geographiclib.geodesic import Geodesic

from config.settings import ProximitySettings
from proximity._zonegrid import ZoneGrid
from proximity.engine import Engine

WGS84 = Geodesic.WGS84
T0 = 1_700_000_000.0


def test_close_approach_distances_match_geographiclib_up_to_500_km(upd):
    """Land thresholds of 600 km make every pair a close approach; its distance is checked."""
    s = ProximitySettings(thresholds={"land_any_m": 600_000.0})
    eng = Engine(s, [])
    rng = np.random.default_rng(11)
    batch = []
    expected = {}
    for k in range(60):
        lat1, lon1 = rng.uniform(40, 72), rng.uniform(-5, 60)
        g = WGS84.Direct(lat1, lon1, rng.uniform(0, 360), rng.choice([1.0, 50.0, 5_000.0, 80_000.0, 499_000.0]))
        a, b = f"ext:n{k}", f"ext:r{k}"
        batch += [
            upd(a, T0, lon1, lat1, side="nato", domain="land"),
            upd(b, T0, g["lon2"], g["lat2"], side="russia", domain="land"),
        ]
        expected[(a, b)] = g["s12"]
    # pairs of different k are far apart (random over the continent) or also checked
    events = eng.process(batch) + eng.process([upd("ext:clock", T0 + 6, 0.0, 0.0, domain="land", side="other")])
    got = {(e.subjects[0].track_id, e.subjects[1].track_id): e.metrics["distance_m"] for e in events}
    for pair, dist in expected.items():
        assert got[pair] == pytest.approx(dist, abs=1.0), pair
    for (a, b), dist in got.items():
        ua = next(u for u in batch if u.track_id == a)
        ub = next(u for u in batch if u.track_id == b)
        assert dist == pytest.approx(WGS84.Inverse(ua.lat_deg, ua.lon_deg, ub.lat_deg, ub.lon_deg)["s12"], abs=1.0)
        assert dist < 600_000.0


def test_zone_grid_agrees_with_shapely_everywhere(circle_zone):
    zones = [circle_zone(f"z{k}", 20 + k * 0.07, 60 + k * 0.03, 3_000.0 + 2_000.0 * k) for k in range(6)]
    grid = ZoneGrid()
    for k, z in enumerate(zones):
        grid.set_zone(k, z.geometry)
    rng = np.random.default_rng(5)
    lon = rng.uniform(19.7, 20.9, 50_000)
    lat = rng.uniform(59.8, 60.4, 50_000)
    pi, zi = grid.query(lon, lat)
    got = set(zip(pi.tolist(), zi.tolist()))
    want = set()
    for k, z in enumerate(zones):
        inside = np.nonzero(shapely.contains_xy(z.geometry, lon, lat))[0]
        want |= {(int(i), k) for i in inside}
    assert got == want
    assert len(want) > 1_000


def test_aircraft_high_above_a_ship_is_not_a_close_approach(upd, at):
    eng = Engine(ProximitySettings(), [])
    p = at(20.0, 58.0, 0.0, 1_000.0)
    events = eng.process([
        upd("ais:273000001", T0, 20.0, 58.0, side="russia", domain="sea"),
        upd("icao:ae0001", T0, *p, side="nato", domain="air", alt_m=10_000.0),
        upd("icao:ae0002", T0, *p, side="nato", domain="air", alt_m=150.0),
        upd("icao:ae0003", T0, *p, side="nato", domain="air"),  # altitude unknown: counts
        upd("ext:clock", T0 + 6, 0.0, 0.0, domain="land", side="other"),
    ])
    assert sorted(e.subjects[0].track_id for e in events if e.kind == "close_approach") == ["icao:ae0002", "icao:ae0003"]


def test_forgotten_tracks_free_their_memory(upd, at):
    s = ProximitySettings(forget_after_s=600.0)
    eng = Engine(s, [])
    eng.process([upd(f"ais:{k}", T0, *at(20.0, 58.0, 0.0, 100.0 * k)) for k in range(50)])
    assert eng.stats["known_tracks"] == 50
    # sea tracks are stale after 900 s, forgotten 600 s later
    for t in range(10, 1_600, 10):
        eng.process([upd("ais:999", T0 + t, 21.0, 58.0)])
    st = eng.stats
    assert st["stale_expired"] == 50 and st["forgotten_tracks"] == 50 and st["known_tracks"] == 1
    # a forgotten track that reports again is a new track (its old report time is forgotten too)
    eng.process([upd("ais:3", T0 + 5, 20.0, 58.0)])
    assert eng.stats["out_of_order_dropped"] == 0 and eng.stats["known_tracks"] == 2
