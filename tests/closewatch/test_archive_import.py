"""archive import: feed recordings (through the decoders), a run's JSON Lines files, a real recording."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from closewatch.archive import Archive
from closewatch.archive.schema import events_from_table, letters_from_table, tracks_from_table
from closewatch.feedfiles import feed_for, merged_items
from closewatch.replay import Window, canonical_lines, run_replay
from closewatch.replay_inputs import from_archive
from config.records import DeadLetter, TrackUpdate
from config.settings import Settings
from live_demo import LiveDemo


def _import(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "closewatch", "archive", "import", *args], capture_output=True,
                          text=True, cwd=cwd)


@pytest.mark.slow
def test_imported_recordings_replay_as_the_live_run(live_demo: LiveDemo, tmp_path: Path) -> None:
    proc = _import(["--archive", "imported", "-c", str(live_demo.paths["config"]), *live_demo.feed_files], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "1,830 track updates" in proc.stdout and "3 dead letters" in proc.stdout and "1 notified zones" in proc.stdout
    assert "import:" in proc.stderr and "lines/s" in proc.stderr  # progress as log lines off a terminal
    archive = Archive(tmp_path / "imported")
    assert archive.runs()[-1].kind == "import"
    # the import's order is the live run's: a replay of it is the run
    w = Window(live_demo.t0_s + 600.0, live_demo.t0_s + 1500.0)
    inp = from_archive(archive, w, live_demo.settings)
    result = run_replay(inp.settings, inp.zones, inp.items, w, start_s=inp.start_s)
    assert canonical_lines(result.events) == canonical_lines([e for e in live_demo.events if w.contains(e)])


def test_a_runs_json_lines_files_import_as_they_are(live_demo: LiveDemo, tmp_path: Path) -> None:
    files = [str(live_demo.folder / n) for n in ("events.jsonl", "tracks.jsonl", "deadletter.jsonl")]
    proc = _import(["--archive", str(tmp_path / "a"), *files], tmp_path)
    assert proc.returncode == 0, proc.stderr
    archive = Archive(tmp_path / "a")
    events = events_from_table(archive.read("events"))
    assert events == live_demo.events  # with their detection times
    theirs = tracks_from_table(Archive(live_demo.archive).read("tracks"))
    assert [(u.track_id, u.t_s, u.lat_deg, u.lon_deg) for u in tracks_from_table(archive.read("tracks"))] == \
        [(u.track_id, u.t_s, u.lat_deg, u.lon_deg) for u in theirs]
    assert len(letters_from_table(archive.read("deadletters"))) == 3


def test_unknown_files_are_refused_naming_them(tmp_path: Path) -> None:
    odd = tmp_path / "odd.txt"
    odd.write_text("hello\n")
    proc = _import(["--archive", str(tmp_path / "a"), str(odd)], tmp_path)
    assert proc.returncode == 2 and "odd.txt: format not recognised" in proc.stderr
    assert "FORMAT:PATH" in proc.stderr


@pytest.mark.realdata
def test_a_real_recording_imports_exactly(shared_data: Path, tmp_path: Path) -> None:
    """The Danish Maritime Authority sample (tag blocks, $PGHP): every decoded report and dead letter."""
    path = shared_data / "ais" / "dma_aisabnormal_ais-sample.txt.gz"
    proc = _import(["--archive", str(tmp_path / "a"), f"ais-nmea:{path}"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    settings = Settings()
    decoded = [item for _n, item in merged_items([feed_for(f"ais-nmea:{path}", settings)], settings)]
    archive = Archive(tmp_path / "a")
    back = tracks_from_table(archive.read("tracks"))
    assert back == [i for i in decoded if isinstance(i, TrackUpdate)]
    # the decoders' context and quality are in it, typed (not only Nones)
    assert len({u.nav_status for u in back} - {None}) > 3 and any(u.quality is not None for u in back)
    assert {u.quality.accuracy_high for u in back if u.quality is not None} == {True, False}
    letters = letters_from_table(archive.read("deadletters"))
    assert [(d.position, d.reason) for d in letters] == \
        [(d.position, d.reason) for d in decoded if isinstance(d, DeadLetter)]
    size = sum(f.stat().st_size for f in archive.part_files("tracks"))
    assert size / len(archive.read("tracks", columns=["t_s"])) < 200  # bytes per update, zstd
