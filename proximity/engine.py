"""The proximity engine: ``TrackUpdate``s in, the few ``Event``s an operator must see out.

How one micro-batch is processed (see ``docs/engine.md``):

1. Reports older than their track's last accepted report are dropped and
   counted (``out_of_order_dropped``).
2. The batch is cut at the *pair ticks*: every multiple of
   ``pair_interval_s`` of data time. When the data time (the running maximum of
   the reports' ``t_s``) passes a tick, the tick runs first on the state left by
   all earlier reports: stale tracks expire, zone incidents of zones that ended
   close, and every pair of live opposing tracks is compared (KD-tree on
   unit-sphere vectors for candidates, then exact WGS 84 geodesics). If the data
   time jumps over several ticks at once, only the last of them runs (nothing
   changed in between).
3. Zone membership is answered for every report of the segment at once
   (``ZoneGrid``), then the zone incidents' state machines step through the few
   reports that are inside a zone or belong to a track with an open zone
   incident, in arrival order.

Because ticks are placed by data time and everything else is per report in
arrival order, the events do not depend on how the input is cut into batches.

Incidents:

* ``zone_entry``: one incident per (track, zone). Opens on the first report
  inside an applicable, active zone. Closes (``close_reason`` ``"exit"``) when
  the track has been farther than the exit margin outside the zone for
  ``min_dwell_s`` (reports in the margin band reset the dwell), or with
  ``"stale"``, ``"zone_inactive"``, ``"end_of_input"``. The exit is the closing
  revision of the entry incident (same ``event_id``), not a kind of its own.
* ``close_approach``: one incident per (NATO track, Russian track). Opens when
  the geodesic distance is below the threshold for the pair of domains (air-air
  also needs vertical separation below its threshold when both altitudes are
  known); updates when a new minimum distance is more than
  ``update_min_change`` below the last reported one or the severity changes;
  closes when separation exceeds threshold * (1 + ``hysteresis_margin``)
  (laterally, or vertically for air-air) at every tick for ``min_dwell_s``, or a
  subject went stale.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from pyproj import Geod
from scipy.spatial import cKDTree
from shapely.geometry import LineString

from config.records import Severity, TrackUpdate, Zone
from config.settings import ProximitySettings

from ._buffer import buffer_area_m
from ._tracks import DOMAIN_CODE, SIDE_CODE, TrackTable
from ._zonegrid import ZoneGrid
from .events import Event, EventKind, Subject, derive_event_id

__all__ = ["Engine"]

log = logging.getLogger(__name__)

_GEOD = Geod(ellps="WGS84")
_EARTH_RADIUS_M = 6_371_008.8
# A sphere overstates WGS 84 geodesic distances by less than 0.6 %: candidate
# radii are widened by this factor so that no pair within range is missed.
_CANDIDATE_SLACK = 1.02
_SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
_NATO = SIDE_CODE["nato"]
_RUSSIA = SIDE_CODE["russia"]
_AIR = DOMAIN_CODE["air"]


def _raise(severity: Severity) -> Severity:
    return _SEVERITIES[min(_SEVERITIES.index(severity) + 1, len(_SEVERITIES) - 1)]


def _describe(u: TrackUpdate) -> str:
    extra = [x for x in (u.callsign or u.name, u.type_code) if x]
    return f"{u.track_id} ({', '.join(extra)})" if extra else u.track_id


@dataclass(slots=True)
class _Incident:
    kind: EventKind
    event_id: str
    opened_t_s: float
    slots: tuple[int, ...]
    zone_no: int | None = None
    seq: int = 0
    severity: Severity = "warning"
    last_inside_t_s: float = 0.0
    pending_since_s: float | None = None
    min_distance_m: float = math.inf
    reported_min_m: float = math.inf
    metrics: dict[str, float] = field(default_factory=dict)


class Engine:
    """From track reports to events; see the module docstring for the rules."""

    def __init__(
        self,
        settings: ProximitySettings,
        zones: Sequence[Zone],
        *,
        borders: Sequence[LineString] = (),
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._s = settings
        self._wall_clock = wall_clock
        self._borders = tuple(borders)
        self._tracks = TrackTable()
        stale = {str(d): float(v) for d, v in settings.stale_after_s.items()}
        self._stale_after = np.array([stale.get(d, math.inf) for d in DOMAIN_CODE], dtype=np.float64)
        th = settings.thresholds
        # lateral threshold by (domain a, domain b): air, sea, land
        self._lat_thr = np.array(
            [
                [th.air_air_lateral_m, th.air_sea_m, th.land_any_m],
                [th.air_sea_m, th.sea_sea_m, th.land_any_m],
                [th.land_any_m, th.land_any_m, th.land_any_m],
            ]
        )
        self._watch = frozenset(t.upper() for t in settings.watch_types)
        # zones, numbered in order of arrival
        self._zones: list[Zone] = []
        self._zone_no: dict[str, int] = {}
        self._zone_side_bits = np.zeros(0, np.int64)
        self._zone_domain_bits = np.zeros(0, np.int64)
        self._zone_from = np.zeros(0)
        self._zone_until = np.zeros(0)
        self._zone_margin_m: list[float] = []
        self._grid = ZoneGrid()
        self._outer = ZoneGrid()
        # incidents
        self._zone_inc: dict[tuple[int, int], _Incident] = {}
        self._zone_open_by_slot: dict[int, list[int]] = {}
        self._zone_open_count = np.zeros(self._tracks.update.size, np.int32)
        self._pair_inc: dict[tuple[int, int], _Incident] = {}
        self._pairs_by_slot: dict[int, set[tuple[int, int]]] = {}
        # data clock
        self._data_t_s: float | None = None
        self._tick_k: int | None = None
        self._last_tick_t_s: float | None = None
        # counters
        self._n_updates = 0
        self._n_dropped = 0
        self._n_expired = 0
        self._pending: list[Event] = []
        self._pending.extend(self.add_zones(zones))

    # -- public API -----------------------------------------------------------------

    @property
    def stats(self) -> dict[str, int]:
        return {
            "updates": self._n_updates,
            "out_of_order_dropped": self._n_dropped,
            "stale_expired": self._n_expired,
            "live_tracks": int(np.count_nonzero(self._tracks.live[: self._tracks.n])),
            "open_incidents": len(self._zone_inc) + len(self._pair_inc),
        }

    @property
    def zones(self) -> tuple[Zone, ...]:
        return tuple(self._zones)

    def add_zones(self, zones: Sequence[Zone]) -> list[Event]:
        """Watch more zones (a zone with a known ``zone_id`` replaces the old one)."""
        for zone in zones:
            margin = max(self._s.zone_exit_margin_m, self._s.hysteresis_margin * zone.buffer_m)
            side_bits = sum(1 << SIDE_CODE[s] for s in zone.sides)
            dom_bits = sum(1 << DOMAIN_CODE[d] for d in zone.domains)
            z = self._zone_no.get(zone.zone_id)
            if z is None:
                z = len(self._zones)
                self._zone_no[zone.zone_id] = z
                self._zones.append(zone)
                self._zone_margin_m.append(margin)
                self._zone_side_bits = np.append(self._zone_side_bits, side_bits)
                self._zone_domain_bits = np.append(self._zone_domain_bits, dom_bits)
                self._zone_from = np.append(self._zone_from, -math.inf)
                self._zone_until = np.append(self._zone_until, math.inf)
            else:
                self._zones[z] = zone
                self._zone_margin_m[z] = margin
                self._zone_side_bits[z] = side_bits
                self._zone_domain_bits[z] = dom_bits
            if zone.active_from_s is not None:
                self._zone_from[z] = zone.active_from_s
            if zone.active_until_s is not None:
                self._zone_until[z] = zone.active_until_s
            self._grid.set_zone(z, zone.geometry)
            self._outer.set_zone(z, buffer_area_m(zone.geometry, margin) if margin > 0 else zone.geometry)
        return []

    def process(self, updates: Sequence[TrackUpdate]) -> list[Event]:
        """One micro-batch of reports, in arrival order; returns the events it caused."""
        events, self._pending = self._pending, []
        n = len(updates)
        if n == 0:
            return events
        self._n_updates += n
        tracks = self._tracks
        slots = tracks.slots_for([u.track_id for u in updates])
        if self._zone_open_count.size < tracks.update.size:
            grown = np.zeros(tracks.update.size, np.int32)
            grown[: self._zone_open_count.size] = self._zone_open_count
            self._zone_open_count = grown
        t = np.fromiter((u.t_s for u in updates), float, n)
        keep = self._in_order(slots, t)
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
        cols = {
            "t_s": t,
            "lat_deg": np.fromiter((u.lat_deg for u in updates), float, n),
            "lon_deg": np.fromiter((u.lon_deg for u in updates), float, n),
            "alt_m": np.array([u.alt_m for u in updates], dtype=float),
            "speed_mps": np.array([u.speed_mps for u in updates], dtype=float),
            "course_deg": np.array([u.velocity_heading_deg for u in updates], dtype=float),
            "domain": np.fromiter((DOMAIN_CODE[u.domain] for u in updates), np.int8, n),
            "side": np.fromiter((SIDE_CODE[u.side] for u in updates), np.int8, n),
        }
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
            events.extend(self._apply(slots[seg], upd[seg], {k: v[seg] for k, v in cols.items()}))
        t_max = float(t.max())
        if self._data_t_s is None or t_max > self._data_t_s:
            self._data_t_s = t_max
        return events

    def finish(self) -> list[Event]:
        """End of a replayed input: a last tick at the data time, then close what is open."""
        events, self._pending = self._pending, []
        if self._data_t_s is None:
            return events
        T = self._data_t_s
        if self._last_tick_t_s is None or T > self._last_tick_t_s:
            events.extend(self._tick(T))
        for key, inc in list(self._zone_inc.items()):
            events.append(self._close_zone(key, inc, T, self._tracks.latest(key[0]), "end_of_input"))
        for key, inc in list(self._pair_inc.items()):
            events.append(self._close_pair(key, inc, T, "end_of_input"))
        return events

    # -- per report -----------------------------------------------------------------

    def _in_order(self, slots: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Which reports are not older than their track's last accepted one."""
        last = self._tracks.t_s[slots]
        keep = ~(t < last)  # a new track has NaN: kept
        order = np.argsort(slots, kind="stable")
        ss = slots[order]
        same = ss[1:] == ss[:-1]
        if same.any():
            member = np.zeros(ss.size, bool)
            member[1:] |= same
            member[:-1] |= same
            running: dict[int, float] = {}
            for i in order[member].tolist():
                s = int(slots[i])
                prev = running.get(s)
                if prev is None:
                    prev = last[i] if not math.isnan(last[i]) else -math.inf
                if t[i] < prev:
                    keep[i] = False
                else:
                    keep[i] = True
                    running[s] = float(t[i])
        return keep

    def _apply(self, slots: np.ndarray, upd: np.ndarray, cols: dict[str, np.ndarray]) -> list[Event]:
        n = slots.size
        # 1. track state: the last report per slot
        rev_unique, rev_first = np.unique(slots[::-1], return_index=True)
        last = n - 1 - rev_first
        self._tracks.assign(rev_unique, upd[last], {k: v[last] for k, v in cols.items()})
        if not self._zones:
            return []
        # 2. zone membership of every report
        lon, lat, t = cols["lon_deg"], cols["lat_deg"], cols["t_s"]
        pi, zi = self._grid.query(lon, lat)
        if pi.size:
            side = cols["side"][pi].astype(np.int64)
            dom = cols["domain"][pi].astype(np.int64)
            tp = t[pi]
            ok = (
                ((self._zone_side_bits[zi] >> side) & 1).astype(bool)
                & ((self._zone_domain_bits[zi] >> dom) & 1).astype(bool)
                & (tp >= self._zone_from[zi])
                & (tp <= self._zone_until[zi])
            )
            pi, zi = pi[ok], zi[ok]
        watched = self._zone_open_count[slots] > 0
        if pi.size:
            watched[pi] = True
            watched |= np.isin(slots, slots[pi])
        oi = np.nonzero(watched)[0]
        if oi.size == 0:
            return []
        po, zo = self._outer.query(lon[oi], lat[oi])
        inside: dict[int, list[int]] = {}
        for i, z in zip(pi.tolist(), zi.tolist()):
            inside.setdefault(i, []).append(z)
        outer: dict[int, set[int]] = {}
        for i, z in zip(oi[po].tolist(), zo.tolist()):
            outer.setdefault(i, set()).add(z)
        # 3. the zone incidents' state machines, report by report
        events: list[Event] = []
        dwell = self._s.min_dwell_s
        for i in oi.tolist():
            slot = int(slots[i])
            ti = float(t[i])
            u: TrackUpdate = upd[i]
            ins = inside.get(i, ())
            for z in ins:
                inc = self._zone_inc.get((slot, z))
                if inc is None:
                    events.append(self._open_zone(slot, z, u))
                else:
                    inc.pending_since_s = None
                    inc.last_inside_t_s = ti
            open_z = self._zone_open_by_slot.get(slot)
            if not open_z:
                continue
            band = outer.get(i, set())
            for z in list(open_z):
                if z in ins:
                    continue
                inc = self._zone_inc[(slot, z)]
                if z in band:
                    inc.pending_since_s = None
                    continue
                if inc.pending_since_s is None:
                    inc.pending_since_s = ti
                if ti - inc.pending_since_s >= dwell:
                    events.append(self._close_zone((slot, z), inc, ti, u, "exit"))
        return events

    # -- zone incidents ---------------------------------------------------------------

    def _subject(self, u: TrackUpdate, slot: int) -> Subject:
        return Subject(
            track_id=u.track_id,
            side=u.side,
            domain=u.domain,
            t_s=u.t_s,
            lat_deg=u.lat_deg,
            lon_deg=u.lon_deg,
            alt_m=u.alt_m,
            speed_mps=u.speed_mps,
            course_deg=u.velocity_heading_deg,
            callsign=u.callsign,
            name=u.name,
            type_code=u.type_code,
            country=u.country,
            suspect=bool(self._tracks.suspect[slot]),
        )

    def _watched_type(self, *us: TrackUpdate) -> bool:
        return any(u.type_code is not None and u.type_code.upper() in self._watch for u in us)

    def _event(
        self,
        inc: _Incident,
        state: str,
        t_s: float,
        subjects: tuple[Subject, ...],
        summary: str,
        zone: Zone | None = None,
        close_reason: str | None = None,
    ) -> Event:
        ev = Event(
            event_id=inc.event_id,
            kind=inc.kind,
            state=state,  # type: ignore[arg-type]
            seq=inc.seq,
            t_s=t_s,
            severity=inc.severity,
            subjects=subjects,
            summary=summary,
            zone_id=zone.zone_id if zone is not None else None,
            zone_name=zone.name if zone is not None else None,
            metrics=dict(inc.metrics),
            integrity_suspect=any(s.suspect for s in subjects),
            close_reason=close_reason,
            detected_s=self._wall_clock(),
        )
        inc.seq += 1
        return ev

    def _open_zone(self, slot: int, z: int, u: TrackUpdate) -> Event:
        zone = self._zones[z]
        inc = _Incident(
            kind="zone_entry",
            event_id=derive_event_id("zone_entry", (u.track_id,), zone.zone_id, u.t_s),
            opened_t_s=u.t_s,
            slots=(slot,),
            zone_no=z,
            severity=_raise(zone.severity) if self._watched_type(u) else zone.severity,
            last_inside_t_s=u.t_s,
            metrics={"buffer_m": zone.buffer_m, "exit_margin_m": self._zone_margin_m[z]},
        )
        self._zone_inc[(slot, z)] = inc
        self._zone_open_by_slot.setdefault(slot, []).append(z)
        self._zone_open_count[slot] += 1
        return self._event(
            inc, "open", u.t_s, (self._subject(u, slot),), f"{_describe(u)} entered {zone.name}", zone
        )

    def _close_zone(
        self, key: tuple[int, int], inc: _Incident, t_s: float, u: TrackUpdate, reason: str
    ) -> Event:
        slot, z = key
        zone = self._zones[z]
        del self._zone_inc[key]
        self._zone_open_by_slot[slot].remove(z)
        if not self._zone_open_by_slot[slot]:
            del self._zone_open_by_slot[slot]
        self._zone_open_count[slot] -= 1
        inc.metrics["dwell_s"] = inc.last_inside_t_s - inc.opened_t_s
        what = {
            "exit": "left",
            "stale": "went stale in",
            "zone_inactive": "is no longer watched in (zone inactive)",
            "end_of_input": "was still in at the end of the input:",
        }.get(reason, reason)
        return self._event(
            inc, "closed", t_s, (self._subject(u, slot),), f"{_describe(u)} {what} {zone.name}", zone, reason
        )

    # -- ticks ------------------------------------------------------------------------

    def _tick(self, T: float) -> list[Event]:
        self._last_tick_t_s = T
        events: list[Event] = []
        events.extend(self._expire(T))
        if self._zone_inc and (self._zone_until < T).any():
            for key, inc in list(self._zone_inc.items()):
                if self._zone_until[key[1]] < T:
                    events.append(self._close_zone(key, inc, T, self._tracks.latest(key[0]), "zone_inactive"))
        events.extend(self._pairs(T))
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
            for z in list(self._zone_open_by_slot.get(slot, ())):
                key = (slot, z)
                events.append(self._close_zone(key, self._zone_inc[key], T, tr.latest(slot), "stale"))
            for key in sorted(self._pairs_by_slot.get(slot, ())):
                inc = self._pair_inc.get(key)
                if inc is not None:
                    events.append(self._close_pair(key, inc, T, "stale"))
        return events

    # -- close approaches ---------------------------------------------------------------

    def _pair_geometry(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
        """Geodesic distance, thresholds and vertical separation for pairs of slots."""
        tr = self._tracks
        _, _, dist = _GEOD.inv(tr.lon_deg[a], tr.lat_deg[a], tr.lon_deg[b], tr.lat_deg[b])
        dist = np.asarray(dist, float)
        thr = self._lat_thr[tr.domain[a], tr.domain[b]]
        air_air = (tr.domain[a] == _AIR) & (tr.domain[b] == _AIR)
        vsep = np.where(air_air, np.abs(tr.alt_m[a] - tr.alt_m[b]), np.nan)
        return dist, thr, vsep

    def _pairs(self, T: float) -> list[Event]:
        tr = self._tracks
        n = tr.n
        live = tr.live[:n]
        nato = np.nonzero(live & (tr.side[:n] == _NATO))[0]
        rus = np.nonzero(live & (tr.side[:n] == _RUSSIA))[0]
        margin = self._s.hysteresis_margin
        vthr = self._s.thresholds.air_air_vertical_m
        cand_a = np.empty(0, np.int64)
        cand_b = np.empty(0, np.int64)
        if nato.size and rus.size:
            r_m = float(self._lat_thr.max()) * (1.0 + margin) * _CANDIDATE_SLACK
            chord = 2.0 * math.sin(min(r_m / (2.0 * _EARTH_RADIUS_M), math.pi / 2))
            tree_n = cKDTree(tr.xyz[nato])
            tree_r = cKDTree(tr.xyz[rus])
            found = tree_n.sparse_distance_matrix(tree_r, chord, output_type="ndarray")
            cand_a = nato[found["i"]]
            cand_b = rus[found["j"]]
        # every open incident is examined, found as a candidate or not
        if self._pair_inc:
            open_keys = np.array(list(self._pair_inc), np.int64).reshape(-1, 2)
            cand_a = np.concatenate((cand_a, open_keys[:, 0]))
            cand_b = np.concatenate((cand_b, open_keys[:, 1]))
        if cand_a.size == 0:
            return []
        key = np.unique(cand_a * (n + 1) + cand_b)
        cand_a, cand_b = key // (n + 1), key % (n + 1)
        dist, thr, vsep = self._pair_geometry(cand_a, cand_b)
        with np.errstate(invalid="ignore"):
            close = (dist < thr) & ~(vsep >= vthr)
            separated = (dist > thr * (1 + margin)) | (vsep > vthr * (1 + margin))
            critical = (dist < thr * self._s.critical_fraction) & ~(vsep >= vthr * self._s.critical_fraction)
        relevant = np.nonzero(close)[0]
        if self._pair_inc:
            is_open = np.fromiter(
                ((a, b) in self._pair_inc for a, b in zip(cand_a.tolist(), cand_b.tolist())), bool, cand_a.size
            )
            relevant = np.nonzero(close | is_open)[0]
        events: list[Event] = []
        dwell = self._s.min_dwell_s
        change = self._s.update_min_change
        for j in relevant.tolist():
            a, b = int(cand_a[j]), int(cand_b[j])
            k = (a, b)
            d = float(dist[j])
            v = float(vsep[j])
            sev: Severity = "critical" if critical[j] else "warning"
            ua, ub = tr.latest(a), tr.latest(b)
            if self._watched_type(ua, ub):
                sev = _raise(sev)
            inc = self._pair_inc.get(k)
            metrics = {"distance_m": d, "threshold_m": float(thr[j])}
            if not math.isnan(v):
                metrics["vertical_sep_m"] = v
                metrics["vertical_threshold_m"] = vthr
            if inc is None:
                if not close[j]:
                    continue
                inc = _Incident(
                    kind="close_approach",
                    event_id=derive_event_id("close_approach", (ua.track_id, ub.track_id), None, T),
                    opened_t_s=T,
                    slots=k,
                    severity=sev,
                    min_distance_m=d,
                    reported_min_m=d,
                )
                inc.metrics = {**metrics, "min_distance_m": d}
                self._pair_inc[k] = inc
                self._pairs_by_slot.setdefault(a, set()).add(k)
                self._pairs_by_slot.setdefault(b, set()).add(k)
                events.append(self._pair_event(inc, "open", T))
                continue
            inc.min_distance_m = min(inc.min_distance_m, d)
            inc.metrics = {**metrics, "min_distance_m": inc.min_distance_m}
            if separated[j]:
                if inc.pending_since_s is None:
                    inc.pending_since_s = T
                if T - inc.pending_since_s >= dwell:
                    events.append(self._close_pair(k, inc, T, "separated"))
                continue
            inc.pending_since_s = None
            if d < inc.reported_min_m * (1.0 - change) or sev != inc.severity:
                inc.severity = sev
                inc.reported_min_m = min(inc.reported_min_m, d)
                events.append(self._pair_event(inc, "update", T))
        return events

    def _pair_event(self, inc: _Incident, state: str, T: float, reason: str | None = None) -> Event:
        a, b = inc.slots
        ua, ub = self._tracks.latest(a), self._tracks.latest(b)
        m = inc.metrics
        if state == "closed":
            why = {"separated": "separated", "stale": "no longer both reporting (stale)"}.get(
                reason or "", f"still open at the {reason}".replace("_", " ")
            )
            summary = f"{_describe(ua)} and {_describe(ub)}: {why}; closest {m['min_distance_m']:.0f} m"
        else:
            summary = (
                f"{_describe(ua)} and {_describe(ub)} {m['distance_m']:.0f} m apart"
                f" (threshold {m['threshold_m']:.0f} m)"
            )
        return self._event(inc, state, T, (self._subject(ua, a), self._subject(ub, b)), summary, None, reason)

    def _close_pair(self, key: tuple[int, int], inc: _Incident, T: float, reason: str) -> Event:
        del self._pair_inc[key]
        for s in key:
            owned = self._pairs_by_slot.get(s)
            if owned is not None:
                owned.discard(key)
                if not owned:
                    del self._pairs_by_slot[s]
        if reason != "separated":
            # refresh the last distance from the latest positions
            dist, thr, vsep = self._pair_geometry(np.array([key[0]]), np.array([key[1]]))
            inc.metrics["distance_m"] = float(dist[0])
            inc.min_distance_m = min(inc.min_distance_m, float(dist[0]))
            inc.metrics["min_distance_m"] = inc.min_distance_m
            if not math.isnan(vsep[0]):
                inc.metrics["vertical_sep_m"] = float(vsep[0])
        return self._pair_event(inc, "closed", T, reason)
