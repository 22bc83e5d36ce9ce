"""Cursor on Target from a file: events per second, and how the time grows with the file.

    .venv/bin/python -m bench.bench_cot [--events N] [--repeat R]

A file of N ATAK-like events (as one XML document stream: events one after another, as a
CoT recorder writes them) is read through the real path of a file feed
(``ingest.transports.file_units`` with the decoder's framing, then ``ingest.CotDecoder``
to ``TrackUpdate``s), at N/4, N/2 and N events: a linear reader takes twice the time for
twice the events. The same bytes cut into 1,400-byte chunks (TCP segments) go through
the decoder as a second figure.

Baseline (the floor of any XML reader of these bytes): the whole file parsed once by the
same parser (``defusedxml.ElementTree.fromstring`` of the events wrapped in one root), no
records built.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from defusedxml.ElementTree import fromstring  # noqa: E402

from ingest.cot import CotDecoder  # noqa: E402
from ingest.transports import file_units  # noqa: E402

T0 = 1_714_564_800


def events(n: int) -> bytes:
    out = []
    for i in range(n):
        t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(T0 + i))
        s = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(T0 + i + 300))
        out.append(
            f"<event version='2.0' uid='ANDROID-{i % 500:06d}' type='a-h-A-M-F' time='{t}.000Z' start='{t}.000Z' "
            f"stale='{s}.000Z' how='m-g'><point lat='{55 + (i % 97) / 100:.5f}' lon='{20 + (i % 89) / 100:.5f}' "
            f"hae='{3000 + i % 50}' ce='10' le='20'/><detail><contact callsign='BEAR {i % 500}'/>"
            f"<track course='{(i * 7) % 360}' speed='200.0'/></detail></event>\n"
        )
    return "".join(out).encode()


def timed(fn) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    gc.collect()
    t = time.perf_counter()
    n = fn()
    return time.perf_counter() - t, n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=40_000)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for n in (args.events // 4, args.events // 2, args.events):
            blob = events(n)
            path = Path(tmp) / f"cot-{n}.xml"
            path.write_bytes(blob)

            def from_file() -> int:
                d = CotDecoder("bench")
                return sum(1 for _ in d.decode(file_units(path, d.framing)))

            def chunked() -> int:
                d = CotDecoder("bench")
                return sum(1 for _ in d.decode(blob[i : i + 1400] for i in range(0, len(blob), 1400)))

            def floor() -> int:
                return len(fromstring(b"<r>" + blob + b"</r>"))

            best = {name: min(timed(fn)[0] for _ in range(args.repeat)) for name, fn in
                    (("file", from_file), ("chunks", chunked), ("floor", floor))}
            assert from_file() == n == chunked() == floor()
            rows.append((n, len(blob), best))
        print(f"CoT, {rows[-1][0]:,} events in one file of {rows[-1][1] / 1e6:.1f} MB (best of {args.repeat}):")
        for n, size, best in rows:
            print(f"  {n:7,} events: file {best['file']:7.3f} s ({n / best['file']:9,.0f} events/s)   "
                  f"1,400-byte chunks {best['chunks']:7.3f} s   one-parse floor {best['floor']:6.3f} s   "
                  f"file/floor {best['file'] / best['floor']:5.1f}x")
        (n1, _, b1), (n2, _, b2) = rows[0], rows[-1]
        growth = (b2["file"] / b1["file"]) / (n2 / n1)
        print(f"  time per event at {n2:,} / at {n1:,} events: {growth:.2f} (1.00 = linear)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
