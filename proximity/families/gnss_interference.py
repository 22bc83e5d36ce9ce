"""``gnss_interference``: areas where many aircraft report a degraded GNSS position.

Area-level: an incident is about a connected area of H3 cells (https://h3geo.org,
resolution ``[proximity.gnss] resolution``), not about tracks, so its events have
no subjects; they carry the cells (``Event.cells``, H3 indexes as hexadecimal
texts) and the numbers of the area.

The method is that of the public daily GPS-jamming maps, made live and sliding:

* every aircraft report with a position quality (``config.records.PositionQuality``)
  is good or *degraded*: ADS-B NIC below ``nic_below`` (RTCA DO-260B 2.2.3.2.7.2.6:
  containment radius 0.2 NM or worse), NACp below ``nac_p_below`` (95 % bound
  0.05 NM or worse), version-0 NUCp below ``nuc_p_below`` (DO-260 2.2.3.2.3.1), or
  a readsb ``gpsOkBefore`` (the aircraft says its GNSS was good only until then);
* at every tick each aircraft that reported a quality since the previous tick is
  an observation in the cell of its latest position (degraded when any of those
  reports was); a cell is judged over the observations of the last ``window_s``:
  how many distinct aircraft, how many of them degraded;
* a cell is *interfered* with at least ``min_aircraft`` aircraft, ``min_degraded``
  of them degraded, a share of at least ``min_share``; it stays interfered while
  the share is at least ``clear_share``;
* interfered cells that touch (``h3.grid_disk`` ring 1) form one area; an area
  that no open incident follows opens one once one of its cells has been so for
  ``min_dwell_s`` (a starting feed's first tick, or a passing fragment, is no
  area); the incident follows the area as it grows, shrinks, splits (the larger part
  keeps it) and merges (the area with the most cells in common keeps it; the
  others close as ``merged``); it closes ``cleared`` when none of its cells has
  been interfered for ``min_dwell_s``.

Tracks of any domain whose latest position is inside an open area are suspect
(``suspect_until_s`` of the track table, until the next tick: the one mechanism
that caps the severity of their events, ``proximity.rules``) with the reason
``gnss_interference`` in their events' ``integrity_reasons``
(``proximity.lifecycle.Lifecycle.reason_columns``). Rules: docs/engine.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import h3.api.basic_int as h3
import numpy as np

from config.records import PositionQuality

from ..events import Event, derive_event_id
from ..lifecycle import CloseReason, Incident
from ..tracks import DOMAIN_CODE, ReportBatch
from .base import Context, Family, FamilySpec

__all__ = ["GnssIncident", "GnssInterference", "GnssReason", "cell_text"]

KIND = "gnss_interference"
REASON = "gnss_interference"  # the integrity reason of a track inside an area
_AIR = DOMAIN_CODE["air"]
# a revision when the share of degraded aircraft moves by this much (absolute)
_SHARE_CHANGE = 0.1
# track columns: the last report with a position quality, the last degraded one, and until
# when the track is suspect for being inside an area
_Q_LAST, _BAD_LAST, _SUSPECT = "gnss_quality_t_s", "gnss_degraded_t_s", "gnss_suspect_until_s"


def cell_text(cell: int) -> str:
    """An H3 cell as its usual hexadecimal text (``840892dffffffff``)."""
    return h3.int_to_str(cell)


class GnssReason(CloseReason):
    CLEARED = "cleared", "interference no longer seen"  # no cell of the area interfered for min_dwell_s
    MERGED = "merged", "merged into another area"


@dataclass(slots=True)
class GnssIncident(Incident):
    cells: tuple[int, ...] = ()  # the area's cells now (the last seen, while it clears)
    reported_cells: int = 0  # the number of cells at the last revision
    reported_share: float = 0.0
    opened_area_km2: float = 0.0


class GnssInterference(Family[GnssIncident]):
    spec = FamilySpec(KIND, "area", reasons=tuple(GnssReason))

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.tracks.add_column(_Q_LAST)
        self.tracks.add_column(_BAD_LAST)
        self.tracks.add_column(_SUSPECT)
        self.life.reason_columns[REASON] = _SUSPECT
        g = ctx.settings.gnss
        self._g = g
        # one judgement per quality instance, by id (decoders share one instance per value,
        # config.records.position_quality; the instances are kept so their ids stay theirs)
        self._verdicts: dict[int, int] = {id(None): 2}
        self._judged: list[PositionQuality | None] = [None]
        # observations of the window: tick time, slot, cell, degraded
        self._obs_t = np.empty(0, np.float64)
        self._obs_slot = np.empty(0, np.int64)
        self._obs_cell = np.empty(0, np.int64)
        self._obs_bad = np.empty(0, np.bool_)
        self._interfered: set[int] = set()
        # cells of areas no open incident follows: since when (an area opens once one of its cells
        # has been so for min_dwell_s: the picture of a starting feed, or a passing fragment, is not one)
        self._unclaimed: dict[int, float] = {}
        self._cell_stats: dict[int, tuple[int, int]] = {}  # cell -> (aircraft, degraded) at the last tick
        self._last_tick: float = -math.inf

    # -- state --------------------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        return {
            "obs_t": self._obs_t.copy(),
            "obs_slot": self._obs_slot.copy(),
            "obs_cell": self._obs_cell.copy(),
            "obs_bad": self._obs_bad.copy(),
            "interfered": sorted(self._interfered),
            "unclaimed": [[c, t] for c, t in sorted(self._unclaimed.items())],
            "last_tick": self._last_tick,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self._obs_t = np.asarray(state["obs_t"], np.float64).copy()
        self._obs_slot = np.asarray(state["obs_slot"], np.int64).copy()
        self._obs_cell = np.asarray(state["obs_cell"], np.int64).copy()
        self._obs_bad = np.asarray(state["obs_bad"], np.bool_).copy()
        self._interfered = {int(c) for c in state["interfered"]}
        self._unclaimed = {int(c): float(t) for c, t in state["unclaimed"]}
        self._last_tick = float(state["last_tick"])
        self._cell_stats = {}

    # -- what its events say ------------------------------------------------------------------

    def cells(self, inc: GnssIncident) -> tuple[str, ...]:
        return tuple(cell_text(c) for c in inc.cells)

    def summary(self, inc: GnssIncident, who: Sequence[str], zone: str) -> str:
        m = inc.metrics
        return (
            f"GNSS interference over {m['area_km2']:,.0f} km2 ({int(m['n_cells'])} cells): "
            f"{int(m['degraded_aircraft'])} of {int(m['aircraft'])} aircraft degraded ({m['share']:.0%})"
        )

    def closed_summary(self, inc: GnssIncident, who: Sequence[str], zone: str, words: str) -> str:
        return f"GNSS interference over {inc.metrics.get('area_km2', 0.0):,.0f} km2: {words}"

    # -- reports ------------------------------------------------------------------------------

    def _judge(self, q: PositionQuality | None) -> int:
        """0 good, 1 degraded, 2 the quality says nothing of the position (kept per distinct value)."""
        g = self._g
        if q is None:
            return 2
        if q.gnss_ok_before_s is not None:
            code = 1
        elif q.nic is None and q.nac_p is None and q.nuc_p is None:
            code = 2
        else:
            code = int(
                (q.nic is not None and q.nic < g.nic_below)
                or (q.nac_p is not None and q.nac_p < g.nac_p_below)
                or (q.nuc_p is not None and q.nuc_p < g.nuc_p_below)
            )
        if len(self._judged) >= 4096:  # many distinct instances (a feed that does not share them)
            self._verdicts, self._judged = {id(None): 2}, [None]
        self._verdicts[id(q)] = code
        self._judged.append(q)
        return code

    def on_reports(self, batch: ReportBatch) -> list[tuple[int, Event]]:
        air = np.nonzero(batch.domain == _AIR)[0]
        if not air.size:
            return []
        # per aircraft report: 0 good, 1 degraded, 2 says nothing of the position (or no quality)
        known = self._verdicts
        qs = [u.quality for u in batch.updates[air]]
        if qs.count(None) == len(qs):  # a feed that carries no position quality
            return []
        code = np.array([known.get(i, 3) for i in map(id, qs)], np.int8)
        miss = np.nonzero(code == 3)[0]
        for k in miss.tolist():
            code[k] = self._judge(qs[k])
        informative = code <= 1
        if not informative.any():
            return []
        slots, t = batch.slots[air], batch.t_s[air]
        np.fmax.at(self.tracks.column(_Q_LAST), slots[informative], t[informative])
        bad = code == 1
        if bad.any():
            np.fmax.at(self.tracks.column(_BAD_LAST), slots[bad], t[bad])
        return []

    # -- ticks --------------------------------------------------------------------------------

    def on_tick(self, t_s: float) -> list[Event]:
        g = self._g
        tr = self.tracks
        n = tr.n
        since = self._last_tick
        self._last_tick = t_s
        q_last = tr.column(_Q_LAST)[:n]
        with np.errstate(invalid="ignore"):
            fresh = np.nonzero(tr.live[:n] & (q_last > since) & (q_last <= t_s))[0]
        if fresh.size:
            bad = tr.column(_BAD_LAST)[fresh] > since
            lat, lon = tr.lat_deg[fresh], tr.lon_deg[fresh]
            cells = np.fromiter(
                (h3.latlng_to_cell(a, o, g.resolution) for a, o in zip(lat.tolist(), lon.tolist())), np.int64, fresh.size
            )
            self._obs_t = np.concatenate((self._obs_t, np.full(fresh.size, t_s)))
            self._obs_slot = np.concatenate((self._obs_slot, fresh.astype(np.int64)))
            self._obs_cell = np.concatenate((self._obs_cell, cells))
            self._obs_bad = np.concatenate((self._obs_bad, bad))
        keep = self._obs_t > t_s - g.window_s
        if not keep.all():
            self._obs_t, self._obs_slot = self._obs_t[keep], self._obs_slot[keep]
            self._obs_cell, self._obs_bad = self._obs_cell[keep], self._obs_bad[keep]
        if not self._obs_t.size and not self._interfered and not self.book.of_kind(KIND):
            return []
        self._judge_cells()
        events = self._follow_areas(t_s)
        if g.mark_suspect:
            self._mark_suspects(t_s)
        return events

    def _judge_cells(self) -> None:
        """Each observed cell: aircraft, degraded aircraft in the window; the interfered set."""
        g = self._g
        self._cell_stats = {}
        interfered: set[int] = set()
        if self._obs_t.size:
            # one row per (cell, aircraft): degraded if any of its observations there was
            order = np.lexsort((self._obs_slot, self._obs_cell))
            c, s, b = self._obs_cell[order], self._obs_slot[order], self._obs_bad[order]
            first = np.ones(c.size, bool)
            first[1:] = (c[1:] != c[:-1]) | (s[1:] != s[:-1])
            start = np.nonzero(first)[0]
            pair_bad = np.maximum.reduceat(b.astype(np.int8), start) > 0
            pc = c[start]
            cells, cstart, n_air = np.unique(pc, return_index=True, return_counts=True)
            n_bad = np.add.reduceat(pair_bad.astype(np.int64), cstart)
            for cell, na, nb in zip(cells.tolist(), n_air.tolist(), n_bad.tolist()):
                self._cell_stats[cell] = (na, nb)
                share = nb / na
                if na >= g.min_aircraft and nb >= g.min_degraded and share >= g.min_share:
                    interfered.add(cell)
                elif cell in self._interfered and nb >= 1 and share >= g.clear_share:
                    interfered.add(cell)
        self._interfered = interfered

    def _areas(self) -> list[tuple[int, ...]]:
        """The interfered cells as connected areas (ring-1 neighbours), each sorted, by first cell."""
        todo = set(self._interfered)
        out: list[tuple[int, ...]] = []
        while todo:
            seed = min(todo)
            todo.discard(seed)
            area, stack = [seed], [seed]
            while stack:
                for nb in h3.grid_disk(stack.pop(), 1):
                    if nb in todo:
                        todo.discard(nb)
                        area.append(nb)
                        stack.append(nb)
            out.append(tuple(sorted(area)))
        return sorted(out)

    def _metrics(self, cells: Sequence[int], t_s: float, inc: GnssIncident | None) -> dict[str, float]:
        n_air = n_bad = 0
        for c in cells:
            na, nb = self._cell_stats.get(c, (0, 0))
            n_air += na
            n_bad += nb
        area = sum(h3.cell_area(c, "km^2") for c in cells)
        lat, lon = zip(*(h3.cell_to_latlng(c) for c in cells))
        opened = inc.opened_t_s if inc is not None else t_s
        return {
            "n_cells": float(len(cells)),
            "area_km2": area,
            "aircraft": float(n_air),
            "degraded_aircraft": float(n_bad),
            "share": n_bad / n_air if n_air else 0.0,
            "centre_lat_deg": float(np.mean(lat)),
            "centre_lon_deg": float(np.mean(lon)),
            "start_t_s": opened,
            "duration_s": t_s - opened,
            "growth_km2": area - (inc.opened_area_km2 if inc is not None else area),
            "resolution": float(self._g.resolution),
            "window_s": self._g.window_s,
        }

    def _follow_areas(self, t_s: float) -> list[Event]:
        """Areas to incidents: continue, open, merge, clear."""
        events: list[Event] = []
        open_keys = self.book.of_kind(KIND)
        incs: dict[tuple[str, int, int], GnssIncident] = {}
        for key in open_keys:
            inc = self.book.get(key)
            assert isinstance(inc, GnssIncident)
            incs[key] = inc
        areas = self._areas()
        # each area to the open incident with which it shares the most cells (ties: the older key)
        taken: dict[tuple[str, int, int], tuple[int, tuple[int, ...]]] = {}
        fresh: list[tuple[int, ...]] = []
        merged: list[tuple[tuple[str, int, int], tuple[int, ...]]] = []
        for area in areas:
            cells = set(area)
            overlaps = sorted(
                ((len(cells & set(inc.cells)), key) for key, inc in incs.items() if cells & set(inc.cells)),
                key=lambda x: (-x[0], x[1]),
            )
            if not overlaps:
                fresh.append(area)
                continue
            n_common, best = overlaps[0]
            for _, other in overlaps[1:]:
                merged.append((other, area))
            if best not in taken or taken[best][0] < n_common:
                if best in taken:
                    fresh.append(taken[best][1])  # a split: the smaller part is an area of its own
                taken[best] = (n_common, area)
            else:
                fresh.append(area)
        merged_keys = {k for k, _ in merged if k not in taken}
        for key, area in merged:
            if key in merged_keys and key in self.book:
                inc = incs[key]
                inc.cells = area
                events.append(self.life.close(key, t_s, GnssReason.MERGED))
        for key, inc in incs.items():
            if key in merged_keys:
                continue
            if key in taken:
                inc.settle()
                area = taken[key][1]
                inc.cells = area
                inc.metrics = self._metrics(area, t_s, inc)
                m = inc.metrics
                moved_cells = abs(len(area) - inc.reported_cells) >= max(1.0, self.settings.update_min_change * inc.reported_cells)
                if moved_cells or abs(m["share"] - inc.reported_share) >= _SHARE_CHANGE:
                    inc.reported_cells, inc.reported_share = len(area), m["share"]
                    events.append(self.life.revise(inc, t_s))
            elif inc.dwelt(t_s, self.settings.min_dwell_s):
                events.append(self.life.close(key, t_s, GnssReason.CLEARED))
        unclaimed = {c: self._unclaimed.get(c, t_s) for area in fresh for c in area}
        self._unclaimed = unclaimed
        for area in sorted(fresh):
            if t_s - min(unclaimed[c] for c in area) < self.settings.min_dwell_s:
                continue
            for c in area:
                del unclaimed[c]
            key = (KIND, -1, area[0])
            if key in self.book:  # the key cell belongs to an area that is clearing: take the next free
                free = [c for c in area if (KIND, -1, c) not in self.book]
                if not free:
                    continue
                key = (KIND, -1, free[0])
            metrics = self._metrics(area, t_s, None)
            inc = self.life.new(GnssIncident, key, t_s, "warning", metrics, slots=())
            inc.event_id = derive_event_id(KIND, (cell_text(key[2]),), None, t_s)
            inc.cells = area
            inc.reported_cells, inc.reported_share = len(area), metrics["share"]
            inc.opened_area_km2 = metrics["area_km2"]
            events.extend(self.life.open(inc, t_s))
        return events

    def _mark_suspects(self, t_s: float) -> None:
        """Tracks whose latest position is in an open area: suspect until the next tick."""
        area_cells: set[int] = set()
        for key in self.book.of_kind(KIND):
            inc = self.book.get(key)
            assert isinstance(inc, GnssIncident)
            area_cells.update(inc.cells)
        if not area_cells:
            return
        tr = self.tracks
        n = tr.n
        lat_c, lon_c = zip(*(h3.cell_to_latlng(c) for c in area_cells))
        # a box around the cells' centres, widened by an edge length and a margin: a cheap screen
        edge_deg = h3.average_hexagon_edge_length(self._g.resolution, "km") / 111.0 * 1.5
        lat_lo, lat_hi = min(lat_c) - edge_deg, max(lat_c) + edge_deg
        coslat = max(math.cos(math.radians(max(abs(lat_lo), abs(lat_hi)))), 0.05)
        lon_lo, lon_hi = min(lon_c) - edge_deg / coslat, max(lon_c) + edge_deg / coslat
        lat, lon = tr.lat_deg[:n], tr.lon_deg[:n]
        with np.errstate(invalid="ignore"):
            near = np.nonzero(tr.live[:n] & (lat >= lat_lo) & (lat <= lat_hi) & (lon >= lon_lo) & (lon <= lon_hi))[0]
        if not near.size:
            return
        res = self._g.resolution
        inside = np.fromiter(
            (h3.latlng_to_cell(a, o, res) in area_cells for a, o in zip(lat[near].tolist(), lon[near].tolist())),
            bool,
            near.size,
        )
        slots = near[inside]
        until = t_s + self.settings.pair_interval_s
        tr.column(_SUSPECT)[slots] = until
        tr.suspect_until_s[slots] = np.fmax(tr.suspect_until_s[slots], until)
