"""Random and mutated real input pushed along the whole path: decoder, engine, encoder, a sink.

Shared by the property tests (``tests/robustness/test_fuzz_whole_path.py``, a small
budget) and ``bench/bench_fuzz.py`` (at least 100,000 inputs per decoder). Each
trial writes its units (lines, or documents as one file each) to a feed of the
format and runs the real :class:`closewatch.pipeline.Pipeline` over it, with the
JSON Lines sinks: the decode guard, the engine and its guard, the encoder and a
sink, as ``closewatch run`` does. A trial passes when the run returns (nothing
raised) and every line the sinks wrote is a valid value of its topic's schema.

Seeds are the real recordings in ``../shared/data`` (read from there, never
copied) and, for the formats without one there, the demo scenario's output and a
few protocol examples (public facts).
"""

from __future__ import annotations

import gzip
import heapq
import json
import random
import tempfile
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from alerts.codec import encode_track, load_schema
from closewatch.pipeline import Pipeline
from closewatch.scenario.baltic import write_scenario
from closewatch.sinks import JsonlSink
from config.records import TrackUpdate
from config.settings import SidesSettings, load_settings, parse_settings
from ingest import open_feed

__all__ = ["FORMATS", "TRIED", "Trial", "mutate", "random_units", "seeds", "whole_path"]

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"

FORMATS = ("ais-nmea", "sbs1", "aircraft-json", "modes-raw", "cot", "exercise-geojson", "notam", "tracks-jsonl",
           "tracks-csv")
DOCUMENTS = frozenset(("aircraft-json", "cot", "exercise-geojson", "notam"))
TRIED: Counter[str] = Counter()  # inputs pushed through the whole path in this process, per format

# Mode S frames of the pyModeS documentation (an even/odd airborne position pair), as "<t_s>,<hex>".
_MODES = [f"{1_700_000_000 + i},{h}".encode() for i, h in
          enumerate(["8D40621D58C382D690C8AC2863A7", "8D40621D58C386435CC412692AD6"] * 4)]
_NOTAM = b"""(A1234/24 NOTAMN
Q) EFIN/QRTCA/IV/BO/W/000/200/6012N02512E025
A) EFIN B) 2406010600 C) 2406011800
E) TEMPORARY RESERVED AREA EFTRA12 ACTIVATED. AREA WITHIN RADIUS 10NM CENTRED ON 601200N 0251200E.
F) GND G) FL200)
"""


def _lines(path: Path, limit: int = 2000) -> list[bytes]:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return [line for line in data.splitlines() if line.strip()][:limit]


@lru_cache(maxsize=1)
def _scenario() -> dict[str, list[bytes]]:
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_scenario(Path(tmp))
        settings = load_settings(paths["config"])
        streams = [[i for i in open_feed(f, SidesSettings()) if isinstance(i, TrackUpdate)] for f in settings.feeds]
        tracks = list(heapq.merge(*streams, key=lambda u: u.t_s))[:2000]
        exercises = paths["exercises"].read_bytes()
    jsonl = [encode_track(u) for u in tracks]
    csv = [b"track_id,t_s,lat_deg,lon_deg,domain,side,speed_mps,course_deg,callsign"] + [
        f"{u.track_id},{u.t_s},{u.lat_deg},{u.lon_deg},{u.domain},{u.side},{u.speed_mps or ''},"
        f"{u.course_deg or ''},{u.callsign or ''}".encode() for u in tracks
    ]
    return {"tracks-jsonl": jsonl, "tracks-csv": csv, "exercise-geojson": [exercises]}


@lru_cache(maxsize=None)
def seeds(fmt: str) -> list[bytes]:
    """Real units of ``fmt`` to mutate (lines, or whole documents)."""
    if fmt == "ais-nmea":
        return [line for name in ("pyais_nmea_data_sample.txt", "gpsd_sample.aivdm", "libais_test.aivdm")
                for line in _lines(SHARED / "ais" / name)]
    if fmt == "sbs1":
        return _lines(SHARED / "adsb" / "node-sbs1_msgs.txt")
    if fmt == "aircraft-json":
        return [(SHARED / "adsb" / "billglover_dump1090_aircraft_uk.json").read_bytes()]
    if fmt == "cot":
        return [p.read_bytes() for p in sorted((SHARED / "cot").glob("*.xml"))]
    if fmt == "modes-raw":
        return list(_MODES)
    if fmt == "notam":
        return [_NOTAM]
    return _scenario()[fmt]


_HOSTILE = [b"9" * 400, b"[" * 5000, b"{" * 3000, b"\x00", b"\xff\xfe", b"-1e308", b"1e999", b"NaN", b"\r", b"\"",
            b",,,,,,,,", b"*", b"!AIVDM,9,9,9,A,", b"<", b"&#0;", "Ω".encode(), b"X" * 70_000]


def mutate(unit: bytes, rnd: random.Random) -> bytes:
    """``unit`` changed by one to three random edits: a byte flipped, inserted or deleted, a cut,
    a piece repeated, a digit run widened, a hostile piece spliced in."""
    data = bytearray(unit)
    for _ in range(rnd.randint(1, 3)):
        op = rnd.randrange(7)
        at = rnd.randrange(len(data) + 1)
        if op == 0 and data:
            data[min(at, len(data) - 1)] ^= 1 << rnd.randrange(8)
        elif op == 1:
            data[at:at] = bytes([rnd.randrange(256)])
        elif op == 2 and data:
            del data[min(at, len(data) - 1)]
        elif op == 3:
            del data[at:]
        elif op == 4 and data:
            end = min(len(data), at + rnd.randint(1, 40))
            data[at:at] = data[at:end] * rnd.randint(2, 50)
        elif op == 5:
            digits = [i for i, b in enumerate(data) if 48 <= b <= 57]
            if digits:
                i = rnd.choice(digits)
                data[i : i + 1] = bytes([data[i]]) * rnd.choice((20, 400))
        else:
            data[at:at] = rnd.choice(_HOSTILE)
    return bytes(data)


def random_units(fmt: str, n: int, rnd: random.Random, junk_share: float = 0.1) -> list[bytes]:
    """``n`` units: real ones, mostly mutated, and some random bytes."""
    pool = seeds(fmt)
    out = []
    for _ in range(n):
        roll = rnd.random()
        if roll < junk_share:
            out.append(bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 200))))
        elif roll < 0.3:
            out.append(rnd.choice(pool))
        else:
            out.append(mutate(rnd.choice(pool), rnd))
    return out


@lru_cache(maxsize=1)
def _validators() -> dict[str, Draft202012Validator]:
    return {name: Draft202012Validator(load_schema(f"{name}.v1.json")) for name in ("event", "deadletter", "feed_health")}


@dataclass
class Trial:
    """What one run of the whole path gave."""

    units: int
    updates: int
    events: int
    dead_letters: int


def whole_path(fmt: str, units: list[bytes], folder: Path) -> Trial:
    """Run the pipeline over ``units`` as a feed of ``fmt``; check what the sinks wrote (module doc)."""
    folder.mkdir(parents=True, exist_ok=True)
    if fmt in DOCUMENTS:
        feed = folder / "in"
        feed.mkdir()
        for i, unit in enumerate(units):
            (feed / f"{i:06d}").write_bytes(unit)
    else:
        feed = folder / "in.txt"
        if fmt == "tracks-csv":  # the header first, as a real file has it (the rest may break it again)
            units = [seeds(fmt)[0], *units]
        # a unit is one line: its own line breaks would make it several
        feed.write_bytes(b"".join(u.replace(b"\n", b" ").replace(b"\r", b" ") + b"\n" for u in units))
    settings = parse_settings({
        "feeds": [{"name": "fuzz", "format": fmt, "path": str(feed), "assume_time": "2024-05-01T12:00:00Z"}],
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
    events = 0
    for line in (folder / "events.jsonl").read_bytes().splitlines():
        validators["event"].validate(json.loads(line))
        events += 1
    letters = 0
    for line in (folder / "dead.jsonl").read_bytes().splitlines():
        value: dict[str, Any] = json.loads(line)
        if value.get("record") == "feed_health":
            validators["feed_health"].validate({k: v for k, v in value.items() if k != "record"})
            assert value["state"] != "failed", value  # a bad record never ends the feed
        else:
            validators["deadletter"].validate(value)
            letters += 1
    assert events == summary.events and letters == sum(summary.dead_letters.values())
    TRIED[fmt] += len(units)
    return Trial(len(units), summary.updates, events, letters)
