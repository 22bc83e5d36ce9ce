"""Mutated real feed input along the whole path, 100,000 inputs per decoder.

    .venv/bin/python -m bench.bench_fuzz [--inputs N] [--seed S]

Every decoder gets ``N`` units (lines, or small documents) made from the real samples in
../shared/data by random edits and planted hostile values (``tests/fuzz_path.py``), in
batches of 100 decoded by one decoder; the reports go through an engine and everything
is encoded as a sink would (``alerts.codec``). Printed per decoder: inputs tried,
reports, notices, dead letters (the most common reasons), events, inputs per second,
and the exceptions that escaped the path (the goal: none).

There is no baseline here: this is a count of what was tried and survived, not a speed
contest (the rate only says what the count cost).
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from fuzz_path import SHARED_DATA, PathCounts, formats, units_for, whole_path  # noqa: E402

_BATCH = 100


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--inputs", type=int, default=100_000, help="inputs per decoder")
    p.add_argument("--seed", type=int, default=20_261_202)
    args = p.parse_args(argv)
    if not SHARED_DATA.is_dir():
        print(f"no samples at {SHARED_DATA}", file=sys.stderr)
        return 2
    logging.getLogger("ingest.stats").setLevel(logging.CRITICAL)  # "nothing but errors": expected here
    rng = random.Random(args.seed)
    total_escaped = 0
    print(f"mutated real inputs along the whole path (decoder, engine, encoder), seed {args.seed}:")
    for fmt in formats():
        counts = PathCounts()
        escaped: list[str] = []
        started = time.perf_counter()
        while counts.inputs < args.inputs:
            units = units_for(fmt, rng, min(_BATCH, args.inputs - counts.inputs))
            try:
                whole_path(fmt, units, counts, cut=rng.randint(1, 40))
            except Exception:  # noqa: BLE001 - counted and shown: the figure this bench exists for
                counts.inputs += len(units)
                escaped.append(traceback.format_exc(limit=3))
        elapsed = time.perf_counter() - started
        top = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.reasons.items(), key=lambda kv: -kv[1])[:4])
        print(f"  {fmt.name:17s} {counts.inputs:8,} inputs  {counts.updates:8,} reports  {counts.notices:6,} notices  "
              f"{counts.dead_letters:8,} dead letters ({top})  {counts.events:5,} events  "
              f"{counts.inputs / elapsed:8,.0f} inputs/s  escaped: {len(escaped)}")
        for tb in escaped[:3]:
            print("    " + tb.replace("\n", "\n    "))
        total_escaped += len(escaped)
    print(f"exceptions that escaped the path: {total_escaped}")
    return 1 if total_escaped else 0


if __name__ == "__main__":
    raise SystemExit(main())
