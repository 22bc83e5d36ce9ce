"""Random and mutated real feed input pushed along the whole path: decoder, engine, encoder, a sink.

Shared by the property tests (``tests/robustness/test_decoders_properties.py`` and
``tests/robustness/test_fuzz_whole_path.py``, a CI budget) and ``bench/bench_fuzz.py``
(at least 100,000 inputs per decoder). Two ways along the path, one harness:

* :func:`direct_path`: one decoder of the format, *unguarded*, on the units; every item
  is checked (a record; a dead letter with a documented reason of docs/feeds.md, a
  bounded detail, the raw bytes), the reports go through an engine watching a zone where
  the data are (batches cut anywhere) and every event, track and dead letter is encoded
  as a sink would (``alerts.codec``). Whatever raises is a decoder that failed to give a
  precise reason: the per-decoder hostile fuzz counts these escapes (the goal: none).
* :func:`whole_path`: the units written to a feed of the format (lines, or documents as
  one file each in a folder) and the real :class:`closewatch.pipeline.Pipeline` run over
  it with the JSON Lines sinks, as ``closewatch run`` does (the decode guard, the engine
  and its guard, the encoder, a sink). It passes when the run returns, every line the
  sinks wrote is a valid value of its topic's schema, and no dead letter of the decode
  stage needed the guard's generic reason.

Seeds are the real recordings in ``../shared/data`` (read from there, never copied) and,
for the formats without one there, reports decoded from them and a few protocol examples
(public facts). A mutation flips, inserts, deletes, truncates, duplicates or splices
bytes, or plants one of the values that used to stop a feed (a 400-digit integer, deep
brackets, ``1e400``, ``NaN``, bytes that are not UTF-8, a 70 kB piece).
"""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from jsonschema import Draft202012Validator

from alerts.codec import encode_deadletter, encode_event, encode_track, load_schema
from closewatch.pipeline import Pipeline
from closewatch.sinks import JsonlSink
from config.records import DeadLetter, Notice, TrackUpdate, Zone
from config.settings import ProximitySettings, parse_settings
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

__all__ = [
    "FORMATS",
    "REASONS",
    "SHARED_DATA",
    "TRIED",
    "Format",
    "PathCounts",
    "direct_path",
    "format_of",
    "mutate",
    "seeds",
    "units_for",
    "whole_path",
]

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

#: Every decoder's format.
FORMATS = ("ais-nmea", "sbs1", "aircraft-json", "modes-raw", "cot", "exercise-geojson", "notam", "tracks-jsonl",
           "tracks-csv")
#: Inputs pushed along the path in this process, per format (both ways).
TRIED: Counter[str] = Counter()

#: The dead-letter reasons a decoder gives (docs/feeds.md): never the guard's generic one.
REASONS = frozenset({
    "oversized input", "nested too deeply", "malformed line", "malformed tag block", "malformed sentence",
    "malformed document", "malformed record", "malformed event", "truncated event", "malformed feature",
    "malformed NOTAM", "malformed header", "checksum mismatch", "truncated multi-sentence message", "empty payload",
    "undecodable payload", "truncated payload", "impossible value", "bad field", "unparseable timestamp",
    "impossible timestamp", "no timestamp",
    "unreadable file",  # a document folder's file that starts as gzip or zstd and is cut short
})

T_CLOCK = 1_714_564_800.0

EVIL = [b"1" * 400, b"9" * 400, b"[" * 60, b"[" * 5000, b"{" * 60, b"{" * 3000, b"1e400", b"-1e400", b"1e999",
        b"-1e308", b"NaN", b"Infinity", b"\xff\xfe", b"\x00", b"\"", b"\\", b"9" * 30, b"-", b",", b",,,,,,,,", b"*",
        b"!AIVDM,9,9,9,A,", b"</event>", b"<event>", b"<", b"&lt;", b"&#0;", "Ω".encode(), b"\r", b"\n",
        b"X" * 70_000]
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


@lru_cache(maxsize=1)
def _formats() -> dict[str, Format]:
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
    found = [
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
    assert tuple(sorted(f.name for f in found)) == tuple(sorted(FORMATS))
    return {f.name: f for f in found}


def format_of(name: str) -> Format:
    """The decoder of format ``name`` with its seeds (only where SHARED_DATA exists)."""
    return _formats()[name]


def seeds(name: str) -> list[bytes]:
    """Real units of format ``name`` to mutate (lines, or whole documents)."""
    return format_of(name).seeds


def mutate(seed: bytes, rng: random.Random, max_ops: int = 3) -> bytes:
    """A real unit with up to ``max_ops`` random edits: mostly a number replaced by another
    (a plausible one, one out of range, or a hostile one), so that much of the input gets
    past the syntax into the values; else bytes flipped, inserted, deleted, cut, repeated,
    or a hostile piece spliced in."""
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
            b[i:i] = b[min(i, j) : max(i, j)][: rng.choice((200, 2000))]  # a run repeated
    return bytes(b)


def units_for(name: str, rng: random.Random, n_units: int, junk_share: float = 0.0) -> list[bytes]:
    """``n_units`` units of format ``name``: mutated seeds (some left as they are), and a
    ``junk_share`` of random bytes."""
    pool = seeds(name)
    out = []
    for _ in range(n_units):
        if rng.random() < junk_share:
            out.append(bytes(rng.randrange(256) for _ in range(rng.randint(0, 200))))
        else:
            out.append(mutate(rng.choice(pool), rng))
    return out


def _with_header(fmt: Format, units: list[bytes]) -> list[bytes]:
    """The CSV header first, as a real file has it (the rest may break it again)."""
    return units if fmt.header is None else [fmt.header, *units]


_ZONE = Zone(zone_id="fuzz", name="fuzz", kind="custom", geometry=geodesic_circle(12.6, 55.7, 50_000.0, max_error_m=5.0),
             buffer_m=50_000.0, sides=("russia", "nato", "other", "unknown"))


@dataclass
class PathCounts:
    """What was pushed along the path and what came out (summed over calls)."""

    inputs: int = 0
    updates: int = 0
    notices: int = 0
    dead_letters: int = 0
    events: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


def direct_path(name: str, units: list[bytes], counts: PathCounts, *, cut: int = 7) -> None:
    """Decode ``units`` with an unguarded decoder, check the items, run the reports through
    an engine in batches of ``cut`` and encode all; whatever raises escapes (module doc)."""
    fmt = format_of(name)
    decoder = fmt.make()
    units = _with_header(fmt, units)
    if name == "cot":  # a stream: cut anywhere
        blob = b"".join(units)
        items = list(decoder.decode(blob[i : i + cut * 97] for i in range(0, len(blob), cut * 97)))
    else:
        items = list(decoder.decode(units))
    counts.inputs += len(units)
    TRIED[name] += len(units)
    updates = []
    for item in items:
        if isinstance(item, DeadLetter):
            assert item.reason in REASONS, item.text
            assert item.detail is None or len(item.detail) <= 501, item.detail[:80]
            assert item.position >= 0 and len(item.raw) <= 16 * 1024 * 1024
            counts.dead_letters += 1
            counts.reasons[item.reason] += 1
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


@lru_cache(maxsize=1)
def _validators() -> dict[str, Draft202012Validator]:
    return {name: Draft202012Validator(load_schema(f"{name}.v1.json")) for name in ("event", "deadletter", "feed_health")}


def whole_path(name: str, units: list[bytes], folder: Path) -> PathCounts:
    """Run the pipeline over ``units`` as a feed of format ``name`` in ``folder``; check
    what the sinks wrote (module doc). Returns this run's counts."""
    fmt = format_of(name)
    units = _with_header(fmt, units)
    folder.mkdir(parents=True, exist_ok=True)
    if fmt.documents:
        feed = folder / "in"
        feed.mkdir()
        for i, unit in enumerate(units):
            (feed / f"{i:06d}").write_bytes(unit)
    else:
        feed = folder / "in.txt"
        # a unit is one line: its own line breaks would make it several
        feed.write_bytes(b"".join(u.replace(b"\n", b" ").replace(b"\r", b" ") + b"\n" for u in units))
    settings = parse_settings({
        "feeds": [{"name": "fuzz", "format": name, "path": str(feed), "assume_time": "2024-05-01T12:00:00Z"}],
        "zones": {"territorial": False},
        "sinks": {"events_jsonl": str(folder / "events.jsonl"), "deadletter_jsonl": str(folder / "dead.jsonl"),
                  "fsync": False},
    })
    sink = JsonlSink(settings.sinks.events_jsonl, settings.sinks.deadletter_jsonl, fsync=False)
    pipeline = Pipeline(settings, [sink])
    try:
        summary = pipeline.run()
    finally:
        sink.close()
    validators = _validators()
    counts = PathCounts(inputs=len(units), updates=summary.updates, notices=summary.zones_from_feeds)
    for line in (folder / "events.jsonl").read_bytes().splitlines():
        validators["event"].validate(json.loads(line))
        counts.events += 1
    for line in (folder / "dead.jsonl").read_bytes().splitlines():
        value: dict[str, Any] = json.loads(line)
        if value.get("record") == "feed_health":
            validators["feed_health"].validate({k: v for k, v in value.items() if k != "record"})
            assert value["state"] != "failed", value  # a bad record never ends the feed
        else:
            validators["deadletter"].validate(value)
            assert value["stage"] != "decode" or value["reason"] in REASONS, value  # the decoder said what was wrong
            counts.dead_letters += 1
            counts.reasons[value["reason"]] += 1
    assert counts.events == summary.events and counts.dead_letters == sum(summary.dead_letters.values())
    TRIED[name] += len(units)
    return counts
