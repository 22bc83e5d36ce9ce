"""``shadowing`` and ``intercept``: a track keeping station on a track of the other side.

``shadowing``: a NATO and a Russian track of the same domain (sea or air), at
least one of them military or state and neither civil, keep within a distance
band (``[proximity.shadowing]``: ships 2-20 km, aircraft 1-30 km) on a matching
course and speed for longer than a set time (20 min at sea, 5 min in the air).
It opens then, is revised when the distance moves into another band (the
band's lower limit doubled: 2-4, 4-8, 8-16 km ...), and closes (``parted``) when
the band or the match has been lost for ``part_s``.

``intercept``: a fighter of one side, first seen farther than ``intercept_join_m``
(2 km) from a bomber, ISR or maritime patrol aircraft of the other, joins it
within that distance on a matching course and speed. It opens at the join (no
waiting time: joining is the act) and then lives as a shadowing does. It is a kind
of its own rather than a mode of shadowing: the event's metrics are numbers only,
consumers filter and rule profiles decide by kind, and an intercept opens on the
join where a shadowing opens on persistence. A pair is in one or the other, not both.

Both are computed here at every tick (``Shadowing.on_tick``); ``Intercept`` only
declares its kind and how its events read. The subjects are the shadower (or the
fighter) first, the other second, both brought to the event time; the shadower
is the track astern of the other (the other bears within 90° of its course).
Candidates come from KD-trees on the unit-sphere vectors of the eligible tracks
(those whose category allows a pair), as for close approaches. The tracks as
they were first seen together and since when they match are kept per pair, for
the pairs within the search radius only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.spatial import cKDTree

from config.records import Severity

from ..events import Event
from ..lifecycle import CloseReason, Key
from ..tracks import CATEGORY_CODE, DOMAIN_CODE, ROLE_CODE, SIDE_CODE
from ._pairs import GEOD, PairFamily, PairIncident
from .base import Context, FamilySpec
from .close_approach import _chord

__all__ = ["KIND", "INTERCEPT_KIND", "Intercept", "Shadowing", "ShadowingIncident", "ShadowingReason"]

KIND = "shadowing"
INTERCEPT_KIND = "intercept"
_AIR, _SEA = DOMAIN_CODE["air"], DOMAIN_CODE["sea"]
_NATO, _RUSSIA = SIDE_CODE["nato"], SIDE_CODE["russia"]
_MIL, _STATE, _CIVIL = CATEGORY_CODE["military"], CATEGORY_CODE["state"], CATEGORY_CODE["civil"]
_FIGHTER = ROLE_CODE["fighter"]
_TARGET_ROLES = np.array([ROLE_CODE["bomber"], ROLE_CODE["isr"], ROLE_CODE["maritime_patrol"]], np.int8)


class ShadowingReason(CloseReason):
    PARTED = "parted", "parted"  # out of the band, or no longer matching, for part_s


@dataclass(slots=True)
class ShadowingIncident(PairIncident):
    since_s: float = 0.0  # since when the pair has kept the band on a matching course
    band: int = 0  # the distance band last reported (see Shadowing._band)
    join_m: float = math.nan  # intercept: the distance at the join


def _angle_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs((a - b + 180.0) % 360.0 - 180.0)  # type: ignore[no-any-return]


class _KeepingStation(PairFamily):
    """What shadowing and intercept incidents share: their duration runs from ``since_s``."""

    def closing(self, inc: PairIncident, t_s: float, reason: CloseReason) -> None:
        assert isinstance(inc, ShadowingIncident)
        inc.metrics["duration_s"] = t_s - inc.since_s


class Shadowing(_KeepingStation):
    spec = FamilySpec(KIND, "pair", reasons=tuple(ShadowingReason))

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        sh = ctx.settings.shadowing
        self.sh = sh
        # by domain code (air, sea): lower and upper limit of the band, time to hold, slowest speed
        self._lo = np.array([sh.air_band_m[0], sh.sea_band_m[0], math.inf])
        self._hi = np.array([sh.air_band_m[1], sh.sea_band_m[1], 0.0])
        self._min_s = np.array([sh.air_min_s, sh.sea_min_s, math.inf])
        self._min_v = np.array([sh.air_min_speed_mps, sh.sea_min_speed_mps, math.inf])
        # (NATO slot, Russian slot) -> [since when matching in the band (NaN: not), seen beyond the join]
        self._watch: dict[tuple[int, int], list[float]] = {}

    def get_state(self) -> dict[str, Any]:
        rows = [(a, b, w[0], w[1]) for (a, b), w in self._watch.items()]
        return {"watch": np.array(rows, np.float64).reshape(-1, 4)}

    def set_state(self, state: dict[str, Any]) -> None:
        rows = np.asarray(state["watch"], np.float64).reshape(-1, 4).tolist()
        self._watch = {(int(a), int(b)): [since, far] for a, b, since, far in rows}

    # -- what its events say ---------------------------------------------------------------

    def summary(self, inc: PairIncident, who: Sequence[str], zone: str) -> str:
        m = inc.metrics
        return (f"{who[0]} shadowing {who[1]} for {m['duration_s'] / 60:.0f} min, {m['distance_m'] / 1000:.1f} km "
                f"(band {m['band_low_m'] / 1000:.0f}-{m['band_high_m'] / 1000:.0f} km)")

    # -- the work --------------------------------------------------------------------------

    def _band(self, d_m: float, domain: int, current: int | None = None) -> int:
        """The distance band of ``d_m``: 0 below the lower limit L, k for [L 2^(k-1), L 2^k) (the last
        ends at the upper limit); with ``current``, a band changes only beyond the margin."""
        lo, hi = float(self._lo[domain]), float(self._hi[domain])
        top = max(1, math.ceil(math.log2(hi / lo)))

        def of(d: float) -> int:
            return 0 if d < lo else min(top, int(math.floor(math.log2(d / lo))) + 1)

        if current is None:
            return of(d_m)
        m = 1.0 + self.settings.hysteresis_margin
        return current if of(d_m / m) <= current <= of(d_m * m) else of(d_m)

    def _band_limits(self, band: int, domain: int) -> tuple[float, float]:
        lo, hi = float(self._lo[domain]), float(self._hi[domain])
        if band == 0:
            return 0.0, lo
        return lo * 2 ** (band - 1), min(hi, lo * 2**band)

    def _candidates(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Opposing pairs of one domain within the search radius whose categories allow a pair."""
        tr = self.tracks
        n = tr.n
        s = self.settings
        cat, dom, side = tr.category[:n], tr.domain[:n], tr.side[:n]
        ok = tr.live[:n] & (cat != _CIVIL) & (dom != DOMAIN_CODE["land"])
        ok &= np.nan_to_num(tr.speed_mps[:n]) >= self._min_v[np.minimum(dom, 2)]
        milstate = (cat == _MIL) | (cat == _STATE)
        out_a, out_b = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
        for domain in (_AIR, _SEA):
            here = ok & (dom == domain)
            nato, rus = here & (side == _NATO), here & (side == _RUSSIA)
            if not (milstate & (nato | rus)).any():
                continue
            speed = np.nan_to_num(tr.speed_mps[:n])
            reach_m = 2.0 * float(speed[here].max()) * s.align_max_age_s
            chord = _chord(float(self._hi[domain]) * (1.0 + s.hysteresis_margin) + reach_m)
            # a military or state track of one side against every eligible track of the other, and back
            for first, second in ((nato & milstate, rus), (nato & ~milstate, rus & milstate)):
                a, b = np.nonzero(first)[0], np.nonzero(second)[0]
                if a.size == 0 or b.size == 0:
                    continue
                found = cKDTree(tr.xyz[a]).sparse_distance_matrix(cKDTree(tr.xyz[b]), chord, output_type="ndarray")
                out_a.append(a[found["i"]])
                out_b.append(b[found["j"]])
        return np.concatenate(out_a), np.concatenate(out_b)

    def on_tick(self, t_s: float) -> list[Event]:
        T = t_s
        s = self.settings
        sh = self.sh
        tr = self.tracks
        cand_a, cand_b = self._candidates(T)
        open_keys = [k[1:] for k in (*self.book.of_kind(KIND), *self.book.of_kind(INTERCEPT_KIND))]
        if open_keys:
            arr = np.array(open_keys, np.int64)
            cand_a, cand_b = np.concatenate((cand_a, arr[:, 0])), np.concatenate((cand_b, arr[:, 1]))
        m = tr.n + 1
        key = np.unique(cand_a * m + cand_b)
        cand_a, cand_b = key // m, key % m
        watch = self._watch
        if cand_a.size == 0:
            watch.clear()
            return []
        pa, pb = self.aligned(cand_a, T), self.aligned(cand_b, T)
        az12, _, dist = (np.asarray(x, float) for x in GEOD.inv(pa.lon_deg, pa.lat_deg, pb.lon_deg, pb.lat_deg))
        va, vb = np.nan_to_num(tr.speed_mps[cand_a]), np.nan_to_num(tr.speed_mps[cand_b])
        da, db = tr.domain[cand_a], tr.domain[cand_b]
        dom = np.minimum(da, 2)
        dcourse = _angle_diff(np.nan_to_num(pa.course_deg, nan=-999.0), np.nan_to_num(pb.course_deg, nan=999.0))
        dspeed = np.abs(va - vb)
        faster = np.maximum(va, vb)
        margin = 1.0 + s.hysteresis_margin
        min_v = self._min_v[dom]
        same = (da == db) & (da != DOMAIN_CODE["land"]) & (va >= min_v) & (vb >= min_v)
        match = same & (dcourse <= sh.course_tolerance_deg) & (dspeed <= sh.speed_tolerance * faster)
        match_loose = same & (dcourse <= sh.course_tolerance_deg * margin) & (
            dspeed <= sh.speed_tolerance * margin * faster)
        lo, hi = self._lo[dom], self._hi[dom]
        in_band = match & (dist >= lo) & (dist <= hi)
        staying = match_loose & (dist <= hi * margin)
        ra, rb = tr.role[cand_a], tr.role[cand_b]
        role_pair = (da == _AIR) & (db == _AIR) & (
            ((ra == _FIGHTER) & np.isin(rb, _TARGET_ROLES)) | ((rb == _FIGHTER) & np.isin(ra, _TARGET_ROLES)))
        joined = match & role_pair & (dist <= sh.intercept_join_m)
        # a on b's course: the other bears within 90 degrees of a's course (b is ahead: a is astern)
        a_astern = _angle_diff(az12, np.nan_to_num(pa.course_deg)) < 90.0

        events: list[Event] = []
        seen: set[tuple[int, int]] = set()
        for j in range(cand_a.size):
            a, b = int(cand_a[j]), int(cand_b[j])
            pair = (a, b)
            seen.add(pair)
            w = watch.get(pair)
            d = float(dist[j])
            if w is None:
                w = watch[pair] = [math.nan, 0.0]
            if d > sh.intercept_join_m * margin:
                w[1] = 1.0
            if in_band[j] or (joined[j] and w[1]):
                if math.isnan(w[0]):
                    w[0] = T
            elif not staying[j]:
                w[0] = math.nan
            k_sh, k_ic = (KIND, a, b), (INTERCEPT_KIND, a, b)
            inc = self.book.get(k_sh) or self.book.get(k_ic)
            domain = int(dom[j])
            metrics = {"distance_m": d, "course_diff_deg": float(dcourse[j]), "speed_diff_mps": float(dspeed[j])}
            if inc is not None:
                assert isinstance(inc, ShadowingIncident)
                ev = self._follow(inc, T, d, domain, metrics, bool(staying[j]))
                if ev is not None:
                    events.append(ev)
                continue
            if joined[j] and w[1]:
                fighter_a = bool(ra[j] == _FIGHTER)
                slots = (a, b) if fighter_a else (b, a)
                events.extend(self._open(k_ic, T, d, domain, metrics, slots, since_s=T, join_m=d))
            elif in_band[j] and not math.isnan(w[0]) and T - w[0] >= self._min_s[domain] and not role_pair[j]:
                slots = (a, b) if a_astern[j] else (b, a)
                events.extend(self._open(k_sh, T, d, domain, metrics, slots, since_s=w[0]))
        for pair in [p for p in watch if p not in seen]:
            del watch[pair]
        return events

    def _open(
        self, key: Key, T: float, d: float, domain: int, metrics: dict[str, float], slots: tuple[int, int],
        since_s: float, join_m: float = math.nan,
    ) -> list[Event]:
        band = self._band(d, domain)
        low, high = self._band_limits(band, domain)
        metrics.update(band_low_m=low, band_high_m=high, min_distance_m=d, duration_s=T - since_s)
        if not math.isnan(join_m):
            metrics["join_distance_m"] = join_m
        sev: Severity = "warning"
        inc = self.life.new(ShadowingIncident, key, T, sev, metrics, slots=slots)
        inc.min_m = inc.reported_min_m = d
        inc.since_s, inc.band, inc.join_m = since_s, band, join_m
        return self.life.open(inc, T)

    def _follow(
        self, inc: ShadowingIncident, T: float, d: float, domain: int, metrics: dict[str, float], staying: bool
    ) -> Event | None:
        inc.min_m = min(inc.min_m, d)
        band = self._band(d, domain, inc.band)
        low, high = self._band_limits(band, domain)
        metrics.update(band_low_m=low, band_high_m=high, min_distance_m=inc.min_m, duration_s=T - inc.since_s)
        if not math.isnan(inc.join_m):
            metrics["join_distance_m"] = inc.join_m
        inc.metrics = metrics
        if not staying:
            return self.life.close(inc.key, T, ShadowingReason.PARTED) if inc.dwelt(T, self.sh.part_s) else None
        inc.settle()
        if band != inc.band:
            inc.band = band
            return self.life.revise(inc, T)
        return None


class Intercept(_KeepingStation):
    """``intercept``: declared here, computed by ``Shadowing`` (see the module docstring)."""

    spec = FamilySpec(INTERCEPT_KIND, "pair", reasons=tuple(ShadowingReason))

    def summary(self, inc: PairIncident, who: Sequence[str], zone: str) -> str:
        m = inc.metrics
        return (f"{who[0]} intercepting {who[1]}: joined at {m['join_distance_m']:.0f} m, now "
                f"{m['distance_m']:.0f} m, for {m['duration_s'] / 60:.1f} min")
