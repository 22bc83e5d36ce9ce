"""The rules of a run: the committed profile and port areas as `closewatch run` builds them."""

from __future__ import annotations

import json

import pytest
from pyproj import Geod

from closewatch.rules import build_rules, load_ports
from config.records import TrackUpdate
from config.settings import ConfigError, ProximitySettings, RuleSettings, Settings
from config.zones import load_catalogue
from proximity.engine import Engine

GEOD = Geod(ellps="WGS84")
T0 = 1_700_000_000.0
KIEL = (10.135231, 54.318077)  # UN/LOCODE DEKEL, config/data/ports/ports.geojson
ST_PETERSBURG = (30.211921, 59.956719)  # RULED


def _at(lon, lat, bearing, dist_m):
    x, y, _ = GEOD.fwd(lon, lat, bearing, dist_m)
    return float(x), float(y)


def _ship(tid, t, lon, lat, side, category, **kw):
    return TrackUpdate(track_id=tid, source="test", t_s=t, lat_deg=lat, lon_deg=lon, domain="sea", side=side,
                       category=category, **kw)


def _harbour_pair(cat_de, cat_ru, **kw):
    """A German and a Russian ship 110 m apart, manoeuvring slowly (not stationary) in Kiel."""
    out = []
    for k in range(30):
        t = T0 + 10 * k
        a = _at(*KIEL, 90.0, 500.0 + 1.5 * 10 * k)
        out.append(_ship("ais:211000001", t, *a, "nato", cat_de, speed_mps=1.5, course_deg=90.0, **kw))
        out.append(_ship("ais:273000001", t + 1, *_at(*a, 0.0, 110.0), "russia", cat_ru, speed_mps=1.5,
                         course_deg=90.0, **kw))
    return out


def _run(settings, reports, zones=()):
    eng = Engine(ProximitySettings(), list(zones), rules=build_rules(settings), wall_clock=lambda: 0.0)
    events = eng.process(reports) + eng.finish()
    return eng, events


def test_the_committed_ports_cover_the_watched_seas():
    areas = load_ports(RuleSettings())
    assert len(areas) > 500
    rules = build_rules(Settings())
    assert rules.profile.label == "military@3"
    import numpy as np

    inside = [KIEL, ST_PETERSBURG, _at(*KIEL, 45.0, 2_900.0)]
    outside = [_at(*KIEL, 45.0, 3_100.0), (20.0, 55.5)]  # beyond 3 km; the open Baltic
    pts = inside + outside
    ctx = rules.report_context(np.arange(len(pts)), [_ship(f"ais:{i}", T0, x, y, "nato", "civil") for i, (x, y) in
                                                      enumerate(pts)],
                               np.full(len(pts), T0), np.array([p[0] for p in pts]), np.array([p[1] for p in pts]),
                               np.full(len(pts), np.nan), np.full(len(pts), 5.0), np.ones(len(pts), np.int8),
                               np.full(len(pts), np.nan))
    assert ctx.in_port.tolist() == [True, True, True, False, False]


def test_civil_ships_of_both_sides_in_port_raise_nothing():
    eng, events = _run(Settings(), _harbour_pair("civil", "civil"))
    assert events == [] and eng.suppressed == {("close_approach", "in_port"): 1}
    # today's behaviour: the critical close approach of the issue
    all_traffic = Settings(rules=RuleSettings(profile="all-traffic"))
    _, events = _run(all_traffic, _harbour_pair("civil", "civil"))
    opened = [e for e in events if e.state == "open"]
    assert [(e.kind, e.severity) for e in opened] == [("close_approach", "critical")]
    assert all(s.in_port for s in opened[0].subjects)


def test_a_warship_in_port_near_a_civil_ship_of_the_other_side_is_raised():
    _, events = _run(Settings(), _harbour_pair("military", "civil"))
    opened = [e for e in events if e.state == "open"]
    assert [(e.kind, e.severity, e.rule) for e in opened] == [
        ("close_approach", "warning", "military@3/close-military-civil")]


def test_a_nato_merchant_ship_moored_in_a_russian_port_opens_no_zone_entry():
    zones = load_catalogue(Settings().zones)
    ship = [_ship("ais:240000001", T0 + 30 * k, *_at(*ST_PETERSBURG, 270.0, 800.0), "nato", "civil",
                  speed_mps=0.0, nav_status=5) for k in range(40)]
    eng, events = _run(Settings(), ship, zones)
    assert events == []
    assert eng.suppressed.get(("zone_entry", "in_port"), 0) >= 1
    _, events = _run(Settings(rules=RuleSettings(profile="all-traffic")), ship, zones)
    assert any(e.kind == "zone_entry" and e.state == "open" for e in events)


def test_custom_port_files_load_and_bad_ones_name_the_key(tmp_path):
    good = tmp_path / "ports.geojson"
    good.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Anchorage A"},
         "geometry": {"type": "Polygon", "coordinates": [[[20, 55], [20.1, 55], [20.1, 55.1], [20, 55.1], [20, 55]]]}}]}))
    areas = load_ports(RuleSettings(ports="none", custom_ports=(str(good),)))
    assert len(areas) == 1
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [20, 55]}}]}))
    with pytest.raises(ConfigError, match=r"rules\.custom_ports\.0: .*bad\.geojson: feature 0: a Point"):
        load_ports(RuleSettings(ports="none", custom_ports=(str(bad),)))
    from closewatch.preflight import check_settings

    with pytest.raises(ConfigError, match=r"rules\.custom_ports\.0"):
        check_settings(Settings(rules=RuleSettings(custom_ports=(str(bad),))), "t.toml", run=False)
    with pytest.raises(ConfigError, match=r"rules\.profile"):
        check_settings(Settings(rules=RuleSettings(profile="navy")), "t.toml", run=False)


def test_run_explain_writes_context_events_and_the_summary_counts(tmp_path, capsys, monkeypatch):
    from alerts.codec import encode_track
    from closewatch.cli import main

    feed = tmp_path / "tracks.jsonl"
    feed.write_bytes(b"".join(encode_track(u) + b"\n" for u in _harbour_pair("civil", "civil")))
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[[feeds]]\nname = "t"\nformat = "tracks-jsonl"\ntransport = "file"\npath = "{feed}"\n'
                   f'[sinks]\nevents_jsonl = "{tmp_path}/e.jsonl"\ndeadletter_jsonl = "{tmp_path}/d.jsonl"\n'
                   f'context_jsonl = "{tmp_path}/ctx.jsonl"\n', encoding="utf-8")
    assert main(["run", "-c", str(cfg), "--explain", "ais:273000001"]) == 0
    out = capsys.readouterr().out
    assert "rule profile: military@3" in out
    # the close approach, and the Russian ship's entry into German territorial waters: in port
    assert ("not raised (incidents by kind and reason): 2 (close_approach in_port: 1, "
            "zone_entry in_port: 1)") in out
    assert (tmp_path / "e.jsonl").read_text() == ""
    context = [json.loads(line)["properties"] for line in (tmp_path / "ctx.jsonl").read_text().splitlines()]
    ca = [c for c in context if c["kind"] == "close_approach"]
    assert [c["state"] for c in ca] == ["open", "closed"]
    assert {c["suppressed"] for c in context} == {"in_port"}
    assert "context events (--explain): " in out
    assert main(["run", "-c", str(cfg), "--profile", "all-traffic"]) == 0
    assert "rule profile: all-traffic@1" in capsys.readouterr().out
    assert (tmp_path / "e.jsonl").read_text().count('"state":"open"') == 2  # both raised
    assert main(["run", "-c", str(cfg), "--profile", "navy"]) == 2


@pytest.mark.kafka
def test_run_explain_publishes_context_events_to_their_topic_and_tail_reads_them(
        tmp_path, capsys, kafka_broker, topic_prefix):
    from kafka_fixtures import read_topic
    from referencing import Registry, Resource
    from jsonschema import Draft202012Validator

    from alerts.codec import encode_track, load_schema
    from closewatch.cli import main

    feed = tmp_path / "tracks.jsonl"
    feed.write_bytes(b"".join(encode_track(u) + b"\n" for u in _harbour_pair("civil", "civil")))
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[[feeds]]\nname = "t"\nformat = "tracks-jsonl"\ntransport = "file"\npath = "{feed}"\n'
                   f'[sinks]\ncontext_jsonl = "{tmp_path}/ctx.jsonl"\n'
                   f'[kafka]\nbootstrap_servers = "{kafka_broker.bootstrap_servers}"\n'
                   f'events_topic = "{topic_prefix}.events"\ntracks_topic = "{topic_prefix}.tracks"\n'
                   f'deadletter_topic = "{topic_prefix}.dl"\nspool_dir = "{tmp_path}/spool"\n', encoding="utf-8")
    assert main(["run", "-c", str(cfg), "--explain", "ais:273000001"]) == 0
    out = capsys.readouterr().out
    assert f"-> {tmp_path}/ctx.jsonl and topic {topic_prefix}.events.context" in out
    got = read_topic(kafka_broker.bootstrap_servers, f"{topic_prefix}.events.context")
    # the same context events as the file, each in the context schema, with its own CloudEvents type
    assert sorted(v for v, _ in got) == sorted((tmp_path / "ctx.jsonl").read_bytes().splitlines())
    event_schema, context_schema = load_schema("event.v1.json"), load_schema("context.v1.json")
    registry: Registry = Registry().with_resource(event_schema["$id"], Resource.from_contents(event_schema))
    validator = Draft202012Validator(context_schema, registry=registry)
    kinds = set()
    for value, headers in got:
        p = json.loads(value)["properties"]
        validator.validate(json.loads(value))
        assert p["suppressed"] == "in_port"
        assert headers["ce_type"] == f"org.closewatch.context.{p['kind']}.v1".encode()
        kinds.add(p["kind"])
    assert kinds == {"close_approach", "zone_entry"}
    assert read_topic(kafka_broker.bootstrap_servers, f"{topic_prefix}.events") == []  # nothing raised

    # --max: done once all are read (a timeout on a loaded machine could cut it short)
    tail = ["tail", "--config", str(cfg), "--context", "--from-beginning", "--timeout-s", "60"]
    assert main([*tail, "--max", str(len(got))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(got) and all("NOT-RAISED:in_port" in ln for ln in lines)
    zone_entries = sum(json.loads(v)["properties"]["kind"] == "zone_entry" for v, _ in got)
    assert main([*tail, "--json", "--kind", "zone_entry", "--max", str(zone_entries)]) == 0
    zone = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    assert len(zone) == zone_entries and {z["properties"]["kind"] for z in zone} == {"zone_entry"}
