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
from closewatch.cells import CellGrid, owner_partitions, route_reports
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench partition", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracks", type=int, default=10_000)
    ap.add_argument("--data-s", type=float, default=300.0)
    ap.add_argument("--partitions", type=int, default=2)
    ap.add_argument("--cell-deg", type=float, default=2.0)
    ap.add_argument("--horizon-s", type=float, default=None, help="prediction horizon (default: the settings')")
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
    routes = route_reports(ups, grid, settings, n)
    got: list[Event] = []
    judged = []
    cpus = []
    for p in range(n):
        take = routes.of(p)
        events, cpu = _run(Engine(settings, zones, borders=borders), [ups[i] for i in take.tolist()])
        mine = [e for e, o in zip(events, owner_partitions(events, grid, n)) if o == p]
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
