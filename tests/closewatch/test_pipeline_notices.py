"""Notices from the feeds become zones (proximity.notices) before the engine and the sinks see them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import pytest

import closewatch.pipeline
from closewatch.pipeline import Pipeline
from closewatch.sinks import RecorderSink
from config.records import DeadLetter, Notice, Zone
from config.settings import parse_settings
from proximity.errors import NoticeError
from proximity.notices import zone_from_notice


class ZoneSink(RecorderSink):
    """The recorder, keeping the zones and dead letters it is given too."""

    def __init__(self) -> None:
        super().__init__()
        self.zones: list[Zone] = []
        self.letters: list[DeadLetter] = []

    def publish_deadletters(self, letters: Sequence[DeadLetter]) -> None:
        self.letters.extend(letters)

    def publish_zones(self, zones: Sequence[Zone]) -> None:
        self.zones.extend(zones)


def _feature(fid: str, lon: float) -> dict[str, Any]:
    return {"type": "Feature", "id": fid, "geometry": {"type": "Point", "coordinates": [lon, 57.85]},
            "properties": {"start": "2026-03-10T10:10:00Z", "end": "2026-03-10T10:30:00Z", "radius_m": 15_000,
                           "country": "RU", "notification": "snap"}}


def _pipeline(tmp_path: Path, sink: ZoneSink) -> Pipeline:
    path = tmp_path / "exercises.geojson"
    doc = {"type": "FeatureCollection", "features": [_feature("near", 28.4), _feature("broken", 28.6)]}
    path.write_text(json.dumps(doc))
    settings = parse_settings({
        "feeds": [{"name": "ex", "format": "exercise-geojson", "path": str(path)}],
        "zones": {"catalogue": "none"},
        "sinks": {"events_jsonl": str(tmp_path / "e.jsonl"), "deadletter_jsonl": str(tmp_path / "d.jsonl")},
    })
    return Pipeline(settings, [sink])


def test_notices_reach_engine_and_sinks_as_zones(tmp_path: Path) -> None:
    sink = ZoneSink()
    pipeline = _pipeline(tmp_path, sink)
    engine_zones: list[Zone] = []
    add_zones = pipeline.engine.add_zones

    def spy(zones: Sequence[Zone]) -> Any:
        engine_zones.extend(zones)
        return add_zones(zones)

    pipeline.engine.add_zones = spy  # type: ignore[method-assign]
    summary = pipeline.run()
    assert summary.zones_from_feeds == 2 and not summary.dead_letters
    assert [z.zone_id for z in sink.zones] == ["exercise:near", "exercise:broken"]
    near = sink.zones[0]
    expected = zone_from_notice(
        Notice(notice_id="exercise:near", kind="exercise", name="near", source="ex",
               area=near_area(), severity="critical", issuer_country="RU", issuer_side="russia")
    )
    assert near.geometry.equals(expected.geometry) and near.severity == "critical"
    assert engine_zones == sink.zones  # the engine watches the same zones, built once


def near_area():  # type: ignore[no-untyped-def]
    from config.records import CircleArea

    return CircleArea(lon_deg=28.4, lat_deg=57.85, radius_m=15_000.0)


def test_a_notice_whose_area_cannot_be_built_is_a_dead_letter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def build(notice: Notice) -> Zone:
        if notice.notice_id == "exercise:broken":
            raise NoticeError(f"notice {notice.notice_id}: area: cannot be built (test)")
        return zone_from_notice(notice)

    monkeypatch.setattr(closewatch.pipeline, "zone_from_notice", build)
    sink = ZoneSink()
    summary = _pipeline(tmp_path, sink).run()
    assert [z.zone_id for z in sink.zones] == ["exercise:near"]
    (letter,) = sink.letters
    assert (letter.feed, letter.position) == ("ex", 2)
    assert letter.text == "impossible value: notice exercise:broken: area: cannot be built (test)"
    assert summary.dead_letters == {("ex", "impossible value"): 1} and summary.zones_from_feeds == 1
    assert summary.dead_letter_examples[("ex", "impossible value")].startswith("notice exercise:broken: area:")
