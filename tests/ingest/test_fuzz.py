"""Property-based: random and mutated input to every decoder. No exception escapes, every
item is a record, and every rejected input carries a reason of a documented category."""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.records import DeadLetter, Notice, TrackUpdate
from ingest import (
    AircraftJsonDecoder,
    AisDecoder,
    CotDecoder,
    ExerciseGeoJsonDecoder,
    ModeSDecoder,
    NotamDecoder,
    Sbs1Decoder,
    TracksCsvDecoder,
    TracksJsonlDecoder,
)
from ingest.ais import encode_nmea
from fuzz_path import REASONS

T0 = 1_700_000_000.0

# The dead-letter reasons of docs/feeds.md.
CATEGORIES = REASONS

SEEDS: dict[str, list[bytes]] = {
    "ais": [
        *encode_nmea({"type": 1, "mmsi": 273123456, "lat": 60.1, "lon": 25.2, "speed": 12.3, "course": 91.5, "heading": 90}, T0),
        *encode_nmea({"type": 5, "mmsi": 273123456, "shipname": "VOLNA", "callsign": "UBAA", "ship_type": 70}, T0, timestamp="pghp", seq_id=2),
        *encode_nmea({"type": 18, "mmsi": 230123456, "lat": 60.0, "lon": 25.0}, T0, timestamp="uscg", source="r003669945"),
        *encode_nmea({"type": 9, "mmsi": 111230100, "lat": 60.0, "lon": 25.0, "alt": 300}, T0, timestamp="tag", source="rx"),
        b"\\si:AISD*3F\\",
        b"$PGHP,1,2013,11,12,12,0,0,11,219,,2190067,1,62*26",
        b"!BSVDM,1,1,,A,13@:`L001N0ded0O6Fp8wW<00<0t,0*62",
    ],
    "sbs": [
        b"MSG,3,1,1,154A12,1,2024/05/01,12:00:00.000,2024/05/01,12:00:00.000,,30000,,,59.5,24.5,,,0,0,0,0",
        b"MSG,4,1,1,154A12,1,2024/05/01,12:00:00.000,2024/05/01,12:00:00.000,,,420,271.5,,,-512,,,,,0",
        b"MSG,1,1,1,154A12,1,2024/05/01,12:00:00.000,2024/05/01,12:00:00.000,RFF7033,,,,,,,,,,,0",
    ],
    "modes": [b"1457996400,\"8D406B909945DE10000405999BE4\",406B90,19", b"*8D40621D58C382D690C8AC2863A7;",
              b"1457996401,8D40621D58C386435CC412692AD6"],
    "jsonl": [json.dumps({"track_id": "ext:a", "t_s": T0, "lat_deg": 59.0, "lon_deg": 24.0, "domain": "air",
                          "side": "nato", "alt_m": 100.0}).encode()],
    "csv": [b"track_id,t_s,lat_deg,lon_deg,domain", b"ext:a,1700000000,59.0,24.0,sea"],
}


def _mutate(seed: bytes, data: st.DataObject) -> bytes:
    b = bytearray(seed)
    for _ in range(data.draw(st.integers(0, 4))):
        op = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if not b:
            break
        i = data.draw(st.integers(0, len(b) - 1))
        if op == "flip":
            b[i] = data.draw(st.integers(0, 255))
        elif op == "insert":
            b[i:i] = data.draw(st.binary(min_size=1, max_size=4))
        elif op == "delete":
            del b[i]
        else:
            del b[i:]
    return bytes(b)


def _check(out: list[Any]) -> None:
    for item in out:
        assert isinstance(item, (TrackUpdate, Notice, DeadLetter)), item
        if isinstance(item, DeadLetter):
            assert item.reason and item.position >= 1
            assert item.reason in CATEGORIES, item.text


LINE_DECODERS: list[tuple[str, Callable[[], Any]]] = [
    ("ais", lambda: AisDecoder("f", clock=lambda: T0)),
    ("sbs", lambda: Sbs1Decoder("f")),
    ("modes", lambda: ModeSDecoder("f", clock=lambda: T0)),
    ("jsonl", lambda: TracksJsonlDecoder("f")),
    ("csv", lambda: TracksCsvDecoder("f")),
]


@pytest.mark.parametrize("kind, make", LINE_DECODERS, ids=[k for k, _ in LINE_DECODERS])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_lines(kind: str, make: Callable[[], Any], data: st.DataObject) -> None:
    seeds = SEEDS[kind]
    lines = [_mutate(data.draw(st.sampled_from(seeds)), data) for _ in range(data.draw(st.integers(1, 8)))]
    if kind == "csv":
        lines.insert(0, seeds[0])
    decoder = make()
    out = list(decoder.decode(lines))
    _check(out)
    assert decoder.stats.lines == len(lines) == decoder.position


@pytest.mark.parametrize("kind, make", LINE_DECODERS, ids=[k for k, _ in LINE_DECODERS])
@settings(max_examples=100, deadline=None)
@given(lines=st.lists(st.binary(max_size=120), min_size=1, max_size=6))
def test_random_lines(kind: str, make: Callable[[], Any], lines: list[bytes]) -> None:
    decoder = make()
    out = list(decoder.decode(lines))
    _check(out)
    # Random bytes never become a track, except by the rarest luck in free-form JSON/CSV.
    if kind in ("ais", "sbs", "modes"):
        assert not any(isinstance(o, TrackUpdate) for o in out)


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def _aircraft_doc(draw_value: Any) -> bytes:
    return json.dumps(draw_value, allow_nan=True).encode()


@settings(max_examples=150, deadline=None)
@given(
    now=st.one_of(st.none(), st.floats(allow_nan=True), st.just(T0), st.text(max_size=5)),
    aircraft=st.lists(
        st.dictionaries(
            st.sampled_from(["hex", "lat", "lon", "alt_baro", "altitude", "gs", "speed", "track", "seen_pos",
                             "baro_rate", "flight", "t", "r", "true_heading"]),
            _JSON_VALUES | st.just("154a12") | st.floats(-200, 200),
            max_size=8,
        ),
        max_size=5,
    ),
)
def test_random_aircraft_json(now: Any, aircraft: list[dict[str, Any]]) -> None:
    doc = {"now": now, "aircraft": aircraft} if now is not None else {"aircraft": aircraft}
    _check(list(AircraftJsonDecoder("f").decode([_aircraft_doc(doc)])))


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_mutated_cot_stream(data: st.DataObject) -> None:
    ev = (b"<?xml version='1.0'?><event version='2.0' uid='u1' type='a-h-A-M-F' time='2024-05-01T12:00:00Z' "
          b"start='2024-05-01T12:00:00Z' stale='2024-05-01T12:05:00Z' how='m-g'><point lat='59.5' lon='24.5' "
          b"hae='3000' ce='10' le='20'/><detail><contact callsign='BEAR 1'/><track course='270' speed='200'/>"
          b"</detail></event>")
    blob = b"".join(_mutate(ev, data) for _ in range(data.draw(st.integers(1, 4))))
    cut = data.draw(st.integers(1, 64))
    _check(list(CotDecoder("f").decode(blob[i : i + cut] for i in range(0, len(blob), cut))))


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_mutated_exercise_documents(data: st.DataObject) -> None:
    feature = {"type": "Feature", "id": "x", "geometry": {"type": "Point", "coordinates": [28.0, 55.0]},
               "properties": {"start": "2025-09-12T00:00:00Z", "end": "2025-09-16T00:00:00Z", "radius_m": 3000,
                              "country": "BY", "scale": {"troops": 100}}}
    props = feature["properties"]
    key = data.draw(st.sampled_from(sorted(props) + ["side", "notification", "buffer_m", "domains"]))
    props[key] = data.draw(_JSON_VALUES)
    raw = _mutate(json.dumps({"type": "FeatureCollection", "features": [feature]}).encode(), data)
    _check(list(ExerciseGeoJsonDecoder("f").decode([raw])))


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_mutated_notams(data: st.DataObject) -> None:
    notam = (b"(A1234/24 NOTAMN\nQ) EFIN/QRTCA/IV/BO/W/000/200/6012N02512E025\nA) EFIN B) 2406010600 "
             b"C) 2406011800\nE) AREA WITHIN RADIUS 10NM CENTRED ON 601200N 0251200E.\nF) GND G) FL200)")
    _check(list(NotamDecoder("f").decode([_mutate(notam, data)])))
