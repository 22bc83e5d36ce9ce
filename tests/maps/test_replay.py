"""The replay / incident report: window, area, downsampling, timeline, event table."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from browser_fixtures import screenshot

from maps.assets import AssetStore
from maps.errors import MapInputError
from maps.page import check_offline
from maps.replay import render_replay


def incident(situation: Any) -> list[Any]:
    """The close approach opens at T0-180 s, is revised at T0-120 s, closes at T0-60 s."""
    ev = situation.events[0]
    t0 = situation.t0_s
    return [
        replace(ev, t_s=t0 - 180, seq=0),
        replace(ev, state="update", t_s=t0 - 120, seq=1, metrics={**ev.metrics, "distance_m": 20_000.0}),
        replace(ev, state="closed", t_s=t0 - 60, seq=2, close_reason="separation restored"),
        situation.events[1],
    ]


def timelines(page: str) -> list[list[dict[str, Any]]]:
    return [json.loads(b)["features"] for b in re.findall(r"L\.timeline\(\s*(\{.*?\}),\n", page)]


def test_replay_page_is_offline_and_keeps_window_area_and_budget(situation: Any, asset_store: AssetStore,
                                                                 tmp_path: Path) -> None:
    t0 = situation.t0_s
    out = render_replay(tmp_path / "r.html", situation.tracks, incident(situation), window=(t0 - 240, t0),
                        bbox=(24.0, 59.0, 27.0, 60.0), max_points=8, zones=situation.zones, store=asset_store)
    page = out.read_text()
    check_offline(page, "replay")
    tracks_tl, events_tl = timelines(page)
    ids = {f["properties"]["id"] for f in tracks_tl}
    assert ids == {"icao:4b1a2c", "icao:45ac2d", "ais:230000001"}  # the ship at 27.4 E and the land unit are outside
    assert len(tracks_tl) <= 8
    assert all(t0 - 240 <= f["properties"]["start"] / 1000 <= t0 for f in tracks_tl)
    # 3 tracks x 5 positions in the window = 15, thinned to 6 (2 each, first and last kept)
    assert "Downsampled: 6 of 15 positions drawn; 3 of 3 tracks thinned" in page
    # the close approach: two revisions shown (open, update), the closed one ends it
    markers = [f["properties"] for f in events_tl if f["properties"]["layer"] == "event"]
    assert [(p["start"], p["end"]) for p in markers] == [(int((t0 - 180) * 1000), int((t0 - 120) * 1000)),
                                                         (int((t0 - 120) * 1000), int((t0 - 60) * 1000))]
    # the zone entry's ship is outside the area: not in the report
    assert "zone_entry-0002" not in page
    assert 'data-event-id="close_approach-0001"' in page
    assert "20,000 m" in page and "850 m" in page and "separation restored" not in page
    assert situation.injection not in page


def test_no_downsampling_is_said_too(situation: Any, asset_store: AssetStore, tmp_path: Path) -> None:
    out = render_replay(tmp_path / "r.html", situation.tracks, situation.events, store=asset_store)
    assert "All 30 positions of 5 tracks are drawn (no downsampling)." in out.read_text()


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
def test_replay_slider_changes_what_is_shown(guarded_page: Any, situation: Any, asset_store: AssetStore,
                                             tmp_path: Path) -> None:
    t0 = situation.t0_s
    out = render_replay(tmp_path / "replay.html", situation.tracks, incident(situation), window=(t0 - 300, t0),
                        zones=situation.zones, store=asset_store)
    page, log = guarded_page
    page.goto(out.as_uri())
    page.wait_for_selector(".leaflet-timeline-control input.time-slider")
    slider = page.locator("input.time-slider")

    def move_to(t_s: float) -> None:
        # as a user dragging the slider: set the value, fire the input event
        slider.evaluate("(e, v) => { e.value = String(v); e.dispatchEvent(new Event('input')); }", int(t_s * 1000))

    def shown(selector: str) -> list[str]:
        return sorted(page.eval_on_selector_all(selector, "els => els.map(e => e.dataset.id)"))

    move_to(t0 - 200)  # before the close approach opened
    assert shown(".cw-event") == []
    assert len(shown(".cw-track")) == 5
    box_early = page.locator('.cw-track[data-id="icao:45ac2d"]').bounding_box()
    move_to(t0 - 150)  # open, first revision
    assert shown(".cw-event") == ["close_approach-0001"]
    assert page.locator(".cw-event-line").count() == 1
    box_later = page.locator('.cw-track[data-id="icao:45ac2d"]').bounding_box()
    assert box_early is not None and box_later is not None and box_later["x"] > box_early["x"]  # it moved east
    page.click('.cw-event[data-id="close_approach-0001"]')
    assert "36,000 m" in (page.locator(".leaflet-popup .cw-popup-rows").text_content() or "")
    page.keyboard.press("Escape")
    move_to(t0 - 90)  # second revision: its metrics
    page.click('.cw-event[data-id="close_approach-0001"]')
    assert "20,000 m" in (page.locator(".leaflet-popup .cw-popup-rows").text_content() or "")
    page.keyboard.press("Escape")
    screenshot(page, "replay")
    move_to(t0 - 30)  # closed
    assert shown(".cw-event") == []
    move_to(t0)  # the zone entry opens at the end of the window
    assert shown(".cw-event") == ["zone_entry-0002"]
    # a click on a table row moves the slider to the event's opening
    page.click('tr[data-event-id="close_approach-0001"]')
    assert int(slider.input_value()) == int((t0 - 180) * 1000)
    assert shown(".cw-event") == ["close_approach-0001"]
    assert "2024-05-01 10:37:00 UTC" in (page.locator(".leaflet-timeline-control output").text_content() or "")
    # feed strings in the table are text
    assert page.locator("img[src='x']").count() == 0
    assert all(u.startswith(("file:", "data:")) for u in log.requests)
    screenshot(page, "replay-table-click")
