"""Workers on a real broker: `closewatch run --role ingest` and `--role engine` processes.

The input is the Baltic demo scenario's AIS and SBS-1 recordings and its exercise notice (1,830
track updates over 40 minutes of data time; the notified snap exercise near Pskov reaches every
partition as a zones record). The expected events are one in-process engine's over the same
normalised updates and notice, in the order the ingest worker reads them, without the
end-of-input closing (a Kafka-fed run only pauses).
Cells of 0.5 degrees over 3 partitions cut the scenario's encounters: the test checks that
incidents whose tracks are owned by several partitions are among them.

The tests wait for conditions (the group's committed offsets reach the topic's end), not
for time: a loaded machine makes them slower, not wrong.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from alerts.codec import encode_event, event_to_feature
from bench_worlds import military_world
from closewatch.archive.schema import events_from_table
from closewatch.archive.store import Archive
from closewatch.cells import CellGrid, route_reports
from closewatch.cli import main
from closewatch.feedfiles import merged_items
from closewatch.rules import build_rules
from closewatch.scenario.baltic import write_scenario
from config.records import Notice, TrackUpdate
from config.settings import Settings, load_settings
from config.zones import load_borders, load_catalogue, load_land
from kafka_fixtures import group_lag, read_topic
from proximity.engine import Engine
from proximity.notices import zone_from_notice

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

PARTITIONS = 3
CELL_DEG = 0.5


def _config(path: Path, scenario: dict[str, Path], bootstrap: str, prefix: str, deployment: str, *,
            cell_deg: float = CELL_DEG, history_s: float = 120.0, cuts: tuple[int, ...] = (),
            archive: Path | None = None, max_state_bytes: int = 64 * 1024 * 1024,
            checkpoint_interval_s: float = 0.5) -> Path:
    """A worker configuration: the shared cells topic ``prefix.cells``; ``deployment`` names the
    engine group, its events, state and interest topics."""
    d = f"{prefix}.{deployment}"
    feeds = "".join(f"""
[[feeds]]
name = "{name}"
format = "{fmt}"
transport = "file"
path = "{scenario[name]}"
""" for name, fmt in (("ais", "ais-nmea"), ("sbs", "sbs1"), ("exercises", "exercise-geojson"),
                      ("world", "tracks-jsonl")) if name in scenario)
    path.write_text(
        f"""{feeds}
[archive]
enabled = {'true' if archive else 'false'}
path = "{archive or 'unused'}"

[kafka]
bootstrap_servers = "{bootstrap}"
events_topic = "{d}.events"
tracks_topic = "{d}.tracks"
deadletter_topic = "{d}.dl"
spool_dir = "{path.parent / (deployment + '-spool')}"

[scale]
cells_topic = "{prefix}.cells"
interest_topic = "{d}.interest"
state_topic = "{d}.state"
engine_group = "{d}.engine"
partitions = {PARTITIONS}
cell_deg = {cell_deg}
history_s = {history_s}
checkpoint_interval_s = {checkpoint_interval_s}
session_timeout_s = 6
region_cuts = {list(cuts)}
max_state_bytes = {max_state_bytes}
"""
    )
    return path


def _items(settings: Settings) -> list[TrackUpdate | Notice]:
    return [item for _feed, item in merged_items(settings.feeds, settings) if isinstance(item, (TrackUpdate, Notice))]


def _updates(settings: Settings) -> list[TrackUpdate]:
    return [item for item in _items(settings) if isinstance(item, TrackUpdate)]


def _canonical(props: dict[str, Any]) -> str:
    props = dict(props)
    props.pop("detected_s", None)
    props.pop("detected_at", None)
    return json.dumps(props, sort_keys=True)


def _one_engine(settings: Settings, items: list[TrackUpdate] | list[TrackUpdate | Notice],
                context: list[str] | None = None) -> list[str]:
    """One engine's revisions over ``items``: reports in batches of 500, a notice's zone at its
    place; its context events (--explain) added to ``context``."""
    engine = Engine(settings.proximity, load_catalogue(settings.zones), borders=[line for _n, line in load_borders()],
                    rules=build_rules(settings), land=load_land())
    events = []
    batch: list[TrackUpdate] = []
    for item in [*items, None]:
        if isinstance(item, TrackUpdate):
            batch.append(item)
            if len(batch) < 500:
                continue
        events += engine.process(batch)
        batch = []
        if isinstance(item, Notice):
            events += engine.add_zones([zone_from_notice(item)])
    if context is not None:
        context += [_canonical(json.loads(encode_event(e))["properties"]) for e in engine.take_context()]
    return [_canonical(json.loads(encode_event(e))["properties"]) for e in events]


def _published(bootstrap: str, topic: str) -> list[str]:
    return [_canonical(json.loads(value)["properties"]) for value, _ in read_topic(bootstrap, topic)]


def _ends(bootstrap: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        return sum(consumer.end_offsets(tps).values())
    finally:
        consumer.close()


def _start(config: Path, role: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "closewatch", "run", "-c", str(config), "--role", role, *extra],
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _wait(condition: Any, what: str, logs: list[Path], timeout_s: float = 600.0) -> None:
    deadline = time.monotonic() + timeout_s  # a loaded machine is slow, not wrong
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout_s} s; logs:\n" + "\n".join(p.read_text()[-2000:] for p in logs))
        time.sleep(0.3)


def _write_tracks(path: Path, updates: list[TrackUpdate]) -> Path:
    """``updates`` as a tracks-jsonl recording."""
    from alerts.codec import encode_track

    with path.open("wb") as f:
        for u in updates:
            f.write(encode_track(u) + b"\n")
    return path


def _deployment(config: Path, bootstrap: str, group: str, cells_topic: str, speed: str) -> tuple[Path, list[Path]]:
    """``PARTITIONS`` engine workers of ``config`` started and sharing the partitions, then one
    ingest worker at ``--speed``, until the engine group has judged the cells topic; the logs
    (ingest, engines), beside ``config``."""
    logs = [config.parent / f"engine-{k}.log" for k in range(PARTITIONS)]
    ingest_log = config.parent / "ingest.log"
    engines = [_start(config, "engine", log) for log in logs]
    try:
        _wait(lambda: all(log.exists() and "holds partitions" in log.read_text() for log in logs),
              "the engine workers did not share the partitions", logs)
        ingest = _start(config, "ingest", ingest_log, "--speed", speed)
        assert ingest.wait(600) == 0, ingest_log.read_text()[-3000:]
        end = _ends(bootstrap, cells_topic)
        _wait(lambda: group_lag(bootstrap, group, cells_topic, end) == 0, "the workers did not catch up", logs)
    finally:
        _stop(engines, logs)
    return ingest_log, logs


def _stop(procs: list[subprocess.Popen[bytes]], logs: list[Path]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc, log in zip(procs, logs):
        assert proc.wait(120) == 0, log.read_text()[-3000:]


def _last_assignment(log: Path) -> list[int]:
    """The partitions a worker held after its last rebalance (its log's last "holds partitions")."""
    lines = [ln for ln in log.read_text().splitlines() if "engine worker: holds partitions" in ln]
    return json.loads(lines[-1].split("holds partitions ", 1)[1]) if lines else []


def _no_duplicate_differs(published: list[str]) -> None:
    """Revisions published twice (at least once after a restore) are the same revision."""
    by_revision: dict[tuple[str, int], set[str]] = defaultdict(set)
    for line in published:
        doc = json.loads(line)
        by_revision[(doc["event_id"], doc["seq"])].add(line)
    differing = {k: v for k, v in by_revision.items() if len(v) > 1}
    assert not differing, f"the same event_id and seq with other content: {list(differing)[:3]}"


def _straddling(settings: Settings, updates: list[TrackUpdate], events: list[str]) -> int:
    """Incidents whose tracks' reports were own in more than one partition while they lasted."""
    routes = route_reports(updates, CellGrid(CELL_DEG), settings.proximity, PARTITIONS)
    own_parts: dict[str, set[int]] = defaultdict(set)
    for u, p in zip(updates, routes.own.tolist()):
        own_parts[u.track_id].add(p)
    incidents: dict[str, set[int]] = defaultdict(set)
    for line in events:
        doc = json.loads(line)
        for s in doc.get("subjects", ()):
            incidents[doc["event_id"]] |= own_parts.get(s["track_id"], set())
    return sum(1 for parts in incidents.values() if len(parts) > 1)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    paths = write_scenario(tmp_path_factory.mktemp("workers") / "scenario")
    return {"ais": paths["ais"], "sbs": paths["sbs"], "exercises": paths["exercises"]}


def test_one_and_three_engine_workers_raise_one_engines_events(kafka_broker, topic_prefix, scenario, tmp_path):
    bootstrap = kafka_broker.bootstrap_servers
    archive = tmp_path / "archive"  # written by the ingest worker and the three engine workers
    one = _config(tmp_path / "one.toml", scenario, bootstrap, topic_prefix, "one")
    three = _config(tmp_path / "three.toml", scenario, bootstrap, topic_prefix, "three", archive=archive)
    ingest_config = _config(tmp_path / "ingest.toml", scenario, bootstrap, topic_prefix, "one", archive=archive)
    settings = load_settings(one)
    items = _items(settings)
    updates = _updates(settings)
    expected = _one_engine(settings, items)
    assert len(expected) >= 20, "the scenario's encounters are the subject of this test"
    assert _straddling(settings, updates, expected) >= 3, "encounters across cells of several partitions"
    assert any('"kind": "exercise_near_border"' in e for e in expected), "the notified exercise is judged"

    ingest_log = tmp_path / "ingest.log"
    ingest = _start(ingest_config, "ingest", ingest_log, "--speed", "0")
    assert ingest.wait(300) == 0, ingest_log.read_text()[-3000:]
    assert f"ingest worker: {len(updates)} track updates" in ingest_log.read_text()
    assert "1 notified zones sent to every partition" in ingest_log.read_text()
    # a record that is not a track update, among the others: a dead letter, and the rest goes on
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    producer.send(f"{topic_prefix}.cells", b"{not a track", key=b"garbage", partition=1,
                  headers=[("cw_copy", b"0")]).get(30)
    producer.close()
    end = _ends(bootstrap, f"{topic_prefix}.cells")
    assert end > len(updates) + PARTITIONS + 1, "halo copies on the cells topic"

    for config, workers in ((one, 1), (three, 3)):
        name = config.stem
        logs = [tmp_path / f"{name}-{k}.log" for k in range(workers)]
        procs = [_start(config, "engine", log) for log in logs]
        try:
            _wait(lambda: group_lag(bootstrap, f"{topic_prefix}.{name}.engine", f"{topic_prefix}.cells", end) == 0,
                  f"{workers} engine workers did not judge the cells topic", logs)
        finally:
            _stop(procs, logs)
        got = _published(bootstrap, f"{topic_prefix}.{name}.events")
        assert sorted(got) == sorted(expected), f"{workers} workers: not one engine's events"
        letters = [json.loads(value) for value, _ in read_topic(bootstrap, f"{topic_prefix}.{name}.dl")]
        letters = [d for d in letters if d["feed"].startswith(f"{topic_prefix}.cells")]  # not the feeds' own
        assert [(d["feed"], d["stage"]) for d in letters] == [(f"{topic_prefix}.cells[1]", "decode")], letters
        assert letters[0]["reason"] == "malformed record" and "not a track update" in letters[0]["detail"]
        last = [_last_assignment(log) for log in logs]
        assert sorted(p for parts in last for p in parts) == list(range(PARTITIONS)) and all(last), \
            f"the workers shared the partitions at the end: {last}"
    # the archive of the deployment: the ingest worker's tracks and zones, the engine workers' events
    store = Archive(archive)
    assert sorted(r.kind for r in store.runs()) == ["engine"] * 3 + ["ingest"]
    assert store.read("tracks").num_rows == len(updates)
    assert store.read("zones", where=[("origin", "=", "feed")]).column("zone_id").to_pylist() == [
        zone_from_notice(n).zone_id for n in items if isinstance(n, Notice)]
    archived = {_canonical(event_to_feature(e)["properties"]) for e in events_from_table(store.read("events"))}
    assert archived == set(expected)
    # an analyst's replay of the deployment's archive raises the same revisions
    t = [u.t_s for u in updates]
    out = tmp_path / "replay"
    assert main(["replay", "--from", str(min(t)), "--to", str(max(t) + 1.0), "--archive", str(archive), "--max",
                 "--out", str(out)]) == 0
    replayed = [_canonical(json.loads(line)["properties"]) for line in (out / "events.jsonl").read_text().splitlines()]
    assert set(replayed) == set(expected)


def test_engine_worker_killed_then_one_added_mid_stream(kafka_broker, topic_prefix, scenario, tmp_path):
    """Ingest paced (the recording at 40x: one minute), two engine workers; one is killed with
    SIGKILL once events are out and states written, a third joins later: the events on the topic
    are one engine's, revisions published twice are identical, and partitions were restored (from
    states written in pieces: max_state_bytes is 64 KiB here)."""
    bootstrap = kafka_broker.bootstrap_servers
    # states above 64 KiB go in pieces: the restored states are read back from them
    config = _config(tmp_path / "kill.toml", scenario, bootstrap, topic_prefix, "kill", max_state_bytes=65_536)
    settings = load_settings(config)
    expected = _one_engine(settings, _items(settings))
    events_topic = f"{topic_prefix}.kill.events"
    cells = f"{topic_prefix}.cells"
    group = f"{topic_prefix}.kill.engine"

    logs = [tmp_path / f"engine-{k}.log" for k in range(3)]
    ingest_log = tmp_path / "ingest.log"

    def assignments(log: Path) -> int:
        return log.read_text().count("engine worker: holds partitions") if log.exists() else 0

    engines = [_start(config, "engine", logs[0]), _start(config, "engine", logs[1])]
    procs = list(engines)
    try:
        _wait(lambda: assignments(logs[0]) and assignments(logs[1]), "two engine workers did not share the partitions",
              logs)
        ingest = _start(config, "ingest", ingest_log, "--speed", "40")
        procs.append(ingest)
        _wait(lambda: len(read_topic(bootstrap, events_topic)) >= 5 and -group_lag(bootstrap, group, cells, 0) > 0,
              "no events out and no state written", logs)
        before = assignments(logs[1])
        engines[0].send_signal(signal.SIGKILL)
        engines[0].wait(30)
        _wait(lambda: assignments(logs[1]) > before, "the killed worker's partitions did not move", logs)
        before = assignments(logs[1])
        engines.append(_start(config, "engine", logs[2]))
        procs.append(engines[-1])
        _wait(lambda: assignments(logs[2]) and assignments(logs[1]) > before, "the added worker was given nothing",
              logs)
        assert ingest.wait(300) == 0, ingest_log.read_text()[-3000:]
        end = _ends(bootstrap, cells)
        _wait(lambda: group_lag(bootstrap, group, cells, end) == 0, "the workers did not catch up", logs)
    finally:
        _stop(engines[1:], logs[1:])
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    announced = [json.loads(value) for value, _ in read_topic(bootstrap, f"{topic_prefix}.kill.interest")]
    assert any(doc["tracks"] for doc in announced), "the partitions announced the tracks of their open incidents"
    published = _published(bootstrap, events_topic)
    _no_duplicate_differs(published)
    assert sorted(set(published)) == sorted(set(expected)), "not one engine's events"
    restored = sum(log.read_text().count("restored from") for log in logs[1:])
    assert restored >= 1, "a partition's state moved to another worker"
    pieces = [h["cw_piece"] for _, h in read_topic(bootstrap, f"{topic_prefix}.kill.state") if "cw_piece" in h]
    assert any(b" of " in p for p in pieces), "states written in pieces"


def test_tracks_of_open_incidents_follow_their_owner_by_interest(kafka_broker, topic_prefix, tmp_path):
    """The benchmark's world (1,500 tracks with military aircraft and ships, 240 s of data; 104,976
    updates) read by an ingest worker at 4 times real time while 3 engine workers judge it, with
    1-degree cells as 3 regions planned from the world's first fifth, and no history halo: reports
    of the tracks of open incidents reach their owner's partition by interest (announced on the
    interest topic, followed by the ingest worker), and the events are one engine's. (In one
    process, the same split without interest raises other revisions:
    tests/closewatch/test_partition.py.)"""
    from closewatch.cells import plan_regions

    world = military_world(1_500, 240.0)
    first = world[: len(world) // 5]
    grid = CellGrid(1.0)
    cuts = plan_regions(grid.cells([u.lat_deg for u in first], [u.lon_deg for u in first]), grid, PARTITIONS)
    path = _write_tracks(tmp_path / "world.jsonl", world)
    bootstrap = kafka_broker.bootstrap_servers
    config = _config(tmp_path / "world.toml", {"world": path}, bootstrap, topic_prefix, "world", cell_deg=1.0,
                     history_s=0.0, cuts=cuts)
    settings = load_settings(config)
    updates = _updates(settings)
    expected = _one_engine(settings, updates)
    assert len(expected) >= 100
    own = route_reports(updates, CellGrid(1.0, cuts), settings.proximity, PARTITIONS).own
    assert np.bincount(own, minlength=PARTITIONS).min() > 0.25 * len(updates), "regions of about equal traffic"

    ingest_log, _ = _deployment(config, bootstrap, f"{topic_prefix}.world.engine", f"{topic_prefix}.cells", "4")
    summary = [line for line in ingest_log.read_text().splitlines() if line.startswith("ingest worker:")]
    assert summary, ingest_log.read_text()[-3000:]
    interest_copies = int(summary[0].split(" interest copies")[0].rsplit(", ", 1)[1])
    assert interest_copies > 0, summary[0]
    assert sorted(_published(bootstrap, f"{topic_prefix}.world.events")) == sorted(expected)


def test_engine_workers_publish_one_engines_context_events(kafka_broker, topic_prefix, tmp_path):
    """``--explain`` in a deployment: the benchmark's world (600 tracks, 180 s) under the military
    profile, every track explained, judged by 3 engine workers on 1-degree hashed cells with no
    history halo: the context topic holds one engine's context events (incidents not raised,
    each once, by its owner), and the events topic one engine's revisions."""
    world = military_world(600, 180.0)
    path = _write_tracks(tmp_path / "world.jsonl", world)
    bootstrap = kafka_broker.bootstrap_servers
    config = _config(tmp_path / "explain.toml", {"world": path}, bootstrap, topic_prefix, "explain", cell_deg=1.0,
                     history_s=0.0)
    explained = sorted({u.track_id for u in world})
    config.write_text(config.read_text() + f"""
[rules]
profile = "military"
explain = {json.dumps(explained)}
""")
    settings = load_settings(config)
    updates = _updates(settings)
    context: list[str] = []
    expected = _one_engine(settings, updates, context)
    assert len(expected) >= 20 and len(context) >= 100, (len(expected), len(context))

    _, logs = _deployment(config, bootstrap, f"{topic_prefix}.explain.engine", f"{topic_prefix}.cells", "0")
    assert sorted(_published(bootstrap, f"{topic_prefix}.explain.events.context")) == sorted(context)
    assert sorted(_published(bootstrap, f"{topic_prefix}.explain.events")) == sorted(expected)
    published = sum(int(line.split(" context events")[0].rsplit(", ", 1)[1])
                    for log in logs for line in log.read_text().splitlines() if line.startswith("engine worker:"))
    assert published == len(context)


def test_engine_worker_stops_on_a_record_routed_with_another_layout(kafka_broker, topic_prefix, tmp_path):
    """An ingest worker with other [scale] settings (here other region_cuts) routes reports where
    this engine worker's partitions would not look for them: the engine worker stops (exit code 2)
    naming the record and what must agree, instead of judging the wrong reports."""
    from closewatch.worker import LAYOUT_HEADER

    bootstrap = kafka_broker.bootstrap_servers
    config = _config(tmp_path / "layout.toml", {}, bootstrap, f"{topic_prefix}.layout", "layout", cuts=(1 << 30, 1 << 31))
    log = tmp_path / "engine.log"
    engine = _start(config, "engine", log)
    try:
        _wait(lambda: "holds partitions" in log.read_text(), "the engine worker did not join", [log])
        update = military_world(2, 10.0)[0]
        from alerts.codec import encode_track

        producer = KafkaProducer(bootstrap_servers=bootstrap)
        producer.send(f"{topic_prefix}.layout.cells", encode_track(update), key=b"t", partition=2,
                      headers=[("cw_copy", b"0"), (LAYOUT_HEADER, b"0123456789abcdef")]).get(30)
        producer.close()
        assert engine.wait(120) == 2, log.read_text()[-3000:]
    finally:
        if engine.poll() is None:
            engine.kill()
    text = log.read_text()
    assert f"{topic_prefix}.layout.cells[2] offset 0 was routed by an ingest worker with another layout" in text, text
    assert "region_cuts" in text


def _raw_config(tmp_path: Path, bootstrap: str, prefix: str, raw: str, group: str,
                checkpoint_interval_s: float = 0.5) -> Path:
    """A worker configuration whose one feed is the raw topic ``raw`` of normalised tracks, read in ``group``."""
    config = tmp_path / "raw.toml"
    base = _config(tmp_path / "base.toml", {}, bootstrap, prefix, "raw", checkpoint_interval_s=checkpoint_interval_s)
    config.write_text(base.read_text() + f"""
[[feeds]]
name = "raw"
format = "tracks-jsonl"
transport = "kafka"
topic = "{raw}"
group_id = "{group}"
start_from = "earliest"
""")
    return config


def _send_raw(bootstrap: str, raw: str, updates: list[TrackUpdate]) -> None:
    """``updates`` on partition 0 of the raw topic ``raw``, as a feed would write them."""
    from alerts.codec import encode_track

    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    for u in updates:
        producer.send(raw, encode_track(u), partition=0)
    producer.flush(60)
    producer.close()


def _own_on_cells(bootstrap: str, cells: str) -> list[tuple[str, float]]:
    """(track_id, t_s) of the own (not halo) records on the cells topic."""
    return [(doc["track_id"], doc["t_s"]) for doc in
            (json.loads(value) for value, headers in read_topic(bootstrap, cells) if headers.get("cw_copy") == b"0")]


def test_an_ingest_worker_on_a_raw_topic_commits_only_what_reached_the_cells_topic(kafka_broker, topic_prefix,
                                                                                   scenario, tmp_path):
    """The scenario's normalised tracks on a raw topic, read by an ingest worker in a consumer
    group: the group's committed offset never runs ahead of the updates on the cells topic; the
    worker killed with SIGKILL after the first half, the second half sent, a new worker started:
    the cells topic holds every update as its own record (some twice, none skipped)."""
    bootstrap = kafka_broker.bootstrap_servers
    updates = _updates(load_settings(_config(tmp_path / "scenario.toml", scenario, bootstrap, topic_prefix, "x")))
    raw, group = f"{topic_prefix}.raw", f"{topic_prefix}.raw-ingest"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(raw, 1, 1)])
    admin.close()
    config = _raw_config(tmp_path, bootstrap, topic_prefix, raw, group)
    cells = f"{topic_prefix}.cells"

    half = len(updates) // 2
    _send_raw(bootstrap, raw, updates[:half])
    log = tmp_path / "ingest.log"
    ingest = _start(config, "ingest", log)
    try:
        def caught_up(end: int) -> bool:
            committed = end - group_lag(bootstrap, group, raw, end)
            assert committed <= len(_own_on_cells(bootstrap, cells)), \
                "an offset committed before its update reached the cells topic"
            return committed == end

        _wait(lambda: caught_up(half), "the first half was not committed", [log])
        ingest.send_signal(signal.SIGKILL)
        ingest.wait(30)
        _send_raw(bootstrap, raw, updates[half:])
        ingest = _start(config, "ingest", log)
        _wait(lambda: caught_up(len(updates)), "the second half was not committed", [log])
    finally:
        if ingest.poll() is None:
            _stop([ingest], [log])
    seen = _own_on_cells(bootstrap, cells)
    assert set(seen) == {(u.track_id, u.t_s) for u in updates}
    assert len(seen) >= len(updates)


def test_an_ingest_worker_stopped_with_sigterm_commits_what_it_routed(kafka_broker, topic_prefix, scenario, tmp_path):
    """SIGTERM: what the worker read from its raw topic and routed (acknowledged on the cells
    topic) is committed before its consumer closes, so the next worker does not read it again.
    With a checkpoint interval of an hour, no periodic commit happens in the test: only that
    last one (before this, nothing would have been committed)."""
    bootstrap = kafka_broker.bootstrap_servers
    prefix = f"{topic_prefix}.term"
    updates = _updates(load_settings(_config(tmp_path / "scenario.toml", scenario, bootstrap, prefix, "x")))[:300]
    raw, group = f"{prefix}.raw", f"{prefix}.raw-ingest"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(raw, 1, 1)])
    admin.close()
    _send_raw(bootstrap, raw, updates)
    config = _raw_config(tmp_path, bootstrap, prefix, raw, group, checkpoint_interval_s=3600.0)
    log = tmp_path / "ingest.log"
    ingest = _start(config, "ingest", log)
    try:
        _wait(lambda: len(_own_on_cells(bootstrap, f"{prefix}.cells")) >= len(updates), "the updates were not routed",
              [log])
        assert group_lag(bootstrap, group, raw, len(updates)) == len(updates), "committed before the stop"
    finally:
        _stop([ingest], [log])
    assert group_lag(bootstrap, group, raw, len(updates)) == 0, log.read_text()[-3000:]


def test_an_ingest_worker_commits_no_raw_input_the_cells_topic_refused(kafka_broker, topic_prefix, scenario,
                                                                       tmp_path):
    """A cells topic that refuses every record (its max.message.bytes below a track's): the worker
    publishes the tracks on the public topic, commits nothing of the raw topic in that time (the
    input stays for a worker that can deliver it), and exits 1 naming the records not delivered.
    (With kafka-python's automatic commit, the raw offsets were committed and the input lost.)"""
    bootstrap = kafka_broker.bootstrap_servers
    prefix = f"{topic_prefix}.refuse"
    updates = _updates(load_settings(_config(tmp_path / "scenario.toml", scenario, bootstrap, prefix, "x")))[:200]
    raw, group = f"{prefix}.raw", f"{prefix}.raw-ingest"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(raw, 1, 1),
                         NewTopic(f"{prefix}.cells", PARTITIONS, 1, topic_configs={"max.message.bytes": "100"})])
    admin.close()
    _send_raw(bootstrap, raw, updates)
    config = _raw_config(tmp_path, bootstrap, prefix, raw, group)
    log = tmp_path / "ingest.log"
    ingest = _start(config, "ingest", log)
    try:
        _wait(lambda: len(read_topic(bootstrap, f"{prefix}.raw.tracks")) >= len(updates),
              "the tracks were not published", [log])
        time.sleep(6.0)  # past kafka-python's automatic commit interval (5 s) and several checkpoint intervals
        assert group_lag(bootstrap, group, raw, len(updates)) == len(updates), "raw input committed"
    finally:
        ingest.send_signal(signal.SIGTERM)
        code = ingest.wait(120)
    assert code == 1, log.read_text()[-3000:]
    assert "records not delivered" in log.read_text()
    assert group_lag(bootstrap, group, raw, len(updates)) == len(updates)
