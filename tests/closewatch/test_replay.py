"""Replay: the revisions of a window, from the archive and from the feed files, are those the live run made.

The live run is the demo scenario moved to cross 11:00 UTC (``conftest.live_demo``); the
windows are in seconds after its start. "The same" is byte for byte but for the detection
time (``canonical_lines``: the topic's values without ``detected_*``, in data-time order).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alerts.codec import event_to_feature
from alerts.consumer import EventFilter
from closewatch.archive import Archive
from closewatch.replay import Window, canonical_lines, incident_spans, lead_in_s, run_replay
from closewatch.replay_inputs import from_archive, from_files
from closewatch.archive.store import hour_key
from live_demo import LiveDemo, run_live
from config.settings import Settings
from proximity.events import Event

# (from, to) in seconds after the scenario's start (10:45 UTC); it ends at +2400 s
ACROSS_THE_HOUR = (600.0, 1500.0)  # 10:55 - 11:10
INSIDE_AN_INCIDENT = (1100.0, 1250.0)  # the air close approach is open all along
WHOLE = (0.0, 2400.0)
AFTER_THE_DATA = (2700.0, 3300.0)


def _window(live: LiveDemo, span: tuple[float, float], bbox: tuple[float, float, float, float] | None = None) -> Window:
    return Window(live.t0_s + span[0], live.t0_s + span[1], bbox)


def _live_in(live: LiveDemo, w: Window) -> list[Event]:
    return [e for e in live.events if w.contains(e)]


def _archive_replay(live: LiveDemo, w: Window, settings: Settings | None = None, **kw: object):  # type: ignore[no-untyped-def]
    inp = from_archive(Archive(live.archive), w, settings, **kw)  # type: ignore[arg-type]
    return inp, run_replay(inp.settings, inp.zones, inp.items, w, start_s=inp.start_s, notes=inp.notes)


@pytest.mark.slow
@pytest.mark.parametrize("span", [ACROSS_THE_HOUR, INSIDE_AN_INCIDENT, WHOLE, AFTER_THE_DATA],
                         ids=["across-the-hour", "inside-an-incident", "whole", "after-the-data"])
def test_archive_replay_gives_the_live_revisions(live_demo: LiveDemo, span: tuple[float, float]) -> None:
    w = _window(live_demo, span)
    inp, result = _archive_replay(live_demo, w)
    want = _live_in(live_demo, w)
    assert canonical_lines(result.events) == canonical_lines(want)
    assert inp.run is not None and inp.run.kind == "run"  # the live run's own settings and catalogue
    if span == ACROSS_THE_HOUR:
        assert {hour_key(int(e.t_s // 3600)) for e in want} == {"2026-03-10T10", "2026-03-10T11"}
    if span == AFTER_THE_DATA:
        assert result.events == [] and result.carried_in == [] and result.ended
    if span == WHOLE:
        assert len(want) == len(live_demo.events) and result.ended  # closes at the end of input, as live


def _carried_in(events: list[Event], w: Window) -> list[Event]:
    """Independently of the replay: incidents opened before the window and not closed before it,
    with their last revision before it."""
    out = []
    for span in incident_spans(events).values():
        before = [r for r in span.revisions if r.t_s < w.from_s]
        if before and before[0].state == "open" and before[-1].state != "closed":
            out.append(before[-1])
    return sorted(out, key=lambda e: (e.t_s, e.event_id))


@pytest.mark.slow
def test_carried_in_and_open_at_the_end_are_the_live_incidents(live_demo: LiveDemo) -> None:
    w = _window(live_demo, INSIDE_AN_INCIDENT)
    _inp, result = _archive_replay(live_demo, w)
    assert canonical_lines(result.carried_in) == canonical_lines(_carried_in(live_demo.events, w))
    assert {e.kind for e in result.carried_in} >= {"close_approach", "exercise_near_border"}
    open_ids = {e.event_id for e in result.open_at_end}
    for span in incident_spans(live_demo.events).values():
        in_window = any(w.contains(r) for r in span.revisions) or span.open_at(w.from_s)
        last = [r for r in span.revisions if r.t_s < w.to_s]
        assert (span.event_id in open_ids) == (in_window and bool(last) and last[-1].state != "closed")


@pytest.mark.slow
def test_feed_files_replay_gives_the_live_revisions(live_demo: LiveDemo) -> None:
    for span in (ACROSS_THE_HOUR, INSIDE_AN_INCIDENT):
        w = _window(live_demo, span)
        inp = from_files(live_demo.settings, live_demo.feed_files)
        result = run_replay(inp.settings, inp.zones, inp.items, w, start_s=inp.start_s)
        assert canonical_lines(result.events) == canonical_lines(_live_in(live_demo, w))


@pytest.mark.slow
def test_bbox_keeps_the_revisions_with_a_position_inside(live_demo: LiveDemo) -> None:
    sea = (26.0, 59.9, 27.5, 60.0)  # the patrol ships' encounter mid-gulf, not the aircraft above
    w = _window(live_demo, WHOLE, sea)
    _inp, result = _archive_replay(live_demo, w)
    want = [e for e in live_demo.events if EventFilter(bbox=sea).matches(event_to_feature(e))]
    assert want and canonical_lines(result.events) == canonical_lines(want)
    assert {e.kind for e in result.events} <= {"close_approach", "predicted_close_approach", "predicted_zone_entry",
                                                "shadowing", "zone_entry"}


@pytest.mark.slow
def test_batch_cut_does_not_change_the_replay(live_demo: LiveDemo) -> None:
    w = _window(live_demo, ACROSS_THE_HOUR)
    recorded = Archive(live_demo.archive).runs()[0].settings
    assert recorded is not None
    small = Settings.model_validate(recorded)
    small = small.model_copy(update={"pipeline": small.pipeline.model_copy(update={"batch_size": 7})})
    _inp, result = _archive_replay(live_demo, w, small)
    assert canonical_lines(result.events) == canonical_lines(_live_in(live_demo, w))


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "closewatch", *args], capture_output=True, text=True, cwd=cwd)


def _iso(live: LiveDemo, offset_s: float) -> str:
    from config.times import format_utc

    return format_utc(live.t0_s + offset_s)


@pytest.mark.slow
def test_cli_replays_around_a_corrupt_archive_file_naming_it(live_demo: LiveDemo, tmp_path: Path) -> None:
    broken = tmp_path / "archive"
    shutil.copytree(live_demo.archive, broken)
    bad = next((broken / "tracks" / "hour=2026-03-10T11").glob("part-*.parquet"))
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])  # truncated: no footer
    out = tmp_path / "out"
    proc = _cli(["replay", "--archive", str(broken), "--from", _iso(live_demo, ACROSS_THE_HOUR[0]),
                 "--to", _iso(live_demo, ACROSS_THE_HOUR[1]), "--out", str(out)], tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert str(bad) in proc.stderr and "not read" in proc.stderr
    assert "events in the window:" in proc.stdout
    # the rest is replayed: before 11:00 (the hour whose tracks are lost) the revisions are the live ones
    eleven = live_demo.t0_s + 900.0
    from closewatch.report import event_from_feature
    from alerts.codec import decode_event

    got = [event_from_feature(decode_event(line)) for line in (out / "events.jsonl").read_bytes().splitlines()]
    w = _window(live_demo, ACROSS_THE_HOUR)
    assert canonical_lines([e for e in got if e.t_s < eleven]) == \
        canonical_lines([e for e in _live_in(live_demo, w) if e.t_s < eleven])
    assert str(bad) in (out / "replay.json").read_text()


@pytest.mark.slow
def test_cli_empty_window_and_compare(live_demo: LiveDemo, tmp_path: Path) -> None:
    empty = _cli(["replay", "--archive", str(live_demo.archive), "--from", _iso(live_demo, AFTER_THE_DATA[0]),
                  "--to", _iso(live_demo, AFTER_THE_DATA[1])], tmp_path)
    assert empty.returncode == 0, empty.stderr
    assert "events in the window: 0 revisions of 0 incidents" in empty.stdout
    whatif = tmp_path / "whatif.toml"
    whatif.write_text(live_demo.paths["config"].read_text() + "\n[proximity.thresholds]\nsea_sea_m = 700.0\n")
    out = tmp_path / "cmp"
    proc = _cli(["replay", "--from", _iso(live_demo, 0), "--to", _iso(live_demo, 2400), "--compare", "-c",
                 str(whatif), "--out", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = (out / "compare.csv").read_text().splitlines()
    assert rows[0].startswith("change,kind,subjects,zone_id,event_id_then,event_id_now")
    removed = [r for r in rows if r.startswith("removed,close_approach,ais:230987650 ais:273456780")]
    assert len(removed) == 1  # 782 m apart: no sea close approach under a 700 m threshold
    assert any(r.startswith("same,close_approach,icao:154a2c icao:3f6b21") for r in rows)
    assert "REMOVED  close_approach" in proc.stdout
    # the replay says it judged with other settings than those recorded, and which
    note = [line for line in proc.stdout.splitlines() if line.startswith("note: run with the configuration given")]
    assert len(note) == 1 and note[0].endswith("judges differently in proximity.thresholds.sea_sea_m: 1852.0 -> 700.0")


_SHORT_MEMORY = {"stale_after_s": {"air": 60.0, "sea": 120.0, "land": 60.0}, "horizon_s": 120.0,
                 "suspect_hold_s": 60.0, "spoof_window_s": 60.0, "stuck_min_s": 60.0}


@pytest.mark.slow
def test_lead_in_reaches_back_to_reopen_incidents_open_at_the_start(live_demo: LiveDemo, tmp_path: Path) -> None:
    """With a short memory the lead-in (240 s) is shorter than the incidents open at the window's
    start: the replay reaches back to their opening (from the archived events) and gives the live
    revisions; held to the base lead-in it cannot, and says which incidents reopen under new ids."""
    s = live_demo.settings
    settings = s.model_copy(update={
        "proximity": s.proximity.model_copy(update=_SHORT_MEMORY),
        "sinks": s.sinks.model_copy(update={"events_jsonl": str(tmp_path / "e.jsonl"),
                                             "deadletter_jsonl": str(tmp_path / "d.jsonl"), "tracks_jsonl": None}),
        "archive": s.archive.model_copy(update={"path": str(tmp_path / "archive")}),
    })
    assert lead_in_s(settings.proximity) == 240.0
    live = run_live(settings)
    w = Window(live_demo.t0_s + 1500.0, live_demo.t0_s + 1700.0)  # the air close approach, opened at +1035 s, closes
    want = [e for e in live if w.contains(e)]
    assert any(e.kind == "close_approach" and e.state == "closed" for e in want)
    inp = from_archive(Archive(tmp_path / "archive"), w)
    assert inp.start_s < live_demo.t0_s + 1035.0 - 240.0 and not inp.notes
    result = run_replay(inp.settings, inp.zones, inp.items, w, start_s=inp.start_s)
    assert canonical_lines(result.events) == canonical_lines(want)
    held = from_archive(Archive(tmp_path / "archive"), w, max_lead_in_s=0.0)
    assert held.start_s == w.from_s - 240.0
    assert any("close_approach" in n and "reopens" in n for n in held.notes)
    short = run_replay(held.settings, held.zones, held.items, w, start_s=held.start_s)
    assert canonical_lines(short.events) != canonical_lines(want)


class _Clock:
    """time.monotonic and time.sleep of the replay: sleeping moves this clock, nothing else does."""

    def __init__(self) -> None:
        self.now_s = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now_s

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now_s += seconds


@pytest.mark.slow
def test_speed_paces_the_window_not_the_lead_in(live_demo: LiveDemo, monkeypatch: pytest.MonkeyPatch) -> None:
    """--speed 300: a report at data time t in the window waits until (t - from) / 300 s after the
    window's first report; the lead-in runs at full speed; the revisions are the live run's."""
    import closewatch.replay as replay_mod

    clock = _Clock()
    monkeypatch.setattr(replay_mod, "time", clock)
    w = _window(live_demo, ACROSS_THE_HOUR)
    inp = from_archive(Archive(live_demo.archive), w)
    paced: list[tuple[float, int]] = []  # (clock, updates) at each batch the engine got

    class Probe:
        def update(self, n: int) -> None:
            paced.append((clock.now_s, n))

    result = run_replay(inp.settings, inp.zones, inp.items, w, start_s=inp.start_s, speed=300.0,
                        progress=Probe())  # type: ignore[arg-type]
    assert canonical_lines(result.events) == canonical_lines(_live_in(live_demo, w))
    assert clock.slept and all(s > 0 for s in clock.slept)
    elapsed = clock.now_s - 1000.0
    span = ACROSS_THE_HOUR[1] - ACROSS_THE_HOUR[0]
    assert span / 300.0 - 1.0 <= elapsed <= span / 300.0 + 1.0  # the last report of the window, seconds apart
    assert paced[0][0] == 1000.0  # the lead-in's first batch went without waiting


def test_cli_refuses_a_speed_that_is_no_speed(tmp_path: Path) -> None:
    for bad in ("0", "-2", "nan", "inf", "fast"):
        proc = _cli(["replay", "--from", "2026-03-10T10:00:00Z", "--to", "2026-03-10T11:00:00Z", "--speed", bad],
                    tmp_path)
        assert proc.returncode == 2 and "is not a speed" in proc.stderr, (bad, proc.stderr)
    proc = _cli(["replay", "--from", "nan", "--to", "2026-03-10T11:00:00Z"], tmp_path)
    assert proc.returncode == 2 and "--from: 'nan' is not a time" in proc.stderr, proc.stderr


@pytest.mark.realdata
@pytest.mark.slow
def test_a_real_recording_replays_as_its_live_run(shared_data: Path, tmp_path: Path) -> None:
    """The Danish Maritime Authority sample (five minutes of the Kattegat with Russian-flagged
    ships): its live run raises close approaches and zone entries; the replays of the whole run
    and of a window inside open incidents give its revisions."""
    from config.settings import ArchiveSettings, FeedSettings, RuleSettings, SinkSettings

    path = shared_data / "ais" / "dma_aisabnormal_ais-sample.txt.gz"
    settings = Settings(
        feeds=(FeedSettings(name="dma", format="ais-nmea", path=str(path)),),
        sinks=SinkSettings(events_jsonl=str(tmp_path / "e.jsonl"), deadletter_jsonl=str(tmp_path / "d.jsonl")),
        archive=ArchiveSettings(path=str(tmp_path / "archive")),
        rules=RuleSettings(profile="all-traffic"),  # civil ships: the military profile raises nothing here
    )
    live = run_live(settings)
    assert {e.kind for e in live} >= {"close_approach", "zone_entry"}
    first, last = min(e.t_s for e in live), max(e.t_s for e in live)
    for w in (Window(first - 60.0, last + 60.0), Window(first + 120.0, first + 210.0)):
        inp = from_archive(Archive(tmp_path / "archive"), w)
        result = run_replay(inp.settings, inp.zones, inp.items, w, start_s=inp.start_s, notes=inp.notes)
        assert canonical_lines(result.events) == canonical_lines([e for e in live if w.contains(e)])
    assert result.carried_in  # the inner window starts inside incidents
