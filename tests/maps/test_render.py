"""The static situation map and the GeoJSON it draws from."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pyproj import Geod

from maps.assets import AssetStore
from maps.errors import MapInputError
from maps.features import event_features, event_record, track_feature
from maps.page import check_offline
from maps.render import latest_revisions, render_situation_map


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
    assert sorted(by_layer["event"]) == ["close_approach-0001", "zone_entry-0002"]
    assert by_layer["event_line"] == ["close_approach-0001:line"]
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


def test_event_object_and_topic_dict_give_the_same_record(situation: Any) -> None:
    ev = situation.events[0]
    as_dict = {"type": "Feature", "geometry": None,
               "properties": {**event_record(ev), "t_s": "2024-05-01T10:40:00Z"}}
    assert event_record(as_dict) == event_record(ev)


def test_close_approach_draws_line_and_predicted_cpa_points(situation: Any) -> None:
    ev = situation.events[0]
    feats = {f["properties"]["layer"]: f for f in event_features(ev)}
    assert set(feats) == {"event", "event_line", "cpa"}
    rows = dict(feats["event"]["properties"]["popup"]["rows"])
    assert rows["Closest approach (CPA)"] == "850 m (0.46 NM)"
    assert rows["Time to CPA"] == "2 min 30 s"
    geod = Geod(ellps="WGS84")
    cpas = [f for f in event_features(ev) if f["properties"]["layer"] == "cpa"]
    for f, s in zip(cpas, ev.subjects):
        az, _baz, dist = geod.inv(s.lon_deg, s.lat_deg, *f["geometry"]["coordinates"])
        assert dist == pytest.approx(120.0 * 150.0, abs=0.01)
        assert az % 360 == pytest.approx(s.course_deg, abs=1e-6)


def test_latest_revision_wins(situation: Any) -> None:
    ev = situation.events[0]
    from dataclasses import replace

    closed = replace(ev, state="closed", seq=3, close_reason="separation restored")
    recs = latest_revisions([ev, closed, situation.events[1]])
    assert [(r["event_id"], r["state"]) for r in recs] == [("close_approach-0001", "closed"),
                                                          ("zone_entry-0002", "update")]


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"properties": {}}, "event_id"),
        ({"event_id": "x", "kind": "teleport"}, "kind"),
        ({"event_id": "x", "kind": "zone_entry", "t_s": 1.0, "subjects": [{"track_id": "ais:1"}]}, "position"),
        ({"event_id": "x", "kind": "zone_entry", "t_s": "yesterday",
          "subjects": [{"track_id": "ais:1", "lat_deg": 1, "lon_deg": 2}]}, "ISO 8601"),
        ({"event_id": "x", "kind": "zone_entry", "subjects": [{"track_id": "ais:1", "lat_deg": 1, "lon_deg": 2}]},
         "time"),
    ],
)
def test_bad_event_dicts_are_named(bad: dict[str, Any], match: str) -> None:
    with pytest.raises(MapInputError, match=match):
        event_record(bad)


def test_engine_cpa_positions_are_used_and_not_listed_as_metrics(situation: Any) -> None:
    from dataclasses import replace

    ev = situation.events[0]
    cpa = {"cpa_a_lon_deg": 25.8, "cpa_a_lat_deg": 59.66, "cpa_b_lon_deg": 25.81, "cpa_b_lat_deg": 59.67}
    feats = event_features(replace(ev, metrics={**ev.metrics, **cpa}))
    points = [f["geometry"]["coordinates"] for f in feats if f["properties"]["layer"] == "cpa"]
    assert points == [[25.8, 59.66], [25.81, 59.67]]
    rows = dict(feats[0]["properties"]["popup"]["rows"])
    assert not any(k.startswith("cpa_a") or k.startswith("cpa_b") for k in rows)


def test_situation_map_draws_country_outlines(situation: Any, asset_store: AssetStore, tmp_path: Path) -> None:
    from shapely.geometry import box

    out = render_situation_map(tmp_path / "m.html", zones=[], tracks=situation.tracks, events=[],
                               outlines=box(21.0, 57.0, 28.0, 59.7), store=asset_store)
    outlines = [f for f in embedded_features(out.read_text()) if f["properties"]["layer"] == "outline"]
    assert len(outlines) == 1 and outlines[0]["geometry"]["type"] == "Polygon"


def test_exercise_near_border_event_is_drawn_from_zone_to_border():
    from maps.features import event_features
    from proximity.events import Event

    metrics = {"distance_to_border_m": 20685.3, "zone_lon_deg": 28.1476, "zone_lat_deg": 57.8554,
               "border_lon_deg": 27.7993, "border_lat_deg": 57.8611}
    e = Event("exercise_near_border-1", "exercise_near_border", "open", 0, 1_773_137_400.0, "warning", (),
              "exercise 20.7 km from the border", zone_id="exercise:pskov-snap-1", metrics=metrics)
    marker, line = event_features(e)
    assert marker["geometry"]["coordinates"] == [28.1476, 57.8554]
    assert line["geometry"]["coordinates"] == [[28.1476, 57.8554], [27.7993, 57.8611]]
    assert "20685" in str(marker["properties"]["popup"]).replace(",", "")
