"""Hostile input at every decoder: each kind of bad input gets its own precise reason, the
input after it is read, and no more of it is held than the caps allow.

Also what a run tells its user about such input: the summary groups dead letters by
reason with one example, shows what was set aside; a folder feed names its files; gzip
and Zstandard recordings are read whatever their names."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any, Callable

import pytest
import zstandard

import ingest
from config.records import MAX_TEXT_CHARS, DeadLetter, Notice, RecordError, TrackUpdate
from config.settings import FeedSettings, SidesSettings
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
from ingest._common import Limits
from ingest.ais import encode_nmea
from ingest.transports import file_units
from fuzz_path import EXERCISE

T0 = 1_714_564_800.0  # 2024-05-01T12:00:00Z
REPO = Path(__file__).resolve().parents[2]


def _split(out: Any) -> tuple[list[TrackUpdate], list[DeadLetter]]:
    out = list(out)
    assert all(isinstance(o, (TrackUpdate, DeadLetter, Notice)) for o in out)
    return [o for o in out if isinstance(o, TrackUpdate)], [o for o in out if isinstance(o, DeadLetter)]


def _jsonl(**kw: Any) -> bytes:
    rec = {"track_id": "ext:a", "t_s": T0, "lat_deg": 59.5, "lon_deg": 24.0, "domain": "air"}
    rec.update(kw)
    return json.dumps(rec).encode()


def _sbs(kind: int = 3, date: str = "2024/05/01", tm: str = "12:00:00.000", **f: str) -> bytes:
    fields = ["MSG", str(kind), "1", "1", "4B1908", "1", date, tm, date, tm] + [""] * 12
    names = ["callsign", "alt", "gs", "track", "lat", "lon", "vrate", "squawk"]
    for k, v in f.items():
        fields[10 + names.index(k)] = v
    return ",".join(fields).encode()


def _aircraft(**entry: Any) -> bytes:
    return json.dumps({"now": T0, "aircraft": [{"hex": "154a12", "lat": 59.5, "lon": 24.0, **entry}]}).encode()


def _cot(uid: str = "u1", **attrs: str) -> bytes:
    a = {"lat": "59.5", "lon": "24.5", "hae": "3000", "callsign": "BEAR", "course": "90", "speed": "200"}
    a.update(attrs)
    return (f"<event version='2.0' uid='{uid}' type='a-h-A-M-F' time='2024-05-01T12:00:00Z' "
            f"stale='2024-05-01T12:05:00Z'><point lat='{a['lat']}' lon='{a['lon']}' hae='{a['hae']}' ce='9' le='9'/>"
            f"<detail><contact callsign='{a['callsign']}'/><track course='{a['course']}' speed='{a['speed']}'/>"
            f"</detail></event>").encode()


BIG_INT = "1" * 400
GOOD: dict[str, tuple[Callable[[], Any], bytes]] = {
    "tracks-jsonl": (lambda: TracksJsonlDecoder("f"), _jsonl()),
    "sbs1": (lambda: Sbs1Decoder("f"), _sbs(lat="59.5", lon="24.0")),
    "aircraft-json": (lambda: AircraftJsonDecoder("f"), _aircraft(hex="154a10")),
    "cot": (lambda: CotDecoder("f"), _cot()),
    "ais-nmea": (lambda: AisDecoder("f"), encode_nmea({"type": 1, "mmsi": 273123456, "lat": 60.1, "lon": 25.2}, T0)[0]),
    "modes-raw": (lambda: ModeSDecoder("f"), b"1457996400,8D40621D58C382D690C8AC2863A7"),
}

# (format, hostile unit, the dead letter's reason and the start of its detail; "kept": the report survives)
CASES = [
    # item 3: numbers and nesting that used to raise
    ("tracks-jsonl", _jsonl(t_s=int(BIG_INT)), "impossible value", "t_s is an integer of more than 300 digits", False),
    ("tracks-jsonl", _jsonl(lat_deg=int(BIG_INT)), "impossible value", "lat_deg is an integer", False),
    ("tracks-jsonl", b"[" * 5000, "nested too deeply", "5000 levels of arrays and objects", False),
    ("tracks-jsonl", b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}", "nested too deeply", "41 levels", False),
    ("tracks-jsonl", _jsonl(alt_m=0).replace(b'"alt_m": 0', b'"alt_m": 1e400'), "bad field", "alt_m=inf is not finite", True),
    ("tracks-jsonl", _jsonl(speed_mps=float("nan")), "bad field", "speed_mps=nan is not finite", True),
    ("aircraft-json", _aircraft(alt_baro=int(BIG_INT)), "bad field", "alt_baro is an integer of more than 300 digits", True),
    ("aircraft-json", b'{"now": ' + BIG_INT.encode() + b', "aircraft": []}', "unparseable timestamp", "now is an integer", False),
    ("aircraft-json", b'{"now": 1714564800, "aircraft": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deeply", "5001", False),
    ("sbs1", _sbs(lat="59.5", lon=BIG_INT), "impossible value", "longitude (field 16)=", False),
    ("cot", _cot(lon=BIG_INT), "malformed event", "point@lon=", False),
    ("modes-raw", BIG_INT.encode() + b",8D40621D58C382D690C8AC2863A7", "impossible timestamp", "'1111", False),
    # item 13: loose checks
    ("tracks-jsonl", _jsonl(vrate_mps=1e308), "bad field", "vrate_mps=1e+308 is outside [-1500, 1500]", True),
    ("tracks-jsonl", _jsonl(track_id=["a"]), "malformed record", "track_id is a JSON array, not a string", False),
    ("tracks-jsonl", _jsonl(domain=7), "malformed record", "domain is 7, not a string", False),
    ("tracks-jsonl", _jsonl(callsign="C" * 5_000), "bad field", "callsign has 5,000 characters, more than 64", True),
    ("tracks-jsonl", _jsonl(course_deg=-121), "bad field", "course_deg=-121.0 is outside [0, 360]", True),
    ("tracks-jsonl", _jsonl(t_s=None), "no timestamp", "the record has no t_s or time; set assume_time", False),
    ("sbs1", _sbs(kind=4, vrate="1e308"), "bad field", "vertical rate (ft/min, field 17)=b'1e308'", False),
    ("sbs1", _sbs(date="1970/01/01", lat="59.5", lon="24"), "impossible timestamp", "b'1970/01/01'", False),
    ("sbs1", _sbs(date="", tm="", lat="59.5", lon="24"), "no timestamp", "the date/time fields are empty; set assume_time", False),
    ("sbs1", _sbs(kind=1, callsign="C" * 5_000), "bad field", "callsign (field 11) of 5,000 characters", False),
    ("aircraft-json", _aircraft(flight=["RFF"]), "bad field", "flight is a JSON array, not a string", True),
    ("aircraft-json", _aircraft(flight="F" * 1_000), "bad field", "flight has 1,000 characters", True),
    ("cot", _cot(callsign="C" * 1_000), "bad field", "contact@callsign of 1,000 characters", True),
    ("cot", _cot(course="-121"), "bad field", "track@course=-121 is outside [0, 360]", True),
    ("cot", _cot(uid="u" * 500), "malformed event", "a uid of 500", False),
    ("ais-nmea", encode_nmea({"type": 1, "mmsi": 273123456, "lat": 60.1, "lon": 25.2}, timestamp="none")[0],
     "no timestamp", "no tag block c:, $PGHP or trailing time; set assume_time", False),
    ("modes-raw", b"*8D40621D58C382D690C8AC2863A7;", "no timestamp", "an AVR frame carries none; set assume_time", False),
    # a line longer than the cap
    ("tracks-jsonl", b"x" * 70_000, "oversized input", "line of more than 65,536 bytes (max_line_bytes)", False),
    ("sbs1", b"MSG," + b"9" * 70_000, "oversized input", "line of more than 65,536 bytes", False),
    ("ais-nmea", b"!" + b"A" * 70_000, "oversized input", "line of more than 65,536 bytes", False),
    ("modes-raw", b"*" + b"8" * 70_000 + b";", "oversized input", "line of more than 65,536 bytes", False),
    ("cot", b"<event uid='x' type='a-f-G'>" + b" " * 70_000 + b"</event>", "oversized input", "event of more than", False),
]


@pytest.mark.parametrize("fmt, unit, reason, detail, kept", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_kind_of_bad_input_has_its_reason_and_the_next_input_is_read(
    fmt: str, unit: bytes, reason: str, detail: str, kept: bool
) -> None:
    make, good = GOOD[fmt]
    decoder = make()
    if fmt == "cot":
        units = [good, unit, good.replace(b"u1", b"u2")]
    elif fmt == "modes-raw":  # positions of one aircraft come only after three frame pairs agree
        units = [unit]
    elif fmt == "aircraft-json":  # the same aircraft at the same time again is "already seen"
        units = [good, unit, good.replace(b"154a10", b"154a13")]
    elif fmt == "ais-nmea":  # the same payload again within the window is a copy (merged, not a report)
        units = [good, unit, encode_nmea({"type": 1, "mmsi": 273123457, "lat": 60.1, "lon": 25.2}, T0)[0]]
    else:
        units = [good, unit, good]
    ups, dls = _split(decoder.decode(units))
    assert [(d.reason, (d.detail or "")[: len(detail)]) for d in dls] == [(reason, detail)], [d.text for d in dls]
    assert len(dls[0].raw) <= 65_536 and len(dls[0].text) < 600
    if fmt != "modes-raw":
        expected = 3 if kept else 2
        assert len(ups) == expected, (ups, dls)


def test_hostile_notices() -> None:
    notam = ("(A0001/24 NOTAMN\nQ) EFIN/QRTCA/IV/BO/W/000/200/{q}\nA) EFIN B) {b} C) {c}\nE) AREA ACTIVE.)\n")
    cases = [
        (notam.format(q="9900N18100E025", b="2406010600", c="2406011800"), "impossible value",
         "Q) centre 9900N18100E is not a position"),
        (notam.format(q="6012N02512E025", b="9906010600", c="9906011800"), "impossible timestamp",
         "A0001/24 B) is 2099-06-01T06:00Z"),
    ]
    for text, reason, detail in cases:
        _, dls = _split(NotamDecoder("n").decode([text.encode()]))
        assert [(d.reason, (d.detail or "")[: len(detail)]) for d in dls] == [(reason, detail)]
    feature = {"type": "Feature", "id": "x", "geometry": {"type": "Point", "coordinates": [28.0, 55.0]},
               "properties": {"start": "2099-01-01T00:00:00Z", "end": None, "radius_m": 1000}}
    _, dls = _split(ExerciseGeoJsonDecoder("e").decode([json.dumps(feature).encode()]))
    assert dls[0].reason == "impossible timestamp"
    feature["properties"] = {"start": "2024-01-01T00:00:00Z", "end": None, "radius_m": 1000, "name": "N" * 300}
    out = list(ExerciseGeoJsonDecoder("e").decode([json.dumps(feature).encode()]))
    assert [type(o) for o in out] == [DeadLetter, Notice] and out[1].name == "x"  # the id names it
    assert out[0].reason == "bad field"
    _, dls = _split(ExerciseGeoJsonDecoder("e").decode([b"[" * 5000]))
    assert dls[0].reason == "nested too deeply"


def test_the_record_refuses_what_a_decoder_must_not_let_through() -> None:
    base = dict(track_id="ext:a", source="f", t_s=T0, lat_deg=59.5, lon_deg=24.0, domain="air")
    for change, message in [
        ({"vrate_mps": 1e308}, "vrate_mps=1e+308"),
        ({"vrate_mps": float("nan")}, "vrate_mps=nan"),
        ({"callsign": "C" * (MAX_TEXT_CHARS + 1)}, "callsign has 65 characters"),
        ({"name": "N" * 50_000_000}, "name has 50000000 characters"),
        ({"track_id": "ext:" + "x" * 200}, "track_id has 204 characters"),
    ]:
        with pytest.raises(RecordError, match=re.escape(message)):
            TrackUpdate(**{**base, **change})  # type: ignore[arg-type]


def test_decoder_state_beyond_its_cap_is_dropped_oldest_first_and_counted() -> None:
    """What a decoder forgets to stay within its cap reaches the feed's stats (``evicted``)."""
    sbs = Sbs1Decoder("sbs", clock=lambda: T0, max_aircraft=2)
    lines = [f"MSG,3,1,1,{h},1,2024/05/01,12:00:00.000,2024/05/01,12:00:00.000,,9000,,,59.5,24.0,,,0,0,0,0".encode()
             for h in ("4B1908", "ADFE14", "76CCE2", "4B1908")]
    ups, dls = _split(sbs.decode(lines))
    assert len(ups) == 4 and not dls
    assert sbs.stats.evicted == {"aircraft": 2} and sbs.stats.as_dict()["evicted"] == {"aircraft": 2}
    ais = AisDecoder("ais", clock=lambda: T0, max_ships=2)
    for mmsi in (273123456, 273123457, 273123458):
        list(ais.decode(encode_nmea({"type": 5, "mmsi": mmsi, "shipname": "VOLNA", "callsign": "UBAA"}, T0)))
    assert ais.stats.evicted["ship static data"] == 1


def test_a_50_mb_callsign_line_costs_no_more_memory_than_the_cap(tmp_path: Path) -> None:
    """The line is cut at max_line_bytes by the transport (the rest skipped as it is read):
    tracemalloc's peak stays a few MiB while 50 MB go by."""
    path = tmp_path / "big.jsonl"
    with path.open("wb") as f:
        f.write(_jsonl() + b"\n")
        f.write(_jsonl(track_id="ext:b")[:-1] + b', "callsign": "')
        chunk = b"C" * (1 << 20)
        for _ in range(50):
            f.write(chunk)
        f.write(b'"}\n' + _jsonl(track_id="ext:c") + b"\n")
    decoder = TracksJsonlDecoder("big")
    tracemalloc.start()
    try:
        ups, dls = _split(decoder.decode(file_units(path, "lines")))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [u.track_id for u in ups] == ["ext:a", "ext:c"]
    assert [d.reason for d in dls] == ["oversized input"] and len(dls[0].raw) == 65_536
    assert peak < 8 * (1 << 20), peak
    # With a cap that lets it in, the callsign is still too long for the record: dropped, the report kept.
    big = Limits(max_line_bytes=60 * (1 << 20))
    ups, dls = _split(TracksJsonlDecoder("big", limits=big).decode(file_units(path, "lines", limits=big)))
    assert [u.track_id for u in ups] == ["ext:a", "ext:b", "ext:c"] and ups[1].callsign is None
    assert [d.reason for d in dls] == ["bad field"]


def test_a_document_longer_than_its_cap_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "aircraft.json"
    path.write_bytes(b'{"now": 1714564800, "aircraft": [' + b" " * 3000 + b"]}")
    small = Limits(max_document_bytes=2048)
    _, dls = _split(AircraftJsonDecoder("a", limits=small).decode(file_units(path, "documents", limits=small)))
    assert [(d.reason, d.detail) for d in dls] == [("oversized input", "document of more than 2,048 bytes (max_document_bytes)")]
    assert len(dls[0].raw) == 2048


# -- what a run tells its user --------------------------------------------------------------


def _run_cli(config: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    lines = []
    for section, values in config.items():
        if isinstance(values, list):
            for table in values:
                lines.append(f"[[{section}]]")
                lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
        else:
            lines.append(f"[{section}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    toml = tmp_path / "run.toml"
    toml.write_text("\n".join(lines) + "\n")
    return subprocess.run([sys.executable, "-m", "closewatch", "run", "-c", str(toml)], capture_output=True,
                          text=True, timeout=120, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})


def _sinks(tmp_path: Path) -> dict[str, str]:
    return {"events_jsonl": str(tmp_path / "events.jsonl"), "deadletter_jsonl": str(tmp_path / "dead.jsonl")}


def test_a_replay_full_of_poison_runs_to_its_end_and_the_summary_groups_by_reason(tmp_path: Path) -> None:
    """A messy CSV (150 bad lines of a dozen kinds) and a JSONL file with the item-3 poison:
    exit 0, no traceback, a summary of a few lines: one per feed and reason, with an example."""
    csv_lines = [b"track_id,t_s,lat_deg,lon_deg,domain,course_deg,speed_mps,callsign"]
    for i in range(150):
        course = ["-121", "400", "abc", "90"][i % 4]
        lat = ["59.5", "95", "north", "59.6", "59.7"][i % 5]
        speed = ["3", "-1", "1e400", "5"][i % 4]
        csv_lines.append(f"ext:t{i % 7},{T0 + i},{lat},24.{i % 9},sea,{course},{speed},V{i}".encode())
    csv_lines.append(b"a,b")
    (tmp_path / "messy.csv").write_bytes(b"\n".join(csv_lines) + b"\n")
    poison = [_jsonl(track_id="ext:ok1"), _jsonl(t_s=int(BIG_INT)), b"[" * 5000, _jsonl(vrate_mps=1e308),
              b"\xff\xfe", _jsonl(track_id="ext:ok2", t_s=T0 + 1)]
    (tmp_path / "poison.jsonl").write_bytes(b"\n".join(poison) + b"\n")
    result = _run_cli({
        "feeds": [{"name": "messy", "format": "tracks-csv", "path": str(tmp_path / "messy.csv")},
                  {"name": "poison", "format": "tracks-jsonl", "path": str(tmp_path / "poison.jsonl")}],
        "zones": {"catalogue": "none"},
        "sinks": _sinks(tmp_path),
    }, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout.splitlines()
    start = out.index(next(ln for ln in out if ln.startswith("dead letters: ")))
    end = next(i for i in range(start + 1, len(out)) if not out[i].startswith("  "))
    dead_lines = out[start + 1 : end]
    reasons = [(ln.split(":")[0].strip(), ln.split(" x ")[1].split(",")[0]) for ln in dead_lines if " x " in ln]
    assert ("messy", "bad field") in reasons and ("poison", "nested too deeply") in reasons
    assert len(reasons) == len(set(reasons)) == len(dead_lines) <= 10  # one line per feed and reason
    assert all(", e.g. " in ln for ln in dead_lines)
    assert any(ln.startswith("not tracks") for ln in out) and any("1 x header" in ln for ln in out)
    letters = [json.loads(x) for x in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert {d["reason"] for d in letters} >= {"bad field", "impossible value", "nested too deeply", "malformed line"}
    assert all(d["detail"] for d in letters if d["reason"] == "bad field")


def _ais_lines(mmsi: int, t0: float, n: int, step_s: float = 10.0) -> list[bytes]:
    out: list[bytes] = []
    for i in range(n):
        out += encode_nmea({"type": 1, "mmsi": mmsi, "lat": 55.0, "lon": 15.0 + i / 1000, "speed": 10, "course": 90},
                           t0 + i * step_s)
    return out


def test_a_folder_is_read_in_data_time_order_and_names_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "recordings"
    folder.mkdir()
    week_s = 7 * 86_400.0
    # named so that name order is the wrong order: "a" holds the later week
    (folder / "a-later.nmea").write_bytes(b"\n".join(_ais_lines(230000001, T0 + week_s, 3)) + b"\n")
    (folder / "b-earlier.nmea").write_bytes(b"\n".join([*_ais_lines(230000001, T0, 3), b"!AIVDM,junk*00"]) + b"\n")
    (folder / ".partial").write_bytes(b"ignored")
    feed = FeedSettings(name="folder", format="ais-nmea", path=str(folder))
    items = list(ingest.open_feed(feed, SidesSettings()))
    ups = [x for x in items if isinstance(x, TrackUpdate)]
    dls = [x for x in items if isinstance(x, DeadLetter)]
    assert [u.t_s for u in ups] == sorted(u.t_s for u in ups) and len(ups) == 6
    assert [u.raw_ref for u in ups] == [f"folder:b-earlier.nmea:{i}" for i in (1, 2, 3)] + [
        f"folder:a-later.nmea:{i}" for i in (1, 2, 3)]
    assert [(d.file, d.position, d.reason) for d in dls] == [("b-earlier.nmea", 4, "checksum mismatch")]


def test_an_unreadable_file_of_a_folder_is_a_dead_letter_and_the_folder_goes_on(tmp_path: Path) -> None:
    """A truncated gzip file in the middle of a folder (a recorder cut off mid-write): the
    lines it gave stand, the file is one dead letter naming it, the later file is read."""
    folder = tmp_path / "recordings"
    folder.mkdir()
    whole = gzip.compress(b"\n".join(_ais_lines(230000004, T0, 200)) + b"\n")
    (folder / "1-cut.nmea.gz").write_bytes(whole[: len(whole) * 3 // 4])
    (folder / "2-next.nmea").write_bytes(b"\n".join(_ais_lines(230000004, T0 + 3600, 3)) + b"\n")
    feed = FeedSettings(name="folder", format="ais-nmea", path=str(folder))
    items = list(ingest.open_feed(feed, SidesSettings()))
    ups = [x for x in items if isinstance(x, TrackUpdate)]
    dls = [x for x in items if isinstance(x, DeadLetter)]
    cut = [u for u in ups if u.raw_ref.startswith("folder:1-cut.nmea.gz:")]
    assert 0 < len(cut) < 200
    assert [u.raw_ref for u in ups[len(cut):]] == [f"folder:2-next.nmea:{i}" for i in (1, 2, 3)]
    assert [(d.file, d.reason) for d in dls] == [("1-cut.nmea.gz", "unreadable file")]
    assert "1-cut.nmea.gz" in (dls[0].detail or "") and dls[0].position > len(cut)


def test_a_document_folder_with_a_broken_compressed_file_keeps_its_other_documents(tmp_path: Path) -> None:
    """Documents (one exercise GeoJSON per file): a file that is a cut gzip is a dead letter,
    the next file's exercise is read."""
    folder = tmp_path / "exercises"
    folder.mkdir()
    (folder / "a.geojson").write_bytes(gzip.compress(b'{"type": "FeatureCollection", "features": []}')[:-9])
    (folder / "b.geojson").write_bytes(EXERCISE)
    feed = FeedSettings(name="ex", format="exercise-geojson", path=str(folder))
    items = list(ingest.open_feed(feed, SidesSettings()))
    dls = [x for x in items if isinstance(x, DeadLetter)]
    assert [(d.file, d.reason) for d in dls] == [("a.geojson", "unreadable file")]
    assert any(not isinstance(x, DeadLetter) for x in items)


def test_compressed_recordings_are_read_by_their_magic_bytes(tmp_path: Path) -> None:
    lines = _ais_lines(230000002, T0, 5)
    plain = b"\n".join(lines) + b"\n"
    (tmp_path / "ais.nmea").write_bytes(plain)
    (tmp_path / "ais-gz-without-suffix.nmea").write_bytes(gzip.compress(plain))
    (tmp_path / "ais.nmea.zst").write_bytes(zstandard.ZstdCompressor().compress(plain))
    # two gzip members one after the other (a log appended to in compressed pieces)
    (tmp_path / "ais-two-members.gz").write_bytes(gzip.compress(b"\n".join(lines[:2]) + b"\n") + gzip.compress(b"\n".join(lines[2:]) + b"\n"))
    expected = [(u.track_id, u.t_s) for u in AisDecoder("x").decode(lines)]
    for name in ("ais.nmea", "ais-gz-without-suffix.nmea", "ais.nmea.zst", "ais-two-members.gz"):
        feed = FeedSettings(name=name, format="ais-nmea", path=str(tmp_path / name))
        items = list(ingest.open_feed(feed, SidesSettings()))
        assert [(u.track_id, u.t_s) for u in items] == expected, name


def test_a_compressed_file_is_followed_as_it_grows(tmp_path: Path) -> None:
    import threading
    import time as _time

    lines = _ais_lines(230000003, T0, 6)
    path = tmp_path / "growing.nmea.gz"
    first = gzip.compress(b"\n".join(lines[:3]) + b"\n")
    path.write_bytes(first)
    stop = threading.Event()
    feed = FeedSettings(name="fz", format="ais-nmea", transport="follow", path=str(path))
    got: list[Any] = []

    def grow() -> None:
        _time.sleep(0.6)
        with path.open("ab") as f:
            f.write(gzip.compress(b"\n".join(lines[3:]) + b"\n"))

    threading.Thread(target=grow, daemon=True).start()
    deadline = _time.monotonic() + 15
    for item in ingest.open_feed(feed, SidesSettings(), stop=stop):
        got.append(item)
        if len(got) == 6 or _time.monotonic() > deadline:
            break
    stop.set()
    assert [u.t_s for u in got] == [T0 + 10 * i for i in range(6)]


def test_a_folder_out_of_time_order_closes_its_incident_stale_when_the_track_went_stale(tmp_path: Path) -> None:
    """Two ships of opposite sides meet in the earlier file; the later file (first by name)
    holds other traffic a week on. The incident closes ``stale`` at the last report plus
    the sea's stale time (900 s), not a week later; no report is dropped as out of order."""
    from closewatch.pipeline import Pipeline
    from closewatch.sinks import RecorderSink
    from config.settings import parse_settings

    folder = tmp_path / "week"
    folder.mkdir()
    meet = []
    for i in range(6):
        for mmsi, lon in ((273000001, 20.0), (230000001, 20.005)):  # Russian and Finnish ships 300 m apart
            meet += encode_nmea({"type": 1, "mmsi": mmsi, "lat": 59.0, "lon": lon, "speed": 0.5, "course": 0},
                                T0 + 10 * i)
    (folder / "2-meeting.nmea").write_bytes(b"\n".join(meet) + b"\n")
    # other traffic: three ships, so that the new time is confirmed (a lone track a week ahead
    # would be held as a time far ahead: tests/proximity/test_engine_far_ahead.py)
    later = [line for k in range(3) for line in _ais_lines(230000009 + k, T0 + 7 * 86_400.0 + k, 3)]
    (folder / "1-a-week-later.nmea").write_bytes(b"\n".join(later) + b"\n")
    settings = parse_settings({
        "feeds": [{"name": "ais", "format": "ais-nmea", "path": str(folder)}],
        "zones": {"catalogue": "none"},
        "sinks": _sinks(tmp_path),
        "rules": {"profile": "all-traffic"},  # two merchant ships: the military profile raises nothing
    })
    sink = RecorderSink()
    summary = Pipeline(settings, [sink]).run()
    pairs = [e["properties"] for e in sink.events if e["properties"]["kind"] == "close_approach"]
    assert [(p["state"], p["close_reason"]) for p in pairs] == [("open", None), ("closed", "stale")]
    closed_at = pairs[-1]["t_s"]
    assert closed_at == T0 + 50 + 900.0  # the last report of the pair, plus stale_after_s for sea
    assert summary.engine_stats["out_of_order_dropped"] == 0
    assert summary.engine_stats["far_ahead_set_aside"] == 0 and summary.engine_stats["far_ahead_released"] >= 1
