"""Notified or not through the pipeline: exercise notices from a feed file and from the notices
topic on the real broker (`closewatch notices publish`), the events about their areas carrying
``notification`` (event schema 1.6), and `closewatch notices check` naming what is wrong."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import ingest
from alerts.codec import encode_event, event_from_feature, load_schema
from closewatch.cli import main
from closewatch.cmd_notices import check_notice_file
from closewatch.pipeline import Pipeline
from closewatch.sinks import RecorderSink
from config.records import Notice
from config.settings import FeedSettings, SidesSettings, parse_settings
from ingest.exercise import notam_texts
from kafka_fixtures import read_topic
from notam_samples import NOTAMS

START = datetime(2026, 3, 10, 10, 10, tzinfo=timezone.utc)


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _feature(fid: str, lon: float, *, issued_days: float | None, troops: int, notification: str = "notified") -> dict[str, Any]:
    """A 10 km circle near Pskov (about 20 km from the Estonian border), starting at START."""
    props: dict[str, Any] = {
        "name": f"Exercise {fid}", "start": _iso(START), "end": _iso(START + timedelta(minutes=30)),
        "radius_m": 10_000, "country": "RU", "notification": notification, "scale": {"troops": troops},
    }
    if issued_days is not None:
        props["issued"] = _iso(START - timedelta(days=issued_days))
    return {"type": "Feature", "id": fid, "geometry": {"type": "Point", "coordinates": [lon, 57.85]},
            "properties": props}


FEATURES = [
    _feature("in-time", 28.40, issued_days=60, troops=12_000),
    _feature("late", 28.45, issued_days=10, troops=12_000),
    _feature("small", 28.50, issued_days=10, troops=2_000),
    _feature("snap", 28.40, issued_days=-0.01, troops=4_000),
    _feature("seen", 28.45, issued_days=None, troops=15_000, notification="unnotified"),
]
# an announced observation flight (Open Skies style): a route, its corridor, the aircraft
FLIGHT = {"type": "Feature", "id": "os-17", "geometry": {"type": "LineString", "coordinates": [[27.0, 58.5], [29.0, 58.5]]},
          "properties": {"kind": "flight", "start": _iso(START), "end": _iso(START + timedelta(hours=3)),
                         "issued": _iso(START - timedelta(days=3)), "country": "RU", "corridor_m": 15_000,
                         "identity": {"icao24": "155001", "callsign": "RFF9101"}}}
EXPECTED = {"exercise:in-time": "notified", "exercise:late": "late", "exercise:small": "notified",
            "exercise:snap": "snap_exercise", "exercise:seen": "unnotified"}


def _clock_feed(tmp_path: Path) -> dict[str, Any]:
    """A ship far from the areas reporting every minute through the window: the data clock."""
    path = tmp_path / "clock.jsonl"
    t0 = START.timestamp() - 60.0
    path.write_text("".join(json.dumps({
        "schema_version": "1.0", "track_id": "mmsi:230000001", "source": "t", "t_s": t0 + 60.0 * k, "time": "x",
        "lat_deg": 60.0, "lon_deg": 21.0, "domain": "sea", "side": "nato", "alt_m": None, "speed_mps": None,
        "course_deg": None, "heading_deg": None, "vrate_mps": None, "country": "FI", "callsign": None,
        "name": None, "type_code": None, "receiver": None, "raw_ref": f"t:{k}"}) + "\n" for k in range(45)))
    return {"name": "clock", "format": "tracks-jsonl", "path": str(path)}


def _run(tmp_path: Path, feed: dict[str, Any]) -> RecorderSink:
    settings = parse_settings({
        "feeds": [feed, _clock_feed(tmp_path)],
        "sinks": {"events_jsonl": str(tmp_path / "e.jsonl"), "deadletter_jsonl": str(tmp_path / "d.jsonl")},
    })
    sink = RecorderSink()
    summary = Pipeline(settings, [sink]).run()
    assert not summary.dead_letters
    return sink


def _notifications(sink: RecorderSink) -> dict[str, dict[str, Any]]:
    schema = jsonschema.Draft202012Validator(load_schema("event.v1.json"))
    out: dict[str, dict[str, Any]] = {}
    for feature in sink.events:
        p = feature["properties"]
        if p["kind"] != "exercise_near_border":
            continue
        schema.validate(feature)  # schema 1.6 knows the member
        assert p["schema_version"] == "1.6"
        assert event_from_feature(feature).notification == p["notification"]
        out.setdefault(p["zone_id"], p["notification"])
    return out


def test_events_about_exercise_areas_say_whether_they_were_notified(tmp_path: Path) -> None:
    path = tmp_path / "notices.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": FEATURES}))
    sink = _run(tmp_path, {"name": "notices", "format": "exercise-geojson", "path": str(path)})
    notes = _notifications(sink)
    assert {z: n["status"] for z, n in notes.items()} == EXPECTED
    late = notes["exercise:late"]
    assert late["lead_s"] == pytest.approx(10 * 86_400) and late["notifiable"] and not late["observable"]
    assert late["notice_id"] == "exercise:late" and late["issuer"] == "RU"
    assert late["issued_s"] == pytest.approx(START.timestamp() - 10 * 86_400)
    assert notes["exercise:seen"]["observable"] and "notice_id" not in notes["exercise:seen"]
    # events about other areas (the catalogue's borders) carry none
    others = [f["properties"] for f in sink.events if not str(f["properties"]["zone_id"]).startswith("exercise:")]
    assert all("notification" not in p for p in others)


def test_notices_check_names_each_bad_feature(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.geojson"
    good.write_text(json.dumps({"type": "FeatureCollection", "features": [*FEATURES, FLIGHT]}))
    assert main(["notices", "check", str(good)]) == 0
    assert "6 notice(s) in 1 file(s): valid" in capsys.readouterr().out
    bad_scale = _feature("tanks", 28.4, issued_days=50, troops=100)
    bad_scale["properties"]["scale"]["battle_tanks"] = -3
    no_end = _feature("open", 28.4, issued_days=50, troops=100)
    del no_end["properties"]["end"]
    no_identity = json.loads(json.dumps(FLIGHT))
    del no_identity["properties"]["identity"]
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [FEATURES[0], bad_scale, no_end, no_identity]}))
    assert main(["notices", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: feature 4 (os-17): properties: 'identity' is a required property" in err
    assert f"{bad}: feature 2 (tanks): properties/scale/battle_tanks: -3 is less than the minimum of 0" in err
    assert f"{bad}: feature 3 (open): properties: 'end' is a required property" in err
    assert "feature 1 " not in err


def test_a_bad_file_publishes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "Feature"}')
    # no broker is asked: the file is refused first
    assert main(["notices", "publish", "--bootstrap", "127.0.0.1:9", str(bad)]) == 2
    assert "nothing published" in capsys.readouterr().err


@pytest.mark.kafka
def test_notices_published_to_the_topic_are_applied_by_a_kafka_fed_run(
    tmp_path: Path, kafka_broker: Any, topic_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    topic = f"{topic_prefix}-notices"
    path = tmp_path / "notices.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": FEATURES}))
    assert main(["notices", "publish", "--bootstrap", kafka_broker.bootstrap_servers, "--topic", topic, str(path)]) == 0
    assert f"published 5 notice(s) to {topic}" in capsys.readouterr().out
    records = read_topic(kafka_broker.bootstrap_servers, topic)
    assert [json.loads(v)["id"] for v, _ in records] == [f["id"] for f in FEATURES]
    assert all(h["ce_type"] == b"org.closewatch.notice.v1" for _, h in records)
    # the topic keeps the notices: compacted, one partition, kept for ever
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource

    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap_servers)
    try:
        (described,) = admin.describe_topics([topic])
        assert len(described["partitions"]) == 1
        configs = admin.describe_configs([ConfigResource("TOPIC", topic)])
        (topic_configs,) = [v for by_name in configs.values() for v in by_name.values()]
        value = {k: (v["value"] if isinstance(v, dict) else v) for k, v in topic_configs.items()}
        assert value["cleanup.policy"] == "compact" and value["retention.ms"] == "-1"
    finally:
        admin.close()

    # the other side's closewatch reads the topic as a feed: notices, each its own record
    feed = FeedSettings(name="notices", format="exercise-geojson", transport="kafka", topic=topic,
                        bootstrap_servers=kafka_broker.bootstrap_servers, group_id=f"{topic}-group",
                        start_from="earliest")
    stop = threading.Event()
    got: list[Notice] = []
    for item in ingest.open_feed(feed, SidesSettings(), stop=stop):
        got.append(item)
        if len(got) == len(FEATURES):
            stop.set()
            break
    assert all(isinstance(n, Notice) for n in got)
    # ... and the areas' events carry the notices (the same run as from the file, through the pipeline)
    saved = tmp_path / "from-topic.jsonl"
    saved.write_bytes(b"\n".join(v for v, _ in records) + b"\n")
    sink = _run(tmp_path, {"name": "notices", "format": "exercise-geojson", "path": str(saved)})
    assert {z: n["status"] for z, n in _notifications(sink).items()} == EXPECTED
    assert {n.notice_id: n.issued_s for n in got} == {
        f"exercise:{f['id']}": (None if "issued" not in f["properties"]
                                else datetime.fromisoformat(f["properties"]["issued"]).timestamp())
        for f in FEATURES}


def test_encode_decode_keep_the_notification() -> None:
    from proximity.events import Event

    ev = Event(event_id="exercise_near_border-1", kind="exercise_near_border", state="open", seq=0, t_s=1.0,
               severity="warning", subjects=(), summary="s", zone_id="exercise:x", zone_name="x",
               metrics={"border_lon_deg": 27.8, "border_lat_deg": 57.86, "zone_lon_deg": 28.1, "zone_lat_deg": 57.85},
               notification={"status": "late", "notice_id": "exercise:x", "lead_s": 5.0})
    back = event_from_feature(json.loads(encode_event(ev)))
    assert back.notification == ev.notification and back.canonical() == ev.canonical()


# -- NOTAMs on the notices topic ----------------------------------------------------------------

_TEXTS = dict(notam_texts(NOTAMS.decode()))  # tests/notam_samples.py
_AREAS = "\n\n".join((_TEXTS["A1234/24"], _TEXTS["B0456/24"])) + "\n"  # a circle and a polygon
_RUNWAY = _TEXTS["C0001/24"]  # names no area



def _plain(notice: Notice) -> tuple[Any, ...]:
    return (notice.notice_id, notice.kind, notice.area, notice.active_from_s, notice.active_until_s, notice.sides,
            notice.issuer_country, dict(notice.properties))


def test_notams_travel_as_features_and_decode_as_the_notam_format(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from ingest.exercise import ExerciseGeoJsonDecoder, NotamDecoder

    path = tmp_path / "notams.txt"
    path.write_text(_AREAS)
    assert main(["notices", "check", str(path)]) == 0
    assert "2 notice(s) in 1 file(s): valid" in capsys.readouterr().out
    good, problems = check_notice_file(path)
    assert not problems and [n.notice_id for n in good] == ["A1234/24", "B0456/24"]
    via_features = [n for v in good for n in ExerciseGeoJsonDecoder("notices").decode([v.value])]
    direct = list(NotamDecoder("notices").decode([_AREAS.encode()]))
    assert [_plain(n) for n in via_features] == [_plain(n) for n in direct]
    # a NOTAM closewatch would not apply is named, and the file is refused
    mixed = tmp_path / "mixed.txt"
    mixed.write_text(_AREAS + "\n\n" + _RUNWAY)
    assert main(["notices", "check", str(mixed)]) == 2
    assert f"{mixed}: feature 3 (C0001/24): a cancellation or a NOTAM that names no area" in capsys.readouterr().err


@pytest.mark.kafka
def test_notams_published_to_the_topic_reach_the_feed_decoder(
    tmp_path: Path, kafka_broker: Any, topic_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from ingest.exercise import ExerciseGeoJsonDecoder

    topic = f"{topic_prefix}-notams"
    path = tmp_path / "notams.txt"
    path.write_text(_AREAS)
    assert main(["notices", "publish", "--bootstrap", kafka_broker.bootstrap_servers, "--topic", topic, str(path)]) == 0
    records = read_topic(kafka_broker.bootstrap_servers, topic)
    values = [json.loads(v) for v, _ in records]
    assert [(v["id"], v["properties"]["kind"], v["geometry"]) for v in values] == [
        ("A1234/24", "notam", None), ("B0456/24", "notam", None)]
    decoded = [n for v, _ in records for n in ExerciseGeoJsonDecoder("notices").decode([v])]
    assert [n.notice_id for n in decoded] == ["notam:A1234/24", "notam:B0456/24"]
    assert all(isinstance(n, Notice) for n in decoded)
