"""The benchmark's synthetic traffic (bench/bench_engine.py) for tests, with military traffic in it."""

from __future__ import annotations

import pytest

from config.records import TrackUpdate


def military_world(n_tracks: int, data_s: float, military_share: float = 0.1) -> list[TrackUpdate]:
    """Reports of ``n_tracks`` tracks over ``data_s`` seconds, ``military_share`` of them military
    aircraft and ships (bombers with escorts, shadowing, intercepts)."""
    import bench.bench_engine as be

    mp = pytest.MonkeyPatch()
    mp.setattr(be, "MILITARY_SHARE", military_share)
    try:
        return be.reports(be.make_traffic(n_tracks), 0.0, data_s)
    finally:
        mp.undo()
