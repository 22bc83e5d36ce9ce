"""``zone_entry``: a track inside a zone that watches its side and domain, from entry to exit.

Every report is answered for zone membership at once (``ZoneTable.containing``,
numpy and the zone grid); only the reports inside a zone, or of a track with an
open entry, step through the state machine in arrival order. The exit is the
closing revision of the entry (``exit``): the track must be farther outside
than the exit margin (the zone grown by ``max(zone_exit_margin_m,
hysteresis_margin * buffer_m)``, its own grid) on reports spanning
``min_dwell_s``. Rules: docs/engine.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..events import Event
from ..geometry import geodesic_buffer
from ..lifecycle import CloseReason, Incident
from ..tracks import Report, ReportBatch
from .._zonegrid import ZoneGrid
from .base import Context, Family, FamilySpec

__all__ = ["ZoneEntry", "ZoneEntryIncident", "ZoneEntryReason"]

KIND = "zone_entry"


class ZoneEntryReason(CloseReason):
    EXIT = "exit", "left"  # outside the exit margin for min_dwell_s


@dataclass(slots=True)
class ZoneEntryIncident(Incident):
    last_inside_t_s: float = 0.0  # time of the last report inside the zone


class ZoneEntry(Family[ZoneEntryIncident]):
    spec = FamilySpec(KIND, "track", reasons=tuple(ZoneEntryReason), closes_with_zone=True)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
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
            outer = geodesic_buffer(zone.geometry, margin, max_error_m=0.02 * margin) if margin > 0 else zone.geometry
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

    def _enter(self, slot: int, z: int, report: Report) -> list[Event]:
        zone = self.zones[z]
        t_s = report.update.t_s
        metrics = {"buffer_m": zone.buffer_m, "exit_margin_m": self._margin_m[z]}
        inc = self.life.new(ZoneEntryIncident, (KIND, slot, z), t_s, zone.severity, metrics, slots=(slot,), zone_no=z)
        inc.last_inside_t_s = t_s
        self._open.setdefault(slot, []).append(z)
        self.tracks.column("open_zone_entries")[slot] += 1
        return self.life.open(inc, t_s, report)
