"""A split engine (closewatch.partition) raises exactly one engine's revisions, also for incidents whose
tracks leave their partition's cells while they are open."""

from __future__ import annotations

import pytest

from bench_worlds import military_world
from closewatch.cells import CellGrid, route_reports
from closewatch.checkpoint import state_bytes, state_from_bytes
from closewatch.partition import PartitionJudge, anchor_of
from closewatch.replay import canonical_lines
from config.settings import ProximitySettings
from closewatch.rules import load_profile
from proximity.engine import Engine
from proximity.events import Event
from proximity.rules import Rules
from proximity.state import EngineState


@pytest.fixture(scope="module")
def world(request):  # type: ignore[no-untyped-def]
    """The benchmark's traffic with military aircraft and ships (bombers, shadowing, intercepts) over the
    full border catalogue, 240 s, the default 900-s prediction horizon; and one engine's revisions."""
    import bench.bench_engine as be

    ups = military_world(3_000, 240.0)
    settings = ProximitySettings()
    zones, borders, _ = be.catalogue()
    engine = Engine(settings, zones, borders=borders)
    whole = [e for i in range(0, len(ups), be.BATCH) for e in engine.process(ups[i:i + be.BATCH])]
    return settings, zones, borders, ups, whole


def _through_bytes(judge: PartitionJudge, settings, zones, borders, grid) -> PartitionJudge:  # type: ignore[no-untyped-def]
    """The judge as an engine worker restores it from the state topic: exported, written as a
    checkpoint's bytes, read back, and rebuilt."""
    judge_doc, state = judge.state()
    doc, arrays = state_from_bytes(state_bytes({"judge": judge_doc, "engine": state.doc}, state.arrays), "test")
    engine = Engine.from_state(settings, EngineState(doc["engine"], arrays), borders=borders)
    return PartitionJudge.from_state(doc["judge"], engine, grid)


def _split(world, interest: bool, n: int = 3, cell_deg: float = 1.0,  # type: ignore[no-untyped-def]
           restore_at: int | None = None, rules: Rules | None = None, context: list[Event] | None = None):
    settings, zones, borders, ups, _ = world
    grid = CellGrid(cell_deg)
    routes = route_reports(ups, grid, settings, n, one_way=True)
    judges = [PartitionJudge(p, n, Engine(settings, zones, borders=borders, rules=rules), grid) for p in range(n)]
    copied = [set(routes.of(p).tolist()) for p in range(n)]
    got, by_interest = [], 0
    for a in range(0, len(ups), 2_048):
        if a == restore_at:
            assert any(j.wanted for j in judges), "incidents open at the restore"
            judges = [_through_bytes(j, settings, zones, borders, grid) for j in judges]
        for p, judge in enumerate(judges):
            wanted = judge.wanted if interest else frozenset()
            take = []
            for i in range(a, min(a + 2_048, len(ups))):
                if i in copied[p]:
                    take.append(i)
                elif ups[i].track_id in wanted:
                    take.append(i)
                    by_interest += 1
            got += judge.process([ups[i] for i in take], [int(routes.own[i]) == p for i in take])
            if context is not None:
                context += judge.take_context()
    return got, by_interest, routes


def test_partitions_with_interest_raise_exactly_one_engines_revisions(world) -> None:  # type: ignore[no-untyped-def]
    _, _, _, ups, whole = world
    got, by_interest, routes = _split(world, interest=True)
    assert len(whole) > 500
    assert {e.kind for e in whole} >= {"close_approach", "zone_entry", "predicted_close_approach",
                                       "predicted_zone_entry", "bomber_sortie"}
    assert sorted(canonical_lines(got)) == sorted(canonical_lines(whole))
    # what the test covers: reports sent only because an incident wanted them, and incidents whose
    # anchor reports were own in several partitions while they were open (tracks that crossed cells)
    assert by_interest > 50
    own_of = {(u.track_id, u.t_s): int(o) for u, o in zip(ups, routes.own.tolist())}
    partitions_of: dict[str, set[int]] = {}
    for e in whole:
        anchor = anchor_of(e)
        if anchor is not None:
            partitions_of.setdefault(e.event_id, set()).add(own_of[anchor])  # type: ignore[index]
    assert sum(1 for ps in partitions_of.values() if len(ps) > 1) >= 5


def test_partitions_restored_from_their_state_midway_go_on_as_before(world) -> None:  # type: ignore[no-untyped-def]
    """What a rebalance does to a partition: its judge and engine written as the state topic's
    bytes and rebuilt, halfway through; the revisions stay one engine's."""
    _, _, _, ups, whole = world
    got, _, _ = _split(world, interest=True, restore_at=(len(ups) // 2 // 2_048) * 2_048)
    assert sorted(canonical_lines(got)) == sorted(canonical_lines(whole))


def test_partitions_give_one_engines_context_events(world) -> None:  # type: ignore[no-untyped-def]
    """``closewatch run --explain`` in engine workers: under the military profile, the incidents
    not raised of the explained tracks come out of the partitions as one engine's context
    events (owned and followed like raised incidents), and the raised revisions stay one
    engine's."""
    settings, zones, borders, ups, _ = world
    rules = Rules(profile=load_profile("military"), explain=frozenset(u.track_id for u in ups))
    engine = Engine(settings, zones, borders=borders, rules=rules)
    whole, whole_context = [], []
    for i in range(0, len(ups), 2_048):
        whole += engine.process(ups[i:i + 2_048])
        whole_context += engine.take_context()
    assert len(whole_context) > 100 and whole
    context: list[Event] = []
    got, _, _ = _split(world, interest=True, rules=rules, context=context)
    assert sorted(canonical_lines(context)) == sorted(canonical_lines(whole_context))
    assert sorted(canonical_lines(got)) == sorted(canonical_lines(whole))


def test_without_interest_incidents_that_cross_cells_go_wrong(world) -> None:  # type: ignore[no-untyped-def]
    """The control: the same split without the interest copies loses revisions (why they exist)."""
    _, _, _, _, whole = world
    got, by_interest, _ = _split(world, interest=False)
    assert by_interest == 0
    assert set(canonical_lines(got)) != set(canonical_lines(whole))


def test_a_judge_forgets_the_tracks_its_engine_forgets() -> None:
    from closewatch.cells import CellGrid
    from config.records import TrackUpdate

    settings = ProximitySettings()
    judge = PartitionJudge(0, 2, Engine(settings, []), CellGrid(2.0))
    forget_s = max(settings.forget_after_s, *settings.stale_after_s.values())

    def report(track: str, t_s: float) -> TrackUpdate:
        return TrackUpdate(track_id=track, source="test", t_s=t_s, lat_deg=55.0, lon_deg=20.0, domain="sea",
                           side="nato", speed_mps=5.0, course_deg=90.0)

    judge.process([report("ais:1", 1_700_000_000.0), report("ais:2", 1_700_000_000.0)], [True, False])
    assert judge.remembered == 2
    for k in range(1, 12):  # only ais:2 goes on reporting, past the time the engine forgets ais:1
        judge.process([report("ais:2", 1_700_000_000.0 + k * forget_s / 8)], [False])
    assert judge.remembered == 1
