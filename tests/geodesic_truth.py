"""Reference geodesics for the tests, computed with GeographicLib alone (not pyproj).

A line is a polyline whose segments are geodesics between its vertices, the
convention of ``proximity.geometry``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from geographiclib.geodesic import Geodesic
from pyproj import Geod
from scipy.optimize import minimize_scalar

G = Geodesic.WGS84
# Only to skip far segments quickly (with a wide margin); every reported value
# comes from GeographicLib.
_PRUNE = Geod(ellps="WGS84")
_PRUNE_MARGIN_M = 1_000.0


def dist_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    return float(G.Inverse(lat1, lon1, lat2, lon2, Geodesic.DISTANCE)["s12"])


def direct(lon: float, lat: float, azi_deg: float, s_m: float) -> tuple[float, float]:
    r = G.Direct(lat, lon, azi_deg, s_m)
    return float(r["lon2"]), float(r["lat2"])


def _segment_distance_m(lon: float, lat: float, a: Sequence[float], b: Sequence[float]) -> float:
    line = G.InverseLine(a[1], a[0], b[1], b[0])
    s = line.s13

    def f(t: float) -> float:
        p = line.Position(t * s, Geodesic.LATITUDE | Geodesic.LONGITUDE | Geodesic.LONG_UNROLL)
        return dist_m(lon, lat, p["lon2"], p["lat2"])

    res = minimize_scalar(f, bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-4 / max(s, 1.0)})
    return min(float(res.fun), f(0.0), f(1.0))


def distance_to_line_m(lon: float, lat: float, coords: np.ndarray) -> float:
    """Shortest geodesic distance from a point to a polyline of geodesic segments."""
    n = len(coords)
    _, _, dv = _PRUNE.inv(np.full(n, lon), np.full(n, lat), coords[:, 0], coords[:, 1])
    _, _, seg = _PRUNE.inv(coords[:-1, 0], coords[:-1, 1], coords[1:, 0], coords[1:, 1])
    i0 = int(np.argmin(dv))
    best = dist_m(lon, lat, coords[i0, 0], coords[i0, 1])
    # Every point of segment i is at least (dv[i] + dv[i+1] - seg[i]) / 2 away.
    lower = (dv[:-1] + dv[1:] - seg) / 2.0
    for i in np.flatnonzero(lower <= best + _PRUNE_MARGIN_M):
        best = min(best, _segment_distance_m(lon, lat, coords[i], coords[i + 1]))
    return best


def distance_to_lines_m(lon: float, lat: float, lines: Sequence[np.ndarray]) -> float:
    """Shortest geodesic distance from a point to several polylines (e.g. polygon rings)."""
    bounds = []
    for coords in lines:
        n = len(coords)
        _, _, dv = _PRUNE.inv(np.full(n, lon), np.full(n, lat), coords[:, 0], coords[:, 1])
        _, _, seg = _PRUNE.inv(coords[:-1, 0], coords[:-1, 1], coords[1:, 0], coords[1:, 1])
        bounds.append((float(dv.min()), float(dv.min() - seg.max())))
    order = sorted(range(len(lines)), key=lambda i: bounds[i][0])
    best = np.inf
    for i in order:
        if bounds[i][1] > best + _PRUNE_MARGIN_M:
            continue
        best = min(best, distance_to_line_m(lon, lat, lines[i]))
    return float(best)


def normal_samples(
    coords: np.ndarray, distances_m: Sequence[float], every: int = 1
) -> Iterator[tuple[float, float, float]]:
    """Points at the given geodesic distances along both normals at segment midpoints.

    Yields ``(lon, lat, offset_m)``; the true distance to the whole line may be
    shorter than ``offset_m`` where another part of the line is nearer.
    """
    for i in range(0, len(coords) - 1, every):
        a, b = coords[i], coords[i + 1]
        line = G.InverseLine(a[1], a[0], b[1], b[0])
        mid = line.Position(line.s13 / 2.0)
        for side in (-90.0, 90.0):
            for d in distances_m:
                lon, lat = direct(mid["lon2"], mid["lat2"], mid["azi2"] + side, d)
                yield lon, lat, d
