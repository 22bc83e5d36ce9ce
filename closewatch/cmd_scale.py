"""`closewatch scale plan`: partitions as regions of about equal traffic (docs/scaling.md).

Reads the recordings of the configuration's feeds (every feed a file: the traffic the
deployment expects, such as yesterday's) at full speed, twice:

1. counts the track updates of every cell and cuts the Hilbert curve through the cells into
   ``[scale] partitions`` runs of about equal updates (``closewatch.cells.plan_regions``);
2. routes the updates as the ingest workers would, with the regions and with hashed cells,
   and prints what each partition would judge (own reports and halo copies).

Prints the ``[scale]`` lines to put in every worker's configuration. The layout is fixed for
the life of the cells topic: a new plan means draining the workers first (docs/scaling.md).

Exit codes: 0 ok, 2 bad usage or configuration (or a feed that is not a file).
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Iterator

import numpy as np

from config.records import TrackUpdate
from config.settings import ConfigError, Settings

__all__ = ["add_parser"]

EXIT_OK, EXIT_USAGE = 0, 2


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    scale = sub.add_parser("scale", help="scale-out on Kafka: plan the partitions of the engine workers")
    ssub = scale.add_subparsers(dest="scale_command", metavar="ACTION")

    def _usage(_args: argparse.Namespace) -> int:
        scale.print_help(sys.stderr)
        return EXIT_USAGE

    scale.set_defaults(handler=_usage)
    p = ssub.add_parser("plan", help="cut the cells into partitions of about equal traffic from the feeds' recordings")
    p.add_argument("-c", "--config", type=Path, required=True, help="configuration whose file feeds are the recording")
    p.add_argument("--partitions", type=int, help="partitions to plan (default: [scale] partitions)")
    p.add_argument("--cell-deg", type=float, help="cell size in degrees (default: [scale] cell_deg)")
    p.set_defaults(handler=_plan)


def _batches(settings: Settings, size: int = 50_000) -> Iterator[list[TrackUpdate]]:
    from closewatch.pipeline import feed_items

    batch: list[TrackUpdate] = []
    for entry in feed_items(settings, threading.Event()):
        if entry is not None and isinstance(entry[1], TrackUpdate):
            batch.append(entry[1])
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


def _loads(settings: Settings, layouts: dict[str, tuple[int, ...]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Own reports and halo copies of every partition in each layout (its ``region_cuts``; hashed
    cells when empty), from one more reading of the feeds."""
    from closewatch.cells import CellGrid, route_reports

    s = settings.scale
    grids = {name: CellGrid(s.cell_deg, cuts) for name, cuts in layouts.items()}
    loads = {name: (np.zeros(s.partitions, np.int64), np.zeros(s.partitions, np.int64)) for name in layouts}
    for batch in _batches(settings):
        for name, grid in grids.items():
            routes = route_reports(batch, grid, settings.proximity, s.partitions, one_way=s.one_way,
                                   history_s=s.history_s)
            own, copies = loads[name]
            own += np.bincount(routes.own, minlength=s.partitions)
            copies += np.bincount(routes.copy_partition, minlength=s.partitions)
    return loads


def _plan(args: argparse.Namespace) -> int:
    from closewatch.cells import CellGrid, plan_regions
    from closewatch.cmd_run import _load
    from config.settings import parse_settings

    settings = _load(args.config)
    if settings is None:
        return EXIT_USAGE
    not_files = [f.name for f in settings.feeds if f.transport != "file"]
    if not settings.feeds or not_files:
        print(f"scale plan: needs recordings: every feed a file (not {', '.join(not_files) or 'no feeds'})",
              file=sys.stderr)
        return EXIT_USAGE
    scale = {**settings.scale.model_dump(), "region_cuts": ()}
    scale.update({k: v for k, v in (("partitions", args.partitions), ("cell_deg", args.cell_deg)) if v is not None})
    try:
        settings = parse_settings({**settings.model_dump(), "scale": scale,
                                   "feeds": [f.model_copy(update={"speed": 0.0}).model_dump() for f in settings.feeds]},
                                  "scale plan")
    except ConfigError as e:
        print(e, file=sys.stderr)
        return EXIT_USAGE
    s = settings.scale
    grid = CellGrid(s.cell_deg)
    cells = [grid.cells(np.fromiter((u.lat_deg for u in b), np.float64, len(b)),
                        np.fromiter((u.lon_deg for u in b), np.float64, len(b))) for b in _batches(settings)]
    updates = sum(len(c) for c in cells)
    if not updates:
        print("scale plan: the feeds gave no track update", file=sys.stderr)
        return EXIT_USAGE
    cuts = plan_regions(np.concatenate(cells), grid, s.partitions)
    loads = _loads(settings, {"regions": cuts, "hashed cells": ()})
    print(f"{updates:,} track updates, {s.partitions} partitions, cells of {s.cell_deg:g} degrees")
    print(f"{'partition':>9}{'regions: own':>14}{'halo':>10}{'share':>8}{'hashed: own':>14}{'halo':>10}{'share':>8}")
    (r_own, r_copies), (h_own, h_copies) = loads["regions"], loads["hashed cells"]
    r_all, h_all = r_own + r_copies, h_own + h_copies
    for p in range(s.partitions):
        print(f"{p:>9}{r_own[p]:>14,}{r_copies[p]:>10,}{r_all[p] / r_all.sum():>8.1%}"
              f"{h_own[p]:>14,}{h_copies[p]:>10,}{h_all[p] / h_all.sum():>8.1%}")
    for name, (own, copies) in loads.items():
        total = own + copies
        print(f"{name}: {total.sum() / updates:.2f} records judged per update; the busiest partition "
              f"{total.max() / total.sum():.1%} of them")
    print("\n# every worker's configuration:")
    print(f"[scale]\npartitions = {s.partitions}\ncell_deg = {s.cell_deg:g}\nregion_cuts = {list(cuts)}")
    return EXIT_OK
