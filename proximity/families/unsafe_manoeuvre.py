"""``unsafe_manoeuvre_at_sea``: a ship turning into an unsafe closest point of approach to a warship of the other side.

The INCSEA agreements (1972 US-USSR, art. III: ships "shall remain well clear
to avoid risk of collision", shall not manoeuvre so as to "embarrass or
endanger" the ships of the other party, and follow the COLREGs) make the
manoeuvre the signal, not the distance alone: two ships meeting on steady
courses 300 m apart are a close approach, a ship that turns across a warship's
bow so that a safe passage becomes an unsafe one is this kind.

At every tick, for each pair of a ship of one side under way (faster than
``sea_min_speed_mps``) and a warship (category ``military``) of the other within
reach (a KD-tree: the CPA limit plus what both can cover in ``sea_horizon_s``),
both are brought to the tick (``align_max_age_s``) and their CPA within
``sea_horizon_s`` is computed on the ellipsoid (``proximity.cpa.closest_approach``).
When it is under ``sea_cpa_m`` (370 m, 2 cables) the family looks back: every
``sea_history_step_s`` (30 s) it remembered each ship's last report, and the CPA
predicted then (both ships dead-reckoned to that instant on their courses and
speeds of the time) tells whether the encounter was safe (at least
``sea_safe_cpa_m``, 740 m). It opens when one was within ``sea_turn_window_s``
(300 s) and one of the two ships has turned by at least ``sea_min_turn_deg`` (15°)
since: that ship manoeuvred (when both turned, the one whose old course, kept,
gives the larger CPA now). The other must be a warship.

It follows the encounter: ``gave_way`` records which ship then turned (or
changed speed by a quarter) opening the CPA; it closes once the CPA is above
``sea_cpa_m`` times ``1 + hysteresis_margin`` for ``min_dwell_s``: ``cleared`` when
the closest point was still ahead (a ship gave way), ``passed`` when it was behind.

Metrics: ``cpa_m``, ``tcpa_s``, ``distance_m`` (now), ``min_distance_m`` (the smallest
separation at a tick since it opened), ``cpa_before_m`` (the last safe CPA before
the manoeuvre) and ``cpa_before_t_s`` (when it was predicted), ``cpa_after_m`` (the
CPA when it opened), ``turn_deg`` (the manoeuvring ship's course change, positive
to starboard), ``speed_change_mps``, ``gave_way`` (0 neither yet, 1 the manoeuvring
ship, 2 the warship, 3 both), ``threshold_m``. Subjects: the manoeuvring ship, then
the warship. Severity ``warning``; ``critical`` with a CPA under
``critical_fraction`` of the limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.spatial import cKDTree

from config.records import Severity

from ..cpa import closest_approach, dead_reckon, planar_tcpa
from ..events import Event
from ..lifecycle import CloseReason, raise_severity
from ..tracks import CATEGORY_CODE, DOMAIN_CODE, SIDE_CODE
from ._pairs import GEOD, PairFamily, PairIncident
from .base import Context, FamilySpec
from .close_approach import _chord
from .shadowing import _angle_diff

__all__ = ["KIND", "ManoeuvreIncident", "ManoeuvreReason", "UnsafeManoeuvre"]

KIND = "unsafe_manoeuvre_at_sea"
_SEA = DOMAIN_CODE["sea"]
_NATO, _RUSSIA = SIDE_CODE["nato"], SIDE_CODE["russia"]
_MIL = CATEGORY_CODE["military"]
# the history of a ship: the tick it was taken at, then its last report's time, lon, lat, course, speed
_TICK, _T, _LON, _LAT, _CRS, _SPD = range(6)
# a change of speed by this fraction is a manoeuvre when judging who gave way
_SPEED_CHANGE = 0.25
GAVE_WAY_MANOEUVRING, GAVE_WAY_WARSHIP = 1, 2
# the plane screen keeps pairs whose planar CPA is within this times the limit plus this many metres
_SCREEN, _SCREEN_M = 2.0, 1_000.0


class ManoeuvreReason(CloseReason):
    CLEARED = "cleared", "cleared (CPA safe again before the closest point)"
    PASSED = "passed", "passed"  # the closest point is behind them and they are apart


@dataclass(slots=True)
class ManoeuvreIncident(PairIncident):
    cpa_before_m: float = math.nan
    cpa_before_t_s: float = math.nan
    cpa_after_m: float = math.nan
    turn_deg: float = math.nan
    speed_change_mps: float = math.nan
    # course and speed of the manoeuvring ship and the warship when it opened
    course_m_deg: float = math.nan
    speed_m_mps: float = math.nan
    course_w_deg: float = math.nan
    speed_w_mps: float = math.nan
    gave_way: int = 0
    min_distance_m: float = math.inf


def _signed_turn(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """new - old in (-180, 180]: positive to starboard (clockwise)."""
    return -((old - new + 180.0) % 360.0 - 180.0)  # type: ignore[no-any-return]


class UnsafeManoeuvre(PairFamily):
    spec = FamilySpec(KIND, "pair", reasons=tuple(ManoeuvreReason))

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        cs = ctx.settings.incsea
        self.cs = cs
        self._depth = int(math.ceil(cs.sea_turn_window_s / cs.sea_history_step_s)) + 1
        self._hist = np.full((0, self._depth, 6), np.nan)
        self._next_snap_s = -math.inf
        # a slot's history belongs to the track holding it since it was first written (cleared when
        # the table forgets the track: the column goes back to False)
        self.tracks.add_column("incsea_hist", np.bool_, False)

    def get_state(self) -> dict[str, Any]:
        n = self.tracks.n
        return {"hist": self._hist[:n].reshape(-1, 6).copy(), "next_snap_s": self._next_snap_s}

    def set_state(self, state: dict[str, Any]) -> None:
        self._hist = np.asarray(state["hist"], float).reshape(-1, self._depth, 6).copy()
        self._next_snap_s = float(state["next_snap_s"])

    # -- what its events say ---------------------------------------------------------------

    def summary(self, inc: PairIncident, who: Sequence[str], zone: str) -> str:
        assert isinstance(inc, ManoeuvreIncident)
        m = inc.metrics
        turn = m["turn_deg"]
        side = "starboard" if turn >= 0 else "port"
        text = (f"{who[0]} turned {abs(turn):.0f} deg to {side}: CPA to {who[1]} {m['cpa_before_m']:.0f} m -> "
                f"{m['cpa_after_m']:.0f} m, now {m['cpa_m']:.0f} m in {m['tcpa_s']:.0f} s")
        gave = {0: "", 1: f"; {who[0]} gave way", 2: f"; {who[1]} gave way", 3: "; both gave way"}[inc.gave_way]
        return text + gave

    # -- history -----------------------------------------------------------------------------

    def _remember(self, T: float, any_warship: bool) -> None:
        """Every ``sea_history_step_s``: each live ship's last report, at a ring index of the tick (only
        while a warship is live: without one no pair can have a history)."""
        tr = self.tracks
        n = tr.n
        if self._hist.shape[0] < n:
            grown = np.full((max(n, 2 * self._hist.shape[0]), self._depth, 6), np.nan)
            grown[: self._hist.shape[0]] = self._hist
            self._hist = grown
        if T < self._next_snap_s or not any_warship:
            return
        step = self.cs.sea_history_step_s
        self._next_snap_s = (math.floor(T / step) + 1) * step
        ships = np.nonzero(tr.live[:n] & (tr.domain[:n] == _SEA) & ((tr.side[:n] == _NATO) | (tr.side[:n] == _RUSSIA)))[0]
        known = tr.column("incsea_hist")
        fresh = ships[~known[ships]]
        self._hist[fresh] = np.nan  # a new track in a reused slot starts with no history
        known[ships] = True
        r = int(math.floor(T / step)) % self._depth
        h = self._hist
        h[ships, r, _TICK] = T
        h[ships, r, _T] = tr.t_s[ships]
        h[ships, r, _LON] = tr.lon_deg[ships]
        h[ships, r, _LAT] = tr.lat_deg[ships]
        h[ships, r, _CRS] = tr.course_deg[ships]
        h[ships, r, _SPD] = tr.speed_mps[ships]

    # -- the work --------------------------------------------------------------------------

    def _cpa(self, a: np.ndarray, b: np.ndarray, T: float, is_open: np.ndarray) -> tuple[np.ndarray, ...]:
        """Both tracks at the tick; their CPA within the horizon (inf where a plane screen shows it far
        above the limit and the pair has no open incident), distance, courses and speeds."""
        tr = self.tracks
        pa, pb = self.aligned(a, T), self.aligned(b, T)
        va, vb = np.nan_to_num(tr.speed_mps[a]), np.nan_to_num(tr.speed_mps[b])
        ca, cb = np.nan_to_num(pa.course_deg), np.nan_to_num(pb.course_deg)
        az12, az21, d = (np.asarray(x, float) for x in GEOD.inv(pa.lon_deg, pa.lat_deg, pb.lon_deg, pb.lat_deg))
        # the plane at the first track: within a few per cent of the ellipsoid over the reach (tens of km)
        t, r, vrel = planar_tcpa(az12, az21, d, ca, va, cb, vb)
        t = np.clip(t, 0.0, self.cs.sea_horizon_s)
        near = is_open | (np.hypot(*(r + vrel * t)) <= self.cs.sea_cpa_m * _SCREEN + _SCREEN_M)
        cpa_m, tcpa = np.full(a.size, np.inf), np.zeros(a.size)
        k = np.nonzero(near)[0]
        if k.size:
            cpa = closest_approach(pa.lon_deg[k], pa.lat_deg[k], ca[k], va[k], pb.lon_deg[k], pb.lat_deg[k], cb[k], vb[k],
                                   self.cs.sea_horizon_s)
            cpa_m[k], tcpa[k] = cpa.cpa_m, cpa.tcpa_s
        return cpa_m, tcpa, d, ca, va, cb, vb

    def on_tick(self, t_s: float) -> list[Event]:
        T = t_s
        tr = self.tracks
        n = tr.n
        s, cs = self.settings, self.cs
        live, dom, side, cat = tr.live[:n], tr.domain[:n], tr.side[:n], tr.category[:n]
        sided = (side == _NATO) | (side == _RUSSIA)
        warships = np.nonzero(live & sided & (dom == _SEA) & (cat == _MIL))[0]
        self._remember(T, warships.size > 0)
        cand_a = np.empty(0, np.int64)
        cand_b = np.empty(0, np.int64)
        if warships.size:
            speed = np.nan_to_num(tr.speed_mps[:n])
            ships = np.nonzero(live & sided & (dom == _SEA) & (speed >= cs.sea_min_speed_mps))[0]
            if ships.size:
                reach = cs.sea_cpa_m * (1.0 + s.hysteresis_margin) + (
                    float(speed[ships].max()) + float(speed[warships].max())) * (cs.sea_horizon_s + s.align_max_age_s)
                found = cKDTree(tr.xyz[ships]).sparse_distance_matrix(
                    cKDTree(tr.xyz[warships]), _chord(reach), output_type="ndarray")
                ia, ib = ships[found["i"]], warships[found["j"]]
                keep = tr.side[ia] != tr.side[ib]
                # each pair once, as (NATO, Russian)
                ia, ib = ia[keep], ib[keep]
                nato_first = tr.side[ia] == _NATO
                cand_a, cand_b = np.where(nato_first, ia, ib), np.where(nato_first, ib, ia)
        cand_a, cand_b = self.with_open(cand_a, cand_b)
        if cand_a.size == 0:
            return []
        m = tr.n + 1
        open_keys = np.array([k[1] * m + k[2] for k in self.book.of_kind(KIND)], np.int64)
        is_open = np.isin(cand_a * m + cand_b, open_keys)
        cpa_m, tcpa, dist, ca, va, cb, vb = self._cpa(cand_a, cand_b, T, is_open)
        events: list[Event] = []
        fresh = np.nonzero((cpa_m < cs.sea_cpa_m) & ~is_open)[0]
        if fresh.size:
            events.extend(self._open_new(fresh, cand_a, cand_b, T, cpa_m, tcpa, dist, ca, va, cb, vb))
        for j in np.nonzero(is_open)[0].tolist():
            inc = self.book.get((KIND, int(cand_a[j]), int(cand_b[j])))
            if inc is None:
                continue
            assert isinstance(inc, ManoeuvreIncident)
            ev = self._follow(inc, T, float(cpa_m[j]), float(tcpa[j]), float(dist[j]))
            if ev is not None:
                events.append(ev)
        return events

    def _before(self, a: np.ndarray, b: np.ndarray, T: float) -> tuple[np.ndarray, np.ndarray]:
        """For pairs (a[i], b[i]): the CPA predicted at each remembered tick within the window (NaN
        where not both ships were remembered then), and those ticks; shape (pairs, depth)."""
        ha, hb = self._hist[a], self._hist[b]
        tick = ha[:, :, _TICK]
        ok = (tick == hb[:, :, _TICK]) & (tick >= T - self.cs.sea_turn_window_s) & (tick < T)
        ok &= ~np.isnan(ha[:, :, _SPD]) & ~np.isnan(hb[:, :, _SPD])
        out = np.full(tick.shape, np.nan)
        i, k = np.nonzero(ok)
        if i.size:
            def at_tick(h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
                rows = h[i, k]
                crs = np.nan_to_num(rows[:, _CRS])
                lon, lat, crs = dead_reckon(rows[:, _LON], rows[:, _LAT], crs, rows[:, _SPD], rows[:, _TICK] - rows[:, _T])
                return lon, lat, crs, rows[:, _SPD]

            la, pa, cra, sa = at_tick(ha)
            lb, pb, crb, sb = at_tick(hb)
            out[i, k] = closest_approach(la, pa, cra, sa, lb, pb, crb, sb, self.cs.sea_horizon_s).cpa_m
        return out, tick

    def _open_new(
        self, js: np.ndarray, cand_a: np.ndarray, cand_b: np.ndarray, T: float, cpa_m: np.ndarray,
        tcpa: np.ndarray, dist: np.ndarray, ca: np.ndarray, va: np.ndarray, cb: np.ndarray, vb: np.ndarray,
    ) -> list[Event]:
        cs = self.cs
        tr = self.tracks
        a, b = cand_a[js], cand_b[js]
        before, ticks = self._before(a, b, T)
        events: list[Event] = []
        for q, j in enumerate(js.tolist()):
            safe = np.nonzero(before[q] >= cs.sea_safe_cpa_m)[0]
            if safe.size == 0:
                continue
            k = int(safe[np.argmax(ticks[q, safe])])  # the last safe prediction
            old_a, old_b = self._hist[a[q], k], self._hist[b[q], k]
            turn_a = float(_signed_turn(ca[j], np.nan_to_num(old_a[_CRS])))
            turn_b = float(_signed_turn(cb[j], np.nan_to_num(old_b[_CRS])))
            turned_a, turned_b = abs(turn_a) >= cs.sea_min_turn_deg, abs(turn_b) >= cs.sea_min_turn_deg
            if not (turned_a or turned_b):
                continue
            if turned_a and turned_b:
                # the one whose old course, kept, would give the larger CPA now
                keep_a = self._cpa_kept(a[q], b[q], T, float(old_a[_CRS]), float(old_a[_SPD]), True)
                keep_b = self._cpa_kept(a[q], b[q], T, float(old_b[_CRS]), float(old_b[_SPD]), False)
                turned_a = keep_a >= keep_b
            m_slot, w_slot = (int(a[q]), int(b[q])) if turned_a else (int(b[q]), int(a[q]))
            if tr.category[w_slot] != _MIL:
                continue  # the other is no warship
            turn, old = (turn_a, old_a) if turned_a else (turn_b, old_b)
            cm, vm, cw, vw = (ca[j], va[j], cb[j], vb[j]) if turned_a else (cb[j], vb[j], ca[j], va[j])
            key = (KIND, int(cand_a[j]), int(cand_b[j]))
            inc = self.life.new(ManoeuvreIncident, key, T, "warning", {}, slots=(m_slot, w_slot))
            assert isinstance(inc, ManoeuvreIncident)
            inc.cpa_before_m, inc.cpa_before_t_s = float(before[q, k]), float(ticks[q, k])
            inc.cpa_after_m = inc.min_m = inc.reported_min_m = float(cpa_m[j])
            inc.turn_deg, inc.speed_change_mps = turn, float(vm - np.nan_to_num(old[_SPD]))
            inc.course_m_deg, inc.speed_m_mps, inc.course_w_deg, inc.speed_w_mps = float(cm), float(vm), float(cw), float(vw)
            inc.min_distance_m = float(dist[j])
            inc.metrics = self._metrics(inc, float(cpa_m[j]), float(tcpa[j]), float(dist[j]), T)
            inc.severity = self._severity(inc, float(cpa_m[j]))
            events.extend(self.life.open(inc, T))
        return events

    def _cpa_kept(self, a: int, b: int, T: float, course: float, speed: float, on_a: bool) -> float:
        """The CPA now had track a (``on_a``) or b kept ``course`` and ``speed``."""
        tr = self.tracks
        pa, pb = self.aligned(np.array([a]), T), self.aligned(np.array([b]), T)
        ca, cb = np.nan_to_num(pa.course_deg), np.nan_to_num(pb.course_deg)
        va, vb = np.nan_to_num(tr.speed_mps[[a]]), np.nan_to_num(tr.speed_mps[[b]])
        if on_a:
            ca, va = np.array([course]), np.array([speed])
        else:
            cb, vb = np.array([course]), np.array([speed])
        return float(closest_approach(pa.lon_deg, pa.lat_deg, ca, va, pb.lon_deg, pb.lat_deg, cb, vb,
                                      self.cs.sea_horizon_s).cpa_m[0])

    def _severity(self, inc: ManoeuvreIncident, cpa_m: float) -> Severity:
        sev: Severity = "critical" if min(cpa_m, inc.min_m) < self.cs.sea_cpa_m * self.settings.critical_fraction \
            else "warning"
        return raise_severity(sev) if self.life.watched(inc.slots) else sev

    def _metrics(self, inc: ManoeuvreIncident, cpa_m: float, tcpa: float, dist: float, T: float) -> dict[str, float]:
        return {
            "cpa_m": cpa_m,
            "tcpa_s": tcpa,
            "distance_m": dist,
            "min_distance_m": inc.min_distance_m,
            "cpa_before_m": inc.cpa_before_m,
            "cpa_before_t_s": inc.cpa_before_t_s,
            "cpa_after_m": inc.cpa_after_m,
            "turn_deg": inc.turn_deg,
            "speed_change_mps": inc.speed_change_mps,
            "gave_way": float(inc.gave_way),
            "threshold_m": self.cs.sea_cpa_m,
        }

    def _follow(self, inc: ManoeuvreIncident, T: float, cpa_m: float, tcpa: float, dist: float) -> Event | None:
        s, cs = self.settings, self.cs
        tr = self.tracks
        m_slot, w_slot = inc.slots
        inc.min_distance_m = min(inc.min_distance_m, dist)
        # who gave way: turned, or changed speed by a quarter, since it opened, and the CPA opened up
        gave = inc.gave_way
        if cpa_m > inc.cpa_after_m and tcpa > 0.0:  # before the closest point: the CPA opened up
            for bit, slot, crs0, v0 in ((GAVE_WAY_MANOEUVRING, m_slot, inc.course_m_deg, inc.speed_m_mps),
                                        (GAVE_WAY_WARSHIP, w_slot, inc.course_w_deg, inc.speed_w_mps)):
                crs, v = float(np.nan_to_num(tr.course_deg[slot])), float(np.nan_to_num(tr.speed_mps[slot]))
                if float(_angle_diff(np.array(crs), np.array(crs0))) >= cs.sea_min_turn_deg or \
                        abs(v - v0) >= _SPEED_CHANGE * max(v, v0, 1e-9):
                    gave |= bit
        changed = gave != inc.gave_way
        inc.gave_way = gave
        inc.metrics = self._metrics(inc, cpa_m, tcpa, dist, T)
        if cpa_m > cs.sea_cpa_m * (1.0 + s.hysteresis_margin):
            if inc.dwelt(T, s.min_dwell_s):
                reason = ManoeuvreReason.CLEARED if tcpa > 0.0 else ManoeuvreReason.PASSED
                return self.life.close(inc.key, T, reason)
            return self.life.revise(inc, T) if changed else None
        inc.settle()
        sev = self._severity(inc, cpa_m)
        if changed or sev != inc.severity or cpa_m < inc.reported_min_m * (1.0 - s.update_min_change):
            inc.min_m = min(inc.min_m, cpa_m)
            inc.reported_min_m = min(inc.reported_min_m, cpa_m)
            inc.severity = sev
            return self.life.revise(inc, T)
        inc.min_m = min(inc.min_m, cpa_m)
        return None
