"""A run over real feed lines: copies of one AIS message are one report and are counted in the
run summary; the configured classification reaches the decoders; the tracks carry it."""

from __future__ import annotations

from pathlib import Path

from closewatch.cmd_run import _print_summary
from closewatch.pipeline import Pipeline
from closewatch.sinks import RecorderSink
from config.settings import parse_settings
from ingest.ais import encode_nmea

T0 = 1_714_564_800.0  # 2024-05-01T12:00:00Z


def _settings(tmp_path: Path, path: Path, **classification: object):
    return parse_settings({
        "feeds": [{"name": "ais", "format": "ais-nmea", "path": str(path)}],
        "zones": {"catalogue": "none"},
        "classification": classification,
        "sinks": {"events_jsonl": str(tmp_path / "e.jsonl"), "deadletter_jsonl": str(tmp_path / "d.jsonl")},
    })


def test_copies_are_counted_in_the_run_summary_and_the_classification_is_the_configured_one(tmp_path, capsys):
    fields = {"type": 1, "mmsi": 273123456, "lat": 59.9, "lon": 26.5, "speed": 10.0, "course": 90.0, "status": 0}
    lines = []
    for k in range(3):  # three reports 30 s apart, each heard by three base stations within 2 s
        for station, lag_s in (("rx1", 0.0), ("rx2", 0.4), ("rx3", 1.9)):
            lines += encode_nmea({**fields, "lat": 59.9 + k / 100}, T0 + 30 * k + lag_s, source=station)
    path = tmp_path / "ais.nmea"
    path.write_bytes(b"\n".join(lines) + b"\n")
    sink = RecorderSink()
    summary = Pipeline(_settings(tmp_path, path, military_mmsi=[273123456]), [sink]).run()
    assert summary.updates == 3 and summary.duplicates_per_feed == {"ais": 6}
    (trail,) = sink.tracks.values()
    assert [(u.t_s, u.receiver) for u in trail] == [(T0, "rx1"), (T0 + 30, "rx1"), (T0 + 60, "rx1")]
    assert {(u.category, u.category_source, u.nav_status) for u in trail} == {("military", "config_list", 0)}
    _print_summary(summary, _settings(tmp_path, path))
    assert "duplicates (one message heard by several receivers): 6 (ais: 6)" in capsys.readouterr().out
