"""An encrypted client key (PEM with a password, ``kafka.ssl_key_password``) works for every
Kafka client of closewatch, end to end against the local broker whose only listener is
mutual TLS (``tls_broker`` and ``pki`` of tests/kafka_fixtures.py):

* a Kafka-fed feed: ``closewatch run`` reads raw AIS lines from a topic and publishes the
  normalised tracks, both over TLS;
* ``closewatch map serve``: its page shows the tracks and events published over TLS.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from alerts.broker import LocalBroker
from alerts.producer import KafkaSink, client_security_config
from alerts.tls import LocalPki
from config.records import TrackUpdate
from config.settings import KafkaSettings
from ingest.ais import encode_nmea
from proximity.events import Event, Subject, derive_event_id

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

T0 = 1_773_136_800.0  # 2026-03-10T10:00:00Z


def _kafka(broker: LocalBroker, pki: LocalPki, prefix: str, state: Path) -> KafkaSettings:
    assert pki.client_key_password and b"ENCRYPTED" in pki.client_key.read_bytes()
    return KafkaSettings(
        bootstrap_servers=broker.bootstrap_servers, events_topic=f"{prefix}.events", tracks_topic=f"{prefix}.tracks",
        deadletter_topic=f"{prefix}.dl", partitions=1, security_protocol="SSL", ssl_cafile=str(pki.ca_cert),
        ssl_certfile=str(pki.client_cert), ssl_keyfile=str(pki.client_key), ssl_key_password=pki.client_key_password,
        spool_dir=str(state / "spool"),
    )


def _toml(kafka: KafkaSettings) -> str:
    keys = ("bootstrap_servers", "events_topic", "tracks_topic", "deadletter_topic", "partitions",
            "security_protocol", "ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_key_password", "spool_dir")
    return "[kafka]\n" + "".join(f"{k} = {json.dumps(getattr(kafka, k))}\n" for k in keys)


def _closewatch(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    # No terminal and no stdin: an encrypted key without its password cannot be asked for.
    return subprocess.Popen([sys.executable, "-m", "closewatch", *args], stdin=subprocess.DEVNULL,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(10)


def test_kafka_fed_feed_with_an_encrypted_client_key(tls_broker, pki, topic_prefix, tmp_path):
    kafka = _kafka(tls_broker, pki, topic_prefix, tmp_path)
    raw_topic = f"{topic_prefix}.raw-ais"
    KafkaSink(kafka, use_spool=False).ensure_topics()  # events, tracks, dead letters, context, over TLS
    admin = KafkaAdminClient(**client_security_config(kafka))
    try:
        admin.create_topics([NewTopic(raw_topic, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    mmsis = [273_000_001 + i for i in range(3)]
    producer = KafkaProducer(**client_security_config(kafka))
    for i, mmsi in enumerate(mmsis):
        for line in encode_nmea({"type": 1, "mmsi": mmsi, "lat": 59.9, "lon": 27.0 + i / 10, "speed": 8.0,
                                 "course": 90.0}, T0 + i):
            producer.send(raw_topic, line)
    producer.flush()
    producer.close()
    config = tmp_path / "closewatch.toml"
    config.write_text(f"""
[[feeds]]
name = "raw-ais"
format = "ais-nmea"
transport = "kafka"
topic = "{raw_topic}"
group_id = "{topic_prefix}-group"
start_from = "earliest"

[pipeline]
state_dir = "{tmp_path / 'state'}"

[zones]
territorial = false

{_toml(kafka)}""")
    log = tmp_path / "run.log"
    proc = _closewatch(["run", "-c", str(config)], log)
    consumer = KafkaConsumer(kafka.tracks_topic, group_id=None, auto_offset_reset="earliest",
                             consumer_timeout_ms=1000, **client_security_config(kafka))
    tracks: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 90
        while len(tracks) < len(mmsis) and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            tracks += [json.loads(m.value) for m in consumer]
    finally:
        consumer.close()
        code = _stop(proc)
    assert sorted(t["track_id"] for t in tracks) == [f"ais:{m}" for m in mmsis], log.read_text()
    assert [t["t_s"] for t in sorted(tracks, key=lambda t: t["t_s"])] == [T0, T0 + 1, T0 + 2]
    assert code == 0, log.read_text()
    assert "Traceback" not in log.read_text()


def _wait_for_url(log: Path, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        m = re.search(r"live map at (http://127\.0\.0\.1:\d+/)", log.read_text())
        if m:
            return m.group(1)
        assert proc.poll() is None, log.read_text()
        time.sleep(0.1)
    raise AssertionError(f"no live map URL: {log.read_text()}")


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def test_map_serve_with_an_encrypted_client_key(tls_broker, pki, topic_prefix, tmp_path):
    kafka = _kafka(tls_broker, pki, topic_prefix, tmp_path)
    ships = [TrackUpdate(track_id=f"ais:27300000{i}", source="test", t_s=T0, lat_deg=59.9, lon_deg=26.0 + i / 100,
                         domain="sea", side=side, speed_mps=5.0, course_deg=90.0)
             for i, side in enumerate(("russia", "nato"))]
    subjects = tuple(Subject(u.track_id, u.side, u.domain, u.t_s, u.lat_deg, u.lon_deg) for u in ships)
    opened = Event(derive_event_id("close_approach", tuple(u.track_id for u in ships), None, T0), "close_approach",
                   "open", 0, T0, "warning", subjects, "two ships 560 m apart", metrics={"distance_m": 560.0})
    sink = KafkaSink(kafka)
    sink.ensure_topics()
    sink.publish_tracks(ships)
    sink.publish_events([opened])
    sink.flush()
    sink.close()
    config = tmp_path / "closewatch.toml"
    config.write_text(_toml(kafka))
    log = tmp_path / "serve.log"
    proc = _closewatch(["map", "serve", "-c", str(config), "--port", "0"], log)
    try:
        url = _wait_for_url(log, proc)
        deadline = time.monotonic() + 60
        status = _get(url + "api/status")
        while (status["tracks"], status["open_events"]) != (2, 1) and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.2)
            status = _get(url + "api/status")
        assert (status["tracks"], status["open_events"]) == (2, 1), log.read_text()
        events = _get(url + "api/events")
        assert opened.event_id in {f["properties"]["id"] for f in events["features"]}
    finally:
        code = _stop(proc)
    assert code == 0, log.read_text()
    assert "Traceback" not in log.read_text()
