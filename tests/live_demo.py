"""A live run of the demo scenario shifted to cross an hour, for the archive, replay and report tests
(the ``live_demo`` fixture of ``tests/closewatch/conftest.py``).

The Baltic scenario starts at 10:00 UTC; moved 45 minutes on it runs from 10:45 to 11:25, so
its archive has two hour partitions and windows can cross 11:00. The run goes through the
real pipeline with the sinks ``closewatch run`` builds (the archive, the JSON Lines files)
and a recorder that keeps the events in the order the engine made them.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

import closewatch.scenario.baltic as baltic
from alerts.codec import event_from_feature
from closewatch.cmd_run import build_sinks
from closewatch.pipeline import Pipeline
from closewatch.sinks import RecorderSink
from config.settings import Settings, load_settings
from proximity.events import Event

SHIFT_S = 45 * 60.0


@dataclass
class LiveDemo:
    folder: Path
    paths: dict[str, Path]
    settings: Settings
    t0_s: float
    events: list[Event]  # as the engine made them, with detection times

    @property
    def archive(self) -> Path:
        return Path(self.settings.archive.path)

    @property
    def feed_files(self) -> list[str]:
        return [str(self.paths[k]) for k in ("ais", "sbs", "exercises")]


def write_shifted_scenario(out: Path, shift_s: float = SHIFT_S) -> tuple[dict[str, Path], float]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(baltic, "T0_S", baltic.T0_S + shift_s)
        return baltic.write_scenario(out), baltic.T0_S


def run_live(settings: Settings, extra_sinks: list | None = None) -> list[Event]:
    recorder = RecorderSink()
    with ExitStack() as stack:
        Pipeline(settings, build_sinks(settings, stack) + [recorder] + (extra_sinks or [])).run()
    return [event_from_feature(f) for f in recorder.events]
