"""An incident report's pages and figures, opened in real headless Chromium from file://, as a recipient opens them.

Screenshots: ``artifacts/screenshots/report-index.png`` (the page with its figures),
``report-replay.png`` (the replay with coastlines, zones and the exercise area in force),
``report-separation.png`` and ``report-zone-edge.png`` (the figures at full size).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_fixtures import screenshot

from closewatch.archive import Archive
from closewatch.replay import incident_spans
from closewatch.report import build_report
from live_demo import LiveDemo

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EXERCISE_EDGE = "#d50000"  # closewatch-map.js: the edge of an unnotified or snap exercise (the demo's is snap)


def _first(live: LiveDemo, kind: str) -> str:
    return min((s for s in incident_spans(live.events).values() if s.kind == kind), key=lambda s: s.opened_s).event_id


@pytest.fixture(scope="module")
def reports(live_demo: LiveDemo, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("report-pages")
    out = {}
    for kind in ("close_approach", "zone_entry"):
        out[kind] = root / kind
        build_report(Archive(live_demo.archive), out[kind], event_id=_first(live_demo, kind), pad_s=600.0)
    return out


def test_report_page_shows_its_figures(guarded_page: Any, reports: dict[str, Path]) -> None:
    page, log = guarded_page
    page.goto((reports["close_approach"] / "index.html").as_uri())
    images = page.locator("img")
    assert images.count() >= 2
    for i in range(images.count()):
        assert page.evaluate("img => img.complete && img.naturalWidth > 300", images.nth(i).element_handle())
    assert page.locator("text=close_approach").count() > 0
    assert page.locator("table tr").count() > 10
    page.screenshot(path=str(screenshot(page, "report-index")), full_page=True)
    for name, fig in (("report-separation", reports["close_approach"].glob("separation-*.png")),
                      ("report-zone-edge", reports["zone_entry"].glob("zone-*.png"))):
        png = next(fig)
        page.goto(png.as_uri())
        assert page.evaluate("() => document.images[0].naturalWidth") > 600
        screenshot(page, name)
    assert all(u.startswith(("file:", "data:")) for u in log.requests)


def test_report_replay_draws_coastlines_zones_and_the_exercise(guarded_page: Any, reports: dict[str, Path]) -> None:
    page, log = guarded_page
    page.goto((reports["zone_entry"] / "replay.html").as_uri())
    page.wait_for_selector(".leaflet-timeline-control input.time-slider")
    assert page.locator("path.cw-zone").count() > 1
    assert page.locator(f'path.cw-zone.cw-unnotified[stroke="{EXERCISE_EDGE}"]').count() == 1  # snap, in force
    assert page.locator("path.cw-outline").count() > 0  # the country outlines the live map uses
    assert page.locator("tr[data-event-id]").count() >= 1
    screenshot(page, "report-replay")
