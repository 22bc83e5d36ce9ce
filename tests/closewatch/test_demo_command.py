"""`closewatch demo`, the README's first command, as a user runs it (its own local broker)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXPECTED = json.loads((Path(__file__).resolve().parents[2] / "closewatch/scenario/expected.json").read_text())


@pytest.mark.kafka
@pytest.mark.slow
def test_demo_publishes_to_kafka_and_writes_map_replay_and_files(tmp_path):
    out = tmp_path / "demo-out"
    proc = subprocess.run(
        [sys.executable, "-m", "closewatch", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,  # no broker from `closewatch kafka up` here: the demo starts and stops its own
    )
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
    assert (out / "map.html").stat().st_size > 0
    replay = (out / "replay.html").read_text()
    assert replay.count("<tr data-t-ms=") == len(EXPECTED["incidents"])
    assert len((out / "tracks.jsonl").read_text().splitlines()) == 1830
    assert "closewatch tail --from-beginning" in stdout
