"""A lone report far ahead of the data clock is held, not followed (proximity/_clock.py).

One mangled but plausible time (eight days on) used to move the engine's clock on its
own: the tick it caused closed every incident ``stale`` and forgot every track. Now it
is held until other tracks confirm the new time or the clock catches up, and set aside
(a dead letter, ``time far ahead``) when neither happens. Tested on the real DMA AIS
recording (the mangled report; the whole recording moved a day ahead half-way) and on
small synthetic cases (a lone aircraft after a gap, the catch-up, the bound, a restore).
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Sequence

import pytest

from closewatch.engine_guard import EngineGuard
from closewatch.rules import build_rules
from config.records import TrackUpdate
from config.settings import ProximitySettings
from config.zones import load_borders, load_catalogue
from proximity.engine import Engine
from proximity.events import Event

from .conftest import T0, make_update
from .dma_recording import SHORT_MEMORY, dma_run

DAY_S = 86_400.0


def _canonical(events: Sequence[Event]) -> list[str]:
    return [json.dumps(e.canonical(), sort_keys=True) for e in events]


class _Real:
    def __init__(self, shared_data: Path) -> None:
        self.settings, self.reports = dma_run(shared_data, SHORT_MEMORY)
        self.zones = load_catalogue(self.settings.zones)
        self.borders = [line for _name, line in load_borders()]
        self.k = len(self.reports) // 2

    def engine(self, **proximity: float) -> Engine:
        settings = self.settings.proximity.model_copy(update=proximity)
        return Engine(settings, self.zones, borders=self.borders, rules=build_rules(self.settings),
                      wall_clock=lambda: 0.0)

    def run(self, reports: Sequence[TrackUpdate], cuts: Sequence[int] | None = None,
            **proximity: float) -> tuple[list[str], dict[str, int]]:
        engine = self.engine(**proximity)
        events: list[Event] = []
        i = 0
        for c in cuts or [len(reports)]:
            events += engine.process(reports[i:i + c])
            i += c
        events += engine.finish()
        return _canonical(events), engine.stats

    def mangled(self) -> list[TrackUpdate]:
        """The report in the middle eight days ahead of its time."""
        late = dataclasses.replace(self.reports[self.k], t_s=self.reports[self.k].t_s + 8 * DAY_S)
        return [*self.reports[:self.k], late, *self.reports[self.k + 1:]]

    def without_it(self) -> list[TrackUpdate]:
        return [*self.reports[:self.k], *self.reports[self.k + 1:]]

    def next_day(self) -> list[TrackUpdate]:
        """The recording's second half a day later (two recordings one after the other)."""
        return [*self.reports[:self.k], *(dataclasses.replace(u, t_s=u.t_s + DAY_S) for u in self.reports[self.k:])]


@pytest.fixture(scope="module")
def real(shared_data: Path) -> _Real:
    return _Real(shared_data)


def _cuts(seed: int, n: int, largest: int) -> list[int]:
    rng = random.Random(seed)
    out: list[int] = []
    while sum(out) < n:
        out.append(min(rng.randint(1, largest), n - sum(out)))
    return out


@pytest.mark.realdata
def test_a_mangled_time_changes_nothing_but_its_own_report(real: _Real) -> None:
    """The events are those of the recording without the report; it ends set aside, whatever the cuts."""
    clean, clean_stats = real.run(real.without_it())
    events, stats = real.run(real.mangled())
    assert events == clean
    assert stats["far_ahead_set_aside"] == 1 and stats["far_ahead_held"] == 0 and stats["far_ahead_released"] == 0
    assert stats["forgotten_tracks"] == clean_stats["forgotten_tracks"]
    # without the quarantine the same input forgets every track of the first half at once
    _, followed = real.run(real.mangled(), future_tolerance_s=1e9)
    assert followed["forgotten_tracks"] > clean_stats["forgotten_tracks"] + 500
    for seed, largest in ((1, 3), (2, 40), (3, 700), (4, 5_000)):
        assert real.run(real.mangled(), _cuts(seed, len(real.reports), largest)) == (events, stats)


@pytest.mark.realdata
def test_a_recording_that_moves_a_day_ahead_is_followed(real: _Real) -> None:
    """Many tracks confirm the new time: the clock moves after the first few, the events are
    those of an engine without the quarantine (the held reports are taken in their order)."""
    reports = real.next_day()
    events, stats = real.run(reports)
    assert stats["far_ahead_released"] >= 1 and stats["far_ahead_set_aside"] == 0 and stats["far_ahead_held"] == 0
    followed, followed_stats = real.run(reports, future_tolerance_s=1e9)
    assert events == followed
    assert {k: v for k, v in stats.items() if not k.startswith("far_ahead")} == \
        {k: v for k, v in followed_stats.items() if not k.startswith("far_ahead")}
    kinds_after = {json.loads(e)["kind"] for e in events if json.loads(e)["t_s"] > real.reports[real.k].t_s + DAY_S}
    assert "close_approach" in kinds_after  # the checks go on after the jump
    assert real.run(reports, _cuts(5, len(reports), 300)) == (events, stats)


@pytest.mark.realdata
def test_a_restore_while_a_report_is_held_goes_on_the_same(real: _Real) -> None:
    reports = real.mangled()
    whole = real.run(reports)
    engine = real.engine()
    cut = real.k + 50
    events = engine.process(reports[:cut])
    assert engine.stats["far_ahead_held"] == 1
    again = Engine.from_state(engine.settings, engine.state(), borders=real.borders,
                              rules=build_rules(real.settings), wall_clock=lambda: 0.0)
    assert again.stats == engine.stats
    events += again.process(reports[cut:])
    events += again.finish()
    assert (_canonical(events), again.stats) == whole


def _aircraft(track_id: str, t_s: float, lon: float = 24.0) -> TrackUpdate:
    return make_update(track_id, t_s, lon, 59.5, domain="air", side="nato", speed_mps=200.0, course_deg=90.0,
                       alt_m=9_000.0)


def test_a_lone_track_after_a_gap_confirms_its_own_time() -> None:
    """With one live track there is no other to wait for: a gap in its trace is simply followed."""
    engine = Engine(ProximitySettings(), [], wall_clock=lambda: 0.0)
    engine.process([_aircraft("icao:ae0001", T0 + 10.0 * k) for k in range(10)])
    engine.process([_aircraft("icao:ae0001", T0 + 7_200.0 + 10.0 * k) for k in range(10)])
    stats = engine.stats
    assert stats["updates"] == 20 and stats["far_ahead_held"] == 0 and stats["far_ahead_set_aside"] == 0


def test_a_held_report_is_taken_when_the_clock_catches_up() -> None:
    tracks = [f"icao:ae00{i:02x}" for i in range(5)]
    engine = Engine(ProximitySettings(), [], wall_clock=lambda: 0.0)
    engine.process([_aircraft(t, T0) for t in tracks])
    ahead = _aircraft(tracks[0], T0 + 700.0)  # 700 s ahead, the tolerance is 600 s
    engine.process([ahead])
    assert engine.stats["far_ahead_held"] == 1 and engine.stats["updates"] == 5
    for k in range(1, 12):  # the others report every 10 s, up to T0 + 110
        engine.process([_aircraft(t, T0 + 10.0 * k) for t in tracks[1:]])
    assert engine.stats["far_ahead_held"] == 0 and engine.stats["far_ahead_released"] == 1
    assert engine.stats["updates"] == 5 + 1 + 11 * 4
    assert engine.take_set_aside() == []


def test_held_reports_are_bounded_and_set_aside_as_dead_letters() -> None:
    settings = ProximitySettings(future_held_max=2)
    tracks = [f"icao:ae00{i:02x}" for i in range(5)]
    guard = EngineGuard(Engine(settings, [], wall_clock=lambda: 0.0))
    events, letters = guard.process([_aircraft(t, T0) for t in tracks])
    assert letters == []
    # one track, three times far apart: it never confirms itself while others are live
    lone = [_aircraft(tracks[0], T0 + d * DAY_S) for d in (3, 5, 8)]
    events, letters = guard.process(lone)
    assert [(x.reason, x.stage) for x in letters] == [("time far ahead", "engine")]
    assert tracks[0] in (letters[0].detail or "")
    assert guard.engine.stats["far_ahead_held"] == 2
    guard.finish()
    letters = guard.far_ahead_letters()
    assert len(letters) == 2 and guard.engine.stats["far_ahead_set_aside"] == 3
    assert guard.engine.stats["updates"] == 5
