"""The track table: the latest state of every track as numpy columns, a slot per track id.

One slot per track id, assigned on first sight and kept until the track is
forgotten; the columns hold the latest accepted report of each track (the hot
path writes them with fancy indexing, never one Python object per track beyond
the incoming report, which is kept by reference for the event subjects).

Families of events may add columns of their own (``TrackTable.add_column``):
they grow with the table and are reset when a slot is forgotten. A batch of
reports on its way into the table is a ``ReportBatch``; tracks brought to one
instant are ``AlignedTracks`` (docs/engine.md, "Tracks at one instant").
"""

from __future__ import annotations

import heapq
import math
import zlib
from typing import NamedTuple, Sequence

import numpy as np

from config.classification import military_types
from config.records import TrackUpdate

from .cpa import dead_reckon

__all__ = [
    "CATEGORY_CODE",
    "DOMAIN_CODE",
    "ROLE_CODE",
    "SIDE_CODE",
    "AlignedTracks",
    "Report",
    "ReportBatch",
    "TrackTable",
    "unit_vectors",
]

DOMAIN_CODE = {"air": 0, "sea": 1, "land": 2}
SIDE_CODE = {"nato": 0, "russia": 1, "other": 2, "unknown": 3}
CATEGORY_CODE = {"military": 0, "state": 1, "civil": 2, "unknown": 3}
# the role of a military aircraft type (config/data/classification/military_types.csv); 0: none known
ROLE_CODE = {
    role: k
    for k, role in enumerate(
        ("", "bomber", "fighter", "isr", "maritime_patrol", "tanker", "transport", "helicopter", "uav", "trainer")
    )
}
_ROLE_OF_TYPE = {d: ROLE_CODE[t.role] for d, t in military_types().items()}


def _role_of(type_code: str | None) -> int:
    return 0 if type_code is None else _ROLE_OF_TYPE.get(type_code.upper(), 0)


class TypeCodes:
    """The type codes seen, numbered: what depends on a report's type (its role, whether a family
    watches it) is looked up once per distinct code, then by array indexing. Derived data; numbers
    live for one batch (the table starts again past ``limit`` codes, as a hostile feed could make)."""

    def __init__(self, limit: int = 65_536) -> None:
        self._limit = limit
        self._clear()

    def _clear(self) -> None:
        self._number: dict[str | None, int] = {None: 0}
        self.codes: list[str | None] = [None]
        self._flags: dict[frozenset[str], np.ndarray] = {}
        self.role = np.zeros(1, np.int8)

    def numbers(self, updates: Sequence[TrackUpdate] | np.ndarray) -> np.ndarray:
        """The number of each update's type code."""
        number = self._number
        codes = [u.type_code for u in updates]
        nos = [number.get(c, -1) for c in codes]
        if -1 in nos:
            if len(number) + len(codes) > self._limit:
                self._clear()
                number = self._number
            for c in codes:
                if c not in number:
                    number[c] = len(self.codes)
                    self.codes.append(c)
            self.role = np.fromiter(map(_role_of, self.codes), np.int8, len(self.codes))
            nos = [number[c] for c in codes]
        return np.array(nos, np.int64)

    def flags(self, types: frozenset[str]) -> np.ndarray:
        """For each number: whether its code, in capitals, is one of ``types``."""
        have = self._flags.get(types)
        if have is None or have.size < len(self.codes):
            have = np.fromiter(((c or "").upper() in types for c in self.codes), bool, len(self.codes))
            self._flags[types] = have
        return have

# the columns of a report, written by ``TrackTable.assign``
_REPORT_COLUMNS = ("t_s", "lat_deg", "lon_deg", "alt_m", "speed_mps", "course_deg", "vrate_mps")


def unit_vectors(lon_deg: np.ndarray, lat_deg: np.ndarray) -> np.ndarray:
    """Points on the unit sphere (geodetic latitude taken as spherical), shape (n, 3)."""
    lon = np.radians(lon_deg)
    lat = np.radians(lat_deg)
    c = np.cos(lat)
    return np.stack((c * np.cos(lon), c * np.sin(lon), np.sin(lat)), axis=-1)


class AlignedTracks(NamedTuple):
    """Tracks brought to one time (arrays by track): where each is, and the time that holds."""

    t_s: np.ndarray  # when the position holds: the report's time, later when dead-reckoned
    lon_deg: np.ndarray
    lat_deg: np.ndarray
    alt_m: np.ndarray  # NaN: unknown
    course_deg: np.ndarray  # NaN: unknown
    moved: np.ndarray  # bool: dead-reckoned away from the reported position

    def take(self, idx: np.ndarray) -> AlignedTracks:
        return AlignedTracks(*(col[idx] for col in self))

    def concat(self, other: AlignedTracks) -> AlignedTracks:
        return AlignedTracks(*(np.concatenate(c) for c in zip(self, other)))


class Report(NamedTuple):
    """One report of a batch, as an event subject needs it."""

    update: TrackUpdate
    slot: int
    suspect_until_s: float  # the track's integrity suspicion as judged on this report (NaN: none)
    stationary: bool = False  # moored, anchored or on the ground (proximity.rules)
    in_port: bool = False  # inside a port area (proximity.rules)


class TrackTable:
    """Columns of track state; ``n`` slots are in use."""

    def __init__(self, capacity: int = 1024) -> None:
        self.index: dict[str, int] = {}
        self.ids: list[str | None] = []
        self.types = TypeCodes()
        self.n = 0
        self._free: list[int] = []  # recycled slots, smallest first
        self._cap = 0
        # name -> (dtype, value of an empty slot); columns of families are added here
        self._columns: dict[str, tuple[type, float]] = {}
        for name in (*_REPORT_COLUMNS, "suspect_until_s"):
            self._columns[name] = (np.float64, math.nan)
        for name in ("domain", "side"):
            self._columns[name] = (np.int8, 0)
        self._columns["live"] = (np.bool_, False)
        self._columns["category"] = (np.int8, CATEGORY_CODE["unknown"])
        self._columns["role"] = (np.int8, 0)
        # CRC-32 of the track id (-1: no track): what spreads predictions over their slices
        self._columns["id_hash"] = (np.int64, -1)
        self._data: dict[str, np.ndarray] = {name: np.empty(0, dtype) for name, (dtype, _) in self._columns.items()}
        self.xyz = np.empty((0, 3))
        self.update = np.empty(0, object)
        self._bind()
        self._grow(capacity)

    # the columns every track has (the arrays are replaced when the table grows: do not keep them)
    t_s: np.ndarray
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    alt_m: np.ndarray
    speed_mps: np.ndarray
    course_deg: np.ndarray  # the direction of motion (course over ground, else heading)
    vrate_mps: np.ndarray
    suspect_until_s: np.ndarray  # data time until which the track's data is suspect (integrity)
    domain: np.ndarray
    side: np.ndarray
    live: np.ndarray
    category: np.ndarray  # CATEGORY_CODE of the latest report
    role: np.ndarray  # ROLE_CODE of the latest report's type (0: not a military type known by role)
    id_hash: np.ndarray  # zlib.crc32 of the track id, UTF-8 (-1: an empty slot)

    def _bind(self) -> None:
        for name, col in self._data.items():
            setattr(self, name, col)

    def _grow(self, capacity: int) -> None:
        old = self._cap
        for name, (dtype, fill) in self._columns.items():
            col: np.ndarray = np.full(capacity, fill, dtype)
            col[:old] = self._data[name][:old]
            self._data[name] = col
        xyz = np.zeros((capacity, 3))
        xyz[:old] = self.xyz[:old]
        self.xyz = xyz
        upd = np.empty(capacity, object)
        upd[:old] = self.update[:old]
        self.update = upd
        self._cap = capacity
        self._bind()

    def add_column(self, name: str, dtype: type = np.float64, fill: float = math.nan) -> None:
        """A column of a family's own (one value per slot, ``fill`` when the slot is empty)."""
        if name in self._columns:
            raise ValueError(f"track column {name!r} exists already")
        self._columns[name] = (dtype, fill)
        self._data[name] = np.full(self._cap, fill, dtype)

    def column(self, name: str) -> np.ndarray:
        """A column by name, as it is now (the table replaces its arrays when it grows)."""
        return self._data[name]

    def slots_for(self, track_ids: Sequence[str]) -> np.ndarray:
        """The slot of each id, new slots for ids never seen."""
        get = self.index.get
        slots = [get(i, -1) for i in track_ids]
        if -1 in slots:
            given: list[int] = []
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
                        given.append(s)
                    slots[k] = s
            if self.n > self._cap:
                self._grow(max(self.n, 2 * self._cap))
            self.id_hash[given] = [zlib.crc32(self.ids[s].encode()) for s in given]  # type: ignore[union-attr]
        return np.asarray(slots, np.int64)

    def keys_for(self, track_ids: Sequence[str]) -> np.ndarray:
        """The slot of each known id; ids never seen get ``-1``, ``-2``, ... (one per id, in order of
        appearance) and no slot yet: a slot is given when the report is taken (``slots_for``), after
        the ticks before it have run, so it does not depend on where the batches are cut."""
        get = self.index.get
        keys = [get(tid, -1) for tid in track_ids]
        if -1 in keys:
            new: dict[str, int] = {}
            for k, s in enumerate(keys):
                if s == -1:
                    tid = track_ids[k]
                    if tid not in new:
                        new[tid] = -1 - len(new)
                    keys[k] = new[tid]
        return np.asarray(keys, np.int64)

    def in_order(self, keys: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Which reports are not older than their track's last accepted one (nor an earlier one of
        the batch); ``keys`` from ``keys_for`` (a negative key: a track not in the table).

        A report refused for its age leaves the track's latest time as it was, so a report is
        kept when its time is at least the track's stored one and every earlier report's of the
        batch: a running maximum per track, taken on the times' ranks (integers, so that one
        running maximum over tracks laid one after another keeps them apart)."""
        last = np.where(keys >= 0, self.t_s[np.maximum(keys, 0)], math.nan)
        keep = ~(t < last)  # a new track has NaN: kept
        order = np.argsort(keys, kind="stable")
        ss = keys[order]
        starts = np.empty(ss.size, bool)
        starts[:1] = True
        starts[1:] = ss[1:] != ss[:-1]
        if starts.all():
            return keep
        _, rank = np.unique(t[order], return_inverse=True)
        group = np.cumsum(starts) - 1
        running = np.maximum.accumulate(group * np.int64(ss.size) + rank)
        before = np.empty(ss.size, np.int64)  # the running maximum of the earlier reports of the track
        before[1:] = running[:-1] - group[1:] * np.int64(ss.size)
        before[starts] = -1
        keep[order] &= rank >= before
        return keep

    def assign(self, batch: ReportBatch) -> None:
        """Store the last report of each track of ``batch``."""
        slots, last = batch.last_slots, batch.last
        for name in _REPORT_COLUMNS:
            self._data[name][slots] = batch.cols[name][last]
        self.domain[slots] = batch.domain[last]
        self.side[slots] = batch.side[last]
        self.xyz[slots] = unit_vectors(batch.lon_deg[last], batch.lat_deg[last])
        latest = batch.updates[last]
        self.update[slots] = latest
        self.category[slots] = np.fromiter((CATEGORY_CODE[u.category] for u in latest), np.int8, latest.size)
        batch.last_type_no = self.types.numbers(latest)
        self.role[slots] = self.types.role[batch.last_type_no]
        self.live[slots] = True

    def aligned(self, slots: np.ndarray, t_s: float | np.ndarray, max_age_s: float) -> AlignedTracks:
        """The tracks ``slots`` dead-reckoned from their last report to ``t_s`` (one time, or one per slot).

        Each moves along the geodesic of its course at its speed (WGS 84, exact:
        ``proximity.cpa.dead_reckon``) and climbs at its vertical rate, for
        ``t_s`` minus its report time but at most ``max_age_s`` (before the
        report, back along its course, at most ``max_age_s`` too). A track without
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
            known = self.reckonable(slots)
            dt = np.where(known, np.clip(t_s - t_rep, -max_age_s, max_age_s), 0.0)
            moved = known & (dt != 0) & (speed > 0)
        crs = course.copy()
        m = np.nonzero(moved)[0]
        if m.size:
            lon[m], lat[m], crs[m] = dead_reckon(lon[m], lat[m], course[m], speed[m], dt[m])
        vrate = self.vrate_mps[slots]
        climbs = ~np.isnan(vrate) & (dt != 0)
        alt[climbs] += vrate[climbs] * dt[climbs]
        return AlignedTracks(t_rep + dt, lon, lat, alt, crs, moved)

    def reckonable(self, slots: np.ndarray) -> np.ndarray:
        """Which of the tracks ``slots`` can be dead-reckoned: a speed, and a course unless standing."""
        speed = self.speed_mps[slots]
        with np.errstate(invalid="ignore"):
            return ~np.isnan(speed) & (~np.isnan(self.course_deg[slots]) | (speed == 0))  # type: ignore[no-any-return]

    def free(self, slots: np.ndarray) -> None:
        """Forget tracks (long dead): their ids are unknown again, their slots reusable."""
        for name, (_, fill) in self._columns.items():
            self._data[name][slots] = fill
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


class ReportBatch:
    """Reports of one stretch between ticks, in arrival order, as columns (``i`` indexes them all)."""

    def __init__(self, slots: np.ndarray, updates: np.ndarray, cols: dict[str, np.ndarray]) -> None:
        self.slots = slots
        self.updates = updates  # the TrackUpdates (object array)
        self.cols = cols
        self.t_s, self.lon_deg, self.lat_deg = cols["t_s"], cols["lon_deg"], cols["lat_deg"]
        self.speed_mps, self.domain, self.side = cols["speed_mps"], cols["domain"], cols["side"]
        rev_unique, rev_first = np.unique(slots[::-1], return_index=True)
        self.last_slots = rev_unique  # each track of the batch once
        self.last = slots.size - 1 - rev_first  # the index of its last report
        # slot -> (suspicion before the batch, [(i, suspicion from report i on)])
        self._suspect: dict[int, tuple[float, list[tuple[int, float]]]] = {}
        # each report's context (proximity.rules.Rules.report_context): stationary, in a port
        self.stationary = np.zeros(slots.size, bool)
        self.in_port = np.zeros(slots.size, bool)
        self.last_type_no = np.zeros(0, np.int64)  # the type number of each last report (TrackTable.assign)

    @staticmethod
    def columns(updates: Sequence[TrackUpdate], t_s: np.ndarray) -> dict[str, np.ndarray]:
        """The columns of reports (``t_s`` already taken from them)."""
        n = len(updates)
        return {
            "t_s": t_s,
            "lat_deg": np.fromiter((u.lat_deg for u in updates), float, n),
            "lon_deg": np.fromiter((u.lon_deg for u in updates), float, n),
            "alt_m": np.array([u.alt_m for u in updates], dtype=float),
            "speed_mps": np.array([u.speed_mps for u in updates], dtype=float),
            "course_deg": np.array([u.velocity_heading_deg for u in updates], dtype=float),
            "vrate_mps": np.array([u.vrate_mps for u in updates], dtype=float),
            "domain": np.fromiter((DOMAIN_CODE[u.domain] for u in updates), np.int8, n),
            "side": np.fromiter((SIDE_CODE[u.side] for u in updates), np.int8, n),
        }

    def __len__(self) -> int:
        return int(self.slots.size)

    def note_suspect(self, i: int, before_s: float, until_s: float) -> None:
        """From report ``i`` on, its track is suspect until ``until_s`` (it was until ``before_s``)."""
        slot = int(self.slots[i])
        self._suspect.setdefault(slot, (before_s, []))[1].append((i, until_s))

    def report(self, i: int, tracks: TrackTable) -> Report:
        """Report ``i`` with its track's integrity suspicion as it stood after that report."""
        slot = int(self.slots[i])
        noted = self._suspect.get(slot)
        if noted is None:
            until = float(tracks.suspect_until_s[slot])
        else:
            until = noted[0]
            for j, value in noted[1]:
                if j <= i:
                    until = value
        return Report(self.updates[i], slot, until, bool(self.stationary[i]), bool(self.in_port[i]))
