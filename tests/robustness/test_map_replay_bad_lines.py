"""`closewatch map replay` over event and track files with bad lines: each bad line is skipped
with a warning naming the file and the line, the count is printed and shown on the page, and the
page is written with everything that could be used."""

from __future__ import annotations

import json
import logging
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from closewatch.cli import main
from maps.assets import AssetStore
from maps.page import check_offline
from maps.replay import MAX_LINE_BYTES, read_jsonl

BAD_LINES: list[tuple[bytes, str]] = [
    (b"\xff\xfe{}", "not UTF-8 (byte 0xff at column 1)"),
    (b"[" * 100_000, "nested too deeply"),
    (b"1" * 5_000, "Exceeds the limit"),
    (b"{not json", "Expecting property name"),
    (b"[1, 2]", "not a JSON object but an array"),
    (b"null", "not a JSON object but null"),
    (b'"text"', "not a JSON object but a string"),
    (b'{"type": "Feature"}', "a Feature without properties"),
    (b'{"a": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}', f"longer than {MAX_LINE_BYTES:,} bytes"),
    (b'{"type": "Feature", "properties": {"seq": 1e999}}', ""),
    (b"\x00\x00\x00", ""),
]


@pytest.fixture
def cache_env(asset_store: AssetStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOSEWATCH_CACHE", str(asset_store.root.parent))


def _write(path: Path, good: list[bytes], bad: list[bytes]) -> int:
    """The first good line, the bad ones, the other good ones (a blank line at the end); returns
    the line number of the first bad line."""
    path.write_bytes(b"\n".join([good[0], *bad, *good[1:]]) + b"\n\n")
    return 2


def test_every_bad_line_is_skipped_counted_and_named(situation: Any, tmp_path: Path, cache_env: None,
                                                     caplog: pytest.LogCaptureFixture,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.jsonl"
    first = _write(events, [json.dumps(f).encode() for f in situation.events], [b for b, _ in BAD_LINES])
    tracks = tmp_path / "tracks.jsonl"
    good_tracks = [json.dumps(asdict(u)).encode() for ups in situation.tracks.values() for u in ups]
    _write(tracks, good_tracks, [b'{"track_id": "ais:1", "t_s": "soon"}', b"\xc3\x28"])
    out = tmp_path / "replay.html"
    with caplog.at_level(logging.WARNING):
        code = main(["map", "replay", "--tracks", str(tracks), "--events", str(events), "-o", str(out)])
    assert code == 0
    err = capsys.readouterr().err
    assert f"closewatch map replay: events.jsonl: {len(BAD_LINES)} of {len(situation.events) + len(BAD_LINES)} " \
           f"lines not used (first: line {first}: not UTF-8 (byte 0xff at column 1))" in err
    assert f"closewatch map replay: tracks.jsonl: 2 of {len(good_tracks) + 2} lines not used" in err
    named = [r.getMessage() for r in caplog.records if "line not used" in r.getMessage()]
    assert len(named) == 10 + 2  # the first ten of a file one by one, then a count
    assert f"{events}: {len(BAD_LINES) - 10} more lines not used" in caplog.text
    for n, (_line, reason) in enumerate(BAD_LINES[:10], start=first):
        assert any(m.startswith(f"{events}:{n}: line not used: ") and reason in m for m in named), (n, reason, named)
    page = out.read_text()
    check_offline(page, "replay")
    assert f"events.jsonl: {len(BAD_LINES)} of" in page and "tracks.jsonl: 2 of" in page
    for kind in ("zone_entry", "predicted_close_approach"):
        assert f'data-event-id="{situation.event_id(kind)}"' in page
    assert f"All {situation.positions()} positions of 5 tracks are drawn" in page


def test_mutated_real_engine_lines_never_stop_the_replay(situation: Any, tmp_path: Path, cache_env: None) -> None:
    """Every event line of the real engine truncated at random places and with random bytes changed."""
    rng = random.Random(10)
    good = [json.dumps(f).encode() for f in situation.events]
    mutated = []
    for line in good * 20:
        cut = line[: rng.randrange(len(line))]
        flipped = bytearray(line)
        for _ in range(rng.randrange(1, 4)):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        mutated += [cut, bytes(flipped).replace(b"\n", b" ")]
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(good + mutated) + b"\n")
    tracks = tmp_path / "tracks.jsonl"
    tracks.write_text("\n".join(json.dumps(asdict(u)) for ups in situation.tracks.values() for u in ups) + "\n")
    out = tmp_path / "replay.html"
    assert main(["map", "replay", "--tracks", str(tracks), "--events", str(events), "-o", str(out)]) == 0
    read = read_jsonl(events, lambda v: v)
    assert read.lines == len(good) + len(mutated) and read.skipped > len(mutated) // 2
    assert f'data-event-id="{situation.event_id("zone_entry")}"' in out.read_text()


def test_missing_or_unreadable_input_is_one_line(tmp_path: Path, cache_env: None,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["map", "replay", "--tracks", str(tmp_path / "none.jsonl"), "-o", str(tmp_path / "r.html")]) == 1
    assert "none.jsonl" in capsys.readouterr().err
    assert main(["map", "replay", "--tracks", str(tmp_path), "-o", str(tmp_path / "r.html")]) == 1
    assert "Is a directory" in capsys.readouterr().err


def test_situation_map_leaves_out_an_event_it_cannot_draw(situation: Any, asset_store: AssetStore, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    from maps.render import render_situation_map

    broken = {"type": "Feature", "properties": {"event_id": "x", "seq": "one"}, "geometry": None}
    with caplog.at_level(logging.WARNING):
        out = render_situation_map(tmp_path / "map.html", zones=situation.zones, tracks=situation.tracks,
                                   events=[*situation.events, broken], store=asset_store)
    assert "event not drawn: " in caplog.text
    assert f'"event_id": "{situation.event_id("zone_entry")}"' in out.read_text()
