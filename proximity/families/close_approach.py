"""``close_approach``: a NATO track and a Russian track closer than the threshold of their domains.

At every tick every live opposing track is brought to the tick time
(``TrackTable.aligned``, at most ``align_max_age_s``); candidates come from a
KD-tree on unit-sphere vectors (radius: the largest threshold times
``1 + hysteresis_margin``, widened for the sphere and by the distance two tracks
can close since the previous tick), distances are WGS 84 geodesics, air-air
pairs also compare altitudes.

Between two ticks the separation of a pair is minimised exactly (``_between``):
each track moves along the geodesic of its last report (as at the ticks), so the
closest point of the interval is a closest point of approach of two geodesic
motions (``proximity.cpa.closest_approach`` on the interval, split where a
track's dead reckoning stops at ``align_max_age_s``). A minimum strictly inside
the interval counts like a tick: it opens an incident (a fast pass in and out
between two ticks opens at the tick after it), sets ``min_distance_m`` and
``min_t_s``, the severity, and stops a pending separation. It closes
(``separated``) when the pair stays beyond the threshold times
``1 + hysteresis_margin`` for ``min_dwell_s``. Rules and thresholds: docs/engine.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np
from scipy.spatial import cKDTree

from config.records import Severity

from .._integrity import EARTH_RADIUS_M, SPHERE_SLACK
from ..cpa import closest_approach, planar_tcpa
from ..events import Event
from ..lifecycle import CloseReason
from ..tracks import AlignedTracks, unit_vectors
from ._pairs import GEOD, PairFamily, PairIncident
from .base import Context, FamilySpec

__all__ = ["CloseApproach", "CloseApproachIncident", "CloseApproachReason"]

KIND = "close_approach"
# A minimum closer than this to either end of the interval is that end's (seconds).
_END_S = 1e-3
# A pair whose closest point between the ticks is, in the tangent plane at the tick, farther than
# its separation band times this (plus _NEAR_M) is not minimised exactly: it cannot matter.
_NEAR = 1.05
_NEAR_M = 100.0


class CloseApproachReason(CloseReason):
    SEPARATED = "separated", "separated"  # beyond the threshold and its margin for min_dwell_s


@dataclass(slots=True)
class CloseApproachIncident(PairIncident):
    min_t_s: float = math.nan  # when the separation was min_m


class Between(NamedTuple):
    """The closest point of pairs strictly between two ticks (inf / NaN where it is at an end)."""

    dist_m: np.ndarray
    t_s: np.ndarray
    thr_m: np.ndarray  # the lateral threshold there (air-surface: by the altitudes then)
    band_m: np.ndarray  # ... and the one of the separation band
    vsep_m: np.ndarray  # vertical separation there (NaN: not air-air)


def _chord(dist_m: float) -> float:
    return 2.0 * math.sin(min(dist_m * SPHERE_SLACK / (2.0 * EARTH_RADIUS_M), math.pi / 2))


class CloseApproach(PairFamily):
    spec = FamilySpec(KIND, "pair", reasons=tuple(CloseApproachReason))

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._last_tick_s: float | None = None  # the previous tick: where the next interval starts

    def summary(self, inc: PairIncident, who: Sequence[str], zone: str) -> str:
        m = inc.metrics
        closest = f", closest {m['min_distance_m']:.0f} m" if m["min_distance_m"] < m["distance_m"] - 0.5 else ""
        return f"{who[0]} and {who[1]} {m['distance_m']:.0f} m apart{closest} (threshold {m['threshold_m']:.0f} m)"

    def closing(self, inc: PairIncident, t_s: float, reason: CloseReason) -> None:
        if reason == CloseApproachReason.SEPARATED:
            return  # measured at the tick that closes it
        assert isinstance(inc, CloseApproachIncident)
        a, b = np.array(inc.slots[:1]), np.array(inc.slots[1:])
        pa, pb = self.aligned(a, t_s), self.aligned(b, t_s)
        az12, az21, dist = (np.asarray(x, float) for x in GEOD.inv(pa.lon_deg, pa.lat_deg, pb.lon_deg, pb.lat_deg))
        _, vsep = self.thresholds(a, b, pa.alt_m, pb.alt_m)
        t0 = self._last_tick_s
        if t0 is not None and t0 < t_s:
            between = self._between(a, b, pa, pb, az12, az21, dist, t0, t_s, np.ones(1, bool))
            self._lower(inc, float(between.dist_m[0]), float(between.t_s[0]))
        self._lower(inc, float(dist[0]), t_s)
        inc.metrics.update(distance_m=float(dist[0]), min_distance_m=inc.min_m, min_t_s=inc.min_t_s)
        if not math.isnan(vsep[0]):
            inc.metrics["vertical_sep_m"] = float(vsep[0])

    @staticmethod
    def _lower(inc: CloseApproachIncident, dist_m: float, t_s: float) -> None:
        if dist_m < inc.min_m:
            inc.min_m, inc.min_t_s = dist_m, t_s

    def on_tick(self, t_s: float) -> list[Event]:
        T = t_s
        s = self.settings
        # the interval since the previous tick (the first tick looks back one interval)
        t0 = self._last_tick_s if self._last_tick_s is not None and self._last_tick_s < T else T - s.pair_interval_s
        self._last_tick_s = T
        tr = self.tracks
        nato, rus = self.opposing()
        margin = s.hysteresis_margin
        # every opposing track at the tick time (open incidents are between live tracks)
        opp = np.concatenate((nato, rus))
        at = self.aligned(opp, T)
        cand_a = np.empty(0, np.int64)
        cand_b = np.empty(0, np.int64)
        if nato.size and rus.size:
            xyz = tr.xyz[opp]
            xyz[at.moved] = unit_vectors(at.lon_deg[at.moved], at.lat_deg[at.moved])
            # two tracks may have closed in since the previous tick by their speeds over the interval
            speed = np.nan_to_num(tr.speed_mps[opp])
            reach_s = min(T - t0, s.pair_interval_s + s.align_max_age_s)
            reach_m = (float(speed[: nato.size].max()) + float(speed[nato.size :].max())) * reach_s
            chord = _chord(float(self.lateral_m.max()) * (1.0 + margin) + reach_m)
            found = cKDTree(xyz[: nato.size]).sparse_distance_matrix(
                cKDTree(xyz[nato.size :]), chord, output_type="ndarray"
            )
            cand_a, cand_b = nato[found["i"]], rus[found["j"]]
        cand_a, cand_b = self.with_open(cand_a, cand_b)
        if cand_a.size == 0:
            return []
        row = np.full(tr.n, -1, np.int64)
        row[opp] = np.arange(opp.size)
        # an open incident whose track is no longer on an opposing side is still measured
        extra = np.setdiff1d(np.union1d(cand_a, cand_b), opp)
        if extra.size:
            at = at.concat(self.aligned(extra, T))
            row[extra] = opp.size + np.arange(extra.size)
        with self.measured_at(T, at, row):
            return self._measure(cand_a, cand_b, at, row, t0, T)

    def _measure(self, cand_a: np.ndarray, cand_b: np.ndarray, at: AlignedTracks, row: np.ndarray, t0: float,
                 T: float) -> list[Event]:
        """The tick's events of the candidate pairs (``at``: their tracks at ``T``, by ``row`` of slot)."""
        s = self.settings
        margin = s.hysteresis_margin
        vthr = self.vertical_m
        pa, pb = at.take(row[cand_a]), at.take(row[cand_b])
        az12, az21, dist = (np.asarray(x, float) for x in GEOD.inv(pa.lon_deg, pa.lat_deg, pb.lon_deg, pb.lat_deg))
        thr, vsep = self.thresholds(cand_a, cand_b, pa.alt_m, pb.alt_m)
        thr_band, _ = self.thresholds(cand_a, cand_b, pa.alt_m, pb.alt_m, 1 + margin)
        is_open = self.is_open(cand_a, cand_b)
        bt = self._between(cand_a, cand_b, pa, pb, az12, az21, dist, t0, T, is_open)
        with np.errstate(invalid="ignore"):
            close = ((dist < thr) & ~(vsep >= vthr)) | ((bt.dist_m < bt.thr_m) & ~(bt.vsep_m >= vthr))
            near_between = (bt.dist_m <= bt.band_m * (1 + margin)) & ~(bt.vsep_m > vthr * (1 + margin))
            separated = ((dist > thr_band * (1 + margin)) | (vsep > vthr * (1 + margin))) & ~near_between
            critical = ((dist < thr * s.critical_fraction) & ~(vsep >= vthr * s.critical_fraction)) | (
                (bt.dist_m < bt.thr_m * s.critical_fraction) & ~(bt.vsep_m >= vthr * s.critical_fraction)
            )
        events: list[Event] = []
        for j in np.flatnonzero(is_open | close).tolist():  # the rest: neither open nor close
            key = (KIND, int(cand_a[j]), int(cand_b[j]))
            inc = self.book.get(key)
            d = float(dist[j])
            # the smallest separation since the previous tick: at the tick, or strictly between
            low_m, low_t = (float(bt.dist_m[j]), float(bt.t_s[j])) if bt.dist_m[j] < d else (d, T)
            metrics = {"distance_m": d, "threshold_m": float(thr_band[j] if inc is not None else thr[j])}
            if not math.isnan(vsep[j]):
                metrics.update(vertical_sep_m=float(vsep[j]), vertical_threshold_m=vthr)
            sev: Severity = "critical" if critical[j] else "warning"
            if inc is None:
                metrics.update(min_distance_m=low_m, min_t_s=low_t)
                events.extend(self.open_pair(key, T, low_m, sev, metrics, make=CloseApproachIncident, min_t_s=low_t))
                continue
            assert isinstance(inc, CloseApproachIncident)
            self._lower(inc, low_m, low_t)
            metrics.update(min_distance_m=inc.min_m, min_t_s=inc.min_t_s)
            ev = self.follow(inc, T, low_m, sev, metrics, apart=bool(separated[j]), reason=CloseApproachReason.SEPARATED)
            if ev is not None:
                events.append(ev)
        return events

    def _between(
        self,
        a: np.ndarray,
        b: np.ndarray,
        pa: AlignedTracks,
        pb: AlignedTracks,
        az12: np.ndarray,
        az21: np.ndarray,
        dist: np.ndarray,
        t0: float,
        T: float,
        is_open: np.ndarray,
    ) -> Between:
        """The closest point of each pair (``a[i]``, ``b[i]``, at ``pa[i]``, ``pb[i]`` at the tick ``T``;
        ``az12``, ``az21``, ``dist``: the inverse geodesic between them) strictly inside (t0, T).

        The tangent plane at the tick tells which pairs were closest inside the interval
        (those that passed their closest point since ``t0``) and may matter (an open
        incident, or within its band); those pairs are then minimised exactly: the
        interval is cut where a track's dead reckoning starts or stops (``align_max_age_s``
        from its report) and each piece is a CPA of two geodesic motions.
        """
        n = a.size
        out = Between(*(np.full(n, math.inf if k == 0 else math.nan) for k in range(5)))
        if n == 0 or not T > t0:
            return out
        tr = self.tracks
        max_age = self._max_age_s
        span = T - t0

        def motion(slots: np.ndarray, p: AlignedTracks) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
            """Speed and course at T (0 when not moving then), and when the dead reckoning starts and stops."""
            t_rep = tr.t_s[slots]
            speed = tr.speed_mps[slots]
            with np.errstate(invalid="ignore"):
                moves = tr.reckonable(slots) & (speed > 0)
            lo, hi = np.where(moves, t_rep - max_age, np.inf), np.where(moves, t_rep + max_age, -np.inf)
            v_T = np.where(moves & (lo < T) & (T < hi), speed, 0.0)
            return v_T, np.nan_to_num(p.course_deg), lo, hi

        va, ca, lo_a, hi_a = motion(a, pa)
        vb, cb, lo_b, hi_b = motion(b, pb)
        tcpa, r, vrel = planar_tcpa(az12, az21, dist, ca, va, cb, vb)
        planar_min = np.hypot(*(r + vrel * tcpa))
        band, _ = self.thresholds(a, b, pa.alt_m, pb.alt_m, 1 + self.settings.hysteresis_margin)
        inside = (tcpa > -span) & (tcpa < 0.0)
        breaks = np.stack((lo_a, hi_a, lo_b, hi_b), axis=1)
        cut = ((breaks > t0) & (breaks < T)).any(axis=1)
        relevant = is_open | (planar_min <= band * (1 + self.settings.hysteresis_margin) * _NEAR + _NEAR_M)
        need = np.nonzero((inside & relevant) | cut)[0]
        if need.size == 0:
            return out
        # the pieces of (t0, T) between the breaks of each pair needing it
        edges = np.concatenate(
            (np.full((need.size, 1), t0), np.where((breaks[need] > t0) & (breaks[need] < T), breaks[need], np.nan),
             np.full((need.size, 1), T)), axis=1)
        edges.sort(axis=1)  # NaN last
        start, end = edges[:, :-1], edges[:, 1:]
        ok = ~np.isnan(end) & (end > start)
        owner = np.repeat(need, ok.sum(axis=1))
        s0, s1 = start[ok], end[ok]
        sa, sb = a[owner], b[owner]
        qa, qb = tr.aligned(sa, s0, max_age), tr.aligned(sb, s0, max_age)
        mid = (s0 + s1) / 2

        def piece_speed(slots: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
            return np.where((lo[owner] < mid) & (mid < hi[owner]), np.nan_to_num(tr.speed_mps[slots]), 0.0)

        cpa = closest_approach(
            qa.lon_deg, qa.lat_deg, np.nan_to_num(qa.course_deg), piece_speed(sa, lo_a, hi_a),
            qb.lon_deg, qb.lat_deg, np.nan_to_num(qb.course_deg), piece_speed(sb, lo_b, hi_b),
            s1 - s0,
        )
        t_low = s0 + cpa.tcpa_s
        # the lowest piece of each pair (pieces of one pair are consecutive)
        order = np.lexsort((cpa.cpa_m, owner))
        first = np.ones(order.size, bool)
        first[1:] = owner[order][1:] != owner[order][:-1]
        best = order[first]
        j, d_low, t_low = owner[best], cpa.cpa_m[best], t_low[best]
        strict = (t_low > t0 + _END_S) & (t_low < T - _END_S)
        j, d_low, t_low = j[strict], d_low[strict], t_low[strict]
        if j.size == 0:
            return out
        wa, wb = tr.aligned(a[j], t_low, max_age), tr.aligned(b[j], t_low, max_age)
        thr, vsep = self.thresholds(a[j], b[j], wa.alt_m, wb.alt_m)
        band_j, _ = self.thresholds(a[j], b[j], wa.alt_m, wb.alt_m, 1 + self.settings.hysteresis_margin)
        out.dist_m[j], out.t_s[j], out.thr_m[j], out.band_m[j], out.vsep_m[j] = d_low, t_low, thr, band_j, vsep
        return out
