"""What the default profile raises on a synthetic Baltic hour and on the real AIS recording."""

from __future__ import annotations

from pathlib import Path

import pytest

from closewatch.pipeline import Pipeline
from closewatch.rules import build_rules
from closewatch.scenario.traffic import ENCOUNTERS, baltic_hour
from closewatch.sinks import RecorderSink
from config.settings import ProximitySettings, RuleSettings, Settings, load_settings
from config.zones import load_catalogue
from proximity.engine import Engine


def _pairs(events):
    return {tuple(sorted(s.track_id for s in e.subjects)) for e in events if e.state == "open" and len(e.subjects) == 2}


@pytest.mark.slow
def test_every_known_military_encounter_raised_and_no_civil_pair():
    reports = baltic_hour(ships=150, aircraft=40)
    zones = load_catalogue(Settings().zones)
    out = {}
    for profile in ("military", "all-traffic"):
        eng = Engine(ProximitySettings(), zones, rules=build_rules(Settings(rules=RuleSettings(profile=profile))),
                     wall_clock=lambda: 0.0)
        events = []
        for i in range(0, len(reports), 4096):
            events += eng.process(reports[i : i + 4096])
        out[profile] = (events + eng.finish(), eng)
    events, eng = out["military"]
    pairs = _pairs(events)
    for e in ENCOUNTERS:
        assert tuple(sorted((e.a, e.b))) in pairs, e.name
    assert not [e for e in events if len(e.subjects) == 2 and all(s.category == "civil" for s in e.subjects)]
    assert sum(eng.suppressed.values()) > 0
    # the two military pairs below half the threshold are critical; the mixed ones at most warning
    worst = {}
    for ev in events:
        key = tuple(sorted(s.track_id for s in ev.subjects))
        if ev.kind == "close_approach":
            worst[key] = max(worst.get(key, "info"), ev.severity, key=("info", "warning", "critical").index)
    for e in ENCOUNTERS:
        expected = "critical" if e.cat_a == e.cat_b == "military" else "warning"
        assert worst[tuple(sorted((e.a, e.b)))] == expected, e.name
    # all-traffic raises the civil pairs the density brings
    civil_pairs = [e for e in out["all-traffic"][0]
                   if len(e.subjects) == 2 and all(s.category == "civil" for s in e.subjects)]
    assert civil_pairs


@pytest.mark.realdata
def test_the_real_dma_recording_raises_no_civil_pair(shared_data: Path, tmp_path: Path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[[feeds]]\nname = "dma"\nformat = "ais-nmea"\ntransport = "file"\n'
                   f'path = "{shared_data / "ais" / "dma_aisabnormal_ais-sample.txt.gz"}"\n', encoding="utf-8")
    runs = {}
    for profile in ("military", "all-traffic"):
        settings = load_settings(cfg)
        settings = settings.model_copy(update={"rules": RuleSettings(profile=profile)})
        sink = RecorderSink()
        summary = Pipeline(settings, [sink]).run()
        runs[profile] = (sink.events, summary)
    events, summary = runs["military"]
    # every ship of the sample is a merchant, fishing or pleasure vessel or unknown: nothing raised
    assert events == [] and summary.profile == "military@2"
    assert summary.suppressed.get(("close_approach", "stationary"), 0) >= 1
    # what military leaves out is exactly what all-traffic raises: each incident counted once
    all_events, all_summary = runs["all-traffic"]
    assert all_summary.suppressed == {}
    assert sum(summary.suppressed.values()) == len({f["properties"]["event_id"] for f in all_events}) > 0
