"""``track_integrity``: a track whose data is suspect (implausible kinematics, spoofing).

Anomalies (``integrity_reasons``): ``jump``, ``two_places``, ``stuck``, ``spoofing``,
``impossible_speed`` (a reported speed beyond its domain's), ``impossible_turn`` (a reported
course change faster than its domain turns), ``on_land`` (a ship jumped well inside the land
given to the engine, and still there), ``same_position`` (different identities at one position
at one time). Limits per domain: ``config.settings.ProximitySettings``.

An aircraft on the ground (``proximity.rules``) is never "stuck".

Every report is screened against its track's previous report, vectorised
(``proximity._integrity.screen``): a jump faster than its domain allows, one
identity at two places, a position stuck while the track reports speed. The
flagged reports are checked exactly, in arrival order. At every tick the recent
jump targets are searched for the pattern of GNSS spoofing (many tracks jumping
to one point or onto one circle). A track stays suspect for ``suspect_hold_s``
after its last anomaly; every event whose subject is suspect carries the flag
(``proximity.lifecycle.Lifecycle.subject``). Rules: docs/engine.md.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from pyproj import Geod

from config.records import Severity

from .._integrity import EARTH_RADIUS_M, Screen, previous, screen, spoof_clusters
from .._land import land_index
from ..events import Event
from ..lifecycle import SEVERITIES, CloseReason, Incident
from ..tracks import DOMAIN_CODE, Report, ReportBatch
from .base import Context, Family, FamilySpec

__all__ = ["IntegrityIncident", "IntegrityReason", "TrackIntegrity"]

KIND = "track_integrity"
_GEOD = Geod(ellps="WGS84")
_AIR = DOMAIN_CODE["air"]
_SEA = DOMAIN_CODE["sea"]
# metrics that keep the worst value seen; the others show the latest
_WORST_KEPT = frozenset({"jump_m", "implied_speed_mps", "two_places_m", "stuck_s", "spoof_cluster_tracks",
                         "turn_rate_dps", "same_position_tracks"})
# per-track state of the screens (columns of the track table)
_COLUMNS = ("stuck_since_s", "jump_from_lon_deg", "jump_from_lat_deg", "jump_from_t_s", "on_land_t_s")


class IntegrityReason(CloseReason):
    CLEARED = "cleared", "data no longer suspect"  # no anomaly for suspect_hold_s


@dataclass(slots=True)
class IntegrityIncident(Incident):
    # the anomalies seen: jump, two_places, stuck, spoofing, impossible_speed, impossible_turn,
    # on_land, same_position
    flags: set[str] = field(default_factory=set)


class TrackIntegrity(Family[IntegrityIncident]):
    spec = FamilySpec(KIND, "track", reasons=tuple(IntegrityReason))

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        for name in _COLUMNS:
            self.tracks.add_column(name)
        vmax = {str(d): float(v) for d, v in ctx.settings.max_speed_mps.items()}
        self._max_speed = np.array([vmax.get(d, math.inf) for d in DOMAIN_CODE], dtype=np.float64)
        s = ctx.settings
        turn = {str(d): float(v) for d, v in s.max_turn_rate_dps.items()}
        self._max_turn = np.array([turn.get(d, math.inf) for d in DOMAIN_CODE], dtype=np.float64)
        tmin = {str(d): float(v) for d, v in s.turn_min_speed_mps.items()}
        self._turn_min_speed = np.array([tmin.get(d, math.inf) for d in DOMAIN_CODE], dtype=np.float64)
        self._land = land_index(ctx.land, s.on_land_margin_m) if ctx.land is not None else None
        # between screen and on_reports: per report impossible_speed, impossible_turn (with the
        # course change and dt), on_land
        self._extra: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._jumps: deque[tuple[float, int, float, float]] = deque()  # (t, slot, lon, lat) of recent jumps
        self._screened: Screen | None = None  # between screen and on_reports of one batch
        self._n_flagged = 0

    def stats(self) -> dict[str, int]:
        return {"integrity_flags": self._n_flagged}

    def get_state(self) -> dict[str, Any]:
        jumps = np.array(self._jumps, np.float64).reshape(-1, 4)
        return {"jumps": jumps, "flagged": self._n_flagged}

    def set_state(self, state: dict[str, Any]) -> None:
        jumps = np.asarray(state["jumps"], np.float64).reshape(-1, 4)
        self._jumps = deque((t, int(slot), lon, lat) for t, slot, lon, lat in jumps.tolist())
        self._n_flagged = int(state["flagged"])
        self._screened = None

    def summary(self, inc: IntegrityIncident, who: Sequence[str], zone: str) -> str:
        return f"{who[0]} data suspect: {', '.join(sorted(inc.flags))}"

    # -- reports ------------------------------------------------------------------------------

    def screen(self, batch: ReportBatch) -> None:
        s = self.settings
        self._screened = scr = screen(
            self.tracks,
            batch.slots,
            batch.lon_deg,
            batch.lat_deg,
            batch.t_s,
            batch.speed_mps,
            batch.domain,
            max_speed_mps=self._max_speed,
            jump_tolerance_m=s.jump_tolerance_m,
            stuck_radius_m=s.stuck_radius_m,
            stuck_min_s=s.stuck_min_s,
            stuck_min_speed_mps=s.stuck_min_speed_mps,
        )
        self.tracks.column("stuck_since_s")[batch.last_slots] = scr.stuck_since_s[batch.last]
        # kinematics no airframe, hull or vehicle has (reported speed; reported course change)
        speed, dom = batch.speed_mps, batch.domain
        course = batch.cols["course_deg"]
        prev_course, prev_speed = previous(batch.slots, (self.tracks.course_deg, course), (self.tracks.speed_mps, speed))
        dt = batch.t_s - scr.prev_t_s
        with np.errstate(invalid="ignore"):
            fast = speed > self._max_speed[dom] * (1.0 + s.impossible_speed_tolerance)
            turned = np.abs((course - prev_course + 180.0) % 360.0 - 180.0)
            vmin = self._turn_min_speed[dom]
            turn = (
                (dt >= s.min_turn_dt_s)
                & (speed >= vmin)
                & (prev_speed >= vmin)
                & (turned > self._max_turn[dom] * dt + s.turn_noise_deg)
            )
        on_land = np.zeros(len(batch), bool)
        if self._land is not None:
            sea = np.nonzero(dom == _SEA)[0]
            if sea.size:
                inland = np.zeros(len(batch), bool)
                inland[sea] = self._land.inside(batch.lon_deg[sea], batch.lat_deg[sea])
                on_land = self._on_land(batch, inland, scr.jump)
        self._extra = (fast, turn, turned, dt, on_land)

    def _on_land(self, batch: ReportBatch, inland: np.ndarray, jump: np.ndarray) -> np.ndarray:
        """``on_land``: a ship's report well inland (farther than ``on_land_margin_m``) that got
        there by a jump, or of a ship already put on land that way and still there.

        A ship that moves onto land continuously, or is first seen there, is on a canal or a
        river the coarse outlines do not carve (the Kiel Canal, the Elbe up to Hamburg): not
        flagged. In arrival order, per track (column ``on_land_t_s``: since when it is on land).
        """
        col = self.tracks.column("on_land_t_s")
        out = np.zeros(len(batch), bool)
        if not inland.any() and np.isnan(col[batch.last_slots]).all():
            return out
        # the reports of tracks with an inland report in the batch or already on land, in order
        watched = np.isin(batch.slots, np.union1d(batch.slots[inland], batch.last_slots[~np.isnan(col[batch.last_slots])]))
        since: dict[int, float] = {}
        for i in np.nonzero(watched)[0].tolist():
            slot = int(batch.slots[i])
            if not inland[i]:
                if slot in since or not math.isnan(col[slot]):
                    since[slot] = math.nan
                continue
            was = since.get(slot, float(col[slot]))
            if jump[i] or not math.isnan(was):
                out[i] = True
                since[slot] = float(batch.t_s[i]) if math.isnan(was) else was
        for slot, t in since.items():
            col[slot] = t
        return out

    def on_reports(self, batch: ReportBatch) -> list[tuple[int, Event]]:
        scr, self._screened = self._screened, None
        extra, self._extra = self._extra, None
        assert scr is not None and extra is not None
        # an aircraft on the ground (proximity.rules: on-ground flag, surface position, or low
        # with no speed) is parked or taxiing, not stuck
        scr.stuck &= ~(batch.stationary & (batch.domain == _AIR))
        out: list[tuple[int, Event]] = []
        fast, turn, _, _, on_land = extra
        for i in np.nonzero(scr.jump | scr.stuck | fast | turn | on_land)[0].tolist():
            out.extend((i, e) for e in self._anomaly(batch, i, scr, extra))
        return out

    def _anomaly(
        self, batch: ReportBatch, i: int, scr: Screen, extra: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    ) -> list[Event]:
        """A flagged report: check it exactly, then open or revise the track's integrity incident."""
        s = self.settings
        tr = self.tracks
        slot = int(batch.slots[i])
        u = batch.updates[i]
        found: dict[str, dict[str, float]] = {}
        if scr.jump[i]:
            plon, plat, pt = float(scr.prev_lon_deg[i]), float(scr.prev_lat_deg[i]), float(scr.prev_t_s[i])
            d = float(_GEOD.inv(plon, plat, u.lon_deg, u.lat_deg)[2])
            dt = u.t_s - pt
            vmax = float(self._max_speed[DOMAIN_CODE[u.domain]])
            if d > vmax * dt + s.jump_tolerance_m:
                implied = d / max(dt, 1.0)
                from_lon, from_lat, from_t = (tr.column(c) for c in _COLUMNS[1:4])
                back = False
                if not math.isnan(from_t[slot]):
                    d_back = float(_GEOD.inv(from_lon[slot], from_lat[slot], u.lon_deg, u.lat_deg)[2])
                    back = d_back <= vmax * (u.t_s - float(from_t[slot])) + s.jump_tolerance_m
                if dt < 1.0 or back:
                    found["two_places"] = {"two_places_m": d}
                else:
                    found["jump"] = {"jump_m": d, "implied_speed_mps": implied, "max_speed_mps": vmax}
                from_lon[slot], from_lat[slot], from_t[slot] = plon, plat, pt
                self._jumps.append((u.t_s, slot, u.lon_deg, u.lat_deg))
        if scr.stuck[i]:
            found["stuck"] = {"stuck_s": u.t_s - float(scr.stuck_since_s[i]), "reported_speed_mps": u.speed_mps or 0.0}
        fast, turn, turned, dt, on_land = extra
        dom = DOMAIN_CODE[u.domain]
        if fast[i]:
            found["impossible_speed"] = {"reported_speed_mps": float(batch.speed_mps[i]),
                                         "max_speed_mps": float(self._max_speed[dom])}
        if turn[i]:
            found["impossible_turn"] = {"turn_deg": float(turned[i]), "turn_dt_s": float(dt[i]),
                                        "turn_rate_dps": float(turned[i] / dt[i]),
                                        "max_turn_rate_dps": float(self._max_turn[dom])}
        if on_land[i]:
            since = float(self.tracks.column("on_land_t_s")[slot])
            found["on_land"] = {"on_land_margin_m": s.on_land_margin_m,
                                "on_land_s": max(u.t_s - since, 0.0) if not math.isnan(since) else 0.0}
        if not found:
            return []
        self._n_flagged += 1
        batch.note_suspect(i, float(tr.suspect_until_s[slot]), u.t_s + s.suspect_hold_s)
        tr.suspect_until_s[slot] = u.t_s + s.suspect_hold_s
        return self._flag(slot, u.t_s, found, "warning", batch.report(i, tr))

    def _flag(
        self, slot: int, t_s: float, found: dict[str, dict[str, float]], severity: Severity, report: Report | None
    ) -> list[Event]:
        key = (KIND, slot, -1)
        inc = self.book.get(key)
        fresh = inc is None
        if inc is None:
            inc = self.life.new(IntegrityIncident, key, t_s, severity, {}, slots=(slot,))
        assert isinstance(inc, IntegrityIncident)
        new_flags = set(found) - inc.flags
        for metrics in found.values():
            for k, v in metrics.items():
                inc.metrics[k] = max(inc.metrics.get(k, v), v) if k in _WORST_KEPT else v
        inc.flags |= set(found)
        if SEVERITIES.index(severity) > SEVERITIES.index(inc.severity):
            inc.severity = severity
            new_flags.add("severity")
        if fresh:
            return self.life.open(inc, t_s, report)
        if new_flags:
            return [self.life.revise(inc, t_s, report)]
        return []

    # -- ticks --------------------------------------------------------------------------------

    def on_tick(self, t_s: float) -> list[Event]:
        s = self.settings
        tr = self.tracks
        events: list[Event] = self._same_positions(t_s)
        while self._jumps and self._jumps[0][0] < t_s - s.spoof_window_s:
            self._jumps.popleft()
        if len(self._jumps) >= s.spoof_min_tracks:
            arr = np.array(self._jumps)
            clusters = spoof_clusters(
                arr[:, 1].astype(np.int64),
                arr[:, 2],
                arr[:, 3],
                min_tracks=s.spoof_min_tracks,
                link_m=s.spoof_link_m,
                point_radius_m=s.spoof_point_radius_m,
                circle_tolerance_m=s.spoof_circle_tolerance_m,
            )
            for c in clusters:
                found = {
                    "spoofing": {
                        "spoof_cluster_tracks": float(len(c.slots)),
                        "spoof_radius_m": c.radius_m,
                        "spoof_centre_lon_deg": c.centre_lon_deg,
                        "spoof_centre_lat_deg": c.centre_lat_deg,
                    }
                }
                for slot in c.slots:
                    if not tr.live[slot]:
                        continue
                    tr.suspect_until_s[slot] = max(tr.suspect_until_s[slot], t_s + s.suspect_hold_s)
                    events.extend(self._flag(slot, t_s, found, "critical", None))
        for key in self.book.of_kind(KIND):
            if tr.suspect_until_s[key[1]] < t_s:
                events.append(self.life.close(key, t_s, IntegrityReason.CLEARED))
        return events

    def _same_positions(self, t_s: float) -> list[Event]:
        """``same_position``: live ships (or aircraft) of different identities within
        ``same_position_m`` of each other, their latest reports at most ``same_position_dt_s``
        apart (an aircraft on the ground is left out: parked aircraft are no anomaly; land units
        may share the position of their post). A sweep in latitude order finds the candidates."""
        s = self.settings
        tr = self.tracks
        n = tr.n
        recent_from = t_s - s.same_position_dt_s - s.pair_interval_s
        with np.errstate(invalid="ignore"):
            cand = tr.live[:n] & (tr.t_s[:n] >= recent_from)
        dom = tr.domain[:n]
        cand &= ((dom == _SEA) | (dom == _AIR)) & ~(tr.column("stationary")[:n] & (dom == _AIR))
        slots = np.nonzero(cand)[0]
        if slots.size < 2:
            return []
        radius = 2.0 * math.sin(max(s.same_position_m, 1e-3) / (2.0 * EARTH_RADIUS_M))
        # candidates: neighbours in latitude order within the radius in latitude (a sweep; far
        # cheaper than a tree for points that almost never coincide), then the chord exactly
        lat = tr.lat_deg[slots]
        order = np.argsort(lat, kind="stable")
        lat_s = lat[order]
        tol_deg = math.degrees(radius) * 1.01
        cand_a, cand_b = [], []
        shift = 1
        while shift < order.size:
            near = np.nonzero(lat_s[shift:] - lat_s[:-shift] <= tol_deg)[0]
            if not near.size:
                break
            cand_a.append(order[near])
            cand_b.append(order[near + shift])
            shift += 1
        if not cand_a:
            return []
        ia, ib = np.concatenate(cand_a), np.concatenate(cand_b)
        xyz = tr.xyz[slots]
        close = np.linalg.norm(xyz[ia] - xyz[ib], axis=1) <= radius
        a, b = slots[ia[close]], slots[ib[close]]
        # of one domain (an aircraft may pass right over a ship), reported at about the same time
        near_t = (np.abs(tr.t_s[a] - tr.t_s[b]) <= s.same_position_dt_s) & (tr.domain[a] == tr.domain[b])
        a, b = a[near_t], b[near_t]
        if not a.size:
            return []
        partners: dict[int, set[int]] = {}
        for x, y in zip(a.tolist(), b.tolist()):
            partners.setdefault(x, set()).add(y)
            partners.setdefault(y, set()).add(x)
        events: list[Event] = []
        for slot in sorted(partners):
            found = {"same_position": {"same_position_tracks": float(len(partners[slot]) + 1)}}
            tr.suspect_until_s[slot] = max(tr.suspect_until_s[slot], t_s + s.suspect_hold_s)
            events.extend(self._flag(slot, t_s, found, "warning", None))
        return events
