"""Ingest throughput, measured against the bare library in the same run.

    .venv/bin/python bench/bench_ingest.py [--repeat N]

1. AIS: the real DMA sample (80,246 lines, 26,077 messages: tag blocks, $PGHP, !BSVDM)
   through ``ingest.AisDecoder`` (checksums, times, assembly, static merge, affiliation,
   TrackUpdates) against bare pyais (``pyais.IterMessages`` + ``decode()``, no
   checksums, no times, no records). Goal: at least 80 % of pyais' message rate,
   as the median of paired rounds (ours, then bare pyais, one after the other).
2. SBS-1: lines per second of ``ingest.Sbs1Decoder`` on the real node-sbs1 capture and
   on a dump1090-like mix (timestamps, MSG 3/4/5/7/8), against ``bytes.split(b",")`` of
   the same lines (the floor of any CSV parse). Goal: 200,000 lines/s on one core.

Each figure is the best of ``--repeat`` runs (the machine is shared). Reads the samples
from ../shared/data beside the repository.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))

import pyais  # noqa: E402

from config.affiliation import Affiliation  # noqa: E402
from ingest.ais import AisDecoder  # noqa: E402
from ingest.sbs1 import Sbs1Decoder  # noqa: E402


def best(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    """(best seconds, count) of ``repeat`` runs of ``fn`` (which returns the units processed)."""
    times = []
    n = 0
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        n = fn()
        times.append(time.perf_counter() - t)
    return min(times), n


def bench_ais(repeat: int) -> float:
    lines = gzip.open(DATA / "ais" / "dma_aisabnormal_ais-sample.txt.gz").read().splitlines()
    aff = Affiliation()

    def bare() -> int:
        n = 0
        for msg in pyais.IterMessages(lines):
            try:
                msg.decode()
                n += 1
            except Exception:  # noqa: BLE001 - the bare baseline skips what it cannot decode
                pass
        return n

    def ours() -> int:
        d = AisDecoder("bench", aff)
        for _ in d.decode(lines):
            pass
        return d.stats.messages

    # interleave so that both see the same machine load; each round's ratio is one pair
    t_bare = t_ours = float("inf")
    n_bare = n_ours = 0
    pairs = []
    for _ in range(repeat):
        tb, n_bare = best(bare, 1)
        to, n_ours = best(ours, 1)
        t_bare, t_ours = min(t_bare, tb), min(t_ours, to)
        pairs.append((n_ours / to) / (n_bare / tb))
    rate_bare, rate_ours = n_bare / t_bare, n_ours / t_ours
    ratio = statistics.median(pairs)
    print(f"AIS  DMA sample: {len(lines):,} lines, {n_ours:,} messages")
    print(f"     bare pyais (IterMessages + decode): {rate_bare:10,.0f} msg/s (best of {repeat})")
    print(f"     ingest.AisDecoder (-> TrackUpdate):  {rate_ours:10,.0f} msg/s (best of {repeat})")
    print(f"     paired rounds (ours/bare, one after the other): median {ratio:.0%}, "
          f"range {min(pairs):.0%}-{max(pairs):.0%} (goal >= 80 %: {'met' if ratio >= 0.8 else 'NOT met'})")
    return ratio


def _dump1090_mix(n: int) -> list[bytes]:
    out = []
    for i in range(n):
        hex_ = f"{0x3C0000 + i % 400:06X}"
        s = f"{i % 60:02d}.{i % 1000:03d}"
        head = f"1,1,{hex_},1,2024/05/01,12:00:{s},2024/05/01,12:00:{s}"
        k = i % 10
        if k < 3:
            out.append(f"MSG,3,{head},,{30000 + i % 500},,,{54 + (i % 97) / 100:.5f},{20 + (i % 89) / 100:.5f},,,0,0,0,0")
        elif k < 6:
            out.append(f"MSG,4,{head},,,{420 + i % 30},{(i * 7) % 360},,,{(i % 9 - 4) * 64},,0,,,0")
        elif k < 8:
            out.append(f"MSG,5,{head},,{30000 + i % 500},,,,,,,0,,0,0")
        elif k == 8:
            out.append(f"MSG,7,{head},,{30000 + i % 500},,,,,,,,,,0")
        else:
            out.append(f"MSG,8,{head},,,,,,,,,,,,0")
    return [line.encode() for line in out]


def bench_sbs(repeat: int) -> float:
    node = (DATA / "adsb" / "node-sbs1_msgs.txt").read_bytes().splitlines() * 50
    mix = _dump1090_mix(200_000)
    aff = Affiliation()
    worst = float("inf")
    for name, lines, clock in (("node-sbs1 capture x50", node, lambda: 1.7e9), ("dump1090-like mix", mix, None)):

        def split_only() -> int:
            for line in lines:
                line.split(b",")
            return len(lines)

        def ours() -> int:
            d = Sbs1Decoder("bench", aff, clock=clock)
            for _ in d.decode(lines):
                pass
            return d.stats.lines

        t_split, n = best(split_only, repeat)
        t_ours, _ = best(ours, repeat)
        rate = n / t_ours
        worst = min(worst, rate)
        print(f"SBS-1 {name}: {n:,} lines")
        print(f"     bytes.split floor:   {n / t_split:12,.0f} lines/s")
        print(f"     ingest.Sbs1Decoder:  {rate:12,.0f} lines/s  ({rate / (n / t_split):.0%} of the split floor; "
              f"goal >= 200,000: {'met' if rate >= 200_000 else 'NOT met'})")
    return worst


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=5)
    args, _ = p.parse_known_args(argv)
    if not DATA.is_dir():
        print(f"no samples at {DATA}", file=sys.stderr)
        return 2
    bench_ais(args.repeat)
    bench_sbs(args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
