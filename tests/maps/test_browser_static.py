"""The static situation map in real headless Chromium, opened from file://."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_fixtures import screenshot

from maps.assets import AssetStore
from maps.render import render_situation_map

pytestmark = pytest.mark.browser


@pytest.fixture
def situation_page(situation: Any, asset_store: AssetStore, tmp_path: Path) -> Path:
    return render_situation_map(tmp_path / "situation.html", zones=situation.zones, tracks=situation.tracks,
                                events=situation.events, title="closewatch situation (test)", store=asset_store)


def test_static_map_opens_offline_and_draws_every_track(guarded_page: Any, situation: Any,
                                                        situation_page: Path) -> None:
    page, log = guarded_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(situation_page.as_uri())
    page.wait_for_selector(".cw-track")
    ids = page.eval_on_selector_all(".cw-track", "els => els.map(e => e.dataset.id)")
    assert sorted(ids) == sorted(situation.tracks)
    rotation = page.get_attribute('.cw-track[data-id="icao:4b1a2c"]', "data-rotation")
    assert rotation == "270"
    transform = page.eval_on_selector('.cw-track[data-id="icao:4b1a2c"] svg', "e => e.style.transform")
    assert transform == "rotate(270deg)"
    assert page.locator(".cw-event").count() == 3  # zone entry, bomber sortie, prediction
    assert page.locator(".cw-event-line").count() == 1
    assert page.locator(".cw-cpa").count() == 2
    assert page.locator(".cw-trail").count() == 5
    assert page.locator(".leaflet-control-layers").count() == 1
    assert page.locator(".cw-legend").count() == 1
    assert all(u.startswith(("file:", "data:")) for u in log.requests), log.requests
    screenshot(page, "situation-map")

    # the injection string is shown as text and runs nothing
    page.click('.cw-track[data-id="ais:273123456"]')
    title = page.locator(".leaflet-popup .cw-popup-title")
    title.wait_for()
    assert title.text_content() == situation.injection
    assert page.locator('.leaflet-popup img').count() == 0
    page.keyboard.press("Escape")
    page.locator(".leaflet-popup").wait_for(state="detached")  # the track's popup is gone before the next click
    page.click(f'.cw-event[data-id="{situation.event_id("zone_entry")}"]')
    rows = page.locator(".leaflet-popup .cw-popup-rows")
    rows.wait_for()
    assert f"({situation.injection}) entered Russian territorial sea" in (rows.text_content() or "")
    assert page.locator("img[src='x']").count() == 0
    assert page.evaluate("document.body.innerHTML").count("<img src=\"x\"") == 0
    assert dialogs == []
    screenshot(page, "situation-map-popup")


def test_labels_show_only_at_closer_zooms(guarded_page: Any, situation_page: Path) -> None:
    page, _log = guarded_page
    page.goto(situation_page.as_uri())
    page.wait_for_selector(".cw-track")
    label = page.locator(".cw-label", has_text="NATO01")
    page.evaluate("window.closewatchMap.setZoom(6, {animate: false})")
    assert not label.is_visible()
    page.evaluate("window.closewatchMap.setZoom(9, {animate: false})")
    label.wait_for(state="visible")
    screenshot(page, "situation-map-zoomed")
