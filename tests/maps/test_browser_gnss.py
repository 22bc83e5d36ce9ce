"""An area of GNSS interference on the maps, in real headless Chromium: its cells shaded, its marker
and popup; the replay draws it over its lifetime. The event comes from the engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h3
import pytest
from browser_fixtures import screenshot

from alerts.codec import event_to_feature
from config.records import TrackUpdate, position_quality
from config.settings import ProximitySettings
from maps.assets import AssetStore
from maps.render import render_situation_map
from maps.replay import render_replay
from proximity.engine import Engine

pytestmark = pytest.mark.browser

T0 = 1_700_000_000.0
JAMMED = position_quality(adsb_version=2, nic=0, nac_p=0)
GOOD = position_quality(adsb_version=2, nic=8, nac_p=10)


def _scenario() -> tuple[dict[str, list[TrackUpdate]], list[Any]]:
    """Aircraft over two neighbouring H3 cells, all jammed, and some far away, good."""
    home = h3.latlng_to_cell(56.0, 20.0, 4)
    cells = [home, sorted(h3.grid_ring(home, 1))[0]]
    tracks: dict[str, list[TrackUpdate]] = {}
    k = 0
    for cell, q in [(cells[0], JAMMED), (cells[1], JAMMED), (h3.latlng_to_cell(58.0, 24.0, 4), GOOD)]:
        lat0, lon0 = h3.cell_to_latlng(cell)
        for j in range(4):
            tid = f"icao:{0x4a0000 + k:06x}"
            k += 1
            tracks[tid] = [TrackUpdate(track_id=tid, t_s=T0 + t, lat_deg=lat0 + 0.02 * j, lon_deg=lon0, domain="air",
                                       side="unknown", alt_m=10_000.0, source="test", quality=q)
                           for t in range(0, 240, 10)]
    ups = sorted((u for us in tracks.values() for u in us), key=lambda u: (u.t_s, u.track_id))
    eng = Engine(ProximitySettings(), [], wall_clock=lambda: T0)
    events = eng.process(ups) + eng.finish()
    area = [e for e in events if e.kind == "gnss_interference"]
    assert area and set(area[0].cells) == set(cells)
    return tracks, [event_to_feature(e) for e in events]


def test_the_situation_map_shades_the_cells_of_an_area(guarded_page: Any, asset_store: AssetStore,
                                                       tmp_path: Path) -> None:
    tracks, events = _scenario()
    page_path = render_situation_map(tmp_path / "gnss.html", zones=[], tracks=tracks, events=events,
                                     title="gnss (test)", store=asset_store)
    page, log = guarded_page
    page.goto(page_path.as_uri())
    page.wait_for_selector(".cw-event-area")
    area = page.locator("path.cw-event-area")
    assert area.count() == 1
    # one MultiPolygon of two hexagons: two closed sub-paths
    assert (area.get_attribute("d") or "").count("z") == 2
    # shaded by the share of aircraft degraded (all of them here: 0.12 + 0.4)
    assert float(area.get_attribute("fill-opacity") or 0) == pytest.approx(0.52)
    assert page.locator(".cw-event").count() == 1
    page.locator(".cw-event").first.click()
    rows = page.locator(".leaflet-popup .cw-popup-rows")
    rows.wait_for()
    text = rows.text_content() or ""
    # the latest revision (closed at the end of the input), its numbers with units
    assert "GNSS interference over" in text and "Aircraft with degraded GNSS100%" in text
    assert "Aircraft seen (window)8" in text and "Cells (H3)2" in text
    assert all(u.startswith(("file:", "data:")) for u in log.requests), log.requests
    screenshot(page, "gnss-area")


def test_the_replay_draws_the_area_while_it_is_open(guarded_page: Any, asset_store: AssetStore,
                                                    tmp_path: Path) -> None:
    tracks, events = _scenario()
    opened = next(f["properties"]["t_s"] for f in events if f["properties"]["kind"] == "gnss_interference")
    out = render_replay(tmp_path / "replay.html", tracks, events, store=asset_store)
    page, _ = guarded_page
    page.goto(out.as_uri())
    page.wait_for_selector(".leaflet-timeline-control input.time-slider")
    slider = page.locator("input.time-slider")

    def move_to(t_s: float) -> None:
        slider.evaluate("(e, v) => { e.value = String(v); e.dispatchEvent(new Event('input')); }", int(t_s * 1000))

    move_to(opened - 10)  # the cells were interfered, but not yet for min_dwell_s: no area
    assert page.locator("path.cw-event-area").count() == 0
    move_to(opened + 60)
    assert page.locator("path.cw-event-area").count() == 1
    assert (page.locator("path.cw-event-area").get_attribute("d") or "").count("z") == 2
    screenshot(page, "gnss-replay")
