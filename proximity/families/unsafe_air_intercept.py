"""``unsafe_air_intercept_of_ship``: a military aircraft passing low and close over a ship of the other side.

The INCSEA agreements (1972 US-USSR Agreement on the Prevention of Incidents On
and Over the High Seas, art. IV; the 1986 UK-USSR agreement and its successors)
forbid the aircraft of one party to simulate attacks on the ships of the other
or to perform aerobatics over them. What a feed shows of that is the pass
itself: a military aircraft of one side within ``air_slant_range_m`` (1 NM) slant
range of a warship or state ship of the other, below ``air_max_height_m`` (300 m).

At every tick every eligible pair (an aircraft of category ``military``, a ship
of category ``military`` or ``state``, of opposing sides; candidates from a
KD-tree on unit-sphere vectors) is measured with both tracks brought to the
tick (``align_max_age_s``, as close approaches) and its smallest slant range
over the interval since the previous tick is found exactly: each track moves as
at the tick (along the geodesic of its last report, climbing at its vertical
rate), the slant range ``hypot(geodesic distance, aircraft altitude)`` is
sampled over the interval and the best sample refined by golden-section search
to a microsecond. An aircraft of unknown altitude is never judged low.

A *pass* starts when the aircraft comes into the envelope (slant range and
height within the limits, at a tick or between two) after it was outside it
beyond the hysteresis margin; the incident counts the passes and closes
(``clear``) once the aircraft has stayed outside for ``air_part_s`` (600 s):
an aircraft circling back for another run stays in one incident.

Metrics: at the event time ``distance_m`` (horizontal), ``slant_range_m``,
``height_m``; of the closest pass ``min_slant_range_m``, ``min_t_s``,
``horizontal_at_min_m``, ``height_at_min_m`` and ``pass_bearing_deg`` (the bearing,
relative to the ship's course, clockwise, from which the aircraft came: 0 head-on,
90 from starboard, 180 from astern); ``passes``; ``attack_aspect`` (1 when a pass
came within ``attack_sector_deg`` of the bow or of a beam: the profile of a
simulated attack, severity ``critical``; else ``warning``); ``max_height_m``,
``slant_limit_m``. Subjects: the aircraft, then the ship.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.spatial import cKDTree

from config.records import Severity

from ..events import Event
from ..lifecycle import CloseReason, raise_severity
from ..tracks import CATEGORY_CODE, DOMAIN_CODE, SIDE_CODE
from ._pairs import GEOD, PairFamily, PairIncident
from .base import Context, FamilySpec
from .close_approach import _chord

__all__ = ["KIND", "AirInterceptIncident", "IncseaReason", "UnsafeAirIntercept", "pass_bearing_deg"]

KIND = "unsafe_air_intercept_of_ship"
_AIR, _SEA = DOMAIN_CODE["air"], DOMAIN_CODE["sea"]
_NATO, _RUSSIA = SIDE_CODE["nato"], SIDE_CODE["russia"]
_MIL, _STATE = CATEGORY_CODE["military"], CATEGORY_CODE["state"]
# samples of the interval between two ticks, then golden-section steps on the best bracket
_SAMPLES = 6
_GOLDEN_STEPS = 32
_INV_PHI = (math.sqrt(5.0) - 1.0) / 2.0


class IncseaReason(CloseReason):
    CLEAR = "clear", "clear of the ship"  # out of the envelope (and its margin) for air_part_s


@dataclass(slots=True)
class AirInterceptIncident(PairIncident):
    min_t_s: float = math.nan  # when the slant range was min_m
    height_at_min_m: float = math.nan
    horizontal_at_min_m: float = math.nan
    bearing_at_min_deg: float = math.nan
    passes: int = 0
    inside: bool = False  # in the envelope (within its margin) since the last pass started
    attack: bool = False  # a pass came head-on or on a beam


def pass_bearing_deg(aircraft_course_deg: np.ndarray, ship_course_deg: np.ndarray) -> np.ndarray:
    """The bearing relative to the ship's course (clockwise, [0, 360)) from which an aircraft on
    ``aircraft_course_deg`` comes: 0 head-on (from ahead), 90 from starboard, 180 from astern."""
    return np.mod(np.asarray(aircraft_course_deg) + 180.0 - np.asarray(ship_course_deg), 360.0)  # type: ignore[no-any-return]


def _attack_aspect(bearing_deg: float, sector_deg: float) -> bool:
    """A pass from within ``sector_deg`` of the bow or of either beam."""
    if math.isnan(bearing_deg):
        return False
    return any(abs((bearing_deg - axis + 180.0) % 360.0 - 180.0) <= sector_deg for axis in (0.0, 90.0, 270.0))


class UnsafeAirIntercept(PairFamily):
    spec = FamilySpec(KIND, "pair", reasons=tuple(IncseaReason))

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.inc_settings = ctx.settings.incsea
        self._last_tick_s = math.nan  # the previous tick: where the next interval starts

    def get_state(self) -> dict[str, Any]:
        return {"last_tick_s": self._last_tick_s}

    def set_state(self, state: dict[str, Any]) -> None:
        self._last_tick_s = float(state["last_tick_s"])

    # -- what its events say ---------------------------------------------------------------

    def summary(self, inc: PairIncident, who: Sequence[str], zone: str) -> str:
        m = inc.metrics
        passes = int(m["passes"])
        bearing = f", from {m['pass_bearing_deg']:.0f} deg off the bow" if "pass_bearing_deg" in m else ""
        return (f"{who[0]} low pass over {who[1]}: closest {m['min_slant_range_m']:.0f} m slant at "
                f"{m['height_at_min_m']:.0f} m height{bearing}; {passes} pass{'es' if passes != 1 else ''}")

    # -- the work --------------------------------------------------------------------------

    def _eligible(self) -> tuple[np.ndarray, np.ndarray]:
        """Live military aircraft and live warships or state ships (of NATO or Russia)."""
        tr = self.tracks
        n = tr.n
        live, cat, dom, side = tr.live[:n], tr.category[:n], tr.domain[:n], tr.side[:n]
        sided = (side == _NATO) | (side == _RUSSIA)
        air = np.nonzero(live & sided & (dom == _AIR) & (cat == _MIL))[0]
        ships = np.nonzero(live & sided & (dom == _SEA) & ((cat == _MIL) | (cat == _STATE)))[0]
        return air, ships

    def _slant(self, a: np.ndarray, b: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
        """Slant range, horizontal distance, aircraft height and both courses of pairs at times ``t``."""
        pa, pb = self.tracks.aligned(a, t, self._max_age_s), self.tracks.aligned(b, t, self._max_age_s)
        _, _, d = GEOD.inv(pa.lon_deg, pa.lat_deg, pb.lon_deg, pb.lat_deg)
        d = np.asarray(d, float)
        return np.hypot(d, pa.alt_m), d, pa.alt_m, pa.course_deg, pb.course_deg

    def _lowest(self, a: np.ndarray, b: np.ndarray, t0: float, T: float) -> tuple[np.ndarray, ...]:
        """The smallest slant range of each pair over [t0, T] and where (see the module docstring)."""
        n = a.size
        grid = np.linspace(t0, T, _SAMPLES)
        vals = np.stack([self._slant(a, b, np.full(n, t))[0] for t in grid], axis=1)
        vals = np.where(np.isnan(vals), np.inf, vals)
        k = np.argmin(vals, axis=1)
        lo, hi = grid[np.maximum(k - 1, 0)], grid[np.minimum(k + 1, _SAMPLES - 1)]
        x1, x2 = hi - _INV_PHI * (hi - lo), lo + _INV_PHI * (hi - lo)
        f1, f2 = self._slant(a, b, x1)[0], self._slant(a, b, x2)[0]
        for _ in range(_GOLDEN_STEPS):
            left = np.nan_to_num(f1, nan=np.inf) <= np.nan_to_num(f2, nan=np.inf)
            hi = np.where(left, x2, hi)
            lo = np.where(left, lo, x1)
            x2n = np.where(left, x1, lo + _INV_PHI * (hi - lo))
            x1n = np.where(left, hi - _INV_PHI * (hi - lo), x2)
            x1, x2 = x1n, x2n
            fnew = self._slant(a, b, np.where(left, x1, x2))[0]
            f1, f2 = np.where(left, fnew, f2), np.where(left, f1, fnew)
        t_best = (lo + hi) / 2.0
        sampled = grid[k]
        out = self._slant(a, b, t_best)
        at_sample = self._slant(a, b, sampled)
        better = np.nan_to_num(at_sample[0], nan=np.inf) < np.nan_to_num(out[0], nan=np.inf)
        t_best = np.where(better, sampled, t_best)
        return (t_best, *(np.where(better, s, o) for s, o in zip(at_sample, out)))

    def on_tick(self, t_s: float) -> list[Event]:
        T = t_s
        s = self.settings
        cs = self.inc_settings
        prev = self._last_tick_s
        t0 = prev if not math.isnan(prev) and prev < T else T - s.pair_interval_s
        self._last_tick_s = T
        tr = self.tracks
        margin = 1.0 + s.hysteresis_margin
        air, ships = self._eligible()
        cand_a = np.empty(0, np.int64)
        cand_b = np.empty(0, np.int64)
        if air.size and ships.size:
            speed = np.nan_to_num(tr.speed_mps)
            reach_s = min(T - t0, s.pair_interval_s + s.align_max_age_s) + s.align_max_age_s
            reach_m = (float(speed[air].max()) + float(speed[ships].max())) * reach_s
            chord = _chord(cs.air_slant_range_m * margin + reach_m)
            found = cKDTree(tr.xyz[air]).sparse_distance_matrix(cKDTree(tr.xyz[ships]), chord, output_type="ndarray")
            ia, ib = air[found["i"]], ships[found["j"]]
            keep = tr.side[ia] != tr.side[ib]
            cand_a, cand_b = ia[keep], ib[keep]
        # open incidents: slots are (aircraft, ship)
        open_inc = [inc for k in self.book.of_kind(KIND) if (inc := self.book.get(k)) is not None]
        if open_inc:
            cand_a = np.concatenate((cand_a, np.array([i.slots[0] for i in open_inc], np.int64)))
            cand_b = np.concatenate((cand_b, np.array([i.slots[1] for i in open_inc], np.int64)))
        if cand_a.size == 0:
            return []
        m = tr.n + 1
        key = np.unique(cand_a * m + cand_b)
        cand_a, cand_b = key // m, key % m
        R, H = cs.air_slant_range_m, cs.air_max_height_m
        slant_T, dist_T, h_T, _, _ = self._slant(cand_a, cand_b, np.full(cand_a.size, T))
        # a screen before the exact minimum: an aircraft that cannot have been low enough, or a pair that
        # cannot have been close enough, since the previous tick (open incidents are always measured)
        span = T - t0 + s.align_max_age_s
        climb = np.nan_to_num(np.abs(tr.vrate_mps[cand_a])) * span
        closing = (np.nan_to_num(tr.speed_mps[cand_a]) + np.nan_to_num(tr.speed_mps[cand_b])) * span
        with np.errstate(invalid="ignore"):
            maybe = (h_T - climb <= H * margin) & (dist_T - closing <= R * margin)
        is_open = np.isin(cand_a * m + cand_b, np.array([i.slots[0] * m + i.slots[1] for i in open_inc], np.int64))
        keep = maybe | is_open
        if not keep.any():
            return []
        cand_a, cand_b = cand_a[keep], cand_b[keep]
        slant_T, dist_T, h_T = slant_T[keep], dist_T[keep], h_T[keep]
        t_min, slant_min, dist_min, h_min, crs_a, crs_b = self._lowest(cand_a, cand_b, t0, T)
        with np.errstate(invalid="ignore"):
            in_T = (slant_T <= R) & (h_T <= H)
            in_min = (slant_min <= R) & (h_min <= H)
            out_T = ~((slant_T <= R * margin) & (h_T <= H * margin))
        bearing = pass_bearing_deg(crs_a, crs_b)
        events: list[Event] = []
        for j in range(cand_a.size):
            a, b = int(cand_a[j]), int(cand_b[j])
            nato, rus = (a, b) if tr.side[a] == _NATO else (b, a)
            k = (KIND, nato, rus)
            inc = self.book.get(k)
            entered = bool(in_T[j] or in_min[j])
            if inc is None and not entered:
                continue
            fresh = inc is None
            if inc is None:
                inc = self.life.new(AirInterceptIncident, k, T, "warning", {}, slots=(a, b))
            assert isinstance(inc, AirInterceptIncident)
            new_pass = entered and not inc.inside
            if entered:
                # the lowest of the interval, or the tick's own when it is in and the interval's is not
                use_min = bool(in_min[j])
                sl, tt = (float(slant_min[j]), float(t_min[j])) if use_min else (float(slant_T[j]), T)
                hh = float(h_min[j]) if use_min else float(h_T[j])
                dd = float(dist_min[j]) if use_min else float(dist_T[j])
                brg = float(bearing[j]) if use_min else float(pass_bearing_deg(
                    *self._slant(cand_a[j : j + 1], cand_b[j : j + 1], np.array([T]))[3:])[0])
                if new_pass:
                    inc.passes += 1
                    inc.attack = inc.attack or _attack_aspect(brg, cs.attack_sector_deg)
                if sl < inc.min_m:
                    inc.min_m, inc.min_t_s, inc.height_at_min_m = sl, tt, hh
                    inc.horizontal_at_min_m, inc.bearing_at_min_deg = dd, brg
            inc.inside = (inc.inside or entered) and not bool(out_T[j])
            inc.metrics = self._metrics(inc, float(dist_T[j]), float(slant_T[j]), float(h_T[j]))
            sev: Severity = "critical" if inc.attack else "warning"
            if self.life.watched(inc.slots):
                sev = raise_severity(sev)
            if fresh:
                inc.severity = sev
                inc.reported_min_m = inc.min_m
                events.extend(self.life.open(inc, T))
                continue
            if not inc.inside and not entered:
                if inc.dwelt(T, cs.air_part_s):
                    events.append(self.life.close(inc.key, T, IncseaReason.CLEAR))
                continue
            inc.settle()
            if new_pass or sev != inc.severity or inc.min_m < inc.reported_min_m * (1.0 - s.update_min_change):
                inc.severity = sev
                inc.reported_min_m = min(inc.reported_min_m, inc.min_m)
                events.append(self.life.revise(inc, T))
        return events

    def _metrics(self, inc: AirInterceptIncident, dist: float, slant: float, height: float) -> dict[str, float]:
        cs = self.inc_settings
        m = {
            "distance_m": dist,
            "slant_range_m": slant,
            "min_slant_range_m": inc.min_m,
            "min_t_s": inc.min_t_s,
            "horizontal_at_min_m": inc.horizontal_at_min_m,
            "height_at_min_m": inc.height_at_min_m,
            "passes": float(inc.passes),
            "attack_aspect": 1.0 if inc.attack else 0.0,
            "max_height_m": cs.air_max_height_m,
            "slant_limit_m": cs.air_slant_range_m,
        }
        if not math.isnan(height):
            m["height_m"] = height
        if not math.isnan(inc.bearing_at_min_deg):
            m["pass_bearing_deg"] = inc.bearing_at_min_deg
        # a slant range is NaN once the aircraft reports no altitude: leave it out
        return {k: v for k, v in m.items() if not math.isnan(v)}
