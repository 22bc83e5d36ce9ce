"""Dead reckoning and closest point of approach (CPA), on the WGS 84 ellipsoid, vectorised.

A track moves on the geodesic that leaves its position on its course at constant
speed (for the minutes of a prediction horizon, within metres of a rhumb line).
The CPA of two tracks is found in a local tangent plane at the first track: the
second's position comes from the inverse geodesic (exact range and azimuth),
its velocity is carried into that plane by the change of azimuth along the
geodesic between them (the meridian convergence). The planar solution is then
refined twice from the dead-reckoned positions at the estimated time, where the
two tracks are close and the plane is exact to the metre; the final distance is
the geodesic between the two dead-reckoned positions.

All angles in degrees (course clockwise from true north), distances in metres,
speeds in metres per second, times in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyproj import Geod

__all__ = ["CPA", "closest_approach", "dead_reckon", "planar_tcpa"]

_GEOD = Geod(ellps="WGS84")
_REFINEMENTS = 2


def dead_reckon(
    lon_deg: np.ndarray, lat_deg: np.ndarray, course_deg: np.ndarray, speed_mps: np.ndarray, dt_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions after ``dt_s`` (may be negative) and the course there: (lon, lat, course)."""
    lon, lat, course, speed, dt = np.broadcast_arrays(
        *(np.asarray(a, float) for a in (lon_deg, lat_deg, course_deg, speed_mps, dt_s))
    )
    dist = speed * dt
    lon2, lat2, back = _GEOD.fwd(lon, lat, course, dist)
    lon2, lat2, back = np.asarray(lon2, float), np.asarray(lat2, float), np.asarray(back, float)
    # pyproj's back azimuth is the azimuth of the geodesic at the end point turned by 180 degrees,
    # whichever way the track went along it; a standing track keeps its course
    course2 = np.where(dist == 0, course, np.mod(back + 180.0, 360.0))
    return lon2, lat2, course2


def planar_tcpa(
    az12_deg: np.ndarray,
    az21_deg: np.ndarray,
    dist_m: np.ndarray,
    crs_a: np.ndarray,
    v_a: np.ndarray,
    crs_b: np.ndarray,
    v_b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Time of CPA from now (unclipped, may be negative), relative position and velocity in a's plane.

    ``az12_deg``, ``az21_deg``, ``dist_m``: the inverse geodesic from a to b (``Geod.inv``:
    azimuth at a, back azimuth at b, distance). b's velocity is carried into a's
    tangent plane by the change of azimuth along that geodesic.
    """
    az12, az21, d = (np.asarray(x, float) for x in (az12_deg, az21_deg, dist_m))
    r = np.stack((d * np.sin(np.radians(az12)), d * np.cos(np.radians(az12))))
    rot = np.where(d > 0, az21 + 180.0 - az12, 0.0)  # b's frame turned against a's
    cb = np.radians(crs_b - rot)
    ca = np.radians(crs_a)
    vrel = np.stack((v_b * np.sin(cb) - v_a * np.sin(ca), v_b * np.cos(cb) - v_a * np.cos(ca)))
    vv = (vrel**2).sum(axis=0)
    rv = (r * vrel).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(vv > 1e-12, -rv / vv, 0.0)
    return t, r, vrel


def _planar(
    lon_a: np.ndarray,
    lat_a: np.ndarray,
    crs_a: np.ndarray,
    v_a: np.ndarray,
    lon_b: np.ndarray,
    lat_b: np.ndarray,
    crs_b: np.ndarray,
    v_b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Time of CPA from now (unclipped), relative position and velocity in a's plane."""
    az12, az21, d = _GEOD.inv(lon_a, lat_a, lon_b, lat_b)
    return planar_tcpa(az12, az21, d, crs_a, v_a, crs_b, v_b)


@dataclass(frozen=True, slots=True)
class CPA:
    """Closest approach of pairs within a horizon: arrays of equal length.

    ``tcpa_s`` is in [0, horizon] (0: they are already diverging, or neither
    moves relative to the other); ``cpa_m`` the geodesic distance between the
    two dead-reckoned positions then; ``a_*``/``b_*`` those positions.
    """

    tcpa_s: np.ndarray
    cpa_m: np.ndarray
    a_lon_deg: np.ndarray
    a_lat_deg: np.ndarray
    b_lon_deg: np.ndarray
    b_lat_deg: np.ndarray


def closest_approach(
    lon_a: np.ndarray,
    lat_a: np.ndarray,
    course_a: np.ndarray,
    speed_a: np.ndarray,
    lon_b: np.ndarray,
    lat_b: np.ndarray,
    course_b: np.ndarray,
    speed_b: np.ndarray,
    horizon_s: float | np.ndarray,
) -> CPA:
    """CPA and TCPA of track pairs (a[i], b[i]) from a common time, within ``horizon_s``
    (one horizon for all, or one per pair)."""
    la, pa, ca, va, lb, pb, cb, vb = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(x, float)) for x in (lon_a, lat_a, course_a, speed_a, lon_b, lat_b, course_b, speed_b))
    )
    t, _, _ = _planar(la, pa, ca, va, lb, pb, cb, vb)
    t = np.clip(t, 0.0, horizon_s)
    for _ in range(_REFINEMENTS):
        la1, pa1, ca1 = dead_reckon(la, pa, ca, va, t)
        lb1, pb1, cb1 = dead_reckon(lb, pb, cb, vb, t)
        dt, _, _ = _planar(la1, pa1, ca1, va, lb1, pb1, cb1, vb)
        t = np.clip(t + dt, 0.0, horizon_s)
    a_lon, a_lat, _ = dead_reckon(la, pa, ca, va, t)
    b_lon, b_lat, _ = dead_reckon(lb, pb, cb, vb, t)
    _, _, d = _GEOD.inv(a_lon, a_lat, b_lon, b_lat)
    return CPA(t, np.asarray(d, float), a_lon, a_lat, b_lon, b_lat)
