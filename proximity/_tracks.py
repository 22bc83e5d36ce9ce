"""Track state as numpy columns indexed by a slot number per track id.

One slot per track id, assigned on first sight and kept; the columns hold the
latest accepted report of each track (the hot path writes them with fancy
indexing, never one Python object per track beyond the incoming report, which is
kept by reference for the event subjects).
"""

from __future__ import annotations

import heapq
from typing import NamedTuple, Sequence

import numpy as np

from config.records import TrackUpdate

from .cpa import dead_reckon

__all__ = ["DOMAIN_CODE", "SIDE_CODE", "Positions", "TrackTable", "unit_vectors"]

DOMAIN_CODE = {"air": 0, "sea": 1, "land": 2}
SIDE_CODE = {"nato": 0, "russia": 1, "other": 2, "unknown": 3}

_FLOAT_COLUMNS = ("t_s", "lat_deg", "lon_deg", "alt_m", "speed_mps", "course_deg", "vrate_mps", "stuck_since_s")
# integrity state, NaN when there is none (not written by ``assign``)
_STATE_COLUMNS = ("suspect_until_s", "jump_from_lon_deg", "jump_from_lat_deg", "jump_from_t_s")


def unit_vectors(lon_deg: np.ndarray, lat_deg: np.ndarray) -> np.ndarray:
    """Points on the unit sphere (geodetic latitude taken as spherical), shape (n, 3)."""
    lon = np.radians(lon_deg)
    lat = np.radians(lat_deg)
    c = np.cos(lat)
    return np.stack((c * np.cos(lon), c * np.sin(lon), np.sin(lat)), axis=-1)


class Positions(NamedTuple):
    """Tracks brought to one time (arrays by track): where each is, and the time that holds."""

    t_s: np.ndarray  # when the position holds: the report's time, later when dead-reckoned
    lon_deg: np.ndarray
    lat_deg: np.ndarray
    alt_m: np.ndarray  # NaN: unknown
    course_deg: np.ndarray  # NaN: unknown
    moved: np.ndarray  # bool: dead-reckoned away from the reported position


class TrackTable:
    """Columns of track state; ``n`` slots are in use."""

    def __init__(self, capacity: int = 1024) -> None:
        self.index: dict[str, int] = {}
        self.ids: list[str | None] = []
        self.n = 0
        self._free: list[int] = []  # recycled slots, smallest first
        self._cap = 0
        self.t_s = np.empty(0)
        self.lat_deg = np.empty(0)
        self.lon_deg = np.empty(0)
        self.alt_m = np.empty(0)
        self.speed_mps = np.empty(0)
        self.course_deg = np.empty(0)
        self.vrate_mps = np.empty(0)
        self.stuck_since_s = np.empty(0)
        self.suspect_until_s = np.empty(0)
        self.jump_from_lon_deg = np.empty(0)
        self.jump_from_lat_deg = np.empty(0)
        self.jump_from_t_s = np.empty(0)
        self.domain = np.empty(0, np.int8)
        self.side = np.empty(0, np.int8)
        self.live = np.empty(0, bool)
        self.xyz = np.empty((0, 3))
        self.update = np.empty(0, object)
        self._grow(capacity)

    def _grow(self, capacity: int) -> None:
        old = self._cap
        for name in _FLOAT_COLUMNS + _STATE_COLUMNS:
            col = np.full(capacity, np.nan)
            col[:old] = getattr(self, name)[:old]
            setattr(self, name, col)
        for name, dtype in (("domain", np.int8), ("side", np.int8), ("live", bool)):
            col = np.zeros(capacity, dtype)
            col[:old] = getattr(self, name)[:old]
            setattr(self, name, col)
        xyz = np.zeros((capacity, 3))
        xyz[:old] = self.xyz[:old]
        self.xyz = xyz
        upd = np.empty(capacity, object)
        upd[:old] = self.update[:old]
        self.update = upd
        self._cap = capacity

    def slots_for(self, track_ids: Sequence[str]) -> np.ndarray:
        """The slot of each id, new slots for ids never seen."""
        get = self.index.get
        slots = [get(i, -1) for i in track_ids]
        if -1 in slots:
            for k, s in enumerate(slots):
                if s < 0:
                    tid = track_ids[k]
                    s = self.index.get(tid, -1)
                    if s < 0:
                        if self._free:
                            s = heapq.heappop(self._free)
                            self.ids[s] = tid
                        else:
                            s = self.n
                            self.ids.append(tid)
                            self.n += 1
                        self.index[tid] = s
                    slots[k] = s
            if self.n > self._cap:
                self._grow(max(self.n, 2 * self._cap))
        return np.asarray(slots, np.int64)

    def assign(
        self,
        slots: np.ndarray,
        updates: np.ndarray,
        cols: dict[str, np.ndarray],
    ) -> None:
        """Store reports (the last one per slot wins; ``slots`` are unique here)."""
        for name in _FLOAT_COLUMNS:
            getattr(self, name)[slots] = cols[name]
        self.domain[slots] = cols["domain"]
        self.side[slots] = cols["side"]
        self.xyz[slots] = unit_vectors(cols["lon_deg"], cols["lat_deg"])
        self.update[slots] = updates
        self.live[slots] = True

    def positions_at(self, slots: np.ndarray, t_s: float, max_age_s: float) -> Positions:
        """The tracks ``slots`` dead-reckoned from their last report to ``t_s``.

        Each moves along the geodesic of its course at its speed (WGS 84, exact:
        ``proximity.cpa.dead_reckon``) and climbs at its vertical rate, for
        ``t_s`` minus its report time but at most ``max_age_s``. A track without
        a speed, or moving without a course, stays where it was reported, at its
        report time; a track with speed 0 stands where reported.
        """
        t_rep = self.t_s[slots]
        speed = self.speed_mps[slots]
        course = self.course_deg[slots]
        lon = self.lon_deg[slots].copy()
        lat = self.lat_deg[slots].copy()
        alt = self.alt_m[slots].copy()
        with np.errstate(invalid="ignore"):
            known = ~np.isnan(speed) & (~np.isnan(course) | (speed == 0))
            dt = np.where(known, np.minimum(t_s - t_rep, max_age_s), 0.0)
            moved = known & (dt != 0) & (speed > 0)
        crs = course.copy()
        m = np.nonzero(moved)[0]
        if m.size:
            lon[m], lat[m], crs[m] = dead_reckon(lon[m], lat[m], course[m], speed[m], dt[m])
        vrate = self.vrate_mps[slots]
        climbs = ~np.isnan(vrate) & (dt != 0)
        alt[climbs] += vrate[climbs] * dt[climbs]
        return Positions(t_rep + dt, lon, lat, alt, crs, moved)

    def free(self, slots: np.ndarray) -> None:
        """Forget tracks (long dead): their ids are unknown again, their slots reusable."""
        for name in _FLOAT_COLUMNS + _STATE_COLUMNS:
            getattr(self, name)[slots] = np.nan
        self.live[slots] = False
        self.update[slots] = None
        for s in slots.tolist():
            tid = self.ids[s]
            if tid is not None:
                del self.index[tid]
                self.ids[s] = None
            heapq.heappush(self._free, s)

    @property
    def n_known(self) -> int:
        """Slots holding a track (live or not yet forgotten)."""
        return len(self.index)

    def latest(self, slot: int) -> TrackUpdate:
        u = self.update[slot]
        assert u is not None
        return u  # type: ignore[no-any-return]
