"""One guard per stage: a record that fails becomes a dead letter, the stream goes on.

The decode guard around a real decoder that raises on one line (as a hostile line
makes ``json`` raise ``RecursionError``); the engine guard around a real engine
that raises on one report half-way through a batch (after it changed its state):
the report is set aside, and the events are those of the input without it,
whatever the batch cut.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pyproj import Geod

from closewatch.engine_guard import EngineGuard
from closewatch.rules import load_profile
from config.affiliation import Affiliation
from config.records import DeadLetter, TrackUpdate, Zone
from config.settings import FeedSettings, ProximitySettings, SidesSettings
from ingest.feeds import guarded_decode, make_decoder
from ingest.stats import FeedStats
from proximity.engine import Engine
from proximity.geometry import geodesic_circle
from proximity.rules import Rules

GEOD = Geod(ellps="WGS84")
T0 = 1_700_000_000.0


def _line(i: int) -> bytes:
    return json.dumps({"track_id": f"ais:{i}", "t_s": T0 + i, "lat_deg": 58.0, "lon_deg": 22.0, "domain": "sea",
                       "side": "nato"}).encode()


def test_a_decoder_that_raises_on_one_line_makes_it_a_dead_letter_and_goes_on(monkeypatch):
    feed = FeedSettings(name="t", format="tracks-jsonl", path="unused")
    decoder = make_decoder(feed, Affiliation(SidesSettings()), stats=FeedStats("t"))
    parse = decoder._record  # type: ignore[attr-defined]

    def hostile(raw: bytes) -> Any:
        if b"boom" in raw:
            raise RecursionError("maximum recursion depth exceeded while decoding a JSON array")
        return parse(raw)

    monkeypatch.setattr(decoder, "_record", hostile)
    units = [_line(1), _line(2), b"[[[[boom", _line(4), b"[[boom", _line(6)]
    items = list(guarded_decode(decoder, units))
    assert [type(i).__name__ for i in items] == ["TrackUpdate", "TrackUpdate", "DeadLetter", "TrackUpdate",
                                                  "DeadLetter", "TrackUpdate"]
    letters = [i for i in items if isinstance(i, DeadLetter)]
    assert [(d.position, d.raw, d.stage) for d in letters] == [(3, b"[[[[boom", "decode"), (5, b"[[boom", "decode")]
    assert letters[0].reason == "decoder failure"
    assert (letters[0].detail or "").startswith("RecursionError: maximum recursion depth")
    assert decoder.stats.dead == {"decoder failure": 2}
    assert [i.track_id for i in items if isinstance(i, TrackUpdate)] == ["ais:1", "ais:2", "ais:4", "ais:6"]


def test_a_transport_failure_is_not_a_dead_letter_it_ends_the_feed():
    feed = FeedSettings(name="t", format="tracks-jsonl", path="unused")
    decoder = make_decoder(feed, Affiliation(SidesSettings()), stats=FeedStats("t"))

    def units():  # type: ignore[no-untyped-def]
        yield _line(1)
        raise ConnectionResetError("peer reset")

    got: list[Any] = []
    with pytest.raises(ConnectionResetError):
        for item in guarded_decode(decoder, units()):
            got.append(item)
    assert len(got) == 1 and isinstance(got[0], TrackUpdate) and not decoder.stats.dead


# -- the engine stage ------------------------------------------------------------------------


def _zone() -> Zone:
    return Zone(zone_id="z", name="zone z", kind="site", geometry=geodesic_circle(22.0, 58.0, 10_000.0, max_error_m=1.0),
                sides=("russia", "nato"))


def _reports() -> list[TrackUpdate]:
    """Two opposing ships closing on each other across a zone, and one report that poisons the engine."""
    out = []
    for k in range(120):
        t = T0 + 10 * k
        lon_a, lat_a, _ = GEOD.fwd(21.8, 58.0, 90.0, 6.0 * 10 * k)
        lon_b, lat_b, _ = GEOD.fwd(22.2, 58.0, 270.0, 6.0 * 10 * k)
        out.append(TrackUpdate(track_id="ais:1", source="in", t_s=t, lat_deg=float(lat_a), lon_deg=float(lon_a),
                               domain="sea", side="nato", speed_mps=6.0, course_deg=90.0))
        out.append(TrackUpdate(track_id="ais:2", source="in", t_s=t + 1, lat_deg=float(lat_b), lon_deg=float(lon_b),
                               domain="sea", side="russia", speed_mps=6.0, course_deg=270.0))
        if k in (40, 41, 77):
            out.append(TrackUpdate(track_id="ais:666", source="in", t_s=t + 2, lat_deg=58.0, lon_deg=22.0,
                                   domain="sea", side="russia", raw_ref=f"in:{1000 + k}"))
    return out


class _PoisonedEngine(Engine):
    """A real engine that fails on the reports of ais:666, after taking those before it in the batch."""

    def process(self, updates):  # type: ignore[no-untyped-def]
        for i, u in enumerate(updates):
            if u.track_id == "ais:666":
                super().process(updates[:i])  # the state changed before the failure
                raise ValueError(f"cannot handle {u.track_id}")
        return super().process(updates)


def _canonical(events: list) -> list[str]:
    return [json.dumps(e.canonical(), sort_keys=True) for e in events]


@pytest.mark.parametrize("batch", [1, 7, 64, 1000])
def test_a_report_that_makes_the_engine_raise_is_set_aside_and_the_events_are_those_without_it(batch):
    reports = _reports()
    clean_engine = Engine(ProximitySettings(), [_zone()])
    clean = _canonical(clean_engine.process([u for u in reports if u.track_id != "ais:666"]) + clean_engine.finish())
    assert clean

    guard = EngineGuard(_PoisonedEngine(ProximitySettings(), [_zone()]), snapshot_every=50)
    events, letters = [], []
    for i in range(0, len(reports), batch):
        ev, dl = guard.process(reports[i : i + batch])
        events += ev
        letters += dl
    events += guard.finish()
    assert _canonical(events) == clean
    assert [(d.feed, d.position, d.stage) for d in letters] == [("in", 1040, "engine"), ("in", 1041, "engine"),
                                                                ("in", 1077, "engine")]
    assert all((d.reason, d.detail) == ("engine failure", "ValueError: cannot handle ais:666") for d in letters)
    assert b"ais:666" in letters[0].raw  # the report, as the guard was told to write it (repr by default)
    assert guard.failures == 3


@pytest.mark.parametrize("batch", [1, 7, 1000])
def test_the_context_events_of_a_guarded_engine_are_those_without_the_report_set_aside(batch):
    """--explain: the incidents not raised of explained tracks come out once each, as without the
    poisoned report; not again from the runs that found it (the failed one, the replays, the tries)."""
    rules = Rules(profile=load_profile("military"), explain=frozenset({"ais:1", "ais:2"}))
    clean_engine = Engine(ProximitySettings(), [_zone()], rules=rules)
    clean_engine.process([u for u in _reports() if u.track_id != "ais:666"])
    clean_engine.finish()
    clean = _canonical(clean_engine.take_context())
    assert clean

    guard = EngineGuard(_PoisonedEngine(ProximitySettings(), [_zone()], rules=rules), snapshot_every=50)
    context: list = []
    reports = _reports()
    for i in range(0, len(reports), batch):
        guard.process(reports[i : i + batch])
        context += guard.engine.take_context()
    guard.finish()
    context += guard.engine.take_context()
    assert guard.failures == 3
    assert _canonical(context) == clean


def test_reports_set_aside_far_ahead_are_dead_letters_each_and_one_log_line(caplog):
    """A feed whose clock is two years off: every report a dead letter, the log one line naming the track."""
    guard = EngineGuard(Engine(ProximitySettings(), [_zone()]), snapshot_every=50)
    ahead = 2 * 365 * 86_400.0
    wild = [TrackUpdate(track_id="icao:abc123", source="in", t_s=T0 + ahead + k, lat_deg=58.0, lon_deg=22.0 + k / 1e3,
                        domain="air", side="nato", raw_ref=f"in:{k + 1}") for k in range(40)]
    with caplog.at_level("WARNING", logger="closewatch.engine_guard"):
        guard.process(_reports()[:50] + wild)
        guard.finish()
        letters = guard.far_ahead_letters()
    assert [(d.reason, d.stage) for d in letters] == [("time far ahead", "engine")] * 40
    assert [(d.feed, d.position) for d in letters] == [("in", k) for k in range(1, 41)]
    lines = [r.getMessage() for r in caplog.records if "set aside" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("40 report(s) set aside (time far ahead") and "icao:abc123 x 40" in lines[0]
