"""CPA/TCPA and dead reckoning against analytically constructed encounters and GeographicLib.

Encounters are laid out in a local east/north plane around a reference point
(kilometres to a few tens of kilometres, where the plane and the ellipsoid agree
to centimetres) and placed on the ellipsoid with GeographicLib's direct problem.
The expected CPA and TCPA come from the planar formulas of relative motion.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from geographiclib.geodesic import Geodesic

from proximity.cpa import closest_approach, dead_reckon

WGS84 = Geodesic.WGS84
REF = (24.0, 60.0)  # lon, lat
H = 900.0


def _place(east_m: float, north_m: float, ref=REF) -> tuple[float, float]:
    """A point at (east, north) of the reference, as range and azimuth from it."""
    d = math.hypot(east_m, north_m)
    az = math.degrees(math.atan2(east_m, north_m))
    g = WGS84.Direct(ref[1], ref[0], az, d)
    return g["lon2"], g["lat2"]


def _course_at(lon: float, lat: float, plane_course_deg: float, ref=REF) -> float:
    """A course given in the reference's plane, as a true course at (lon, lat).

    The plane is azimuthal equidistant at the reference: its north turns against
    true north by the change of azimuth along the geodesic from the reference.
    """
    inv = WGS84.Inverse(ref[1], ref[0], lat, lon)
    if inv["s12"] == 0:
        return plane_course_deg % 360.0
    return (plane_course_deg + inv["azi2"] - inv["azi1"]) % 360.0


def _expected(pa, va, pb, vb):
    """Planar CPA: positions (e, n) m, velocities (ve, vn) m/s; t in [0, H]."""
    r = np.subtract(pb, pa)
    v = np.subtract(vb, va)
    vv = float(v @ v)
    t = 0.0 if vv == 0 else min(max(-float(r @ v) / vv, 0.0), H)
    return t, float(np.linalg.norm(r + v * t))


def _encounter(pa, va, pb, vb):
    la, pha = _place(*pa)
    lb, phb = _place(*pb)
    sa, sb = math.hypot(*va), math.hypot(*vb)
    ca = _course_at(la, pha, math.degrees(math.atan2(*va))) if sa else 0.0
    cb = _course_at(lb, phb, math.degrees(math.atan2(*vb))) if sb else 0.0
    return closest_approach(la, pha, ca, sa, lb, phb, cb, sb, H)


CASES = {
    # name: (pos a, vel a, pos b, vel b) in metres and m/s, east/north
    "head_on": ((0, 0), (10, 0), (20_000, 0), (-10, 0)),
    "head_on_offset": ((0, 0), (10, 0), (20_000, 800), (-10, 0)),
    "crossing": ((0, -6_000), (0, 6), (-8_000, 0), (8, 0)),
    "crossing_miss": ((0, -6_000), (0, 6), (-8_000, 1_500), (8, 0)),
    "overtaking": ((0, 0), (12, 0), (-4_000, 300), (17, 0)),
    "diverging": ((0, 0), (-5, 0), (3_000, 0), (5, 0)),
    "parallel": ((0, 0), (7, 7), (1_000, -1_000), (7, 7)),
    "b_stationary": ((-12_000, 500), (15, 0), (0, 0), (0, 0)),
    "aircraft_head_on": ((0, 0), (240, 0), (150_000, 2_000), (-230, 0)),
    "beyond_horizon": ((0, 0), (1, 0), (30_000, 100), (-1, 0)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_cpa_matches_planar_geometry(name):
    pa, va, pb, vb = CASES[name]
    t_exp, d_exp = _expected(pa, va, pb, vb)
    got = _encounter(pa, va, pb, vb)
    assert got.tcpa_s[0] == pytest.approx(t_exp, rel=0.01, abs=1.0)
    assert got.cpa_m[0] == pytest.approx(d_exp, rel=0.01, abs=10.0)
    # the CPA positions are where each track is at TCPA
    la, pha = _place(*pa)
    g = WGS84.Inverse(pha, la, float(got.a_lat_deg[0]), float(got.a_lon_deg[0]))
    assert g["s12"] == pytest.approx(math.hypot(*va) * got.tcpa_s[0], abs=1.0)


def test_cpa_is_vectorised_and_independent_per_pair():
    names = sorted(CASES)
    cols = []
    for n in names:
        pa, va, pb, vb = CASES[n]
        la, pha = _place(*pa)
        lb, phb = _place(*pb)
        sa, sb = math.hypot(*va), math.hypot(*vb)
        ca = _course_at(la, pha, math.degrees(math.atan2(*va))) if sa else 0.0
        cb = _course_at(lb, phb, math.degrees(math.atan2(*vb))) if sb else 0.0
        cols.append((la, pha, ca, sa, lb, phb, cb, sb))
    arr = np.array(cols).T
    got = closest_approach(*arr, H)
    for k, n in enumerate(names):
        one = _encounter(*CASES[n])
        assert got.cpa_m[k] == pytest.approx(one.cpa_m[0], abs=1e-6)
        assert got.tcpa_s[k] == pytest.approx(one.tcpa_s[0], abs=1e-6)


def test_cpa_far_apart_at_high_latitude():
    """Two aircraft 400 km apart near the North Cape, converging: plane and ellipsoid differ."""
    ref = (26.0, 71.0)
    a = WGS84.Direct(ref[1], ref[0], 270.0, 200_000)
    b = WGS84.Direct(ref[1], ref[0], 90.0, 200_000)
    # each flies along the geodesic through the reference at 250 m/s: they meet there at 800 s
    ca = (a["azi2"] + 180.0) % 360.0
    cb = (b["azi2"] + 180.0) % 360.0
    got = closest_approach(a["lon2"], a["lat2"], ca, 250.0, b["lon2"], b["lat2"], cb, 250.0, H)
    assert got.tcpa_s[0] == pytest.approx(800.0, abs=1.0)
    assert got.cpa_m[0] < 10.0
    assert got.a_lon_deg[0] == pytest.approx(ref[0], abs=1e-4)
    assert got.a_lat_deg[0] == pytest.approx(ref[1], abs=1e-4)


@pytest.mark.parametrize("dist_m", [10.0, 1_000.0, 50_000.0, 200_000.0, 500_000.0])
def test_dead_reckoning_follows_the_geodesic(dist_m):
    lon, lat, crs = dead_reckon(np.array([21.5]), np.array([59.3]), np.array([33.0]), np.array(dist_m / 100.0), 100.0)
    g = WGS84.Direct(59.3, 21.5, 33.0, dist_m)
    assert WGS84.Inverse(g["lat2"], g["lon2"], float(lat[0]), float(lon[0]))["s12"] < 0.01
    assert float(crs[0]) == pytest.approx(g["azi2"] % 360.0, abs=1e-6)


@pytest.mark.parametrize("dist_m", [10.0, 50_000.0])
def test_dead_reckoning_back_in_time_keeps_the_direction_of_motion(dist_m):
    # a negative time moves back along the geodesic; the course there still points the way it goes
    lon, lat, crs = dead_reckon(np.array([21.5]), np.array([59.3]), np.array([33.0]), np.array(dist_m / 100.0), -100.0)
    g = WGS84.Direct(59.3, 21.5, 33.0, -dist_m)
    assert WGS84.Inverse(g["lat2"], g["lon2"], float(lat[0]), float(lon[0]))["s12"] < 0.01
    assert float(crs[0]) == pytest.approx(g["azi2"] % 360.0, abs=1e-6)


def test_closest_approach_takes_a_horizon_per_pair():
    # head-on, 10 km apart at 100 m/s each: closest at 50 s, unless the horizon ends first
    la, pa = _place(0.0, 0.0)
    lb, pb = _place(0.0, 10_000.0)
    got = closest_approach([la, la], [pa, pa], [_course_at(la, pa, 0.0)] * 2, [100.0, 100.0],
                           [lb, lb], [pb, pb], [_course_at(lb, pb, 180.0)] * 2, [100.0, 100.0], np.array([60.0, 20.0]))
    assert got.tcpa_s.tolist() == pytest.approx([50.0, 20.0], abs=0.01)
    assert got.cpa_m.tolist() == pytest.approx([0.0, 6_000.0], abs=0.5)
