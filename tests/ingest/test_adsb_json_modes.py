"""aircraft.json (dump1090 and readsb), readsb trace_full, raw Mode S (pyModeS)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config.records import DeadLetter, TrackUpdate
from ingest.aircraft_json import AircraftJsonDecoder
from ingest.modes import ModeSDecoder

# Units written out here, not imported from the code under test.
FT_TO_M = 0.3048  # international foot
KNOTS_TO_MPS = 1852.0 / 3600.0  # international nautical mile per hour
FPM_TO_MPS = 0.3048 / 60.0

T0 = 1_700_000_000.0


def _split(out):
    out = list(out)
    return [o for o in out if isinstance(o, TrackUpdate)], [o for o in out if isinstance(o, DeadLetter)]


@pytest.mark.realdata
def test_dump1090_snapshot(shared_data: Path) -> None:
    doc = (shared_data / "adsb" / "billglover_dump1090_aircraft_uk.json").read_bytes()
    d = AircraftJsonDecoder("dump1090")
    ups, dls = _split(d.decode([doc]))
    assert d.stats.messages == 96 and dls == []
    assert len(ups) == 51 and d.stats.ignored["no position"] == 45
    first = ups[0]
    assert first.track_id == "icao:a4cf26" and first.callsign == "GTI5219"
    assert first.t_s == pytest.approx(1570083881.2 - 0.7)
    assert first.alt_m == pytest.approx(35000 * FT_TO_M) and first.speed_mps == pytest.approx(514 * KNOTS_TO_MPS)
    assert (first.country, first.side) == ("US", "nato")
    assert all(49 < u.lat_deg < 56 and -6 < u.lon_deg < 3 for u in ups)  # UK
    # the same snapshot polled again: nothing new
    assert list(d.decode([doc])) == []


@pytest.mark.realdata
def test_readsb_trace_full(shared_data: Path) -> None:
    doc = (shared_data / "adsb" / "readsb_trace_full_ac671b.json").read_bytes()
    d = AircraftJsonDecoder("trace")
    ups, dls = _split(d.decode([doc]))
    assert d.stats.messages == 2_500 and dls == []
    assert len(ups) == 2_499  # one row repeats the time of the row before it
    assert {u.type_code for u in ups} == {"B739"} and {u.name for u in ups} == {"N899DN"}
    assert ups[0].t_s == 1738703622.619 and ups[-1].t_s > ups[0].t_s
    assert sum(1 for u in ups if u.callsign == "DAL1812") == 767  # from its first detail row on


def test_readsb_schema_fields_and_bad_entries() -> None:
    doc = {
        "now": T0,
        "aircraft": [
            {"hex": "154a12", "flight": "RFF7033 ", "alt_baro": 30000, "gs": 420.0, "track": 271.5,
             "true_heading": 270.0, "baro_rate": -512, "lat": 59.5, "lon": 24.0, "seen_pos": 1.5, "t": "IL20"},
            {"hex": "~2f0001", "alt_baro": "ground", "lat": 59.4, "lon": 24.8, "seen_pos": 0.0},
            {"hex": "3c6586", "lat": 95.0, "lon": 24.0},
            {"hex": "nothex", "lat": 59.0, "lon": 24.0},
            {"hex": "3c6587", "lat": "x", "lon": 24.0},
            "not an object",
        ],
    }
    d = AircraftJsonDecoder("readsb")
    ups, dls = _split(d.decode([json.dumps(doc).encode()]))
    assert [u.track_id for u in ups] == ["icao:154a12", "icao:~2f0001"]
    u = ups[0]
    assert (u.country, u.side, u.type_code, u.callsign) == ("RU", "russia", "IL20", "RFF7033")
    assert u.t_s == T0 - 1.5 and u.heading_deg == 270.0
    assert u.vrate_mps == pytest.approx(-512 * FPM_TO_MPS)
    assert ups[1].alt_m is None and ups[1].country is None
    assert [x.reason.split(":")[0] for x in dls] == ["impossible value", "malformed record", "malformed record", "malformed record"]


@pytest.mark.parametrize(
    "doc, reason",
    [
        (b"{not json", "malformed document"),
        (b'{"now": 1}', "malformed document"),
        (b'{"now": "x", "aircraft": []}', "unparseable timestamp"),
        (b'{"now": 12, "aircraft": []}', "impossible timestamp"),
        (b'{"aircraft": [{"hex": "3c6586", "lat": 1, "lon": 2}]}', "no timestamp"),
    ],
)
def test_bad_documents(doc: bytes, reason: str) -> None:
    _, dls = _split(AircraftJsonDecoder("x").decode([doc]))
    assert len(dls) == 1 and dls[0].text.startswith(reason)


@pytest.mark.realdata
def test_raw_mode_s_sample(shared_data: Path) -> None:
    lines = (shared_data / "adsb" / "sample_data_adsb.csv").read_bytes().splitlines()
    d = ModeSDecoder("modes")
    ups, dls = _split(d.decode(lines))
    assert len(lines) == 2_000 and d.stats.messages == 2_000 and dls == []
    assert len(ups) == 929
    assert {u.track_id for u in ups} == {"icao:406b90"}
    assert {u.callsign for u in ups} == {"EZY85MH"}
    # over the Netherlands and Germany, at cruise
    assert all(51.0 < u.lat_deg < 52.0 and 4.5 < u.lon_deg < 7.5 for u in ups)
    assert all(u.alt_m is not None and 10_000 < u.alt_m < 11_500 for u in ups)
    assert [u.t_s for u in ups] == sorted(u.t_s for u in ups)


def test_mode_s_cpr_pair_avr_and_bad_frames() -> None:
    # The classic even/odd pair (pyModeS docs): 52.2572 N, 3.9194 E.
    even, odd = "8D40621D58C382D690C8AC2863A7", "8D40621D58C386435CC412692AD6"
    lines = [f"{T0 + i},{even if i % 2 == 0 else odd}".encode() for i in range(7)]
    d = ModeSDecoder("m")
    ups, dls = _split(d.decode(lines))
    # pyModeS holds positions back until three pairs agree, then emits every frame.
    assert dls == [] and [u.t_s for u in ups] == [T0 + 5, T0 + 6]
    assert ups[-1].lat_deg == pytest.approx(52.2572, abs=1e-4) and ups[-1].lon_deg == pytest.approx(3.9194, abs=1e-4)
    assert (ups[-1].country, ups[-1].side) == ("GB", "nato")
    bad = [b"*8D40621D58C382D690C8AC2863A8;", b"hello", b"x,8D40", f"{T0},ZZ40621D58C382D690C8AC2863A7".encode(),
           b"1,8D40621D58C382D690C8AC2863A7", b"*8D40621D58C382D690C8AC2863A7"]
    ups, dls = _split(ModeSDecoder("m", clock=lambda: T0).decode(bad))
    assert [x.reason.split(":")[0] for x in dls] == [
        "checksum mismatch", "malformed line", "unparseable timestamp", "malformed line",
        "impossible timestamp", "malformed line",
    ]
    _, dls = _split(ModeSDecoder("m").decode([b"*8D40621D58C382D690C8AC2863A7;"]))
    assert dls[0].text.startswith("no timestamp")


# -- altitudes: barometric and geometric kept apart -----------------------------------


def test_readsb_barometric_and_geometric_altitudes() -> None:
    doc = {
        "now": T0,
        "aircraft": [
            {"hex": "154a12", "alt_baro": 30000, "alt_geom": 30425, "lat": 59.5, "lon": 24.0},
            {"hex": "154a13", "alt_geom": 1200, "lat": 59.5, "lon": 24.1},  # no barometric altitude
            {"hex": "154a14", "alt_baro": "ground", "alt_geom": 150, "lat": 59.5, "lon": 24.2},
            {"hex": "154a15", "lat": 59.5, "lon": 24.3},
            {"hex": "154a16", "alt_baro": 5000, "alt_geom": "high", "lat": 59.5, "lon": 24.4},
        ],
    }
    ups, dls = _split(AircraftJsonDecoder("readsb").decode([json.dumps(doc).encode()]))
    got = [(u.alt_m, u.alt_ref, u.alt_geom_m) for u in ups]
    assert got == [
        (pytest.approx(30000 * 0.3048), "baro", pytest.approx(30425 * 0.3048)),
        (pytest.approx(1200 * 0.3048), "geom", pytest.approx(1200 * 0.3048)),
        (None, None, pytest.approx(150 * 0.3048)),  # on the ground: nothing to compare
        (None, None, None),
        (pytest.approx(5000 * 0.3048), "baro", None),  # the bad height dropped, the rest kept
    ]
    assert [x.text for x in dls] == [
        "bad field: alt_geom='high' is not a number (dropped, the rest kept) (aircraft #5)"
    ]


@pytest.mark.realdata
def test_readsb_trace_geometric_altitude_column(shared_data: Path) -> None:
    doc = json.loads((shared_data / "adsb" / "readsb_trace_full_ac671b.json").read_bytes())
    ups, _ = _split(AircraftJsonDecoder("trace").decode([json.dumps(doc).encode()]))
    rows = {doc["timestamp"] + r[0]: r for r in doc["trace"]}
    for u in ups:
        row = rows[u.t_s]
        baro = None if row[3] in (None, "ground") else row[3] * 0.3048
        geom = row[10] * 0.3048 if len(row) > 10 and row[10] is not None else None
        assert u.alt_geom_m == pytest.approx(geom)
        assert u.alt_m == pytest.approx(baro if baro is not None or row[3] == "ground" else geom)
        assert u.alt_ref == ("baro" if baro is not None else None if row[3] == "ground" or geom is None else "geom")
    assert any(u.alt_geom_m is not None for u in ups)


@pytest.mark.realdata
def test_raw_mode_s_geometric_height_from_the_velocity_difference(shared_data: Path) -> None:
    """TC 19 carries GNSS minus barometric altitude: the decoder adds it to the pressure altitude."""
    import pyModeS

    lines = (shared_data / "adsb" / "sample_data_adsb.csv").read_bytes().splitlines()
    decoder = ModeSDecoder("modes")
    baro_ft = diff_ft = None
    checked = 0
    for line in lines:
        frame = line.split(b",")[1].decode().strip('"')
        d = pyModeS.decode(frame)
        if d.get("typecode") == 19 and d.get("geo_minus_baro") is not None:
            diff_ft = d["geo_minus_baro"]
        if 9 <= (d.get("typecode") or 0) <= 18 and d.get("altitude") is not None:
            baro_ft = d["altitude"]
        ups, _ = _split(decoder.decode([line], final=False))
        for u in ups:
            assert (u.alt_ref, u.alt_m) == ("baro", pytest.approx(baro_ft * 0.3048))
            assert u.alt_geom_m == pytest.approx((baro_ft + diff_ft) * 0.3048)
            checked += 1
    assert checked > 900


def _tc20_frame(even: bool, height_m: int) -> str:
    """The classic CPR pair (ICAO 40621D) as TC 20 airborne positions with a GNSS height."""
    from pyModeS.util import crc

    classic = "8D40621D58C382D690C8AC2863A7" if even else "8D40621D58C386435CC412692AD6"
    me = int(classic[8:22], 16)
    me = (me & ~(0x1F << 51) & ~(0xFFF << 36)) | (20 << 51) | (height_m << 36)  # TC, then ALT (metres)
    data = classic[:8] + f"{me:014X}"
    return data + f"{crc(data + '000000'):06X}"


def test_raw_mode_s_gnss_height_positions() -> None:
    """DO-260B TC 20-22: the altitude field is the GNSS height above the ellipsoid in metres."""
    lines = [f"{T0 + i},{_tc20_frame(i % 2 == 0, 1234)}".encode() for i in range(7)]
    ups, dls = _split(ModeSDecoder("m").decode(lines))
    assert dls == [] and ups
    assert {(u.alt_m, u.alt_ref, u.alt_geom_m) for u in ups} == {(1234.0, "geom", 1234.0)}
