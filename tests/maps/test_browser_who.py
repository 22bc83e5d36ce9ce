"""Who operates a track, and whether it is stationary, as drawn in real headless Chromium:
the outline by operator, stationary tracks dimmed, the legend, the operator filter, and the
live page's first view fitted to the traffic."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from browser_fixtures import screenshot, wait_until
from shapely.geometry import box

from config.records import TrackUpdate, Zone
from maps.assets import AssetStore
from maps.live import SituationStore
from maps.render import render_situation_map
from maps.server import LiveMapServer

pytestmark = pytest.mark.browser

T0 = 1_714_560_000.0


def _tracks() -> dict[str, list[TrackUpdate]]:
    def one(tid: str, lon: float, lat: float, domain: str, side: str, category: str, **kw: Any) -> list[TrackUpdate]:
        return [TrackUpdate(track_id=tid, source="test", t_s=T0, lon_deg=lon, lat_deg=lat, domain=domain,  # type: ignore[arg-type]
                            side=side, category=category, category_source="test", course_deg=90.0,  # type: ignore[arg-type]
                            **kw)]
    return {
        "ais:273000001": one("ais:273000001", 20.00, 55.00, "sea", "russia", "military", speed_mps=7.0),
        "ais:211000002": one("ais:211000002", 20.05, 55.02, "sea", "nato", "state", speed_mps=7.0),
        "ais:211000003": one("ais:211000003", 20.10, 55.04, "sea", "nato", "civil", speed_mps=0.0, nav_status=5),
        "icao:4b1a2c": one("icao:4b1a2c", 20.15, 55.06, "air", "nato", "unknown", speed_mps=0.0, on_ground=True),
        "icao:154a2c": one("icao:154a2c", 20.20, 55.08, "air", "russia", "military", speed_mps=200.0, alt_m=8000.0),
    }


def _stroke(page: Any, tid: str) -> float:
    return float(page.get_attribute(f'.cw-track[data-id="{tid}"] path', "stroke-width"))


def test_operator_outline_dimmed_stationary_and_legend(guarded_page: Any, asset_store: AssetStore,
                                                       tmp_path: Path) -> None:
    tracks = _tracks()
    html = render_situation_map(tmp_path / "who.html", zones=[], tracks=tracks, events=[],
                                title="who (test)", store=asset_store)
    page, _log = guarded_page
    page.goto(html.as_uri())
    wait_until(page, "document.querySelectorAll('.cw-track').length === 5")
    cats = page.eval_on_selector_all(".cw-track", "els => els.map(e => [e.dataset.id, e.dataset.category,"
                                                   " e.dataset.stationary])")
    assert sorted(cats) == sorted([
        ["ais:273000001", "military", "false"], ["ais:211000002", "state", "false"],
        ["ais:211000003", "civil", "true"], ["icao:4b1a2c", "unknown", "true"], ["icao:154a2c", "military", "false"]])
    assert _stroke(page, "ais:273000001") > _stroke(page, "ais:211000002") > _stroke(page, "ais:211000003")
    assert page.get_attribute('.cw-track[data-id="ais:211000002"] path', "stroke-dasharray")
    opacity = page.eval_on_selector('.cw-track[data-id="ais:211000003"]', "e => getComputedStyle(e).opacity")
    assert float(opacity) == pytest.approx(0.4)
    assert float(page.eval_on_selector('.cw-track[data-id="ais:273000001"]', "e => getComputedStyle(e).opacity")) == 1
    legend = page.locator(".cw-legend").text_content() or ""
    assert "Military (heavy outline)" in legend and "Civil (thin outline)" in legend and "dimmed" in legend
    page.evaluate("window.closewatchMap.setView([55.04, 20.1], 11, {animate: false})")
    screenshot(page, "who-outlines")
    page.click('.cw-track[data-id="ais:211000003"]')
    rows = page.locator(".leaflet-popup .cw-popup-rows")
    rows.wait_for()
    text = rows.text_content() or ""
    assert "civil (test)" in text and "moored" in text


@pytest.fixture
def live(asset_store: AssetStore) -> Iterator[LiveMapServer]:
    # a zone far from the traffic: the page opens on it, then fits the traffic
    zones = [Zone("far", "Far zone", "custom", box(30.0, 68.0, 31.0, 69.0))]
    store = SituationStore(zones, feed_stale_after_s=1e9, clock=lambda: T0)
    for updates in _tracks().values():
        store.apply_tracks(updates)
    with LiveMapServer(store, refresh_s=0.4, zones=zones, assets=asset_store, title="who live (test)") as server:
        yield server


def test_live_page_fits_the_traffic_and_filters_by_operator(guarded_page: Any, live: LiveMapServer) -> None:
    page, _log = guarded_page
    page.goto(live.url)
    wait_until(page, "document.querySelectorAll('.cw-track').length === 5")
    wait_until(page, "window.closewatchMap.getBounds().contains([55.04, 20.1])")
    bounds = page.evaluate("(() => { const b = window.closewatchMap.getBounds();"
                           " return [b.getSouth(), b.getWest(), b.getNorth(), b.getEast()]; })()")
    assert bounds[2] - bounds[0] < 2.0, bounds  # the traffic, not the far zone
    page.uncheck('input[data-filter="category-military"]')
    wait_until(page, "!document.querySelector('.cw-track[data-id=\"ais:273000001\"]').offsetParent")
    assert page.locator('.cw-track[data-id="ais:211000002"]').is_visible()
    screenshot(page, "who-live-filtered")
    page.check('input[data-filter="category-military"]')
    wait_until(page, "!!document.querySelector('.cw-track[data-id=\"ais:273000001\"]').offsetParent")
    page.goto("about:blank")  # stop polling before the server stops
