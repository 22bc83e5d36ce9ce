"""Kafka delivery benchmark: events/s acknowledged and update-to-acknowledgement latency.

Offered load: ``--rate`` track updates per second (default 20,000) for
``--duration-s`` seconds, generated in 10 ms ticks. Every update "enters the
pipeline" at its tick's scheduled time; the latency of an event is from that time
to the broker's acknowledgement (``acks=all``) reaching the producer. The
proximity engine is not in the loop: each update is turned into a synthetic
close-approach event (two subjects, four metrics), so the figures measure the
alerts path (encoding, CloudEvents headers, the producer, the broker round trip).

Scenarios (same broker, same run):

* ``sink-all``: every update yields one event through :class:`KafkaSink` (worst case).
* ``sink-tracks``: every update is published to the tracks topic and one in 20
  yields an event (a realistic event rate with the normalised-track topic on).
* ``naive-sync``: the baseline, every event sent with a synchronous
  ``send(...).get()`` (same producer settings) at the ``sink-all`` load; it falls
  behind, so it reports how far it got in the same time.

Run: ``.venv/bin/python bench/bench_kafka.py`` (starts a local broker), or
``--bootstrap HOST:PORT`` for a running one.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alerts.broker import LocalBroker
from alerts.codec import cloudevents_headers, encode_event
from alerts.producer import KafkaSink
from config.records import TrackUpdate
from config.settings import KafkaSettings
from proximity.events import Event, Subject

T0_S = 1_714_564_800.0
TICK_S = 0.010


def synthetic_update(i: int, t_s: float) -> TrackUpdate:
    return TrackUpdate(track_id=f"ais:2731{i % 100_000:05d}", source="bench", t_s=t_s, lat_deg=59.9 + (i % 97) * 1e-3,
                       lon_deg=27.5 + (i % 89) * 1e-3, domain="sea", side="russia", speed_mps=6.0, course_deg=90.0)


def synthetic_event(u: TrackUpdate, i: int) -> Event:
    a = Subject(u.track_id, u.side, u.domain, u.t_s, u.lat_deg, u.lon_deg, speed_mps=u.speed_mps,
                course_deg=u.course_deg)
    b = Subject(f"ais:2301{i % 1000:05d}", "nato", "sea", u.t_s, u.lat_deg + 0.005, u.lon_deg + 0.005,
                speed_mps=5.0, course_deg=270.0)
    return Event(event_id=f"close_approach-{i % 5000:016x}", kind="close_approach", state="update", seq=i,
                 t_s=u.t_s, severity="warning", subjects=(a, b), summary="two ships of opposite sides within 1 NM",
                 metrics={"distance_m": 700.0 + i % 100, "cpa_m": 250.0, "tcpa_s": 120.0, "vertical_sep_m": 0.0},
                 detected_s=time.time())


@dataclass
class Result:
    name: str
    offered_updates: int
    events_offered: int
    events_acked: int
    wall_s: float
    lat_ms: np.ndarray
    note: str = ""

    def line(self) -> str:
        rate = self.events_acked / self.wall_s if self.wall_s > 0 else 0.0
        if self.lat_ms.size:
            p50, p99, pmax = np.percentile(self.lat_ms, [50, 99, 100])
            lat = f"{p50:9.1f} {p99:9.1f} {pmax:9.1f}"
        else:
            lat = f"{'-':>9} {'-':>9} {'-':>9}"
        return (f"{self.name:<12} {self.offered_updates:>9} {self.events_offered:>9} {self.events_acked:>9} "
                f"{rate:>10.0f} {lat}  {self.note}")


def _paced(rate: float, duration_s: float):
    """Yield (tick index, scheduled perf_counter time, number of updates) at the offered rate."""
    per_tick = rate * TICK_S
    ticks = int(duration_s / TICK_S)
    start = time.perf_counter()
    carry = 0.0
    for k in range(ticks):
        due = start + k * TICK_S
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        carry += per_tick
        n = int(carry)
        carry -= n
        yield k, due, n


def run_sink(name: str, settings: KafkaSettings, spool_dir: Path, rate: float, duration_s: float,
             event_every: int, with_tracks: bool) -> Result:
    capacity = int(rate * duration_s * (2 if with_tracks else 1)) + 10_000
    enter = np.full(capacity, np.nan)
    acked = np.full(capacity, np.nan)
    is_event = np.zeros(capacity, dtype=bool)

    def on_ack(ordinal: int) -> None:
        acked[ordinal] = time.perf_counter()

    sink = KafkaSink(settings, spool_dir=spool_dir, ack_listener=on_ack, spool_after_s=30.0)
    sink.ensure_topics()
    # warm-up: connect and fetch metadata outside the measurement
    sink.publish_events([synthetic_event(synthetic_update(0, T0_S), 0)])
    sink.flush(30)
    warm = sink.last_ordinal + 1
    i = 0
    events_offered = 0
    t_start = time.perf_counter()
    for _, due, n in _paced(rate, duration_s):
        updates = [synthetic_update(i + j, T0_S + i + j) for j in range(n)]
        if with_tracks:
            base = sink.last_ordinal + 1
            sink.publish_tracks(updates)
            enter[base:base + n] = due
        events = [synthetic_event(u, i + j) for j, u in enumerate(updates) if (i + j) % event_every == 0]
        if events:
            base = sink.last_ordinal + 1
            sink.publish_events(events)
            enter[base:base + len(events)] = due
            is_event[base:base + len(events)] = True
            events_offered += len(events)
        i += n
    sink.flush(120)
    t_end = float(np.nanmax(acked[warm:sink.last_ordinal + 1]))
    sink.close()
    sel = is_event[: sink.last_ordinal + 1] & ~np.isnan(acked[: sink.last_ordinal + 1])
    lat_ms = (acked[: sink.last_ordinal + 1][sel] - enter[: sink.last_ordinal + 1][sel]) * 1000.0
    note = "tracks also published" if with_tracks else ""
    return Result(name, i, events_offered, int(sel.sum()), t_end - t_start, lat_ms, note)


def run_naive(settings: KafkaSettings, rate: float, duration_s: float) -> Result:
    """Baseline: one synchronous send().get() per event, events taken in arrival order."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", enable_idempotence=True,
                             linger_ms=0)
    producer.send(settings.events_topic, value=b"{}", key=b"warm-up").get(30)
    backlog: list[tuple[float, Event]] = []
    lock = threading.Lock()
    stop = threading.Event()
    offered = [0]

    def generate() -> None:
        i = 0
        for _, due, n in _paced(rate, duration_s):
            evs = [(due, synthetic_event(synthetic_update(i + j, T0_S + i + j), i + j)) for j in range(n)]
            with lock:
                backlog.extend(evs)
            i += n
        offered[0] = i
        stop.set()

    gen = threading.Thread(target=generate, daemon=True)
    t_start = time.perf_counter()
    gen.start()
    lats: list[float] = []
    pos = 0
    while not (stop.is_set() and pos >= len(backlog)):
        if time.perf_counter() - t_start > duration_s:
            break  # same time budget as the offered load
        with lock:
            item = backlog[pos] if pos < len(backlog) else None
        if item is None:
            time.sleep(0.0005)
            continue
        due, ev = item
        producer.send(settings.events_topic, value=encode_event(ev), key=ev.event_id.encode(),
                      headers=cloudevents_headers(ev)).get(30)
        lats.append((time.perf_counter() - due) * 1000.0)
        pos += 1
    wall = time.perf_counter() - t_start
    gen.join()
    producer.close()
    left = offered[0] - pos
    return Result("naive-sync", offered[0], offered[0], pos, wall, np.array(lats),
                  f"{left} events still queued when time ran out")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=20_000.0, help="offered track updates per second")
    ap.add_argument("--duration-s", type=float, default=10.0)
    ap.add_argument("--bootstrap", help="a running broker (default: start a local one)")
    ap.add_argument("--skip-naive", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.ERROR)

    with tempfile.TemporaryDirectory(prefix="closewatch-bench-") as tmp:
        broker = None
        if args.bootstrap:
            bootstrap = args.bootstrap
        else:
            broker = LocalBroker(Path(tmp) / "broker", heap_mb=512)
            broker.start()
            bootstrap = broker.bootstrap_servers
        try:
            results = []
            for name, every, tracks in (("sink-all", 1, False), ("sink-tracks", 20, True)):
                settings = KafkaSettings(bootstrap_servers=bootstrap, events_topic=f"bench-{name}.events.v1",
                                         tracks_topic=f"bench-{name}.tracks.v1",
                                         deadletter_topic=f"bench-{name}.deadletter.v1")
                results.append(run_sink(name, settings, Path(tmp) / f"spool-{name}", args.rate, args.duration_s,
                                        every, tracks))
            if not args.skip_naive:
                settings = KafkaSettings(bootstrap_servers=bootstrap, events_topic="bench-naive.events.v1",
                                         tracks_topic="bench-naive.tracks.v1",
                                         deadletter_topic="bench-naive.deadletter.v1")
                KafkaSink(settings, use_spool=False).ensure_topics()
                results.append(run_naive(settings, args.rate, args.duration_s))
        finally:
            if broker is not None:
                broker.stop()

    print(f"closewatch Kafka bench: {args.rate:.0f} updates/s offered for {args.duration_s:.0f} s, "
          f"broker {'at ' + args.bootstrap if args.bootstrap else 'local single node (KRaft)'}, acks=all")
    print(f"{'scenario':<12} {'updates':>9} {'events':>9} {'acked':>9} {'events/s':>10} "
          f"{'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}")
    for r in results:
        print(r.line())
    sink_all = results[0]
    if not args.skip_naive and results[-1].events_acked:
        naive = results[-1]
        ratio = (sink_all.events_acked / sink_all.wall_s) / (naive.events_acked / naive.wall_s)
        print(f"sink-all delivers {ratio:.1f}x the events/s of naive-sync; "
              f"p99 {statistics.median([np.percentile(sink_all.lat_ms, 99)]):.1f} ms vs "
              f"{np.percentile(naive.lat_ms, 99):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
