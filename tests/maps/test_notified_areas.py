"""The map marks activity nobody notified in time, in real headless Chromium: an unnotified
exercise area and a snap exercise drawn with a heavy red edge, a notified one as the other
exercise areas; each area's popup says its notice (or that there is none) and the forces declared."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from browser_fixtures import screenshot

from ingest.exercise import ExerciseGeoJsonDecoder
from maps.assets import AssetStore
from maps.features import zone_feature
from maps.render import render_situation_map
from proximity.notices import zone_from_notice

pytestmark = pytest.mark.browser


def _zone(fid: str, lon: float, notification: str, issued: str | None) -> Any:
    props: dict[str, Any] = {"start": "2026-03-10T10:00:00Z", "end": "2026-03-10T12:00:00Z", "radius_m": 12_000,
                             "country": "RU", "notification": notification,
                             "scale": {"troops": 14_000, "battle_tanks": 90}}
    if issued is not None:
        props["issued"] = issued
    feature = {"type": "Feature", "id": fid, "geometry": {"type": "Point", "coordinates": [lon, 57.9]},
               "properties": props}
    (notice,) = ExerciseGeoJsonDecoder("notices").decode([json.dumps(feature).encode()])
    return zone_from_notice(notice)


_PATHS = """() => {
  const out = {};
  window.closewatchMap.eachLayer(l => {
    const p = l.feature && l.feature.properties;
    if (p && p.layer === "zone" && l._path) {
      out[p.id] = {cls: l._path.getAttribute("class"), stroke: l._path.getAttribute("stroke")};
    }
  });
  return out;
}"""


def test_unnotified_and_snap_activity_stand_out(guarded_page: Any, asset_store: AssetStore, tmp_path: Path) -> None:
    flight = {"type": "Feature", "id": "os-17", "geometry": {"type": "LineString", "coordinates": [[27.8, 57.6], [29.4, 57.6]]},
              "properties": {"kind": "flight", "start": "2026-03-10T10:00:00Z", "end": "2026-03-10T13:00:00Z",
                             "issued": "2026-03-07T10:00:00Z", "country": "RU", "corridor_m": 5_000,
                             "identity": {"icao24": "155001"}}}
    (notice,) = ExerciseGeoJsonDecoder("notices").decode([json.dumps(flight).encode()])
    zones = [_zone("in-time", 28.0, "notified", "2026-01-10T00:00:00Z"),
             _zone("seen", 28.6, "unnotified", None),
             _zone("snap", 29.2, "snap", None),
             zone_from_notice(notice)]
    assert [zone_feature(z)["properties"]["notification"] for z in zones] == [
        "notified", "unnotified", "snap_exercise", "notified"]
    page_path = render_situation_map(tmp_path / "notices.html", zones=zones, tracks={}, events=[],
                                     title="Notified or not (test)", store=asset_store)
    page, _log = guarded_page
    page.goto(page_path.as_uri())
    page.wait_for_selector("path.cw-unnotified")
    paths = page.evaluate(_PATHS)
    assert "cw-notified" in paths["zone:exercise:in-time"]["cls"]
    assert "cw-unnotified" not in paths["zone:exercise:in-time"]["cls"]
    for zid in ("zone:exercise:seen", "zone:exercise:snap"):
        assert "cw-unnotified" in paths[zid]["cls"] and paths[zid]["stroke"] == "#d50000"
    # the popup of the unnotified area says so, with the forces seen
    page.evaluate("""() => window.closewatchMap.eachLayer(l => {
      const p = l.feature && l.feature.properties;
      if (p && p.id === "zone:exercise:seen") { l.openPopup(); }
    })""")
    popup = page.wait_for_selector(".leaflet-popup-content")
    text = popup.inner_text()
    assert "UNNOTIFIED activity: exercise:seen by RU" in text
    assert "Vienna Document notification threshold" in text and "14,000 troops, 90 battle tanks" in text
    assert "Exercise not notified in time (unnotified, snap)" in page.inner_text(".cw-legend")
    assert "Announced flight corridor" in page.inner_text(".cw-legend")
    assert paths["zone:flight:os-17"]["stroke"] == "#0277bd" and "cw-unnotified" not in paths["zone:flight:os-17"]["cls"]
    page.evaluate("""() => window.closewatchMap.eachLayer(l => {
      const p = l.feature && l.feature.properties;
      if (p && p.id === "zone:flight:os-17") { l.openPopup(); }
    })""")
    page.wait_for_function("document.querySelector('.leaflet-popup-content').innerText.includes('icao24 155001')")
    assert "notified: flight:os-17 by RU" in page.inner_text(".leaflet-popup-content")
    screenshot(page, "notified-or-not")
