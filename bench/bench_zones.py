"""Zone catalogue figures: load time and batch membership against a naive baseline.

Run: ``.venv/bin/python -m bench.bench_zones [--points N]``. Prints figures;
asserts nothing. The baseline is one ``Geometry.contains(Point)`` call per point
and zone on unprepared geometries; the measured path is one
``shapely.contains_xy`` call per zone on a batch, with prepared geometries.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import shapely
from shapely.geometry import Point

from config.settings import ZoneSettings
from config.zones import available_border_bands_m, load_borders, load_catalogue
from proximity.geometry import geodesic_buffer


def _best_of(n: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--baseline-points", type=int, default=2_000)
    args = parser.parse_args()

    settings = ZoneSettings(border_buffers_m=available_border_bands_m(), territorial=True)
    load_s = [_best_of(1, lambda: load_catalogue(settings)) for _ in range(5)]
    zones = load_catalogue(settings)
    vertices = sum(shapely.get_num_coordinates(z.geometry) for z in zones)
    print(f"load_catalogue (all bands + territorial): {len(zones)} zones, {vertices} vertices, "
          f"median {statistics.median(load_s) * 1e3:.1f} ms over 5 runs")

    rng = np.random.default_rng(1)
    lon = rng.uniform(9.0, 60.0, args.points)
    lat = rng.uniform(40.5, 75.0, args.points)

    def batch() -> int:
        return sum(int(shapely.contains_xy(z.geometry, lon, lat).sum()) for z in zones)

    hits = batch()
    t_batch = _best_of(3, batch)
    per_point_batch = t_batch / args.points

    raw = [shapely.from_wkb(shapely.to_wkb(z.geometry)) for z in zones]  # unprepared copies
    n = args.baseline_points
    pts = [Point(x, y) for x, y in zip(lon[:n], lat[:n], strict=True)]

    def naive() -> int:
        return sum(1 for g in raw for p in pts if g.contains(p))

    t_naive = _best_of(1, naive)
    per_point_naive = t_naive / n
    print(f"membership, {len(zones)} zones: batch contains_xy (prepared) {per_point_batch * 1e6:.2f} us/point "
          f"({args.points} points, {hits} hits); naive contains per point {per_point_naive * 1e6:.0f} us/point "
          f"({n} points); ratio {per_point_naive / per_point_batch:.0f}x")

    name, line = next((nm, ln) for nm, ln in load_borders() if "Finland" in nm)
    t_buf = _best_of(3, lambda: geodesic_buffer(line, 10_000.0, max_error_m=5.0))
    print(f"geodesic_buffer of the {name} ({len(line.coords)} vertices), 10 km within 5 m: {t_buf * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
