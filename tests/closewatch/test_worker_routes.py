"""What an ingest worker sends to the cells topic for a batch (closewatch.worker.cell_routes)."""

from __future__ import annotations

import json

import numpy as np

from bench_worlds import military_world
from closewatch.cells import CellGrid, route_reports
from closewatch.worker import HALO, INTEREST, OWN, cell_routes
from config.settings import ScaleSettings, Settings


def test_each_report_goes_once_to_each_partition_in_order_own_first() -> None:
    settings = Settings(scale=ScaleSettings(partitions=4, cell_deg=1.0))
    ups = military_world(300, 30.0)
    routes = route_reports(ups, CellGrid(1.0), settings.proximity, 4, one_way=True, history_s=120.0)
    # one track wanted by every partition: its reports go everywhere, by interest where not already sent
    wanted_track = next(u.track_id for u in ups if u.side != "russia")  # a short halo
    idx, part, why = cell_routes(ups, settings, {wanted_track: (0, 1, 2, 3)})

    assert np.all(np.diff(idx) >= 0), "in the reports' order"
    pairs = idx * 4 + part
    assert len(np.unique(pairs)) == len(pairs), "each partition once per report"
    own = idx[why == OWN]
    assert np.array_equal(own, np.arange(len(ups))) and np.array_equal(part[why == OWN], routes.own)
    halo = set(zip(routes.copy_index.tolist(), routes.copy_partition.tolist()))
    assert set(zip(idx[why == HALO].tolist(), part[why == HALO].tolist())) == halo
    interest = list(zip(idx[why == INTEREST].tolist(), part[why == INTEREST].tolist()))
    assert interest, "some of the wanted track's reports had a partition to reach by interest only"
    assert all(ups[i].track_id == wanted_track and (i, p) not in halo and p != routes.own[i] for i, p in interest)
    wanted_reports = [i for i, u in enumerate(ups) if u.track_id == wanted_track]
    assert all(set(part[idx == i].tolist()) == {0, 1, 2, 3} for i in wanted_reports)


def test_without_interest_the_routes_are_the_halo_routes() -> None:
    settings = Settings(scale=ScaleSettings(partitions=3, cell_deg=2.0, history_s=0.0))
    ups = military_world(200, 20.0)
    routes = route_reports(ups, CellGrid(2.0), settings.proximity, 3, one_way=True)
    idx, part, why = cell_routes(ups, settings, {})
    assert not np.any(why == INTEREST)
    assert len(idx) == len(ups) + len(routes.copy_index)


def test_a_state_larger_than_a_record_goes_in_pieces_then_a_record_naming_them():
    from closewatch.worker import PIECE_HEADER, state_records

    assert state_records(4, b"x" * 100, 100) == [(b"4", b"x" * 100, [])]
    value = bytes(range(256)) * 10  # 2,560 bytes in pieces of 1,000
    records = state_records(4, value, 1_000)
    assert [key for key, _, _ in records] == [b"4#0", b"4#1", b"4#2", b"4"]
    assert b"".join(v for _, v, _ in records[:-1]) == value and all(len(v) <= 1_000 for _, v, _ in records)
    headers = [dict(h)[PIECE_HEADER].decode() for _, _, h in records]
    save = headers[-1].split(" of ")[0]
    assert headers == [f"{save} 0 3", f"{save} 1 3", f"{save} 2 3", f"{save} of 3"]
    assert json.loads(records[-1][1]) == {"save": save, "pieces": 3, "bytes": 2_560}
    assert state_records(4, value, 1_000)[-1][2] != records[-1][2], "each save its own name"
