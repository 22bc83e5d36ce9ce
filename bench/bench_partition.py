"""The engine split over spatial cells (scale-out, docs/scaling.md): the same events as one engine?

In one process, on the busy world of ``bench_engine``: one engine judges every report;
then ``--partitions`` engines each judge the reports of their cells (``closewatch.cells``)
plus the halo copies of the reports near them, and keep the event revisions they own
(``closewatch.cells.owner_partitions``). Prints, per kind, the revisions one engine made
that the partitions did not (missing), those the partitions made that one engine did not
(extra) and those owned twice, then what the halo costs: reports judged by all partitions
over the reports, the busiest partition's share, and the engine CPU of each.

    python bench/bench_partition.py --tracks 10000 --data-s 300 --partitions 2 --cell-deg 2
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path
from typing import Callable

if __package__ in (None, ""):  # run as a script: the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench.bench_engine import BATCH, catalogue, make_traffic, reports
from closewatch.cells import (CellGrid, Routes, halo_radius_m, owner_partitions, pair_reach_m, partition_of,
                              route_reports)
from closewatch.replay import canonical_lines
from config.records import TrackUpdate
from config.settings import ProximitySettings
from proximity.engine import Engine
from proximity.events import Event


def _run(engine: Engine, updates: list) -> tuple[list[Event], float]:
    events: list[Event] = []
    c0 = time.process_time()
    for i in range(0, len(updates), BATCH):
        events.extend(engine.process(updates[i: i + BATCH]))
    return events, time.process_time() - c0


def _recorded(specs: list[str]) -> list[TrackUpdate]:
    """The track reports of feed recordings, merged by data time as a run over files merges them."""
    from closewatch.feedfiles import feed_for, merged_items
    from config.settings import Settings

    settings = Settings()
    feeds = [feed_for(s, settings) for s in specs]
    return [item for _, item in merged_items(feeds, settings) if isinstance(item, TrackUpdate)]


def _one_way_routes(ups: list[TrackUpdate], grid: CellGrid, settings: ProximitySettings, n: int) -> Routes:
    """Halo copies as ``route_reports`` makes them for Russian reports; the others get only the
    comparison distance of the families that look at neighbours (``pair_reach_m``)."""
    lat = np.fromiter((u.lat_deg for u in ups), float, len(ups))
    lon = np.fromiter((u.lon_deg for u in ups), float, len(ups))
    speed = np.fromiter((u.speed_mps or 0.0 for u in ups), float, len(ups))
    russian = np.fromiter((u.side == "russia" for u in ups), bool, len(ups))
    radius = np.where(russian, halo_radius_m(settings, [u.domain for u in ups], speed), pair_reach_m(settings))
    own = partition_of(grid.cells(lat, lon), n)
    idx, cells = grid.halo(lat, lon, radius)
    copies = np.unique(idx * n + partition_of(cells, n))
    c_idx, c_part = copies // n, copies % n
    keep = c_part != own[c_idx]
    return Routes(own, c_idx[keep], c_part[keep])


def _by_report(ups: list[TrackUpdate], own: np.ndarray, grid: CellGrid, n: int) -> Callable[[list[Event]], np.ndarray]:
    """Owner of a revision: the partition that got the report of its NATO subject (else of its least
    track id) as its own; a revision of no track as ``owner_partitions``."""
    own_of = {(u.track_id, u.t_s): int(o) for u, o in zip(ups, own.tolist())}

    def owners(events: list[Event]) -> np.ndarray:
        by_place = owner_partitions(events, grid, n)
        out = []
        for e, o in zip(events, by_place.tolist()):
            nato = [s for s in e.subjects if s.side == "nato"]
            anchor = nato[0] if nato else min(e.subjects, key=lambda s: s.track_id) if e.subjects else None
            out.append(o if anchor is None else own_of.get((anchor.track_id, anchor.report_t_s), -1))
        return np.array(out, np.int64)

    return owners


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench partition", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracks", type=int, default=10_000)
    ap.add_argument("--data-s", type=float, default=300.0)
    ap.add_argument("--partitions", type=int, default=2)
    ap.add_argument("--cell-deg", type=float, default=2.0)
    ap.add_argument("--horizon-s", type=float, default=None, help="prediction horizon (default: the settings')")
    ap.add_argument("--one-way", action="store_true",
                    help="experiment (not exact): the pair halo for Russian reports only, the revision owned by the "
                         "partition that got its NATO subject's report as its own (docs/scaling.md)")
    ap.add_argument("--files", nargs="+", metavar="[FORMAT:]PATH",
                    help="judge these feed recordings (as `closewatch replay --files`) instead of the busy world")
    args = ap.parse_args(argv)

    settings = ProximitySettings() if args.horizon_s is None else ProximitySettings(horizon_s=args.horizon_s)
    zones, borders, what = catalogue()
    if args.files:
        ups = _recorded(args.files)
        span = ups[-1].t_s - ups[0].t_s if ups else 0.0
        print(f"{', '.join(args.files)}: {len({u.track_id for u in ups}):,} tracks, {len(ups):,} reports over "
              f"{span:,.0f} s of data; zones: {what}")
    else:
        ups = reports(make_traffic(args.tracks), 0.0, args.data_s)
        print(f"{args.tracks:,} tracks, {len(ups):,} reports over {args.data_s:g} s of data; zones: {what}")

    _run(Engine(settings, zones, borders=borders), ups[: len(ups) // 20])  # warm the process's caches first
    whole, whole_cpu = _run(Engine(settings, zones, borders=borders), ups)
    print(f"one engine: {len(whole):,} revisions, {whole_cpu:.1f} CPU s")

    grid, n = CellGrid(args.cell_deg), args.partitions
    routes = _one_way_routes(ups, grid, settings, n) if args.one_way else route_reports(ups, grid, settings, n)
    owners: Callable[[list[Event]], np.ndarray] = lambda events: owner_partitions(events, grid, n)  # noqa: E731
    if args.one_way:
        owners = _by_report(ups, routes.own, grid, n)
    got: list[Event] = []
    judged = []
    cpus = []
    for p in range(n):
        take = routes.of(p)
        events, cpu = _run(Engine(settings, zones, borders=borders), [ups[i] for i in take.tolist()])
        mine = [e for e, o in zip(events, owners(events)) if o == p]
        got.extend(mine)
        judged.append(take.size)
        cpus.append(cpu)
        n_own = int((routes.own == p).sum())
        print(f"partition {p}: {n_own:,} own reports + {take.size - n_own:,} "
              f"halo copies, {len(events):,} revisions ({len(mine):,} owned), {cpu:.1f} CPU s")

    one = collections.Counter(zip(canonical_lines(whole), [e.kind for e in sorted(
        whole, key=lambda e: (e.t_s, e.event_id, e.seq))]))
    many = collections.Counter(zip(canonical_lines(got), [e.kind for e in sorted(
        got, key=lambda e: (e.t_s, e.event_id, e.seq))]))
    kinds = sorted({k for _, k in one} | {k for _, k in many})
    print(f"{'kind':<28}{'one engine':>12}{'missing':>10}{'extra':>8}{'twice':>8}")
    for kind in kinds:
        a = {line for line, k in one if k == kind}
        b = collections.Counter({line: c for (line, k), c in many.items() if k == kind})
        print(f"{kind:<28}{len(a):>12,}{len(a - set(b)):>10,}{len(set(b) - a):>8,}"
              f"{sum(1 for c in b.values() if c > 1):>8,}")
    print(f"halo: {sum(judged) / len(ups):.2f} reports judged per report; busiest partition "
          f"{max(judged) / len(ups):.2f} of the reports")
    print(f"engine CPU: one engine {whole_cpu:.1f} s, the busiest partition {max(cpus):.1f} s, all {sum(cpus):.1f} s: "
          f"{n} workers on {n} cores would judge {whole_cpu / max(cpus):.2f} times as many reports per second")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
