"""Benchmark of the archive, the replay and the report: rows/s, updates/s, seconds, bytes.

Run from the repository root::

    .venv/bin/python bench/bench_archive.py            # 1,000 tracks, 90 min of data (about 5 minutes)
    .venv/bin/python bench/bench_archive.py --quick    # 1,000 tracks, 40 min of data (the report's hour not full)

Traffic: ``bench.bench_engine``'s synthetic tracks (aircraft every 2 s, ships every 6 s,
land every 10 s over the catalogue's region), ``--tracks`` of them for ``--minutes`` of data
time, made before timing. Figures, each from one process on this machine:

1. **Archive writing** (goal: at least 300,000 rows/s): every update published to an
   ``ArchiveSink`` in batches of 4,096 (the pipeline's), then ``close`` (every row in closed,
   fsynced part files, small parts merged); three rounds in turn with the baseline, medians. Rows per CPU second of the process (the publishing
   and the writer thread together: the figure per core, which other work on a shared machine
   disturbs less than the wall clock), and per second of wall time.
   Baseline in the same run: the well-known simple way with the same result, a
   ``geopandas.GeoDataFrame`` built from the updates and written with ``to_parquet(...,
   write_covering_bbox=True)`` (GeoParquet 1.1, zstd), one file per hour.
2. **Archive size** per million track updates (the tracks table on disk), beside the same
   updates as the tracks topic's JSON Lines.
3. **Live run and replay on one core** (goal for the replay: at least 150,000 updates/s to
   the JSON Lines sink): the live engine over the updates in batches of 4,096 with the
   archive and a JSON Lines sink (the engine's time and the whole), then
   ``replay`` of the whole span from that archive to a JSON Lines sink: updates per second
   of CPU time (process time: the figure per core), and the replay's cost against the live
   engine's on the same input in the same run. Engine set-up (zone grids of the
   catalogue) is timed apart: both pay it once. The live run also gives what the archive
   costs the run's own thread: the time spent in its ``publish_*`` calls.
4. **Report of a one-hour window** (goal: under 30 s): ``closewatch report --from --to`` over
   the last hour (with its lead-in), every figure, the input archive, the manifest.
5. **Live run and replay in the busy world** (``--busy-s`` of data, default 120): section 3 again
   on ``bench_pipeline``'s busy world (8,000 tracks and 1,500 converging pairs, 20,000 updates
   per second of data), under the all-traffic profile. The 1,000 tracks above make about 300
   updates per second of data: there the engine's cost per second of data (its prediction
   slices and pair ticks) sets the rate; at the density of global traffic, the cost per update.
"""

from __future__ import annotations

import argparse
import gc
import io
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyarrow as pa
import pyarrow.parquet as pq

from alerts.codec import encode_tracks
from bench.bench_engine import T0, make_traffic, reports
from closewatch.archive import Archive, ArchiveSink
from closewatch.replay import Window, run_replay
from closewatch.replay_inputs import from_archive
from closewatch.report import build_report
from closewatch.rules import build_rules
from closewatch.sinks import JsonlSink
from config.settings import ArchiveSettings, Settings
from config.zones import load_borders, load_catalogue, load_land
from proximity.engine import Engine

BATCH = 4_096
WRITE_ROUNDS = 3


def _gdf_baseline(updates: list, out: Path) -> float:
    """Seconds to write ``updates`` the simple way: a GeoDataFrame per hour, ``to_parquet``."""
    import geopandas
    import pandas as pd

    t0 = time.perf_counter()
    fields = [f for f in ("track_id", "source", "t_s", "lat_deg", "lon_deg", "domain", "side", "alt_m", "alt_ref",
                          "alt_geom_m", "speed_mps", "course_deg", "heading_deg", "vrate_mps", "country", "callsign",
                          "name", "type_code", "receiver", "raw_ref")]
    frame = pd.DataFrame({f: [getattr(u, f) for u in updates] for f in fields})
    gdf = geopandas.GeoDataFrame(frame, geometry=geopandas.points_from_xy(frame.lon_deg, frame.lat_deg), crs="OGC:CRS84")
    hour = (gdf["t_s"] // 3600).astype(int)
    out.mkdir(parents=True, exist_ok=True)
    for h, part in gdf.groupby(hour):
        part.to_parquet(out / f"hour={h}.parquet", compression="zstd", write_covering_bbox=True)
    return time.perf_counter() - t0


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*.parquet"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracks", type=int, default=1000)
    ap.add_argument("--minutes", type=float, default=90.0)
    ap.add_argument("--quick", action="store_true", help="40 minutes of data")
    ap.add_argument("--busy-s", type=float, default=120.0,
                    help="data seconds of the busy world for section 5 (0: leave it out)")
    args = ap.parse_args()
    minutes = 40.0 if args.quick else args.minutes
    work = Path(tempfile.mkdtemp(prefix="closewatch-bench-archive-"))
    try:
        run(args.tracks, minutes, work)
        if args.busy_s > 0:
            busy(args.busy_s, work / "busy")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _live_and_replay(updates: list, span_s: float, work: Path, settings: Settings | None = None) -> None:
    """Section 3 of the module doc for ``updates`` (``span_s`` of data from ``T0``), in ``work``."""
    work.mkdir(parents=True)
    settings = (settings or Settings()).model_copy(update={"archive": ArchiveSettings(path=str(work / "archive"))})
    zones = load_catalogue(settings.zones)
    borders = [line for _n, line in load_borders()]
    c0, t0 = time.process_time(), time.perf_counter()
    # the engine a run and a replay build: the configured rule profile (the default, military) and the land
    engine = Engine(settings.proximity, zones, borders=borders, rules=build_rules(settings), land=load_land())
    setup_cpu, setup_wall = time.process_time() - c0, time.perf_counter() - t0
    print(f"engine set-up (default catalogue): {setup_cpu:.1f} s CPU, {setup_wall:.1f} s wall (live and replay each)")
    archive_sink = ArchiveSink(settings.archive, run_settings=settings)
    archive_sink.publish_zones(zones)
    live_jsonl = JsonlSink(work / "live-events.jsonl", work / "live-dl.jsonl")
    gc.collect()
    engine_cpu = 0.0
    hot_path = 0.0
    n_events = 0
    c_all = time.process_time()
    for i in range(0, len(updates), BATCH):
        batch = updates[i:i + BATCH]
        c0 = time.process_time()
        events = engine.process(batch)
        engine_cpu += time.process_time() - c0
        n_events += len(events)
        live_jsonl.publish_events(events)
        p0 = time.perf_counter()
        archive_sink.publish_events(events)
        archive_sink.publish_tracks(batch)
        hot_path += time.perf_counter() - p0
    final = engine.finish()
    live_jsonl.publish_events(final)
    archive_sink.publish_events(final)
    live_jsonl.close()
    archive_sink.close()
    live_cpu = time.process_time() - c_all
    print(f"live run: engine {len(updates) / engine_cpu:,.0f} updates/s of CPU ({engine_cpu:.1f} s); with the archive "
          f"and JSON Lines sinks {len(updates) / live_cpu:,.0f} updates/s of CPU ({live_cpu:.1f} s); "
          f"{n_events + len(final):,} event revisions")
    print(f"  the archive's cost on the run's thread (publish calls): {hot_path / len(updates) * 1e6:.2f} us per update"
          f" ({hot_path:.2f} s in all)")
    window = Window(T0, T0 + span_s + 1.0)
    gc.collect()
    c0, t0 = time.process_time(), time.perf_counter()
    inp = from_archive(Archive(work / "archive"), window)
    replay_jsonl = JsonlSink(work / "replay-events.jsonl", work / "replay-dl.jsonl")
    read_cpu = time.process_time() - c0
    result = run_replay(inp.settings, inp.zones, inp.items, window, start_s=inp.start_s, sinks=[replay_jsonl],
                        borders=borders)
    replay_jsonl.close()
    replay_cpu = time.process_time() - c0
    # run_replay builds its engine: not counted, as the live one's is not. Its zone grids come from
    # the process's cache by now, so what it cost is measured again here, not taken from above.
    c0 = time.process_time()
    Engine(inp.settings.proximity, inp.zones, borders=borders, rules=build_rules(inp.settings), land=load_land())
    replay_cpu -= time.process_time() - c0
    replay_wall = time.perf_counter() - t0
    assert result.updates == len(updates), (result.updates, len(updates))
    print(f"replay from the archive to JSON Lines: {result.updates / replay_cpu:,.0f} updates/s of CPU "
          f"({replay_cpu:.1f} s, of which reading the archive {read_cpu:.1f} s; {replay_wall:.1f} s wall with the "
          f"engine set-up); {len(result.events):,} revisions")
    print(f"  replay cost against the live engine on the same input: {replay_cpu / engine_cpu:.2f}x its CPU time "
          f"({replay_cpu / live_cpu:.2f}x the live run with its sinks)")
    same = (work / "replay-events.jsonl").read_bytes().count(b"\n") == n_events + len(final)
    print(f"  the replay wrote as many revisions as the live run: {same}")


def run(n_tracks: int, minutes: float, work: Path) -> None:
    tr = make_traffic(n_tracks)
    span_s = minutes * 60.0
    updates = reports(tr, 0.0, span_s)
    print(f"traffic: {n_tracks:,} tracks, {minutes:g} min of data, {len(updates):,} track updates")

    # 1. archive writing, and the baseline, in turn for WRITE_ROUNDS rounds (medians: a process's
    # first writes are dearer, and this machine's speed drifts). A process's first Parquet write
    # imports pandas (pyarrow's metadata, 0.3-0.6 s once per process): paid before either side is timed.
    pq.write_table(pa.table({"warm": [1]}), io.BytesIO())
    write_cpus, write_walls, base_cpus = [], [], []
    for r in range(WRITE_ROUNDS):
        gc.collect()
        sink = ArchiveSink(ArchiveSettings(path=str(work / f"write{r}")), run_settings=Settings())
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(0, len(updates), BATCH):
            sink.publish_tracks(updates[i:i + BATCH])
        sink.close()
        write_walls.append(time.perf_counter() - t0)
        write_cpus.append(time.process_time() - c0)
        gc.collect()
        c0 = time.process_time()
        _gdf_baseline(updates, work / f"baseline{r}")
        base_cpus.append(time.process_time() - c0)
    write_cpu, write_s, base_cpu = (statistics.median(v) for v in (write_cpus, write_walls, base_cpus))
    ratios = ", ".join(f"{w / b:.2f}" for w, b in zip(write_cpus, base_cpus))
    print(f"archive writing: {len(updates) / write_cpu:,.0f} rows per CPU second ({write_cpu:.2f} s CPU, both threads;"
          f" {len(updates) / write_s:,.0f} rows/s of wall time, durable and merged; medians of {WRITE_ROUNDS} rounds)")
    print(f"  baseline (GeoDataFrame.to_parquet, covering bbox, zstd): {len(updates) / base_cpu:,.0f} rows per CPU "
          f"second ({base_cpu:.2f} s): the archive needs {write_cpu / base_cpu:.2f}x the baseline's CPU "
          f"(by round: {ratios})")

    # 2. size
    size = _size(work / "write0" / "tracks")
    jsonl = sum(len(v) + 1 for v, _h in encode_tracks(updates))
    print(f"archive size: {size / len(updates) * 1e6 / 1e6:,.1f} MB per million track updates "
          f"({size / len(updates):.1f} B/update; the same as JSON Lines: {jsonl / len(updates) * 1e6 / 1e6:,.0f} MB"
          f" per million; baseline file {_size(work / 'baseline0') / len(updates) * 1e6 / 1e6:,.1f} MB)")

    # 3. live engine, then replay from its archive
    _live_and_replay(updates, span_s, work / "live")

    # 4. report of the last hour
    hour_end = T0 + span_s
    rep = Window(hour_end - 3600.0, hour_end)
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    summary = build_report(Archive(work / "live" / "archive"), work / "report", window=rep)
    report_s, report_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"report of a one-hour window of {n_tracks:,} tracks: {report_s:.1f} s wall, {report_cpu:.1f} s CPU "
          f"({summary.updates:,} updates replayed with the lead-in, {summary.revisions:,} revisions, "
          f"{len(summary.figures)} figures, {_size(work / 'report' / 'input') / 1e6:.1f} MB of input)")



def busy(data_s: float, work: Path) -> None:
    """Section 5: section 3 again in ``bench_pipeline``'s busy world, under the all-traffic rule
    profile (its pairs are civil: under the default military profile the engine would raise none)."""
    from bench.bench_pipeline import make_world

    settings = Settings.model_validate({"rules": {"profile": "all-traffic"}})
    world = make_world(8_000, 1_500, 20_000.0, (10.0, data_s), load_catalogue(settings.zones),
                       settings.proximity.horizon_s)
    updates = reports(world, 0.0, data_s)
    print(f"busy world: 8,000 tracks and 1,500 converging pairs at 20,000 updates/s, all-traffic profile, "
          f"{data_s:g} s of data, {len(updates):,} track updates")
    _live_and_replay(updates, data_s, work, settings)


if __name__ == "__main__":
    main()
