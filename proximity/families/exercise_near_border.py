"""``exercise_near_border``: a notified exercise area within a limit of a border line.

Zone-level: the incident is about an exercise zone (kind ``exercise``), not
about tracks, so its events have no subjects. The distance is the geodesic from
the zone to the nearest border line given to the engine (``borders=``): the
nearest points are found in an azimuthal equidistant projection centred on the
zone, the distance is then measured exactly
(``proximity.geometry.distance_to_geometry_m``). Rules: docs/engine.md.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from config.records import Severity

from ..events import Event
from ..geometry import LocalAeqd, distance_to_geometry_m
from ..lifecycle import Closed, CloseReason, Incident
from ..notification import notification_of
from .base import Context, Family, FamilySpec

__all__ = ["ExerciseNearBorder", "ExerciseReason"]

KIND = "exercise_near_border"
# The distance to the border changed by this fraction (of at least 1 km) to revise the incident.
_CHANGE = 0.1


class ExerciseReason(CloseReason):
    CLEARED = "cleared", "no longer predicted"  # a replaced definition of the zone is no longer near


class ExerciseNearBorder(Family[Incident]):
    spec = FamilySpec(KIND, "zone", reasons=(ExerciseReason.CLEARED, Closed.ZONE_INACTIVE))

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._borders = [b for b in ctx.borders if not b.is_empty]
        # exercise zone number -> (distance to border m, zone lon, lat, border lon, lat) when near
        self._near: dict[int, tuple[float, float, float, float, float]] = {}
        self._added_t_s: dict[int, float] = {}  # data time when each zone was (re)defined

    def on_zones(self, added: Sequence[int], t_s: float | None) -> list[Event]:
        for z in added:
            zone = self.zones[z]
            self._near.pop(z, None)
            self._added_t_s[z] = -math.inf if t_s is None else t_s
            if zone.kind == "exercise" and self._borders:
                near = self._border_distance(zone.geometry)
                if near is not None:
                    self._near[z] = near
        return [] if t_s is None else self._check(t_s, added)

    def get_state(self) -> dict[str, Any]:
        # _near follows from the zones and the borders; when each zone came does not
        return {"added_t_s": [[z, t] for z, t in self._added_t_s.items()]}

    def set_state(self, state: dict[str, Any]) -> None:
        self._added_t_s = {int(z): float(t) for z, t in state["added_t_s"]}

    def on_tick(self, t_s: float) -> list[Event]:
        return self._check(t_s, sorted(set(self._near) | {k[2] for k in self.book.of_kind(KIND)}))

    def summary(self, inc: Incident, who: Sequence[str], zone: str) -> str:
        return f"exercise {zone} {inc.metrics['distance_to_border_m'] / 1000:.1f} km from the border"

    def closed_summary(self, inc: Incident, who: Sequence[str], zone: str, words: str) -> str:
        return f"exercise {zone} near the border: {words}"

    def _check(self, T: float, zones: Sequence[int]) -> list[Event]:
        events: list[Event] = []
        until = self.zones.until_s
        for z in zones:
            key = (KIND, -1, z)
            inc = self.book.get(key)
            near = self._near.get(z)
            active = self.zones[z].is_active(T)
            if inc is not None and near is None:
                events.append(self.life.close(key, T, ExerciseReason.CLEARED))
            elif inc is not None and not active:
                events.append(self.life.close(key, min(T, float(until[z])), Closed.ZONE_INACTIVE))
            elif near is not None and active:
                d, zlon, zlat, blon, blat = near
                metrics = {
                    "distance_to_border_m": d,
                    "limit_m": self.settings.exercise_border_distance_m,
                    "zone_lon_deg": zlon,
                    "zone_lat_deg": zlat,
                    "border_lon_deg": blon,
                    "border_lat_deg": blat,
                }
                # across the border, or activity nobody notified in time (unnotified, snap): critical
                sev: Severity = "critical" if d == 0.0 or self._unannounced(z) else "warning"
                if inc is None:
                    # from when it is both known and active
                    t_open = max(float(self.zones.from_s[z]), self._added_t_s.get(z, -math.inf), -math.inf)
                    t_open = T if math.isinf(t_open) else min(t_open, T)
                    inc = self.life.new(Incident, key, t_open, sev, metrics, slots=(), zone_no=z)
                    events.extend(self.life.open(inc, t_open))
                elif abs(d - inc.metrics["distance_to_border_m"]) > _CHANGE * max(
                    inc.metrics["distance_to_border_m"], 1_000.0
                ) or sev != inc.severity:
                    inc.metrics = metrics
                    inc.severity = sev
                    events.append(self.life.revise(inc, T))
        return events

    def _unannounced(self, z: int) -> bool:
        zone = self.zones[z]
        note = notification_of(zone.zone_id, zone.properties, zone.active_from_s)
        return note is not None and note["status"] in ("unnotified", "snap_exercise")

    def _border_distance(self, area: BaseGeometry) -> tuple[float, float, float, float, float] | None:
        """Distance from an area to the nearest border line, if within the limit, with the two points."""
        limit = self.settings.exercise_border_distance_m
        c = area.centroid
        aeqd = LocalAeqd(c.x, c.y)
        minx, miny, maxx, maxy = area.bounds
        pad_lat = limit * 1.5 / 111_000.0
        pad_lon = pad_lat / max(math.cos(math.radians(max(abs(miny), abs(maxy)) + pad_lat)), 0.05)
        lines = [
            shapely.clip_by_rect(b, minx - pad_lon, miny - pad_lat, maxx + pad_lon, maxy + pad_lat)
            for b in self._borders
        ]
        lines = [g for g in lines if not g.is_empty]
        if not lines:
            return None
        border = shapely.union_all(lines)
        if border.intersects(area):
            p = shapely.intersection(border, area).representative_point()
            return (0.0, p.x, p.y, p.x, p.y)
        a_xy = aeqd.forward_geometry(area)
        b_xy = aeqd.forward_geometry(border)
        (ax, ay), (bx, by) = shapely.shortest_line(a_xy, b_xy).coords
        (za_lon, zb_lon), (za_lat, zb_lat) = aeqd.inverse(np.array([ax, bx]), np.array([ay, by]))
        d = distance_to_geometry_m(float(za_lon), float(za_lat), border)
        if d > limit:
            return None
        return (d, float(za_lon), float(za_lat), float(zb_lon), float(zb_lat))
