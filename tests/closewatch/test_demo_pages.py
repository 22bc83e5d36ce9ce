"""The demo's situation map and replay, opened in real headless Chromium as a user opens them.

The snap exercise near Pskov reaches closewatch as a feed notice (an exercise zone, not
part of the zone catalogue): the pages must draw it (``Sink.publish_zones``), with the heavy
red edge of activity not notified in time, and say so in its popup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from browser_fixtures import screenshot

from closewatch.cli import main

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EXERCISE_NAME = "Airborne snap exercise, Pskov"
EXERCISE_EDGE = "#d50000"  # closewatch-map.js: the edge of an unnotified or snap exercise


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("demo") / "demo-out"
    assert main(["demo", "--no-kafka", "--out", str(out)]) == 0
    yield out


def _exercise_drawn(page: Any, name: str) -> None:
    area = page.locator(f'path.cw-zone.cw-unnotified[stroke="{EXERCISE_EDGE}"]')
    assert area.count() == 1
    assert area.get_attribute("stroke-dasharray") == "2 6"  # dotted: not notified in time
    box = area.bounding_box()
    assert box is not None and box["width"] > 10 and box["height"] > 10
    screenshot(page, name)
    # a click at the centre of the area (dispatched: markers may lie on top of it)
    area.dispatch_event("click", {"clientX": box["x"] + box["width"] / 2, "clientY": box["y"] + box["height"] / 2,
                                  "bubbles": True})
    title = page.locator(".leaflet-popup .cw-popup-title")
    title.wait_for()
    assert title.text_content() == EXERCISE_NAME
    rows = page.locator(".leaflet-popup .cw-popup-rows").text_content() or ""
    assert "exercise" in rows and "SNAP EXERCISE: exercise:pskov-snap-1 by RU" in rows


@pytest.mark.parametrize(
    ("page_file", "ready", "shot"),
    [
        ("map.html", ".cw-track", "demo-map"),
        ("replay.html", ".leaflet-timeline-control input.time-slider", "demo-replay"),
    ],
)
def test_demo_pages_draw_the_notified_exercise(guarded_page: Any, demo_out: Path, page_file: str, ready: str,
                                               shot: str) -> None:
    page, log = guarded_page
    page.goto((demo_out / page_file).as_uri())
    page.wait_for_selector(ready)
    _exercise_drawn(page, shot)
    assert all(u.startswith(("file:", "data:")) for u in log.requests)
