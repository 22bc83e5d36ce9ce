"""The replay / incident report: window, area, downsampling, timeline, event table."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from browser_fixtures import screenshot

from maps.assets import AssetStore
from maps.errors import MapInputError
from maps.page import check_offline
from maps.replay import render_replay


def timelines(page: str) -> list[list[dict[str, Any]]]:
    return [json.loads(b)["features"] for b in re.findall(r"L\.timeline\(\s*(\{.*?\}),\n", page)]


def test_replay_page_is_offline_and_keeps_window_area_and_budget(engagement: Any, asset_store: AssetStore,
                                                                 tmp_path: Path) -> None:
    t0 = engagement.t0_s
    window = (t0 + 60, t0 + 300)
    out = render_replay(tmp_path / "r.html", engagement.tracks, engagement.events, window=window,
                        bbox=(24.0, 59.0, 27.0, 60.0), max_points=8, zones=engagement.zones, store=asset_store)
    page = out.read_text()
    check_offline(page, "replay")
    tracks_tl, events_tl = timelines(page)
    ids = {f["properties"]["id"] for f in tracks_tl}
    assert ids == {"icao:4b1a2c", "icao:45ac2d", "ais:230000001"}  # the ship at 27.9 E and the land unit are outside
    assert len(tracks_tl) <= 8
    assert all(window[0] <= f["properties"]["start"] / 1000 <= window[1] for f in tracks_tl)
    in_window = sum(1 for tid in ids for u in engagement.tracks[tid] if window[0] <= u.t_s <= window[1])
    # thinned to 2 positions a track (first and last kept)
    assert f"Downsampled: 6 of {in_window} positions drawn; 3 of 3 tracks thinned" in page
    # the close approach: each revision shown until the next one, the closed one ends it
    revisions = [r["properties"] for r in engagement.revisions("close_approach")]
    assert [r["state"] for r in revisions][0] == "open" and revisions[-1]["state"] == "closed"
    markers = [f["properties"] for f in events_tl if f["properties"]["layer"] == "event"
               and f["properties"]["kind"] == "close_approach"]
    assert [(p["start"], p["end"]) for p in markers] == [
        (int(a["t_s"] * 1000), int(b["t_s"] * 1000)) for a, b in zip(revisions, revisions[1:])]
    # the zone entry opened before the window (and its ship is outside the area): not in the report
    assert engagement.event_id("zone_entry") not in page
    assert f'data-event-id="{engagement.event_id("close_approach")}"' in page
    for r in revisions[:-1]:
        assert f"{r['metrics']['distance_m']:,.0f} m" in page
    assert engagement.injection not in page


def test_no_downsampling_is_said_too(situation: Any, asset_store: AssetStore, tmp_path: Path) -> None:
    out = render_replay(tmp_path / "r.html", situation.tracks, situation.events, store=asset_store)
    assert f"All {situation.positions()} positions of 5 tracks are drawn (no downsampling)." in out.read_text()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"window": (10.0, 5.0)}, "ends"),
        ({"bbox": (30.0, 59.0, 20.0, 60.0)}, "west, south, east, north"),
        ({"max_points": 3}, "first and last"),
    ],
)
def test_bad_replay_requests_are_named(situation: Any, asset_store: AssetStore, tmp_path: Path,
                                       kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(MapInputError, match=match):
        render_replay(tmp_path / "r.html", situation.tracks, situation.events, store=asset_store, **kwargs)


@pytest.mark.browser
def test_replay_slider_changes_what_is_shown(guarded_page: Any, engagement: Any, asset_store: AssetStore,
                                             tmp_path: Path) -> None:
    t0 = engagement.t0_s
    entry, bomber, predicted, close = (engagement.event_id(k) for k in ("zone_entry", "bomber_sortie",
                                                                         "predicted_close_approach", "close_approach"))
    revisions = [r["properties"] for r in engagement.revisions("close_approach")]
    opened_s, revised_s, closed_s = revisions[0]["t_s"], revisions[1]["t_s"], revisions[-1]["t_s"]
    predicted_s = engagement.revisions("predicted_close_approach")[0]["properties"]["t_s"]
    out = render_replay(tmp_path / "replay.html", engagement.tracks, engagement.events,
                        window=(t0 - 300, t0 + 300), zones=engagement.zones, store=asset_store)
    page, log = guarded_page
    page.goto(out.as_uri())
    page.wait_for_selector(".leaflet-timeline-control input.time-slider")
    slider = page.locator("input.time-slider")

    def move_to(t_s: float) -> None:
        # as a user dragging the slider: set the value, fire the input event
        slider.evaluate("(e, v) => { e.value = String(v); e.dispatchEvent(new Event('input')); }", int(t_s * 1000))

    def shown(selector: str) -> list[str]:
        return sorted(page.eval_on_selector_all(selector, "els => els.map(e => e.dataset.id)"))

    def popup_of(event_id: str) -> str:
        view = page.evaluate("[window.closewatchMap.getCenter(), window.closewatchMap.getZoom()]")
        page.click(f'.cw-event[data-id="{event_id}"]')
        text = page.locator(".leaflet-popup .cw-popup-rows").text_content() or ""
        page.keyboard.press("Escape")
        page.locator(".leaflet-popup").wait_for(state="detached")  # gone before the next click
        # the popup panned the map to fit: back to where the user was
        page.evaluate("v => window.closewatchMap.setView(v[0], v[1], {animate: false})", view)
        return text

    # only the zone entry, open since the first reports (the bomber sortie opens at a prediction, of
    # the bomber's slice, the predicted close approach at its NATO track's: the earlier of the two)
    sortie_s = engagement.revisions("bomber_sortie")[0]["properties"]["t_s"]
    move_to(min(predicted_s, sortie_s) - 2)
    assert shown(".cw-event") == [entry]
    assert len(shown(".cw-track")) == 5
    move_to(opened_s - 20)  # the predicted close approach, with its line
    assert shown(".cw-event") == sorted([entry, bomber, predicted])
    assert page.locator(".cw-event-line").count() == 1
    box_early = page.locator('.cw-track[data-id="icao:45ac2d"]').bounding_box()
    move_to(opened_s + 2)  # the close approach opened; the prediction closed ("occurred")
    assert shown(".cw-event") == sorted([entry, bomber, close])
    box_later = page.locator('.cw-track[data-id="icao:45ac2d"]').bounding_box()
    assert box_early is not None and box_later is not None and box_later["x"] > box_early["x"]  # it moved east
    assert f"{revisions[0]['metrics']['distance_m']:,.0f} m" in popup_of(close)
    move_to(revised_s + 2)  # the next revision: its metrics
    assert f"{revisions[1]['metrics']['distance_m']:,.0f} m" in popup_of(close)
    screenshot(page, "replay")
    move_to(closed_s + 2)  # closed
    assert shown(".cw-event") == sorted([entry, bomber])
    # a click on a table row moves the slider to the event's opening
    page.click(f'tr[data-event-id="{close}"]')
    assert int(slider.input_value()) == int(opened_s * 1000)
    assert shown(".cw-event") == sorted([entry, bomber, close])
    opened_text = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(opened_s))
    assert opened_text in (page.locator(".leaflet-timeline-control output").text_content() or "")
    # feed strings in the table are text
    assert page.locator("img[src='x']").count() == 0
    assert all(u.startswith(("file:", "data:")) for u in log.requests)
    screenshot(page, "replay-table-click")
