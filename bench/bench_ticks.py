"""The engine's time at its ticks in the busy world of ``bench_pipeline``: where prediction-tick latency goes.

Events raised at a prediction tick wait for the whole tick (docs/kafka.md, issue "predictions
without delay"); this measures the tick itself, without the pipeline and Kafka around it. The
engine takes the busy world (8,000 background tracks and 1,500 converging NATO/Russia pairs at
20,000 updates/s, ``bench_pipeline.make_world``) after ``WARMUP_S`` of data, in batches of 20 ms
of data time (a live pipeline's batches at that rate), for ``--data-s`` of data. Per batch: CPU
time (process time) and events; batches are told apart by what ran in them: a prediction run (a
slice of the tracks at the middle of each ``predict_interval_s / predict_slices`` of data time;
an engine without slices: every track at each ``predict_interval_s``), a pair tick (every 5 s),
or reports only. The figure that bounds the latency of an event is the *longest* batch.

    .venv/bin/python bench/bench_ticks.py                          # this checkout's engine
    .venv/bin/python bench/bench_ticks.py --compare /tmp/base      # and another checkout's, in turn

With ``--compare`` each engine runs in its own process (the other checkout first on the path),
``--rounds`` times in alternation; the figures are the ratios of the prediction runs' median and
longest time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def measure(data_s: float, pairs: int) -> dict[str, object]:
    import numpy as np

    from bench.bench_engine import T0, reports
    from bench.bench_pipeline import WARMUP_S, make_world
    from config.settings import ProximitySettings, ZoneSettings
    from config.zones import load_borders, load_catalogue
    from proximity.engine import Engine

    zones = load_catalogue(ZoneSettings())
    borders = [line for _n, line in load_borders()]
    s = ProximitySettings()
    world = make_world(8_000, pairs, 20_000.0, (WARMUP_S / 2, WARMUP_S + data_s), zones, s.horizon_s)
    engine = Engine(s, zones, borders=borders, wall_clock=lambda: 0.0)
    for t in np.arange(0.0, WARMUP_S, 5.0):
        ups = reports(world, float(t), float(min(t + 5.0, WARMUP_S)))
        for i in range(0, len(ups), 4096):
            engine.process(ups[i:i + 4096])
    step = 0.02
    batches = [(t, reports(world, t, t + step)) for t in np.arange(WARMUP_S, WARMUP_S + data_s, step).tolist()]
    kinds: dict[str, list[float]] = {"prediction": [], "pair tick": [], "reports only": []}
    events = 0
    slices = getattr(s, "predict_slices", None)  # None: an engine before prediction slices
    for t, ups in batches:
        # the batch's data time [lo, hi): a tick at k * P runs in the batch of the first report after it
        lo, hi = T0 + round(t, 6), T0 + round(t + step, 6)

        def passes(period: float, offset: float = 0.0) -> bool:
            return bool((math.ceil((lo - offset) / period) * period) + offset < hi)

        if passes(s.predict_interval_s) if slices is None else passes(s.predict_interval_s / slices,
                                                                       s.predict_interval_s / slices / 2):
            kind = "prediction"
        elif passes(s.pair_interval_s):
            kind = "pair tick"
        else:
            kind = "reports only"
        c = time.process_time()
        events += len(engine.process(ups))
        kinds[kind].append((time.process_time() - c) * 1000.0)
    return {"engine": str(Path(sys.modules["proximity.engine"].__file__ or "").parent.parent), "events": events,
            **{k: v for k, v in kinds.items()}}


def _child(tree: Path, data_s: float, pairs: int) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{HERE}"}
    out = subprocess.run([sys.executable, str(Path(__file__)), "--child", "--data-s", str(data_s), "--pairs", str(pairs)],
                         env=env, cwd=tree, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _line(name: str, r: dict[str, object]) -> str:
    parts = []
    for kind in ("prediction", "pair tick", "reports only"):
        ms = r[kind]
        assert isinstance(ms, list)
        parts.append(f"{kind}: {len(ms)} batches, median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms")
    return f"  {name} ({r['engine']}): " + "; ".join(parts) + f"; events {r['events']}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-s", type=float, default=60.0, help="data time measured after the warm-up")
    ap.add_argument("--pairs", type=int, default=1_500, help="converging pairs (busy world: 1,500)")
    ap.add_argument("--compare", type=Path, metavar="TREE", help="another checkout's engine, in turn with this one")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.data_s, args.pairs)))
        return 0
    trees = {"this": HERE, **({"other": args.compare.resolve()} if args.compare else {})}
    print(f"engine CPU time per 20-ms batch, busy world ({args.pairs:,} pairs), {args.data_s:g} s of data")
    ratios = []
    for r in range(args.rounds if args.compare else 1):
        got = {name: _child(tree, args.data_s, args.pairs)
               for name, tree in (trees.items() if r % 2 == 0 else reversed(list(trees.items())))}
        print(f"round {r + 1}")
        for name in trees:
            print(_line(name, got[name]))
        if args.compare:
            pred = {n: got[n]["prediction"] for n in ("this", "other")}
            ratios.append((statistics.median(pred["this"]) / statistics.median(pred["other"]),  # type: ignore[arg-type]
                           max(pred["this"]) / max(pred["other"])))  # type: ignore[arg-type]
    for k, what in enumerate(("median", "longest")):
        if ratios:
            r = [x[k] for x in ratios]
            print(f"prediction runs, this/other {what} time: {statistics.median(r):.3f} (range {min(r):.3f}-{max(r):.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
