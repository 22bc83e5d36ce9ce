"""`closewatch map serve` started before its Kafka broker: the page in Chromium says there is no
connection since when, then shows the tracks by itself once the broker is up; the same after a
broker restart mid-stream; the feed_health records of the dead-letter topic reach the banner."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from alerts.broker import LocalBroker, find_free_port
from alerts.producer import KafkaSink
from browser_fixtures import screenshot, wait_until
from config.records import TrackUpdate
from config.settings import KafkaSettings
from maps.health import FEED_HEALTH_CE_TYPE
from proximity.events import Event, Subject, derive_event_id

pytestmark = [pytest.mark.kafka, pytest.mark.browser, pytest.mark.slow]

BANNER = ".cw-stale-banner"


def _updates(t_s: float) -> list[TrackUpdate]:
    return [
        TrackUpdate(track_id="ais:273000001", source="test", t_s=t_s, lat_deg=59.9, lon_deg=26.0, domain="sea",
                    side="russia", speed_mps=5.0, course_deg=90.0, name="RUS PATROL"),
        TrackUpdate(track_id="ais:230000001", source="test", t_s=t_s, lat_deg=59.9, lon_deg=26.01, domain="sea",
                    side="nato", speed_mps=5.0, course_deg=270.0, name="FIN PATROL"),
    ]


def _event(updates: list[TrackUpdate]) -> Event:
    a, b = updates
    subjects = tuple(Subject(u.track_id, u.side, u.domain, u.t_s, u.lat_deg, u.lon_deg) for u in (a, b))
    eid = derive_event_id("close_approach", (a.track_id, b.track_id), None, a.t_s)
    return Event(eid, "close_approach", "open", 0, a.t_s, "warning", subjects, "two ships 560 m apart",
                 metrics={"distance_m": 560.0})


def _feed_health(kafka: KafkaSettings, **record: Any) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    try:
        producer.send(kafka.deadletter_topic, key=record["feed"].encode(), value=json.dumps(record).encode(),
                      headers=[("ce_type", FEED_HEALTH_CE_TYPE.encode())]).get(30)
        # a dead letter proper on the same topic: not the map's business
        producer.send(kafka.deadletter_topic, key=b"x", value=b'{"feed": "x", "reason": "junk"}',
                      headers=[("ce_type", b"org.closewatch.deadletter.v1")]).get(30)
    finally:
        producer.close()


def _wait_for_url(proc: subprocess.Popen[str], err: Path, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = re.search(r"^live map at (\S+)$", err.read_text(), re.MULTILINE)
        if found:
            return found.group(1)
        assert proc.poll() is None, err.read_text()
        time.sleep(0.2)
    raise AssertionError(f"map serve printed no URL: {err.read_text()}")


def test_page_shows_no_connection_then_recovers_by_itself(tmp_path: Path, guarded_page: Any, topic_prefix: str) -> None:
    port = find_free_port()
    broker = LocalBroker(tmp_path / "kafka", port=port)
    kafka = KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}", events_topic=f"{topic_prefix}.events",
                          tracks_topic=f"{topic_prefix}.tracks", deadletter_topic=f"{topic_prefix}.dl", partitions=2,
                          spool_dir=str(tmp_path / "spool"))
    cfg = tmp_path / "serve.toml"
    cfg.write_text(
        f'[kafka]\nbootstrap_servers = "{kafka.bootstrap_servers}"\nevents_topic = "{kafka.events_topic}"\n'
        f'tracks_topic = "{kafka.tracks_topic}"\ndeadletter_topic = "{kafka.deadletter_topic}"\n'
        f'spool_dir = "{kafka.spool_dir}"\n[map]\nrefresh_s = 0.5\nfeed_stale_after_s = 3600\n'
    )
    err = tmp_path / "serve.err"
    with err.open("w") as err_file:
        proc = subprocess.Popen([sys.executable, "-m", "closewatch", "map", "serve", "-c", str(cfg), "--port", "0"],
                                stdout=subprocess.DEVNULL, stderr=err_file, text=True)
    page, _log = guarded_page
    try:
        url = _wait_for_url(proc, err)
        page.goto(url)
        line = page.locator(f'{BANNER} [data-kind="connection"]')
        line.wait_for(state="visible", timeout=30_000)
        text = line.text_content() or ""
        assert re.fullmatch(rf"No connection to Kafka 127\.0\.0\.1:{port} since \d\d:\d\d:\d\d UTC \(retrying\): .+\. "
                            r"The picture is not being updated\.", text), text
        screenshot(page, "map-serve-no-kafka")

        broker.start(timeout_s=180)
        sink = KafkaSink(kafka)
        sink.ensure_topics()
        updates = _updates(time.time())
        sink.publish_tracks(updates)
        sink.publish_events([_event(updates)])
        sink.flush()
        line.wait_for(state="detached", timeout=60_000)
        wait_until(page, "document.querySelectorAll('.cw-track').length === 2", 30)
        wait_until(page, "document.querySelectorAll('.cw-event').length === 1", 30)
        assert not page.locator(BANNER).is_visible()
        screenshot(page, "map-serve-kafka-recovered")

        # a feed restarting, as the pipeline reports it on the dead-letter topic
        now = time.time()
        _feed_health(kafka, feed="baltic-ais", state="restarting", since_s=now, last_data_s=now - 30,
                     error="connection reset by peer <b>x</b>")
        feed_line = page.locator(f'{BANNER} [data-kind="feed"]')
        feed_line.wait_for(state="visible", timeout=30_000)
        assert re.fullmatch(r"Feed baltic-ais restarting since \d\d:\d\d:\d\d UTC, last data \d\d:\d\d:\d\d UTC: "
                            r"connection reset by peer <b>x</b>", feed_line.text_content() or "")
        assert page.locator(f"{BANNER} b").count() == 0  # text, never markup
        screenshot(page, "map-serve-feed-restarting")
        _feed_health(kafka, feed="baltic-ais", state="running", since_s=now + 5, last_data_s=now + 5, error=None)
        feed_line.wait_for(state="detached", timeout=30_000)

        # the broker goes away mid-stream and comes back: the page follows, nothing is read twice
        broker.stop()
        line.wait_for(state="visible", timeout=60_000)
        broker.start(timeout_s=180)
        later = _updates(time.time())
        sink.publish_tracks(later)
        sink.flush()
        line.wait_for(state="detached", timeout=60_000)
        wait_until(page, "document.querySelectorAll('.cw-track').length === 2", 30)
        sink.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
            broker.stop()
    stderr = err.read_text()
    assert code == 0, stderr
    assert "Traceback" not in stderr
    # one line per outage, not one per refused connection
    assert len(re.findall("no connection to Kafka", stderr)) == 2, stderr
