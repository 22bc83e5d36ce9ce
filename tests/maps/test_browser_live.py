"""The live map in real headless Chromium, served by the real aiohttp server."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Iterator

import pytest
from browser_fixtures import screenshot, wait_until

from maps.assets import AssetStore
from maps.live import SituationStore
from maps.server import LiveMapServer

pytestmark = pytest.mark.browser


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1_000_000.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def live(situation: Any, asset_store: AssetStore) -> Iterator[tuple[LiveMapServer, SituationStore, FakeClock]]:
    clock = FakeClock()
    store = SituationStore(situation.zones, feed_stale_after_s=30.0, clock=clock)
    for updates in situation.tracks.values():
        store.apply_tracks(updates)
    store.apply_events(situation.events)
    with LiveMapServer(store, refresh_s=0.4, zones=situation.zones, assets=asset_store,
                       title="closewatch live map (test)") as server:
        yield server, store, clock


def _marker_box(page: Any, track_id: str) -> dict[str, float]:
    box = page.locator(f'.cw-track[data-id="{track_id}"]').bounding_box()
    assert box is not None
    return box


def test_live_map_updates_in_place(guarded_page: Any, live: Any, situation: Any, engagement: Any) -> None:
    server, store, clock = live
    page, log = guarded_page
    page.goto(server.url)
    wait_until(page, "document.querySelectorAll('.cw-track').length === 5")
    assert page.locator(".cw-track").count() == store.status()["tracks"] == 5
    wait_until(page, "document.querySelector('.cw-count-tracks').textContent === '5'")
    assert page.locator(".cw-count-events").text_content() == "3"  # zone entry, bomber sortie, prediction
    assert page.locator(".cw-event").count() == 3
    assert page.locator(".cw-stale-banner").is_visible() is False
    # every request stayed on this server
    assert log.requests and all(u.startswith(server.url) for u in log.requests), log.requests
    screenshot(page, "live-map")

    # the operator zooms and pans; open the popup of the Russian aircraft
    page.evaluate("window.closewatchMap.setView([59.6, 25.9], 9, {animate: false})")
    tid = "icao:4b1a2c"
    box_before = _marker_box(page, tid)
    page.click(f'.cw-track[data-id="{tid}"]')
    popup = page.locator(".leaflet-popup .cw-popup-rows")
    popup.wait_for()
    text_before = popup.text_content() or ""
    assert "233.3 kn" in text_before and "270 °" in text_before
    assert "RFF1234" in (page.locator(".cw-selected").text_content() or "")
    page.wait_for_timeout(500)  # the popup's own auto-pan, if any, is over
    view_before = page.evaluate("[window.closewatchMap.getCenter(), window.closewatchMap.getZoom()]")
    assert view_before[1] == 9

    # one update: the track moves, turns and slows
    last = situation.tracks[tid][-1]
    clock.now_s += 5
    store.apply_tracks([replace(last, t_s=last.t_s + 30, lat_deg=last.lat_deg + 0.05, lon_deg=last.lon_deg - 0.1,
                                heading_deg=300.0, course_deg=300.0, speed_mps=100.0)])
    wait_until(page, f"document.querySelector('.cw-track[data-id=\"{tid}\"]').dataset.rotation === '300'")
    box_after = _marker_box(page, tid)
    assert box_after["y"] < box_before["y"] - 5 and box_after["x"] < box_before["x"] - 5  # north-west
    transform = page.eval_on_selector(f'.cw-track[data-id="{tid}"] svg', "e => e.style.transform")
    assert transform == "rotate(300deg)"
    wait_until(page, "!document.querySelector('.leaflet-popup .cw-popup-rows').textContent.includes('233.3 kn')")
    text_after = popup.text_content() or ""
    assert "194.4 kn" in text_after and "300 °" in text_after and text_after != text_before
    assert "194.4 kn" in (page.locator(".cw-selected").text_content() or "")  # the panel follows
    view_after = page.evaluate("[window.closewatchMap.getCenter(), window.closewatchMap.getZoom()]")
    assert view_after == view_before  # zoom and pan kept
    assert page.locator(".cw-track").count() == 5
    screenshot(page, "live-map-updated")
    page.keyboard.press("Escape")

    # a stale track disappears
    land = situation.tracks["cot:abc-1"][-1]
    gone = store.expire(land.t_s + 601.0)
    assert "cot:abc-1" in gone
    page.wait_for_selector('.cw-track[data-id="cot:abc-1"]', state="detached")
    assert page.locator(".cw-track").count() == store.status()["tracks"]
    wait_until(page, f"document.querySelector('.cw-count-tracks').textContent === '{store.status()['tracks']}'")

    # an event appears, its popup shows the metrics: the aircraft meet (the engine's next events)
    close = engagement.revisions("close_approach")
    store.apply_events([close[0]])
    marker = page.locator(f'.cw-event[data-id="{close[0]["id"]}"]')
    marker.wait_for()
    marker.click()
    rows = page.locator(".leaflet-popup .cw-popup-rows")
    rows.wait_for()
    text = rows.text_content() or ""
    d = close[0]["properties"]["metrics"]["distance_m"]
    assert f"Distance{d:,.0f} m ({d / 1852:.2f} NM)" in text and "Vertical separation656 ft (200 m)" in text
    page.keyboard.press("Escape")

    # closing it removes it
    store.apply_events([close[-1]])
    marker.wait_for(state="detached")


def test_filters_injection_and_stale_feed(guarded_page: Any, live: Any, situation: Any) -> None:
    server, store, clock = live
    page, _log = guarded_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(server.url)
    wait_until(page, "document.querySelectorAll('.cw-track').length === 5")
    nato = page.locator('.cw-track[data-side="nato"]')
    russia = page.locator('.cw-track[data-side="russia"]')
    assert nato.count() == 1 and russia.count() == 2
    page.uncheck('input[data-filter="side-nato"]')
    assert not nato.is_visible() and all(russia.nth(i).is_visible() for i in range(2))
    page.uncheck('input[data-filter="domain-sea"]')
    assert [page.locator('.cw-track[data-domain="sea"]').nth(i).is_visible() for i in range(2)] == [False, False]
    assert page.locator('.cw-track[data-id="icao:4b1a2c"]').is_visible()
    page.uncheck('input[data-filter="kind-predicted_close_approach"]')
    assert not page.locator('.cw-event[data-kind="predicted_close_approach"]').is_visible()
    assert not page.locator(".cw-event-line").is_visible()
    assert page.locator('.cw-event[data-kind="zone_entry"]').is_visible()
    screenshot(page, "live-map-filtered")
    for f in ("side-nato", "domain-sea", "kind-predicted_close_approach"):
        page.check(f'input[data-filter="{f}"]')
    assert nato.is_visible() and page.locator('.cw-event[data-kind="predicted_close_approach"]').is_visible()

    # the injection string shows as text, in the popup, the label and the panel
    page.click('.cw-track[data-id="ais:273123456"]')
    page.locator(".leaflet-popup .cw-popup-title").wait_for()
    assert page.locator(".leaflet-popup .cw-popup-title").text_content() == situation.injection
    assert page.locator(".cw-selected .cw-popup-title").text_content() == situation.injection
    assert page.locator(".cw-label", has_text=situation.injection).count() == 1
    assert page.locator("img[src='x']").count() == 0
    assert dialogs == []

    # no input for longer than map.feed_stale_after_s: a visible warning
    assert not page.locator(".cw-stale-banner").is_visible()
    clock.now_s += 45.0
    banner = page.locator(".cw-stale-banner")
    banner.wait_for(state="visible")
    assert "Data feed stale: last update 45 s ago" in (banner.text_content() or "")
    screenshot(page, "live-map-stale-feed")
    store.apply_tracks([])  # input arrives again
    banner.wait_for(state="hidden")


def test_token_cookie_flow_in_the_browser(guarded_page: Any, situation: Any, asset_store: AssetStore) -> None:
    store = SituationStore(situation.zones)
    for updates in situation.tracks.values():
        store.apply_tracks(updates)
    page, log = guarded_page
    with LiveMapServer(store, refresh_s=0.4, token="s3cret-token-0123", assets=asset_store) as server:
        resp = page.goto(server.url)
        assert resp is not None and resp.status == 401
        assert log.console_errors == ["Failed to load resource: the server responded with a status of 401 (Unauthorized)"]
        log.console_errors.clear()  # the refusal above was the point
        page.goto(server.url + "?token=s3cret-token-0123")
        assert page.url == server.url  # token gone from the address bar
        wait_until(page, "document.querySelectorAll('.cw-track').length === 5")
