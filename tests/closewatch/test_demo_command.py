"""`closewatch demo`, the README's first command, as a user runs it: with its own local broker,
and on machines where the broker cannot start (no Java or Maven; Maven Central unreachable)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from alerts.consumer import format_event_line
from maps.assets import fetch_assets

EXPECTED = json.loads((Path(__file__).resolve().parents[2] / "closewatch/scenario/expected.json").read_text())
SEVERITIES = ["info", "warning", "critical"]
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


def _demo(out: Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "closewatch", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,  # no broker from `closewatch kafka up` here
        env=env,
    )


def _features(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]


def _check_table_and_time_order(stdout: str, out: Path) -> None:
    """A table of the incidents by kind and highest severity, then every revision in time order."""
    features = _features(out)
    lines = stdout.splitlines()
    start = lines.index("incidents by kind and highest severity:")
    assert lines[start + 1].split() == ["kind", *SEVERITIES, "total"]
    table: dict[str, list[int]] = {}
    for row in lines[start + 2:]:
        if not row.strip():
            break
        kind, *cells = row.split()
        table[kind] = [0 if c == "-" else int(c) for c in cells]
    # Counted from the events file: one incident per event id, under its highest severity.
    highest: dict[str, tuple[str, int]] = {}
    for f in features:
        p = f["properties"]
        kind, best = highest.get(p["event_id"], (p["kind"], 0))
        highest[p["event_id"]] = (kind, max(best, SEVERITIES.index(p["severity"])))
    expected_rows = {k: [0, 0, 0] for k in {kind for kind, _ in highest.values()}}
    for kind, rank in highest.values():
        expected_rows[kind][rank] += 1
    expected_rows["all"] = [sum(r[i] for r in expected_rows.values()) for i in range(3)]
    assert table == {k: [*v, sum(v)] for k, v in expected_rows.items()}
    # ... which are the scenario's incidents, worked out from its geometry alone.
    assert {k: v[-1] for k, v in table.items() if k != "all"} == Counter(i["kind"] for i in EXPECTED["incidents"])
    # The revisions, after the table: by event time, the pipeline's order breaking ties.
    printed = [line[2:] for line in lines[start:] if re.match(r"^  \d{4}-\d\d-\d\dT", line)]
    by_time = sorted(features, key=lambda f: f["properties"]["t_s"])  # stable: file order on ties
    assert printed == [format_event_line(f) for f in by_time]
    assert len({f["properties"]["t_s"] for f in features}) < len(features)  # ties exist: the tie-break matters


def _check_files(out: Path) -> None:
    assert (out / "map.html").stat().st_size > 0
    replay = (out / "replay.html").read_text()
    assert replay.count("<tr data-t-ms=") == len(EXPECTED["incidents"])
    assert len((out / "tracks.jsonl").read_text().splitlines()) == 1830
    assert {f["properties"]["event_id"] for f in _features(out)}


def _diagnostics(stderr: str) -> list[str]:
    """stderr without the INFO/DEBUG log records; log records at WARNING and above stay."""
    return [line for line in stderr.splitlines() if not (m := LOG_RECORD.match(line)) or m.group(1) not in ("DEBUG", "INFO")]


def _cache_without_kafka(tmp_path: Path) -> Path:
    """An empty closewatch cache but for the map assets (which `make demo` fetches first)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "map-assets").symlink_to(fetch_assets())
    return cache


@pytest.mark.kafka
@pytest.mark.slow
def test_demo_publishes_to_kafka_and_writes_map_replay_and_files(tmp_path):
    out = tmp_path / "demo-out"
    proc = _demo(out, tmp_path)  # the demo starts and stops its own broker
    assert proc.returncode == 0, proc.stderr[-3000:]
    stdout = proc.stdout
    assert "broker up at 127.0.0.1:" in stdout
    assert "dead letters: 3" in stdout
    # Every revision was read back from the topic and printed as `closewatch tail` prints it.
    revisions = [line for line in stdout.splitlines() if re.match(r"^  \d{4}-\d\d-\d\dT", line)]
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert len(revisions) == len(events) > 0
    assert {e["properties"]["event_id"] for e in events} == {
        m.group(1) for line in revisions if (m := re.search(r"id=(\S+)$", line))
    }
    # The map, the replay (one table row per incident) and the tracks file for `map replay`.
    _check_files(out)
    assert "closewatch tail --from-beginning" in stdout
    assert "the events on Kafka topic closewatch.events.v1, read back, in time order" in stdout
    _check_table_and_time_order(stdout, out)
    assert not [line for line in proc.stderr.splitlines() if "Kafka skipped" in line]


def test_demo_without_java_or_maven_skips_kafka_in_one_line(tmp_path):
    """No java, no mvn on PATH, no Kafka jars in the cache: the demo runs to the files, says why once."""
    out = tmp_path / "demo-out"
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {**os.environ, "PATH": str(empty_bin), "CLOSEWATCH_CACHE": str(_cache_without_kafka(tmp_path))}
    proc = _demo(out, tmp_path, env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _diagnostics(proc.stderr) == [
        "Kafka skipped: 'java' not found on PATH: the local Kafka broker needs Java 17+ and Maven "
        "(Debian: apt-get install openjdk-17-jre-headless maven); the demo goes on without it."
    ]
    assert "broker up" not in proc.stdout
    assert f"the events in {out / 'events.jsonl'}, in time order" in proc.stdout
    _check_files(out)
    _check_table_and_time_order(proc.stdout, out)
    assert not (tmp_path / "cache" / "kafka").exists()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_demo_with_maven_central_unreachable_skips_kafka_in_one_line(tmp_path):
    """Real Java and Maven, an empty Maven repository, and every repository mirrored to a closed
    port of 127.0.0.1 (as without network): Maven fails, the demo says why in one line and goes on."""
    out = tmp_path / "demo-out"
    home = tmp_path / "home"
    (home / ".m2").mkdir(parents=True)
    (home / ".m2" / "settings.xml").write_text(
        "<settings><mirrors><mirror><id>unreachable</id><mirrorOf>*</mirrorOf>"
        f"<url>http://127.0.0.1:{_closed_port()}/maven2</url></mirror></mirrors></settings>"
    )
    env = {
        **os.environ,
        "CLOSEWATCH_CACHE": str(_cache_without_kafka(tmp_path)),
        "MAVEN_OPTS": f"-Duser.home={home} -Dmaven.repo.local={tmp_path / 'm2'}",
    }
    proc = _demo(out, tmp_path, env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = _diagnostics(proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert re.fullmatch(
        r"Kafka skipped: Maven could not download Apache Kafka \S+ from Maven Central \(Connect to 127\.0\.0\.1:\d+ "
        r".*Connection refused\): check the network \(a proxy goes in ~/\.m2/settings\.xml\), then run "
        r"`closewatch kafka fetch`; the demo goes on without it\.",
        lines[0],
    ), lines[0]
    _check_files(out)
    _check_table_and_time_order(proc.stdout, out)
