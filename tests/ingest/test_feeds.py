"""open_feed: file replay, pacing, stats registry, time policy."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import ingest
from config.records import DeadLetter, TrackUpdate
from config.settings import FeedSettings, SidesSettings
from ingest.ais import encode_nmea

T0 = 1_700_000_000.0


def _write(tmp_path: Path, lines: list[bytes], name: str = "feed.nmea") -> Path:
    p = tmp_path / name
    p.write_bytes(b"\r\n".join(lines) + b"\r\n")
    return p


def _ais(tmp_path: Path, n: int = 5, step_s: float = 1.0) -> Path:
    lines: list[bytes] = []
    for i in range(n):
        lines += encode_nmea({"type": 1, "mmsi": 230000000 + i, "lat": 60.0, "lon": 25.0 + i / 100}, T0 + i * step_s)
    return _write(tmp_path, lines)


def test_file_replay_as_fast_as_possible(tmp_path: Path) -> None:
    feed = FeedSettings(name="f1", format="ais-nmea", path=str(_ais(tmp_path)))
    items = list(ingest.open_feed(feed, SidesSettings()))
    assert [type(i) for i in items] == [TrackUpdate] * 5
    assert [i.t_s for i in items] == [T0 + i for i in range(5)]
    st = ingest.stats.get("f1")
    assert st is not None and (st.lines, st.messages, st.updates) == (5, 5, 5)
    snapshot = {s["feed"]: s for s in ingest.stats.snapshot()}
    assert snapshot["f1"] == {
        "feed": "f1", "lines": 5, "messages": 5, "updates": 5, "notices": 0, "duplicates": 0, "dead_letters": {},
        "ignored": {}, "evicted": {},
    }


def test_replay_speed_paces_by_data_time(tmp_path: Path) -> None:
    # 4 s of data at speed 20 take 0.2 s; at speed 0 nearly nothing.
    feed = FeedSettings(name="paced", format="ais-nmea", path=str(_ais(tmp_path)), speed=20)
    t = time.monotonic()
    stamps = []
    for _item in ingest.open_feed(feed, SidesSettings()):
        stamps.append(time.monotonic() - t)
    assert 0.19 <= stamps[-1] < 3.0
    assert stamps[2] >= 0.095  # the third item is due 2 s / 20 after the first


def test_stop_event_ends_a_paced_replay(tmp_path: Path) -> None:
    feed = FeedSettings(name="stopped", format="ais-nmea", path=str(_ais(tmp_path, n=5, step_s=100)), speed=1)
    stop = threading.Event()
    got = []
    t = time.monotonic()
    for item in ingest.open_feed(feed, SidesSettings(), stop=stop):
        got.append(item)
        stop.set()
    assert len(got) == 1 and time.monotonic() - t < 1.0


def test_gzip_file_and_assumed_time(tmp_path: Path) -> None:
    import gzip

    lines = encode_nmea({"type": 1, "mmsi": 230000001, "lat": 60.0, "lon": 25.0}, timestamp="none")
    p = tmp_path / "untimed.nmea.gz"
    p.write_bytes(gzip.compress(b"\n".join(lines)))
    feed = FeedSettings(name="gz", format="ais-nmea", path=str(p))
    (dl,) = ingest.open_feed(feed, SidesSettings())
    assert isinstance(dl, DeadLetter) and dl.text.startswith("no timestamp") and dl.feed == "gz"
    feed = FeedSettings(name="gz", format="ais-nmea", path=str(p), assume_time="2024-05-01T00:00:00Z")
    (u,) = ingest.open_feed(feed, SidesSettings())
    assert u.t_s == 1_714_521_600.0
    feed = FeedSettings(name="gz", format="ais-nmea", path=str(p), assume_time="receive")
    (u,) = ingest.open_feed(feed, SidesSettings())
    assert abs(u.t_s - time.time()) < 60


def test_sbs1_file_feed(tmp_path: Path) -> None:
    line = b"MSG,3,1,1,4B1908,1,2024/05/01,12:00:00.000,2024/05/01,12:00:00.000,,2525,,,46.9,7.4,,,0,0,0,0"
    p = _write(tmp_path, [line, b"MSG,3,broken", line], "sbs.csv")
    items = list(ingest.open_feed(FeedSettings(name="sbs", format="sbs1", path=str(p)), SidesSettings()))
    assert [type(i).__name__ for i in items] == ["TrackUpdate", "DeadLetter", "TrackUpdate"]
    assert items[1].position == 2


def test_missing_file_is_a_transport_error(tmp_path: Path) -> None:
    feed = FeedSettings(name="nofile", format="ais-nmea", path=str(tmp_path / "absent.nmea"))
    with pytest.raises(ingest.TransportError, match="absent.nmea"):
        list(ingest.open_feed(feed, SidesSettings()))
