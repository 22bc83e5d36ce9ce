"""Spatial cells: how reports are spread over engine workers, and which worker raises an event.

Scale-out (docs/scaling.md) runs the engine as several workers, each on the reports of
some cells of the globe. A report belongs to the cell of its position (its *own* cell);
it is also copied, as a *halo* copy, to every other cell within a radius of it, so
that a worker sees every track that may form a pair with one of its own, and every
worker judges its own tracks with the same neighbours a single engine would see.

The grid: latitude bands ``cell_deg`` high, from the south pole; each band cut into
equal columns of longitude, as many as make them at most ``cell_deg`` of arc wide on
the band's edge nearer the equator (cells are about square, a few near the poles).
Cell ids are integers, ``band * MAX_COLUMNS + column``.

Cells go to partitions in one of two ways, the same on every worker:

* hashed (no ``region_cuts``): a fixed mix of the cell id; any traffic spreads evenly over
  many partitions, but neighbouring cells mostly land on different partitions, so most
  halo copies cross partitions;
* regions (``region_cuts``, made by ``closewatch scale plan`` from a recording of the
  traffic): the cells in the order of a Hilbert curve through their centres, cut into
  runs of about equal traffic. A run is a compact region (the curve keeps neighbours
  together), so halo copies cross partitions only on the regions' edges, and each
  partition carries about the same number of reports.

The halo test is exact in the safe direction: a cell is listed when a lower bound of
its great-circle distance from the report is within the radius, the larger of

* the distance in latitude to the band (no path between two latitudes is shorter), and
* the distance to the nearer of the great circles through the cell's edge meridians
  (a point outside a cell's longitudes reaches it only across one of them:
  ``sin d = cos(lat) * |sin(dlon)|``),

so a cell is never left out; a few cells beyond the radius near their corners are in.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import h3
import numpy as np

from config.records import TrackUpdate
from config.settings import ProximitySettings
from proximity._integrity import EARTH_RADIUS_M
from proximity.events import Event

__all__ = ["CURVE_KEYS", "CellGrid", "EARTH_RADIUS_M", "MAX_COLUMNS", "Routes", "halo_radius_m", "hilbert_index",
           "hilbert_keys", "owner_partitions", "pair_reach_m", "partition_of", "plan_regions", "route_reports"]

MAX_COLUMNS = 1 << 20


CURVE_ORDER = 16  # the Hilbert curve's lattice: 2**16 steps of longitude and of latitude
CURVE_KEYS = 1 << (2 * CURVE_ORDER)  # curve positions run from 0 to CURVE_KEYS - 1


def hilbert_keys(lon_deg: np.ndarray, lat_deg: np.ndarray) -> np.ndarray:
    """The position of each point along a Hilbert curve over the (longitude, latitude) rectangle.

    The classic conversion of lattice coordinates to a distance along the curve, one bit
    level at a time from the top: the quadrant adds its share, then the point is turned
    into the quadrant's own frame (Hilbert 1891; Butz 1971).
    """
    side = 1 << CURVE_ORDER
    x = np.clip(((np.asarray(lon_deg, np.float64) + 180.0) % 360.0) / 360.0 * side, 0, side - 1).astype(np.int64)
    y = np.clip((np.asarray(lat_deg, np.float64) + 90.0) / 180.0 * side, 0, side - 1).astype(np.int64)
    return hilbert_index(x, y, CURVE_ORDER)


def hilbert_index(x: np.ndarray, y: np.ndarray, order: int) -> np.ndarray:
    """The distance along the Hilbert curve of order ``order`` of lattice points ``(x, y)``, each
    in ``[0, 2**order)``."""
    side = 1 << order
    x, y = np.asarray(x, np.int64), np.asarray(y, np.int64)
    d = np.zeros(x.shape, np.int64)
    s = side >> 1
    while s > 0:
        rx = (x & s) > 0
        ry = (y & s) > 0
        d += s * s * ((3 * rx.astype(np.int64)) ^ ry.astype(np.int64))
        flip = ~ry & rx
        x = np.where(flip, side - 1 - x, x)
        y = np.where(flip, side - 1 - y, y)
        x, y = np.where(~ry, y, x), np.where(~ry, x, y)
        s >>= 1
    return d


@dataclass(frozen=True)
class CellGrid:
    """Cells of about ``cell_deg`` of arc on a side (see the module docstring); with
    ``region_cuts`` (ascending positions on the Hilbert curve, one fewer than the partitions)
    the partitions are regions, else hashed cells."""

    cell_deg: float = 2.0
    region_cuts: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not (0.01 <= self.cell_deg <= 90.0) or not math.isfinite(self.cell_deg):
            raise ValueError(f"cell_deg must be between 0.01 and 90 degrees, not {self.cell_deg}")
        cuts = np.asarray(self.region_cuts, np.int64)
        if cuts.size and (np.any(np.diff(cuts) < 0) or cuts[0] < 0 or cuts[-1] > CURVE_KEYS):
            raise ValueError(f"region_cuts must ascend between 0 and {CURVE_KEYS}")
        object.__setattr__(self, "_cuts", cuts)
        n_bands = math.ceil(180.0 / self.cell_deg)
        south = -90.0 + self.cell_deg * np.arange(n_bands)
        north = np.minimum(south + self.cell_deg, 90.0)
        # the edge nearer the equator is the widest: columns at most cell_deg of arc wide there
        widest = np.where((south < 0) & (north > 0), 0.0, np.minimum(np.abs(south), np.abs(north)))
        cols = np.maximum(1, np.ceil(360.0 * np.cos(np.radians(widest)) / self.cell_deg - 1e-9)).astype(np.int64)
        object.__setattr__(self, "_n_bands", n_bands)
        object.__setattr__(self, "_south", south)
        object.__setattr__(self, "_north", north)
        object.__setattr__(self, "_columns", cols)

    @property
    def n_bands(self) -> int:
        return int(self._n_bands)  # type: ignore[attr-defined]

    def columns(self, band: np.ndarray) -> np.ndarray:
        """How many columns each band has."""
        return self._columns[band]  # type: ignore[attr-defined,no-any-return]

    def _band(self, lat_deg: np.ndarray) -> np.ndarray:
        return np.clip(np.floor((lat_deg + 90.0) / self.cell_deg).astype(np.int64), 0, self.n_bands - 1)

    def _column(self, band: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
        n = self.columns(band)
        frac = ((lon_deg + 180.0) % 360.0) / 360.0
        return np.minimum(np.floor(frac * n).astype(np.int64), n - 1)

    def cells(self, lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
        """The own cell of each position."""
        lat = np.asarray(lat_deg, np.float64)
        band = self._band(lat)
        return band * MAX_COLUMNS + self._column(band, np.asarray(lon_deg, np.float64))

    def bounds(self, cell: int) -> tuple[float, float, float, float]:
        """(west, south, east, north) of a cell in degrees."""
        band, col = divmod(int(cell), MAX_COLUMNS)
        n = int(self._columns[band])  # type: ignore[attr-defined]
        width = 360.0 / n
        return (-180.0 + col * width, float(self._south[band]), -180.0 + (col + 1) * width,  # type: ignore[attr-defined]
                float(self._north[band]))  # type: ignore[attr-defined]

    def centres(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(longitude, latitude) of each cell's centre in degrees."""
        band, col = np.divmod(np.asarray(cells, np.int64), MAX_COLUMNS)
        lon = -180.0 + (col + 0.5) * (360.0 / self.columns(band))
        lat = (self._south[band] + self._north[band]) / 2.0  # type: ignore[attr-defined]
        return lon, lat

    def curve_keys(self, cells: np.ndarray) -> np.ndarray:
        """Each cell's position on the Hilbert curve (its centre's)."""
        return hilbert_keys(*self.centres(cells))

    def partitions(self, cells: np.ndarray, n_partitions: int) -> np.ndarray:
        """The partition of each cell: its region's with ``region_cuts``, else ``partition_of``."""
        if not self.region_cuts:
            return partition_of(cells, n_partitions)
        if len(self.region_cuts) != n_partitions - 1:
            raise ValueError(f"{len(self.region_cuts)} region_cuts for {n_partitions} partitions: "
                             f"there must be one fewer")
        cuts: np.ndarray = self._cuts  # type: ignore[attr-defined]
        return np.searchsorted(cuts, self.curve_keys(cells), side="right")

    def halo(self, lat_deg: np.ndarray, lon_deg: np.ndarray, radius_m: np.ndarray | float
             ) -> tuple[np.ndarray, np.ndarray]:
        """Every cell other than its own within ``radius_m`` of each position (see the module docstring).

        Returns ``(index, cell)``: position ``index[k]`` has cell ``cell[k]`` in its halo.
        """
        lat = np.asarray(lat_deg, np.float64)
        lon = np.asarray(lon_deg, np.float64)
        n = lat.size
        radius = np.broadcast_to(np.asarray(radius_m, np.float64), (n,))
        ang = np.minimum(radius / EARTH_RADIUS_M, math.pi)  # radians of arc
        own = self.cells(lat, lon)
        band0 = self._band(lat)
        reach_bands = int(np.ceil(np.degrees(ang.max(initial=0.0)) / self.cell_deg)) + 1
        out_i: list[np.ndarray] = []
        out_c: list[np.ndarray] = []
        phi = np.radians(lat)
        for off in range(-reach_bands, reach_bands + 1):
            band = band0 + off
            ok = (band >= 0) & (band < self.n_bands)
            b = np.where(ok, band, 0)
            south, north = self._south[b], self._north[b]  # type: ignore[attr-defined]
            gap_deg = np.maximum(np.maximum(south - lat, lat - north), 0.0)
            ok &= np.radians(gap_deg) <= ang
            if not ok.any():
                continue
            idx = np.nonzero(ok)[0]
            b, a, p = b[idx], ang[idx], phi[idx]
            ncol = self.columns(b)
            width = 360.0 / ncol
            # longitudes within reach: cos(lat) * |sin(dlon)| <= sin(radius); every column when the
            # radius reaches a pole or half the globe
            s = np.sin(np.minimum(a, math.pi / 2))
            c = np.cos(p)
            all_cols = (a >= math.pi / 2) | (c <= s) | (np.abs(lat[idx]) + np.degrees(a) >= 90.0)
            dlon = np.degrees(np.arcsin(np.clip(s / np.maximum(c, 1e-300), 0.0, 1.0)))
            dlon = np.where(all_cols, 180.0, dlon)
            x = (lon[idx] + 180.0) % 360.0
            first = np.floor((x - dlon) / width).astype(np.int64)
            last = np.floor((x + dlon) / width).astype(np.int64)
            count = np.where(all_cols, ncol, np.minimum(last - first + 1, ncol))
            first = np.where(all_cols, 0, first)
            rep = np.repeat(np.arange(idx.size), count)
            step = np.arange(rep.size) - np.repeat(np.cumsum(count) - count, count)
            col = (first[rep] + step) % ncol[rep]
            cell = b[rep] * MAX_COLUMNS + col
            keep = cell != own[idx[rep]]
            out_i.append(idx[rep][keep])
            out_c.append(cell[keep])
        if not out_i:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(out_i), np.concatenate(out_c)


def partition_of(cells: np.ndarray, n_partitions: int) -> np.ndarray:
    """The partition of each cell: a fixed mix of its id (splitmix64) modulo ``n_partitions``.

    Fixed on every machine and version (not Python's ``hash``): the ingest workers and the
    engine workers must agree on it.
    """
    if n_partitions < 1:
        raise ValueError(f"n_partitions must be at least 1, not {n_partitions}")
    z = np.asarray(cells, np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z % np.uint64(n_partitions)).astype(np.int64)


def pair_reach_m(p: ProximitySettings) -> float:
    """The widest distance at which a family compares two tracks' reports (hysteresis included)."""
    t, sh = p.thresholds, p.shadowing
    widest = max(t.air_air_lateral_m, t.sea_sea_m, t.air_sea_m, t.land_any_m, sh.sea_band_m[1], sh.air_band_m[1],
                 sh.intercept_join_m, p.sortie.escort_m, p.ais_gap.neighbour_radius_m, p.spoof_link_m,
                 p.incsea.air_slant_range_m, p.incsea.sea_safe_cpa_m)
    return widest * (1.0 + p.hysteresis_margin)


def halo_radius_m(p: ProximitySettings, domains: Sequence[str], speed_mps: np.ndarray,
                  sides: Sequence[str] | None = None, history_s: float = 0.0) -> np.ndarray:
    """How far from each report a partner of it may be: the halo its copies must cover.

    Both ways (``sides`` None): the widest comparison distance (``pair_reach_m``) plus the
    distance the report's track and the fastest plausible partner (``max_speed_mps``) close in
    the prediction horizon and in the dead reckoning of a pair tick (``align_max_age_s``).
    One way (``sides`` given; pairs owned by their NATO track, ``closewatch.partition``): so
    for Russian reports only; the others get ``pair_reach_m`` (the families that look at
    neighbours) plus their own travel over ``history_s``.
    """
    fastest = max(p.max_speed_mps.values())
    own_max = np.array([p.max_speed_mps.get(d, fastest) for d in domains], np.float64)  # type: ignore[call-overload]
    speed = np.minimum(np.nan_to_num(np.asarray(speed_mps, np.float64), nan=0.0), own_max)
    both_ways = pair_reach_m(p) + (speed + fastest) * (p.horizon_s + p.align_max_age_s)
    if sides is None:
        return both_ways
    russian = np.fromiter((s == "russia" for s in sides), bool, len(sides))
    return np.where(russian, both_ways, pair_reach_m(p) + speed * history_s)


def owner_partitions(events: Sequence[Event], grid: CellGrid, n_partitions: int) -> np.ndarray:
    """The one partition that publishes each event revision, from the revision alone.

    A track's event: the cell of its subject with the least ``track_id`` (the position the
    revision gives it); an area's (``cells``): the centre of its least H3 cell; an event
    of neither (a zone's): a fixed mix of its ``event_id``. Every partition that makes the
    revision computes the same owner.
    """
    lat = np.zeros(len(events))
    lon = np.zeros(len(events))
    fixed = np.full(len(events), -1, np.int64)
    for k, e in enumerate(events):
        if e.subjects:
            anchor = min(e.subjects, key=lambda s: s.track_id)
            lat[k], lon[k] = anchor.lat_deg, anchor.lon_deg
        elif e.cells:
            lat[k], lon[k] = h3.cell_to_latlng(min(e.cells))
        else:
            fixed[k] = zlib.crc32(e.event_id.encode("utf-8")) % n_partitions
    by_place = grid.partitions(grid.cells(lat, lon), n_partitions)
    return np.where(fixed >= 0, fixed, by_place)


class Routes(NamedTuple):
    """Where reports go: ``own[i]`` the partition of report ``i``'s cell; report ``copy_index[k]``
    also goes to partition ``copy_partition[k]`` as a halo copy (never to its own)."""

    own: np.ndarray
    copy_index: np.ndarray
    copy_partition: np.ndarray

    def of(self, partition: int) -> np.ndarray:
        """The reports partition ``partition`` judges, own and halo copies, in their arrival order."""
        return np.union1d(np.nonzero(self.own == partition)[0], self.copy_index[self.copy_partition == partition])


def route_reports(updates: Sequence[TrackUpdate], grid: CellGrid, p: ProximitySettings, n_partitions: int, *,
                  one_way: bool = False, history_s: float = 0.0) -> Routes:
    """The partition of each report and its halo copies (``halo_radius_m``), one per partition."""
    n = len(updates)
    lat = np.fromiter((u.lat_deg for u in updates), np.float64, n)
    lon = np.fromiter((u.lon_deg for u in updates), np.float64, n)
    speed = np.fromiter((u.speed_mps or 0.0 for u in updates), np.float64, n)
    sides = [u.side for u in updates] if one_way else None
    own = grid.partitions(grid.cells(lat, lon), n_partitions)
    radius = halo_radius_m(p, [u.domain for u in updates], speed, sides, history_s)
    idx, cells = grid.halo(lat, lon, radius)
    copies = np.unique(idx * n_partitions + grid.partitions(cells, n_partitions))
    c_idx, c_part = copies // n_partitions, copies % n_partitions
    keep = c_part != own[c_idx]
    return Routes(own, c_idx[keep], c_part[keep])


def plan_regions(cells: np.ndarray, grid: CellGrid, n_partitions: int) -> tuple[int, ...]:
    """``region_cuts`` that split the reports of ``cells`` (one entry per report, a recording of
    the traffic) into ``n_partitions`` runs of the Hilbert curve of about equal reports.

    Each cut falls between two cells: every cell stays whole, so a cell of more than
    a partition's share leaves its partition heavier (and may leave another empty).
    """
    if n_partitions < 1:
        raise ValueError(f"n_partitions must be at least 1, not {n_partitions}")
    occupied, counts = np.unique(np.asarray(cells, np.int64), return_counts=True)
    if n_partitions == 1 or occupied.size == 0:
        return (0,) * (n_partitions - 1)
    keys = grid.curve_keys(occupied)
    order = np.argsort(keys, kind="stable")
    keys, counts = keys[order], counts[order]
    before = np.cumsum(counts) - counts  # the reports of the cells before each cell on the curve
    share = counts.sum() / n_partitions
    # partition k starts at the first cell whose middle lies past k shares of the reports
    middle = before + counts / 2.0
    starts = np.searchsorted(middle, share * np.arange(1, n_partitions), side="left")
    return tuple(int(keys[i]) if i < keys.size else CURVE_KEYS for i in starts)
