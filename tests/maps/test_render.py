"""The static situation map and the GeoJSON it draws from (events made by the real engine and codec)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pyproj import Geod
from spoil import DELETE, spoilt

from alerts.codec import decode_event, encode_event, event_from_feature
from maps.assets import AssetStore
from maps.errors import MapInputError
from maps.events import event_features, latest_revisions, read_event
from maps.features import track_feature
from maps.page import check_offline
from maps.render import render_situation_map
from config.times import format_utc


def embedded_features(page: str) -> list[dict[str, Any]]:
    """Every feature folium embedded in the page (``geo_json_..._add({...});``)."""
    feats = []
    for blob in re.findall(r"geo_json_\w+_add\((\{.*?\})\);\n", page):
        feats += json.loads(blob)["features"]
    return feats


def test_page_is_self_contained_and_draws_the_situation(situation: Any, asset_store: AssetStore,
                                                        tmp_path: Path) -> None:
    out = render_situation_map(tmp_path / "m.html", zones=situation.zones, tracks=situation.tracks,
                               events=situation.events, title="test", store=asset_store)
    page = out.read_text()
    check_offline(page, "situation map")
    assert "<script src=" not in page and 'rel="stylesheet"' not in page  # everything inlined
    feats = embedded_features(page)
    by_layer: dict[str, list[str]] = {}
    for f in feats:
        by_layer.setdefault(f["properties"]["layer"], []).append(f["properties"]["id"])
    assert sorted(by_layer["track"]) == sorted(situation.tracks)
    assert len(by_layer["trail"]) == 5
    predicted = situation.event_id("predicted_close_approach")
    assert sorted(by_layer["event"]) == sorted([predicted, situation.event_id("zone_entry"),
                                                situation.event_id("bomber_sortie")])
    assert by_layer["event_line"] == [f"{predicted}:line"]
    assert len(by_layer["cpa"]) == 2
    # exercise zones only while active at the data time
    assert "zone:ex-active" in by_layer["zone"] and "zone:ex-expired" not in by_layer["zone"]
    # the feed string is data inside JSON, never markup in the page
    assert situation.injection not in page
    assert any(f["properties"]["popup"]["title"] == situation.injection for f in feats if f["properties"]["layer"] == "track")


def test_track_feature_carries_heading_and_units(situation: Any) -> None:
    u = situation.tracks["icao:4b1a2c"][-1]
    f = track_feature(u)
    p = f["properties"]
    assert f["geometry"]["coordinates"] == [u.lon_deg, u.lat_deg]
    assert p["rotation_deg"] == 270.0 and p["side"] == "russia" and p["domain"] == "air"
    rows = dict(p["popup"]["rows"])
    assert rows["Altitude"] == "31,168 ft (9,500 m)"
    assert rows["Speed"] == "233.3 kn"
    assert rows["Type"] == "TU95"
    assert rows["Time"] == "2024-05-01T10:40:00Z"


def test_the_situation_events_are_values_of_the_events_topic(engagement: Any) -> None:
    """The map fixtures are what the engine emits, as the schema of the topic describes it."""
    from jsonschema import Draft202012Validator

    from alerts.codec import load_schema

    validator = Draft202012Validator(load_schema("event.v1.json"))
    kinds = [e["properties"]["kind"] for e in engagement.events]
    assert set(kinds) == {"zone_entry", "bomber_sortie", "predicted_close_approach", "close_approach"}
    for event in engagement.events:
        validator.validate(event)


def test_the_maps_draw_the_topic_value_and_take_nothing_else(situation: Any) -> None:
    feature = situation.revisions("predicted_close_approach")[0]
    event = event_from_feature(feature)
    # the bytes on the topic (or a line of the JSON Lines file) draw the same as the value in process
    assert event_features(read_event(decode_event(encode_event(event)))) == event_features(read_event(feature))
    # other shapes of an event are refused, naming why
    with pytest.raises(MapInputError, match="not a GeoJSON Feature"):
        read_event(feature["properties"])
    with pytest.raises(MapInputError, match="not a GeoJSON Feature"):
        read_event(event)  # type: ignore[arg-type]


def test_close_approach_draws_line_and_predicted_cpa_points(situation: Any) -> None:
    ev = read_event(situation.revisions("predicted_close_approach")[0])
    feats = {f["properties"]["layer"]: f for f in event_features(ev)}
    assert set(feats) == {"event", "event_line", "cpa"}
    rows = dict(feats["event"]["properties"]["popup"]["rows"])
    cpa_m, tcpa_s = ev.metrics["cpa_m"], ev.metrics["tcpa_s"]
    assert rows["Closest approach (CPA)"] == f"{cpa_m:,.0f} m ({cpa_m / 1852:.2f} NM)"
    assert rows["Time to CPA"] == f"{int(round(tcpa_s)) // 60} min {int(round(tcpa_s)) % 60:02d} s"
    assert feats["event_line"]["geometry"]["coordinates"] == [[s.lon_deg, s.lat_deg] for s in ev.subjects]
    # each subject reaches its predicted position along its course at its speed (geodesic)
    geod = Geod(ellps="WGS84")
    cpas = [f for f in event_features(ev) if f["properties"]["layer"] == "cpa"]
    for f, s in zip(cpas, ev.subjects):
        az, _baz, dist = geod.inv(s.lon_deg, s.lat_deg, *f["geometry"]["coordinates"])
        assert dist == pytest.approx(s.speed_mps * tcpa_s, abs=0.01)
        assert az % 360 == pytest.approx(s.course_deg, abs=1e-6)


def test_latest_revision_wins(engagement: Any) -> None:
    recs = latest_revisions(engagement.events)
    assert [(r.kind, r.state) for r in recs] == [("zone_entry", "open"), ("bomber_sortie", "open"),
                                                 ("predicted_close_approach", "closed"), ("close_approach", "closed")]
    assert [r.seq for r in recs] == [0, 0, 1, len(engagement.revisions("close_approach")) - 1]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"properties.event_id": DELETE}, "event_id"),
        ({"properties.kind": "teleport"}, "kind"),
        ({"properties.subjects.0.lat_deg": DELETE}, "position"),
        ({"properties.t_s": "yesterday"}, "t_s='yesterday' is not a number"),
        ({"properties.t_s": DELETE}, "no t_s"),
        ({"type": "Point"}, "not a GeoJSON Feature"),
    ],
)
def test_bad_event_values_are_named(situation: Any, change: dict[str, Any], match: str) -> None:
    with pytest.raises(MapInputError, match=match):
        read_event(spoilt(situation.revisions("zone_entry")[0], change))


def test_a_zone_level_event_needs_its_zone_and_border_positions(near_border: dict[str, Any]) -> None:
    with pytest.raises(MapInputError, match="no subjects and no zone/border position"):
        read_event(spoilt(near_border, {"properties.metrics.border_lat_deg": DELETE}))


def test_engine_cpa_positions_are_used_and_not_listed_as_metrics(situation: Any) -> None:
    ev = read_event(situation.revisions("predicted_close_approach")[0])
    feats = event_features(ev)
    points = [f["geometry"]["coordinates"] for f in feats if f["properties"]["layer"] == "cpa"]
    m = ev.metrics
    assert points == [[m["cpa_a_lon_deg"], m["cpa_a_lat_deg"]], [m["cpa_b_lon_deg"], m["cpa_b_lat_deg"]]]
    rows = dict(feats[0]["properties"]["popup"]["rows"])
    assert not any(k.startswith("cpa_a") or k.startswith("cpa_b") for k in rows)


def test_situation_map_draws_country_outlines(situation: Any, asset_store: AssetStore, tmp_path: Path) -> None:
    from shapely.geometry import box

    out = render_situation_map(tmp_path / "m.html", zones=[], tracks=situation.tracks, events=[],
                               outlines=box(21.0, 57.0, 28.0, 59.7), store=asset_store)
    outlines = [f for f in embedded_features(out.read_text()) if f["properties"]["layer"] == "outline"]
    assert len(outlines) == 1 and outlines[0]["geometry"]["type"] == "Polygon"


def test_exercise_near_border_event_is_drawn_from_zone_to_border(near_border: dict[str, Any]) -> None:
    ev = read_event(near_border)
    m = ev.metrics
    marker, line = event_features(ev)
    assert marker["geometry"]["coordinates"] == [m["zone_lon_deg"], m["zone_lat_deg"]]
    assert line["geometry"]["coordinates"] == [[m["zone_lon_deg"], m["zone_lat_deg"]],
                                               [m["border_lon_deg"], m["border_lat_deg"]]]
    assert f"{m['distance_to_border_m']:g}" in str(marker["properties"]["popup"]).replace(",", "")


def test_close_approach_popup_says_the_closest_separation_and_when(engagement: Any) -> None:
    ev = read_event(engagement.revisions("close_approach")[-1])
    rows = dict(next(f for f in event_features(ev) if f["properties"]["layer"] == "event")["properties"]["popup"]["rows"])
    d = ev.metrics["min_distance_m"]
    assert rows["Closest so far"] == f"{d:,.0f} m ({d / 1852:.2f} NM)"
    assert rows["Closest at"].endswith("Z") and rows["Closest at"][:19] == format_utc(ev.metrics["min_t_s"])[:19]
