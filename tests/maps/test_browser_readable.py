"""What keeps the map readable, in real headless Chromium: territorial zones drawn as their sea
part (the land is not shaded), and track labels that do not overlap (decluttered, shown on hover)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_fixtures import screenshot, wait_until
from shapely.geometry import Point, shape

from closewatch.cmd_run import country_outlines
from config.records import TrackUpdate
from config.settings import ZoneSettings
from config.zones import load_catalogue
from maps.assets import AssetStore
from maps.features import zone_feature
from maps.render import render_situation_map

pytestmark = pytest.mark.browser

INLAND_ESTONIA = (25.5, 58.9)  # between Paide and Türi, 60 km from any coast
OFF_TALLINN = (24.75, 59.55)  # Tallinn Bay, inside the 12 NM belt

_ZONE_AT = """([lon, lat]) => {
  const map = window.closewatchMap;
  const pt = map.latLngToContainerPoint([lat, lon]);
  const box = map.getContainer().getBoundingClientRect();
  return document.elementsFromPoint(box.left + pt.x, box.top + pt.y)
    .filter(e => e.classList.contains("cw-zone")).length;
}"""


def test_territorial_zone_is_drawn_as_its_sea_part(guarded_page: Any, asset_store: AssetStore, tmp_path: Path) -> None:
    estonia = [z for z in load_catalogue(ZoneSettings()) if z.zone_id == "territorial:EE:sea"]
    assert len(estonia) == 1
    zone = estonia[0]
    # the engine's zone is territory plus the belt: it holds the inland point (unchanged)
    assert zone.geometry.contains(Point(INLAND_ESTONIA))
    drawn = shape(zone_feature(zone)["geometry"])
    assert not drawn.contains(Point(INLAND_ESTONIA))
    assert drawn.contains(Point(OFF_TALLINN))

    page_path = render_situation_map(tmp_path / "estonia.html", zones=estonia, tracks={}, events=[],
                                     outlines=country_outlines(), title="Estonian territorial sea (test)",
                                     store=asset_store)
    page, _log = guarded_page
    page.goto(page_path.as_uri())
    page.wait_for_selector("path.cw-zone")
    # the GeoJSON the page draws, read back from the map's layer
    geometry = page.evaluate("""() => {
      let g = null;
      window.closewatchMap.eachLayer(l => {
        if (l.feature && l.feature.properties && l.feature.properties.id === "zone:territorial:EE:sea") {
          g = l.feature.geometry;
        }
      });
      return g;
    }""")
    assert geometry is not None
    assert not shape(geometry).contains(Point(INLAND_ESTONIA))
    # and what Chromium paints: no zone under the inland point, the zone under the sea point
    assert page.evaluate(_ZONE_AT, list(INLAND_ESTONIA)) == 0
    assert page.evaluate(_ZONE_AT, list(OFF_TALLINN)) == 1
    screenshot(page, "territorial-sea-part")


def _dense_tracks() -> dict[str, list[TrackUpdate]]:
    """A 6 x 6 grid of ships 600 m apart off Tallinn, long names: their labels collide."""
    tracks = {}
    for i in range(6):
        for j in range(6):
            tid = f"ais:2760000{i}{j}"
            tracks[tid] = [TrackUpdate(track_id=tid, t_s=1_714_560_000.0, lon_deg=24.6 + 0.01 * i,
                                       lat_deg=59.6 + 0.0055 * j, domain="sea", side="nato",
                                       name=f"BALTIC TRADER {i}{j}", course_deg=90.0, speed_mps=5.0, source="ais",
                                       category="military" if (i, j) == (3, 3) else "civil")]
    return tracks


_LABELS = """() => Array.from(document.querySelectorAll(".cw-label")).map(e => {
  const r = e.getBoundingClientRect();
  const s = getComputedStyle(e);
  return {id: e.dataset.id, visible: s.display !== "none" && s.visibility !== "hidden" && r.width > 0,
          box: [r.left, r.top, r.right, r.bottom]};
})"""


_ICONS = """() => Array.from(document.querySelectorAll(".cw-track")).map(e => {
  const r = e.getBoundingClientRect();
  return [r.left, r.top, r.right, r.bottom];
})"""


def _overlaps(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_dense_labels_do_not_overlap_and_hover_shows_a_hidden_one(guarded_page: Any, asset_store: AssetStore,
                                                                   tmp_path: Path) -> None:
    tracks = _dense_tracks()
    page_path = render_situation_map(tmp_path / "dense.html", zones=[], tracks=tracks, events=[],
                                     outlines=country_outlines(), title="dense traffic (test)", store=asset_store)
    page, _log = guarded_page
    page.goto(page_path.as_uri())
    page.wait_for_selector(".cw-track")
    for zoom in (9, 10, 12):  # ends close in, where the markers do not overlap
        page.evaluate(f"window.closewatchMap.setZoom({zoom}, {{animate: false}})")
        wait_until(page, "document.querySelectorAll('.cw-label.cw-label-hidden').length > 0")
        page.wait_for_timeout(100)  # the declutter runs in the next animation frame
        labels = page.evaluate(_LABELS)
        assert len(labels) == len(tracks)
        shown = [lab for lab in labels if lab["visible"]]
        assert 0 < len(shown) < len(tracks), (zoom, len(shown))
        civil = [lab for lab in shown if lab["id"] != "ais:276000033"]
        if zoom == 12:
            assert len(shown) >= 6, len(shown)  # close in, the grid's east column has room for its labels
        for k, a in enumerate(shown):
            for b in shown[k + 1:]:
                assert not _overlaps(a["box"], b["box"]), (zoom, a, b)
        # nor does a civil ship's label cover a track (the military one may cover civil ships)
        icons = page.evaluate(_ICONS)
        assert not [(lab["id"], i) for lab in civil for i in icons if _overlaps(lab["box"], i)], zoom
        # the military track's label wins its place
        assert any(lab["id"] == "ais:276000033" for lab in shown), zoom
    screenshot(page, "dense-labels-decluttered")

    hidden = next(lab["id"] for lab in page.evaluate(_LABELS) if not lab["visible"])
    label = page.locator(f'.cw-label[data-id="{hidden}"]')
    assert not label.is_visible()
    page.hover(f'.cw-track[data-id="{hidden}"]', force=True)
    label.wait_for(state="visible")
    page.mouse.move(0, 0)
    label.wait_for(state="hidden")

    # at a low zoom no label is shown, and hover shows one
    page.evaluate("window.closewatchMap.setZoom(6, {animate: false})")
    wait_until(page, "!document.querySelector('.cw-map').classList.contains('cw-labels')")
    assert not any(lab["visible"] for lab in page.evaluate(_LABELS))
    # the grid is one spot now: hover it, the label of the track on top shows, only that one
    box = page.locator(".cw-track").first.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    on_top = page.evaluate("([x, y]) => document.elementFromPoint(x, y).closest('.cw-track').dataset.id", [x, y])
    page.locator(f'.cw-label[data-id="{on_top}"]').wait_for(state="visible")
    assert [lab["id"] for lab in page.evaluate(_LABELS) if lab["visible"]] == [on_top]
