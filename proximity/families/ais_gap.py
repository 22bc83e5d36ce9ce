"""``ais_gap``: a ship of interest falls silent on AIS near a zone while others around it are heard.

A ship of interest is an AIS track (track id ``ais:<MMSI>``, sea domain) whose
latest report says military or state, or whose type is on the watch list
(``watch_types``). At every tick, one that has not reported for
``[proximity.ais_gap] silence_s`` (600 s) of data time has gone dark when

* its last position lies inside a zone that watches its side and the sea at that
  time, or within ``zone_distance_m`` (20 km) of one (the nearest such zone is the
  incident's zone: geodesic distance, ``proximity.geometry.distance_to_geometry_m``);
* at least ``min_neighbours`` (2) other AIS ships whose latest report lies within
  ``neighbour_radius_m`` (20 km) of that last position are still heard: their latest
  report came after the ship fell silent and within the last ``silence_s``. The
  receiver is working, the silence is the ship's own (a receiver outage, or a feed
  that stopped, silences the neighbours too and raises nothing).

The incident opens at that tick (so within one ``pair_interval_s`` of the silence
reaching ``silence_s``), with the last position, ``silence_s`` and
``neighbours_heard``; the metrics are kept current at every tick and an update
is sent each time the silence doubles. It closes ``reappeared`` at the ship's
next report, with the position where it reappears and the geodesic distance from
the last position (``jump_m``: a long jump after a gap is itself suspicious), or
``forgotten`` at the tick that forgets the track (``forget_after_s``).

Staleness: a gap is silence, so the incident outlives the track going stale
(``stale_after_s.sea``, 900 s): the spec says ``outlives_stale`` and the engine
does not close it as ``stale``. The family reads the track's last report, which
the table keeps until the track is forgotten; ``silence_s`` may therefore be
above the stale time, and must be below the time the track is forgotten (the
larger of ``stale_after_s.sea`` and ``forget_after_s``; checked with the settings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import shapely

from ..events import Event
from ..geometry import distance_to_geometry_m
from ..lifecycle import CloseReason, Incident
from ..tracks import CATEGORY_CODE, DOMAIN_CODE, SIDE_CODE, ReportBatch
from ._pairs import GEOD
from .base import Context, Family, FamilySpec
from .close_approach import _chord

__all__ = ["KIND", "AisGap", "AisGapIncident", "AisGapReason"]

KIND = "ais_gap"
_SEA = DOMAIN_CODE["sea"]
# military and state: the category codes up to this one
_OF_INTEREST = CATEGORY_CODE["state"]
assert {CATEGORY_CODE["military"], CATEGORY_CODE["state"]} == set(range(_OF_INTEREST + 1))
# the screen of zones in degrees: a metre is at most this many degrees (110 km to a degree of
# latitude, less the cosine of the latitude for longitude; see _zone)
_M_PER_DEG = 110_000.0


class AisGapReason(CloseReason):
    REAPPEARED = "reappeared", "reporting again"  # the ship's next report
    FORGOTTEN = "forgotten", "never heard again (forgotten)"  # the track dead for forget_after_s


@dataclass(slots=True)
class AisGapIncident(Incident):
    last_t_s: float = 0.0  # the ship's last report before the silence
    last_lon_deg: float = math.nan
    last_lat_deg: float = math.nan
    next_update_s: float = math.inf  # the silence at which the next update is sent (doubling)


class AisGap(Family[AisGapIncident]):
    spec = FamilySpec(KIND, "track", reasons=tuple(AisGapReason), outlives_stale=True)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        watch = frozenset(t.upper() for t in ctx.settings.watch_types)
        self._watch = watch
        # an AIS ship of interest (AIS id, sea, military or state or a watched type), by its latest report
        self.tracks.add_column("ais_gap_interest", np.bool_, False)
        # whether the track's id is an AIS identity (0: not yet known, 1: AIS, 2: another scheme):
        # the id of a slot changes only when it is forgotten (the column's fill again)
        self.tracks.add_column("ais_source", np.int8, 0)
        # the zone number of the track's open ais_gap (-1: none)
        self.tracks.add_column("ais_gap_zone", np.int32, -1)
        # slot -> (track id, time) of the last report whose position no zone (of its side and the sea, at any
        # time) is near: nothing to measure again while the ship stays silent (a later report outdates the
        # entry: it no longer matches). Derived data.
        self._far: dict[int, tuple[str | None, float]] = {}

    # -- hooks ----------------------------------------------------------------------------

    def on_zones(self, added: Sequence[int], t_s: float | None) -> list[Event]:
        self._far.clear()
        return []

    def on_reports(self, batch: ReportBatch) -> list[tuple[int, Event]]:
        tr = self.tracks
        events: list[tuple[int, Event]] = []
        gap_zone = tr.column("ais_gap_zone")
        open_at = np.nonzero(gap_zone[batch.slots] >= 0)[0]
        for i in open_at.tolist():
            slot = int(batch.slots[i])
            z = int(gap_zone[slot])
            if z < 0:  # closed by an earlier report of this batch
                continue
            inc = self.book.get((KIND, slot, z))
            assert isinstance(inc, AisGapIncident)
            report = batch.report(i, tr)
            u = report.update
            _, _, jump = GEOD.inv(inc.last_lon_deg, inc.last_lat_deg, u.lon_deg, u.lat_deg)
            inc.metrics.update({
                "silence_s": u.t_s - inc.last_t_s,
                "reappeared_lat_deg": u.lat_deg,
                "reappeared_lon_deg": u.lon_deg,
                "jump_m": float(jump),
            })
            gap_zone[slot] = -1
            events.append((i, self.life.close(inc.key, u.t_s, AisGapReason.REAPPEARED, report)))
        latest = batch.updates[batch.last]
        slots = batch.last_slots
        source = tr.column("ais_source")
        new = np.nonzero(source[slots] == 0)[0]
        if new.size:
            source[slots[new]] = np.where(
                np.fromiter((latest[i].track_id.startswith("ais:") for i in new.tolist()), bool, new.size), 1, 2)
        interest = (source[slots] == 1) & (tr.domain[slots] == _SEA)
        of_interest = tr.category[slots] <= _OF_INTEREST
        ask = np.nonzero(interest & ~of_interest)[0]  # AIS ships of another category: a watched type?
        if ask.size and self._watch:
            of_interest[ask] = tr.types.flags(self._watch)[batch.last_type_no[ask]]
        tr.column("ais_gap_interest")[slots] = interest & of_interest
        return events

    def on_tick(self, t_s: float) -> list[Event]:
        tr = self.tracks
        n = tr.n
        s = self.settings
        g = s.ais_gap
        events: list[Event] = []
        gap_zone = tr.column("ais_gap_zone")
        # the open ones: forgotten at this tick, or their silence measured again
        for key in sorted(self.book.of_kind(KIND)):
            inc = self.book.get(key)
            assert isinstance(inc, AisGapIncident)
            slot = key[1]
            if not tr.live[slot] and t_s - tr.t_s[slot] > s.forget_after_s:
                gap_zone[slot] = -1
                inc.metrics["silence_s"] = t_s - inc.last_t_s
                events.append(self.life.close(key, t_s, AisGapReason.FORGOTTEN))
                continue
            inc.metrics["silence_s"] = t_s - inc.last_t_s
            inc.metrics["neighbours_heard"] = float(self._neighbours(slot, t_s))
            if inc.metrics["silence_s"] >= inc.next_update_s:
                while inc.next_update_s <= inc.metrics["silence_s"]:
                    inc.next_update_s *= 2.0
                events.append(self.life.revise(inc, t_s))
        dark = tr.column("ais_gap_interest")[:n] & (t_s - tr.t_s[:n] >= g.silence_s) & (gap_zone[:n] < 0)
        dark &= tr.live[:n] | (t_s - tr.t_s[:n] <= s.forget_after_s)  # not forgotten at this tick
        far = self._far
        for slot in np.nonzero(dark)[0].tolist():
            last_t = float(tr.t_s[slot])
            if far.get(slot) == (tr.ids[slot], last_t):
                continue
            z, d = self._zone(slot, t_s)
            if z is None:
                if d == math.inf:  # no zone near at any time: not again while the ship is silent
                    far[slot] = (tr.ids[slot], last_t)
                continue
            heard = self._neighbours(slot, t_s)
            if heard < g.min_neighbours:
                continue
            lon, lat = float(tr.lon_deg[slot]), float(tr.lat_deg[slot])
            metrics = {
                "last_lat_deg": lat,
                "last_lon_deg": lon,
                "silence_s": t_s - last_t,
                "neighbours_heard": float(heard),
                "zone_distance_m": d,
            }
            inc = self.life.new(AisGapIncident, (KIND, slot, z), t_s, "warning", metrics, slots=(slot,), zone_no=z)
            assert isinstance(inc, AisGapIncident)
            inc.last_t_s, inc.last_lon_deg, inc.last_lat_deg = last_t, lon, lat
            inc.next_update_s = 2.0 * g.silence_s
            gap_zone[slot] = z
            events.extend(self.life.open(inc, t_s))
        return events

    # -- the measures -----------------------------------------------------------------------

    def _zone(self, slot: int, t_s: float) -> tuple[int | None, float]:
        """The nearest zone watching the ship (its side, the sea) at ``t_s`` within ``zone_distance_m``
        of its last position, and the distance (0 inside); ``(None, inf)`` when no such zone is near
        at any time, ``(None, d)`` when one is near but not active at ``t_s``."""
        zt = self.zones
        if not len(zt):
            return None, math.inf
        tr = self.tracks
        lon, lat = float(tr.lon_deg[slot]), float(tr.lat_deg[slot])
        side = int(tr.side[slot])
        limit = self.settings.ais_gap.zone_distance_m
        zs = np.arange(len(zt))
        mine = ((zt.side_bits >> side) & 1).astype(bool) & ((zt.domain_bits >> _SEA) & 1).astype(bool)
        zs = zs[mine]
        if zs.size == 0:
            return None, math.inf
        # screen in degrees: within limit metres, the planar distance in degrees is at most
        # limit / (110 km cos(latitude + 2°)) (latitudes the path can reach for limits of tens of km)
        bound = limit / (_M_PER_DEG * math.cos(math.radians(min(abs(lat) + 2.0, 89.0))))
        deg = shapely.distance(zt.geoms[zs], shapely.Point(lon, lat))
        zs = zs[deg <= bound + 1e-9]
        best: tuple[float, int] | None = None
        active: tuple[float, int] | None = None
        for z in zs.tolist():
            d = distance_to_geometry_m(lon, lat, zt[z].geometry)
            if d > limit:
                continue
            if best is None or (d, z) < best:
                best = (d, z)
            if zt.from_s[z] <= t_s <= zt.until_s[z] and (active is None or (d, z) < active):
                active = (d, z)
        if active is not None:
            return active[1], active[0]
        return None, (math.inf if best is None else best[0])

    def _neighbours(self, slot: int, t_s: float) -> int:
        """Other AIS ships still heard: their latest report after ``slot`` fell silent and within the
        last ``silence_s`` before ``t_s``, and within ``neighbour_radius_m`` of its last position."""
        tr = self.tracks
        n = tr.n
        g = self.settings.ais_gap
        radius = g.neighbour_radius_m
        t = tr.t_s[:n]
        heard = (t > tr.t_s[slot]) & (t >= t_s - g.silence_s)
        others = np.nonzero((tr.column("ais_source")[:n] == 1) & (tr.domain[:n] == _SEA) & heard)[0]
        others = others[others != slot]
        if others.size == 0:
            return 0
        others = others[tr.xyz[others] @ tr.xyz[slot] >= 1.0 - _chord(radius) ** 2 / 2.0]
        if others.size == 0:
            return 0
        k = others.size
        _, _, d = GEOD.inv(np.full(k, tr.lon_deg[slot]), np.full(k, tr.lat_deg[slot]), tr.lon_deg[others],
                           tr.lat_deg[others])
        return int(np.count_nonzero(np.asarray(d) <= radius))

    # -- what its events say ---------------------------------------------------------------

    def closing(self, inc: AisGapIncident, t_s: float, reason: CloseReason) -> None:
        self.tracks.column("ais_gap_zone")[inc.slots[0]] = -1

    def summary(self, inc: AisGapIncident, who: Sequence[str], zone: str) -> str:
        m = inc.metrics
        where = f"in {zone}" if m["zone_distance_m"] == 0.0 else f"{m['zone_distance_m'] / 1000:.0f} km from {zone}"
        return (f"{who[0]} silent on AIS for {m['silence_s'] / 60:.0f} min {where}, last at "
                f"{m['last_lat_deg']:.4f} {m['last_lon_deg']:.4f}; {m['neighbours_heard']:.0f} ships around still heard")

    def closed_summary(self, inc: AisGapIncident, who: Sequence[str], zone: str, words: str) -> str:
        m = inc.metrics
        text = f"ais gap {who[0]}: {words} after {m['silence_s'] / 60:.0f} min"
        if "jump_m" in m:
            text += f", {m['jump_m'] / 1000:.1f} km from its last position"
        return text
