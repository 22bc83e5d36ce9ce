"""The proximity engine: ``TrackUpdate``s in, the few ``Event``s an operator must see out.

How one micro-batch is processed (the rules in full: ``docs/engine.md``):

1. Reports older than their track's last accepted report are dropped and
   counted (``out_of_order_dropped``).
2. The batch is cut at the *ticks*: every multiple of ``pair_interval_s`` of
   data time. When the data time (the running maximum of the reports' ``t_s``)
   passes a tick, the tick runs first, on the state left by all earlier
   reports: stale tracks expire, zone and exercise windows open and close,
   integrity suspicions clear and spoofing patterns are searched, every live
   opposing track is dead-reckoned from its last report to the tick time (at most
   ``align_max_age_s``) and every pair of them is compared at that one instant
   (KD-tree on unit-sphere vectors, then exact WGS 84 geodesics), and on every
   ``predict_interval_s`` the predictions run from the tracks at the tick time.
   If the data time jumps over several ticks at once, only the last runs.
3. Between ticks, every report is screened for implausible kinematics and
   answered for zone membership at once (numpy, ``ZoneGrid``); then the few
   reports that are flagged, inside a zone or of a track with an open zone
   incident step through the incidents' state machines in arrival order.

Ticks are placed by data time and everything else runs per report in arrival
order: the events do not depend on how the input is cut into batches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum
import math
import time
from collections import deque
from typing import Callable, Final, Mapping, Sequence

import numpy as np
import shapely
from pyproj import Geod
from scipy.spatial import cKDTree
from shapely.geometry import LineString

from config.records import Severity, TrackUpdate, Zone
from config.settings import ProximitySettings

from .families.base import Context, Family
from .families.exercise_near_border import ExerciseNearBorder
from .families.close_approach import CloseApproach
from .families.track_integrity import TrackIntegrity
from .families.zone_entry import ZoneEntry
from .lifecycle import Closed, Incident, Key, Lifecycle, describe, raise_severity
from ._integrity import EARTH_RADIUS_M, SPHERE_SLACK, Screen, screen, spoof_clusters
from ._predict import approach_candidates, path_samples, sphere_motion, sphere_position
from .tracks import DOMAIN_CODE, SIDE_CODE, AlignedTracks, Report, ReportBatch, TrackTable, unit_vectors
from ._zonegrid import ZoneGrid
from .zonetable import ZoneTable
from .cpa import closest_approach, dead_reckon
from .events import Event, EventKind, Subject, derive_event_id
from .geometry import geodesic_buffer

__all__ = ["Engine"]

log = logging.getLogger(__name__)

_GEOD = Geod(ellps="WGS84")
_SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
_NATO = SIDE_CODE["nato"]
_RUSSIA = SIDE_CODE["russia"]
_AIR = DOMAIN_CODE["air"]
_ZONE: Final = "zone_entry"
_PZONE: Final = "predicted_zone_entry"
_PAIR: Final = "close_approach"
_PPAIR: Final = "predicted_close_approach"
_INTEG: Final = "track_integrity"
# Entry into a zone along a dead-reckoned path is refined to this fraction of a sample step.
_BISECTIONS = 12
# Zone-entry prediction samples this many path points at a time (memory bound).
_SAMPLES_PER_CHUNK = 200_000

# integrity metrics that keep the worst value seen; the others show the latest
_WORST_KEPT = frozenset({"jump_m", "implied_speed_mps", "two_places_m", "stuck_s", "spoof_cluster_tracks"})
_CLOSE_WORDS = {
    "exit": "left",
    "stale": "stopped reporting (stale)",
    "zone_inactive": "no longer watched (zone inactive)",
    "end_of_input": "still open at the end of the input",
    "separated": "separated",
    "occurred": "now a close approach",
    "entered": "entered",
    "cleared": "no longer predicted",
}


_raise = raise_severity


class _R(StrEnum):
    EXIT = "exit"
    SEPARATED = "separated"
    OCCURRED = "occurred"
    ENTERED = "entered"
    CLEARED = "cleared"


_REASON = {**{r.value: r for r in Closed}, **{r.value: r for r in _R}}


@dataclass(slots=True)
class _Legacy(Incident):
    last_inside_t_s: float = 0.0
    min_m: float = math.inf  # smallest distance (or CPA) seen
    reported_min_m: float = math.inf  # smallest distance (or CPA) reported
    reported_t_s: float = math.nan  # predicted time last reported (entry time)
    flags: set[str] = field(default_factory=set)


class _LegacyRules:
    """The kinds still written in the engine."""

    def __init__(self, engine: Engine, kind: str) -> None:
        self.engine = engine
        self.kind = kind
        self.close_words: Mapping[str, str] = _CLOSE_WORDS

    def subjects(self, inc: Incident, t_s: float, report: Report | None) -> tuple[Subject, ...]:
        return self.engine._subjects(inc, t_s, report)

    def summary(self, inc: Incident, who: Sequence[str], zone: str) -> str:
        return self.engine._summary(inc, who, zone)

    def closed_summary(self, inc: Incident, who: Sequence[str], zone: str, words: str) -> str:
        return f"{inc.kind.replace('_', ' ')} {' / '.join(who)}: {words}"

    def closing(self, inc: Incident, t_s: float, reason: str) -> None:
        self.engine._closing(inc, t_s, reason)

    def on_opened(self, inc: Incident, t_s: float, report: Report | None) -> list[Event]:
        key = (self.kind, inc.key[1], inc.key[2])
        if self.engine._get(key) is None:
            return []
        return [self.engine._close(key, t_s, "entered" if self.kind == _PZONE else "occurred", report)]


def _chord(dist_m: float) -> float:
    return 2.0 * math.sin(min(dist_m * SPHERE_SLACK / (2.0 * EARTH_RADIUS_M), math.pi / 2))


class Engine:
    """From track reports to events; see the module docstring and ``docs/engine.md``."""

    def __init__(
        self,
        settings: ProximitySettings,
        zones: Sequence[Zone],
        *,
        borders: Sequence[LineString] = (),
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._s = settings
        self._tracks = TrackTable()
        self._zones = ZoneTable()
        self._life = Lifecycle(self._tracks, self._zones, frozenset(t.upper() for t in settings.watch_types), wall_clock)
        self._book = self._life.book
        ctx = Context(settings, self._tracks, self._zones, self._life, borders)
        self._families: list[Family] = [ExerciseNearBorder(ctx), TrackIntegrity(ctx), ZoneEntry(ctx), CloseApproach(ctx)]
        for fam in self._families:
            self._life.register(fam, fam.follows)
        self._life.register(_LegacyRules(self, _PZONE), (_ZONE,))
        self._life.register(_LegacyRules(self, _PPAIR), (_PAIR,))
        self._with_zone = {f.kind for f in self._families if f.closes_with_zone} | {_PZONE}
        per_domain = list(DOMAIN_CODE)
        stale = {str(d): float(v) for d, v in settings.stale_after_s.items()}
        self._stale_after = np.array([stale.get(d, math.inf) for d in per_domain], dtype=np.float64)
        th = settings.thresholds
        # lateral threshold by (domain a, domain b): air, sea, land
        self._lat_thr = np.array(
            [
                [th.air_air_lateral_m, th.air_sea_m, th.land_any_m],
                [th.air_sea_m, th.sea_sea_m, th.land_any_m],
                [th.land_any_m, th.land_any_m, th.land_any_m],
            ]
        )
        # data clock
        self._data_t_s: float | None = None
        self._tick_k: int | None = None
        self._last_tick_t_s: float | None = None
        self._last_predict_k: int | None = None
        # counters
        self._n_updates = 0
        self._n_dropped = 0
        self._n_expired = 0
        self._n_forgotten = 0
        self._pending: list[Event] = []
        self._pending.extend(self.add_zones(zones))

    # -- public API -----------------------------------------------------------------

    @property
    def stats(self) -> dict[str, int]:
        """Counters since construction (the first five are the documented minimum)."""
        return {
            "updates": self._n_updates,
            "out_of_order_dropped": self._n_dropped,
            "stale_expired": self._n_expired,
            "live_tracks": int(np.count_nonzero(self._tracks.live[: self._tracks.n])),
            "open_incidents": len(self._book),
            "known_tracks": self._tracks.n_known,
            "forgotten_tracks": self._n_forgotten,
            **{k: v for fam in self._families for k, v in fam.stats().items()},
            "zones": len(self._zones),
        }

    @property
    def zones(self) -> tuple[Zone, ...]:
        return tuple(self._zones.zones)

    def add_zones(self, zones: Sequence[Zone]) -> list[Event]:
        """Watch more zones (a zone with a known ``zone_id`` replaces the old one).

        Returns the ``exercise_near_border`` events of exercise zones that are
        active at the current data time (later ones open at the tick that finds
        them active).
        """
        added = self._zones.add(zones)
        events: list[Event] = []
        for fam in self._families:
            events.extend(fam.on_zones(added, self._data_t_s))
        return events

    def process(self, updates: Sequence[TrackUpdate]) -> list[Event]:
        """One micro-batch of reports, in arrival order; returns the events it caused."""
        events, self._pending = self._pending, []
        n = len(updates)
        if n == 0:
            return events
        self._n_updates += n
        tracks = self._tracks
        slots = tracks.slots_for([u.track_id for u in updates])
        t = np.fromiter((u.t_s for u in updates), float, n)
        keep = tracks.in_order(slots, t)
        if not keep.all():
            self._n_dropped += int(n - np.count_nonzero(keep))
            idx = np.nonzero(keep)[0]
            if idx.size == 0:
                return events
            updates = [updates[i] for i in idx.tolist()]
            slots = slots[idx]
            t = t[idx]
            n = idx.size
        upd = np.empty(n, object)
        upd[:] = updates
        cols = ReportBatch.columns(updates, t)
        # where the data time passes a tick, the tick runs before that report
        P = self._s.pair_interval_s
        need = np.ceil(t / P).astype(np.int64) - 1
        if self._tick_k is None:
            self._tick_k = int(need[0])
        run = np.maximum.accumulate(np.maximum(need, self._tick_k))
        prev = np.concatenate(([self._tick_k], run[:-1]))
        cuts = np.nonzero(run > prev)[0].tolist()
        bounds = sorted({0, *cuts, n})
        for a, b in zip(bounds[:-1], bounds[1:]):
            if run[a] > prev[a]:
                self._tick_k = int(run[a])
                events.extend(self._tick(self._tick_k * P))
            seg = slice(a, b)
            events.extend(self._apply(ReportBatch(slots[seg], upd[seg], {k: v[seg] for k, v in cols.items()})))
            t_seg = float(t[a:b].max())
            if self._data_t_s is None or t_seg > self._data_t_s:
                self._data_t_s = t_seg
        return events

    def finish(self) -> list[Event]:
        """End of a replayed input: a last tick at the data time, then close what is open."""
        events, self._pending = self._pending, []
        if self._data_t_s is None:
            return events
        T = self._data_t_s
        if self._last_tick_t_s is None or T > self._last_tick_t_s:
            events.extend(self._tick(T, predict=False))
        for key in sorted(self._book.open):
            events.append(self._life.close(key, T, Closed.END_OF_INPUT))
        return events

    # -- per report -----------------------------------------------------------------

    def _apply(self, batch: ReportBatch) -> list[Event]:
        s = self._s
        slots, upd, cols = batch.slots, batch.updates, batch.cols
        lon, lat, t = cols["lon_deg"], cols["lat_deg"], cols["t_s"]
        for fam in self._families:
            fam.screen(batch)
        self._tracks.assign(batch)
        tagged: list[tuple[int, Event]] = []
        for fam in self._families:
            tagged.extend(fam.on_reports(batch))
        tagged.sort(key=lambda x: x[0])
        return [e for _, e in tagged]

    # -- events -------------------------------------------------------------------------

    def _subjects(self, inc: Incident, t_s: float, report: Report | None) -> tuple[Subject, ...]:
        if report is not None:
            return (self._life.report_subject(report),)
        if inc.kind in (_PAIR, _PPAIR):
            # the positions compared: both tracks at the event time
            at = self._positions_at(np.array(inc.slots, np.int64), t_s, inc.kind)
            return tuple(self._life.latest_subject(s, at, k) for k, s in enumerate(inc.slots))
        return tuple(self._life.latest_subject(s) for s in inc.slots)

    def _get(self, key: Key) -> _Legacy | None:
        return self._book.get(key)  # type: ignore[return-value]

    def _watched_type(self, slots: tuple[int, ...]) -> bool:
        return self._life.watched(slots)

    def _new(
        self,
        key: Key,
        kind: EventKind,
        t_s: float,
        severity: Severity,
        metrics: dict[str, float],
        *,
        zone_no: int | None = None,
    ) -> _Legacy:
        slots: tuple[int, ...] = {_PAIR: key[1:], _PPAIR: key[1:]}.get(kind, (key[1],))
        return self._life.new(_Legacy, key, t_s, severity, metrics, slots=slots, zone_no=zone_no)

    def _summary(self, inc: Incident, who: Sequence[str], zone: str) -> str:
        m = inc.metrics
        if inc.kind == _PZONE:
            return f"{who[0]} expected to enter {zone} in {m['eta_s']:.0f} s"
        if inc.kind == _PPAIR:
            return (
                f"{who[0]} and {who[1]} expected {m['cpa_m']:.0f} m apart in {m['tcpa_s']:.0f} s"
                f" (threshold {m['threshold_m']:.0f} m)"
            )
        assert isinstance(inc, _Legacy)
        return f"{who[0]} data suspect: {', '.join(sorted(inc.flags))}"

    def _open(self, inc: Incident, t_s: float, report: Report | None = None) -> list[Event]:
        return self._life.open(inc, t_s, report)

    def _revise(self, inc: Incident, t_s: float, report: Report | None = None) -> Event:
        return self._life.revise(inc, t_s, report)

    def _close(self, key: Key, t_s: float, reason: str, report: Report | None = None) -> Event:
        return self._life.close(key, t_s, _REASON[reason], report)

    def _closing(self, inc: Incident, t_s: float, reason: str) -> None:
        pass

    # -- ticks --------------------------------------------------------------------------------

    def _tick(self, T: float, predict: bool = True) -> list[Event]:
        self._last_tick_t_s = T
        events: list[Event] = []
        events.extend(self._expire(T))
        for z in self._zones.ended_before(T):
            for key in self._book.of_zone(z):
                if key[0] in self._with_zone:
                    events.append(self._life.close(key, float(self._zones.until_s[z]), Closed.ZONE_INACTIVE))
        for fam in self._families:
            events.extend(fam.on_tick(T))
        if predict:
            k = int(math.floor(T / self._s.predict_interval_s))
            if self._last_predict_k is None or k > self._last_predict_k:
                self._last_predict_k = k
                events.extend(self._predict_pairs(T))
                events.extend(self._predict_zones(T))
        self._forget(T)
        return events

    def _expire(self, T: float) -> list[Event]:
        tr = self._tracks
        n = tr.n
        age_s: np.ndarray = T - tr.t_s[:n]
        dead = tr.live[:n] & (age_s > self._stale_after[tr.domain[:n]])
        idx = np.nonzero(dead)[0]
        if idx.size == 0:
            return []
        tr.live[idx] = False
        self._n_expired += int(idx.size)
        events: list[Event] = []
        for slot in idx.tolist():
            for key in self._book.of_slot(slot):
                if key in self._book.open:
                    events.append(self._close(key, T, "stale"))
        return events

    def _forget(self, T: float) -> None:
        tr = self._tracks
        n = tr.n
        age_s: np.ndarray = T - tr.t_s[:n]
        old = np.nonzero(~tr.live[:n] & (age_s > self._s.forget_after_s))[0]
        if old.size:
            self._n_forgotten += int(old.size)
            tr.free(old)

    # -- close approaches ---------------------------------------------------------------------

    def _thresholds(
        self, a: np.ndarray, b: np.ndarray, alt_a: np.ndarray, alt_b: np.ndarray, slack: float = 1.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Lateral threshold (0: cannot be close) and vertical separation (NaN: not air-air) of pairs.

        ``slack`` widens the altitude ceiling of air-surface pairs (hysteresis).
        """
        tr = self._tracks
        da, db = tr.domain[a], tr.domain[b]
        thr = self._lat_thr[da, db]
        air_air = (da == _AIR) & (db == _AIR)
        vsep = np.where(air_air, np.abs(alt_a - alt_b), np.nan)
        ceiling = self._s.thresholds.air_surface_max_alt_m
        if ceiling is not None:
            with np.errstate(invalid="ignore"):
                high = ((da == _AIR) & (alt_a > ceiling * slack)) | ((db == _AIR) & (alt_b > ceiling * slack))
            thr = np.where(high & ~air_air, 0.0, thr)
        return thr, vsep

    def _positions_at(self, slots: np.ndarray, T: float, kind: str = _PAIR) -> AlignedTracks:
        """Tracks brought to data time T: by at most ``align_max_age_s`` for a close approach
        (a measured separation), without limit for a prediction's start state."""
        max_age_s = self._s.align_max_age_s if kind == _PAIR else math.inf
        return self._tracks.aligned(slots, T, max_age_s)

    def _pair_geometry(
        self, a: np.ndarray, b: np.ndarray, pa: AlignedTracks, pb: AlignedTracks
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Geodesic distance, lateral thresholds and vertical separation of pairs of slots
        (``a[i]``, ``b[i]``) at positions ``pa[i]``, ``pb[i]``."""
        _, _, dist = _GEOD.inv(pa.lon_deg, pa.lat_deg, pb.lon_deg, pb.lat_deg)
        thr, vsep = self._thresholds(a, b, pa.alt_m, pb.alt_m)
        return np.asarray(dist, float), thr, vsep

    def _opposing(self) -> tuple[np.ndarray, np.ndarray]:
        tr = self._tracks
        n = tr.n
        live = tr.live[:n]
        return np.nonzero(live & (tr.side[:n] == _NATO))[0], np.nonzero(live & (tr.side[:n] == _RUSSIA))[0]

    def _with_open(self, kind: str, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Candidate pairs plus every open incident of ``kind``, unique and sorted."""
        keys = self._book.of_kind(kind)
        if keys:
            arr = np.array([k[1:] for k in keys], np.int64)
            a = np.concatenate((a, arr[:, 0]))
            b = np.concatenate((b, arr[:, 1]))
        m = self._tracks.n + 1
        key = np.unique(a * m + b)
        return key // m, key % m

    # -- predictions ---------------------------------------------------------------------------

    def _movers(self, idx: np.ndarray, T: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Of the slots ``idx``, those with a usable velocity; their unit vectors dead-reckoned to T."""
        tr = self._tracks
        speed = tr.speed_mps[idx]
        course = tr.course_deg[idx]
        usable = ~np.isnan(speed) & (~np.isnan(course) | (speed == 0))
        idx = idx[usable]
        speed = speed[usable]
        course = np.nan_to_num(course[usable])
        p, u = sphere_motion(tr.lon_deg[idx], tr.lat_deg[idx], course)
        th = (speed * (T - tr.t_s[idx]) / EARTH_RADIUS_M)[:, None]
        p, u = np.cos(th) * p + np.sin(th) * u, -np.sin(th) * p + np.cos(th) * u
        return idx, p, u, speed

    def _exact_at(self, idx: np.ndarray, T: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Exact dead-reckoned (lon, lat, course, speed) of slots at data time T: a prediction's start."""
        at = self._positions_at(idx, T, _PPAIR)
        return at.lon_deg, at.lat_deg, np.nan_to_num(at.course_deg), self._tracks.speed_mps[idx]

    def _predict_pairs(self, T: float) -> list[Event]:
        s = self._s
        tr = self._tracks
        H = s.horizon_s
        margin = s.hysteresis_margin
        vthr = s.thresholds.air_air_vertical_m
        nato, rus = self._opposing()
        na, pa, ua, va = self._movers(nato, T)
        ru, pb, ub, vb = self._movers(rus, T)
        ia, ib, lower_m = approach_candidates(
            pa, ua, va, pb, ub, vb,
            horizon_s=H * (1 + margin),
            step_s=s.predict_step_s,
            radius_m=float(self._lat_thr.max()) * (1 + margin),
        )
        ca, cb = na[ia], ru[ib]
        # the pair's own threshold at the lowest altitudes they can reach, and for
        # aircraft pairs the vertical separation they can lose within the horizon
        reach_s = H * (1 + margin) + (T - np.minimum(tr.t_s[ca], tr.t_s[cb]))
        climb_a = np.nan_to_num(np.abs(tr.vrate_mps[ca])) * reach_s
        climb_b = np.nan_to_num(np.abs(tr.vrate_mps[cb])) * reach_s
        thr_low, _ = self._thresholds(ca, cb, tr.alt_m[ca] - climb_a, tr.alt_m[cb] - climb_b, 1 + margin)
        with np.errstate(invalid="ignore"):
            apart = (tr.domain[ca] == _AIR) & (tr.domain[cb] == _AIR) & (
                np.abs(tr.alt_m[ca] - tr.alt_m[cb]) - climb_a - climb_b > vthr * (1 + margin)
            )
        keep = (lower_m <= thr_low * (1 + margin) * SPHERE_SLACK) & ~apart
        a, b = self._with_open(_PPAIR, ca[keep], cb[keep])
        if a.size == 0:
            return []
        # an open prediction whose track lost its velocity is re-checked as not predicted
        with np.errstate(invalid="ignore"):
            usable = np.ones(a.size, bool)
            for x in (a, b):
                usable &= ~np.isnan(tr.speed_mps[x]) & (~np.isnan(tr.course_deg[x]) | (tr.speed_mps[x] == 0))
        la, pha, ca, sa = self._exact_at(a, T)
        lb, phb, cb, sb = self._exact_at(b, T)
        sa, sb = np.nan_to_num(sa), np.nan_to_num(sb)
        cpa = closest_approach(la, pha, ca, sa, lb, phb, cb, sb, H * (1 + margin))
        _, _, now = _GEOD.inv(la, pha, lb, phb)
        now = np.asarray(now, float)
        ahead_a = T - tr.t_s[a] + cpa.tcpa_s
        ahead_b = T - tr.t_s[b] + cpa.tcpa_s
        alt_a = tr.alt_m[a] + np.nan_to_num(tr.vrate_mps[a]) * ahead_a
        alt_b = tr.alt_m[b] + np.nan_to_num(tr.vrate_mps[b]) * ahead_b
        thr, vsep = self._thresholds(a, b, alt_a, alt_b)
        thr_band, _ = self._thresholds(a, b, alt_a, alt_b, 1 + margin)
        with np.errstate(invalid="ignore"):
            approaching = usable & (cpa.tcpa_s > 0)
            predicted = approaching & (cpa.tcpa_s <= H) & (cpa.cpa_m < thr) & ~(vsep >= vthr)
            holding = approaching & (cpa.cpa_m <= thr_band * (1 + margin)) & ~(vsep > vthr * (1 + margin))
            critical = cpa.cpa_m < thr * s.critical_fraction
        events: list[Event] = []
        for j in range(a.size):
            key = (_PPAIR, int(a[j]), int(b[j]))
            inc = self._get(key)
            if inc is None and not predicted[j]:
                continue
            if inc is None and self._get((_PAIR, key[1], key[2])) is not None:
                continue  # already a close approach
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
                inc = self._new(key, _PPAIR, T, sev, metrics)
                inc.min_m = inc.reported_min_m = metrics["cpa_m"]
                events.extend(self._open(inc, T))
                continue
            if self._watched_type(inc.slots):
                sev = _raise(sev)
            if not holding[j]:
                inc.metrics = metrics
                if inc.pending_since_s is None:
                    inc.pending_since_s = T
                if T - inc.pending_since_s >= s.min_dwell_s:
                    events.append(self._close(key, T, "cleared"))
                continue
            inc.pending_since_s = None
            inc.metrics = metrics
            if metrics["cpa_m"] < inc.reported_min_m * (1.0 - s.update_min_change) or sev != inc.severity:
                inc.severity = sev
                inc.reported_min_m = min(inc.reported_min_m, metrics["cpa_m"])
                events.append(self._revise(inc, T))
        return events

    def _predict_zones(self, T: float) -> list[Event]:
        s = self._s
        tr = self._tracks
        if not self._zones:
            return []
        H = s.horizon_s
        H2 = H * (1 + s.hysteresis_margin)
        live = np.nonzero(tr.live[: tr.n] & (tr.speed_mps[: tr.n] >= s.predict_min_speed_mps))[0]
        idx, p, u, speed = self._movers(live, T)
        hits: dict[tuple[int, int], tuple[float, float, float]] = {}
        # in chunks of about _SAMPLES_PER_CHUNK path points, to bound the memory
        per_track = np.ceil(speed * H2 / s.predict_zone_step_m) + 1
        chunk_of = (np.cumsum(per_track) // _SAMPLES_PER_CHUNK).astype(np.int64)
        for c in np.unique(chunk_of).tolist():
            sel_c = chunk_of == c
            hits.update(self._zone_hits(idx[sel_c], p[sel_c], u[sel_c], speed[sel_c], T, H2))
        events: list[Event] = []
        keys = sorted(set(self._book.of_kind(_PZONE)) | {(_PZONE, sl, z) for sl, z in hits})
        for key in keys:
            inc = self._get(key)
            hit = hits.get((key[1], key[2]))
            zone = self._zones[key[2]]
            if hit is not None:
                eta, elon, elat = hit
                metrics = {
                    "eta_s": eta,
                    "entry_t_s": T + eta,
                    "entry_lon_deg": elon,
                    "entry_lat_deg": elat,
                    "speed_mps": float(tr.speed_mps[key[1]]),
                    "course_deg": float(tr.course_deg[key[1]]),
                }
                sev = _raise(zone.severity, -1)
                if inc is None:
                    if eta > H:
                        continue
                    inc = self._new(key, _PZONE, T, sev, metrics, zone_no=key[2])
                    inc.reported_t_s = T + eta
                    events.extend(self._open(inc, T))
                    continue
                inc.pending_since_s = None
                inc.metrics = metrics
                if abs(T + eta - inc.reported_t_s) > max(60.0, 0.25 * eta):
                    inc.reported_t_s = T + eta
                    events.append(self._revise(inc, T))
                continue
            assert inc is not None
            if inc.pending_since_s is None:
                inc.pending_since_s = T
            if T - inc.pending_since_s >= s.min_dwell_s:
                events.append(self._close(key, T, "cleared"))
        return events

    def _zone_hits(
        self, idx: np.ndarray, p: np.ndarray, u: np.ndarray, speed: np.ndarray, T: float, horizon_s: float
    ) -> dict[tuple[int, int], tuple[float, float, float]]:
        """First entry (eta, lon, lat) of each track into each zone along its dead-reckoned path."""
        tr = self._tracks
        owner, tau, lon, lat = path_samples(p, u, speed, horizon_s, self._s.predict_zone_step_m)
        si, zi = self._zones.grid.query(lon, lat)
        if si.size:
            o = owner[si]
            ok = self._zones.applicable(zi, tr.side[idx[o]], tr.domain[idx[o]], T + tau[si])
            si, zi, o = si[ok], zi[ok], o[ok]
        if si.size == 0:
            return {}
        # the earliest sample of each (track, zone): samples run by track, then time
        _, first = np.unique(o.astype(np.int64) * len(self._zones) + zi, return_index=True)
        # a track inside a zone now is not predicted into it (nor one with its zone_entry open)
        first = first[tau[si[first]] > 0]
        slots = idx[o[first]]
        zones = zi[first]
        entry_open = np.fromiter(
            ((_ZONE, sl, z) in self._book.open for sl, z in zip(slots.tolist(), zones.tolist())), bool, first.size
        )
        first, slots, zones = first[~entry_open], slots[~entry_open], zones[~entry_open]
        if first.size == 0:
            return {}
        # bracket the entry between the sample before (outside) and the first inside
        return self._refine_entry(slots, zones, tau[si[first] - 1], tau[si[first]], T)

    def _refine_entry(
        self, slots: np.ndarray, z: np.ndarray, lo: np.ndarray, hi: np.ndarray, T: float
    ) -> dict[tuple[int, int], tuple[float, float, float]]:
        """Bisect each (track, zone) between a time outside and one inside, dead-reckoning exactly."""
        tr = self._tracks
        lon0, lat0 = tr.lon_deg[slots], tr.lat_deg[slots]
        course = tr.course_deg[slots]
        speed = tr.speed_mps[slots]
        dt0 = T - tr.t_s[slots]
        geoms = self._zones.geoms[z]
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
