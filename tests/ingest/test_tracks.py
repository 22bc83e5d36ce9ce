"""Generic tracks: JSON Lines (also the closewatch tracks.v1 topic value) and CSV."""

from __future__ import annotations

import json

import pytest

from config.affiliation import Affiliation
from config.records import DeadLetter, TrackUpdate
from config.settings import SidesSettings
from ingest.tracks import TracksCsvDecoder, TracksJsonlDecoder

T0 = 1_714_564_800.0


def _split(out):
    out = list(out)
    return [o for o in out if isinstance(o, TrackUpdate)], [o for o in out if isinstance(o, DeadLetter)]


def _tracks_v1(**kw):
    """A value as the alerts room publishes it on closewatch.tracks.v1."""
    rec = {"schema_version": "1.0", "track_id": "icao:154a12", "source": "sbs", "t_s": T0,
           "time": "2024-05-01T12:00:00.000Z", "lat_deg": 59.5, "lon_deg": 24.5, "domain": "air", "side": "russia",
           "alt_m": 9000.0, "speed_mps": 230.0, "course_deg": 90.0, "heading_deg": None, "vrate_mps": None,
           "country": "RU", "callsign": "RFF7033", "name": None, "type_code": "IL20", "receiver": None,
           "raw_ref": "sbs:17"}
    rec.update(kw)
    return json.dumps(rec).encode()


def test_tracks_v1_value_round_trips() -> None:
    ups, dls = _split(TracksJsonlDecoder("k").decode([_tracks_v1()]))
    assert dls == []
    (u,) = ups
    assert (u.track_id, u.t_s, u.lat_deg, u.lon_deg, u.domain, u.side) == ("icao:154a12", T0, 59.5, 24.5, "air", "russia")
    assert (u.alt_m, u.speed_mps, u.course_deg, u.callsign, u.type_code, u.country) == (9000.0, 230.0, 90.0, "RFF7033", "IL20", "RU")
    assert (u.source, u.raw_ref) == ("k", "k:1")


def test_altitude_reference_fields() -> None:
    ups, dls = _split(TracksJsonlDecoder("k").decode([
        _tracks_v1(alt_ref="baro", alt_geom_m=9120.5), _tracks_v1(), _tracks_v1(alt_ref="qnh"),
        _tracks_v1(alt_m=None, alt_ref="geom"),
    ]))
    assert [(u.alt_m, u.alt_ref, u.alt_geom_m) for u in ups] == [
        (9000.0, "baro", 9120.5), (9000.0, None, None), (9000.0, None, None), (None, None, None)]
    assert [x.text for x in dls] == [
        "bad field: alt_ref='qnh' is not one of ('baro', 'geom') (dropped, the rest kept)",
        "bad field: alt_ref='geom' without an alt_m (dropped, the rest kept)",
    ]


def test_time_iso_bare_id_and_tables() -> None:
    line = json.dumps({"track_id": "boat7", "time": "2024-05-01T12:00:00Z", "lat_deg": 59, "lon_deg": 24,
                       "domain": "sea"}).encode()
    ais = json.dumps({"track_id": "ais:230123456", "t_s": T0, "lat_deg": 59, "lon_deg": 24, "domain": "sea"}).encode()
    ups, _ = _split(TracksJsonlDecoder("j").decode([line, ais]))
    assert (ups[0].track_id, ups[0].t_s, ups[0].side) == ("ext:boat7", T0, "unknown")
    assert (ups[1].country, ups[1].side) == ("FI", "nato")


def test_config_lists_override_the_given_side() -> None:
    aff = Affiliation(SidesSettings(nato_icao=("154a12",)))
    ups, _ = _split(TracksJsonlDecoder("k", aff).decode([_tracks_v1()]))
    assert ups[0].side == "nato"


@pytest.mark.parametrize(
    "line, reason",
    [
        (b"{not json", "malformed line"),
        (b"[1, 2]", "malformed line"),
        (_tracks_v1(track_id=None), "malformed record"),
        (_tracks_v1(lat_deg=91), "impossible value"),
        (_tracks_v1(lat_deg="north"), "malformed record"),
        (_tracks_v1(domain="space"), "malformed record"),
        (_tracks_v1(t_s=None, time="noon"), "unparseable timestamp"),
        (_tracks_v1(t_s=None, time=None), "no timestamp"),
        (_tracks_v1(t_s=5), "impossible timestamp"),
        (_tracks_v1(track_id=["a"]), "malformed record: track_id is a JSON array, not a string"),
        (_tracks_v1(track_id=12), "malformed record: track_id is 12, not a string"),
        (_tracks_v1(lat_deg=10**400), "impossible value: lat_deg is an integer of more than 300 digits"),
        (_tracks_v1(t_s=10**400), "impossible value: t_s is an integer of more than 300 digits"),
        (_tracks_v1(track_id="x" * 200), "malformed record: track_id has 200 characters, more than 128"),
        (b"[" * 5000, "nested too deeply: 5000 levels of arrays and objects, more than 32 (max_json_depth)"),
        (b"x" * 70_000, "oversized input: line of more than 65,536 bytes (max_line_bytes)"),
    ],
)
def test_bad_jsonl_lines(line: bytes, reason: str) -> None:
    ups, dls = _split(TracksJsonlDecoder("j").decode([_tracks_v1(), line, _tracks_v1()]))
    assert len(ups) == 2 and len(dls) == 1 and dls[0].position == 2 and dls[0].text.startswith(reason)
    assert len(dls[0].raw) <= 65_536


@pytest.mark.parametrize(
    "change, detail",
    [
        ({"side": "blue"}, "side='blue' is not one of ('nato', 'russia', 'other', 'unknown')"),
        ({"speed_mps": -3}, "speed_mps=-3.0 is outside [0, 1500]"),
        ({"course_deg": -121}, "course_deg=-121.0 is outside [0, 360]"),
        ({"vrate_mps": 1e308}, "vrate_mps=1e+308 is outside [-1500, 1500]"),
        ({"alt_m": 10**400}, "alt_m is an integer of more than 300 digits"),
        ({"heading_deg": "north"}, "heading_deg='north' is not a number"),
        ({"callsign": ["a"]}, "callsign is a JSON array, not a string"),
        ({"callsign": "X" * 50_000}, "callsign has 50,000 characters, more than 64"),
        ({"name": 7}, "name is 7, not a string"),
    ],
)
def test_a_bad_optional_field_is_dropped_and_the_report_kept(change: dict, detail: str) -> None:
    ups, dls = _split(TracksJsonlDecoder("j").decode([_tracks_v1(**change)]))
    (u,) = ups
    assert (u.track_id, u.lat_deg, u.speed_mps if "speed_mps" not in change else 230.0) == ("icao:154a12", 59.5, 230.0)
    key = next(iter(change))
    assert getattr(u, key) in (None, "russia")  # the bad value dropped (side falls back on the tables)
    assert [(x.reason, x.detail, x.position) for x in dls] == [("bad field", f"{detail} (dropped, the rest kept)", 1)]


def test_untimed_records_name_assume_time() -> None:
    _, dls = _split(TracksJsonlDecoder("j").decode([_tracks_v1(t_s=None, time=None)]))
    assert dls[0].text == "no timestamp: the record has no t_s or time; set assume_time for this feed (docs/feeds.md, Time)"


def test_csv() -> None:
    lines = [
        b"track_id,time,lat_deg,lon_deg,domain,alt_m,callsign,side",
        b"ext:heli1,2024-05-01T12:00:00Z,59.9,30.3,air,300,\"RA 24001\",",
        b"",
        b"ext:heli2,2024-05-01T12:00:01Z,59.9,30.3,land,,,russia",
        b"ext:heli3,2024-05-01T12:00:01Z,59.9",
        b"ext:heli4,2024-05-01T12:00:01Z,999,30.3,air,,,",
    ]
    d = TracksCsvDecoder("csv")
    ups, dls = _split(d.decode(lines))
    assert [(u.track_id, u.alt_m, u.callsign, u.side) for u in ups] == [
        ("ext:heli1", 300.0, "RA 24001", "unknown"), ("ext:heli2", None, None, "russia")]
    assert [(x.position, x.reason) for x in dls] == [(5, "malformed line"), (6, "impossible value")]
    _, dls = _split(TracksCsvDecoder("csv").decode([b"id,lat,lon"]))
    assert dls[0].text.startswith("malformed header")


def test_a_time_without_a_zone_is_a_dead_letter_naming_the_field() -> None:
    ups, dls = _split(TracksJsonlDecoder("j").decode([_tracks_v1(t_s=None, time="2024-05-01T12:00:00")]))
    assert ups == [] and dls[0].text == "unparseable timestamp: time='2024-05-01T12:00:00' has no UTC offset (write …Z for UTC)"


def test_csv_bad_optional_cell_keeps_the_report() -> None:
    lines = [b"track_id,t_s,lat_deg,lon_deg,domain,course_deg,speed_mps", b"ext:a,1714564800,59,24,sea,-121,3"]
    ups, dls = _split(TracksCsvDecoder("csv").decode(lines))
    assert [(u.course_deg, u.speed_mps) for u in ups] == [(None, 3.0)]
    assert [x.text for x in dls] == ["bad field: course_deg=-121.0 is outside [0, 360] (dropped, the rest kept)"]
