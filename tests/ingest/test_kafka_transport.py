"""The Kafka transport against the real local broker (fixture ``kafka_broker`` of
tests/kafka_fixtures.py, which fails the test when the broker cannot start)."""

from __future__ import annotations

import json
import threading

import pytest

import ingest
from config.records import DeadLetter, TrackUpdate
from config.settings import FeedSettings, SidesSettings
from ingest.ais import encode_nmea
from ingest.transports import kafka_units

# The broker fixture lives in the alerts room's tests/kafka_fixtures.py; until that file
# is merged beside this one there is no broker to talk to in this branch.

pytestmark = pytest.mark.kafka

T0 = 1_700_000_000.0


def _topic(broker, name: str) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    try:
        admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()


def _produce(broker, topic: str, values: list[bytes]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    for v in values:
        producer.send(topic, v)
    producer.flush()
    producer.close()


def _take(items, n: int, stop: threading.Event) -> list:
    got = []
    for item in items:
        got.append(item)
        if len(got) >= n:
            break
    stop.set()
    return got


def test_raw_ais_lines_in_a_consumer_group(kafka_broker, topic_prefix) -> None:
    topic = f"{topic_prefix}-ais"
    _topic(kafka_broker, topic)
    lines = [encode_nmea({"type": 1, "mmsi": 230000000 + i, "lat": 60.0, "lon": 25.0}, T0 + i)[0] for i in range(4)]
    _produce(kafka_broker, topic, [*lines[:2], b"!AIVDM,garbage*00", b"\n".join(lines[2:])])
    feed = FeedSettings(name="kafka-ais", format="ais-nmea", transport="kafka", topic=topic,
                        bootstrap_servers=kafka_broker.bootstrap_servers, group_id=f"{topic}-group",
                        start_from="earliest")
    stop = threading.Event()
    got = _take(ingest.open_feed(feed, SidesSettings(), stop=stop), 5, stop)
    assert [type(x) for x in got] == [TrackUpdate, TrackUpdate, DeadLetter, TrackUpdate, TrackUpdate]
    assert [x.t_s for x in got if isinstance(x, TrackUpdate)] == [T0, T0 + 1, T0 + 2, T0 + 3]
    # The group committed its offsets: the same group reads nothing again.
    again = list(kafka_units(topic, "lines", bootstrap_servers=kafka_broker.bootstrap_servers,
                             group_id=f"{topic}-group", start_from="earliest", max_idle_polls=10))
    assert again == []


def test_normalised_tracks_topic(kafka_broker, topic_prefix) -> None:
    topic = f"{topic_prefix}-tracks"
    _topic(kafka_broker, topic)
    values = [json.dumps({"schema_version": "1.0", "track_id": "icao:154a12", "source": "sbs", "t_s": T0 + i,
                          "time": "x", "lat_deg": 59.5, "lon_deg": 24.5 + i / 100, "domain": "air", "side": "russia",
                          "alt_m": 9000.0, "speed_mps": None, "course_deg": None, "heading_deg": None,
                          "vrate_mps": None, "country": "RU", "callsign": "RFF7033", "name": None,
                          "type_code": "IL20", "receiver": None, "raw_ref": f"sbs:{i}"}).encode() for i in range(3)]
    _produce(kafka_broker, topic, values)
    feed = FeedSettings(name="kafka-tracks", format="tracks-jsonl", transport="kafka", topic=topic,
                        bootstrap_servers=kafka_broker.bootstrap_servers, start_from="earliest",
                        group_id=f"{topic}-group")
    stop = threading.Event()
    got = _take(ingest.open_feed(feed, SidesSettings(), stop=stop), 3, stop)
    assert [(u.track_id, u.t_s, u.side, u.type_code) for u in got] == [
        ("icao:154a12", T0 + i, "russia", "IL20") for i in range(3)]


def test_group_watch_tells_a_consumer_its_group_no_longer_lists(kafka_broker, topic_prefix) -> None:
    """A consumer is left alone while its group lists it (even one holding no partition: more
    members than partitions); one that the group does not list while others hold the partitions,
    or whose group has no member left, is told to join again."""
    from kafka import KafkaConsumer

    from ingest.transports import GroupWatch

    topic = f"{topic_prefix}-watch"
    _topic(kafka_broker, topic)
    connection: dict[str, object] = {"bootstrap_servers": kafka_broker.bootstrap_servers}
    watch = GroupWatch(f"{topic_prefix}-g", connection, after_s=0.0)
    member = KafkaConsumer(group_id=f"{topic_prefix}-g", client_id=watch.client_id, **connection)  # type: ignore[arg-type]
    member.subscribe([topic])
    for _ in range(100):
        member.poll(timeout_ms=200)
        if member.assignment():
            break
    assert member.assignment()
    # a member that the group no longer lists, while another holds the partitions
    outside = GroupWatch(f"{topic_prefix}-g", connection, after_s=0.0)
    try:
        assert watch.fell_out() is False  # the group lists its member
        first_id = outside.client_id
        assert outside.fell_out() is True
        assert outside.client_id != first_id  # the consumer that joins again has a new id
        member.close()  # leaves the group: no member remains
        assert watch.fell_out() is True
        never = GroupWatch(f"{topic_prefix}-never", connection, after_s=0.0)
        assert never.fell_out() is True
        never.close()
        slow = GroupWatch(f"{topic_prefix}-never", connection, after_s=3600.0)
        assert slow.fell_out() is False  # asked only every after_s
    finally:
        watch.close()
        outside.close()
