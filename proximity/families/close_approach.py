"""``close_approach``: a NATO track and a Russian track closer than the threshold of their domains.

At every tick every live opposing track is brought to the tick time
(``TrackTable.aligned``, at most ``align_max_age_s``); candidates come from a
KD-tree on unit-sphere vectors (radius: the largest threshold times
``1 + hysteresis_margin``, widened for the sphere), distances are WGS 84
geodesics, air-air pairs also compare altitudes. It closes (``separated``) when
the pair stays beyond the threshold times ``1 + hysteresis_margin`` for
``min_dwell_s``. Rules and thresholds: docs/engine.md.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy.spatial import cKDTree

from config.records import Severity

from .._integrity import EARTH_RADIUS_M, SPHERE_SLACK
from ..events import Event
from ..lifecycle import CloseReason
from ..tracks import unit_vectors
from ._pairs import PairFamily, PairIncident
from .base import FamilySpec

__all__ = ["CloseApproach", "CloseApproachReason"]

KIND = "close_approach"


class CloseApproachReason(CloseReason):
    SEPARATED = "separated", "separated"  # beyond the threshold and its margin for min_dwell_s


def _chord(dist_m: float) -> float:
    return 2.0 * math.sin(min(dist_m * SPHERE_SLACK / (2.0 * EARTH_RADIUS_M), math.pi / 2))


class CloseApproach(PairFamily):
    spec = FamilySpec(KIND, "pair", reasons=tuple(CloseApproachReason))

    def summary(self, inc: PairIncident, who: Sequence[str], zone: str) -> str:
        m = inc.metrics
        return f"{who[0]} and {who[1]} {m['distance_m']:.0f} m apart (threshold {m['threshold_m']:.0f} m)"

    def closing(self, inc: PairIncident, t_s: float, reason: CloseReason) -> None:
        if reason == CloseApproachReason.SEPARATED:
            return  # measured at the tick that closes it
        a, b = np.array(inc.slots[:1]), np.array(inc.slots[1:])
        dist, _, vsep = self.separation(a, b, self.aligned(a, t_s), self.aligned(b, t_s))
        inc.min_m = min(inc.min_m, float(dist[0]))
        inc.metrics.update(distance_m=float(dist[0]), min_distance_m=inc.min_m)
        if not math.isnan(vsep[0]):
            inc.metrics["vertical_sep_m"] = float(vsep[0])

    def on_tick(self, t_s: float) -> list[Event]:
        T = t_s
        tr = self.tracks
        nato, rus = self.opposing()
        s = self.settings
        margin = s.hysteresis_margin
        vthr = self.vertical_m
        # every opposing track at the tick time (open incidents are between live tracks)
        opp = np.concatenate((nato, rus))
        at = self.aligned(opp, T)
        cand_a = np.empty(0, np.int64)
        cand_b = np.empty(0, np.int64)
        if nato.size and rus.size:
            xyz = tr.xyz[opp]
            xyz[at.moved] = unit_vectors(at.lon_deg[at.moved], at.lat_deg[at.moved])
            chord = _chord(float(self.lateral_m.max()) * (1.0 + margin))
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
        pa, pb = at.take(row[cand_a]), at.take(row[cand_b])
        dist, thr, vsep = self.separation(cand_a, cand_b, pa, pb)
        thr_band, _ = self.thresholds(cand_a, cand_b, pa.alt_m, pb.alt_m, 1 + margin)
        with np.errstate(invalid="ignore"):
            close = (dist < thr) & ~(vsep >= vthr)
            separated = (dist > thr_band * (1 + margin)) | (vsep > vthr * (1 + margin))
            critical = (dist < thr * s.critical_fraction) & ~(vsep >= vthr * s.critical_fraction)
        events: list[Event] = []
        for j in range(cand_a.size):
            key = (KIND, int(cand_a[j]), int(cand_b[j]))
            inc = self.book.get(key)
            if inc is None and not close[j]:
                continue
            d = float(dist[j])
            metrics = {"distance_m": d, "threshold_m": float(thr_band[j] if inc is not None else thr[j])}
            if not math.isnan(vsep[j]):
                metrics.update(vertical_sep_m=float(vsep[j]), vertical_threshold_m=vthr)
            sev: Severity = "critical" if critical[j] else "warning"
            if inc is None:
                events.extend(self.open_pair(key, T, d, sev, {**metrics, "min_distance_m": d}))
                continue
            assert isinstance(inc, PairIncident)
            inc.min_m = min(inc.min_m, d)
            metrics["min_distance_m"] = inc.min_m
            ev = self.follow(inc, T, d, sev, metrics, apart=bool(separated[j]), reason=CloseApproachReason.SEPARATED)
            if ev is not None:
                events.append(ev)
        return events
