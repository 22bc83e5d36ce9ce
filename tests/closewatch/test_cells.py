"""Spatial cells of the scale-out: every neighbour within the radius is in the halo, the cells tile the globe."""

from __future__ import annotations

import math

import numpy as np
import pytest

from closewatch.cells import CURVE_KEYS, EARTH_RADIUS_M, CellGrid, hilbert_index, partition_of, plan_regions
from proximity._integrity import haversine_m


def _destination(lat: np.ndarray, lon: np.ndarray, dist_m: np.ndarray, bearing: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    p, lam, d = np.radians(lat), np.radians(lon), dist_m / EARTH_RADIUS_M
    p2 = np.arcsin(np.sin(p) * np.cos(d) + np.cos(p) * np.sin(d) * np.cos(bearing))
    l2 = lam + np.arctan2(np.sin(bearing) * np.sin(d) * np.cos(p), np.cos(d) - np.sin(p) * np.sin(p2))
    return np.degrees(p2), (np.degrees(l2) + 180.0) % 360.0 - 180.0


@pytest.mark.parametrize("cell_deg", [0.5, 2.0, 7.0])
def test_every_point_within_the_radius_has_its_cell_in_the_halo(cell_deg: float) -> None:
    grid = CellGrid(cell_deg)
    rng = np.random.default_rng(7)
    n = 10_000
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lat[:200] = rng.uniform(85, 90, 200) * rng.choice([-1, 1], 200)  # near the poles
    lon = rng.uniform(-180, 180, n)
    lon[200:400] = rng.choice([-179.99, 179.99], 200)  # across the antimeridian
    radius = rng.choice([1_000.0, 9_260.0, 80_000.0, 450_000.0, 8 * cell_deg * 111_195.0], n)
    lat2, lon2 = _destination(lat, lon, rng.uniform(0, 1, n) * radius, rng.uniform(0, 2 * math.pi, n))
    idx, cell = grid.halo(lat, lon, radius)
    own, other = grid.cells(lat, lon), grid.cells(lat2, lon2)
    assert not np.any(cell == own[idx]), "a position's own cell is not in its halo"
    listed = np.unique(idx * (1 << 40) + cell)
    wanted = np.nonzero(other != own)[0]
    found = np.isin(wanted * (1 << 40) + other[wanted], listed)
    missed = wanted[~found].tolist()
    assert missed == [], f"{len(missed)} neighbours within the radius not in the halo, e.g. index {missed[:3]}"


def test_the_halo_lists_few_cells_beyond_the_radius() -> None:
    """Cells listed are near: every listed cell has a point within twice the radius (a corner's slack)."""
    grid = CellGrid(1.0)
    rng = np.random.default_rng(11)
    lat, lon = rng.uniform(-70, 70, 300), rng.uniform(-180, 180, 300)
    idx, cell = grid.halo(lat, lon, 150_000.0)
    for i, c in zip(idx.tolist(), cell.tolist()):
        w, s, e, n = grid.bounds(c)
        gl = np.linspace(s, n, 12)[:, None]
        gm = np.linspace(w, e, 12)[None, :]
        nearest = haversine_m(lon[i], lat[i], gm, gl).min()
        assert nearest <= 2 * 150_000.0 + 1.5 * 111_195.0 / 11, (i, c, nearest)
    # and the count is near the area's: about pi * r^2 / cell area, plus the edge cells
    per_point = idx.size / lat.size
    assert 2 < per_point < 20


def test_cells_tile_the_globe_and_bounds_hold_their_points() -> None:
    grid = CellGrid(3.0)
    rng = np.random.default_rng(5)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, 20_000)))
    lon = rng.uniform(-180, 180, 20_000)
    cells = grid.cells(lat, lon)
    for c, la, lo in zip(cells[:2_000].tolist(), lat[:2_000].tolist(), lon[:2_000].tolist()):
        w, s, e, n = grid.bounds(c)
        assert s <= la <= n and w <= lo <= e
    # columns are at most cell_deg of arc wide on the band's equator-side edge
    bands = np.arange(grid.n_bands)
    for b in bands.tolist():
        w, s, e, n = grid.bounds(b * (1 << 20))
        edge = 0.0 if s < 0 < n else min(abs(s), abs(n))
        assert (e - w) * math.cos(math.radians(edge)) <= 3.0 + 1e-9
    assert grid.cells(np.array([90.0, -90.0]), np.array([180.0, -180.0])).size == 2


def test_partitions_are_fixed_and_spread() -> None:
    cells = CellGrid(2.0).cells(*np.meshgrid(np.arange(-89, 90, 2.0), np.arange(-179, 180, 2.0)))
    cells = np.unique(cells)
    parts = partition_of(cells, 4)
    assert np.array_equal(parts, partition_of(cells.copy(), 4))
    counts = np.bincount(parts, minlength=4)
    assert counts.min() > 0.2 * cells.size and counts.max() < 0.3 * cells.size
    # fixed on every machine and version (ingest and engine workers must agree): pinned values
    assert partition_of(np.array([0, 1, 2, 1 << 20, 45 * (1 << 20) + 90]), 7).tolist() == [2, 2, 4, 1, 6]
    with pytest.raises(ValueError, match="n_partitions"):
        partition_of(cells, 0)
    with pytest.raises(ValueError, match="cell_deg"):
        CellGrid(0.0)


def test_the_hilbert_curve_visits_every_lattice_point_once_each_step_to_a_neighbour() -> None:
    side = 1 << 5
    x, y = (a.ravel() for a in np.meshgrid(np.arange(side), np.arange(side)))
    d = hilbert_index(x, y, 5)
    assert np.array_equal(np.sort(d), np.arange(side * side))
    order = np.argsort(d)
    assert (np.abs(np.diff(x[order])) + np.abs(np.diff(y[order]))).tolist() == [1] * (side * side - 1)


def test_regions_are_compact_runs_of_about_equal_reports() -> None:
    """Reports in three clusters of unequal size over the Baltic, the Barents Sea and the Black Sea,
    planned into 4 regions: every partition has about a quarter of the reports, each cluster
    stays within at most two partitions, cells keep whole, and the cuts are the layout."""
    rng = np.random.default_rng(3)
    centres = [(57.0, 19.0, 60_000), (70.0, 35.0, 25_000), (44.0, 34.0, 15_000)]
    lat = np.concatenate([c[0] + rng.normal(0, 1.5, c[2]) for c in centres])
    lon = np.concatenate([c[1] + rng.normal(0, 2.5, c[2]) for c in centres])
    grid = CellGrid(0.5)
    cells = grid.cells(lat, lon)
    cuts = plan_regions(cells, grid, 4)
    assert len(cuts) == 3 and list(cuts) == sorted(cuts) and 0 <= cuts[0] and cuts[-1] <= CURVE_KEYS
    regions = CellGrid(0.5, cuts)
    parts = regions.partitions(cells, 4)
    shares = np.bincount(parts, minlength=4) / parts.size
    assert np.all(np.abs(shares - 0.25) < 0.02), shares
    # compact: of the occupied cells' eastern and northern neighbours (occupied too), few are in
    # another partition; hashed cells put three in four in another
    occupied = np.unique(cells)
    lon_c, lat_c = grid.centres(occupied)
    pairs = [(occupied, n) for n in (grid.cells(lat_c, lon_c + 0.5), grid.cells(lat_c + 0.5, lon_c))]
    a = np.concatenate([c[np.isin(n, occupied)] for c, n in pairs])
    b = np.concatenate([n[np.isin(n, occupied)] for _c, n in pairs])
    assert a.size > 1_000
    crossing = np.mean(regions.partitions(a, 4) != regions.partitions(b, 4))
    assert crossing < 0.1 and np.mean(partition_of(a, 4) != partition_of(b, 4)) > 0.6, crossing
    assert plan_regions(cells, grid, 1) == ()
    with pytest.raises(ValueError, match="3 region_cuts for 2 partitions"):
        regions.partitions(cells, 2)
    with pytest.raises(ValueError, match="region_cuts must ascend"):
        CellGrid(0.5, (5, 4))


@pytest.mark.parametrize("layout", ["hashed", "regions"])
def test_partitions_with_halo_copies_raise_exactly_the_events_of_one_engine(layout: str) -> None:
    """The benchmark's traffic over the border catalogue, split over 3 partitions of 1-degree cells
    (hashed, or regions planned from the traffic's first minute): the revisions each partition
    owns, together, are one engine's, each once; incidents straddle partitions and change owner
    while open (both covered, counted below)."""
    from bench.bench_engine import BATCH, catalogue, make_traffic, reports
    from closewatch.cells import owner_partitions, route_reports
    from closewatch.replay import canonical_lines
    from config.settings import ProximitySettings
    from proximity.engine import Engine

    settings = ProximitySettings(horizon_s=60.0)
    zones, borders, _ = catalogue()
    ups = reports(make_traffic(3_000), 0.0, 240.0)

    def run(updates):  # type: ignore[no-untyped-def]
        engine = Engine(settings, zones, borders=borders)
        return [e for i in range(0, len(updates), BATCH) for e in engine.process(updates[i:i + BATCH])]

    whole = run(ups)
    grid, n = CellGrid(1.0), 3
    if layout == "regions":
        first = [u for u in ups if u.t_s < ups[0].t_s + 60.0]
        grid = CellGrid(1.0, plan_regions(grid.cells([u.lat_deg for u in first], [u.lon_deg for u in first]), grid, n))
    routes = route_reports(ups, grid, settings, n)
    assert routes.copy_index.size > 0.1 * len(ups)  # the halo is exercised
    if layout == "regions":  # about equal, and fewer copies than hashed cells make
        assert np.bincount(routes.own, minlength=n).min() > 0.25 * len(ups)
        assert routes.copy_index.size < 0.8 * route_reports(ups, CellGrid(1.0), settings, n).copy_index.size
    owned = []
    made_by: dict[tuple[str, int], set[int]] = {}
    for p in range(n):
        events = run([ups[i] for i in routes.of(p).tolist()])
        owners = owner_partitions(events, grid, n)
        owned += [e for e, o in zip(events, owners) if o == p]
        for e in events:
            made_by.setdefault((e.event_id, e.seq), set()).add(p)
    assert len(whole) > 500 and {e.kind for e in whole} >= {"close_approach", "zone_entry", "predicted_close_approach"}
    assert sorted(canonical_lines(owned)) == sorted(canonical_lines(whole))
    # what the test covers: revisions made by several partitions (halo), incidents that changed owner
    assert sum(1 for ps in made_by.values() if len(ps) > 1) > 100
    owner_of = dict(zip(((e.event_id, e.seq) for e in whole), owner_partitions(whole, grid, n).tolist()))
    per_incident: dict[str, set[int]] = {}
    for (event_id, _), o in owner_of.items():
        per_incident.setdefault(event_id, set()).add(o)
    assert sum(1 for os_ in per_incident.values() if len(os_) > 1) > 0
