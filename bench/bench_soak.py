"""Bounded soak: a live ``closewatch run`` under junk and faults, memory and descriptors over time.

The run under test is ``closewatch run`` in its own process, as an operator runs
it: a TCP feed (``tracks-jsonl``) from a feed server in this process, events,
tracks and dead letters to a real Kafka broker (``alerts.broker.LocalBroker`` on
127.0.0.1). The feed server sends the world of ``bench_pipeline`` (background
tracks around the Baltic and converging NATO/Russia pairs, ``make_world`` and
``make_feed``) at ``--rate`` updates per second of wall time, or as fast as the
run takes them (TCP back-pressure: the rate the machine sustained is reported);
``--junk-share`` of the lines are junk (a real line mutated as the whole-path
fuzz does, ``tests/fuzz_path.mutate``: bytes flipped, cut, hostile pieces such
as a 400-digit number or 5,000 nested ``[`` spliced in).

Faults, in the middle of the run:

* at 35 % of ``--duration-s``: the broker is stopped (controlled shutdown) and
  started again on the same port after ``--broker-down-s``; the run spools and
  delivers its backlog when the broker is back.
* at 60 %: the feed server sends half a line, drops the connection, closes its
  listening socket for ``--feed-down-s`` (connection refused) and listens again;
  the lines due meanwhile are sent, late, once the run has reconnected. The half
  line is part of the input (the run hands it on at the disconnect, a dead letter).

The server records every byte it sent. The reference is an undisturbed run over
that recording (``closewatch run``, ``follow`` transport, JSON Lines sinks, no
faults); both runs raise every incident (rule profile ``all-traffic``: the world's
tracks are of unknown category, the default ``military`` profile would raise
almost none of them and leave little to compare); both are stopped by SIGTERM once they have taken all their input
(a live run does not close its open incidents at the end, a replay would). The
events are compared by ``(event_id, seq)`` with their whole content but for
``detected_s``/``detected_at`` (the wall clock of detection): *lost* (in the
reference, not in the disturbed run) must be 0; *duplicates* are only allowed as
the at-least-once contract says, the same ``event_id`` and ``seq`` with the same
content (a resend after the broker came back).

Then a junk-only feed for ``--junk-s``: every line junk, the same Kafka sink;
its RSS over time and the dead-letter topic's end offset at each quarter of the
run (dead letters leave as they come, not at the end).

RSS (``VmRSS``) and open descriptors of the run's process are sampled every
second. RSS *start* is the first sample after ``--settle-s`` (the engine has met
every track by then), *median* and *end* over the rest of the run; flat means
within 10 % of the start.

Run from the repository root::

    .venv/bin/python -m bench.bench_soak [--duration-s 180] [--rate 20000] [--junk-s 60]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

REPO = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: the repository root on the path
    sys.path.insert(0, str(REPO))
sys.path.append(str(REPO / "tests"))  # after the packages: tests/ingest must not hide ingest

from alerts.broker import LocalBroker  # noqa: E402
from alerts.codec import encode_track  # noqa: E402
from bench.bench_pipeline import WARMUP_S, make_feed, make_world  # noqa: E402
from config.settings import ProximitySettings, ZoneSettings  # noqa: E402
from config.zones import load_catalogue  # noqa: E402
from fuzz_path import mutate  # noqa: E402
from kafka_fixtures import read_topic  # noqa: E402

__all__ = ["SoakResult", "JunkResult", "soak", "junk_only", "main"]

log = logging.getLogger(__name__)

FLAT = 0.10  # RSS within 10 % of the start counts as flat
IDLE_S = 10.0  # a run has taken all its input when its output has not moved for this long


# -- the run under test ------------------------------------------------------------------------


def start_run(config: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """``closewatch run -c config`` in its own process (and session), output to files in ``cwd``."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    with open(cwd / "run.out", "wb") as out, open(cwd / "run.err", "wb") as err:
        return subprocess.Popen([sys.executable, "-m", "closewatch", "run", "-c", str(config)],
                                cwd=cwd, env=env, stdout=out, stderr=err, start_new_session=True)


def stop_run(proc: subprocess.Popen[bytes], cwd: Path, timeout_s: float = 300.0) -> tuple[int, str]:
    """SIGTERM (drain), wait; the exit code and the tail of the run's stderr."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    err = (cwd / "run.err").read_text("utf-8", "replace")
    return proc.returncode, err


@dataclass
class Sample:
    t_s: float  # seconds since the run started
    rss_mb: float
    fds: int


class Sampler:
    """RSS and open descriptors of one process, every ``interval_s``, in a thread."""

    def __init__(self, pid: int, interval_s: float = 1.0) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self.t0 = time.monotonic()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.t0

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> Sample | None:
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
            fds = len(os.listdir(f"/proc/{self.pid}/fd"))
        except OSError:  # the process has ended
            return None
        rss_kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), None)
        if rss_kb is None:  # a zombie: the process has ended
            return None
        return Sample(time.monotonic() - self.t0, rss_kb / 1024.0, fds)

    def _loop(self) -> None:
        while not self._stop.is_set():
            s = self.sample()
            if s is not None:
                self.samples.append(s)
            self._stop.wait(self.interval_s)


@dataclass
class Profile:
    """RSS and descriptors over a run: start (after settling), median and end."""

    rss_start_mb: float
    rss_median_mb: float
    rss_end_mb: float
    rss_max_mb: float
    fds_start: int
    fds_end: int
    fds_max: int
    samples: int

    @property
    def rss_flat(self) -> bool:
        return abs(self.rss_end_mb - self.rss_start_mb) <= FLAT * self.rss_start_mb and \
            abs(self.rss_median_mb - self.rss_start_mb) <= FLAT * self.rss_start_mb

    def line(self) -> str:
        return (f"RSS start {self.rss_start_mb:.0f} MB, median {self.rss_median_mb:.0f} MB, end {self.rss_end_mb:.0f} "
                f"MB, max {self.rss_max_mb:.0f} MB (end/start {self.rss_end_mb / self.rss_start_mb - 1:+.1%}: "
                f"{'flat' if self.rss_flat else 'NOT flat'} within {FLAT:.0%}); open fds start {self.fds_start}, "
                f"end {self.fds_end}, max {self.fds_max} ({self.samples} samples, 1 s apart)")


def profile(samples: list[Sample], settle_s: float, until_s: float) -> Profile:
    """The profile of the samples in [settle_s, until_s] (the running part, before the SIGTERM)."""
    window = [s for s in samples if settle_s <= s.t_s <= until_s] or samples[-1:]
    rss = [s.rss_mb for s in window]
    return Profile(rss[0], statistics.median(rss), rss[-1], max(rss), window[0].fds, window[-1].fds,
                   max(s.fds for s in window), len(window))


def _end_offsets(bootstrap: str, topics: list[str]) -> int:
    """The sum of the end offsets of ``topics`` (0 for a topic not there yet); -1 if the broker is away."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    try:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    except KafkaError:
        return -1
    try:
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        return sum(consumer.end_offsets(tps).values()) if tps else 0
    except KafkaError:
        return -1
    finally:
        consumer.close()


def wait_idle(progress: Callable[[], int], proc: subprocess.Popen[bytes], *, idle_s: float = IDLE_S,
              done: Callable[[int], bool] = lambda n: False, timeout_s: float = 900.0) -> int:
    """Wait until ``progress()`` says the run is through its input: ``done(progress)``, or no change
    for ``idle_s`` (no progress yet, or a negative one, a service away, never counts as idle)."""
    last, since = progress(), time.monotonic()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(1.0)
        now = progress()
        if now >= 0 and done(now):
            return now
        if now != last or now <= 0:  # nothing yet (a run starting up) is not idle either
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= idle_s:
            return now
    return last


# -- the feed server ---------------------------------------------------------------------------


class FeedServer:
    """A TCP server sending lines to one client at a time; records every byte it sent.

    ``drop(down_s)``: send ``tear`` (half a line), close the connection and the listening
    socket, listen again on the same port after ``down_s``.
    """

    def __init__(self, record: Path) -> None:
        self._listener = self._listen(0)
        self.port = int(self._listener.getsockname()[1])
        self._conn: socket.socket | None = None
        self._record = open(record, "wb")
        self.connections = 0
        self.sent_lines = 0
        self.sent_bytes = 0

    @staticmethod
    def _listen(port: int) -> socket.socket:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(1)
        return s

    def accept(self) -> None:
        """Wait for a client (when none is connected)."""
        if self._conn is None:
            self._conn, _ = self._listener.accept()
            self.connections += 1

    def send(self, lines: list[bytes]) -> None:
        """Send whole lines (blocks while the client does not read: back-pressure; waits for a client)."""
        data = b"".join(line + b"\n" for line in lines)
        while True:
            self.accept()
            try:
                self._conn.sendall(data)
                break
            except OSError:  # the client went away: the next one gets the lines
                self._conn.close()
                self._conn = None
        self._record.write(data)
        self.sent_lines += len(lines)
        self.sent_bytes += len(data)

    def drop(self, down_s: float, tear: bytes) -> None:
        if self._conn is not None:
            self._conn.sendall(tear)
            self._record.write(tear + b"\n")  # the run hands the unfinished line on at the disconnect
            self._conn.shutdown(socket.SHUT_RDWR)
            self._conn.close()
            self._conn = None
        self._listener.close()
        time.sleep(down_s)
        self._listener = self._listen(self.port)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._listener.close()
        self._record.close()


@dataclass
class Feeding:
    """What the feed server did."""

    offered: int = 0  # updates the schedule offered within the duration
    sent: int = 0  # lines sent (updates and junk)
    junk: int = 0
    send_s: float = 0.0  # wall time of the sending
    faults: list[str] = field(default_factory=list)
    started: threading.Event = field(default_factory=threading.Event)  # the run connected: the clock starts
    started_at: float = 0.0
    error: str | None = None  # why the feed server stopped early


def feed_lines(tr: Any, rate: float, duration_s: float, junk_share: float, seed: int) -> Iterator[tuple[float, list[bytes], int]]:
    """(wall-time offset due, lines, junk among them) for each 5 ms step of the world's data."""
    rnd = random.Random(seed)
    for t_next, ups in make_feed(tr, WARMUP_S, WARMUP_S + duration_s):
        lines = [encode_track(u) for u in ups]
        junk = 0
        for i in range(len(lines)):
            if rnd.random() < junk_share:
                lines[i] = mutate(lines[i], rnd)
                junk += 1
        yield t_next - WARMUP_S, lines, junk


def serve(server: FeedServer, steps: Iterator[tuple[float, list[bytes], int]], duration_s: float,
          faults: list[tuple[float, Callable[[], str]]], feeding: Feeding) -> None:
    """Send each step when due (or late, as fast as the run takes them) until ``duration_s`` of wall
    time; run each fault (a function returning what it did) at its time, in this thread."""
    try:
        _serve(server, steps, duration_s, faults, feeding)
    except BaseException as e:
        feeding.error = f"{type(e).__name__}: {e}"
        raise
    finally:
        feeding.started.set()


def _serve(server: FeedServer, steps: Iterator[tuple[float, list[bytes], int]], duration_s: float,
           faults: list[tuple[float, Callable[[], str]]], feeding: Feeding) -> None:
    server.accept()
    start = time.monotonic()
    feeding.started_at = start
    feeding.started.set()
    pending = sorted(faults, key=lambda f: f[0])
    for due_s, lines, junk in steps:
        now = time.monotonic() - start
        if now >= duration_s:
            break
        while pending and now >= pending[0][0]:
            feeding.faults.append(pending.pop(0)[1]())
            now = time.monotonic() - start
        if due_s > now:
            time.sleep(due_s - now)
        feeding.offered += len(lines)
        server.send(lines)
        feeding.sent += len(lines)
        feeding.junk += junk
    feeding.send_s = min(time.monotonic() - start, duration_s)


# -- events compared ---------------------------------------------------------------------------


def _event_key(value: bytes) -> tuple[tuple[str, int], str]:
    feature = json.loads(value)
    props = feature["properties"]
    props.pop("detected_s", None)
    props.pop("detected_at", None)
    return (props["event_id"], props["seq"]), json.dumps(feature, sort_keys=True)


@dataclass
class Comparison:
    reference: int  # events of the undisturbed run
    received: int  # events the disturbed run delivered (duplicates included)
    lost: int
    extra: int  # not in the reference
    changed: int  # same (event_id, seq), other content
    duplicates: int  # resent copies, same (event_id, seq) and content

    def line(self) -> str:
        return (f"events: undisturbed {self.reference:,}, disturbed {self.received:,}; lost {self.lost}, not in the "
                f"undisturbed run {self.extra}, same (event_id, seq) with other content {self.changed}, duplicates "
                f"(same event_id, seq and content) {self.duplicates}")


def compare(reference: list[bytes], received: list[bytes]) -> Comparison:
    ref = dict(_event_key(v) for v in reference)
    got: dict[tuple[str, int], str] = {}
    changed = duplicates = 0
    for v in received:
        key, content = _event_key(v)
        if key in got:
            duplicates += 1
            changed += got[key] != content
        got[key] = content
    changed += sum(1 for k, c in got.items() if k in ref and ref[k] != c)
    return Comparison(len(reference), len(received), len(ref.keys() - got.keys()), len(got.keys() - ref.keys()),
                      changed, duplicates)


# -- the soak ----------------------------------------------------------------------------------


def _config(path: Path, feed: str, sinks: str) -> Path:
    path.write_text(f"""
[[feeds]]
name = "soak"
format = "tracks-jsonl"
{feed}

[pipeline]
max_batch_delay_s = 0.2

[rules]
profile = "all-traffic"

{sinks}
""", encoding="utf-8")
    return path


def _kafka(bootstrap: str, prefix: str, spool: Path) -> str:
    return f"""[kafka]
bootstrap_servers = "{bootstrap}"
events_topic = "{prefix}.events.v1"
tracks_topic = "{prefix}.tracks.v1"
deadletter_topic = "{prefix}.deadletter.v1"
spool_dir = "{spool}"
"""


@dataclass
class SoakResult:
    duration_s: float
    rate: float
    feeding: Feeding
    server_connections: int
    disturbed: Profile
    reference: Profile
    comparison: Comparison
    dead_letters: dict[str, int]  # per stage, the disturbed run's dead-letter topic
    feed_health: int
    exit_disturbed: int
    exit_reference: int
    summary: str  # the disturbed run's summary (stderr tail)

    @property
    def sustained_rate(self) -> float:
        return self.feeding.sent / self.feeding.send_s if self.feeding.send_s else 0.0


def _lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines() if path.exists() else []


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def soak(work: Path, broker: LocalBroker, *, duration_s: float, rate: float, junk_share: float = 0.01,
         tracks: int = 8_000, pairs: int = 60, broker_down_s: float = 10.0, feed_down_s: float = 5.0,
         settle_s: float = 30.0, seed: int = 7) -> SoakResult:
    """The disturbed run and its undisturbed reference (see the module docstring)."""
    zones = load_catalogue(ZoneSettings())
    world = make_world(tracks, pairs, rate, (WARMUP_S / 2, WARMUP_S + duration_s), zones,
                       ProximitySettings().horizon_s, seed=seed)
    bootstrap = broker.bootstrap_servers
    prefix = f"soak{int(time.time())}"
    disturbed_dir = work / "disturbed"
    disturbed_dir.mkdir(parents=True)
    recording = work / "input.jsonl"
    server = FeedServer(recording)
    config = _config(disturbed_dir / "closewatch.toml",
                     f'transport = "tcp"\nhost = "127.0.0.1"\nport = {server.port}',
                     _kafka(bootstrap, prefix, disturbed_dir / "spool"))
    topics = [f"{prefix}.{t}.v1" for t in ("events", "tracks", "deadletter")]

    def drop_feed() -> str:
        t = time.monotonic()
        server.drop(feed_down_s, b'{"type": "Feature", "geometry": {"type": "Poi')
        return f"feed connection dropped, server away {time.monotonic() - t:.0f} s"

    feeding = Feeding()
    proc = start_run(config, disturbed_dir)
    with Sampler(proc.pid) as sampler:
        sender = threading.Thread(target=serve, daemon=True, args=(
            server, feed_lines(world, rate, duration_s, junk_share, seed), duration_s,
            [(0.6 * duration_s, drop_feed)], feeding))
        sender.start()
        while not feeding.started.wait(1.0):
            if proc.poll() is not None:
                raise RuntimeError(f"closewatch run ended ({proc.returncode}) before it connected to the feed")
        # The broker is restarted from this thread: LocalBroker's Java gets SIGTERM when the thread
        # that started it ends (PR_SET_PDEATHSIG), so a helper thread would stop it again.
        time.sleep(max(0.0, feeding.started_at + 0.35 * duration_s - time.monotonic()))
        t = time.monotonic()
        broker.stop()
        time.sleep(broker_down_s)
        broker.start(timeout_s=300)
        feeding.faults.append(f"broker stopped and started again on {bootstrap} (away {time.monotonic() - t:.0f} s)")
        sender.join()
        if feeding.error:
            raise RuntimeError(f"the feed server failed: {feeding.error}")
        ran_s = sampler.elapsed_s
        wait_idle(lambda: _end_offsets(bootstrap, topics), proc)
        code, err = stop_run(proc, disturbed_dir)
    server.close()
    disturbed = profile(sampler.samples, feeding.started_at - sampler.t0 + settle_s, ran_s)
    received = [v for v, _h in read_topic(bootstrap, topics[0], timeout_s=900)]
    letters = [json.loads(v) for v, _h in read_topic(bootstrap, topics[2], timeout_s=900)]
    stages: dict[str, int] = {}
    for d in letters:
        if "stage" in d:
            stages[d["stage"]] = stages.get(d["stage"], 0) + 1

    # the undisturbed reference: the same bytes, read from the recording, no faults
    ref_dir = work / "reference"
    ref_dir.mkdir()
    ref_config = _config(ref_dir / "closewatch.toml", f'transport = "follow"\npath = "{recording}"\nfrom_start = true',
                         f"""[sinks]
events_jsonl = "{ref_dir / 'events.jsonl'}"
deadletter_jsonl = "{ref_dir / 'dead.jsonl'}"
tracks_jsonl = "{ref_dir / 'tracks.jsonl'}"
flush_interval_s = 0.5
fsync = false
""")
    expected = _count_lines(recording)
    ref = start_run(ref_config, ref_dir)
    with Sampler(ref.pid) as ref_sampler:
        wait_idle(lambda: _count_lines(ref_dir / "tracks.jsonl") + _count_lines(ref_dir / "dead.jsonl"), ref,
                  done=lambda n: n >= expected + 1)  # + the feed's `running` record
        ref_s = ref_sampler.elapsed_s
        ref_code, _ = stop_run(ref, ref_dir)
    reference = profile(ref_sampler.samples, min(settle_s, ref_s / 3), ref_s)
    comparison = compare(_lines_of(ref_dir / "events.jsonl"), received)
    return SoakResult(duration_s, rate, feeding, server.connections, disturbed, reference, comparison, stages,
                      sum(1 for d in letters if d.get("record") == "feed_health"), code, ref_code,
                      "\n".join(err.strip().splitlines()[-25:]))


@dataclass
class JunkResult:
    duration_s: float
    lines: int
    profile: Profile
    dead_letters_seen: list[tuple[float, int]]  # (seconds into the run, dead-letter topic end offset)
    dead_letters_end: int
    exit_code: int


def junk_only(work: Path, broker: LocalBroker, *, duration_s: float, rate: float, settle_s: float = 10.0,
              seed: int = 11) -> JunkResult:
    """A feed of nothing but junk for ``duration_s``: RSS over time, dead letters published as they come."""
    bootstrap = broker.bootstrap_servers
    prefix = f"junk{int(time.time())}"
    run_dir = work / "junk"
    run_dir.mkdir(parents=True)
    server = FeedServer(run_dir / "input.jsonl")
    config = _config(run_dir / "closewatch.toml", f'transport = "tcp"\nhost = "127.0.0.1"\nport = {server.port}',
                     _kafka(bootstrap, prefix, run_dir / "spool"))
    topic = f"{prefix}.deadletter.v1"
    rnd = random.Random(seed)
    zones = load_catalogue(ZoneSettings())
    world = make_world(200, 0, 100.0, (0.0, 1.0), zones, ProximitySettings().horizon_s, seed=seed)
    real = [encode_track(u) for _t, ups in make_feed(world, WARMUP_S, WARMUP_S + 10.0) for u in ups]
    seen: list[tuple[float, int]] = []
    proc = start_run(config, run_dir)
    with Sampler(proc.pid) as sampler:
        server.accept()  # the run is up: the clock starts
        start = time.monotonic()
        done = threading.Event()

        def probe() -> None:  # the dead-letter topic at each quarter, without holding up the feed
            for q in (0.25, 0.5, 0.75):
                if done.wait(max(0.0, start + q * duration_s - time.monotonic())):
                    return
                seen.append((time.monotonic() - start, _end_offsets(bootstrap, [topic])))

        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        step_s = 0.05
        k = 0
        while time.monotonic() - start < duration_s:
            lines = []
            for _ in range(max(1, int(rate * step_s))):
                line = mutate(real[rnd.randrange(len(real))], rnd).replace(b"\n", b" ")
                lines.append(b"#" + line)  # surely not a report, one line each
            server.send(lines)
            k += 1
            wait = k * step_s - (time.monotonic() - start)
            if wait > 0:
                time.sleep(wait)
        done.set()
        prober.join()
        ran_s = sampler.elapsed_s
        code, _err = stop_run(proc, run_dir)
    server.close()
    end = _end_offsets(bootstrap, [topic])
    return JunkResult(duration_s, server.sent_lines, profile(sampler.samples, start - sampler.t0 + settle_s, ran_s),
                      seen, end, code)


# -- report ------------------------------------------------------------------------------------


def report(s: SoakResult, j: JunkResult | None) -> str:
    f = s.feeding
    load = os.getloadavg()
    out = [
        f"closewatch soak: {s.duration_s:.0f} s of a live `closewatch run` (TCP feed, tracks-jsonl -> Kafka, acks=all), "
        f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f}",
        f"  rate: {s.rate:,.0f} updates/s offered; sustained {s.sustained_rate:,.0f} lines/s ({f.sent:,} lines in "
        f"{f.send_s:.0f} s; TCP back-pressure: the run took them as fast as this machine let it)",
        f"  inputs: {f.sent:,} lines sent, of which {f.junk:,} junk ({f.junk / max(f.sent, 1):.2%}) and 1 torn line; "
        "the lines due while the feed was away were sent when it came back",
        f"  faults: {len(f.faults)}: {'; '.join(f.faults)}; the run connected {s.server_connections} times",
        f"  disturbed run: {s.disturbed.line()}",
        f"  undisturbed run: {s.reference.line()}",
        f"  dead letters (disturbed run's topic): "
        + (", ".join(f"{k} {v:,}" for k, v in sorted(s.dead_letters.items())) or "none")
        + f"; feed_health records {s.feed_health}",
        f"  {s.comparison.line()}",
        f"  exit codes: disturbed {s.exit_disturbed}, undisturbed {s.exit_reference} (both stopped by SIGTERM)",
    ]
    if j is not None:
        seen = ", ".join(f"{n:,} at {t:.0f} s" for t, n in j.dead_letters_seen)
        out += [
            f"junk-only feed: {j.duration_s:.0f} s, {j.lines:,} junk lines; {j.profile.line()}",
            f"  dead letters on the topic during the run: {seen}; after the run {j.dead_letters_end:,}; exit {j.exit_code}",
        ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration-s", type=float, default=180.0, help="wall time of the disturbed run's feed")
    ap.add_argument("--rate", type=float, default=20_000.0, help="offered track updates per second")
    ap.add_argument("--junk-share", type=float, default=0.01)
    ap.add_argument("--junk-s", type=float, default=60.0, help="the junk-only feed's duration (0: skip it)")
    ap.add_argument("--junk-rate", type=float, default=5_000.0, help="junk lines per second of the junk-only feed")
    ap.add_argument("--tracks", type=int, default=8_000)
    ap.add_argument("--pairs", type=int, default=60)
    ap.add_argument("--broker-down-s", type=float, default=10.0)
    ap.add_argument("--feed-down-s", type=float, default=5.0)
    ap.add_argument("--settle-s", type=float, default=30.0, help="RSS 'start' is the first sample after this")
    ap.add_argument("--work", type=Path, help="keep the runs' folders (configurations, logs, input) here")
    args, _ = ap.parse_known_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="closewatch-soak-") as tmp:
        if args.work is not None:
            args.work.mkdir(parents=True)
            tmp = str(args.work.resolve())
        broker = LocalBroker(Path(tmp) / "broker", heap_mb=512)
        broker.start(timeout_s=300)
        try:
            s = soak(Path(tmp), broker, duration_s=args.duration_s, rate=args.rate, junk_share=args.junk_share,
                     tracks=args.tracks, pairs=args.pairs, broker_down_s=args.broker_down_s,
                     feed_down_s=args.feed_down_s, settle_s=args.settle_s)
            print("... soak done", file=sys.stderr, flush=True)
            j = junk_only(Path(tmp), broker, duration_s=args.junk_s, rate=args.junk_rate) if args.junk_s > 0 else None
        finally:
            broker.stop()
    print(report(s, j))
    print("disturbed run's summary (stderr tail):\n" + "\n".join("    " + line for line in s.summary.splitlines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
