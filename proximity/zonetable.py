"""The zones an engine watches, numbered in order of arrival, with their windows and grid index.

A zone given again (same ``zone_id``) keeps its number and replaces the old
definition. The arrays (sides and domains as bit sets, active windows) answer
for many reports at once which zones apply to them (``applicable``); the grid
(``proximity._zonegrid.ZoneGrid``) answers which zones contain them.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import shapely

from config.records import Zone

from ._zonegrid import ZoneGrid
from .tracks import DOMAIN_CODE, SIDE_CODE

__all__ = ["ZoneTable"]


class ZoneTable:
    """Numbered zones (0, 1, 2, ... in order of arrival) as arrays, and their grid."""

    def __init__(self) -> None:
        self.zones: list[Zone] = []
        self._no: dict[str, int] = {}
        self.side_bits = np.zeros(0, np.int64)
        self.domain_bits = np.zeros(0, np.int64)
        self.from_s = np.zeros(0)  # start of the active window (-inf: always)
        self.until_s = np.zeros(0)  # end of the active window (inf: never)
        self.geoms = np.empty(0, object)  # the zones' areas (prepared), for vectorised shapely calls
        self.grid = ZoneGrid()
        self.generation = 0  # rises with every change (an engine snapshot holds only while it is the same)

    def __len__(self) -> int:
        return len(self.zones)

    def __getitem__(self, zone_no: int) -> Zone:
        return self.zones[zone_no]

    def add(self, zones: Sequence[Zone]) -> list[int]:
        """Watch more zones (a known ``zone_id`` is replaced); their numbers, in the order given."""
        added: list[int] = []
        if zones:
            self.generation += 1
        for zone in zones:
            # an announced flight's corridor applies to no track: it is looked up by identity
            # (proximity.notification), never watched for entries
            side_bits = 0 if zone.kind == "corridor" else sum(1 << SIDE_CODE[s] for s in zone.sides)
            dom_bits = sum(1 << DOMAIN_CODE[d] for d in zone.domains)
            z = self._no.get(zone.zone_id)
            if z is None:
                z = len(self.zones)
                self._no[zone.zone_id] = z
                self.zones.append(zone)
                self.side_bits = np.append(self.side_bits, side_bits)
                self.domain_bits = np.append(self.domain_bits, dom_bits)
                self.from_s = np.append(self.from_s, -math.inf)
                self.until_s = np.append(self.until_s, math.inf)
                self.geoms = np.append(self.geoms, np.empty(1, object))
            else:
                self.zones[z] = zone
                self.side_bits[z] = side_bits
                self.domain_bits[z] = dom_bits
            self.from_s[z] = -math.inf if zone.active_from_s is None else zone.active_from_s
            self.until_s[z] = math.inf if zone.active_until_s is None else zone.active_until_s
            shapely.prepare(zone.geometry)
            self.geoms[z] = zone.geometry
            self.grid.set_zone(z, zone.geometry)
            added.append(z)
        return added

    def applicable(self, z: np.ndarray, side: np.ndarray, domain: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Zone ``z[i]`` watches a track of ``side[i]``/``domain[i]`` at time ``t[i]``."""
        return (
            ((self.side_bits[z] >> side.astype(np.int64)) & 1).astype(bool)
            & ((self.domain_bits[z] >> domain.astype(np.int64)) & 1).astype(bool)
            & (t >= self.from_s[z])
            & (t <= self.until_s[z])
        )

    def containing(
        self, lon: np.ndarray, lat: np.ndarray, side: np.ndarray, domain: np.ndarray, t: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pairs (point index, zone number) of the points inside a zone that applies to them."""
        if not self.zones:
            return np.empty(0, np.int64), np.empty(0, np.int32)
        pi, zi = self.grid.query(lon, lat)
        if pi.size:
            ok = self.applicable(zi, side[pi], domain[pi], t[pi])
            pi, zi = pi[ok], zi[ok]
        return pi, zi

    def ended_before(self, t_s: float) -> list[int]:
        """Zones whose active window ended before ``t_s``."""
        return np.nonzero(self.until_s < t_s)[0].tolist()  # type: ignore[no-any-return]
