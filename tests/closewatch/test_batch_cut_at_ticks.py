"""The pipeline cuts a batch right after the first report past the engine's next pair tick or
prediction slice, so that the tick runs, and its events go out, without waiting for the batch
clock (``max_batch_delay_s``); the events do not change (the engine is cut-independent:
tests/proximity/test_engine_cuts_real.py)."""

from __future__ import annotations

import math
import threading
from typing import Iterator, Sequence

from closewatch.pipeline import Item, Pipeline
from closewatch.sinks import RecorderSink
from config.records import TrackUpdate
from config.settings import PipelineSettings, Settings
from proximity.events import Event

T0 = 1_773_140_000.0  # a whole multiple of 5 s: pair ticks at T0 + 5k, slices at T0 + k + 0.5
STEP_S = 0.2


def _reports(seconds: float) -> list[TrackUpdate]:
    """A NATO and a Russian warship closing head-on in the Gulf of Finland, a report each every 0.2 s."""
    out = []
    for i in range(int(seconds / STEP_S)):
        t = T0 + 0.1 + i * STEP_S
        for side, lon, course in (("nato", 25.00 + i * 2e-5, 90.0), ("russia", 25.05 - i * 2e-5, 270.0)):
            out.append(TrackUpdate(
                track_id=f"ais:{'27' if side == 'russia' else '23'}0000001", source="test", t_s=t, lat_deg=59.9,
                lon_deg=lon, domain="sea", side=side, speed_mps=6.0, course_deg=course, category="military",
                raw_ref=f"test:{len(out) + 1}"))
    return out


class _Given(Pipeline):
    """The pipeline over a list of reports handed over at once (a backlog: one batch without cuts)."""

    given: list[TrackUpdate]

    def _items(self, stop: threading.Event) -> Iterator[tuple[str, Item] | None]:
        for u in self.given:
            yield "test", u


class _Batches(RecorderSink):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[TrackUpdate]] = []
        self.kept: list[Event] = []

    def publish_tracks(self, updates: Sequence[TrackUpdate]) -> None:
        self.batches.append(list(updates))

    def publish_events(self, events: Sequence[Event]) -> None:
        self.kept.extend(events)


def _run(batch_size: int, reports: list[TrackUpdate]) -> _Batches:
    sink = _Batches()
    settings = Settings(pipeline=PipelineSettings(batch_size=batch_size, max_batch_delay_s=3600.0))
    pipeline = _Given(settings, [sink])
    pipeline.given = reports
    pipeline.run()
    return sink


def test_a_batch_ends_with_the_first_report_past_each_tick_and_slice() -> None:
    reports = _reports(12.0)
    sink = _run(4096, reports)
    settings = Settings().proximity
    slice_s = settings.predict_interval_s / settings.predict_slices
    assert settings.pair_interval_s == 5.0 and slice_s == 1.0
    # the first batch (before the engine has a clock) runs to the batch size or the end: here the
    # first report alone is taken with the clock set, then every batch ends at a boundary
    ends = [b[-1].t_s - T0 for b in sink.batches]
    boundaries = sorted({*(k + 0.5 for k in range(12)), 5.0, 10.0})
    crossing = [min(u.t_s - T0 for u in reports if u.t_s - T0 > b) for b in boundaries if b < 12.0 - STEP_S]
    # each boundary's first report closes a batch (two reports share a time: the first of them)
    assert [e for e in ends if any(math.isclose(e, c) for c in crossing)] == sorted(set(crossing))
    assert sum(len(b) for b in sink.batches) == len(reports)


def test_cut_or_not_the_events_are_the_same() -> None:
    reports = _reports(40.0)
    cut = _run(4096, reports)
    one_each = _run(1, reports)
    assert cut.kept, "the two warships must raise something"
    canon = [e.canonical() for e in cut.kept]
    assert canon == [e.canonical() for e in one_each.kept]
