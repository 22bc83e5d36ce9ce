"""``zone_entry``: a track inside a zone that watches its side and domain, from entry to exit.

Every report is answered for zone membership at once (``ZoneTable.containing``,
numpy and the zone grid); only the reports inside a zone, or of a track with an
open entry, step through the state machine in arrival order. The exit is the
closing revision of the entry (``exit``): the track must be farther outside
than the exit margin (the zone grown by ``max(zone_exit_margin_m,
hysteresis_margin * buffer_m)``, its own grid) on reports spanning
``min_dwell_s``. Rules: docs/engine.md.

In a ``territorial`` zone the family also follows the track's passage
(UNCLOS art. 18: continuous and expeditious; docs/engine.md, "Innocent
passage"): the entry starts as innocent passage; it is no longer when the
track has been slower than ``passage_min_speed_mps`` for ``passage_stop_s``
(stopped), or when, after ``passage_off_course_s`` inside, the net distance
from its entry point is under ``passage_min_straightness`` of the distance it
ran (loitering, off a direct course). The rule profile may raise an entry only
then (``not_innocent_passage``): the incident is revised, which raises it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry.base import BaseGeometry

from ..events import Event
from ..geometry import geodesic_buffer
from ..lifecycle import CloseReason, Incident
from ..tracks import Report, ReportBatch
from .._zonegrid import ZoneGrid
from .base import Context, Family, FamilySpec

__all__ = ["ZoneEntry", "ZoneEntryIncident", "ZoneEntryReason"]

KIND = "zone_entry"
_GEOD = Geod(ellps="WGS84")


class ZoneEntryReason(CloseReason):
    EXIT = "exit", "left"  # outside the exit margin for min_dwell_s


@dataclass(slots=True)
class ZoneEntryIncident(Incident):
    last_inside_t_s: float = 0.0  # time of the last report inside the zone
    # passage through a territorial zone (NaN when not followed)
    entry_lon_deg: float = math.nan
    entry_lat_deg: float = math.nan
    last_lon_deg: float = math.nan
    last_lat_deg: float = math.nan
    run_m: float = 0.0  # distance run inside, report to report
    slow_since_s: float = math.nan  # since when slower than passage_min_speed_mps


class ZoneEntry(Family[ZoneEntryIncident]):
    spec = FamilySpec(KIND, "track", reasons=tuple(ZoneEntryReason), closes_with_zone=True)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.rules = ctx.life.profile.context
        # only a profile that asks about innocent passage has it followed
        self._follow_passage = any(r.not_innocent_passage for r in ctx.life.profile.profile.rules)
        self._margin_m: list[float] = []  # exit margin by zone number
        self._outer = ZoneGrid()  # each zone grown by its exit margin
        self._open: dict[int, list[int]] = {}  # slot -> zones of its open entries, in order of entry
        self.tracks.add_column("open_zone_entries", np.int32, 0)

    def on_zones(self, added: Sequence[int], t_s: float | None) -> list[Event]:
        s = self.settings
        for z in added:
            zone = self.zones[z]
            margin = max(s.zone_exit_margin_m, s.hysteresis_margin * zone.buffer_m)
            if z == len(self._margin_m):
                self._margin_m.append(margin)
            else:
                self._margin_m[z] = margin
            outer = _grown(shapely.to_wkb(zone.geometry), margin) if margin > 0 else zone.geometry
            self._outer.set_zone(z, outer)
        return []

    def get_state(self) -> dict[str, Any]:
        return {"open": [[slot, list(zones)] for slot, zones in self._open.items()]}

    def set_state(self, state: dict[str, Any]) -> None:
        self._open = {int(slot): [int(z) for z in zones] for slot, zones in state["open"]}

    def summary(self, inc: ZoneEntryIncident, who: Sequence[str], zone: str) -> str:
        return f"{who[0]} entered {zone}"

    def closed_summary(self, inc: ZoneEntryIncident, who: Sequence[str], zone: str, words: str) -> str:
        return f"{who[0]} {words}: {zone}"

    def closing(self, inc: ZoneEntryIncident, t_s: float, reason: CloseReason) -> None:
        slot, z = inc.key[1], inc.key[2]
        self._open[slot].remove(z)
        if not self._open[slot]:
            del self._open[slot]
        self.tracks.column("open_zone_entries")[slot] -= 1
        inc.metrics["dwell_s"] = inc.last_inside_t_s - inc.opened_t_s

    def on_reports(self, batch: ReportBatch) -> list[tuple[int, Event]]:
        slots, lon, lat, t = batch.slots, batch.lon_deg, batch.lat_deg, batch.t_s
        pi, zi = self.zones.containing(lon, lat, batch.side, batch.domain, t)
        watched = self.tracks.column("open_zone_entries")[slots] > 0
        if pi.size:
            watched[pi] = True
            watched |= np.isin(slots, slots[pi])  # a track may enter and leave within the batch
        oi = np.nonzero(watched)[0]
        if oi.size == 0:
            return []
        inside: dict[int, list[int]] = {}
        for i, z in zip(pi.tolist(), zi.tolist()):
            inside.setdefault(i, []).append(z)
        outer: dict[int, set[int]] = {}
        po, zo = self._outer.query(lon[oi], lat[oi])
        for i, z in zip(oi[po].tolist(), zo.tolist()):
            outer.setdefault(i, set()).add(z)
        events: list[tuple[int, Event]] = []
        dwell_s = self.settings.min_dwell_s
        for i in oi.tolist():
            slot = int(slots[i])
            ti = float(t[i])
            ins = inside.get(i, ())
            for z in ins:
                inc = self.book.get((KIND, slot, z))
                if inc is None:
                    events.extend((i, e) for e in self._enter(slot, z, batch.report(i, self.tracks)))
                else:
                    assert isinstance(inc, ZoneEntryIncident)
                    inc.settle()
                    inc.last_inside_t_s = ti
                    if inc.innocent_passage and self._passage(inc, batch.updates[i]) and inc.muted is not None:
                        # judged again: the profile may raise it now
                        events.append((i, self.life.revise(inc, ti, batch.report(i, self.tracks))))
            open_z = self._open.get(slot)
            if not open_z:
                continue
            band = outer.get(i, set())
            for z in list(open_z):
                if z in ins:
                    continue
                inc = self.book.get((KIND, slot, z))
                assert inc is not None
                if z in band:
                    inc.settle()
                elif inc.dwelt(ti, dwell_s):
                    events.append((i, self.life.close(inc.key, ti, ZoneEntryReason.EXIT, batch.report(i, self.tracks))))
        return events

    def _passage(self, inc: ZoneEntryIncident, u: Any) -> bool:
        """Follow a track through a territorial zone; True when its passage stops being innocent."""
        r = self.rules
        t = u.t_s
        inc.run_m += float(_GEOD.inv(inc.last_lon_deg, inc.last_lat_deg, u.lon_deg, u.lat_deg)[2])
        inc.last_lon_deg, inc.last_lat_deg = u.lon_deg, u.lat_deg
        slow = u.speed_mps is not None and u.speed_mps < r.passage_min_speed_mps
        if not slow:
            inc.slow_since_s = math.nan
        elif math.isnan(inc.slow_since_s):
            inc.slow_since_s = t
        stopped = slow and t - inc.slow_since_s >= r.passage_stop_s
        loiter = False
        if t - inc.opened_t_s >= r.passage_off_course_s and inc.run_m > 0:
            net_m = float(_GEOD.inv(inc.entry_lon_deg, inc.entry_lat_deg, u.lon_deg, u.lat_deg)[2])
            loiter = net_m < r.passage_min_straightness * inc.run_m
        if stopped or loiter:
            inc.innocent_passage = False
            inc.metrics["passage_stopped"] = float(stopped)
            inc.metrics["passage_run_m"] = inc.run_m
            return True
        return False

    def _enter(self, slot: int, z: int, report: Report) -> list[Event]:
        zone = self.zones[z]
        t_s = report.update.t_s
        metrics = {"buffer_m": zone.buffer_m, "exit_margin_m": self._margin_m[z]}
        inc = self.life.new(ZoneEntryIncident, (KIND, slot, z), t_s, zone.severity, metrics, slots=(slot,), zone_no=z)
        inc.last_inside_t_s = t_s
        if zone.kind == "territorial" and self._follow_passage:
            u = report.update
            inc.innocent_passage = True
            inc.entry_lon_deg = inc.last_lon_deg = u.lon_deg
            inc.entry_lat_deg = inc.last_lat_deg = u.lat_deg
            self._passage(inc, u)
        self._open.setdefault(slot, []).append(z)
        self.tracks.column("open_zone_entries")[slot] += 1
        return self.life.open(inc, t_s, report)


@functools.lru_cache(maxsize=256)
def _grown(wkb: bytes, margin_m: float) -> BaseGeometry:
    """A zone (as WKB) grown by its exit margin; kept because every engine of a process (one per
    partition in an engine worker) grows the same catalogue, and growing is most of an engine's
    start-up."""
    return geodesic_buffer(shapely.from_wkb(wkb), margin_m, max_error_m=0.02 * margin_m)
