"""Fuzz along the whole path: at least 100,000 random and mutated real inputs per decoder.

    .venv/bin/python -m bench.bench_fuzz [--inputs 100000] [--trial 5000] [--seed 1]
                                         [--path direct|pipeline|both] [FORMAT ...]

The harness of the CI property tests (``tests/fuzz_path.py``), two ways per decoder:

* ``direct``: the per-decoder hostile fuzz. Batches of 100 units (real samples of
  ../shared/data with random edits and planted hostile values) go to one *unguarded*
  decoder, its reports through an engine, everything encoded as a sink would. Every
  dead letter must carry a documented reason; an exception that escapes is a decoder
  that leans on the pipeline's guard. Printed: inputs, reports, notices, dead letters
  (the most common reasons), events, inputs/s, escaped exceptions (the goal: none).
* ``pipeline``: runs of ``--trial`` units (mutated, real, 10 % random bytes) through the
  real pipeline (decode guard, engine and its guard, encoder, JSON Lines sinks); every
  value written must validate against its topic's schema. Printed: the same counts and
  the failing runs (their seeds).

Exit 1 when anything escaped or failed. There is no baseline: this is a count of what was
tried and survived, not a speed contest (the rate only says what the count cost).
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.append(str(REPO / "tests"))  # after the packages: tests/ingest must not hide ingest

from fuzz_path import FORMATS, SHARED_DATA, PathCounts, direct_path, units_for, whole_path  # noqa: E402

_BATCH = 100


def _run(fmt: str, way: str, args: argparse.Namespace) -> int:
    """Push ``args.inputs`` inputs of ``fmt`` along ``way``; print one line; return the failures."""
    counts = PathCounts()
    failures: list[str] = []
    started = time.perf_counter()
    trial = 0
    while counts.inputs < args.inputs:
        seed = args.seed * 1_000_003 + trial
        rng = random.Random(seed)
        trial += 1
        if way == "direct":
            units = units_for(fmt, rng, min(_BATCH, args.inputs - counts.inputs))
            before = counts.inputs
            try:
                direct_path(fmt, units, counts, cut=rng.randint(1, 40))
            except Exception:  # noqa: BLE001 - counted and shown: the figure this bench exists for
                counts.inputs = before + len(units)
                failures.append(f"seed {seed}: " + traceback.format_exc(limit=3))
        else:
            units = units_for(fmt, rng, min(args.trial, args.inputs - counts.inputs), junk_share=0.1)
            try:
                with tempfile.TemporaryDirectory() as folder:
                    got = whole_path(fmt, units, Path(folder))
            except Exception:  # noqa: BLE001 - counted and shown, with the seed to run it again
                counts.inputs += len(units)
                failures.append(f"seed {seed}: " + traceback.format_exc(limit=3))
                continue
            counts.inputs += got.inputs
            counts.updates += got.updates
            counts.notices += got.notices
            counts.dead_letters += got.dead_letters
            counts.events += got.events
            counts.reasons.update(got.reasons)
    rate = counts.inputs / (time.perf_counter() - started)
    top = ", ".join(f"{k} {v:,}" for k, v in counts.reasons.most_common(4))
    print(f"  {fmt:17s} {way:8s} {counts.inputs:8,} inputs  {counts.updates:8,} reports  {counts.notices:6,} notices  "
          f"{counts.dead_letters:8,} dead letters ({top})  {counts.events:6,} events  {rate:8,.0f} inputs/s  "
          f"failed: {len(failures)}", flush=True)
    for tb in failures[:3]:
        print("    " + tb.replace("\n", "\n    "))
    return len(failures)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("formats", nargs="*", default=list(FORMATS))
    ap.add_argument("--inputs", type=int, default=100_000, help="inputs per decoder and way")
    ap.add_argument("--trial", type=int, default=5_000, help="inputs per pipeline run")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--path", choices=("direct", "pipeline", "both"), default="both")
    args = ap.parse_args(argv)
    if not SHARED_DATA.is_dir():
        print(f"no samples at {SHARED_DATA}", file=sys.stderr)
        return 2
    logging.disable(logging.ERROR)  # a million dead letters would each log a line ("nothing but errors" too)
    ways = ("direct", "pipeline") if args.path == "both" else (args.path,)
    print(f"random and mutated real inputs along the whole path, seed {args.seed}:")
    failed = sum(_run(fmt, way, args) for fmt in args.formats for way in ways)
    print(f"exceptions that escaped, or runs that failed: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
