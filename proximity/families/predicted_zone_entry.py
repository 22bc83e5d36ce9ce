"""``predicted_zone_entry``: a track whose course and speed take it into a zone within ``horizon_s``.

At each prediction slice every live track due in it (``Engine``'s slices: each track
once per ``predict_interval_s``) faster than ``predict_min_speed_mps`` is dead-reckoned
along its path, sampled at least every ``predict_zone_step_m``, against the zone grid (in
chunks, to bound the memory); the first entry into each applicable zone (active at the
entry time) is then bisected with exact dead reckoning to about a metre. A track inside the zone, or
with its ``zone_entry`` open, is not predicted into it; the prediction closes
with ``entered`` when the entry opens (``follows``). Rules: docs/engine.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import shapely

from .._predict import movers, path_samples
from ..cpa import dead_reckon
from ..events import Event
from ..lifecycle import CloseReason, Incident, raise_severity
from .base import Family, FamilySpec
from .zone_entry import KIND as ZONE_ENTRY

__all__ = ["PredictedEntryIncident", "PredictedZoneEntry", "PredictedZoneEntryReason"]

KIND = "predicted_zone_entry"
# Entry into a zone along a dead-reckoned path is refined to this fraction of a sample step.
_BISECTIONS = 12
# Paths are sampled this many points at a time (memory bound).
_SAMPLES_PER_CHUNK = 200_000
# (slot, zone number) -> (seconds to the entry, entry lon, lat)
Hits = dict[tuple[int, int], tuple[float, float, float]]


class PredictedZoneEntryReason(CloseReason):
    ENTERED = "entered", "entered"  # the zone entry opened
    CLEARED = "cleared", "no longer predicted"  # no entry predicted (with margins) for min_dwell_s


@dataclass(slots=True)
class PredictedEntryIncident(Incident):
    reported_t_s: float = math.nan  # the entry time last reported


class PredictedZoneEntry(Family[PredictedEntryIncident]):
    spec = FamilySpec(
        KIND,
        "track",
        reasons=tuple(PredictedZoneEntryReason),
        closes_with_zone=True,
        fulfilled_by={ZONE_ENTRY: PredictedZoneEntryReason.ENTERED},
    )

    def summary(self, inc: PredictedEntryIncident, who: Sequence[str], zone: str) -> str:
        return f"{who[0]} expected to enter {zone} in {inc.metrics['eta_s']:.0f} s"

    def on_predict(self, t_s: float, due: np.ndarray) -> list[Event]:
        T = t_s
        s = self.settings
        tr = self.tracks
        if not self.zones:
            return []
        H = s.horizon_s
        H2 = H * (1 + s.hysteresis_margin)
        live = np.nonzero(due & tr.live[: tr.n] & (tr.speed_mps[: tr.n] >= s.predict_min_speed_mps))[0]
        idx, p, u, speed = movers(tr, live, T)
        hits: Hits = {}
        # in chunks of about _SAMPLES_PER_CHUNK path points, to bound the memory
        per_track = np.ceil(speed * H2 / s.predict_zone_step_m) + 1
        chunk_of = (np.cumsum(per_track) // _SAMPLES_PER_CHUNK).astype(np.int64)
        for c in np.unique(chunk_of).tolist():
            sel_c = chunk_of == c
            hits.update(self._hits(idx[sel_c], p[sel_c], u[sel_c], speed[sel_c], T, H2))
        events: list[Event] = []
        keys = list(self.book.keys_of_kind(KIND))
        slots = np.fromiter((key[1] for key in keys), np.int64, len(keys))
        open_due = {keys[i] for i in np.flatnonzero(due[slots]).tolist()}
        for key in sorted(open_due | {(KIND, sl, z) for sl, z in hits}):
            inc = self.book.get(key)
            hit = hits.get((key[1], key[2]))
            if hit is None:
                assert inc is not None
                if inc.dwelt(T, s.min_dwell_s):
                    events.append(self.life.close(key, T, PredictedZoneEntryReason.CLEARED))
                continue
            eta, elon, elat = hit
            metrics = {
                "eta_s": eta,
                "entry_t_s": T + eta,
                "entry_lon_deg": elon,
                "entry_lat_deg": elat,
                "speed_mps": float(tr.speed_mps[key[1]]),
                "course_deg": float(tr.course_deg[key[1]]),
            }
            if inc is None:
                if eta <= H:
                    sev = raise_severity(self.zones[key[2]].severity, -1)
                    new = self.life.new(PredictedEntryIncident, key, T, sev, metrics, slots=(key[1],), zone_no=key[2])
                    new.reported_t_s = T + eta
                    events.extend(self.life.open(new, T))
                continue
            assert isinstance(inc, PredictedEntryIncident)
            inc.settle()
            inc.metrics = metrics
            if abs(T + eta - inc.reported_t_s) > max(60.0, 0.25 * eta):
                inc.reported_t_s = T + eta
                events.append(self.life.revise(inc, T))
        return events

    def _hits(
        self, idx: np.ndarray, p: np.ndarray, u: np.ndarray, speed: np.ndarray, T: float, horizon_s: float
    ) -> Hits:
        """First entry (eta, lon, lat) of each track into each zone along its dead-reckoned path."""
        tr = self.tracks
        owner, tau, lon, lat = path_samples(p, u, speed, horizon_s, self.settings.predict_zone_step_m)
        si, zi = self.zones.grid.query(lon, lat)
        if si.size:
            o = owner[si]
            ok = self.zones.applicable(zi, tr.side[idx[o]], tr.domain[idx[o]], T + tau[si])
            si, zi, o = si[ok], zi[ok], o[ok]
        if si.size == 0:
            return {}
        # the earliest sample of each (track, zone): samples run by track, then time
        _, first = np.unique(o.astype(np.int64) * len(self.zones) + zi, return_index=True)
        # a track inside a zone now is not predicted into it (nor one with its zone_entry open)
        first = first[tau[si[first]] > 0]
        slots = idx[o[first]]
        zones = zi[first]
        entry_open = np.fromiter(
            ((ZONE_ENTRY, sl, z) in self.book for sl, z in zip(slots.tolist(), zones.tolist())), bool, first.size
        )
        first, slots, zones = first[~entry_open], slots[~entry_open], zones[~entry_open]
        if first.size == 0:
            return {}
        # bracket the entry between the sample before (outside) and the first inside
        return self._refine(slots, zones, tau[si[first] - 1], tau[si[first]], T)

    def _refine(self, slots: np.ndarray, z: np.ndarray, lo: np.ndarray, hi: np.ndarray, T: float) -> Hits:
        """Bisect each (track, zone) between a time outside and one inside, dead-reckoning exactly."""
        tr = self.tracks
        lon0, lat0 = tr.lon_deg[slots], tr.lat_deg[slots]
        course = tr.course_deg[slots]
        speed = tr.speed_mps[slots]
        dt0 = T - tr.t_s[slots]
        geoms = self.zones.geoms[z]
        lo, hi = lo.copy(), hi.copy()
        for _ in range(_BISECTIONS):
            mid = (lo + hi) / 2
            lon, lat, _ = dead_reckon(lon0, lat0, course, speed, dt0 + mid)
            inside = shapely.intersects_xy(geoms, lon, lat)
            hi = np.where(inside, mid, hi)
            lo = np.where(inside, lo, mid)
        lon, lat, _ = dead_reckon(lon0, lat0, course, speed, dt0 + hi)
        return {
            (int(sl), int(zz)): (float(h), float(x), float(y))
            for sl, zz, h, x, y in zip(slots.tolist(), z.tolist(), hi.tolist(), lon.tolist(), lat.tolist())
        }
