"""Feed health and the connection state on the live map's store: what the banner is made of."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from alerts.broker import find_free_port
from closewatch.cmd_map import follow_topics
from config.settings import KafkaSettings, Settings
from maps.errors import MapInputError
from maps.health import FeedHealth, read_feed_health
from maps.live import SituationStore

T = 1_773_136_800.0


class Clock:
    def __init__(self) -> None:
        self.now_s = T

    def __call__(self) -> float:
        return self.now_s


def test_feed_health_record_is_read_and_checked() -> None:
    h = read_feed_health({"feed": "ais", "state": "failed", "since_s": T, "last_data_s": None,
                          "error": "line 1\nline 2 " + "x" * 1000, "extra": 1})
    assert (h.feed, h.state, h.since_s, h.last_data_s) == ("ais", "failed", T, None)
    assert h.error is not None and "\n" not in h.error and len(h.error) == 500 and h.error.endswith("…")
    bad = [
        [1], {"feed": "ais", "state": "down", "since_s": T}, {"feed": "", "state": "failed", "since_s": T},
        {"feed": "ais", "state": "failed", "since_s": float("nan")}, {"feed": "ais", "state": "failed", "since_s": True},
        {"feed": "ais", "state": "failed", "since_s": T, "last_data_s": "yesterday"},
        {"feed": ["ais"], "state": "failed", "since_s": T}, {"feed": "ais", "state": "failed"},
    ]
    for value in bad:
        with pytest.raises(MapInputError, match="feed_health"):
            read_feed_health(value)


def test_store_keeps_the_latest_health_per_feed(caplog: pytest.LogCaptureFixture) -> None:
    store = SituationStore()
    assert store.status()["feeds"] == [] and store.status()["connection"] is None
    with caplog.at_level(logging.WARNING):
        taken = store.apply_feed_health([
            {"feed": "b", "state": "restarting", "since_s": T + 10, "last_data_s": T, "error": "reset"},
            FeedHealth("a", "running", T),
            {"feed": "b", "state": "failed", "since_s": T + 5},  # older than what is held
            {"feed": "c", "state": "sleeping", "since_s": T},
        ])
    assert taken == 2
    assert "feed health not shown: feed_health: state='sleeping'" in caplog.text
    assert store.status()["feeds"] == [
        {"feed": "a", "state": "running", "since_s": T, "last_data_s": None, "error": None},
        {"feed": "b", "state": "restarting", "since_s": T + 10, "last_data_s": T, "error": "reset"},
    ]
    assert store.status()["feed_age_s"] is None  # health is not data: the feed does not look fresh for it


def test_connection_state_keeps_its_since_while_it_stays() -> None:
    clock = Clock()
    store = SituationStore(clock=clock)
    store.set_connection("Kafka k:9092", False, "refused", since_s=T - 60)
    clock.now_s += 30
    store.set_connection("Kafka k:9092", False, "timed out")
    assert store.status()["connection"] == {"name": "Kafka k:9092", "connected": False, "since_s": T - 60,
                                            "error": "timed out"}
    store.set_connection("Kafka k:9092", True, "ignored")
    assert store.status()["connection"] == {"name": "Kafka k:9092", "connected": True, "since_s": T + 30, "error": None}


def test_follower_without_a_broker_says_so_and_stops_promptly() -> None:
    port = find_free_port()  # nothing listens there
    settings = Settings(kafka=KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}"))
    store = SituationStore()
    stop = threading.Event()
    started = time.time()
    follower = threading.Thread(target=follow_topics, args=(settings, store, stop),
                                kwargs={"retry_initial_s": 0.2, "retry_max_s": 0.5}, daemon=True)
    follower.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and store.status()["connection"] is None:
            time.sleep(0.1)
        conn = store.status()["connection"]
        assert conn is not None and conn["connected"] is False and conn["name"] == f"Kafka 127.0.0.1:{port}"
        assert started - 1 <= conn["since_s"] <= started + 1  # no connection since the start
        assert conn["error"]
    finally:
        stop.set()
        follower.join(15)
    assert not follower.is_alive()
