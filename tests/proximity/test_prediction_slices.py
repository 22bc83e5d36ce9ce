"""Predictions spread over slices of ``predict_interval_s`` (docs/engine.md, "Time"), and the
candidate screen they rely on (``proximity._predict.approach_candidates``)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from config.settings import ProximitySettings
from proximity._integrity import EARTH_RADIUS_M
from proximity._predict import (
    LOWER_BOUND_PIECES,
    SLOW_MPS,
    approach_candidates,
    piecewise_lower_m,
    sphere_motion,
    sphere_position,
)
from proximity.engine import Engine

T0 = 1_700_000_000.0  # a whole second: with 1-s slices, the slices fall at T0 + n + 0.5
PAIRS = 12


def _nato_id(k: int) -> str:
    return f"ais:21900{k:04d}"


def _pairs_at(upd, at, t_rel: float) -> list:
    """PAIRS pairs of ships 16 km apart at T0, heading for each other at 10 m/s to pass 300 m
    apart in 800 s (within the 900-s horizon), each pair half a degree of latitude from the next."""
    out = []
    for k in range(PAIRS):
        lat = 56.0 + 0.5 * k
        # the NATO ship goes east from 8 km west, the Russian west from 8 km east, 300 m north
        west = at(20.0, lat, 270.0, 8_000.0 - 10.0 * t_rel)
        east = at(*at(20.0, lat, 0.0, 300.0), 90.0, 8_000.0 - 10.0 * t_rel)
        out.append(upd(_nato_id(k), T0 + t_rel, *west, speed_mps=10.0, course_deg=90.0, side="nato"))
        out.append(upd(f"ais:27300{k:04d}", T0 + t_rel, *east, speed_mps=10.0, course_deg=270.0, side="russia"))
    return out


def _record_due(eng: Engine) -> list[tuple[float, set[str]]]:
    """Wrap the first family's ``on_predict`` to record each prediction run: (time, ids due)."""
    runs: list[tuple[float, set[str]]] = []
    fam = eng._families[0]
    inner = fam.on_predict

    def on_predict(t_s, due):
        ids = eng._tracks.ids
        runs.append((t_s, {ids[s] for s in np.flatnonzero(due) if ids[s] is not None}))
        return inner(t_s, due)

    fam.on_predict = on_predict  # type: ignore[method-assign]
    return runs


def test_a_pair_is_first_predicted_at_the_slice_of_its_nato_track(upd, at):
    eng = Engine(ProximitySettings(predict_interval_s=30.0, predict_slices=30), [])
    events = []
    for t in range(0, 61):
        events += eng.process(_pairs_at(upd, at, float(t)))
    opened = {e.subjects[0].track_id: e.t_s for e in events
              if e.kind == "predicted_close_approach" and e.state == "open"}
    assert len(opened) == PAIRS
    for k in range(PAIRS):
        phase = zlib.crc32(_nato_id(k).encode()) % 30
        # the first slice from T0 on whose number is the track's phase, at its middle
        first = T0 + (phase - int(T0) % 30) % 30 + 0.5
        assert opened[_nato_id(k)] == first, k
    # the tracks fall into more than a few slices: the work is spread
    assert len(set(opened.values())) >= 8


def test_every_track_is_predicted_once_per_interval(upd, at):
    eng = Engine(ProximitySettings(predict_interval_s=30.0, predict_slices=30), [])
    runs = _record_due(eng)
    for t in range(0, 61):
        eng.process(_pairs_at(upd, at, float(t)))
    # the slices T0 + 0.5 ... T0 + 59.5 (the report at T0 + 60 runs the last): two whole intervals
    assert [t for t, _ in runs] == [T0 + n + 0.5 for n in range(60)]
    ids = sorted({i for _, due in runs for i in due})
    assert len(ids) == 2 * PAIRS
    for tid in ids:
        times = [t for t, due in runs if tid in due]
        assert len(times) == 2 and times[1] - times[0] == 30.0, tid
        assert int(times[0] - 0.5) % 30 == zlib.crc32(tid.encode()) % 30


def test_a_jump_in_data_time_predicts_the_slices_passed_at_the_last(upd, at):
    eng = Engine(ProximitySettings(predict_interval_s=30.0, predict_slices=30), [])
    runs = _record_due(eng)
    eng.process(_pairs_at(upd, at, 0.0))
    eng.process(_pairs_at(upd, at, 5.0))  # passes the slices T0 + 0.5 ... T0 + 4.5: one run at the last
    assert [t for t, _ in runs] == [T0 + 4.5]
    phases = {(int(T0) + n) % 30 for n in range(5)}
    assert runs[0][1] == {i for i in runs[0][1] if zlib.crc32(i.encode()) % 30 in phases}
    everyone = {u.track_id for u in _pairs_at(upd, at, 0.0)}
    assert {i for i in everyone if zlib.crc32(i.encode()) % 30 in phases} == runs[0][1]
    eng.process(_pairs_at(upd, at, 200.0))  # a whole interval passed: every track at once
    assert runs[-1] == (T0 + 199.5, everyone)
    assert len(runs) == 2


def test_one_slice_predicts_every_track_at_the_middle_of_the_interval(upd, at):
    eng = Engine(ProximitySettings(predict_interval_s=30.0, predict_slices=1), [])
    runs = _record_due(eng)
    for t in range(0, 61):
        eng.process(_pairs_at(upd, at, float(t)))
    mids = [(k + 0.5) * 30.0 for k in range(int(T0 // 30), int((T0 + 60) // 30) + 1)]
    assert [t for t, _ in runs] == [m for m in mids if T0 < m < T0 + 60]
    assert all(len(due) == 2 * PAIRS for _, due in runs)


@pytest.mark.parametrize("step_s", [60.0, 500.0, 2000.0])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_approach_screen_misses_no_pair_that_comes_within_the_radius(seed, step_s):
    """Against the closest approach of every pair sampled each second on the sphere, slow and
    fast tracks on both sides, with many steps, two (the default) and one."""
    rng = np.random.default_rng(seed)
    horizon_s, radius_m = 900.0, 15_000.0

    def tracks(n, fast_share):
        lon, lat = rng.uniform(20.0, 23.0, n), rng.uniform(56.0, 58.0, n)
        fast = rng.random(n) < fast_share
        speed = np.where(fast, rng.uniform(120.0, 250.0, n), rng.uniform(0.0, SLOW_MPS, n))
        p, u = sphere_motion(lon, lat, rng.uniform(0.0, 360.0, n))
        return p, u, speed

    pa, ua, va = tracks(40, 0.5)
    assert (va <= SLOW_MPS).any() and (va > SLOW_MPS).any()
    pb, ub, vb = tracks(300, 0.3)
    ia, ib, lower = approach_candidates(pa, ua, va, pb, ub, vb, horizon_s=horizon_s, step_s=step_s,
                                        radius_m=radius_m)
    found = dict(zip(zip(ia.tolist(), ib.tolist()), lower.tolist()))
    closest = np.full((40, 300), np.inf)
    for tau in np.arange(0.0, horizon_s + 1.0, 1.0):
        qa, qb = sphere_position(pa, ua, va * tau), sphere_position(pb, ub, vb * tau)
        arc = 2.0 * EARTH_RADIUS_M * np.arcsin(np.clip(np.linalg.norm(qa[:, None] - qb[None], axis=2) / 2, 0, 1))
        closest = np.minimum(closest, arc)
    close = np.argwhere(closest <= radius_m)
    assert len(close) >= 20  # the test means something: both kinds of b among them
    assert len({int(j) for _, j in close if vb[j] <= SLOW_MPS}) >= 5
    assert len({int(j) for _, j in close if vb[j] > SLOW_MPS}) >= 5
    for i, j in close.tolist():
        assert (i, j) in found, (i, j, closest[i, j])
        assert found[(i, j)] <= closest[i, j] + 1.0


@pytest.mark.parametrize("seed", [1, 2])
def test_the_piecewise_bound_is_below_the_closest_approach_and_near_it(seed):
    """``piecewise_lower_m`` against the closest approach sampled every second on the sphere:
    never above it, and never below it by more than twice the pieces' curvature slack (plus
    what sampling misses), where the whole horizon's bound is kilometres below."""
    rng = np.random.default_rng(seed)
    horizon_s, n = 990.0, 400
    lon_a, lat_a = rng.uniform(20.0, 23.0, n), rng.uniform(56.0, 58.0, n)
    lon_b, lat_b = lon_a + rng.uniform(-1.5, 1.5, n), lat_a + rng.uniform(-1.0, 1.0, n)
    va, vb = rng.uniform(0.0, 300.0, n), rng.uniform(0.0, 300.0, n)
    pa, ua = sphere_motion(lon_a, lat_a, rng.uniform(0.0, 360.0, n))
    pb, ub = sphere_motion(lon_b, lat_b, rng.uniform(0.0, 360.0, n))
    closest = np.full(n, np.inf)
    for tau in np.arange(0.0, horizon_s + 1.0, 1.0):
        qa, qb = sphere_position(pa, ua, va * tau), sphere_position(pb, ub, vb * tau)
        closest = np.minimum(closest, 2.0 * EARTH_RADIUS_M * np.arcsin(np.linalg.norm(qa - qb, axis=1) / 2))
    lower = piecewise_lower_m(pa, ua, va, pb, ub, vb, horizon_s)
    assert (lower <= closest + 1e-3).all()
    piece_slack = 2 * (300.0 * horizon_s / LOWER_BOUND_PIECES) ** 2 / (2 * EARTH_RADIUS_M)  # ~230 m
    assert (closest - lower <= 2 * piece_slack + 150.0).all()
    whole_slack = 2 * (300.0 * horizon_s) ** 2 / (2 * EARTH_RADIUS_M)
    assert whole_slack > 10 * piece_slack  # what the pieces are for
