"""Vectorised screens for implausible kinematics, and the spoofing-pattern search.

``screen`` looks at every report of a segment against the report before it of
the same track (from the track table for the first report of a track in the
segment): a jump faster than the domain allows, or a position that has not moved
while the track reports speed. It only flags; the engine's per-report loop turns
flags into ``track_integrity`` incidents in arrival order.

``spoof_clusters`` looks at where tracks jumped to recently: many distinct tracks
that jumped to one point, or onto one circle, is the signature of GNSS spoofing
(receivers placed at a false position, often a point or a ring around a site).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .tracks import TrackTable, unit_vectors

__all__ = ["EARTH_RADIUS_M", "Screen", "SpoofCluster", "haversine_m", "previous", "screen", "spoof_clusters"]

EARTH_RADIUS_M = 6_371_008.8
# Haversine on a sphere is within 0.6 % of the WGS 84 geodesic.
SPHERE_SLACK = 1.01


def haversine_m(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


@dataclass(slots=True)
class Screen:
    """Per report of a segment: flags and the numbers behind them."""

    prev_lon_deg: np.ndarray
    prev_lat_deg: np.ndarray
    prev_t_s: np.ndarray  # NaN: the track's first report
    moved_m: np.ndarray  # haversine distance from the previous report
    jump: np.ndarray  # bool
    stuck: np.ndarray  # bool
    stuck_since_s: np.ndarray  # since when the position has not moved


def previous(slots: np.ndarray, *pairs: tuple[np.ndarray, np.ndarray]) -> list[np.ndarray]:
    """For each ``(state, values)``: each report's previous value of its track, the report before
    it in the segment, else ``state[slot]`` (one sort of the slots for all of them)."""
    n = slots.size
    order = np.argsort(slots, kind="stable")
    ss = slots[order]
    follows = np.zeros(n, bool)
    follows[1:] = ss[1:] == ss[:-1]
    idx = order[follows]
    before = order[np.nonzero(follows)[0] - 1]
    outs = []
    for state, values in pairs:
        out = state[slots].copy()
        out[idx] = values[before]
        outs.append(out)
    return outs


def screen(
    tracks: TrackTable,
    slots: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    t: np.ndarray,
    speed_mps: np.ndarray,
    domain: np.ndarray,
    *,
    max_speed_mps: np.ndarray,
    jump_tolerance_m: float,
    stuck_radius_m: float,
    stuck_min_s: float,
    stuck_min_speed_mps: float,
) -> Screen:
    prev_lon, prev_lat, prev_t = previous(slots, (tracks.lon_deg, lon), (tracks.lat_deg, lat), (tracks.t_s, t))
    known = ~np.isnan(prev_t)
    moved = np.where(known, haversine_m(prev_lon, prev_lat, lon, lat), 0.0)
    dt = np.where(known, t - prev_t, np.inf)
    allowed = max_speed_mps[domain] * dt + jump_tolerance_m
    jump = known & (moved > allowed * SPHERE_SLACK)
    # stuck: since when the track has stood still (forward-filled per track)
    still = known & (moved <= stuck_radius_m)
    order = np.argsort(slots, kind="stable")
    ss = slots[order]
    first = np.ones(slots.size, bool)
    first[1:] = ss[1:] != ss[:-1]
    st = still[order]
    # a report that moved starts a new still period at its own time; a still first
    # report continues the track's period from the state
    since_sorted = np.where(st, np.nan, t[order])
    carry = first & st
    since_sorted[carry] = tracks.column("stuck_since_s")[ss[carry]]
    since_sorted[first & ~known[order]] = t[order][first & ~known[order]]
    valid = ~np.isnan(since_sorted)
    pos = np.where(valid, np.arange(slots.size), 0)
    np.maximum.accumulate(pos, out=pos)
    since = np.empty(slots.size)
    since[order] = since_sorted[pos]
    since = np.where(np.isnan(since), t, since)
    with np.errstate(invalid="ignore"):
        stuck = still & (speed_mps >= stuck_min_speed_mps) & (t - since >= stuck_min_s)
    return Screen(prev_lon, prev_lat, prev_t, moved, jump, stuck, since)


@dataclass(frozen=True, slots=True)
class SpoofCluster:
    slots: tuple[int, ...]
    centre_lon_deg: float
    centre_lat_deg: float
    radius_m: float  # 0 for a point pattern
    pattern: str  # "point" | "circle"


def _local_xy(lon: np.ndarray, lat: np.ndarray, lon0: float, lat0: float) -> tuple[np.ndarray, np.ndarray]:
    """Equirectangular metres around a centre (a cluster spans tens of km at most)."""
    k = np.radians(1.0) * EARTH_RADIUS_M
    return (lon - lon0) * k * np.cos(np.radians(lat0)), (lat - lat0) * k


def spoof_clusters(
    slot: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    *,
    min_tracks: int,
    link_m: float,
    point_radius_m: float,
    circle_tolerance_m: float,
) -> list[SpoofCluster]:
    """Groups of at least ``min_tracks`` distinct tracks whose jump targets form a point or a circle."""
    if len(set(slot.tolist())) < min_tracks:
        return []
    xyz = unit_vectors(lon, lat)
    tree = cKDTree(xyz)
    pairs = tree.query_pairs(2 * np.sin(link_m / (2 * EARTH_RADIUS_M)), output_type="ndarray")
    n = slot.size
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) else coo_matrix((n, n))
    n_comp, label = connected_components(graph, directed=False)
    out: list[SpoofCluster] = []
    for c in range(n_comp):
        idx = np.nonzero(label == c)[0]
        members = sorted(set(slot[idx].tolist()))
        if len(members) < min_tracks:
            continue
        lon0, lat0 = float(lon[idx].mean()), float(lat[idx].mean())
        x, y = _local_xy(lon[idx], lat[idx], lon0, lat0)
        r = np.hypot(x, y)
        if r.max() <= point_radius_m:
            out.append(SpoofCluster(tuple(members), lon0, lat0, 0.0, "point"))
            continue
        # algebraic circle fit: x^2 + y^2 = 2 a x + 2 b y + c
        A = np.column_stack((2 * x, 2 * y, np.ones_like(x)))
        (a, b, cc), *_ = np.linalg.lstsq(A, x**2 + y**2, rcond=None)
        radius = float(np.sqrt(max(cc + a * a + b * b, 0.0)))
        resid = np.abs(np.hypot(x - a, y - b) - radius)
        if radius > point_radius_m and resid.max() <= max(circle_tolerance_m, 0.02 * radius):
            k = np.radians(1.0) * EARTH_RADIUS_M
            c_lon = lon0 + a / (k * np.cos(np.radians(lat0)))
            c_lat = lat0 + b / k
            out.append(SpoofCluster(tuple(members), float(c_lon), float(c_lat), radius, "circle"))
    return out
