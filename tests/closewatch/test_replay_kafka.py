"""Replay and archive import from the Kafka topics of a live run on the real broker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from alerts.producer import KafkaSink
from closewatch.archive import Archive
from closewatch.archive.schema import events_from_table, tracks_from_table
from closewatch.replay import Window, canonical_lines, run_replay
from closewatch.replay_inputs import from_kafka
from config.settings import KafkaSettings
from config.times import format_utc
from live_demo import LiveDemo, run_live, write_shifted_scenario

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture(scope="module")
def kafka_live(kafka_broker, tmp_path_factory: pytest.TempPathFactory) -> tuple[LiveDemo, KafkaSettings]:
    """The shifted demo run live with the Kafka sink as well (its own topics and archive)."""
    out = tmp_path_factory.mktemp("kafka-live")
    paths, t0 = write_shifted_scenario(out)
    from config.settings import load_settings

    kafka = KafkaSettings(bootstrap_servers=kafka_broker.bootstrap_servers, events_topic="replay.events",
                          tracks_topic="replay.tracks", deadletter_topic="replay.dl", spool_dir=str(out / "spool"))
    settings = load_settings(paths["config"]).model_copy(update={"kafka": kafka})
    # the Kafka sink of build_sinks, and the archive; the JSON Lines files too, for the import test
    jsonl = settings.model_copy(update={"kafka": None})
    from contextlib import ExitStack

    with ExitStack() as stack:
        sink = KafkaSink(kafka)
        stack.callback(sink.close)
        events = run_live(jsonl, [sink])
    return LiveDemo(out, paths, settings, t0, events), kafka


@pytest.mark.parametrize("span", [(600.0, 1500.0), (1100.0, 1250.0), (2700.0, 3000.0)],
                         ids=["across-the-hour", "inside-an-incident", "after-the-data"])
def test_kafka_replay_gives_the_live_revisions(kafka_live, span) -> None:
    live, kafka = kafka_live
    w = Window(live.t0_s + span[0], live.t0_s + span[1])
    inp = from_kafka(live.settings, w)
    assert inp.recorded and inp.source.startswith("Kafka topic replay.tracks")
    result = run_replay(inp.settings, inp.zones, inp.items, w, start_s=inp.start_s)
    assert canonical_lines(result.events) == canonical_lines([e for e in live.events if w.contains(e)])


def test_cli_replay_from_kafka_and_import_by_time(kafka_live, tmp_path: Path) -> None:
    live, kafka = kafka_live
    cfg = tmp_path / "k.toml"
    cfg.write_text(live.paths["config"].read_text().replace(str(live.archive), str(tmp_path / "imported"))
                   + f'\n[kafka]\nbootstrap_servers = "{kafka.bootstrap_servers}"\nevents_topic = "replay.events"\n'
                     f'tracks_topic = "replay.tracks"\ndeadletter_topic = "replay.dl"\n')
    frm, to = format_utc(live.t0_s + 600.0), format_utc(live.t0_s + 1500.0)
    proc = subprocess.run([sys.executable, "-m", "closewatch", "replay", "--source", "kafka", "-c", str(cfg),
                           "--from", frm, "--to", to], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    n = len([e for e in live.events if live.t0_s + 600.0 <= e.t_s < live.t0_s + 1500.0])
    assert f"events in the window: {n} revisions" in proc.stdout
    imp = subprocess.run([sys.executable, "-m", "closewatch", "archive", "import", "--kafka", "-c", str(cfg),
                          "--from", frm, "--to", to], capture_output=True, text=True, cwd=tmp_path)
    assert imp.returncode == 0, imp.stderr
    assert "import replay.tracks" in imp.stderr  # the progress, as log lines off a terminal
    archive = Archive(tmp_path / "imported")
    tracks = tracks_from_table(archive.read("tracks"))
    live_tracks = [u for u in tracks_from_table(Archive(live.archive).read("tracks"))
                   if live.t0_s + 600.0 <= u.t_s < live.t0_s + 1500.0]
    key = lambda u: (u.t_s, u.track_id)  # noqa: E731
    # the tracks topic carries every field but the altitude reference and the geometric height
    assert [(u.track_id, u.t_s, u.lat_deg, u.lon_deg, u.alt_m) for u in sorted(tracks, key=key)] == \
        [(u.track_id, u.t_s, u.lat_deg, u.lon_deg, u.alt_m) for u in sorted(live_tracks, key=key)]
    events = events_from_table(archive.read("events"))
    assert canonical_lines(events) == canonical_lines(
        [e for e in live.events if live.t0_s + 600.0 <= e.t_s < live.t0_s + 1500.0])
