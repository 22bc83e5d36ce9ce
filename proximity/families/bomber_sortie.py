"""``bomber_sortie``: a heavy bomber (or another type of ``[proximity.sortie] types``) near a border.

One incident per sortie: it opens at the first tick that finds a NATO or Russian
aircraft of a watched type within ``border_distance_m`` (200 km) of a border line
given to the engine or of the territorial airspace (zones of kind ``territorial``
applying to its side and to aircraft) of a state of the other side, and closes
(``departed``) once it has been farther than that distance times
``1 + hysteresis_margin`` for ``min_dwell_s``, or ``stale`` when it is lost.

At every tick it measures, from the aircraft's latest report, the geodesic
distance to each border line and territorial airspace within reach (exact:
``proximity.geometry.distance_to_geometry_m``, after a screen on points sampled
along each boundary), keeps the closest approach to each state's airspace
(``closest_territorial_<cc>_m``, the smallest at a tick: between ticks a straight
pass 50 km off is closer by at most v² dt² / 8d, 3 m at 230 m/s) and counts the
aircraft escorting it (same side) and intercepting it (other side): within
``escort_m`` (10 km) on a matching course and speed (the tolerances of
``[proximity.shadowing]``), both brought to the tick. A revision follows when an
escort or an interceptor joins or leaves. Subjects: the bomber, then its escorts,
then its interceptors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import shapely
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from ..events import Event, Subject
from ..geometry import distance_to_geometry_m
from ..lifecycle import CloseReason, Incident, describe
from ..tracks import DOMAIN_CODE, SIDE_CODE, Report, ReportBatch, unit_vectors
from ._pairs import GEOD
from .base import Context, Family, FamilySpec
from .close_approach import _chord
from .shadowing import _angle_diff

__all__ = ["KIND", "BomberSortie", "SortieIncident", "SortieReason"]

KIND = "bomber_sortie"
_AIR = DOMAIN_CODE["air"]
_NATO, _RUSSIA = SIDE_CODE["nato"], SIDE_CODE["russia"]
# Boundaries are sampled every this many degrees for the screen (at most about 5.6 km).
_SAMPLE_DEG = 0.05
_SAMPLE_M = 5_600.0
# the screen's allowance for the sphere against the ellipsoid
_SPHERE = 1.01


class SortieReason(CloseReason):
    DEPARTED = "departed", "departed"  # beyond the distance and its margin for min_dwell_s


@dataclass(slots=True)
class SortieIncident(Incident):
    closest_m: float = math.inf
    escorts: tuple[int, ...] = ()  # slots, in order of slot
    interceptors: tuple[int, ...] = ()
    closest_by_state: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class _Target:
    """A border line or a state's territorial airspace, with the points that screen it."""

    name: str  # "" for a border line, else the state's code
    geometry: BaseGeometry
    sides: frozenset[int]  # the sides of aircraft it concerns
    points: np.ndarray  # unit vectors of points sampled along its boundary
    bounds: tuple[float, float, float, float]  # lon/lat box: an aircraft outside it is not inside


def _target(name: str, geometry: BaseGeometry, sides: frozenset[int]) -> _Target:
    pts = shapely.get_coordinates(shapely.segmentize(shapely.boundary(geometry) if name else geometry, _SAMPLE_DEG))
    return _Target(name, geometry, sides, unit_vectors(pts[:, 0], pts[:, 1]), tuple(geometry.bounds))


class _Screen:
    """The targets of one side's aircraft, in order, and one tree of all their sampled points: the
    targets within reach of an aircraft in one query (not one per target)."""

    def __init__(self, targets: list[_Target]) -> None:
        self.targets = targets
        self.owner = np.concatenate([np.full(len(t.points), k) for k, t in enumerate(targets)]) if targets \
            else np.empty(0, np.int64)
        self.tree = cKDTree(np.concatenate([t.points for t in targets]) if targets else np.empty((0, 3)))

    def within(self, q: np.ndarray, chord: float) -> set[int]:
        """The targets with a sampled point within ``chord`` of ``q`` (unit sphere)."""
        return set(self.owner[self.tree.query_ball_point(q, chord)].tolist())

    def nearest(self, q: np.ndarray) -> int:
        """The target of the sampled point nearest ``q`` (the first in order on a tie)."""
        d, i = self.tree.query(q, k=min(8, len(self.owner)))
        d, i = np.atleast_1d(d), np.atleast_1d(i)
        return int(self.owner[i[d == d.min()]].min())


class BomberSortie(Family[SortieIncident]):
    spec = FamilySpec(KIND, "track", reasons=tuple(SortieReason))

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.types = frozenset(t.upper() for t in ctx.settings.sortie.types)
        self.tracks.add_column("sortie_type", np.bool_, False)
        both = frozenset((_NATO, _RUSSIA))
        self._borders = [_target("", line, both) for line in ctx.borders]
        self._airspace: dict[int, _Target] = {}  # zone number -> target
        self._screens: dict[int, _Screen] = {}  # side -> its targets' screen (made when first asked)
        # slot -> (lon, lat, side, a lower bound of its distance to every target) at the last
        # measure of a watched aircraft with no sortie open: while it has moved less than that bound
        # minus border_distance_m, no target can be within reach (the triangle inequality), and the
        # screen and the exact distances are skipped. Derived data: not part of the engine's state.
        self._far: dict[int, tuple[float, float, int, float]] = {}

    # -- hooks ----------------------------------------------------------------------------

    def on_zones(self, added: Sequence[int], t_s: float | None) -> list[Event]:
        self._far.clear()  # new targets: every bound is void
        self._screens.clear()
        for z in added:
            zone = self.zones[z]
            self._airspace.pop(z, None)
            if zone.kind == "territorial" and "air" in zone.domains:
                countries = zone.properties.get("countries") or [zone.zone_id]
                sides = frozenset(SIDE_CODE[s] for s in zone.sides)
                self._airspace[z] = _target(str(countries[0]), zone.geometry, sides)
        return []

    def on_reports(self, batch: ReportBatch) -> list[tuple[int, Event]]:
        tr = self.tracks
        tr.column("sortie_type")[batch.last_slots] = tr.types.flags(self.types)[batch.last_type_no]
        return []

    def on_tick(self, t_s: float) -> list[Event]:
        tr = self.tracks
        n = tr.n
        watched = tr.column("sortie_type")[:n] & tr.live[:n] & (tr.domain[:n] == _AIR)
        watched &= (tr.side[:n] == _NATO) | (tr.side[:n] == _RUSSIA)
        slots = sorted(set(np.nonzero(watched)[0].tolist()) | {k[1] for k in self.book.of_kind(KIND)})
        events: list[Event] = []
        s = self.settings
        limit = s.sortie.border_distance_m
        reach = limit * (1.0 + s.hysteresis_margin)
        far = self._far
        for slot in slots:
            key = (KIND, slot, -1)
            inc = self.book.get(key)
            if inc is None and slot in far and self._still_far(slot, limit):
                continue
            near, by_state = self._distances(slot, reach)
            if inc is None:
                if near > limit:
                    # nearer than reach the distance is exact; beyond it, every target is beyond reach
                    far[slot] = (float(tr.lon_deg[slot]), float(tr.lat_deg[slot]), int(tr.side[slot]),
                                 min(near, reach))
                    continue
                far.pop(slot, None)
                inc = self.life.new(SortieIncident, key, t_s, "info", {}, slots=(slot,))
                assert isinstance(inc, SortieIncident)
                self._measure(inc, t_s, near, by_state)
                events.extend(self.life.open(inc, t_s))
                continue
            assert isinstance(inc, SortieIncident)
            before = (inc.escorts, inc.interceptors)
            self._measure(inc, t_s, near, by_state)
            if near > limit * (1.0 + s.hysteresis_margin):
                if inc.dwelt(t_s, s.min_dwell_s):
                    events.append(self.life.close(key, t_s, SortieReason.DEPARTED))
                continue
            inc.settle()
            if (inc.escorts, inc.interceptors) != before:
                events.append(self.life.revise(inc, t_s))
        return events

    # -- the measures -----------------------------------------------------------------------

    def _still_far(self, slot: int, limit: float) -> bool:
        """Whether the aircraft in ``slot`` is provably still farther than ``limit`` from every
        target: its bound at the last measure, less the geodesic distance it moved since."""
        lon0, lat0, side0, bound = self._far[slot]
        tr = self.tracks
        if int(tr.side[slot]) != side0:  # another track in the slot, or a side change: other targets
            return False
        _, _, moved = GEOD.inv(lon0, lat0, float(tr.lon_deg[slot]), float(tr.lat_deg[slot]))
        return bool(bound - moved > limit)

    def _distances(self, slot: int, reach_m: float) -> tuple[float, dict[str, float]]:
        """From the track's latest report: the distance to the nearest border line or airspace of the
        other side, and to each state's airspace within ``reach_m``."""
        tr = self.tracks
        lon, lat = float(tr.lon_deg[slot]), float(tr.lat_deg[slot])
        side = int(tr.side[slot])
        q = unit_vectors(np.array([lon]), np.array([lat]))[0]
        screen = self._screen(side)
        in_reach = screen.within(q, _chord(reach_m * _SPHERE + _SAMPLE_M))
        nearest = math.inf
        by_state: dict[str, float] = {}
        any_far = False
        for k, target in enumerate(screen.targets):
            minx, miny, maxx, maxy = target.bounds
            inside = (bool(target.name) and minx <= lon <= maxx and miny <= lat <= maxy
                      and bool(shapely.contains_xy(target.geometry, lon, lat)))
            if not inside and k not in in_reach:
                any_far = True
                continue
            d = 0.0 if inside else distance_to_geometry_m(lon, lat, target.geometry)
            nearest = min(nearest, d)
            if target.name and d <= reach_m:
                by_state[target.name] = min(d, by_state.get(target.name, math.inf))
        if nearest == math.inf and any_far:
            # out of reach of everything: the distance to the target of the nearest sample says how far
            nearest = distance_to_geometry_m(lon, lat, screen.targets[screen.nearest(q)].geometry)
        return nearest, by_state

    def _screen(self, side: int) -> _Screen:
        screen = self._screens.get(side)
        if screen is None:
            targets = [t for t in (*self._borders, *(self._airspace[z] for z in sorted(self._airspace)))
                       if side in t.sides]
            screen = self._screens[side] = _Screen(targets)
        return screen

    def _company(self, slot: int, t_s: float) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The aircraft within ``escort_m`` on a matching course and speed: same side, other side."""
        tr = self.tracks
        n = tr.n
        sh = self.settings.shadowing
        others = np.nonzero(tr.live[:n] & (tr.domain[:n] == _AIR))[0]
        others = others[others != slot]
        if others.size == 0:
            return (), ()
        reach = self.settings.sortie.escort_m + 2.0 * 700.0 * self.settings.align_max_age_s
        near = others[tr.xyz[others] @ tr.xyz[slot] >= 1.0 - _chord(reach) ** 2 / 2.0]
        if near.size == 0:
            return (), ()
        max_age = self.settings.align_max_age_s
        me, at = tr.aligned(np.array([slot]), t_s, max_age), tr.aligned(near, t_s, max_age)
        _, _, d = GEOD.inv(np.full(near.size, me.lon_deg[0]), np.full(near.size, me.lat_deg[0]), at.lon_deg,
                           at.lat_deg)
        v0, v = float(np.nan_to_num(tr.speed_mps[slot])), np.nan_to_num(tr.speed_mps[near])
        matching = (_angle_diff(np.nan_to_num(at.course_deg, nan=999.0), np.nan_to_num(me.course_deg, nan=-999.0))
                    <= sh.course_tolerance_deg) & (np.abs(v - v0) <= sh.speed_tolerance * np.maximum(v, v0))
        company = near[(np.asarray(d) <= self.settings.sortie.escort_m) & matching]
        same = tr.side[company] == tr.side[slot]
        return tuple(sorted(company[same].tolist())), tuple(sorted(company[~same].tolist()))

    def _measure(self, inc: SortieIncident, t_s: float, near: float, by_state: dict[str, float]) -> None:
        slot = inc.slots[0]
        inc.closest_m = min(inc.closest_m, near)
        for state, d in by_state.items():
            inc.closest_by_state[state] = min(d, inc.closest_by_state.get(state, math.inf))
        inc.escorts, inc.interceptors = self._company(slot, t_s)
        m = {
            "distance_m": near,
            "closest_m": inc.closest_m,
            "limit_m": self.settings.sortie.border_distance_m,
            "duration_s": t_s - inc.opened_t_s,
            "escorts": float(len(inc.escorts)),
            "interceptors": float(len(inc.interceptors)),
        }
        for state in sorted(inc.closest_by_state):
            m[f"closest_territorial_{state.lower()}_m"] = inc.closest_by_state[state]
        inc.metrics = m

    # -- what its events say ---------------------------------------------------------------

    def closing(self, inc: SortieIncident, t_s: float, reason: CloseReason) -> None:
        inc.metrics["duration_s"] = t_s - inc.opened_t_s

    def subjects(self, inc: SortieIncident, t_s: float, report: Report | None) -> tuple[Subject, ...]:
        tr = self.tracks
        company = [s for s in (*inc.escorts, *inc.interceptors) if tr.update[s] is not None]
        return tuple(self.life.latest_subject(s) for s in (inc.slots[0], *company))

    def _names(self, slots: Sequence[int]) -> str:
        tr = self.tracks
        return ", ".join(describe(tr.latest(s)) for s in slots if tr.update[s] is not None)

    def summary(self, inc: SortieIncident, who: Sequence[str], zone: str) -> str:
        m = inc.metrics
        text = (f"{who[0]} sortie for {m['duration_s'] / 60:.0f} min, {m['distance_m'] / 1000:.0f} km from a border "
                f"or territorial airspace (closest {m['closest_m'] / 1000:.0f} km)")
        if inc.escorts:
            text += f"; escorted by {self._names(inc.escorts)}"
        if inc.interceptors:
            text += f"; intercepted by {self._names(inc.interceptors)}"
        return text

    def closed_summary(self, inc: SortieIncident, who: Sequence[str], zone: str, words: str) -> str:
        return f"bomber sortie {who[0]}: {words} after {inc.metrics['duration_s'] / 60:.0f} min"
