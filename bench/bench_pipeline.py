"""End-to-end pipeline benchmark: track update in, event acknowledged by Kafka out.

The real parts in the loop: ``closewatch.pipeline.Pipeline`` (its micro-batching
loop: a batch goes out at ``pipeline.batch_size`` updates or after
``pipeline.max_batch_delay_s``), ``proximity.engine.Engine`` with the default
zone catalogue and the border lines, and ``alerts.producer.KafkaSink`` publishing
the events and the normalised tracks (``acks=all``, idempotence) to a real
single-node Kafka broker (``alerts.broker.LocalBroker``) on this machine. Only
the feeds are replaced: the pipeline reads a queue, as its live feeds do.

The world: ``--tracks`` background tracks around the Baltic (``REGION``), sides
55 % NATO, 5 % Russia (mostly ships), 40 % other or unknown, 55 % aircraft
otherwise; they start outside the zones that watch them and, but for 1 %, keep
out of them for the prediction horizon (so zone events are rare, as they should
be). Plus ``--pairs`` NATO/Russia pairs (aircraft at one flight level, or ships)
converging head-on to meet during the run: close approaches, their predictions,
their closing. Report periods are set so that the tracks together make
``--rate`` updates per second (aircraft six times as often as ships). Before
timing, the engine takes ``WARMUP_S`` of the world's data (the initial zone
entries and the first predictions are behind it) and the sink a few records.

Timing: a feed thread hands the pipeline the updates of each 5 ms of data time
at the wall time that data time is due (data time runs with the wall clock, as
in a live feed). The updates are made before timing (``--live-updates``: made
by the feed thread while timing, as a decoder in the same process would). An
update *enters the pipeline* at its scheduled time; if the pipeline is late, the
wait counts. The latency of an event runs from the entry of its *triggering
update* to the broker's acknowledgement reaching the producer
(``KafkaSink(ack_listener=...)``). The triggering update is the report the event
is about (zone entries, integrity flags), or, for what the engine raises at its
ticks (pairs, predictions, expiries), the first update whose data time passed
the tick. Tracks: from entry to the acknowledgement of their batch.

Scenarios, each on a fresh engine and its own topics, one after the other:

* ``realistic``: ``--pairs`` pairs (default 60): a few events per second.
* ``busy``: ``--busy-pairs`` pairs (default 1,500): some fifty events per second, bursts of hundreds.
* ``per-update`` (baseline): the realistic world with ``batch_size = 1``: the
  engine and the sink take each update alone, as soon as it arrives.
* ``sync-send`` (baseline): the busy world in micro-batches, but each event is
  sent and waited for (``flush``: until everything sent so far is acknowledged)
  before the next, as with a synchronous producer.

A baseline that falls behind keeps its backlog; the feed stops at the end of the
offered time, and what the pipeline did not take within ``GRACE_S`` more is reported.

Run from the repository root: ``.venv/bin/python bench/bench_pipeline.py``
(about four minutes, 0.5 GB of memory for the updates made before timing;
``--quick``: the realistic and busy scenarios only; ``--max-batch-delay-s``,
``--batch-size``: the pipeline settings; ``--profile FILE``: a cProfile of the
realistic scenario's main thread).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import logging
import os
import queue
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import shapely
from pyproj import Geod

if __package__ in (None, ""):  # run as a script: the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.broker import LocalBroker
from alerts.producer import KafkaSink
from bench.bench_engine import T0, Traffic, reports
from closewatch.pipeline import Pipeline
from config.records import DeadLetter, TrackUpdate, Zone
from config.settings import KafkaSettings, PipelineSettings, ProximitySettings, Settings, ZoneSettings
from config.zones import load_borders, load_catalogue
from proximity.engine import Engine
from proximity.events import Event

REGION = (17.0, 54.0, 31.0, 61.0)  # lon/lat: the Baltic from Gotland to St Petersburg, Kaliningrad, the Baltic states
SIDE_SHARES = (0.55, 0.05, 0.25, 0.15)  # nato, russia, other, unknown
AIR_SHARE = 0.55  # of the tracks of each side but Russia's
RUSSIAN_AIR_SHARE = 0.2
INTRUDER_SHARE = 0.01  # background tracks free to head into a zone within the prediction horizon
STEP_S = 0.005  # the feed thread hands over what is due every 5 ms
WARMUP_S = 62.5  # data before timing: two prediction ticks (the first opens everything); timing starts between ticks
GRACE_S = 5.0  # after the offered time, how long a late pipeline may still take input
_GEOD = Geod(ellps="WGS84")


# -- the world -------------------------------------------------------------------------------


def _outside_zones(lon: np.ndarray, lat: np.ndarray, side: np.ndarray, domain: np.ndarray,
                   zones: Sequence[Zone]) -> np.ndarray:
    """True where no zone that watches the track's side and domain contains its position."""
    ok = np.ones(lon.size, bool)
    names = np.array(["air", "sea", "land"])[domain]
    for z in zones:
        watched = np.isin(side, list(z.sides)) & np.isin(names, list(z.domains))
        if watched.any():
            idx = np.nonzero(watched & ok)[0]
            ok[idx] &= ~shapely.contains_xy(z.geometry, lon[idx], lat[idx])
    return ok


def make_world(n_tracks: int, pairs: int, rate: float, meet_window_s: tuple[float, float], zones: Sequence[Zone],
               horizon_s: float, seed: int = 7) -> Traffic:
    """Background tracks plus converging NATO/Russia pairs (see the module docstring).

    Positions are those at data time 0 (``T0``; the reports of ``bench_engine`` are
    right for times from 0 on). Background tracks start outside the zones that watch
    them and, but for ``INTRUDER_SHARE`` of them, keep out of those zones for the
    prediction horizon; pairs meet at a time drawn from ``meet_window_s``.
    """
    rng = np.random.default_rng(seed)
    lon0, lat0, lon1, lat1 = REGION
    parts: list[tuple[np.ndarray, ...]] = []
    have = 0
    while have < n_tracks:
        m = 3 * (n_tracks - have) + 100
        s = rng.choice(np.array(["nato", "russia", "other", "unknown"]), m, p=SIDE_SHARES)
        # Russian tracks are mostly ships (merchant and naval); others mostly aircraft
        d = (rng.random(m) >= np.where(s == "russia", RUSSIAN_AIR_SHARE, AIR_SHARE)).astype(np.int64)
        x = rng.uniform(lon0, lon1, m)
        y = rng.uniform(lat0, lat1, m)
        crs = rng.uniform(0, 360, m)
        v = np.where(d == 0, rng.uniform(120, 250, m), rng.uniform(0, 12, m))
        keep = _outside_zones(x, y, s, d, zones)
        steady = rng.random(m) >= INTRUDER_SHARE
        for k in range(1, 9):  # the path ahead, to 1.2 horizons
            px, py, _ = _GEOD.fwd(x, y, crs, v * 1.2 * horizon_s * k / 8)
            keep &= ~steady | _outside_zones(np.asarray(px), np.asarray(py), s, d, zones)
        parts.append((x[keep], y[keep], s[keep], d[keep], crs[keep], v[keep]))
        have += int(keep.sum())
    lon, lat, side, domain, course, speed = (np.concatenate(c)[:n_tracks] for c in zip(*parts))
    cruise = rng.random(n_tracks) < 0.75
    alt = np.where(domain == 0, np.where(cruise, rng.uniform(7_600, 12_500, n_tracks),
                                         rng.uniform(300, 3_000, n_tracks)), np.nan)
    # converging pairs: meet near a point of the mixing band, head-on, a few hundred metres apart
    meet_lon = rng.uniform(19.0, 27.0, pairs)
    meet_lat = rng.uniform(55.0, 60.0, pairs)
    meet_t = rng.uniform(*meet_window_s, pairs)
    p_dom = rng.choice(2, pairs, p=[0.6, 0.4])
    p_speed = np.where(p_dom == 0, rng.uniform(130, 230, pairs), rng.uniform(5, 12, pairs))
    p_course = rng.uniform(0, 360, pairs)
    p_alt = np.where(p_dom == 0, rng.uniform(8_000, 11_000, pairs), np.nan)
    miss_m = rng.uniform(0, 0.3, pairs) * np.where(p_dom == 0, 9_260.0, 1_852.0)
    ids = [f"{'icao' if d == 0 else 'ais'}:{k:08x}" for k, d in enumerate(domain.tolist())]
    cols: dict[str, list[np.ndarray]] = {k: [a] for k, a in
                                         dict(lon=lon, lat=lat, course=course, speed=speed, alt=alt,
                                              domain=domain, side=side).items()}
    for k, (sd, heading) in enumerate((("nato", p_course), ("russia", (p_course + 180.0) % 360.0))):
        # offset sideways by half the miss distance each, then back along the course to time 0
        mlon, mlat, _ = _GEOD.fwd(meet_lon, meet_lat, (heading + 90.0) % 360.0, miss_m / 2)
        slon, slat, back = _GEOD.fwd(mlon, mlat, (heading + 180.0) % 360.0, p_speed * meet_t)
        cols["lon"].append(np.asarray(slon))
        cols["lat"].append(np.asarray(slat))
        cols["course"].append((np.asarray(back) + 180.0) % 360.0)
        cols["speed"].append(p_speed)
        cols["alt"].append(p_alt + (k * 60.0))
        cols["domain"].append(p_dom)
        cols["side"].append(np.full(pairs, sd))
        ids += [f"{'icao' if d == 0 else 'ais'}:{sd[:2]}{k}{i:06x}" for i, d in enumerate(p_dom.tolist())]
    world = {k: np.concatenate(v) for k, v in cols.items()}
    dom = world["domain"]
    n_air = int((dom == 0).sum())
    n_sea = dom.size - n_air
    air_period_s = (n_air + n_sea / 6.0) / rate
    period = np.where(dom == 0, air_period_s, 6.0 * air_period_s)
    phase = rng.uniform(0, 1, dom.size) * period
    return Traffic(ids, world["lon"], world["lat"], world["course"], world["speed"], world["alt"], dom,
                   world["side"], period, phase)


# -- recording ---------------------------------------------------------------------------------


@dataclass
class Recorder:
    """What one run saw: entry times of the updates, ordinals of the records, acknowledgement times."""

    capacity: int
    entered: list[np.ndarray] = field(default_factory=list)  # per feed step: entry times (perf_counter)
    entered_ids: list[str] = field(default_factory=list)  # the updates' track ids, in the same order
    acked: np.ndarray = field(init=False)
    # (index of the batch's first update, first ordinal, events, when handed to the sink) per publish_events call
    event_batches: list[tuple[int, int, Sequence[Event], float]] = field(default_factory=list)
    # (index of the batch's first update, first ordinal, number of updates) per publish_tracks call
    track_batches: list[tuple[int, int, int]] = field(default_factory=list)
    batch_engine_s: list[float] = field(default_factory=list)
    batch_publish_s: list[float] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)
    updates_taken: int = 0
    updates_left: int = 0
    feed_cpu_s: float = 0.0  # CPU time of the feed thread (making the TrackUpdates, like a decoder)

    def __post_init__(self) -> None:
        self.acked = np.full(self.capacity, np.nan)

    def on_ack(self, ordinal: int) -> None:
        if ordinal < self.capacity:
            self.acked[ordinal] = time.perf_counter()


class MeasuredSink:
    """The Kafka sink as the pipeline sees it, noting ordinals and the time spent publishing.

    ``sync_events``: the naive baseline, each event sent and its acknowledgement awaited in turn.
    """

    def __init__(self, sink: KafkaSink, rec: Recorder, *, sync_events: bool = False) -> None:
        self.sink = sink
        self.rec = rec
        self.sync_events = sync_events
        self._published_updates = 0
        self._t_publish = 0.0

    def publish_events(self, events: Sequence[Event]) -> None:
        t = time.perf_counter()
        self.rec.event_batches.append((self._published_updates, self.sink.last_ordinal + 1, list(events), t))
        if self.sync_events:
            for e in events:
                self.sink.publish_events([e])
                self.sink.flush(60)
        else:
            self.sink.publish_events(events)
        self._t_publish += time.perf_counter() - t

    def publish_tracks(self, updates: Sequence[TrackUpdate]) -> None:
        t = time.perf_counter()
        self.rec.track_batches.append((self._published_updates, self.sink.last_ordinal + 1, len(updates)))
        self.sink.publish_tracks(updates)
        self._published_updates += len(updates)
        self._t_publish += time.perf_counter() - t
        self.rec.batch_publish_s.append(self._t_publish)
        self._t_publish = 0.0

    def publish_deadletters(self, letters: Sequence[DeadLetter]) -> None:
        self.sink.publish_deadletters(letters)

    def publish_zones(self, zones: Sequence[Zone]) -> None:
        self.sink.publish_zones(zones)

    def publish_feed_health(self, records: Sequence[Any]) -> None:
        self.sink.publish_feed_health(records)

    def push(self) -> None:
        self.sink.push()

    def sync(self) -> None:
        self.sink.sync(120)

    def flush(self) -> None:
        self.sink.flush(120)

    def close(self) -> None:
        self.sink.close()


class TimedEngine:
    """The engine, timing each ``process`` call (a batch)."""

    def __init__(self, engine: Engine, rec: Recorder) -> None:
        self._engine = engine
        self._rec = rec

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)  # snapshot, rollback, add_zones, finish, stats

    def process(self, updates: Sequence[TrackUpdate]) -> list[Event]:
        t = time.perf_counter()
        events = self._engine.process(updates)
        self._rec.batch_engine_s.append(time.perf_counter() - t)
        self._rec.batch_sizes.append(len(updates))
        return events

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


class FedPipeline(Pipeline):
    """The pipeline with its live sources replaced by the benchmark's feed queue."""

    feed: "queue.Queue[list[TrackUpdate] | None]"
    deadline: float
    rec: Recorder

    def _items(self, stop: threading.Event) -> Iterator[tuple[str, Any] | None]:
        while True:
            try:
                chunk = self.feed.get(timeout=self.max_batch_delay_s)
            except queue.Empty:
                yield None  # an idle pause: the batch goes out, as open_feeds does
                continue
            if chunk is None or time.perf_counter() > self.deadline:
                break
            self.rec.updates_taken += len(chunk)
            for u in chunk:
                yield "bench", u
        # what a late pipeline did not take
        left = 0
        while True:
            try:
                chunk = self.feed.get_nowait()
            except queue.Empty:
                break
            left += len(chunk) if chunk else 0
        self.rec.updates_left = left
        stop.set()  # the feed pauses, it has not ended: no closing of open incidents


def make_feed(tr: Traffic, t_from: float, t_to: float) -> Iterator[tuple[float, list[TrackUpdate]]]:
    """The updates of each STEP_S of data time in [t_from, t_to): (step end, updates)."""
    k = 0
    while t_from + k * STEP_S < t_to - 1e-9:
        t, t_next = t_from + k * STEP_S, t_from + (k + 1) * STEP_S
        yield t_next, reports(tr, t, t_next)
        k += 1


def feed_thread(steps: Iterable[tuple[float, list[TrackUpdate]]], t_from: float, start: float,
                out: "queue.Queue[list[TrackUpdate] | None]", rec: Recorder) -> None:
    """Hand over the updates of each step at the wall time its end is due (``start`` for ``t_from``)."""
    cpu0 = time.thread_time()
    for t_next, ups in steps:
        wait = start + (t_next - t_from) - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        if ups:
            rec.entered.append(start + np.fromiter((u.t_s - T0 - t_from for u in ups), float, len(ups)))
            rec.entered_ids.extend(u.track_id for u in ups)
            out.put(ups)
    rec.feed_cpu_s = time.thread_time() - cpu0
    out.put(None)


# -- one scenario ------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    offered: int
    taken: int
    left: int
    wall_s: float
    events: int
    events_acked: int
    event_lat_ms: np.ndarray
    event_handed_ms: np.ndarray
    event_at_prediction: np.ndarray
    attributed: dict[str, int]
    track_lat_ms: np.ndarray
    batches: int
    batch_size_mean: float
    engine_ms: np.ndarray
    publish_ms: np.ndarray
    kinds: dict[str, int]
    cpu_python: float
    cpu_main: float
    cpu_feed: float
    cpu_broker: float
    note: str = ""


def _proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_scenario(name: str, tr: Traffic, zones: list[Zone], borders: list[Any], bootstrap: str, broker_pid: int,
                 spool_dir: Path, duration_s: float, *, batch_size: int, max_delay_s: float, sync_events: bool,
                 live_updates: bool = False, profile: str | None = None, note: str = "") -> Result:
    engine = Engine(ProximitySettings(), zones, borders=borders)
    # warm the engine with the world's first WARMUP_S of data, a few seconds at a time, in the pipeline's batch size
    warm_events: list[Event] = []
    for t in np.arange(0.0, WARMUP_S, 5.0):
        ups = reports(tr, float(t), float(min(t + 5.0, WARMUP_S)))
        for i in range(0, len(ups), 4096):
            warm_events += engine.process(ups[i: i + 4096])
    del ups
    offered_estimate = int(sum(duration_s / p for p in tr.period_s)) + 10_000
    rec = Recorder(capacity=2 * offered_estimate + 500_000)
    kafka = KafkaSettings(bootstrap_servers=bootstrap, events_topic=f"bench-{name}.events.v1",
                          tracks_topic=f"bench-{name}.tracks.v1", deadletter_topic=f"bench-{name}.deadletter.v1")
    sink = KafkaSink(kafka, spool_dir=spool_dir / name, ack_listener=rec.on_ack, spool_after_s=30.0)
    sink.ensure_topics()
    # warm the sink (connection, metadata and partition leaders of both topics) with the warm-up's output
    sink.publish_events(warm_events[-50:])
    sink.publish_tracks(reports(tr, WARMUP_S - 0.1, WARMUP_S))
    sink.flush(30)
    warm_ordinals = sink.last_ordinal + 1
    settings = Settings(kafka=kafka, pipeline=PipelineSettings(batch_size=batch_size, max_batch_delay_s=max_delay_s))
    measured = MeasuredSink(sink, rec, sync_events=sync_events)
    pipeline = FedPipeline(settings, [measured], engine=TimedEngine(engine, rec))  # type: ignore[arg-type]
    feed: queue.Queue[list[TrackUpdate] | None] = queue.Queue()
    pipeline.feed = feed
    pipeline.rec = rec
    steps: Iterable[tuple[float, list[TrackUpdate]]] = make_feed(tr, WARMUP_S, WARMUP_S + duration_s)
    if not live_updates:
        steps = list(steps)  # made before timing
    gc.collect()
    gc.freeze()  # what exists now (the engine's state, the updates to come) is no work for the collector
    start = time.perf_counter() + 0.2
    pipeline.deadline = start + duration_s + GRACE_S
    feeder = threading.Thread(target=feed_thread, args=(steps, WARMUP_S, start, feed, rec), daemon=True)
    cpu0, main0, broker0 = os.times(), time.thread_time(), _proc_cpu_s(broker_pid)
    feeder.start()
    prof = cProfile.Profile() if profile else None
    if prof:
        prof.enable()
    pipeline.run(threading.Event())
    if prof is not None and profile is not None:
        prof.disable()
        prof.dump_stats(profile)
    sink.flush(120)
    wall = time.perf_counter() - start
    cpu1, main1, broker1 = os.times(), time.thread_time(), _proc_cpu_s(broker_pid)
    feeder.join()
    sink.close()
    gc.unfreeze()
    # latencies
    entered = np.concatenate(rec.entered) if rec.entered else np.empty(0)
    acked = rec.acked
    ev_lat: list[float] = []
    ev_handed: list[float] = []  # of that, from the triggering update's entry to the hand-over to the sink
    ev_predicted: list[bool] = []  # raised at a prediction slice
    how: dict[str, int] = {"report": 0, "tick": 0, "batch": 0}
    settings = ProximitySettings()
    slice_s = settings.predict_interval_s / settings.predict_slices
    kinds: dict[str, int] = {}
    n_events = 0
    batch_len = {first: n for first, _, n in rec.track_batches}
    t_all = entered - start + WARMUP_S  # data time relative to T0 (= scheduled entry)
    for first, ordinal, events, handed in rec.event_batches:
        n_events += len(events)
        n = batch_len.get(first, 0)
        t_batch = t_all[first: first + n]
        for j, ev in enumerate(events):
            kinds[ev.kind] = kinds.get(ev.kind, 0) + 1
            found = _trigger(ev, t_batch, rec.entered_ids, first)
            if found is None or np.isnan(acked[ordinal + j]):
                continue
            k, by = found
            how[by] += 1
            ev_lat.append((acked[ordinal + j] - entered[first + k]) * 1000.0)
            ev_handed.append((handed - entered[first + k]) * 1000.0)
            ev_predicted.append(by == "tick" and abs(ev.t_s - (round(ev.t_s / slice_s - 0.5) + 0.5) * slice_s) < 1e-6)
    tr_lat = []
    for first, ordinal, n in rec.track_batches:
        a = acked[ordinal: ordinal + n]
        tr_lat.append((a - entered[first: first + n]) * 1000.0)
    track_lat = np.concatenate(tr_lat) if tr_lat else np.empty(0)
    track_lat = track_lat[~np.isnan(track_lat)]
    assert warm_ordinals >= 1
    return Result(
        name=name, offered=sum(e.size for e in rec.entered), taken=rec.updates_taken, left=rec.updates_left,
        wall_s=wall, events=n_events, events_acked=len(ev_lat), event_lat_ms=np.array(ev_lat),
        event_handed_ms=np.array(ev_handed), event_at_prediction=np.array(ev_predicted, bool), attributed=how,
        track_lat_ms=track_lat, batches=len(rec.batch_sizes),
        batch_size_mean=float(np.mean(rec.batch_sizes)) if rec.batch_sizes else 0.0,
        engine_ms=np.array(rec.batch_engine_s) * 1000.0, publish_ms=np.array(rec.batch_publish_s) * 1000.0,
        kinds=kinds, cpu_python=(cpu1.user + cpu1.system - cpu0.user - cpu0.system) / wall,
        cpu_main=(main1 - main0) / wall, cpu_feed=rec.feed_cpu_s / wall, cpu_broker=(broker1 - broker0) / wall, note=note)


def _trigger(ev: Event, t_batch: np.ndarray, ids: list[str], first: int) -> tuple[int, str] | None:
    """Index in the batch of the update that triggered ``ev`` (see the module docstring), and how it was found:
    ``report`` (the event is about it), ``tick`` (the first update past the tick), ``batch`` (neither: its first).

    The batch is in data-time order (the feed hands updates over in that order).
    """
    if t_batch.size == 0:
        return None
    rel = ev.t_s - T0
    # the report the event is about: a subject reported at the event's data time, in this batch
    for s in ev.subjects:
        if s.t_s == ev.t_s:
            lo = int(np.searchsorted(t_batch, rel - 1e-6, side="left"))
            hi = int(np.searchsorted(t_batch, rel + 1e-6, side="right"))
            for k in range(lo, hi):
                if ids[first + k] == s.track_id:
                    return k, "report"
    # a tick: the first update past the tick's data time
    k = int(np.searchsorted(t_batch, rel, side="right"))
    return (k, "tick") if k < t_batch.size else (0, "batch")


# -- report ------------------------------------------------------------------------------------


def _pct(a: np.ndarray, qs: Sequence[float]) -> list[float]:
    return [float(x) for x in np.percentile(a, qs)] if a.size else [float("nan")] * len(qs)


def print_results(results: list[Result], rate: float, duration_s: float, n_tracks: int, zones: int,
                  bootstrap: str | None) -> None:
    load = os.getloadavg()
    print(f"closewatch pipeline bench: {rate:,.0f} updates/s offered for {duration_s:.0f} s, {n_tracks:,} background "
          f"tracks around the Baltic, {zones} zones; Kafka {bootstrap or 'local single node (KRaft)'}, acks=all; "
          f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f}")
    print("latency: from the triggering update entering the pipeline to the broker's acknowledgement, ms")
    print(f"{'scenario':<11} {'updates/s':>9} {'events':>7} {'ev/s':>5} {'ev p50':>7} {'ev p99':>7} {'ev max':>7} "
          f"{'trk p50':>7} {'trk p99':>7} {'batch':>5} {'eng p50':>7} {'eng p99':>7} {'eng max':>7} {'pub p50':>7} "
          f"{'pub p99':>7} {'cpu':>4} {'main':>4} {'feed':>4} {'kafka':>5}")
    for r in results:
        e50, e99, emax = _pct(r.event_lat_ms, [50, 99, 100])
        t50, t99 = _pct(r.track_lat_ms, [50, 99])
        g50, g99, gmax = _pct(r.engine_ms, [50, 99, 100])
        p50, p99 = _pct(r.publish_ms, [50, 99])
        print(f"{r.name:<11} {r.taken / r.wall_s:>9,.0f} {r.events:>7,} {r.events_acked / r.wall_s:>5.0f} "
              f"{e50:>7.1f} {e99:>7.1f} {emax:>7.1f} {t50:>7.1f} {t99:>7.1f} {r.batch_size_mean:>5.0f} "
              f"{g50:>7.1f} {g99:>7.1f} {gmax:>7.1f} {p50:>7.1f} {p99:>7.1f} {r.cpu_python:>4.0%} {r.cpu_main:>4.0%} "
              f"{r.cpu_feed:>4.0%} {r.cpu_broker:>5.0%}")
    print("updates/s: taken by the pipeline per second of wall time; ev/s: events acknowledged per second; batch: mean "
          "updates per batch; eng, pub: engine and publishing time per batch (ms); cpu: share of one core used by this "
          "process (all threads), its main thread, the feed thread making the updates, and the broker's JVM")
    for r in results:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(r.kinds.items()))
        late = f"; {r.left:,} updates never taken (the pipeline fell behind)" if r.left else ""
        per_update_us = r.cpu_python * r.wall_s / max(r.taken, 1) * 1e6
        print(f"  {r.name}: {r.offered:,} updates offered, {r.taken:,} taken{late}; {per_update_us:.1f} us of CPU per "
              f"update in this process; {r.batches:,} batches; events by kind: {kinds or '-'}"
              f"{'; ' + r.note if r.note else ''}")
        at = r.event_at_prediction
        if at.size:
            (p50a, p99a), (p50b, p99b) = _pct(r.event_lat_ms[at], [50, 99]), _pct(r.event_lat_ms[~at], [50, 99])
            print(f"    events raised at a prediction slice: {int(at.sum())}, p50 {p50a:.0f} ms, p99 {p99a:.0f} ms; "
                  f"the others: {int((~at).sum())}, p50 {p50b:.0f} ms, p99 {p99b:.0f} ms; triggers found: "
                  f"{r.attributed['report']} by their report, {r.attributed['tick']} past a tick, "
                  f"{r.attributed['batch']} at the batch start")
            for which, sel in (("the events'", np.ones(at.size, bool)), ("the slice events'", at)):
                handed, acked = r.event_handed_ms[sel], (r.event_lat_ms - r.event_handed_ms)[sel]
                (h50, h99), (k50, k99) = _pct(handed, [50, 99]), _pct(acked, [50, 99])
                print(f"    of {which} latency: to the hand-over to the sink p50 {h50:.0f} ms, p99 {h99:.0f} ms; "
                      f"from there to the broker's acknowledgement p50 {k50:.0f} ms, p99 {k99:.0f} ms")
    base = {r.name: r for r in results}
    for fast, slow in (("realistic", "per-update"), ("busy", "sync-send")):
        if fast in base and slow in base:
            f, s = base[fast], base[slow]
            (f99,), (s99,) = _pct(f.event_lat_ms, [99]), _pct(s.event_lat_ms, [99])
            (ft99,), (st99,) = _pct(f.track_lat_ms, [99]), _pct(s.track_lat_ms, [99])
            print(f"{fast} vs {slow}: {f.taken / f.wall_s / max(s.taken / s.wall_s, 1e-9):.1f}x the updates/s, "
                  f"{f.events_acked / max(s.events_acked, 1):.1f}x the events acknowledged; p99 of events "
                  f"{f99:.0f} ms vs {s99:.0f} ms, of tracks {ft99:.0f} ms vs {st99:.0f} ms"
                  + (f" ({slow} took only {s.taken:,} of {s.offered:,} updates)" if s.left else ""))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=20_000.0, help="offered track updates per second")
    ap.add_argument("--duration-s", type=float, default=30.0, help="offered time per scenario")
    ap.add_argument("--tracks", type=int, default=8_000, help="background tracks")
    ap.add_argument("--pairs", type=int, default=60, help="converging pairs, realistic scenario")
    ap.add_argument("--busy-pairs", type=int, default=1_500, help="converging pairs, busy scenario")
    ap.add_argument("--batch-size", type=int, default=PipelineSettings().batch_size)
    ap.add_argument("--max-batch-delay-s", type=float, default=PipelineSettings().max_batch_delay_s)
    ap.add_argument("--bootstrap", help="a running broker (default: start a local one)")
    ap.add_argument("--quick", action="store_true", help="no baselines")
    ap.add_argument("--only", help="comma-separated scenarios to run")
    ap.add_argument("--profile", help="write a cProfile of the realistic scenario's main thread here")
    ap.add_argument("--live-updates", action="store_true",
                    help="make the TrackUpdates in the feed thread while timing (as a decoder would), not before")
    args, _ = ap.parse_known_args(argv)  # run by bench/__main__.py, argv may hold its own arguments
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.ERROR)

    zones = load_catalogue(ZoneSettings())
    borders = [line for _name, line in load_borders()]
    window = (WARMUP_S / 2, WARMUP_S + args.duration_s)
    horizon_s = ProximitySettings().horizon_s
    worlds = {
        "realistic": make_world(args.tracks, args.pairs, args.rate, window, zones, horizon_s),
        "busy": make_world(args.tracks, args.busy_pairs, args.rate, window, zones, horizon_s),
    }
    plan = [
        ("realistic", "realistic", args.batch_size, False),
        ("busy", "busy", args.batch_size, False),
        ("per-update", "realistic", 1, False),
        ("sync-send", "busy", args.batch_size, True),
    ]
    if args.quick:
        plan = plan[:2]
    if args.only:
        wanted = set(args.only.split(","))
        plan = [p for p in plan if p[0] in wanted]
    results = []
    with tempfile.TemporaryDirectory(prefix="closewatch-bench-") as tmp:
        broker = None
        if args.bootstrap:
            bootstrap, broker_pid = args.bootstrap, os.getpid()
        else:
            broker = LocalBroker(Path(tmp) / "broker", heap_mb=512)
            broker.start()
            bootstrap, broker_pid = broker.bootstrap_servers, broker.pid or os.getpid()
        try:
            for name, world, batch, sync in plan:
                results.append(run_scenario(
                    name, worlds[world], zones, borders, bootstrap, broker_pid, Path(tmp) / "spool",
                    args.duration_s, batch_size=batch, max_delay_s=args.max_batch_delay_s, sync_events=sync,
                    live_updates=args.live_updates,
                    profile=args.profile if name == "realistic" else None,
                    note=f"{args.pairs if world == 'realistic' else args.busy_pairs} converging pairs"))
                print(f"... {name} done", file=sys.stderr, flush=True)
        finally:
            if broker is not None:
                broker.stop()
    print_results(results, args.rate, args.duration_s, args.tracks, len(zones), args.bootstrap)
    import resource

    print(f"peak resident memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
          f"{'' if args.live_updates else ' (the updates of a scenario are made before it is timed)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
