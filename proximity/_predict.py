"""Fast screens for the predictions: spherical dead reckoning for candidates only.

The exact answers (entry time into a zone, CPA and TCPA) are computed on the
WGS 84 ellipsoid afterwards (``proximity.cpa``), for the few candidates these
screens let through. The screens widen their radii so that they never miss a
candidate the exact computation would accept.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from ._integrity import EARTH_RADIUS_M, SPHERE_SLACK
from .tracks import TrackTable

__all__ = ["approach_candidates", "movers", "path_samples", "piecewise_lower_m", "sphere_motion", "sphere_position"]


def sphere_motion(lon_deg: np.ndarray, lat_deg: np.ndarray, course_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit position vectors and unit direction-of-motion vectors, shape (n, 3) each."""
    lon, lat, crs = np.radians(lon_deg), np.radians(lat_deg), np.radians(course_deg)
    sl, cl, sp, cp = np.sin(lon), np.cos(lon), np.sin(lat), np.cos(lat)
    p = np.stack((cp * cl, cp * sl, sp), axis=-1)
    east = np.stack((-sl, cl, np.zeros_like(sl)), axis=-1)
    north = np.stack((-sp * cl, -sp * sl, cp), axis=-1)
    u = np.sin(crs)[:, None] * east + np.cos(crs)[:, None] * north
    return p, u


def movers(tracks: TrackTable, idx: np.ndarray, t_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Of the slots ``idx``, those with a usable velocity: (slots, unit position and direction
    vectors dead-reckoned on the sphere to ``t_s``, speeds)."""
    tr = tracks
    speed = tr.speed_mps[idx]
    course = tr.course_deg[idx]
    usable = ~np.isnan(speed) & (~np.isnan(course) | (speed == 0))
    idx = idx[usable]
    speed = speed[usable]
    course = np.nan_to_num(course[usable])
    p, u = sphere_motion(tr.lon_deg[idx], tr.lat_deg[idx], course)
    p, u = along_great_circle(p, u, (speed * (t_s - tr.t_s[idx]) / EARTH_RADIUS_M)[:, None])
    return idx, p, u, speed


def along_great_circle(p: np.ndarray, u: np.ndarray, th: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit position and direction vectors after turning ``th`` radians along the great circle (p, u)."""
    c, s = np.cos(th), np.sin(th)
    return c * p + s * u, -s * p + c * u


def sphere_position(p: np.ndarray, u: np.ndarray, dist_m: np.ndarray) -> np.ndarray:
    """Unit vectors after moving ``dist_m`` along the great circle (p, u)."""
    th = (dist_m / EARTH_RADIUS_M)[:, None]
    return np.cos(th) * p + np.sin(th) * u


def to_lonlat(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.degrees(np.arctan2(v[:, 1], v[:, 0])), np.degrees(np.arcsin(np.clip(v[:, 2], -1.0, 1.0)))


def _chord(dist_m: float) -> float:
    return float(2.0 * np.sin(min(dist_m * SPHERE_SLACK / (2.0 * EARTH_RADIUS_M), np.pi / 2)))


DENSE_PAIRS_MAX = 1 << 27  # pair grids up to 128 M cells are deduplicated with a bitmap (at most 128 MB)


def _distinct(keys: list[np.ndarray], n_pairs: int) -> np.ndarray:
    """The distinct pair keys of all sampling steps, sorted (as ``np.unique`` gives them).

    A pair close at many steps is found at each of them; marking a bitmap over the
    pair grid is linear where sorting or hashing tens of millions of keys is not
    (in a busy world this was a fifth of a prediction tick)."""
    if n_pairs > DENSE_PAIRS_MAX:
        return np.unique(np.concatenate(keys))
    seen = np.zeros(n_pairs, np.bool_)
    for k in keys:
        seen[k] = True
    return np.flatnonzero(seen)


# Speed classes of the approach screen: a ship's reach in a step is a few km, an aircraft's
# a hundred; screening them apart keeps the slow tracks' radius small.
SLOW_MPS = 40.0


def approach_candidates(
    p_a: np.ndarray,
    u_a: np.ndarray,
    v_a: np.ndarray,
    p_b: np.ndarray,
    u_b: np.ndarray,
    v_b: np.ndarray,
    *,
    horizon_s: float,
    step_s: float,
    radius_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i of a, j of b) that may come within ``radius_m`` within the horizon.

    The horizon is cut into steps of at most ``step_s``. Within a step a track moving at v stays
    within v x step / 2 (along its great circle, so also in a straight line) of its position at
    the step's middle, so two tracks that come within ``radius_m`` during the step have middles
    at most ``radius_m`` plus both reaches apart: one KD-tree query per step and speed class
    (slow at most ``SLOW_MPS``, fast) finds every such pair. The pairs found are then checked
    with straight-line (chord) motion over the whole horizon; the third array is a lower bound of
    each pair's closest approach (metres, sphere), so that a caller can apply a smaller
    threshold per pair (and, for the pairs it keeps, the tighter :func:`piecewise_lower_m`).

    The cost per call is a few tree builds per step, whatever the size of a: prediction slices
    call it with a small a (the tracks due) against every track of b.
    """
    if p_a.size == 0 or p_b.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    nb = p_b.shape[0]
    n_steps = max(1, math.ceil(horizon_s / step_s - 1e-9))
    step = horizon_s / n_steps
    classes_a = [c for c in (np.flatnonzero(v_a <= SLOW_MPS), np.flatnonzero(v_a > SLOW_MPS)) if c.size]
    classes_b = [c for c in (np.flatnonzero(v_b <= SLOW_MPS), np.flatnonzero(v_b > SLOW_MPS)) if c.size]
    reach_a = [float(v_a[c].max()) * step / 2 / EARTH_RADIUS_M for c in classes_a]  # chord <= arc
    reach_b = [float(v_b[c].max()) * step / 2 / EARTH_RADIUS_M for c in classes_b]
    chord = _chord(radius_m)
    keys = []
    for s in range(n_steps):
        mid = (s + 0.5) * step
        mid_a = sphere_position(p_a, u_a, v_a * mid)
        mid_b = sphere_position(p_b, u_b, v_b * mid)
        trees_b = [cKDTree(mid_b[c]) for c in classes_b]
        for sel_a, ra in zip(classes_a, reach_a):
            tree_a = cKDTree(mid_a[sel_a])
            for sel_b, rb, tree_b in zip(classes_b, reach_b, trees_b):
                found = tree_a.sparse_distance_matrix(tree_b, chord + ra + rb, output_type="ndarray")
                keys.append(sel_a[found["i"]].astype(np.int64) * nb + sel_b[found["j"]])
    k = _distinct(keys, p_a.shape[0] * nb)
    i, j = k // nb, k % nb
    # linear motion in 3-D (chords) over the whole horizon (a great circle leaves its tangent
    # line by at most about (v t)^2 / (2 R) per track: allowed for both)
    ra = EARTH_RADIUS_M * p_a[i]
    rb = EARTH_RADIUS_M * p_b[j]
    wa = v_a[i][:, None] * u_a[i]
    wb = v_b[j][:, None] * u_b[j]
    d = _closest_chord(rb - ra, wb - wa, horizon_s)
    dev = _leave_tangent_m(v_a[i], horizon_s) + _leave_tangent_m(v_b[j], horizon_s)
    keep = d - dev <= radius_m * SPHERE_SLACK
    return i[keep], j[keep], d[keep] - dev[keep]


# Pieces of the horizon for the tighter bound: over 990 s a jet at 300 m/s leaves its tangent
# line by 7 km, over an eighth of it by 110 m.
LOWER_BOUND_PIECES = 8


def _leave_tangent_m(speed_mps: np.ndarray, t_s: float) -> np.ndarray:
    """How far a track on a great circle gets from its tangent line within ``t_s``, at most:
    R sqrt((1 - cos a)^2 + (a - sin a)^2) <= R a^2 / 2 sqrt(1 + a^2 / 9), a = v t / R."""
    a = speed_mps * t_s / EARTH_RADIUS_M
    return EARTH_RADIUS_M * a * a / 2 * np.sqrt(1 + a * a / 9)


def _closest_chord(r0: np.ndarray, vr: np.ndarray, span_s: float) -> np.ndarray:
    """Least distance over [0, span_s] of r0 + vr t (3-D vectors in the last axis, metres)."""
    vv = (vr * vr).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.clip(np.where(vv > 0, -(r0 * vr).sum(axis=-1) / vv, 0.0), 0.0, span_s)
    return np.linalg.norm(r0 + vr * t[..., None], axis=-1)


def piecewise_lower_m(p_a: np.ndarray, u_a: np.ndarray, v_a: np.ndarray, p_b: np.ndarray, u_b: np.ndarray,
                       v_b: np.ndarray, horizon_s: float) -> np.ndarray:
    """A lower bound of each pair's closest approach on the sphere (chord, metres) within the
    horizon, for pairs (a[i], b[i]) as :func:`movers` gives them: on each of
    ``LOWER_BOUND_PIECES`` pieces, straight-line motion along the tangents at the piece's start,
    less how far both tracks can leave them within the piece (over the whole horizon that slack
    is 7 km for a jet; over a piece, 64 times less)."""
    piece = horizon_s / LOWER_BOUND_PIECES
    starts = (np.arange(LOWER_BOUND_PIECES) * piece)[:, None, None]  # (pieces, pairs, 1)

    def at_starts(p: np.ndarray, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q, w = along_great_circle(p, u, v[:, None] * starts / EARTH_RADIUS_M)
        return q, v[:, None] * w  # position (unit), velocity (m/s)

    pa, wa = at_starts(p_a, u_a, v_a)
    pb, wb = at_starts(p_b, u_b, v_b)
    lower = _closest_chord(EARTH_RADIUS_M * (pb - pa), wb - wa, piece).min(axis=0, initial=np.inf)
    return lower - _leave_tangent_m(v_a, piece) - _leave_tangent_m(v_b, piece)


def path_samples(
    p: np.ndarray, u: np.ndarray, speed_mps: np.ndarray, horizon_s: float, step_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points along each track's path, every ``step_m`` or closer, from now to the horizon.

    Returns (owner index, time ahead, lon, lat), ordered by owner then time.
    """
    n_seg = np.maximum(np.ceil(speed_mps * horizon_s / step_m), 1).astype(np.int64)
    counts = n_seg + 1
    owner = np.repeat(np.arange(p.shape[0]), counts)
    starts = np.cumsum(counts) - counts
    j = np.arange(owner.size) - np.repeat(starts, counts)
    tau = j * (horizon_s / n_seg[owner])
    q = sphere_position(p[owner], u[owner], speed_mps[owner] * tau)
    lon, lat = to_lonlat(q)
    return owner, tau, lon, lat
