"""`closewatch map serve` feeds its store from the real Kafka topics (tracks and events)."""

from __future__ import annotations

import threading
import time

import pytest

from alerts.producer import KafkaSink
from closewatch.cmd_map import follow_topics
from config.records import TrackUpdate
from config.settings import KafkaSettings, Settings
from maps.live import SituationStore
from proximity.events import Event, Subject, derive_event_id

T0 = 1_773_136_800.0


def _update(track_id: str, side: str, t_s: float, lon: float) -> TrackUpdate:
    return TrackUpdate(track_id=track_id, source="test", t_s=t_s, lat_deg=59.9, lon_deg=lon, domain="sea", side=side, speed_mps=5.0, course_deg=90.0, name="<img src=x onerror=alert(1)>")


@pytest.mark.kafka
def test_map_store_follows_tracks_and_events_topics(kafka_broker, topic_prefix, tmp_path):
    kafka = KafkaSettings(
        bootstrap_servers=kafka_broker.bootstrap_servers,
        events_topic=f"{topic_prefix}.events",
        tracks_topic=f"{topic_prefix}.tracks",
        deadletter_topic=f"{topic_prefix}.dl",
        partitions=2,
        spool_dir=str(tmp_path / "spool"),
    )
    settings = Settings(kafka=kafka)
    a = _update("ais:273000001", "russia", T0, 26.0)
    b = _update("ais:230000001", "nato", T0, 26.01)
    subjects = tuple(Subject(u.track_id, u.side, u.domain, u.t_s, u.lat_deg, u.lon_deg) for u in (a, b))  # type: ignore[arg-type]
    eid = derive_event_id("close_approach", (a.track_id, b.track_id), None, T0)
    opened = Event(eid, "close_approach", "open", 0, T0, "warning", subjects, "two ships 560 m apart", metrics={"distance_m": 560.0})
    sink = KafkaSink(kafka)
    sink.ensure_topics()
    sink.publish_tracks([a, b])
    sink.publish_events([opened])
    sink.flush()

    store = SituationStore.from_settings(settings)
    stop = threading.Event()
    follower = threading.Thread(target=follow_topics, args=(settings, store, stop), daemon=True)
    follower.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (store.status()["tracks"], store.status()["open_events"]) != (2, 1):
            time.sleep(0.1)
        assert (store.status()["tracks"], store.status()["open_events"]) == (2, 1)
        # A later revision closes the incident on every screen.
        closed = Event(eid, "close_approach", "closed", 1, T0 + 60, "warning", subjects, "separated", metrics={"distance_m": 2500.0}, close_reason="separated")
        sink.publish_events([closed])
        sink.flush()
        while time.monotonic() < deadline and store.status()["open_events"] != 0:
            time.sleep(0.1)
        assert store.status()["open_events"] == 0
    finally:
        stop.set()
        follower.join(10)
        sink.close()
    assert not follower.is_alive()
