"""Every live transport with poison in the middle of a feed: the lines after it arrive.

Each feed below is a real ``ingest.open_feed`` over a real transport (a growing file, a
TCP server, UDP datagrams, an HTTP server, the project's own Kafka broker). The poison is
what used to stop a feed: a 400-digit integer, 5,000 nested brackets, a line longer than
the cap, bytes that are not UTF-8, NULs, a huge ``alt_baro``. Every poison line is a dead
letter with its own reason, and the good lines after it are decoded.

And TCP: a server that goes silent (a half-open connection, as far as the client can
tell) is left after ``read_timeout_s`` and the feed reconnects; keepalive is on.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

import ingest
from config.records import DeadLetter, TrackUpdate
from config.settings import FeedSettings, SidesSettings
from ingest.transports import KEEPALIVE_COUNT, KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S, configure_keepalive, tcp_units

T0 = 1_714_564_800.0


def _track(i: int) -> bytes:
    return json.dumps({"track_id": f"ext:good{i}", "t_s": T0 + i, "lat_deg": 59.5, "lon_deg": 24.0 + i / 100,
                       "domain": "sea"}).encode()


# (poison line, the reason its dead letter must give)
POISON: list[tuple[bytes, str]] = [
    (b'{"track_id": "ext:p", "t_s": 1714564800, "lat_deg": ' + b"1" * 400 + b', "lon_deg": 24, "domain": "sea"}',
     "impossible value"),
    (b"[" * 5000, "nested too deeply"),
    (b'{"track_id": "' + b"x" * 100_000 + b'"}', "oversized input"),
    (b"\xff\xfe\x00\x00 not utf-8 \xc3\x28", "malformed line"),
    (b"\x00" * 64, "malformed line"),
]
GOOD_AFTER = 3


def _lines() -> list[bytes]:
    out = [_track(0)]
    for poison, _ in POISON:
        out.append(poison)
    out += [_track(i) for i in range(1, GOOD_AFTER + 1)]
    return out


def _collect(items: Iterator[Any], stop: threading.Event, timeout_s: float = 20.0) -> list[Any]:
    """Items until every good line arrived (or the timeout), then stop the feed."""
    got: list[Any] = []
    deadline = time.monotonic() + timeout_s

    def watchdog() -> None:
        while not stop.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()

    threading.Thread(target=watchdog, daemon=True).start()
    for item in items:
        got.append(item)
        if sum(isinstance(x, TrackUpdate) for x in got) == GOOD_AFTER + 1:
            break
    stop.set()
    return got


def _check(got: list[Any]) -> None:
    ups = [x for x in got if isinstance(x, TrackUpdate)]
    dls = [x for x in got if isinstance(x, DeadLetter)]
    assert [u.track_id for u in ups] == [f"ext:good{i}" for i in range(GOOD_AFTER + 1)]
    assert [d.reason for d in dls] == [reason for _, reason in POISON], [d.text for d in dls]
    assert all(len(d.raw) <= 65_536 for d in dls)


def _feed(**kw: Any) -> FeedSettings:
    return FeedSettings(format="tracks-jsonl", **kw)


def test_follow(tmp_path: Path) -> None:
    path = tmp_path / "growing.jsonl"
    path.write_bytes(b"")
    stop = threading.Event()
    items = ingest.open_feed(_feed(name="follow", transport="follow", path=str(path)), SidesSettings(), stop=stop)

    def append() -> None:
        time.sleep(0.5)
        with path.open("ab") as f:
            for line in _lines():
                f.write(line + b"\n")
                f.flush()
                time.sleep(0.01)

    threading.Thread(target=append, daemon=True).start()
    _check(_collect(items, stop))


def test_tcp() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            for line in _lines():
                conn.sendall(line + b"\r\n")
            time.sleep(5)

    threading.Thread(target=serve, daemon=True).start()
    stop = threading.Event()
    try:
        items = ingest.open_feed(_feed(name="tcp", transport="tcp", host="127.0.0.1", port=port), SidesSettings(),
                                 stop=stop)
        _check(_collect(items, stop))
    finally:
        server.close()


def test_udp() -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    stop = threading.Event()
    items = ingest.open_feed(_feed(name="udp", transport="udp", port=port), SidesSettings(), stop=stop)

    def send() -> None:
        time.sleep(0.5)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for line in _lines():
                s.sendto(line[:65_000], ("127.0.0.1", port))  # a datagram holds at most 64 KiB
                time.sleep(0.01)

    threading.Thread(target=send, daemon=True).start()
    got = _collect(items, stop)
    ups = [x for x in got if isinstance(x, TrackUpdate)]
    dls = [x for x in got if isinstance(x, DeadLetter)]
    assert [u.track_id for u in ups] == [f"ext:good{i}" for i in range(GOOD_AFTER + 1)]
    # the 100 kB line arrives cut to one datagram: not oversized, still not JSON
    assert [d.reason for d in dls] == ["impossible value", "nested too deeply", "malformed line", "malformed line",
                                       "malformed line"]


class _Documents(http.server.BaseHTTPRequestHandler):
    """Serves the next document of ``documents`` at each GET (the last one again at the end)."""

    documents: list[bytes] = []
    served = 0

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        cls = type(self)
        body = cls.documents[min(cls.served, len(cls.documents) - 1)]
        cls.served += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _aircraft_doc(now: float, hex_: str, **extra: Any) -> bytes:
    entry = {"hex": hex_, "lat": 59.5, "lon": 24.0, "seen_pos": 0.0, **extra}
    return json.dumps({"now": now, "aircraft": [entry]}).encode()


def test_http() -> None:
    _Documents.served = 0
    _Documents.documents = [
        _aircraft_doc(T0, "154a10"),
        b'{"now": 1714564801, "aircraft": [{"hex": "154a11", "lat": 59.5, "lon": 24.0, "alt_baro": ' + b"9" * 400 + b"}]}",
        b'{"now": 1714564802, "aircraft": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b"\xff\xfe not json",
        _aircraft_doc(T0 + 3, "154a13"),
        _aircraft_doc(T0 + 4, "154a14"),
    ]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Documents)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = threading.Event()
    try:
        feed = FeedSettings(name="http", format="aircraft-json", transport="http",
                            url=f"http://127.0.0.1:{server.server_address[1]}/data/aircraft.json", poll_interval_s=0.05)
        got: list[Any] = []
        deadline = time.monotonic() + 20
        for item in ingest.open_feed(feed, SidesSettings(), stop=stop):
            got.append(item)
            if any(isinstance(x, TrackUpdate) and x.track_id == "icao:154a14" for x in got) or time.monotonic() > deadline:
                break
        stop.set()
    finally:
        server.shutdown()
        server.server_close()
    ups = [x for x in got if isinstance(x, TrackUpdate)]
    dls = [x for x in got if isinstance(x, DeadLetter)]
    # the huge altitude is dropped, the aircraft kept
    assert [u.track_id for u in ups] == ["icao:154a10", "icao:154a11", "icao:154a13", "icao:154a14"]
    assert ups[1].alt_m is None
    assert [d.reason for d in dls] == ["bad field", "nested too deeply", "malformed document"], [d.text for d in dls]


@pytest.mark.kafka
def test_kafka(kafka_broker: Any, topic_prefix: str) -> None:
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    topic = f"{topic_prefix}-poison"
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap_servers)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap_servers, max_request_size=2_000_000)
    for line in _lines():
        producer.send(topic, line)
    producer.flush()
    producer.close()
    stop = threading.Event()
    feed = _feed(name="kafka", transport="kafka", topic=topic, bootstrap_servers=kafka_broker.bootstrap_servers,
                 group_id=f"{topic}-group", start_from="earliest")
    _check(_collect(ingest.open_feed(feed, SidesSettings(), stop=stop), stop, timeout_s=60))


# -- TCP: silent servers and keepalive ------------------------------------------------------


def test_a_silent_tcp_server_is_left_after_the_read_timeout_and_the_feed_reconnects() -> None:
    """The server sends one line and then nothing, its connection open (to the client, a
    half-open connection looks the same); the client gives up after read_timeout_s and the
    second connection brings the next line."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    connections: list[float] = []

    def serve() -> None:
        held = []
        for i in range(2):
            conn, _ = server.accept()
            connections.append(time.monotonic())
            conn.sendall(_track(i) + b"\n")
            held.append(conn)  # never closed, never written to again
        time.sleep(10)
        for c in held:
            c.close()

    threading.Thread(target=serve, daemon=True).start()
    stop = threading.Event()
    try:
        feed = _feed(name="silent", transport="tcp", host="127.0.0.1", port=port, read_timeout_s=0.6)
        got: list[Any] = []
        started = time.monotonic()
        for item in ingest.open_feed(feed, SidesSettings(), stop=stop):
            got.append(item)
            if len(got) == 2 or time.monotonic() - started > 15:
                break
        stop.set()
    finally:
        server.close()
    assert [u.track_id for u in got] == ["ext:good0", "ext:good1"]
    assert len(connections) == 2 and connections[1] - connections[0] >= 0.6


def test_tcp_connections_use_keepalive() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    try:
        configure_keepalive(client)
        assert client.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        if hasattr(socket, "TCP_KEEPIDLE"):  # Linux
            assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == KEEPALIVE_IDLE_S
            assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == KEEPALIVE_INTERVAL_S
            assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == KEEPALIVE_COUNT
    finally:
        client.close()
        server.close()


def test_the_feeds_tcp_socket_has_keepalive_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """tcp_units turns keepalive on for the socket it reads (read back from that socket)."""
    import ingest.transports as transports

    seen: list[int] = []

    def spy(sock: socket.socket) -> None:
        configure_keepalive(sock)
        seen.append(sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))

    monkeypatch.setattr(transports, "configure_keepalive", spy)
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        conn.sendall(_track(0) + b"\n")
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        got = list(tcp_units("127.0.0.1", server.getsockname()[1], "lines", max_connects=1))
    finally:
        server.close()
    assert got == [_track(0)] and seen == [1]
