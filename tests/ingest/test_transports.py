"""Transports against real peers on loopback: a TCP server, a UDP sender, an HTTP server,
a growing file. Every socket is bound to 127.0.0.1 on a free port."""

from __future__ import annotations

import http.server
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

import ingest
from config.records import DeadLetter, FeedHealth, TrackUpdate
from config.settings import FeedSettings, SidesSettings
from ingest.ais import encode_nmea
from ingest.transports import Backoff, tcp_units

T0 = 1_700_000_000.0


def _ais(i: int, t: float | None = None) -> bytes:
    return encode_nmea({"type": 1, "mmsi": 230000000 + i, "lat": 60.0, "lon": 25.0 + i / 100}, t or T0 + i)[0]


def _collect(items: Iterator[Any], n: int, stop: threading.Event, timeout_s: float = 10.0) -> list[Any]:
    """Take n items from a live feed in a thread; stop the feed then."""
    got: list[Any] = []

    def run() -> None:
        for item in items:
            got.append(item)
            if len(got) >= n:
                break
        stop.set()

    th = threading.Thread(target=run, daemon=True)
    th.start()
    th.join(timeout_s)
    stop.set()
    th.join(5)
    assert not th.is_alive(), "the feed did not stop"
    return got


def test_tcp_client_reconnects_and_keeps_every_line() -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    connections = []

    def serve() -> None:
        # first connection: two lines and half a line, then the server drops it
        c, _ = srv.accept()
        connections.append(1)
        c.sendall(_ais(1) + b"\r\n" + _ais(2) + b"\r\n" + _ais(3)[:20])
        c.close()
        # second connection (after the client's backoff): two more lines
        c, _ = srv.accept()
        connections.append(2)
        c.sendall(_ais(4) + b"\n" + _ais(5) + b"\n")
        time.sleep(0.5)
        c.close()

    threading.Thread(target=serve, daemon=True).start()
    stop = threading.Event()
    feed = FeedSettings(name="tcp-ais", format="ais-nmea", transport="tcp", host="127.0.0.1", port=port)
    got = _collect(ingest.open_feed(feed, SidesSettings(), stop=stop), 5, stop)
    srv.close()
    assert connections == [1, 2]
    assert [type(x) for x in got] == [TrackUpdate, TrackUpdate, DeadLetter, TrackUpdate, TrackUpdate]
    assert [x.t_s for x in got if isinstance(x, TrackUpdate)] == [T0 + 1, T0 + 2, T0 + 4, T0 + 5]
    assert got[2].raw == _ais(3)[:20] and got[2].position == 3
    assert got[3].raw_ref == "tcp-ais:4"  # positions keep counting across reconnects


def test_tcp_backoff_grows_while_the_server_is_down() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nobody listens there now
    b = Backoff(initial_s=0.05, max_s=0.2)
    t = time.monotonic()
    assert list(tcp_units("127.0.0.1", port, "lines", backoff=b, max_connects=4)) == []
    assert time.monotonic() - t >= 0.05 + 0.1 + 0.2
    assert b.next_s == 0.2
    b.reset()
    assert b.step() == 0.05


def _free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_udp_listener_datagrams_with_several_sentences() -> None:
    port = _free_udp_port()
    stop = threading.Event()
    feed = FeedSettings(name="udp-ais", format="ais-nmea", transport="udp", port=port)
    items = ingest.open_feed(feed, SidesSettings(), stop=stop)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    got: list[Any] = []

    def send() -> None:
        # repeat until received: the listener may not be bound yet (each repeat 10 s of data
        # time later, or the decoder would merge the copies as one message heard twice)
        k = 0
        while not stop.is_set():
            k += 1
            sender.sendto(_ais(1, T0 + 10 * k) + b"\r\n" + _ais(2, T0 + 10 * k) + b"\r\n", ("127.0.0.1", port))
            sender.sendto(b"!AIVDM,garbage*00", ("127.0.0.1", port))
            time.sleep(0.05)

    threading.Thread(target=send, daemon=True).start()
    got = _collect(items, 6, stop)
    sender.close()
    # The first datagrams may go out before the listener is bound; from then on, each
    # good datagram gives two updates and each bad one a dead letter.
    kinds = "".join("U" if isinstance(x, TrackUpdate) else "D" for x in got)
    assert "UUD" in kinds and kinds.replace("UUD", "") in ("", "D", "UU", "DUU", "U")
    assert all(x.text.startswith("checksum mismatch") for x in got if isinstance(x, DeadLetter))
    assert {x.track_id for x in got if isinstance(x, TrackUpdate)} == {"ais:230000001", "ais:230000002"}


def test_follow_a_growing_and_rotated_file(tmp_path: Path) -> None:
    path = tmp_path / "live.nmea"
    path.write_bytes(_ais(0) + b"\n")  # already there: not read (tail from the end)
    stop = threading.Event()
    feed = FeedSettings(name="follow", format="ais-nmea", transport="follow", path=str(path))
    items = ingest.open_feed(feed, SidesSettings(), stop=stop)

    def write() -> None:
        _wait_open(path)  # the follower has opened the file (and gone to its end)
        time.sleep(0.1)
        with path.open("ab") as f:
            f.write(_ais(1) + b"\n" + _ais(2)[:30])
            f.flush()
            time.sleep(0.3)
            f.write(_ais(2)[30:] + b"\n")  # a line completed later
        time.sleep(0.4)
        tmp = tmp_path / "new.nmea"
        tmp.write_bytes(_ais(3) + b"\n")
        os.replace(tmp, path)  # rotation

    threading.Thread(target=write, daemon=True).start()
    got = _collect(items, 3, stop)
    assert [x.t_s for x in got] == [T0 + 1, T0 + 2, T0 + 3]


def _wait_open(path: Path, timeout_s: float = 10.0) -> None:
    """Until this process holds ``path`` open (Linux /proc)."""
    deadline = time.monotonic() + timeout_s
    target = str(path.resolve())
    while time.monotonic() < deadline:
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}") == target:
                    return
            except OSError:
                continue
        time.sleep(0.02)
    raise AssertionError(f"{path} was never opened")


class _AircraftHandler(http.server.BaseHTTPRequestHandler):
    polls = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        type(self).polls += 1
        n = type(self).polls
        body = json.dumps({"now": T0 + n, "aircraft": [{"hex": "154a12", "lat": 59.5, "lon": 24.0 + n / 100, "seen_pos": 0.2}]})
        if n == 2:
            self.send_error(503)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


def test_http_polling_aircraft_json_survives_a_server_error() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AircraftHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = threading.Event()
    url = f"http://127.0.0.1:{server.server_address[1]}/data/aircraft.json"
    feed = FeedSettings(name="http", format="aircraft-json", transport="http", url=url, poll_interval_s=0.1)
    got = _collect(ingest.open_feed(feed, SidesSettings(), stop=stop), 2, stop)
    server.shutdown()
    server.server_close()
    assert [round(x.t_s - T0, 1) for x in got] == [0.8, 2.8]  # poll 2 failed with 503
    assert all(x.side == "russia" for x in got)


def test_file_document_formats_read_whole_files_and_directories(tmp_path: Path) -> None:
    (tmp_path / "cot").mkdir()
    ev = ("<event version='2.0' uid='u{i}' type='a-h-A' time='2024-05-01T12:00:0{i}Z' start='2024-05-01T12:00:00Z' "
          "stale='2024-05-01T12:05:00Z' how='m-g'><point lat='59' lon='24' hae='1000' ce='1' le='1'/></event>")
    for i in range(3):
        (tmp_path / "cot" / f"{i}.xml").write_text(ev.format(i=i))
    feed = FeedSettings(name="cotdir", format="cot", path=str(tmp_path / "cot"))
    assert [x.track_id for x in ingest.open_feed(feed, SidesSettings())] == ["cot:u0", "cot:u1", "cot:u2"]


def test_open_feeds_runs_several_feeds_at_once(tmp_path: Path) -> None:
    a = tmp_path / "a.nmea"
    a.write_bytes(b"\n".join(_ais(i) for i in range(50)) + b"\n")
    s = tmp_path / "b.sbs"
    line = "MSG,3,1,1,154A12,1,2024/05/01,12:00:{:02d}.000,2024/05/01,12:00:00.000,,30000,,,59.5,24.5,,,0,0,0,0"
    s.write_text("\n".join(line.format(i) for i in range(30)) + "\nbroken\n")
    feeds = [
        FeedSettings(name="ais", format="ais-nmea", path=str(a)),
        FeedSettings(name="sbs", format="sbs1", path=str(s)),
        FeedSettings(name="missing", format="sbs1", path=str(tmp_path / "nope.sbs")),
    ]
    got = list(ingest.open_feeds(feeds, SidesSettings()))
    by_feed: dict[str, list[Any]] = {}
    health: dict[str, list[FeedHealth]] = {}
    for name, item in got:
        if isinstance(item, FeedHealth):
            health.setdefault(name, []).append(item)
        else:
            by_feed.setdefault(name, []).append(item)
    assert len(by_feed["ais"]) == 50 and len(by_feed["sbs"]) == 31 and "missing" not in by_feed
    # each feed says it runs; the missing file is given up (a replayed file is not restarted)
    assert [h.state for h in health["ais"]] == ["running"] and [h.state for h in health["sbs"]] == ["running"]
    assert [h.state for h in health["missing"]] == ["running", "failed"]
    assert "nope.sbs" in (health["missing"][-1].error or "")
    assert [x.t_s for x in by_feed["ais"]] == sorted(x.t_s for x in by_feed["ais"])  # order kept per feed
    assert isinstance(by_feed["sbs"][-1], DeadLetter)


def test_open_feeds_stops_live_feeds() -> None:
    port = _free_udp_port()
    stop = threading.Event()
    feeds = [FeedSettings(name="udp", format="ais-nmea", transport="udp", port=port)]
    it = ingest.open_feeds(feeds, SidesSettings(), stop)
    threading.Timer(0.3, stop.set).start()
    t = time.monotonic()
    assert [item for _, item in it if not isinstance(item, FeedHealth)] == []
    assert time.monotonic() - t < 3.0


@pytest.mark.parametrize("transport, extra", [("kafka", {"topic": "t"})])
def test_kafka_without_bootstrap_is_a_config_error(transport: str, extra: dict[str, Any]) -> None:
    feed = FeedSettings(name="k", format="ais-nmea", transport=transport, **extra)
    with pytest.raises(ingest.FeedConfigError, match="bootstrap_servers"):
        list(ingest.open_feed(feed, SidesSettings()))
