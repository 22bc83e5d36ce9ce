"""``predicted_close_approach``: a NATO and a Russian track whose courses bring them closer than the
threshold of their domains within ``horizon_s``.

At each prediction slice every live NATO track due in it (``Engine``'s slices: each
track once per ``predict_interval_s``) is paired with every live Russian track; each
with a velocity is brought to the slice's time (its start state, without the ``align_max_age_s`` limit), then
moved along the geodesic of its course at constant speed. Candidates are
screened on the sphere (``proximity._predict.approach_candidates``); the
survivors get the exact CPA and TCPA on the ellipsoid
(``proximity.cpa.closest_approach``). It is not opened while the pair's
``close_approach`` is open, and closes with ``occurred`` when that opens
(``follows``). Rules: docs/engine.md.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from config.records import Severity

from .._integrity import SPHERE_SLACK
from .._predict import approach_candidates, movers, piecewise_lower_m
from ..cpa import closest_approach
from ..events import Event
from ..lifecycle import CloseReason
from ._pairs import AIR, GEOD, PairFamily, PairIncident
from .base import FamilySpec
from .close_approach import KIND as CLOSE_APPROACH

__all__ = ["PredictedCloseApproach", "PredictedCloseApproachReason"]

KIND = "predicted_close_approach"


class PredictedCloseApproachReason(CloseReason):
    OCCURRED = "occurred", "now a close approach"  # the close approach opened
    CLEARED = "cleared", "no longer predicted"  # not predicted (with margins) for min_dwell_s


class PredictedCloseApproach(PairFamily):
    spec = FamilySpec(
        KIND,
        "pair",
        reasons=tuple(PredictedCloseApproachReason),
        fulfilled_by={CLOSE_APPROACH: PredictedCloseApproachReason.OCCURRED},
    )
    max_align_s = math.inf  # a prediction starts where its dead reckoning puts the track now

    def summary(self, inc: PairIncident, who: Sequence[str], zone: str) -> str:
        m = inc.metrics
        return (
            f"{who[0]} and {who[1]} expected {m['cpa_m']:.0f} m apart in {m['tcpa_s']:.0f} s"
            f" (threshold {m['threshold_m']:.0f} m)"
        )

    def _candidates(self, T: float, due: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pairs (of a NATO track ``due``) that may come within their threshold within the horizon,
        and the open predictions (of those)."""
        s = self.settings
        tr = self.tracks
        H2 = s.horizon_s * (1 + s.hysteresis_margin)
        margin = s.hysteresis_margin
        nato, rus = self.opposing()
        na, pa, ua, va = movers(tr, nato[due[nato]], T)
        ru, pb, ub, vb = movers(tr, rus, T)
        ia, ib, lower_m = approach_candidates(
            pa, ua, va, pb, ub, vb,
            horizon_s=H2,
            step_s=s.predict_step_s,
            radius_m=float(self.lateral_m.max()) * (1 + margin),
        )
        ca, cb = na[ia], ru[ib]
        # the pair's own threshold at the lowest altitudes they can reach, and for
        # aircraft pairs the vertical separation they can lose within the horizon
        reach_s = H2 + (T - np.minimum(tr.t_s[ca], tr.t_s[cb]))
        climb_a = np.nan_to_num(np.abs(tr.vrate_mps[ca])) * reach_s
        climb_b = np.nan_to_num(np.abs(tr.vrate_mps[cb])) * reach_s
        thr_low, _ = self.thresholds(ca, cb, tr.alt_m[ca] - climb_a, tr.alt_m[cb] - climb_b, 1 + margin)
        with np.errstate(invalid="ignore"):
            apart = (tr.domain[ca] == AIR) & (tr.domain[cb] == AIR) & (
                np.abs(tr.alt_m[ca] - tr.alt_m[cb]) - climb_a - climb_b > self.vertical_m * (1 + margin)
            )
        reach_m = thr_low * (1 + margin) * SPHERE_SLACK
        keep = (lower_m <= reach_m) & ~apart
        ia, ib, reach_m = ia[keep], ib[keep], reach_m[keep]
        # the whole horizon's bound lets through pairs passing 10-20 km apart; the tighter one,
        # for these few, saves their exact CPA
        keep = piecewise_lower_m(pa[ia], ua[ia], va[ia], pb[ib], ub[ib], vb[ib], H2) <= reach_m
        return self.with_open(na[ia[keep]], ru[ib[keep]], due)

    def on_predict(self, t_s: float, due: np.ndarray) -> list[Event]:
        T = t_s
        s = self.settings
        tr = self.tracks
        H = s.horizon_s
        margin = s.hysteresis_margin
        vthr = self.vertical_m
        a, b = self._candidates(T, due)
        if a.size == 0:
            return []
        # an open prediction whose track lost its velocity is re-checked as not predicted
        with np.errstate(invalid="ignore"):
            usable = np.ones(a.size, bool)
            for x in (a, b):
                usable &= ~np.isnan(tr.speed_mps[x]) & (~np.isnan(tr.course_deg[x]) | (tr.speed_mps[x] == 0))
        sa, sb = self.aligned(a, T), self.aligned(b, T)
        la, pha, lb, phb = sa.lon_deg, sa.lat_deg, sb.lon_deg, sb.lat_deg
        cpa = closest_approach(
            la, pha, np.nan_to_num(sa.course_deg), np.nan_to_num(tr.speed_mps[a]),
            lb, phb, np.nan_to_num(sb.course_deg), np.nan_to_num(tr.speed_mps[b]),
            H * (1 + margin),
        )
        now = np.asarray(GEOD.inv(la, pha, lb, phb)[2], float)
        alt_a = tr.alt_m[a] + np.nan_to_num(tr.vrate_mps[a]) * (T - tr.t_s[a] + cpa.tcpa_s)
        alt_b = tr.alt_m[b] + np.nan_to_num(tr.vrate_mps[b]) * (T - tr.t_s[b] + cpa.tcpa_s)
        thr, vsep = self.thresholds(a, b, alt_a, alt_b)
        thr_band, _ = self.thresholds(a, b, alt_a, alt_b, 1 + margin)
        with np.errstate(invalid="ignore"):
            approaching = usable & (cpa.tcpa_s > 0)
            predicted = approaching & (cpa.tcpa_s <= H) & (cpa.cpa_m < thr) & ~(vsep >= vthr)
            holding = approaching & (cpa.cpa_m <= thr_band * (1 + margin)) & ~(vsep > vthr * (1 + margin))
            critical = cpa.cpa_m < thr * s.critical_fraction
        at = sa.concat(sb)
        row = np.full(tr.n, -1, np.int64)
        row[a], row[b] = np.arange(a.size), a.size + np.arange(b.size)
        with self.measured_at(T, at, row):  # the events' subjects: these positions
            events: list[Event] = []
            for j in range(a.size):
                key = (KIND, int(a[j]), int(b[j]))
                inc = self.book.get(key)
                if inc is None and (not predicted[j] or (CLOSE_APPROACH, key[1], key[2]) in self.book):
                    continue  # not predicted, or already a close approach
                metrics = {
                    "cpa_m": float(cpa.cpa_m[j]),
                    "tcpa_s": float(cpa.tcpa_s[j]),
                    "cpa_t_s": T + float(cpa.tcpa_s[j]),
                    "cpa_a_lon_deg": float(cpa.a_lon_deg[j]),
                    "cpa_a_lat_deg": float(cpa.a_lat_deg[j]),
                    "cpa_b_lon_deg": float(cpa.b_lon_deg[j]),
                    "cpa_b_lat_deg": float(cpa.b_lat_deg[j]),
                    "distance_m": float(now[j]),
                    "threshold_m": float(thr[j]),
                }
                if not math.isnan(vsep[j]):
                    metrics.update(vertical_sep_at_cpa_m=float(vsep[j]), vertical_threshold_m=vthr)
                sev: Severity = "warning" if critical[j] else "info"
                if inc is None:
                    events.extend(self.open_pair(key, T, metrics["cpa_m"], sev, metrics))
                    continue
                assert isinstance(inc, PairIncident)
                reason = PredictedCloseApproachReason.CLEARED
                ev = self.follow(inc, T, metrics["cpa_m"], sev, metrics, apart=not holding[j], reason=reason)
                if ev is not None:
                    events.append(ev)
            return events
