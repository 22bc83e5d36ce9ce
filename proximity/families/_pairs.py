"""What pair-level families share: the opposing tracks, thresholds by pair of domains, one step of a
measured incident, and subjects brought to the event time.

A pair incident's key is ``(kind, NATO slot, Russian slot)``; its subjects are
both tracks dead-reckoned to the event time (``align_max_age_s``: by at most
that for a measured separation, without limit for a prediction's start).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, ClassVar

import numpy as np
from pyproj import Geod

from config.records import Severity

from ..events import Event, Subject
from ..lifecycle import CloseReason, Incident, raise_severity
from ..tracks import DOMAIN_CODE, SIDE_CODE, AlignedTracks, Report
from .base import Context, Family

__all__ = ["GEOD", "PairFamily", "PairIncident"]

GEOD = Geod(ellps="WGS84")
_NATO = SIDE_CODE["nato"]
_RUSSIA = SIDE_CODE["russia"]
AIR = DOMAIN_CODE["air"]


@dataclass(slots=True)
class PairIncident(Incident):
    min_m: float = math.inf  # smallest distance (or CPA) seen
    reported_min_m: float = math.inf  # smallest distance (or CPA) reported


class PairFamily(Family[PairIncident]):
    """A family whose incidents are a NATO track and a Russian track."""

    # how far a track may be dead-reckoned to the event time; None: settings.align_max_age_s
    max_align_s: ClassVar[float | None] = None

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        th = ctx.settings.thresholds
        # lateral threshold by (domain a, domain b): air, sea, land
        self.lateral_m = np.array(
            [
                [th.air_air_lateral_m, th.air_sea_m, th.land_any_m],
                [th.air_sea_m, th.sea_sea_m, th.land_any_m],
                [th.land_any_m, th.land_any_m, th.land_any_m],
            ]
        )
        self.vertical_m = th.air_air_vertical_m
        self._max_age_s = ctx.settings.align_max_age_s if self.max_align_s is None else self.max_align_s
        self._measured: tuple[float, AlignedTracks, np.ndarray] | None = None  # see measured_at

    def aligned(self, slots: np.ndarray, t_s: float) -> AlignedTracks:
        """The tracks brought to data time ``t_s`` (docs/engine.md, "Tracks at one instant")."""
        return self.tracks.aligned(slots, t_s, self._max_age_s)

    @contextmanager
    def measured_at(self, t_s: float, at: AlignedTracks, row: np.ndarray) -> Iterator[None]:
        """While a tick or prediction slice makes its events: the tracks it brought to ``t_s``
        (``at``, by ``row`` of slot, -1: not among them), for the events' subjects."""
        self._measured = (t_s, at, row)
        try:
            yield
        finally:
            self._measured = None

    def subjects(self, inc: PairIncident, t_s: float, report: Report | None) -> tuple[Subject, ...]:
        """Both tracks at the event time (the positions compared); inside ``measured_at`` the
        positions measured there, the same numbers as aligning the two again without a geodesic
        call per event."""
        slots = np.array(inc.slots, np.int64)
        measured = self._measured
        if measured is not None and measured[0] == t_s:
            _, at, row = measured
            rows = row[slots]
            if (rows >= 0).all():
                both = at.take(rows)
                return tuple(self.life.latest_subject(s, both, k) for k, s in enumerate(inc.slots))
        at = self.aligned(slots, t_s)
        return tuple(self.life.latest_subject(s, at, k) for k, s in enumerate(inc.slots))

    def opposing(self) -> tuple[np.ndarray, np.ndarray]:
        """The live NATO and the live Russian tracks."""
        tr = self.tracks
        n = tr.n
        live = tr.live[:n]
        return np.nonzero(live & (tr.side[:n] == _NATO))[0], np.nonzero(live & (tr.side[:n] == _RUSSIA))[0]

    def open_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """The NATO and Russian slots of every open incident of this kind, in no order."""
        keys = self.book.keys_of_kind(self.spec.kind)
        n = len(keys)
        return np.fromiter((k[1] for k in keys), np.int64, n), np.fromiter((k[2] for k in keys), np.int64, n)

    def with_open(self, a: np.ndarray, b: np.ndarray, due: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Candidate pairs plus every open incident of this kind (``due``: those whose first track
        it marks), unique and sorted."""
        open_a, open_b = self.open_pairs()  # in no order: np.unique sorts below
        if due is not None:
            sel = due[open_a]
            open_a, open_b = open_a[sel], open_b[sel]
        m = self.tracks.n + 1
        key = np.unique(np.concatenate((a, open_a)) * m + np.concatenate((b, open_b)))
        return key // m, key % m

    def is_open(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Whether an incident of this kind is open for each pair (``a[i]``, ``b[i]``)."""
        open_a, open_b = self.open_pairs()
        m = self.tracks.n + 1
        return np.isin(a * m + b, open_a * m + open_b)

    def thresholds(
        self, a: np.ndarray, b: np.ndarray, alt_a: np.ndarray, alt_b: np.ndarray, slack: float = 1.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Lateral threshold (0: cannot be close) and vertical separation (NaN: not air-air) of pairs.

        ``slack`` widens the altitude ceiling of air-surface pairs (hysteresis).
        """
        tr = self.tracks
        da, db = tr.domain[a], tr.domain[b]
        thr = self.lateral_m[da, db]
        air_air = (da == AIR) & (db == AIR)
        vsep = np.where(air_air, np.abs(alt_a - alt_b), np.nan)
        ceiling = self.settings.thresholds.air_surface_max_alt_m
        if ceiling is not None:
            with np.errstate(invalid="ignore"):
                high = ((da == AIR) & (alt_a > ceiling * slack)) | ((db == AIR) & (alt_b > ceiling * slack))
            thr = np.where(high & ~air_air, 0.0, thr)
        return thr, vsep

    def separation(
        self, a: np.ndarray, b: np.ndarray, pa: AlignedTracks, pb: AlignedTracks
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Geodesic distance, lateral thresholds and vertical separation of pairs of slots
        (``a[i]``, ``b[i]``) at positions ``pa[i]``, ``pb[i]``."""
        _, _, dist = GEOD.inv(pa.lon_deg, pa.lat_deg, pb.lon_deg, pb.lat_deg)
        thr, vsep = self.thresholds(a, b, pa.alt_m, pb.alt_m)
        return np.asarray(dist, float), thr, vsep

    def follow(
        self,
        inc: PairIncident,
        t_s: float,
        value_m: float,
        severity: Severity,
        metrics: dict[str, float],
        *,
        apart: bool,
        reason: CloseReason,
    ) -> Event | None:
        """One step of an open incident measured by a distance to minimise (``value_m``).

        Closes with ``reason`` once ``apart`` held for ``min_dwell_s``; else revises it
        when the distance fell by ``update_min_change`` of the last reported one, or
        the severity changed (raised one level for a watched type).
        """
        s = self.settings
        if self.life.watched(inc.slots):
            severity = raise_severity(severity)
        inc.metrics = metrics
        if apart:
            return self.life.close(inc.key, t_s, reason) if inc.dwelt(t_s, s.min_dwell_s) else None
        inc.settle()
        if value_m < inc.reported_min_m * (1.0 - s.update_min_change) or severity != inc.severity:
            inc.severity = severity
            inc.reported_min_m = min(inc.reported_min_m, value_m)
            return self.life.revise(inc, t_s)
        return None

    def open_pair(
        self,
        key: tuple[str, int, int],
        t_s: float,
        value_m: float,
        severity: Severity,
        metrics: dict[str, float],
        make: Callable[..., PairIncident] = PairIncident,
        **state: float,
    ) -> list[Event]:
        """A new pair incident (of the record ``make``, its own fields ``state``), measured at
        ``value_m``, and its open revision."""
        inc = self.life.new(make, key, t_s, severity, metrics, slots=(key[1], key[2]))
        inc.min_m = inc.reported_min_m = value_m
        for name, value in state.items():
            setattr(inc, name, value)
        return self.life.open(inc, t_s)

