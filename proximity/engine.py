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
from .families.predicted_close_approach import PredictedCloseApproach
from .families.track_integrity import TrackIntegrity
from .families.zone_entry import ZoneEntry
from .lifecycle import Closed, Incident, Key, Lifecycle, describe, raise_severity
from ._integrity import EARTH_RADIUS_M, SPHERE_SLACK, Screen, screen, spoof_clusters
from ._predict import movers, path_samples
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
        self._families: list[Family] = [
            ExerciseNearBorder(ctx), TrackIntegrity(ctx), ZoneEntry(ctx), CloseApproach(ctx), PredictedCloseApproach(ctx)
        ]
        for fam in self._families:
            self._life.register(fam, fam.follows)
        self._life.register(_LegacyRules(self, _PZONE), (_ZONE,))
        self._with_zone = {f.kind for f in self._families if f.closes_with_zone} | {_PZONE}
        per_domain = list(DOMAIN_CODE)
        stale = {str(d): float(v) for d, v in settings.stale_after_s.items()}
        self._stale_after = np.array([stale.get(d, math.inf) for d in per_domain], dtype=np.float64)
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
        slots = (key[1],)
        return self._life.new(_Legacy, key, t_s, severity, metrics, slots=slots, zone_no=zone_no)

    def _summary(self, inc: Incident, who: Sequence[str], zone: str) -> str:
        m = inc.metrics
        if inc.kind == _PZONE:
            return f"{who[0]} expected to enter {zone} in {m['eta_s']:.0f} s"
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
                for fam in self._families:
                    events.extend(fam.on_predict(T))
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

    # -- predictions ---------------------------------------------------------------------------

    def _predict_zones(self, T: float) -> list[Event]:
        s = self._s
        tr = self._tracks
        if not self._zones:
            return []
        H = s.horizon_s
        H2 = H * (1 + s.hysteresis_margin)
        live = np.nonzero(tr.live[: tr.n] & (tr.speed_mps[: tr.n] >= s.predict_min_speed_mps))[0]
        idx, p, u, speed = movers(self._tracks, live, T)
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
