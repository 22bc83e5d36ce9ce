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
    assert events == [] and summary.profile == "military@3"
    assert summary.suppressed.get(("close_approach", "stationary"), 0) >= 1
    # what military leaves out is exactly what all-traffic raises: each incident counted once
    all_events, all_summary = runs["all-traffic"]
    assert all_summary.suppressed == {}
    assert sum(summary.suppressed.values()) == len({f["properties"]["event_id"] for f in all_events}) > 0


@pytest.mark.realdata
@pytest.mark.slow
def test_anchored_ships_of_the_real_dma_recording_raise_nothing_under_military(shared_data: Path, tmp_path: Path):
    """No registry package ships anchorage areas for the watched seas under a usable licence, so
    the stationary rule carries anchored ships (AIS navigational status 1, ITU-R M.1371-5
    Table 45). The DMA sample has about fifty of them; at the Skagen anchorage a Russian-flagged
    ship lies at anchor 2.7 km from a Greek one. With a 3-km sea threshold (so that this real
    pair counts) all-traffic raises their close approach; military raises nothing and says why."""
    import json

    from closewatch.sinks import ContextFileSink

    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[[feeds]]\nname = "dma"\nformat = "ais-nmea"\ntransport = "file"\n'
                   f'path = "{shared_data / "ais" / "dma_aisabnormal_ais-sample.txt.gz"}"\n'
                   f'[proximity.thresholds]\nsea_sea_m = 3000.0\n', encoding="utf-8")
    base = load_settings(cfg)
    sink = RecorderSink()
    Pipeline(base.model_copy(update={"rules": RuleSettings(profile="all-traffic")}), [sink]).run()
    anchored = {t for t, trail in sink.tracks.items() if any(u.nav_status == 1 for u in trail)}
    assert len(anchored) >= 40
    skagen = ("ais:240335000", "ais:273318100")  # Greek and Russian flag, both at anchor
    assert skagen[0] in anchored and skagen[1] in anchored
    raised = [f["properties"] for f in sink.events if f["properties"]["state"] == "open"]
    with_anchored = [p for p in raised if any(s["track_id"] in anchored for s in p["subjects"])]
    assert skagen in {tuple(sorted(s["track_id"] for s in p["subjects"])) for p in with_anchored
                      if p["kind"] == "close_approach"}

    context = ContextFileSink(tmp_path / "context.jsonl")
    military = base.model_copy(update={"rules": RuleSettings(profile="military", explain=tuple(sorted(anchored)))})
    recorder = RecorderSink()
    summary = Pipeline(military, [recorder, context]).run()
    assert recorder.events == []  # nothing raised, anchored or not
    assert summary.suppressed.get(("close_approach", "stationary"), 0) >= 1
    explained = [json.loads(line)["properties"] for line in (tmp_path / "context.jsonl").read_text().splitlines()]
    opened = [p for p in explained if p["state"] == "open"]
    # every incident all-traffic raised with an anchored ship is explained, once
    assert sorted(p["event_id"] for p in opened) == sorted(p["event_id"] for p in with_anchored)
    pair = [p for p in opened if tuple(sorted(s["track_id"] for s in p["subjects"])) == skagen]
    assert [(p["kind"], p["suppressed"]) for p in pair] == [("close_approach", "stationary")]
    assert all(s["stationary"] for s in pair[0]["subjects"])
    # an anchored ship in the territorial sea of the other side: not raised while its stop is
    # shorter than [rules] passage_stop_s (the sample lasts five minutes)
    entry = [p for p in opened if p["kind"] == "zone_entry" and p["subjects"][0]["track_id"] == skagen[1]]
    assert [p["suppressed"] for p in entry] == ["suppressed_by_rule"]


@pytest.mark.realdata
@pytest.mark.slow
def test_an_anchored_ship_of_the_other_side_in_the_territorial_sea_and_a_custom_anchorage(
        shared_data: Path, tmp_path: Path):
    """Without anchorage areas an anchored ship is *stopped* for innocent passage: the Russian-flagged
    ship of the DMA recording at the Skagen anchorage, its last report held for 30 more minutes, is
    raised once it has been stopped for [rules] passage_stop_s. An anchorage drawn as a custom port
    polygon makes it in_port: nothing is raised."""
    import dataclasses
    import json

    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[[feeds]]\nname = "dma"\nformat = "ais-nmea"\ntransport = "file"\n'
                   f'path = "{shared_data / "ais" / "dma_aisabnormal_ais-sample.txt.gz"}"\n', encoding="utf-8")
    sink = RecorderSink()
    Pipeline(load_settings(cfg).model_copy(update={"rules": RuleSettings(profile="all-traffic")}), [sink]).run()
    reports = sorted((u for trail in sink.tracks.values() for u in trail), key=lambda u: u.t_s)
    ship = sink.tracks["ais:273318100"][-1]
    assert (ship.side, ship.category, ship.nav_status) == ("russia", "civil", 1)
    held = [dataclasses.replace(ship, t_s=reports[-1].t_s + 30.0 * k) for k in range(1, 61)]
    skagen_anchorage = tmp_path / "anchorage.geojson"  # a box of 6 x 4 km around the anchored ships
    skagen_anchorage.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": "Skagen anchorage (test)"},
        "geometry": {"type": "Polygon", "coordinates": [[[10.60, 57.61], [10.70, 57.61], [10.70, 57.65],
                                                         [10.60, 57.65], [10.60, 57.61]]]}}]}))
    zones = load_catalogue(Settings().zones)
    out = {}
    for name, rules in (("military", RuleSettings()),
                        ("with the anchorage", RuleSettings(custom_ports=(str(skagen_anchorage),)))):
        eng = Engine(ProximitySettings(), zones, rules=build_rules(Settings(rules=rules)), wall_clock=lambda: 0.0)
        events = []
        for i in range(0, len(reports), 4096):
            events += eng.process(reports[i : i + 4096])
        out[name] = ([e for e in events + eng.process(held) + eng.finish() if e.state == "open"], eng.suppressed)
    raised, _ = out["military"]
    assert [(e.kind, e.rule, e.subjects[0].track_id, e.metrics["passage_stopped"]) for e in raised] == [
        ("zone_entry", "military@3/territorial-not-innocent", "ais:273318100", 1.0)]
    raised, suppressed = out["with the anchorage"]
    assert raised == [] and suppressed.get(("zone_entry", "in_port"), 0) == 1
