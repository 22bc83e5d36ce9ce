"""Mutated real feed input pushed along the whole path: decoder, engine, encoder, sink.

Shared by ``tests/robustness/test_decoders_properties.py`` (hypothesis, a CI budget) and
``bench/bench_fuzz.py`` (100,000 inputs per decoder). The seeds are the real samples of
``../shared/data`` (read there, never copied); a mutation flips, inserts, deletes,
truncates, duplicates or splices bytes, or plants one of the values that used to stop a
feed (a 400-digit integer, deep brackets, ``1e400``, ``NaN``, bytes that are not UTF-8).

:func:`whole_path` decodes the units, checks every item (a record; a dead letter with a
documented reason, a bounded detail and the raw bytes), feeds the reports to an engine
watching a zone where the data are, and encodes every event, track and dead letter as a
sink would (``alerts.codec``): any exception is a failure of the path.
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from alerts.codec import encode_deadletter, encode_event, encode_track
from config.records import DeadLetter, Notice, TrackUpdate
from config.settings import ProximitySettings
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
from proximity.engine import Engine
from proximity.geometry import geodesic_circle
from config.records import Zone

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

#: The dead-letter reasons of docs/feeds.md.
REASONS = frozenset({
    "oversized input", "nested too deeply", "malformed line", "malformed tag block", "malformed sentence",
    "malformed document", "malformed record", "malformed event", "truncated event", "malformed feature",
    "malformed NOTAM", "malformed header", "checksum mismatch", "truncated multi-sentence message", "empty payload",
    "undecodable payload", "truncated payload", "impossible value", "bad field", "unparseable timestamp",
    "impossible timestamp", "no timestamp",
})

T_CLOCK = 1_714_564_800.0

EVIL = [b"1" * 400, b"[" * 60, b"{" * 60, b"1e400", b"-1e400", b"NaN", b"Infinity", b"\xff\xfe", b"\x00",
        b"\"", b"\\", b"9" * 30, b"-", b",", b"*", b"</event>", b"<event>", b"&lt;", b"\r", b"\n"]
# Values that parse but may lie outside a field's range.
NUMBERS = [b"-121", b"400", b"1e308", b"-1e308", b"0", b"-0", b"99999999", b"1e-320", b"360", b"91", b"-181",
           b"2099", b"1970", b"65535", b"4.5", b"-4.5"]

NOTAM = (b"(A1234/24 NOTAMN\nQ) EFIN/QRTCA/IV/BO/W/000/200/6012N02512E025\nA) EFIN B) 2406010600 "
         b"C) 2406011800\nE) AREA WITHIN RADIUS 10NM CENTRED ON 601200N 0251200E.\nF) GND G) FL200)\n\n"
         b"(B0456/24 NOTAMN\nQ) UMKK/QRDCA/IV/BO/W/000/999/5442N02030E030\nA) UMKK B) 2406020000 C) 2406022359\n"
         b"E) DANGER AREA WI 545000N 0200000E - 545000N 0210000E - 543000N 0210000E - 545000N 0200000E.)")
EXERCISE = json.dumps({"type": "FeatureCollection", "features": [
    {"type": "Feature", "id": "zapad", "geometry": {"type": "Point", "coordinates": [28.0, 55.0]},
     "properties": {"start": "2024-09-12T00:00:00Z", "end": "2024-09-16T23:59:59Z", "radius_m": 30000,
                    "country": "BY", "scale": {"troops": 13000}}},
    {"type": "Feature", "id": "snap", "geometry": {"type": "Polygon", "coordinates": [[[20, 55], [21, 55], [21, 55.5],
                                                                                      [20, 55]]]},
     "properties": {"start": "2024-05-01T00:00:00Z", "end": None, "notification": "snap", "buffer_m": 5000}}]}).encode()


@dataclass
class Format:
    """One decoder with its real seed units."""

    name: str
    make: Callable[[], Any]
    seeds: list[bytes]
    documents: bool = False
    header: bytes | None = None  # CSV: the first unit of every input


def _lines(path: Path) -> list[bytes]:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return [ln for ln in data.splitlines() if ln.strip()]


def _tracks_from_ais(lines: list[bytes]) -> list[TrackUpdate]:
    return [u for u in AisDecoder("seed").decode(lines) if isinstance(u, TrackUpdate)]


def _aircraft_documents(d: Path) -> list[bytes]:
    """Small real documents: a dump1090 snapshot cut into snapshots of two aircraft, and
    a readsb trace cut into traces of five rows."""
    snapshot = json.loads((d / "adsb" / "billglover_dump1090_aircraft_uk.json").read_bytes())
    trace = json.loads((d / "adsb" / "readsb_trace_full_ac671b.json").read_bytes())
    aircraft = snapshot["aircraft"]
    docs = [json.dumps({**snapshot, "aircraft": aircraft[i : i + 2]}).encode() for i in range(0, len(aircraft), 2)]
    rows = trace["trace"]
    docs += [json.dumps({**trace, "trace": rows[i : i + 5]}).encode() for i in range(0, 500, 5)]
    return docs


def formats() -> list[Format]:
    """Every decoder with real seeds (call only when SHARED_DATA exists)."""
    d = SHARED_DATA
    ais = _lines(d / "ais" / "dma_aisabnormal_ais-sample.txt.gz")[:3000]
    for name in ("libais_test.aivdm", "gpsd_ais-18-27.log", "pyais_nmea_data_sample.txt", "dma_aislib_replay_dump.txt"):
        ais += _lines(d / "ais" / name)
    tracks = _tracks_from_ais(ais)[:400]
    jsonl = [json.dumps({k: v for k, v in json.loads(encode_track(u)).items() if k != "schema_version"}).encode()
             for u in tracks]
    header = b"track_id,t_s,lat_deg,lon_deg,domain,speed_mps,course_deg,heading_deg,callsign,name"
    csv = [",".join("" if v is None else str(v) for v in (u.track_id, u.t_s, u.lat_deg, u.lon_deg, u.domain,
                                                            u.speed_mps, u.course_deg, u.heading_deg, u.callsign,
                                                            u.name)).encode() for u in tracks]
    return [
        Format("ais-nmea", lambda: AisDecoder("fuzz", clock=lambda: T_CLOCK), ais),
        Format("sbs1", lambda: Sbs1Decoder("fuzz", clock=lambda: T_CLOCK), _lines(d / "adsb" / "node-sbs1_msgs.txt")),
        Format("modes-raw", lambda: ModeSDecoder("fuzz", clock=lambda: T_CLOCK), _lines(d / "adsb" / "sample_data_adsb.csv")),
        Format("aircraft-json", lambda: AircraftJsonDecoder("fuzz", clock=lambda: T_CLOCK), _aircraft_documents(d),
               documents=True),
        Format("cot", lambda: CotDecoder("fuzz", clock=lambda: T_CLOCK),
               [p.read_bytes() for p in sorted((d / "cot").glob("*.xml"))], documents=True),
        Format("tracks-jsonl", lambda: TracksJsonlDecoder("fuzz", clock=lambda: T_CLOCK), jsonl),
        Format("tracks-csv", lambda: TracksCsvDecoder("fuzz", clock=lambda: T_CLOCK), csv, header=header),
        Format("exercise-geojson", lambda: ExerciseGeoJsonDecoder("fuzz"), [EXERCISE], documents=True),
        Format("notam", lambda: NotamDecoder("fuzz"), [NOTAM], documents=True),
    ]


def mutate(seed: bytes, rng: random.Random, max_ops: int = 3) -> bytes:
    """A real unit with up to ``max_ops`` random edits: mostly a number replaced by another
    (a plausible one, one out of range, or a hostile one), so that much of the input gets
    past the syntax into the values; else bytes flipped, inserted, deleted, cut, repeated."""
    b = bytearray(seed)
    for _ in range(rng.randint(0, max_ops)):
        if not b:
            b += rng.choice(EVIL)
            continue
        i = rng.randrange(len(b))
        op = rng.randrange(12)
        if op >= 6:  # a number (the next run of digits) replaced
            digits = b"0123456789"
            k = next((k for k in range(i, min(len(b), i + 400)) if b[k] in digits), None)
            if k is None:
                continue
            j = k
            while j < len(b) and b[j] in b"0123456789.-+e":
                j += 1
            b[k:j] = rng.choice(NUMBERS if op < 10 else EVIL)
        elif op == 0:
            b[i] = rng.randrange(256)
        elif op == 1:
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        elif op == 2:
            del b[i : i + rng.randint(1, 8)]
        elif op == 3:
            del b[i:]
        elif op == 4:
            b[i:i] = rng.choice(EVIL)
        else:
            j = rng.randrange(len(b))
            b[i:i] = b[min(i, j) : max(i, j)][:200]  # duplicate a run
    return bytes(b)


def units_for(fmt: Format, rng: random.Random, n_units: int) -> list[bytes]:
    """``n_units`` mutated seeds (whole documents, or lines), with the CSV header first."""
    out = [mutate(rng.choice(fmt.seeds), rng) for _ in range(n_units)]
    if fmt.header is not None:
        out.insert(0, fmt.header)
    return out


_ZONE = Zone(zone_id="fuzz", name="fuzz", kind="custom", geometry=geodesic_circle(12.6, 55.7, 50_000.0, max_error_m=5.0),
             buffer_m=50_000.0, sides=("russia", "nato", "other", "unknown"))


@dataclass
class PathCounts:
    inputs: int = 0
    updates: int = 0
    notices: int = 0
    dead_letters: int = 0
    events: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def whole_path(fmt: Format, units: list[bytes], counts: PathCounts, *, cut: int = 7) -> None:
    """Decode ``units``, check the items, run the reports through an engine and encode all
    (raises AssertionError, or whatever escapes, on a failure of the path)."""
    decoder = fmt.make()
    items: list[Any] = []
    if fmt.documents and fmt.name == "cot":  # a stream: cut anywhere
        blob = b"".join(units)
        items = list(decoder.decode(blob[i : i + cut * 97] for i in range(0, len(blob), cut * 97)))
    else:
        items = list(decoder.decode(units))
    counts.inputs += len(units)
    updates = []
    for item in items:
        if isinstance(item, DeadLetter):
            assert item.reason in REASONS, item.text
            assert item.detail is None or len(item.detail) <= 501, item.detail[:80]
            assert item.position >= 0 and len(item.raw) <= 16 * 1024 * 1024
            counts.dead_letters += 1
            counts.reasons[item.reason] = counts.reasons.get(item.reason, 0) + 1
            json.loads(encode_deadletter(item))
        elif isinstance(item, TrackUpdate):
            updates.append(item)
            json.loads(encode_track(item))
        else:
            assert isinstance(item, Notice), item
            counts.notices += 1
    counts.updates += len(updates)
    engine = Engine(ProximitySettings(), [_ZONE])
    events = []
    for start in range(0, len(updates), cut):
        events += engine.process(updates[start : start + cut])
    events += engine.finish()
    for e in events:
        json.loads(encode_event(e))
    counts.events += len(events)
