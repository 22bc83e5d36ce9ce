"""Reference geodesics for the tests, computed with GeographicLib alone (not pyproj).

A line is a polyline whose segments are geodesics between its vertices, the
convention of ``proximity.geometry``. A ``Mover`` is a track on a geodesic at
constant speed (and vertical rate): its true position at any time, and the
report it would make then; ``closest_approach`` is the true minimum separation
of two of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from geographiclib.geodesic import Geodesic
from pyproj import Geod
from scipy.optimize import minimize_scalar

from config.records import TrackUpdate

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


@dataclass(frozen=True)
class Mover:
    """A track on the geodesic leaving (lon, lat) at ``azimuth_deg`` at time ``t0_s``, at constant
    speed and vertical rate."""

    track_id: str
    side: str
    domain: str
    lon: float
    lat: float
    azimuth_deg: float
    speed_mps: float
    alt_m: float | None = None
    vrate_mps: float | None = None
    t0_s: float = 1_700_000_000.0

    def at(self, t_s: float) -> tuple[float, float, float, float | None]:
        """(lon, lat, course, altitude) at time ``t_s``."""
        g = G.Direct(self.lat, self.lon, self.azimuth_deg, self.speed_mps * (t_s - self.t0_s))
        alt = None if self.alt_m is None else self.alt_m + (self.vrate_mps or 0.0) * (t_s - self.t0_s)
        return g["lon2"], g["lat2"], g["azi2"] % 360.0, alt

    def report(self, t_s: float, **kw: Any) -> TrackUpdate:
        """The report it makes at ``t_s`` (keywords override the fields of ``TrackUpdate``)."""
        lon, lat, course, alt = self.at(t_s)
        kw.setdefault("speed_mps", self.speed_mps)
        kw.setdefault("course_deg", course)
        kw.setdefault("vrate_mps", self.vrate_mps)
        return TrackUpdate(track_id=self.track_id, source="test", t_s=t_s, lat_deg=lat, lon_deg=lon,
                           side=self.side, domain=self.domain, alt_m=alt, **kw)  # type: ignore[arg-type]


def separation_m(a: Mover, b: Mover, t_s: float) -> float:
    """The true distance between two movers at ``t_s``."""
    pa, pb = a.at(t_s), b.at(t_s)
    return dist_m(pa[0], pa[1], pb[0], pb[1])


def closest_approach(a: Mover, b: Mover, t_from_s: float, t_to_s: float, step_s: float = 0.25) -> tuple[float, float]:
    """The true (time, distance) of the closest approach of two movers within [t_from, t_to]:
    the best of a scan every ``step_s``, refined to about a microsecond."""
    # times from t_from: the minimiser's tolerance is relative to the magnitude of its variable
    taus = np.arange(0.0, t_to_s - t_from_s + step_s / 2, step_s)
    d = [separation_m(a, b, t_from_s + float(tau)) for tau in taus]
    k = int(np.argmin(d))
    lo, hi = float(taus[max(k - 1, 0)]), float(taus[min(k + 1, len(taus) - 1)])
    res = minimize_scalar(lambda tau: separation_m(a, b, t_from_s + tau), bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-6})
    if res.fun < d[k]:
        return t_from_s + float(res.x), float(res.fun)
    return t_from_s + float(taus[k]), float(d[k])
