"""Whole-path fuzz: at least 100,000 random and mutated real inputs per decoder.

The same harness as the CI property tests (``tests/fuzz_path.py``): each trial
runs the real pipeline (decoder and its guard, engine and its guard, encoder,
JSON Lines sinks) over a feed of random units and mutated real ones, and checks
that the run returned and every value written validates against its schema.
Prints per decoder: inputs tried, updates that reached the engine, events, dead
letters, inputs per second. Exit 1 at the first failing trial (its seed is printed).

    .venv/bin/python -m bench.bench_fuzz [--per-decoder 100000] [--trial 5000] [--seed 1] [FORMAT ...]
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

from fuzz_path import FORMATS, random_units, whole_path  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("formats", nargs="*", default=list(FORMATS))
    ap.add_argument("--per-decoder", type=int, default=100_000)
    ap.add_argument("--trial", type=int, default=5_000, help="inputs per pipeline run")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    logging.disable(logging.WARNING)  # a million dead letters would each log a line
    print(f"{'decoder':<17}{'inputs':>10}{'updates':>10}{'events':>9}{'dead':>10}{'inputs/s':>10}")
    for fmt in args.formats:
        tried = updates = events = dead = 0
        started = time.perf_counter()
        trial = 0
        while tried < args.per_decoder:
            seed = args.seed * 1_000_003 + trial
            units = random_units(fmt, min(args.trial, args.per_decoder - tried), random.Random(seed))
            try:
                with tempfile.TemporaryDirectory() as folder:
                    result = whole_path(fmt, units, Path(folder))
            except Exception:  # noqa: BLE001 - report the failing trial and stop
                traceback.print_exc()
                print(f"{fmt}: trial with seed {seed} failed ({len(units)} inputs)", file=sys.stderr)
                return 1
            tried += len(units)
            updates += result.updates
            events += result.events
            dead += result.dead_letters
            trial += 1
        rate = tried / (time.perf_counter() - started)
        print(f"{fmt:<17}{tried:>10,}{updates:>10,}{events:>9,}{dead:>10,}{rate:>10,.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
