"""``track_integrity``: a track whose data is suspect (implausible kinematics, spoofing).

Every report is screened against its track's previous report, vectorised
(``proximity._integrity.screen``): a jump faster than its domain allows, one
identity at two places, a position stuck while the track reports speed. The
flagged reports are checked exactly, in arrival order. At every tick the recent
jump targets are searched for the pattern of GNSS spoofing (many tracks jumping
to one point or onto one circle). A track stays suspect for ``suspect_hold_s``
after its last anomaly; every event whose subject is suspect carries the flag
(``proximity.lifecycle.Lifecycle.subject``). Rules: docs/engine.md.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from pyproj import Geod

from config.records import Severity

from .._integrity import Screen, screen, spoof_clusters
from ..events import Event
from ..lifecycle import SEVERITIES, CloseReason, Incident
from ..tracks import DOMAIN_CODE, Report, ReportBatch
from .base import Context, Family, FamilySpec

__all__ = ["IntegrityIncident", "IntegrityReason", "TrackIntegrity"]

KIND = "track_integrity"
_GEOD = Geod(ellps="WGS84")
# metrics that keep the worst value seen; the others show the latest
_WORST_KEPT = frozenset({"jump_m", "implied_speed_mps", "two_places_m", "stuck_s", "spoof_cluster_tracks"})
# per-track state of the screens (columns of the track table)
_COLUMNS = ("stuck_since_s", "jump_from_lon_deg", "jump_from_lat_deg", "jump_from_t_s")


class IntegrityReason(CloseReason):
    CLEARED = "cleared", "data no longer suspect"  # no anomaly for suspect_hold_s


@dataclass(slots=True)
class IntegrityIncident(Incident):
    flags: set[str] = field(default_factory=set)  # the anomalies seen: jump, two_places, stuck, spoofing


class TrackIntegrity(Family[IntegrityIncident]):
    spec = FamilySpec(KIND, "track", reasons=tuple(IntegrityReason))

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        for name in _COLUMNS:
            self.tracks.add_column(name)
        vmax = {str(d): float(v) for d, v in ctx.settings.max_speed_mps.items()}
        self._max_speed = np.array([vmax.get(d, math.inf) for d in DOMAIN_CODE], dtype=np.float64)
        self._jumps: deque[tuple[float, int, float, float]] = deque()  # (t, slot, lon, lat) of recent jumps
        self._screened: Screen | None = None  # between screen and on_reports of one batch
        self._n_flagged = 0

    def stats(self) -> dict[str, int]:
        return {"integrity_flags": self._n_flagged}

    def get_state(self) -> dict[str, Any]:
        jumps = np.array(self._jumps, np.float64).reshape(-1, 4)
        return {"jumps": jumps, "flagged": self._n_flagged}

    def set_state(self, state: dict[str, Any]) -> None:
        jumps = np.asarray(state["jumps"], np.float64).reshape(-1, 4)
        self._jumps = deque((t, int(slot), lon, lat) for t, slot, lon, lat in jumps.tolist())
        self._n_flagged = int(state["flagged"])
        self._screened = None

    def summary(self, inc: IntegrityIncident, who: Sequence[str], zone: str) -> str:
        return f"{who[0]} data suspect: {', '.join(sorted(inc.flags))}"

    # -- reports ------------------------------------------------------------------------------

    def screen(self, batch: ReportBatch) -> None:
        s = self.settings
        self._screened = scr = screen(
            self.tracks,
            batch.slots,
            batch.lon_deg,
            batch.lat_deg,
            batch.t_s,
            batch.speed_mps,
            batch.domain,
            max_speed_mps=self._max_speed,
            jump_tolerance_m=s.jump_tolerance_m,
            stuck_radius_m=s.stuck_radius_m,
            stuck_min_s=s.stuck_min_s,
            stuck_min_speed_mps=s.stuck_min_speed_mps,
        )
        self.tracks.column("stuck_since_s")[batch.last_slots] = scr.stuck_since_s[batch.last]

    def on_reports(self, batch: ReportBatch) -> list[tuple[int, Event]]:
        scr, self._screened = self._screened, None
        assert scr is not None
        out: list[tuple[int, Event]] = []
        for i in np.nonzero(scr.jump | scr.stuck)[0].tolist():
            out.extend((i, e) for e in self._anomaly(batch, i, scr))
        return out

    def _anomaly(self, batch: ReportBatch, i: int, scr: Screen) -> list[Event]:
        """A flagged report: check it exactly, then open or revise the track's integrity incident."""
        s = self.settings
        tr = self.tracks
        slot = int(batch.slots[i])
        u = batch.updates[i]
        found: dict[str, dict[str, float]] = {}
        if scr.jump[i]:
            plon, plat, pt = float(scr.prev_lon_deg[i]), float(scr.prev_lat_deg[i]), float(scr.prev_t_s[i])
            d = float(_GEOD.inv(plon, plat, u.lon_deg, u.lat_deg)[2])
            dt = u.t_s - pt
            vmax = float(self._max_speed[DOMAIN_CODE[u.domain]])
            if d > vmax * dt + s.jump_tolerance_m:
                implied = d / max(dt, 1.0)
                from_lon, from_lat, from_t = (tr.column(c) for c in _COLUMNS[1:])
                back = False
                if not math.isnan(from_t[slot]):
                    d_back = float(_GEOD.inv(from_lon[slot], from_lat[slot], u.lon_deg, u.lat_deg)[2])
                    back = d_back <= vmax * (u.t_s - float(from_t[slot])) + s.jump_tolerance_m
                if dt < 1.0 or back:
                    found["two_places"] = {"two_places_m": d}
                else:
                    found["jump"] = {"jump_m": d, "implied_speed_mps": implied, "max_speed_mps": vmax}
                from_lon[slot], from_lat[slot], from_t[slot] = plon, plat, pt
                self._jumps.append((u.t_s, slot, u.lon_deg, u.lat_deg))
        if scr.stuck[i]:
            found["stuck"] = {"stuck_s": u.t_s - float(scr.stuck_since_s[i]), "reported_speed_mps": u.speed_mps or 0.0}
        if not found:
            return []
        self._n_flagged += 1
        batch.note_suspect(i, float(tr.suspect_until_s[slot]), u.t_s + s.suspect_hold_s)
        tr.suspect_until_s[slot] = u.t_s + s.suspect_hold_s
        return self._flag(slot, u.t_s, found, "warning", batch.report(i, tr))

    def _flag(
        self, slot: int, t_s: float, found: dict[str, dict[str, float]], severity: Severity, report: Report | None
    ) -> list[Event]:
        key = (KIND, slot, -1)
        inc = self.book.get(key)
        fresh = inc is None
        if inc is None:
            inc = self.life.new(IntegrityIncident, key, t_s, severity, {}, slots=(slot,))
        assert isinstance(inc, IntegrityIncident)
        new_flags = set(found) - inc.flags
        for metrics in found.values():
            for k, v in metrics.items():
                inc.metrics[k] = max(inc.metrics.get(k, v), v) if k in _WORST_KEPT else v
        inc.flags |= set(found)
        if SEVERITIES.index(severity) > SEVERITIES.index(inc.severity):
            inc.severity = severity
            new_flags.add("severity")
        if fresh:
            return self.life.open(inc, t_s, report)
        if new_flags:
            return [self.life.revise(inc, t_s, report)]
        return []

    # -- ticks --------------------------------------------------------------------------------

    def on_tick(self, t_s: float) -> list[Event]:
        s = self.settings
        tr = self.tracks
        events: list[Event] = []
        while self._jumps and self._jumps[0][0] < t_s - s.spoof_window_s:
            self._jumps.popleft()
        if len(self._jumps) >= s.spoof_min_tracks:
            arr = np.array(self._jumps)
            clusters = spoof_clusters(
                arr[:, 1].astype(np.int64),
                arr[:, 2],
                arr[:, 3],
                min_tracks=s.spoof_min_tracks,
                link_m=s.spoof_link_m,
                point_radius_m=s.spoof_point_radius_m,
                circle_tolerance_m=s.spoof_circle_tolerance_m,
            )
            for c in clusters:
                found = {
                    "spoofing": {
                        "spoof_cluster_tracks": float(len(c.slots)),
                        "spoof_radius_m": c.radius_m,
                        "spoof_centre_lon_deg": c.centre_lon_deg,
                        "spoof_centre_lat_deg": c.centre_lat_deg,
                    }
                }
                for slot in c.slots:
                    if not tr.live[slot]:
                        continue
                    tr.suspect_until_s[slot] = max(tr.suspect_until_s[slot], t_s + s.suspect_hold_s)
                    events.extend(self._flag(slot, t_s, found, "critical", None))
        for key in self.book.of_kind(KIND):
            if tr.suspect_until_s[key[1]] < t_s:
                events.append(self.life.close(key, t_s, IntegrityReason.CLEARED))
        return events
