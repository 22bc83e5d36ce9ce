"""The kinds of events: registered by their families, declared in the Kafka contract, closed only
for the reasons they declare; the pieces of the one incident lifecycle."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from config.records import TrackUpdate
from proximity.events import EVENT_KINDS, ZONE_LEVEL_KINDS, Event, KindSpec, Subject, kind_spec, register_kind
from proximity.families import FAMILIES
from proximity.lifecycle import Closed, Incident, IncidentBook

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("proximity_golden", Path(__file__).with_name("golden.py"))
assert _spec is not None and _spec.loader is not None
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)


def test_every_family_registers_its_kind_in_the_order_they_run():
    assert EVENT_KINDS == tuple(f.spec.kind for f in FAMILIES)
    assert set(EVENT_KINDS) == {
        "zone_entry", "predicted_zone_entry", "close_approach", "predicted_close_approach",
        "track_integrity", "exercise_near_border", "shadowing", "intercept", "bomber_sortie",
        "unsafe_air_intercept_of_ship", "unsafe_manoeuvre_at_sea", "gnss_interference", "ais_gap",
    }
    assert ZONE_LEVEL_KINDS == ("exercise_near_border",)


def _kind_members(node: object) -> list[dict]:
    """Every ``kind`` member declared anywhere in a JSON schema."""
    found: list[dict] = []
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict) and isinstance(props.get("kind"), dict) and props["kind"].get("type") == "string":
            found.append(props["kind"])
        for value in node.values():
            found += _kind_members(value)
    elif isinstance(node, list):
        for value in node:
            found += _kind_members(value)
    return found


def test_every_kind_is_in_the_event_schema():
    """The Kafka contract names every kind (its ``enum`` when it has one, else its description)."""
    schema = json.loads((ROOT / "alerts/schemas/event.v1.json").read_text())
    members = _kind_members(schema)
    assert members
    for member in members:
        if "enum" in member:
            named = set(member["enum"])
        else:
            named = set(member["description"].replace(",", " ").replace(".", " ").split())
        assert set(EVENT_KINDS) <= named, sorted(set(EVENT_KINDS) - named)


def test_every_kind_has_a_label_on_the_map():
    """``KIND_NAMES`` of the map's script names every kind (the layer control and the popups)."""
    import re

    js = (ROOT / "maps/static/closewatch-map.js").read_text()
    block = re.search(r"var KIND_NAMES = \{(.*?)\};", js, re.S)
    assert block is not None
    labelled = set(re.findall(r"([a-z_]+):\s*\"[^\"]+\"", block.group(1)))
    assert set(EVENT_KINDS) <= labelled, sorted(set(EVENT_KINDS) - labelled)


def test_a_kind_closes_only_for_the_reasons_it_declares():
    """Over every recorded scenario (the demo, the benchmark's traffic, the tests' engines)."""
    seen: dict[str, set[str]] = {}
    for name in golden.STORED:
        for line in golden.recorded(name):
            event = json.loads(line).get("event")
            if event is not None and event["state"] == "closed":
                seen.setdefault(event["kind"], set()).add(event["close_reason"])
    assert set(seen) == set(EVENT_KINDS)
    for kind, reasons in seen.items():
        spec = kind_spec(kind)
        assert spec is not None and reasons <= set(spec.close_reasons), (kind, reasons)
    assert all(Closed.END_OF_INPUT in kind_spec(k).close_reasons for k in EVENT_KINDS)  # type: ignore[union-attr]


def test_the_registry_refuses_a_second_meaning_for_a_kind():
    spec = kind_spec("zone_entry")
    assert register_kind(spec) is spec  # the same again is harmless
    with pytest.raises(ValueError, match="registered already"):
        register_kind(KindSpec("zone_entry", "pair", ("exit",)))


def _subject() -> Subject:
    return Subject(track_id="ais:1", side="russia", domain="sea", t_s=0.0, lat_deg=59.0, lon_deg=24.0)


def test_events_of_unknown_kinds_and_subjectless_track_events_are_refused():
    with pytest.raises(ValueError, match="is not one of"):
        Event("x-1", "sea_monster", "open", 0, 0.0, "info", (_subject(),), "?")
    with pytest.raises(ValueError, match="needs at least one subject"):
        Event("x-1", "zone_entry", "open", 0, 0.0, "info", (), "?")
    Event("x-1", "exercise_near_border", "open", 0, 0.0, "info", (), "zone-level: no subjects")


def test_dwell_and_settle():
    inc = Incident(("zone_entry", 3, 1), "id", 0.0, (3,), 1, "warning", {})
    assert not inc.dwelt(100.0, 30.0)
    assert not inc.dwelt(120.0, 30.0)
    assert inc.dwelt(130.0, 30.0)  # held since 100 s
    inc.settle()
    assert not inc.dwelt(140.0, 30.0)  # starts again


def test_the_book_finds_incidents_by_key_track_and_zone():
    book = IncidentBook()
    a = Incident(("zone_entry", 3, 1), "a", 0.0, (3,), 1, "warning", {})
    b = Incident(("close_approach", 3, 7), "b", 0.0, (3, 7), None, "warning", {})
    c = Incident(("exercise_near_border", -1, 1), "c", 0.0, (), 1, "warning", {})
    for inc in (a, b, c):
        book.add(inc)
    assert book.of_slot(3) == [b.key, a.key]  # sorted keys: kind, then the numbers
    assert book.of_zone(1) == [c.key, a.key]
    assert book.of_kind("close_approach") == [b.key] and b.key in book and len(book) == 3
    assert book.remove(a.key) is a
    assert book.of_slot(3) == [b.key] and book.of_zone(1) == [c.key] and book.get(a.key) is None


def test_per_kind_records_hold_plain_data_only():
    """Incident records point at tracks and zones by number, never at live objects."""
    from dataclasses import fields

    from proximity.families._pairs import PairIncident
    from proximity.families.predicted_zone_entry import PredictedEntryIncident
    from proximity.families.track_integrity import IntegrityIncident
    from proximity.families.zone_entry import ZoneEntryIncident

    plain = {"str", "float", "int", "Key", "tuple[int, ...]", "int | None", "Severity", "dict[str, float]",
             "float | None", "set[str]", "str | None", "bool | None"}
    for cls in (Incident, PairIncident, PredictedEntryIncident, IntegrityIncident, ZoneEntryIncident):
        assert {str(f.type) for f in fields(cls)} <= plain, cls


def test_a_report_subject_is_suspect_as_judged_on_that_report(upd, at, circle_zone):
    """A track enters a zone, then jumps, between two ticks: the entry's subject was not yet
    suspect, as when the reports come one by one."""
    from config.settings import ProximitySettings
    from proximity.engine import Engine

    T0 = 1_700_000_000.0
    zone = circle_zone("z", 24.0, 59.0, 5_000.0, sides=("russia",))
    reports: list[TrackUpdate] = [
        upd("ais:1", T0 + 1, *at(24.0, 59.0, 0.0, 5_005.0), speed_mps=5.0, course_deg=180.0),
        upd("ais:1", T0 + 2, *at(24.0, 59.0, 0.0, 4_998.0), speed_mps=5.0, course_deg=180.0),
        upd("ais:1", T0 + 3, *at(24.0, 59.0, 0.0, 4_993.0), speed_mps=5.0, course_deg=180.0),
        upd("ais:1", T0 + 4, *at(24.0, 59.0, 90.0, 60_000.0), speed_mps=5.0, course_deg=180.0),  # a jump
    ]

    def run(cuts: list[int]) -> list[dict]:
        eng = Engine(ProximitySettings(), [zone])
        out, i = [], 0
        for c in cuts:
            out += eng.process(reports[i : i + c])
            i += c
        return [e.canonical() for e in out]

    whole = run([4])
    assert whole == run([1, 1, 1, 1]) == run([2, 2])
    entry = next(e for e in whole if e["kind"] == "zone_entry")
    flag = next(e for e in whole if e["kind"] == "track_integrity")
    assert not entry["integrity_suspect"] and not entry["subjects"][0]["suspect"]
    assert flag["integrity_suspect"] and flag["subjects"][0]["suspect"]
