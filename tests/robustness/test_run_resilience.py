"""Whole runs under faults, as the operator meets them (docs/operations.md).

Each test runs ``closewatch run`` in its own process: the JSON Lines sinks are
pushed during a live run (the events file is not empty while it runs, and a
``kill -9`` leaves only whole lines), SIGTERM drains and exits 0, a run in which
every record was rejected exits 1 with a clear line, a replay with Kafka
unreachable exits 3 and says the events wait in the spool, a live feed that
cannot start is restarted with backoff and reported as ``feed_health``.
"""

from __future__ import annotations

import heapq
import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from alerts.codec import encode_track
from closewatch.scenario.baltic import write_scenario
from config.records import TrackUpdate
from config.settings import SidesSettings, load_settings
from config.times import format_utc
from ingest import open_feed
from run_configs import tracks_run_config

pytestmark = pytest.mark.slow


def _scenario_tracks(folder: Path) -> list[bytes]:
    """The demo scenario's normalised tracks, in time order (tracks-jsonl lines)."""
    paths = write_scenario(folder / "scenario")
    settings = load_settings(paths["config"])
    streams = [[i for i in open_feed(f, SidesSettings()) if isinstance(i, TrackUpdate)] for f in settings.feeds]
    return [encode_track(u) for u in heapq.merge(*streams, key=lambda u: u.t_s)]


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def _wait(condition: Callable[[], bool], timeout_s: float, what: str, proc: Any = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"closewatch ended ({proc.returncode}) before {what}: {proc.stderr.read().decode()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout_s} s")
        time.sleep(0.2)


def _follow_config(tmp_path: Path, feed: Path, fsync: bool = True) -> str:
    return tracks_run_config(feed, follow=True, events=tmp_path / "events.jsonl", dead=tmp_path / "dead.jsonl",
                             sinks_extra=f"flush_interval_s = 0.5\nfsync = {str(fsync).lower()}\n")


def test_a_live_run_writes_its_events_as_it_goes_and_sigterm_drains_with_exit_0(tmp_path, write_config, start_cli):
    feed = tmp_path / "tracks.jsonl"
    feed.write_bytes(b"".join(line + b"\n" for line in _scenario_tracks(tmp_path)))
    proc = start_cli("run", "-c", write_config(_follow_config(tmp_path, feed)))
    try:
        events = tmp_path / "events.jsonl"
        # the run never ends by itself (a followed file): the events reach the file while it runs
        _wait(lambda: events.exists() and events.stat().st_size > 0, 120, "events in the file during the run", proc)
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()[-3000:]
    assert "draining" in err.decode() and "drained and synced" in err.decode()
    written = _lines(events)
    assert written and all(e["type"] == "Feature" for e in written)
    # the scenario's bad lines were rejected, with their stage
    assert all(d["stage"] == "decode" for d in _lines(tmp_path / "dead.jsonl") if "stage" in d)


def test_kill_9_leaves_the_events_pushed_so_far_as_whole_lines(tmp_path, write_config, start_cli):
    feed = tmp_path / "tracks.jsonl"
    feed.write_bytes(b"".join(line + b"\n" for line in _scenario_tracks(tmp_path)))
    proc = start_cli("run", "-c", write_config(_follow_config(tmp_path, feed, fsync=False)))
    events = tmp_path / "events.jsonl"
    try:
        _wait(lambda: events.exists() and events.stat().st_size > 0, 120, "events in the file during the run", proc)
        seen = events.stat().st_size
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    data = events.read_bytes()
    assert len(data) >= seen and data.endswith(b"\n")  # nothing pushed is lost, no torn line
    assert all(json.loads(line)["type"] == "Feature" for line in data.splitlines())


def test_a_run_in_which_every_record_was_rejected_exits_1_and_says_so(tmp_path, write_config, run_cli):
    feed = tmp_path / "junk.jsonl"
    feed.write_bytes(b"not json\n{\"track_id\": 5}\n" * 50)
    config = write_config(tracks_run_config(feed, events=tmp_path / "events.jsonl", dead=tmp_path / "dead.jsonl"))
    result = run_cli("run", "-c", config, timeout_s=300)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "every record was rejected (100 dead letters)" in result.stderr
    assert "Traceback" not in result.stderr
    letters = [d for d in _lines(tmp_path / "dead.jsonl") if d.get("record") != "feed_health"]
    assert len(letters) == 100 and {d["stage"] for d in letters} == {"decode"}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_replay_with_kafka_unreachable_exits_3_and_says_the_events_wait_in_the_spool(
    tmp_path, write_config, run_cli
):
    feed = tmp_path / "tracks.jsonl"
    feed.write_bytes(b"".join(line + b"\n" for line in _scenario_tracks(tmp_path)))
    spool = tmp_path / "spool"
    config = write_config(tracks_run_config(feed, extra=f"""
[kafka]
bootstrap_servers = "127.0.0.1:{_closed_port()}"
spool_dir = "{spool}"
"""))
    result = run_cli("run", "-c", config, timeout_s=300)
    assert result.returncode == 3, result.stderr[-3000:]
    assert "unreachable" in result.stderr and "wait in the spool" in result.stderr and str(spool) in result.stderr
    assert "Traceback" not in result.stderr
    assert any(spool.iterdir())  # the events are in the spool, not lost


def test_a_live_feed_that_cannot_start_is_restarted_with_backoff_and_reported(tmp_path, write_config, start_cli):
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # the port is taken: the feed cannot bind
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    config = write_config(f"""
[[feeds]]
name = "radio"
format = "ais-nmea"
transport = "udp"
port = {port}

[zones]
territorial = false

[sinks]
events_jsonl = "{tmp_path / 'events.jsonl'}"
deadletter_jsonl = "{tmp_path / 'dead.jsonl'}"
flush_interval_s = 0.2
""")
    proc = start_cli("run", "-c", config)
    dead = tmp_path / "dead.jsonl"

    def health() -> list[dict[str, Any]]:
        return [d for d in _lines(dead) if d.get("record") == "feed_health"]

    try:
        _wait(lambda: sum(h["state"] == "restarting" for h in health()) >= 2, 60, "two restarts", proc)
        holder.close()  # the port is free: the next restart takes it
        failed = sum(h["state"] == "restarting" for h in health())
        _wait(lambda: any(h["state"] == "running" and h["restarts"] >= failed for h in health()), 120,
              "the feed started again after the port was freed", proc)
        time.sleep(1.0)
        # it runs: no new failure, and the port is now the feed's
        assert health()[-1]["state"] == "running"
        with pytest.raises(OSError):
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                probe.bind(("127.0.0.1", port))
            finally:
                probe.close()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        holder.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()[-3000:]
    records = health()
    restarting = [h for h in records if h["state"] == "restarting"]
    assert all("cannot bind" in h["error"] and h["feed"] == "radio" for h in restarting)
    # backoff: the second try waited longer than the first
    starts = [h["since_s"] for h in records if h["state"] == "running"]
    assert len(starts) >= 3 and starts[2] - starts[1] > starts[1] - starts[0]
    assert "feeds restarted: radio" in out.decode()


def test_a_report_far_ahead_in_time_is_a_dead_letter_and_changes_no_event(tmp_path, write_config, run_cli):
    """One line of the demo's tracks moved eight days on: held, never confirmed, a dead letter
    `time far ahead`; the events are those of the demo without that line."""
    lines = _scenario_tracks(tmp_path)
    k = len(lines) // 2
    moved = json.loads(lines[k])
    moved["t_s"] += 8 * 86_400
    moved["time"] = format_utc(moved["t_s"], "milliseconds")
    mangled = [*lines[:k], json.dumps(moved).encode(), *lines[k + 1:]]
    outputs = {}
    for name, body in (("clean", [*lines[:k], *lines[k + 1:]]), ("mangled", mangled)):
        feed = tmp_path / f"{name}.jsonl"
        feed.write_bytes(b"".join(line + b"\n" for line in body))
        events, dead = tmp_path / f"{name}-events.jsonl", tmp_path / f"{name}-dead.jsonl"
        result = run_cli("run", "-c", write_config(tracks_run_config(feed, events=events, dead=dead)), timeout_s=300)
        assert result.returncode == 0, result.stderr[-3000:]
        outputs[name] = (result.stderr, [_canonical_event(e) for e in _lines(events)],
                         [d for d in _lines(dead) if d.get("record") != "feed_health"])
    clean, mangled_run = outputs["clean"], outputs["mangled"]
    assert mangled_run[1] == clean[1] and clean[1]
    assert clean[2] == []
    assert [(d["reason"], d["stage"]) for d in mangled_run[2]] == [("time far ahead", "engine")]
    assert "time far ahead" in mangled_run[0]


def _canonical_event(feature: dict[str, Any]) -> str:
    props = {k: v for k, v in feature["properties"].items() if k not in ("detected_s", "detected_at")}
    return json.dumps({**feature, "properties": props}, sort_keys=True)
