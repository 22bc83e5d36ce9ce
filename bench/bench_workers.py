"""Workers on Kafka end to end: 1 and 2 ingest workers, 1 and 2 engine workers, latency.

Every worker is a ``closewatch run --role ...`` process against a local single-node broker
(``alerts.broker.LocalBroker``), all on this machine: the broker and the workers share its
cores. Three measurements, in one run:

1. **Ingest**: the real AIS and SBS-1 recordings (``../shared/data``; each cut in two halves
   at a message boundary, and read ``--repeat`` times over so that a run lasts long enough to
   time) decoded and routed to the cells topic by one ingest worker reading every half, then by
   two workers reading half each. Throughput: track updates over the time between the first
   and the last record the workers wrote (the records' timestamps: the workers' start-up is
   not counted). Measured without the archive, then with it (``[archive]``, each worker's
   own run in one folder, as a deployment runs by default).
2. **Engine**: the cells topic of the benchmark's synthetic world (``--tracks`` tracks with
   military traffic over ``--data-s`` s, spread over the Baltic and the Barents Sea;
   ``--cell-deg`` cells) judged by one engine worker, then by two in another consumer group.
   The workers start on an empty cells topic; once they hold their partitions, the filled
   topic's records are copied to theirs at full speed (the copy outruns the workers).
   Throughput: the world's updates over the time from the start of the copy to when the
   workers' committed offsets reach the topic's end (the offsets follow each partition's state
   checkpoint, every 0.25 s here, 5 s by default). Each layout is measured: hashed cells, and
   regions of about equal traffic planned from the world's first fifth
   (``closewatch.cells.plan_regions``). The real recordings are judged too, in cells of 1
   degree as regions that ``closewatch scale plan`` made from their first halves (they cover
   a few cells of Danish waters: in 4-degree cells one partition holds most of their reports).
3. **Latency**: the world read at ``--speed`` times real time by one ingest worker while two
   engine workers judge it: for each event revision, the time from its triggering update's
   record on the cells topic (the first report whose data time reached the revision's, as in
   bench_pipeline.py) to the revision's record on the events topic (p50, p99; the records'
   timestamps, taken by the producers when they send).

    .venv/bin/python bench/bench_workers.py [--tracks 4000 --data-s 300 --repeat 4 --speed 3 --rounds 3]

"worker cores" and "broker+copy" are the CPU seconds of the engine workers, and of the broker
and this process (which copies the records), over the measured time: on 2 cores, what the
broker and the copy take is what two workers cannot have.

"records" counts what the engine workers read: each update's own record and its halo copies.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
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
from closewatch.cells import CellGrid, plan_regions  # noqa: E402

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
            cell_deg: float, repeat: int = 1, cuts: tuple[int, ...] = (), archive: Path | None = None) -> Path:
    text = "".join(
        f'[[feeds]]\nname = "f{r}-{k}"\nformat = "{fmt}"\ntransport = "file"\npath = "{p}"\n\n'
        for r in range(repeat) for k, (fmt, p) in enumerate(feeds)
    )
    text += f"""[archive]
enabled = {'true' if archive else 'false'}
path = "{archive or 'unused'}"

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
region_cuts = {list(cuts)}
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


def ingest(bootstrap: str, work: Path, halves: list[tuple[str, Path]], workers: int, repeat: int,
           archive: bool = False) -> tuple[int, float, float]:
    """Track updates routed, their rate, and the workers' CPU seconds (start-up and the archive's
    writing to its end included), with ``workers`` ingest workers (writing the archive too)."""
    tag = f"ingest{workers}{'-archive' if archive else ''}"
    cells = f"{tag}.cells"
    shares = [halves[0::2], halves[1::2]] if workers == 2 else [halves]
    procs = []
    for k, feeds in enumerate(shares):
        config = _config(work / f"{tag}-{k}.toml", bootstrap, tag, feeds, cells=cells, cell_deg=4.0, repeat=repeat,
                         archive=work / f"{tag}-archive" if archive else None)
        procs.append(_start(config, "ingest", work / f"{tag}-{k}.log", "--speed", "0"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for p in procs:
        p.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    updates = 0
    for k in range(len(shares)):
        line = [ln for ln in (work / f"{tag}-{k}.log").read_text().splitlines()
                if ln.startswith("ingest worker:")][0]
        updates += int(line.split()[2])
    stamps = [r.timestamp for r in _records(bootstrap, cells)]
    span_s = (max(stamps) - min(stamps)) / 1000.0
    return updates, updates / span_s, cpu_s


def _cpu_s(pids: list[int]) -> float:
    """CPU seconds (user and system) the processes ``pids`` have used so far (/proc/PID/stat)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime: the stat file's 14th and 15th fields
    return total / os.sysconf("SC_CLK_TCK")


def engine(bootstrap: str, work: Path, name: str, source: list[Any], workers: int, cell_deg: float,
           updates: int, cuts: tuple[int, ...] = (), broker_pid: int | None = None) -> tuple[int, float, float, float]:
    """Records judged (own and copies), the rate of the ``updates`` behind them with ``workers``
    engine workers, and the cores the workers and the rest (the broker and this process's copy)
    used meanwhile. The workers start on an empty cells topic; once they hold their partitions
    the ``source`` records (a filled cells topic's) are copied to it at full speed, so that no
    worker starts early."""
    from confluent_kafka import Producer

    cells = f"{name}.cells"
    config = _config(work / f"{name}.toml", bootstrap, name, [], cells=cells, cell_deg=cell_deg, cuts=cuts)
    logs = [work / f"{name}-{k}.log" for k in range(workers)]
    procs = [_start(config, "engine", log) for log in logs]
    others = [os.getpid()] + ([broker_pid] if broker_pid else [])
    try:
        while not _held(logs, 2):
            time.sleep(0.05)
        t0 = time.monotonic()
        cpu0 = _cpu_s([p.pid for p in procs]), _cpu_s(others)
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
        worker_cores = (_cpu_s([p.pid for p in procs]) - cpu0[0]) / took
        other_cores = (_cpu_s(others) - cpu0[1]) / took
    finally:
        _stop(procs)
    return len(source), updates / took, worker_cores, other_cores


def latency(bootstrap: str, work: Path, world: Path, speed: float, cell_deg: float,
            cuts: tuple[int, ...]) -> tuple[int, float, float]:
    """Event revisions, and the p50 and p99 seconds from anchor report to event record."""
    config = _config(work / "latency.toml", bootstrap, "latency", [("tracks-jsonl", world)], cells="latency.cells",
                     cell_deg=cell_deg, cuts=cuts)
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


def plan(work: Path, feeds: list[tuple[str, Path]], cell_deg: float) -> tuple[int, ...]:
    """The ``region_cuts`` of 2 partitions ``closewatch scale plan`` makes from ``feeds``."""
    config = _config(work / "plan.toml", "127.0.0.1:9", "plan", feeds, cells="plan.cells", cell_deg=cell_deg)
    out = subprocess.run([sys.executable, "-m", "closewatch", "scale", "plan", "-c", str(config)], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    print(out, file=sys.stderr)
    line = next(ln for ln in out.splitlines() if ln.startswith("region_cuts = "))
    return tuple(json.loads(line.split("=", 1)[1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=4, help="read the real recordings this many times over (ingest)")
    ap.add_argument("--tracks", type=int, default=4_000, help="tracks of the synthetic world (engine, latency)")
    ap.add_argument("--data-s", type=float, default=300.0, help="seconds of data of the synthetic world")
    ap.add_argument("--cell-deg", type=float, default=4.0)
    ap.add_argument("--rounds", type=int, default=3, help="paired rounds (1 then 2 engine workers) per layout of the world")
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
            rows: list[tuple[str, int, int, float, float | None, float | None]] = []
            ratios: dict[str, list[float]] = {}
            ingest_cpu: list[str] = []
            for archive in (False, True):
                for n in (1, 2):
                    updates, rate, cpu_s = ingest(bootstrap, work, halves, n, args.repeat, archive)
                    what = f"ingest, real AIS + SBS-1 x{args.repeat}{', with the archive' if archive else ''}"
                    rows.append((what, n, updates, rate, None, None))
                    print(f"... {what} x{n}: {rate:,.0f} updates/s, workers' CPU {cpu_s:.1f} s "
                          f"({cpu_s / updates * 1e6:.0f} us per update)", file=sys.stderr, flush=True)
                    ingest_cpu.append(f"{what}, {n} worker(s): CPU {cpu_s:.1f} s, {cpu_s / updates * 1e6:.0f} us/update")
            real_updates = rows[0][2]
            # the real recordings in cells of 1 degree, as regions planned from their first halves
            real_cuts = plan(work, halves[0::2], 1.0)
            filler = _config(work / "real.toml", bootstrap, "real", halves, cells="real.cells", cell_deg=1.0,
                             repeat=args.repeat, cuts=real_cuts)
            _start(filler, "ingest", work / "real-ingest.log", "--speed", "0").wait()
            real_cells = _records(bootstrap, "real.cells")
            for n in (1, 2):
                reports, rate, cores, rest = engine(bootstrap, work, f"real{n}", real_cells, n, 1.0, real_updates,
                                                    real_cuts, broker.pid)
                rows.append((f"engine, the same {real_updates:,} updates, regions", n, reports, rate, cores, rest))
            world = work / "world.jsonl"
            ups = military_world(args.tracks, args.data_s)
            with world.open("wb") as f:
                for u in ups:
                    f.write(encode_track(u) + b"\n")
            # the regions planned from the world's first fifth (a deployment plans from yesterday's traffic)
            first = ups[: len(ups) // 5]
            grid = CellGrid(args.cell_deg)
            cuts = plan_regions(grid.cells(np.array([u.lat_deg for u in first]), np.array([u.lon_deg for u in first])),
                                grid, 2)
            for layout, layout_cuts in (("hashed cells", ()), ("regions", cuts)):
                tag = "regions" if layout_cuts else "hashed"
                filler = _config(work / f"world-{tag}.toml", bootstrap, f"world-{tag}", [("tracks-jsonl", world)],
                                 cells=f"world-{tag}.cells", cell_deg=args.cell_deg, cuts=layout_cuts)
                _start(filler, "ingest", work / f"world-{tag}-ingest.log", "--speed", "0").wait()
                world_cells = _records(bootstrap, f"world-{tag}.cells")
                for r in range(args.rounds):
                    for n in (1, 2):
                        reports, rate, cores, rest = engine(bootstrap, work, f"world-{tag}{n}-{r}", world_cells, n,
                                                            args.cell_deg, len(ups), layout_cuts, broker.pid)
                        rows.append((f"engine, {args.tracks:,} tracks ({len(ups):,} updates), {layout}", n, reports,
                                     rate, cores, rest))
                        print(f"... engine {tag} x{n}: {rate:,.0f} updates/s", file=sys.stderr, flush=True)
                ratios[layout] = [b[3] / a[3] for a, b in zip(rows[-2 * args.rounds::2], rows[-2 * args.rounds + 1::2])]
            events, p50, p99 = latency(bootstrap, work, world, args.speed, args.cell_deg, cuts)
        finally:
            broker.stop()
    print(f"{'what':<60}{'workers':>8}{'records':>12}{'updates/s':>12}{'vs one':>8}{'worker cores':>14}"
          f"{'broker+copy':>13}")
    for k, (what, n, count, rate, cores, rest) in enumerate(rows):
        ratio = rate / rows[k - 1][3] if n == 2 else 1.0
        used = f"{cores:>14.2f}{rest:>13.2f}" if cores is not None and rest is not None else ""
        print(f"{what:<60}{n:>8}{count:>12,}{rate:>12,.0f}{ratio:>7.2f}x{used}")
    for line in ingest_cpu:
        print(line)
    for layout, rs in ratios.items():
        print(f"engine, {layout}: 2 workers over 1, {len(rs)} paired rounds: median {np.median(rs):.2f}x "
              f"({', '.join(f'{x:.2f}' for x in rs)})")
    print(f"latency, world at {args.speed:g}x real time, 2 engine workers, regions: {events:,} event revisions, "
          f"triggering update to event record p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    print(f"(2 cores: the broker and every worker process share them; cells of {args.cell_deg:g} degrees, "
          f"2 partitions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
