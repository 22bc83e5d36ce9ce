"""The on-disk spool: order, durability across reopen, torn tails, corruption, the bound."""

from __future__ import annotations

import logging

import pytest

from alerts import SpoolFullError
from alerts.errors import AlertsError
from alerts.spool import Spool, SpoolCorruptError, Record


def rec(i: int, size: int = 10) -> Record:
    return Record("closewatch.events.v1", f"k{i}".encode(), bytes([i % 256]) * size,
                         (("ce_id", f"e:{i}".encode()), ("content-type", b"application/geo+json")))


def test_append_peek_ack_in_order(tmp_path):
    with Spool(tmp_path, max_bytes=1 << 20) as sp:
        assert sp.append([rec(i) for i in range(5)]) == 4
        assert sp.append([rec(5)]) == 5
        got = sp.peek(4)
        assert [i for i, _ in got] == [0, 1, 2, 3]
        assert [r for _, r in got] == [rec(i) for i in range(4)]
        sp.ack(2)
        assert sp.pending_count == 3
        assert [i for i, _ in sp.peek(10)] == [3, 4, 5]


def test_survives_reopen_and_indices_keep_rising(tmp_path):
    with Spool(tmp_path, max_bytes=1 << 20, segment_bytes=200) as sp:
        sp.append([rec(i, 50) for i in range(10)])
        sp.ack(3)
    with Spool(tmp_path, max_bytes=1 << 20, segment_bytes=200) as sp:
        assert sp.pending_count == 6
        assert [r for _, r in sp.peek(100)] == [rec(i, 50) for i in range(4, 10)]
        sp.ack(9)
        assert sp.pending_count == 0
        assert sp.append([rec(10)]) == 10
    with Spool(tmp_path, max_bytes=1 << 20, segment_bytes=200) as sp:
        assert [i for i, _ in sp.peek(100)] == [10]


def test_delivered_segments_are_deleted(tmp_path):
    with Spool(tmp_path, max_bytes=1 << 20, segment_bytes=200) as sp:
        for i in range(20):
            sp.append([rec(i, 80)])
        segments = sorted(tmp_path.glob("seg-*.log"))
        assert len(segments) > 3
        sp.ack(17)
        assert len(sorted(tmp_path.glob("seg-*.log"))) < len(segments)
        assert [i for i, _ in sp.peek(100)] == [18, 19]


def test_torn_tail_is_cut_on_open(tmp_path, caplog):
    with Spool(tmp_path, max_bytes=1 << 20) as sp:
        sp.append([rec(i) for i in range(3)])
    (seg,) = tmp_path.glob("seg-*.log")
    with open(seg, "ab") as f:
        f.write(b"CW\x00\x00\x01\x00")  # a crash in the middle of the next frame header
    with caplog.at_level(logging.WARNING, logger="alerts.spool"):
        with Spool(tmp_path, max_bytes=1 << 20) as sp:
            assert [r for _, r in sp.peek(10)] == [rec(i) for i in range(3)]
            sp.append([rec(3)])
            assert [i for i, _ in sp.peek(10)] == [0, 1, 2, 3]
    assert "torn frame" in caplog.text


def test_corruption_before_the_tail_is_an_error(tmp_path):
    with Spool(tmp_path, max_bytes=1 << 20, segment_bytes=100) as sp:
        sp.append([rec(i, 60) for i in range(2)])
        sp.append([rec(2, 60)])  # a second segment
    first = sorted(tmp_path.glob("seg-*.log"))[0]
    data = bytearray(first.read_bytes())
    data[20] ^= 0xFF
    first.write_bytes(bytes(data))
    with pytest.raises(SpoolCorruptError, match="CRC mismatch"):
        Spool(tmp_path, max_bytes=1 << 20, segment_bytes=100)


def test_full_spool_is_loud(tmp_path, caplog):
    with Spool(tmp_path, max_bytes=450) as sp:
        sp.append([rec(0, 100)])
        with caplog.at_level(logging.ERROR, logger="alerts.spool"):
            with pytest.raises(SpoolFullError, match="is full"):
                sp.append([rec(1, 100), rec(2, 100)])
        assert "is full" in caplog.text
        assert sp.pending_count == 1  # nothing half-written
        sp.ack(0)
        sp.append([rec(1, 100), rec(2, 100)])  # room again once delivered
        assert sp.pending_count == 2


def test_one_process_per_spool(tmp_path):
    with Spool(tmp_path, max_bytes=1000):
        with pytest.raises(AlertsError, match="in use"):
            Spool(tmp_path, max_bytes=1000)
