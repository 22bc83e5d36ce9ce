"""SBS-1 BaseStation decoder: the real node-sbs1 sample and hand-made lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.records import DeadLetter, TrackUpdate
from ingest.sbs1 import Sbs1Decoder

# Units written out here, not imported from the code under test.
FT_TO_M = 0.3048  # international foot
KNOTS_TO_MPS = 1852.0 / 3600.0  # international nautical mile per hour
FPM_TO_MPS = 0.3048 / 60.0

T0 = 1_700_000_000.0


def _run(lines, clock=None):
    d = Sbs1Decoder("s", clock=clock)
    out = list(d.decode(lines))
    return d, [o for o in out if isinstance(o, TrackUpdate)], [o for o in out if isinstance(o, DeadLetter)]


def _msg(kind: int, hex_: str = "4B1908", date: str = "", time_: str = "", **f: str) -> bytes:
    fields = ["MSG", str(kind), "1", "1", hex_, "1", date, time_, date, time_] + [""] * 12
    names = ["callsign", "alt", "gs", "track", "lat", "lon", "vrate", "squawk", "alert", "emerg", "spi", "ground"]
    for k, v in f.items():
        fields[10 + names.index(k)] = v
    return ",".join(fields).encode()


@pytest.mark.realdata
def test_node_sbs1_sample(shared_data: Path) -> None:
    lines = (shared_data / "adsb" / "node-sbs1_msgs.txt").read_bytes().splitlines()
    d, ups, dls = _run(lines, clock=lambda: T0)
    assert len(lines) == 4_184
    assert d.stats.messages == 4_184
    assert dls == []
    assert len(ups) == 74  # the 74 MSG,3 lines all carry a position
    assert len({u.track_id for u in ups}) == 5
    assert len(d._aircraft) == 24  # SOURCES.md: 24 aircraft
    # Los Angeles
    assert all(33.0 < u.lat_deg < 35.0 and -119.5 < u.lon_deg < -117.0 for u in ups)
    assert all(u.domain == "air" and u.t_s == T0 for u in ups)
    first = ups[0]
    assert first.track_id == "icao:4b1908" and first.alt_m == pytest.approx(2525 * FT_TO_M)
    assert (first.country, first.side) == ("CH", "other")


@pytest.mark.realdata
def test_node_sbs1_without_time_or_clock_dead_letters_positions(shared_data: Path) -> None:
    lines = (shared_data / "adsb" / "node-sbs1_msgs.txt").read_bytes().splitlines()
    d, ups, dls = _run(lines)
    assert ups == [] and len(dls) == 74
    assert {x.text for x in dls} == {
        "no timestamp: the date/time fields are empty; set assume_time for this feed (docs/feeds.md, Time)"
    }


def test_identity_velocity_and_position_are_merged() -> None:
    date, tm = "2024/05/01", "12:00:01.500"
    lines = [
        _msg(1, "3C6586", date, tm, callsign="DLH4AB  "),
        _msg(4, "3C6586", date, tm, gs="450", track="87.5", vrate="-640"),
        _msg(5, "3C6586", date, tm, alt="36000"),
        _msg(3, "3C6586", date, "12:00:02.000", lat="54.5", lon="13.25"),
        _msg(4, "3C6586", date, tm, gs="460"),
        _msg(3, "3C6586", date, "12:00:03.000", alt="35975", lat="54.51", lon="13.27"),
    ]
    d, ups, dls = _run(lines)
    assert dls == [] and len(ups) == 2
    u0, u1 = ups
    assert u0.t_s == 1_714_564_802.0 and u1.t_s == 1_714_564_803.0
    assert (u0.callsign, u0.country, u0.side) == ("DLH4AB", "DE", "nato")
    assert u0.alt_m == pytest.approx(36000 * FT_TO_M)
    assert u0.speed_mps == pytest.approx(450 * KNOTS_TO_MPS)
    assert u0.course_deg == 87.5
    assert u0.vrate_mps == pytest.approx(-640 * FPM_TO_MPS)
    assert u1.speed_mps == pytest.approx(460 * KNOTS_TO_MPS) and u1.alt_m == pytest.approx(35975 * FT_TO_M)
    assert d.aircraft_state("3c6586")["callsign"] == "DLH4AB"


def test_logged_time_used_when_generated_is_empty() -> None:
    line = _msg(3, "150001", lat="60", lon="30")
    f = line.split(b",")
    f[8], f[9] = b"2024/05/01", b"00:00:00.000"
    _, ups, _ = _run([b",".join(f)])
    assert ups[0].t_s == 1_714_521_600.0 and (ups[0].country, ups[0].side) == ("RU", "russia")


@pytest.mark.parametrize(
    "line, reason",
    [
        (b"MSG,3,1,1,4B1908,1", "malformed line"),
        (b"garbage", "malformed line"),
        (_msg(3, "XYZ123", "2024/05/01", "12:00:00", lat="1", lon="2"), "malformed line"),
        (_msg(3, "4B1908", "2024/05/01", "12:00:00", lat="abc", lon="2"), "malformed line"),
        (_msg(3, "4B1908", "2024/05/01", "12:00:00", lat="95", lon="2"), "impossible value"),
        (_msg(3, "4B1908", "2024/13/01", "12:00:00", lat="5", lon="2"), "unparseable timestamp"),
        (_msg(3, "4B1908", "2024/05/01", "25:00:00", lat="5", lon="2"), "unparseable timestamp"),
        (_msg(9, "4B1908", "2024/05/01", "12:00:00"), "malformed line"),
    ],
)
def test_bad_lines_are_dead_letters_and_stream_goes_on(line: bytes, reason: str) -> None:
    good = _msg(3, "4B1908", "2024/05/01", "12:00:00", lat="46.9", lon="7.4")
    _, ups, dls = _run([good, line, good])
    assert len(ups) == 2
    assert len(dls) == 1 and dls[0].position == 2 and dls[0].text.startswith(reason) and dls[0].raw == line


def test_a_bad_value_is_dropped_and_the_rest_of_the_line_kept() -> None:
    lines = [
        _msg(4, "4B1908", "2024/05/01", "12:00:00", gs="9000", track="90", vrate="1e308"),
        _msg(3, "4B1908", "2024/05/01", "12:00:01", alt="990000", lat="46.9", lon="7.4"),
        _msg(1, "4B1908", "2024/05/01", "12:00:01", callsign="X" * 100),
    ]
    d, ups, dls = _run(lines)
    (u,) = ups
    assert (u.lat_deg, u.alt_m, u.speed_mps, u.course_deg, u.vrate_mps) == (46.9, None, None, 90.0, None)
    assert [(x.position, x.text) for x in dls] == [
        (1, "bad field: ground speed (kn, field 13)=b'9000' is outside [0, 2000] (dropped, the rest kept)"),
        (1, "bad field: vertical rate (ft/min, field 17)=b'1e308' is outside [-100000, 100000] (dropped, the rest kept)"),
        (2, "bad field: altitude (ft, field 12)=b'990000' is outside [-1500, 130000] (dropped, the rest kept)"),
        (3, "bad field: callsign (field 11) of 100 characters, more than 64 (dropped, the rest kept)"),
    ]
    assert d.aircraft_state("4B1908")["callsign"] is None


def test_a_date_before_1990_is_impossible_not_unparseable() -> None:
    _, ups, dls = _run([_msg(3, "4B1908", "1970/01/01", "12:00:00", lat="46.9", lon="7.4")])
    assert ups == [] and dls[0].text == "impossible timestamp: b'1970/01/01' b'12:00:00' is outside 1990-2099"


def test_other_message_kinds_are_ignored() -> None:
    d, ups, dls = _run([b"STA,,5,179,400AE7,10103,2008/11/28,14:58:51.153,2008/11/28,14:58:51.153,RM", b""])
    assert ups == [] and dls == []
    assert d.stats.ignored["STA"] == 1 and d.stats.ignored["blank line"] == 1


def test_position_without_lat_lon_updates_altitude_only() -> None:
    d, ups, _ = _run([_msg(3, "4B1908", "2024/05/01", "12:00:00", alt="1000")])
    assert ups == [] and d.stats.ignored["no position"] == 1
    assert d.aircraft_state("4B1908")["alt_ft"] == 1000.0


def test_times_without_zero_padding() -> None:
    _, ups, _ = _run([_msg(3, "4B1908", "2024/5/1", "9:05:03.250", lat="46.9", lon="7.4")])
    assert ups[0].t_s == 1_714_554_303.25


def test_altitude_is_barometric() -> None:
    _, ups, _ = _run([_msg(3, "4B1908", "2024/05/01", "12:00:00", alt="2525", lat="46.9", lon="7.4"),
                      _msg(3, "4B1909", "2024/05/01", "12:00:00", lat="46.9", lon="7.4")])
    assert [(u.alt_m, u.alt_ref, u.alt_geom_m) for u in ups] == [(pytest.approx(769.62), "baro", None), (None, None, None)]
