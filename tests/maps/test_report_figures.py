"""The report's figures and page (maps.report): files written, the same bytes for the same input, text escaped."""

from __future__ import annotations

from pathlib import Path

from maps.report import (IncidentRow, SeparationSeries, ZoneDistanceSeries, plot_separation, plot_timeline,
                         plot_zone_distance, render_report_page)
from proximity.events import Event, Subject

T = 1_773_140_000.0


def _rev(kind: str, state: str, seq: int, t: float, **metrics: float) -> Event:
    subjects = (Subject("icao:154a2c", "russia", "air", t, 59.9, 25.0), Subject("icao:3f6b21", "nato", "air", t, 59.91, 25.0))
    return Event(f"{kind}-0000000000000001", kind, state, seq, t, "critical" if seq > 1 else "warning", subjects,  # type: ignore[arg-type]
                 "<b>two aircraft</b>", metrics=metrics)


def _series() -> SeparationSeries:
    t = [T + 5 * i for i in range(200)]
    d = [abs(40_000.0 - 400.0 * i) + 1500.0 for i in range(200)]
    revs = [_rev("predicted_close_approach", "open", 0, T + 300, cpa_m=1200.0, cpa_t_s=T + 500, distance_m=28_000.0),
            _rev("close_approach", "open", 0, T + 420, distance_m=9000.0, vertical_sep_m=150.0),
            _rev("close_approach", "update", 2, T + 500, distance_m=1500.0, vertical_sep_m=150.0)]
    return SeparationSeries("icao:154a2c / icao:3f6b21", t, d, [150.0] * 200, 9260.0, 10186.0, 305.0, revs)


def test_figures_are_png_and_svg_and_the_same_each_time(tmp_path: Path) -> None:
    a = plot_separation(_series(), tmp_path / "a")
    b = plot_separation(_series(), tmp_path / "b")
    assert [p.suffix for p in a] == [".png", ".svg"]
    assert a[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and b"<svg" in a[1].read_bytes()[:400]
    assert a[1].read_bytes() == b[1].read_bytes()  # no date, salted ids: the same report gives the same bytes
    assert b"axis cut at 41 km" in a[1].read_bytes()  # the hours of distance do not squash the approach
    revs = _series().revisions
    plot_timeline([IncidentRow("close approach", revs[1:], True), IncidentRow("predicted", revs[:1])],
                  (T, T + 1000), tmp_path / "timeline", "test")
    plot_zone_distance(ZoneDistanceSeries("track and zone", [T, T + 10, T + 20], [500.0, -20.0, -300.0], 1000.0,
                                          []), tmp_path / "zone")
    assert (tmp_path / "timeline.png").stat().st_size > 5000 and (tmp_path / "zone.svg").is_file()


def test_page_escapes_what_feeds_said(tmp_path: Path) -> None:
    revs = _series().revisions
    page = render_report_page(tmp_path / "index.html", title="report <script>alert(1)</script>",
                              summary=[("summary", "<img src=x onerror=alert(1)>")], figures=[("fig", "a.png")],
                              revisions=revs, raised_at={(revs[0].event_id, 0): T + 301.5}, files=[("a.png", "x")])
    text = page.read_text()
    assert "<script>alert" not in text and "<img src=x" not in text and "&lt;b&gt;two aircraft" in text
    assert "2026-03-10T10:58:21.500Z" in text  # raised at, to the millisecond
