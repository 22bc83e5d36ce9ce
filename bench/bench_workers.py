"""Workers on Kafka end to end: 1 and 2 ingest workers, 1 and 2 engine workers, latency.

Every worker is a ``closewatch run --role ...`` process against a local single-node broker
(``alerts.broker.LocalBroker``), all on this machine: the broker and the workers share its
cores. Three measurements, in one run:

1. **Ingest**: the real AIS and SBS-1 recordings (``../shared/data``; each cut in two halves
   at a message boundary, and read ``--repeat`` times over so that a run lasts long enough to
   time) decoded and routed to the cells topic by one ingest worker reading every half, then by
   two workers reading half each. Throughput: track updates over the time between the first
   and the last record the workers wrote (the records' timestamps: the workers' start-up is
   not counted).
2. **Engine**: the cells topic of the benchmark's synthetic world (``--tracks`` tracks with
   military traffic over ``--data-s`` s, spread over the Baltic and the Barents Sea;
   ``--cell-deg`` cells) judged by one engine worker, then by two in another consumer group.
   The workers start on an empty cells topic; once they hold their partitions, the filled
   topic's records are copied to theirs at full speed (the copy outruns the workers).
   Throughput: the world's updates over the time from the start of the copy to when the
   workers' committed offsets reach the topic's end (the offsets follow each partition's state
   checkpoint, every 0.25 s here, 5 s by default). The engine figure of the real recordings' cells topic (from
   step 1) is printed too: they cover a few cells of Danish waters, so one partition holds
   most of their reports, and they cannot show an engine split.
3. **Latency**: the world read at ``--speed`` times real time by one ingest worker while two
   engine workers judge it: for each event revision, the time from its triggering update's
   record on the cells topic (the first report whose data time reached the revision's, as in
   bench_pipeline.py) to the revision's record on the events topic (p50, p99; the records'
   timestamps, taken by the producers when they send).

    .venv/bin/python bench/bench_workers.py [--tracks 4000 --data-s 300 --repeat 4 --speed 3]

"records" counts what the engine workers read: each update's own record and its halo copies.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alerts.broker import LocalBroker  # noqa: E402
from alerts.codec import encode_track  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
AIS = SHARED / "ais" / "dma_aisabnormal_ais-sample.txt.gz"
SBS = SHARED / "adsb" / "node-sbs1_msgs.txt"


def _halves(folder: Path) -> list[tuple[str, Path]]:
    """Each recording cut in two at a message boundary: [(format, path)] * 4."""
    ais = gzip.decompress(AIS.read_bytes()).splitlines(keepends=True)
    sbs = SBS.read_bytes().splitlines(keepends=True)
    cut = next(i for i in range(len(ais) // 2, len(ais)) if ais[i].startswith(b"\\"))  # a tag block starts one
    out = []
    for name, fmt, lines, at in (("ais", "ais-nmea", ais, cut), ("sbs", "sbs1", sbs, len(sbs) // 2)):
        for k, part in enumerate((lines[:at], lines[at:])):
            path = folder / f"{name}-{k}.txt"
            path.write_bytes(b"".join(part))
            out.append((fmt, path))
    return out


def _config(path: Path, bootstrap: str, name: str, feeds: list[tuple[str, Path]], *, cells: str,
            cell_deg: float, repeat: int = 1) -> Path:
    text = "".join(
        f'[[feeds]]\nname = "f{r}-{k}"\nformat = "{fmt}"\ntransport = "file"\npath = "{p}"\n\n'
        for r in range(repeat) for k, (fmt, p) in enumerate(feeds)
    )
    text += f"""[archive]
enabled = false

[zones]
territorial = false

[kafka]
bootstrap_servers = "{bootstrap}"
events_topic = "{name}.events"
tracks_topic = "{name}.tracks"
deadletter_topic = "{name}.dl"
spool_dir = "{path.parent / (name + '-spool')}"

[scale]
cells_topic = "{cells}"
interest_topic = "{name}.interest"
state_topic = "{name}.state"
engine_group = "{name}.engine"
partitions = 2
cell_deg = {cell_deg}
checkpoint_interval_s = 0.25
"""
    path.write_text(text)
    return path


def _start(config: Path, role: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "closewatch", "run", "-c", str(config), "--role", role, *extra],
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=ROOT)


def _records(bootstrap: str, topic: str) -> list[Any]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_bytes=16_000_000)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        out: list[Any] = []
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for recs in consumer.poll(timeout_ms=500).values():
                out.extend(recs)
        return out
    finally:
        consumer.close()


def _end(bootstrap: str, topic: str) -> int:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(tps).values())
    finally:
        consumer.close()


def _committed(bootstrap: str, group: str, topic: str) -> int:
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
    except KafkaError:
        return 0
    finally:
        admin.close()
    return sum(o.offset for tp, o in offsets.items() if tp.topic == topic)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(120)
        except subprocess.TimeoutExpired:
            p.kill()


def _held(logs: list[Path], n: int) -> bool:
    """Every worker holds partitions after the last rebalance (n workers, n partitions between them)."""
    last = []
    for log in logs:
        lines = [ln for ln in log.read_text().splitlines() if "holds partitions" in ln] if log.exists() else []
        if not lines:
            return False
        last.append(json.loads(lines[-1].split("holds partitions ", 1)[1]))
    return sorted(p for parts in last for p in parts) == list(range(n))


def ingest(bootstrap: str, work: Path, halves: list[tuple[str, Path]], workers: int, repeat: int) -> tuple[int, float]:
    """Track updates routed, and their rate, with ``workers`` ingest workers."""
    cells = f"ingest{workers}.cells"
    shares = [halves[0::2], halves[1::2]] if workers == 2 else [halves]
    procs = []
    for k, feeds in enumerate(shares):
        config = _config(work / f"ingest{workers}-{k}.toml", bootstrap, f"ingest{workers}", feeds, cells=cells,
                         cell_deg=4.0, repeat=repeat)
        procs.append(_start(config, "ingest", work / f"ingest{workers}-{k}.log", "--speed", "0"))
    for p in procs:
        p.wait()
    updates = 0
    for k in range(len(shares)):
        line = [ln for ln in (work / f"ingest{workers}-{k}.log").read_text().splitlines()
                if ln.startswith("ingest worker:")][0]
        updates += int(line.split()[2])
    stamps = [r.timestamp for r in _records(bootstrap, cells)]
    span_s = (max(stamps) - min(stamps)) / 1000.0
    return updates, updates / span_s


def engine(bootstrap: str, work: Path, name: str, source: list[Any], workers: int, cell_deg: float,
           updates: int) -> tuple[int, float]:
    """Records judged (own and copies), and the rate of the ``updates`` behind them, with ``workers``
    engine workers. The workers start on an empty cells topic; once they hold their partitions
    the ``source`` records (a filled cells topic's) are copied to it at full speed, so that no
    worker starts early."""
    from confluent_kafka import Producer

    cells = f"{name}.cells"
    config = _config(work / f"{name}.toml", bootstrap, name, [], cells=cells, cell_deg=cell_deg)
    logs = [work / f"{name}-{k}.log" for k in range(workers)]
    procs = [_start(config, "engine", log) for log in logs]
    try:
        while not _held(logs, 2):
            time.sleep(0.05)
        t0 = time.monotonic()
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        for r in source:
            while True:
                try:
                    producer.produce(cells, r.value, r.key, partition=r.partition, headers=r.headers)
                    break
                except BufferError:
                    producer.poll(0.05)
        producer.flush(60)
        while _committed(bootstrap, f"{name}.engine", cells) < len(source):
            time.sleep(0.05)
        took = time.monotonic() - t0
    finally:
        _stop(procs)
    return len(source), updates / took


def latency(bootstrap: str, work: Path, world: Path, speed: float, cell_deg: float) -> tuple[int, float, float]:
    """Event revisions, and the p50 and p99 seconds from anchor report to event record."""
    config = _config(work / "latency.toml", bootstrap, "latency", [("tracks-jsonl", world)], cells="latency.cells",
                     cell_deg=cell_deg)
    logs = [work / f"latency-{k}.log" for k in range(2)]
    procs = [_start(config, "engine", log) for log in logs]
    try:
        while not _held(logs, 2):
            time.sleep(0.1)
        _start(config, "ingest", work / "latency-ingest.log", "--speed", str(speed)).wait()
        end = _end(bootstrap, "latency.cells")
        while _committed(bootstrap, "latency.engine", "latency.cells") < end:
            time.sleep(0.2)
    finally:
        _stop(procs)
    # the triggering update of a revision (as bench_pipeline.py): the first report whose data
    # time reached the revision's (the report itself for what a report raises, the first report
    # past the tick for what the engine raises at its ticks)
    t_s, sent = [], []
    for r in _records(bootstrap, "latency.cells"):
        if dict(r.headers).get("cw_copy") == b"0":
            t_s.append(json.loads(r.value)["t_s"])
            sent.append(r.timestamp)
    order = np.argsort(t_s, kind="stable")
    data_t = np.asarray(t_s)[order]
    first_sent = np.minimum.accumulate(np.asarray(sent, np.float64)[order][::-1])[::-1]  # earliest at or after
    delays = []
    for r in _records(bootstrap, "latency.events"):
        k = int(np.searchsorted(data_t, json.loads(r.value)["properties"]["t_s"] - 1e-6))
        if k < len(data_t):
            delays.append((r.timestamp - first_sent[k]) / 1000.0)
    d = np.array(delays)
    return len(d), float(np.percentile(d, 50)), float(np.percentile(d, 99))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=4, help="read the real recordings this many times over (ingest)")
    ap.add_argument("--tracks", type=int, default=4_000, help="tracks of the synthetic world (engine, latency)")
    ap.add_argument("--data-s", type=float, default=300.0, help="seconds of data of the synthetic world")
    ap.add_argument("--cell-deg", type=float, default=4.0)
    ap.add_argument("--speed", type=float, default=3.0, help="the latency run reads the world this much faster "
                    "than real time")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests"))
    from bench_worlds import military_world

    with tempfile.TemporaryDirectory(prefix="closewatch-bench-workers-") as tmp:
        work = Path(tmp)
        broker = LocalBroker(work / "broker", heap_mb=512)
        broker.start()
        bootstrap = broker.bootstrap_servers
        try:
            halves = _halves(work)
            rows = []
            for n in (1, 2):
                updates, rate = ingest(bootstrap, work, halves, n, args.repeat)
                rows.append((f"ingest, real AIS + SBS-1 x{args.repeat}", n, updates, rate))
                print(f"... ingest x{n}: {rate:,.0f} updates/s", file=sys.stderr, flush=True)
            real_updates = rows[0][2]
            real_cells = _records(bootstrap, "ingest1.cells")
            for n in (1, 2):
                reports, rate = engine(bootstrap, work, f"real{n}", real_cells, n, 4.0, real_updates)
                rows.append((f"engine, the same {real_updates:,} updates", n, reports, rate))
            world = work / "world.jsonl"
            ups = military_world(args.tracks, args.data_s)
            with world.open("wb") as f:
                for u in ups:
                    f.write(encode_track(u) + b"\n")
            filler = _config(work / "world.toml", bootstrap, "world", [("tracks-jsonl", world)], cells="world.cells",
                             cell_deg=args.cell_deg)
            _start(filler, "ingest", work / "world-ingest.log", "--speed", "0").wait()
            world_cells = _records(bootstrap, "world.cells")
            for n in (1, 2):
                reports, rate = engine(bootstrap, work, f"world{n}", world_cells, n, args.cell_deg, len(ups))
                rows.append((f"engine, world of {args.tracks:,} tracks, {len(ups):,} updates", n, reports, rate))
                print(f"... engine x{n}: {rate:,.0f} reports/s", file=sys.stderr, flush=True)
            events, p50, p99 = latency(bootstrap, work, world, args.speed, args.cell_deg)
        finally:
            broker.stop()
    print(f"{'what':<52}{'workers':>8}{'records':>12}{'updates/s':>12}{'vs one':>8}")
    for k, (what, n, count, rate) in enumerate(rows):
        ratio = rate / rows[k - 1][3] if n == 2 else 1.0
        print(f"{what:<52}{n:>8}{count:>12,}{rate:>12,.0f}{ratio:>7.2f}x")
    print(f"latency, world at {args.speed:g}x real time, 2 engine workers: {events:,} event revisions, "
          f"triggering update to event record p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    print(f"(2 cores: the broker and every worker process share them; cells of {args.cell_deg:g} degrees, "
          f"2 partitions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
