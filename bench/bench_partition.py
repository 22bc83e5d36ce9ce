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

if __package__ in (None, ""):  # run as a script: the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench.bench_engine import BATCH, catalogue, make_traffic, reports
from closewatch.cells import CellGrid, Routes, owner_partitions, route_reports
from closewatch.partition import PartitionJudge
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
    from closewatch.replay_inputs import from_files
    from config.settings import Settings

    return [item for item in from_files(Settings(), specs).items if isinstance(item, TrackUpdate)]


def _judged(ups: list[TrackUpdate], routes: Routes, settings: ProximitySettings, zones: list, borders: list,
            grid: CellGrid, n: int, interest: bool) -> tuple[list[Event], list[int], list[float]]:
    """The partitions (``closewatch.partition.PartitionJudge``) batch by batch in arrival order; with
    ``interest``, the reports of the tracks a partition wants are copied to it from the next batch on
    (what an interest topic read by the ingest workers would do)."""
    judges = [PartitionJudge(p, n, Engine(settings, zones, borders=borders), grid) for p in range(n)]
    track_ids = [u.track_id for u in ups]
    halo_of = [set(routes.of(p).tolist()) for p in range(n)]
    got: list[Event] = []
    judged, cpus = [0] * n, [0.0] * n
    for a in range(0, len(ups), BATCH):
        for p, judge in enumerate(judges):
            wanted = judge.wanted if interest else frozenset()
            take = [i for i in range(a, min(a + BATCH, len(ups))) if i in halo_of[p] or track_ids[i] in wanted]
            c0 = time.process_time()
            got += judge.process([ups[i] for i in take], [int(routes.own[i]) == p for i in take])
            cpus[p] += time.process_time() - c0
            judged[p] += len(take)
    return got, judged, cpus


def _compare(whole: list[Event], whole_cpu: float, got: list[Event], judged: list[int], cpus: list[float],
             n_reports: int, n: int) -> None:
    """Print per kind what the partitions made against one engine, and what the halo cost."""
    one = collections.Counter((canonical_lines([e])[0], e.kind) for e in whole)
    many = collections.Counter((canonical_lines([e])[0], e.kind) for e in got)
    kinds = sorted({k for _, k in one} | {k for _, k in many})
    print(f"{'kind':<28}{'one engine':>12}{'missing':>10}{'extra':>8}{'twice':>8}")
    for kind in kinds:
        a = {line for line, k in one if k == kind}
        b = collections.Counter({line: c for (line, k), c in many.items() if k == kind})
        print(f"{kind:<28}{len(a):>12,}{len(a - set(b)):>10,}{len(set(b) - a):>8,}"
              f"{sum(1 for c in b.values() if c > 1):>8,}")
    print(f"halo: {sum(judged) / n_reports:.2f} reports judged per report; busiest partition "
          f"{max(judged) / n_reports:.2f} of the reports")
    print(f"engine CPU: one engine {whole_cpu:.1f} s, the busiest partition {max(cpus):.1f} s, all {sum(cpus):.1f} s: "
          f"{n} workers on {n} cores would judge {whole_cpu / max(cpus):.2f} times as many reports per second")


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
    ap.add_argument("--interest", action="store_true",
                    help="experiment: --one-way, plus each incident owned where it opened, and the reports of its "
                         "tracks copied there while it is open (docs/scaling.md)")
    ap.add_argument("--history-s", type=float, default=0.0,
                    help="with --one-way: the other reports' halo also covers their travel over this long")
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
    args.one_way |= args.interest
    routes = route_reports(ups, grid, settings, n, one_way=args.one_way, history_s=args.history_s)
    if args.one_way:
        got, judged, cpus = _judged(ups, routes, settings, zones, borders, grid, n, interest=args.interest)
    else:
        got, judged, cpus = [], [], []
        for p in range(n):
            take = routes.of(p)
            events, cpu = _run(Engine(settings, zones, borders=borders), [ups[i] for i in take.tolist()])
            got += [e for e, o in zip(events, owner_partitions(events, grid, n)) if o == p]
            judged.append(take.size)
            cpus.append(cpu)
    for p in range(n):
        n_own = int((routes.own == p).sum())
        print(f"partition {p}: {n_own:,} own reports + {judged[p] - n_own:,} copies, {cpus[p]:.1f} CPU s")
    _compare(whole, whole_cpu, got, judged, cpus, len(ups), n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
