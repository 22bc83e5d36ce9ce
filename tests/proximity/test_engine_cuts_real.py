"""The events do not depend on where the input is cut into batches: real AIS and the demo.

A live run hands the engine whatever arrived within ``max_batch_delay_s``: where its
batches are cut depends on read timing. The engine's events must not (docs/engine.md,
"Time"). ``test_engine_batching.py`` cuts a synthetic scenario; here the cuts are
random (drawn by hypothesis) over

* the real DMA AIS recording (Danish straits, five minutes, 1,508 ships), with
  ``stale_after_s`` and ``forget_after_s`` short enough that ships fall silent, are
  forgotten and come back within the recording; and the same with one report whose
  time lies eight days ahead (a mangled time that passed the decoder's checks, as in
  the soak): the tick it causes forgets every track in the middle of a batch;
* the Baltic demo through the whole pipeline (``closewatch.pipeline.Pipeline``,
  AIS, SBS-1 and the exercise feed with its notice), the engine's batches cut again
  at random inside the pipeline's.

Each cut run gives the events of the uncut run, byte for byte in the same order
(``Event.canonical``), and the same engine counters.
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Any, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from closewatch.pipeline import Pipeline
from closewatch.rules import build_rules
from closewatch.sinks import RecorderSink
from config.records import TrackUpdate
from config.settings import Settings, load_settings
from config.zones import load_borders, load_catalogue
from proximity.engine import Engine
from proximity.events import Event

from .dma_recording import SHORT_MEMORY, dma_run

pytestmark = pytest.mark.realdata

DAY_S = 86_400.0
# the report eight days ahead must move the clock here (what is tested is a tick that forgets
# mid-batch), so the clock's quarantine of far-ahead reports is off (test_engine_far_ahead.py tests it)
NO_QUARANTINE = {"future_tolerance_s": 1e9}


def _canonical(events: Sequence[Event]) -> list[str]:
    return [json.dumps(e.canonical(), sort_keys=True) for e in events]


def _cuts(rng: random.Random, n: int, largest: int) -> list[int]:
    out: list[int] = []
    while sum(out) < n:
        out.append(min(rng.randint(1, largest), n - sum(out)))
    return out


class _Real:
    def __init__(self, shared_data: Path) -> None:
        self.settings, self.reports = dma_run(shared_data, {**SHORT_MEMORY, **NO_QUARANTINE})
        self.zones = load_catalogue(self.settings.zones)
        self.borders = [line for _name, line in load_borders()]
        self._whole: dict[bool, tuple[list[str], dict[str, int]]] = {}

    def with_time_jump(self) -> list[TrackUpdate]:
        """The reports with one, in the middle, eight days ahead of its time."""
        k = len(self.reports) // 2
        late = dataclasses.replace(self.reports[k], t_s=self.reports[k].t_s + 8 * DAY_S)
        return [*self.reports[:k], late, *self.reports[k + 1:]]

    def run(self, reports: Sequence[TrackUpdate], cuts: Sequence[int]) -> tuple[list[str], dict[str, int]]:
        engine = Engine(self.settings.proximity, self.zones, borders=self.borders, rules=build_rules(self.settings),
                        wall_clock=lambda: 0.0)
        events: list[Event] = []
        i = 0
        for c in cuts:
            events += engine.process(reports[i:i + c])
            i += c
        assert i == len(reports)
        events += engine.finish()
        return _canonical(events), engine.stats

    def whole(self, jump: bool) -> tuple[list[str], dict[str, int]]:
        if jump not in self._whole:
            reports = self.with_time_jump() if jump else self.reports
            self._whole[jump] = self.run(reports, [len(reports)])
        return self._whole[jump]


@pytest.fixture(scope="module")
def real(shared_data: Path) -> _Real:
    return _Real(shared_data)


def test_the_real_recording_forgets_tracks_and_meets_them_again(real: _Real) -> None:
    """What the cut runs below are compared on: tracks forgotten mid-recording, every kind of its events."""
    events, stats = real.whole(False)
    kinds = {json.loads(e)["kind"] for e in events}
    assert len(real.reports) > 20_000 and stats["forgotten_tracks"] > 100 and stats["stale_expired"] > 300
    assert {"zone_entry", "close_approach", "predicted_close_approach"} <= kinds
    events_jump, stats_jump = real.whole(True)
    # the report eight days ahead: one tick forgets every track of the first half at once
    assert stats_jump["forgotten_tracks"] > stats["forgotten_tracks"] + 500
    assert events_jump != events


@settings(max_examples=4, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), largest=st.sampled_from([3, 40, 700, 5_000]), jump=st.booleans())
def test_random_cuts_of_a_real_recording_give_the_same_events(real: _Real, seed: int, largest: int, jump: bool) -> None:
    reports = real.with_time_jump() if jump else real.reports
    events, stats = real.run(reports, _cuts(random.Random(seed), len(reports), largest))
    whole_events, whole_stats = real.whole(jump)
    assert events == whole_events
    assert stats == whole_stats


@pytest.mark.slow
def test_a_real_recording_report_by_report_gives_the_same_events(real: _Real) -> None:
    reports = real.with_time_jump()
    assert real.run(reports, [1] * len(reports)) == real.whole(True)


class _CuttingEngine(Engine):
    """An engine that cuts every batch it is given again, at random."""

    def __init__(self, *args: Any, seed: int, largest: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rng = random.Random(seed)
        self._largest = largest

    def process(self, updates: Sequence[TrackUpdate]) -> list[Event]:
        if not updates:
            return super().process(updates)
        out: list[Event] = []
        i = 0
        for c in _cuts(self._rng, len(updates), self._largest):
            out += super().process(updates[i:i + c])
            i += c
        return out


def _seen(sink: RecorderSink) -> list[str]:
    """The events a sink took, as their Kafka values without the wall clock of detection."""
    out = []
    for feature in sink.events:
        props = {k: v for k, v in feature["properties"].items() if k not in ("detected_s", "detected_at")}
        out.append(json.dumps({**feature, "properties": props}, sort_keys=True))
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, list[str]]:
    from closewatch.scenario.baltic import write_scenario

    paths = write_scenario(tmp_path_factory.mktemp("demo"))
    loaded = load_settings(paths["config"])
    demo_settings = loaded.model_copy(update={"rules": loaded.rules.model_copy(update={"profile": "all-traffic"})})
    sink = RecorderSink()
    Pipeline(demo_settings, [sink]).run()
    return demo_settings, _seen(sink)


@settings(max_examples=4, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), largest=st.sampled_from([1, 5, 60]))
def test_random_cuts_of_the_demo_in_the_pipeline_give_the_same_events(
    demo: tuple[Settings, list[str]], seed: int, largest: int
) -> None:
    demo_settings, whole = demo
    assert {json.loads(e)["properties"]["kind"] for e in whole} >= {"close_approach", "zone_entry", "exercise_near_border"}
    engine = _CuttingEngine(demo_settings.proximity, load_catalogue(demo_settings.zones),
                            borders=[line for _name, line in load_borders()], rules=build_rules(demo_settings),
                            seed=seed, largest=largest)
    sink = RecorderSink()
    Pipeline(demo_settings, [sink], engine=engine).run()
    assert _seen(sink) == whole
