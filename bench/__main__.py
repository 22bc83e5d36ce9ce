"""Run every benchmark in this folder (``make bench``): each prints its own figures.

Benchmarks compare against a naive baseline measured in the same run, because
these machines are noisy; they are not tests and assert nothing about time.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem for p in HERE.glob("bench_*.py"))
    for name in names:
        path = HERE / f"{name}.py"
        if not path.is_file():
            print(f"no benchmark {name} in {HERE}", file=sys.stderr)
            return 2
        print(f"== {name}", flush=True)
        runpy.run_path(str(path), run_name="__main__")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
