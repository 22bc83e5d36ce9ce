"""A live run's events are those of a replay of the same reports in the order they arrived.

A live feed (here ``follow`` on the real DMA AIS recording) is cut into the engine's
batches by read timing (``[pipeline] max_batch_delay_s``, kept tiny here so that the
cuts fall anywhere). Two live runs over the same file, and a replay of it, must give
the same events (docs/operations.md, "Live and replay"). The engine's memory is
short (ships silent for three minutes are forgotten) so that tracks are forgotten at
ticks in the middle of the live batches and met again: what once made live runs differ.

A live run stopped by SIGTERM does not close what is open (a replay does, at its end):
the replay here is run without that last step.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Sequence

import pytest

from closewatch.pipeline import Pipeline
from closewatch.rules import build_rules
from closewatch.sinks import RecorderSink
from config.settings import Settings
from config.zones import load_borders, load_catalogue
from proximity.engine import Engine
from proximity.events import Event

pytestmark = pytest.mark.realdata

SHORT_MEMORY = {"stale_after_s": {"air": 60.0, "sea": 120.0, "land": 120.0}, "forget_after_s": 60.0}


class _Kept(RecorderSink):
    """A sink keeping the events themselves."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: list[Event] = []

    def publish_events(self, events: Sequence[Event]) -> None:
        self.kept.extend(events)

    def canonical(self) -> list[str]:
        return [json.dumps(e.canonical(), sort_keys=True) for e in self.kept]


class _NoFinish(Engine):
    """An engine whose end of input closes nothing: what a live run stopped by SIGTERM leaves."""

    def finish(self) -> list[Event]:
        return []


def _settings(path: Path, transport: str) -> Settings:
    feed: dict[str, Any] = {"name": "dma", "format": "ais-nmea", "transport": transport, "path": str(path)}
    if transport == "follow":
        feed["from_start"] = True
    return Settings.model_validate({
        "feeds": [feed],
        "rules": {"profile": "all-traffic"},
        "proximity": SHORT_MEMORY,
        "pipeline": {"max_batch_delay_s": 0.002, "batch_size": 997},
    })


def _live(path: Path, updates: int) -> list[str]:
    """A follow run of ``path``, stopped once it has taken ``updates`` reports and is idle."""
    sink = _Kept()
    pipeline = Pipeline(_settings(path, "follow"), [sink])
    stop = threading.Event()
    done: list[Any] = []
    runner = threading.Thread(target=lambda: done.append(pipeline.run(stop)), daemon=True)
    runner.start()
    deadline = time.monotonic() + 600
    while pipeline.summary.updates < updates and time.monotonic() < deadline and runner.is_alive():
        time.sleep(0.2)
    time.sleep(1.0)  # nothing more to come: the updates counted were the file's
    stop.set()
    runner.join(60)
    assert done and pipeline.summary.updates == updates, pipeline.summary.updates
    return sink.canonical()


def test_two_live_runs_and_a_replay_of_a_real_recording_give_the_same_events(shared_data: Path) -> None:
    path = shared_data / "ais" / "dma_aisabnormal_ais-sample.txt.gz"
    replay_settings = _settings(path, "file")
    engine = _NoFinish(replay_settings.proximity, load_catalogue(replay_settings.zones),
                       borders=[line for _name, line in load_borders()], rules=build_rules(replay_settings))
    sink = _Kept()
    pipeline = Pipeline(replay_settings, [sink], engine=engine)
    summary = pipeline.run()
    replayed = sink.canonical()
    assert summary.updates > 20_000 and summary.engine_stats["forgotten_tracks"] > 100
    assert len(replayed) >= 10

    first = _live(path, summary.updates)
    second = _live(path, summary.updates)
    assert first == replayed
    assert second == replayed

