"""`closewatch map assets|serve|replay` through the real command line entry point."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from closewatch.cli import main
from closewatch.cmd_map import apply_topic_message
from maps.assets import AssetStore
from maps.live import SituationStore
from maps.page import check_offline


def test_assets_prints_the_folder(asset_store: AssetStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["map", "assets", "--dest", str(asset_store.root)]) == 0
    assert capsys.readouterr().out.strip() == str(asset_store.root)


def test_replay_from_jsonl_skips_bad_lines(situation: Any, asset_store: AssetStore, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("CLOSEWATCH_CACHE", str(asset_store.root.parent))
    tracks = tmp_path / "tracks.jsonl"
    lines = [json.dumps(asdict(u)) for ups in situation.tracks.values() for u in ups]
    lines.insert(3, "{not json")
    tracks.write_text("\n".join(lines) + "\n")
    events = tmp_path / "events.jsonl"
    # the events file as the pipeline writes it (one value of the events topic a line), and a line
    # in another shape: the bare fields of an event are not an event value
    lines = [json.dumps(f) for f in situation.events]
    lines.insert(1, json.dumps(situation.events[0]["properties"]))
    events.write_text("\n".join(lines) + "\n")
    out = tmp_path / "replay.html"
    with caplog.at_level(logging.WARNING):
        code = main(["map", "replay", "--tracks", str(tracks), "--events", str(events), "--from",
                     "2024-05-01T10:30:00Z", "--to", "2024-05-01T10:40:00Z", "--bbox", "20,55,30,62",
                     "--max-points", "1000", "-o", str(out)])
    assert code == 0
    assert f"{tracks}:4: line not used" in caplog.text
    assert f"{events}:2: line not used: event value: not a GeoJSON Feature" in caplog.text
    page = out.read_text()
    check_offline(page, "replay")
    assert f"All {situation.positions()} positions of 5 tracks are drawn" in page
    assert f'data-event-id="{situation.event_id("zone_entry")}"' in page


@pytest.mark.parametrize(
    "argv",
    [
        ["map", "replay", "--tracks", "x.jsonl", "--from", "2024-05-01T10:00:00"],  # no --to
        ["map", "replay", "--tracks", "x.jsonl", "--bbox", "1,2,3"],
        ["map", "serve"],  # no [kafka] section
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "closewatch map" in capsys.readouterr().err


def test_topic_track_messages_feed_the_store(situation: Any, caplog: pytest.LogCaptureFixture) -> None:
    store = SituationStore()
    u = situation.tracks["ais:273123456"][-1]
    assert apply_topic_message(store, "tracks", json.dumps(asdict(u)).encode(), "t/0@1")
    with caplog.at_level(logging.WARNING):
        assert not apply_topic_message(store, "tracks", b"\xff\xfe", "t/0@2")
    assert "t/0@2: message not used" in caplog.text
    assert store.status()["tracks"] == 1
