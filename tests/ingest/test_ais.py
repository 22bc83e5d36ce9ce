"""AIS decoder: the real samples (counts asserted) and hand-made edge cases."""

from __future__ import annotations

import gzip
import logging
import math
from collections import Counter
from pathlib import Path

import pytest

from config.affiliation import Affiliation
from config.records import DeadLetter, TrackUpdate
from config.settings import SidesSettings
from ingest.ais import AisDecoder, encode_nmea

# Written out here, not imported from the code under test.
KNOTS_TO_MPS = 1852.0 / 3600.0  # international nautical mile per hour

T0 = 1_700_000_000.0


def _lines(path: Path) -> list[bytes]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        return f.read().splitlines()


def _run(lines, clock=None, sides=None, **kw):
    d = AisDecoder("t", Affiliation(sides or SidesSettings()), clock=clock, **kw)
    out = list(d.decode(lines))
    ups = [o for o in out if isinstance(o, TrackUpdate)]
    dls = [o for o in out if isinstance(o, DeadLetter)]
    assert len(ups) + len(dls) == len(out)
    return d, ups, dls


def _pos(**kw):
    base = {"type": 1, "mmsi": 273123456, "lat": 60.0, "lon": 25.0, "speed": 10.0, "course": 90.0, "heading": 91}
    base.update(kw)
    return base


# -- real samples ------------------------------------------------------------------


@pytest.mark.realdata
def test_dma_sample_counts(shared_data: Path) -> None:
    lines = _lines(shared_data / "ais" / "dma_aisabnormal_ais-sample.txt.gz")
    d, ups, dls = _run(lines)
    assert len(lines) == 80_246
    assert d.stats.messages == 26_077  # as SOURCES.md counts them
    assert len(ups) == 24_688
    assert dls == []
    assert len({u.track_id for u in ups}) == 1_438
    assert d.stats.ignored["message type 4"] == 1_234
    assert d.stats.ignored["aid to navigation (type 21)"] == 25
    assert d.stats.ignored["other sentence"] == 973  # $PSTT and $PFEC
    # Every time comes from $PGHP: 2013-11-12 12:00:00-12:04:59Z.
    assert min(u.t_s for u in ups) >= 1_384_257_600.0
    assert max(u.t_s for u in ups) < 1_384_257_600.0 + 300
    # Danish straits and western Baltic.
    assert all(54.0 <= u.lat_deg <= 58.5 and 7.0 <= u.lon_deg <= 17.0 for u in ups if u.domain == "sea")
    # Static data (type 5) merged into later positions.
    named = [u for u in ups if u.name]
    assert len(named) == 868  # 69 type-5 messages in five minutes
    assert all(u.callsign or u.name for u in named)
    sides = Counter(u.side for u in ups)
    assert sides["nato"] > sides["other"] > sides["russia"] > 0
    assert {u.receiver for u in ups[:50]} <= {f"21900{n}" for n in range(40, 80)}


@pytest.mark.realdata
@pytest.mark.parametrize(
    "name, messages, updates, tracks, dead",
    [
        ("dma_aislib_replay_dump.txt", 50, 45, 30, {}),
        ("dma_aislib_decode_encode_messages.txt", 601, 420, 44, {}),
        ("gpsd_ais-raw-messages.log", 109, 91, 39, {}),
        # 69 type-24 sentences with part number 3 (not in ITU-R M.1371) are rejected;
        # two Class B reports with heading 360 keep their position without the heading.
        ("gpsd_ais-18-27.log", 207, 138, 33, {"undecodable payload": 69, "bad field": 2}),
        # 100 sentences with an empty payload; 20 two-part messages whose part 2 is missing.
        ("pyais_nmea_data_sample.txt", 778, 758, 163, {"empty payload": 100, "truncated multi-sentence message": 20}),
        # Corrupt test payloads with 30-bit MMSIs above 999999999, three short payloads, two
        # reports whose course or heading is out of range (dropped, the position kept).
        ("libais_test.aivdm", 261, 37, 33, {"impossible value": 19, "bad field": 2, "truncated payload": 3}),
        # A literal "\x0d\x0a" after a checksum; a fragment that lost its "!".
        ("gpsd_sample.aivdm", 101, 14, 13, {"malformed line": 2}),
    ],
)
def test_untimed_samples_with_clock(shared_data: Path, name, messages, updates, tracks, dead) -> None:
    # Every message at one assumed time: repeated lines would all be one report (see
    # test_multi_receiver_duplicates); here every line is decoded.
    d, ups, dls = _run(_lines(shared_data / "ais" / name), clock=lambda: T0, dedup_window_s=0)
    assert d.stats.messages == messages
    assert len(ups) == updates
    assert len({u.track_id for u in ups}) == tracks
    assert dict(d.stats.dead) == dead
    assert len(dls) == sum(dead.values())
    assert all(dl.reason and dl.raw and dl.position >= 1 for dl in dls)


@pytest.mark.realdata
def test_untimed_file_without_clock_is_dead_lettered_loudly(shared_data: Path, caplog) -> None:
    lines = _lines(shared_data / "ais" / "dma_aislib_decode_encode_messages.txt")
    with caplog.at_level(logging.ERROR, logger="ingest.stats"):
        d, ups, dls = _run(lines)
        d.stats.close()
    assert ups == []
    assert d.stats.dead["no timestamp"] == len(dls) == 601
    assert any("nothing but errors" in r.getMessage() for r in caplog.records)
    assert any("not one valid message" in r.getMessage() for r in caplog.records)


@pytest.mark.realdata
def test_uscg_trailing_epoch_is_the_time(shared_data: Path) -> None:
    lines = [ln for ln in _lines(shared_data / "ais" / "libais_test.aivdm") if ln.startswith(b"!AIVDM,1,1,,A,15B4FT5")]
    _, ups, _ = _run(lines[:1])
    assert ups[0].t_s == 1_272_412_827.0
    assert ups[0].receiver == "b003669794"


# -- hand-made: time -----------------------------------------------------------------


@pytest.mark.parametrize("style", ["tag", "pghp", "uscg"])
def test_round_trip_with_each_timestamp_style(style: str) -> None:
    lines = encode_nmea(_pos(), T0 + 12.0, timestamp=style, source="rx1")
    _, ups, dls = _run(lines)
    assert dls == []
    (u,) = ups
    assert u.t_s == T0 + 12.0
    assert u.receiver == "rx1"
    assert (u.lat_deg, u.lon_deg) == (60.0, 25.0)
    assert u.speed_mps == pytest.approx(10.0 * KNOTS_TO_MPS)
    assert (u.course_deg, u.heading_deg) == (90.0, 91.0)
    assert (u.track_id, u.country, u.side, u.domain) == ("ais:273123456", "RU", "russia", "sea")


# Written by hand (checksums worked out apart from the code): what a receiver sends.
_SENTENCE = rb"!AIVDM,1,1,,B,15N4cJ`005Jrek0H@9n`DW5608EP,0*13"  # type 1, MMSI 367078250
_WRITTEN = [
    b"\\s:r003669945,c:1241544035*79\\" + _SENTENCE,  # NMEA 4.0 tag block, UNIX seconds
    b"\\c:1241544035123,s:rx1*32\\" + _SENTENCE,  # ... milliseconds
    b"$PGHP,1,2009,5,5,17,20,35,123,,,rx2,1,13*20",  # Gatehouse wrapper before the sentence
    _SENTENCE,
    _SENTENCE + b",b003669794,1241544036",  # USCG NAIS trailer
]


def test_time_and_receiver_of_hand_written_lines() -> None:
    _, ups, dls = _run(_WRITTEN, dedup_window_s=0)  # one message, five receivers: each kept here
    assert dls == []
    assert [(u.track_id, u.t_s, u.receiver) for u in ups] == [
        ("ais:367078250", 1_241_544_035.0, "r003669945"),
        ("ais:367078250", pytest.approx(1_241_544_035.123), "rx1"),
        ("ais:367078250", pytest.approx(1_241_544_035.123), "rx2"),
        ("ais:367078250", 1_241_544_036.0, "b003669794"),
    ]
    assert (ups[0].lat_deg, ups[0].lon_deg) == (pytest.approx(42.38415), pytest.approx(-71.059467))


def test_tag_block_milliseconds_and_pghp_milliseconds() -> None:
    _, ups, _ = _run(encode_nmea(_pos(), T0 + 0.25, timestamp="tag"))
    assert ups[0].t_s == pytest.approx(T0 + 0.25)
    _, ups, _ = _run(encode_nmea(_pos(), T0 + 0.25, timestamp="pghp"))
    assert ups[0].t_s == pytest.approx(T0 + 0.25)


def test_tag_block_time_wins_over_pghp_and_standalone_tag_applies_to_next_sentence() -> None:
    pghp = encode_nmea(_pos(), T0 + 100, timestamp="pghp")[0]
    tagged = encode_nmea(_pos(), T0, timestamp="tag", source="s1")
    _, ups, _ = _run([pghp, *tagged])
    assert ups[0].t_s == T0
    tag, _, sentence = tagged[0][1:].partition(b"\\")
    _, ups, _ = _run([b"\\" + tag + b"\\", sentence])
    assert ups[0].t_s == T0 and ups[0].receiver == "s1"


def test_no_timestamp_without_clock_and_clock_fallback() -> None:
    plain = encode_nmea(_pos(), timestamp="none")
    _, ups, dls = _run(plain)
    assert ups == [] and dls[0].text.startswith("no timestamp")
    _, ups, dls = _run(plain, clock=lambda: T0 + 5)
    assert dls == [] and ups[0].t_s == T0 + 5


@pytest.mark.parametrize(
    "line, reason",
    [
        (b"$PGHP,1,2013,13,12,12,0,0,11,219,,2190067,1,62", "unparseable timestamp"),
        (b"$PGHP,1,2013,11,12,25,0,0,11,219,,2190067,1,62", "unparseable timestamp"),
        (b"$PGHP,1,2013,11,x,12,0,0,11,219,,2190067,1,62", "unparseable timestamp"),
    ],
)
def test_bad_pghp_is_dead_letter(line: bytes, reason: str) -> None:
    from ingest._common import nmea_checksum

    full = line + b"*" + f"{nmea_checksum(line[1:]):02X}".encode()
    _, ups, dls = _run([full, *encode_nmea(_pos(), timestamp="none")])
    assert dls[0].text.startswith(reason) and dls[0].position == 1
    # The sentence after it has no time of its own: a second dead letter, not a guess.
    assert ups == [] and dls[1].text.startswith("no timestamp")


def test_bad_tag_block_time_and_checksum() -> None:
    good = encode_nmea(_pos(), T0, timestamp="tag")[0]
    bad_cs = good.replace(b"*", b"*F", 1)  # checksum of the tag block becomes 3 digits, wrong
    _, _, dls = _run([bad_cs])
    assert dls[0].text.startswith("checksum mismatch")
    body = b"c:abc"
    from ingest._common import nmea_checksum

    line = b"\\" + body + b"*" + f"{nmea_checksum(body):02X}".encode() + b"\\" + encode_nmea(_pos(), timestamp="none")[0]
    _, _, dls = _run([line])
    assert dls[0].text.startswith("unparseable timestamp")
    body = b"c:99"
    line = b"\\" + body + b"*" + f"{nmea_checksum(body):02X}".encode() + b"\\" + encode_nmea(_pos(), timestamp="none")[0]
    _, _, dls = _run([line])
    assert dls[0].text.startswith("impossible timestamp")


# -- hand-made: values ---------------------------------------------------------------


def test_not_available_values_become_none() -> None:
    lines = encode_nmea(_pos(speed=102.3, course=360.0, heading=511), T0)
    _, ups, dls = _run(lines)
    assert dls == []
    (u,) = ups
    assert (u.speed_mps, u.course_deg, u.heading_deg) == (None, None, None)
    assert u.velocity_heading_deg is None


def test_not_available_position_is_no_update() -> None:
    d, ups, dls = _run(encode_nmea(_pos(lat=91.0, lon=181.0), T0))
    assert ups == [] and dls == []
    assert d.stats.ignored["no position"] == 1


def test_impossible_position_is_dead_letter_and_stream_goes_on() -> None:
    bad = encode_nmea(_pos(lat=95.0), T0)
    good = encode_nmea(_pos(mmsi=230999000), T0 + 1)
    _, ups, dls = _run([*good, *bad, *good], dedup_window_s=0)  # the same report twice: kept twice here
    assert [u.raw_ref for u in ups] == ["t:1", "t:3"]
    assert dls[0].position == 2 and dls[0].text.startswith("impossible value")


def test_impossible_heading_keeps_position_and_records_it() -> None:
    _, ups, dls = _run(encode_nmea(_pos(heading=400), T0))
    assert ups[0].heading_deg is None and ups[0].lat_deg == 60.0
    assert (dls[0].reason, dls[0].detail) == ("bad field", "heading 400 is outside [0, 359] (dropped, the rest kept)")


def test_checksum_mismatch_and_garbage_lines() -> None:
    good = encode_nmea(_pos(), T0, timestamp="uscg")[0]
    corrupt = good.replace(b",0*", b",1*")  # fill bits changed, checksum now wrong
    lines = [good, corrupt, b"hello world", b"!AIVDM,1,1,,A,zzz", b"", b"# comment", good]
    d, ups, dls = _run(lines, dedup_window_s=0)
    assert len(ups) == 2
    assert [(x.position, x.reason.split(":")[0]) for x in dls] == [
        (2, "checksum mismatch"),
        (3, "malformed line"),
        (4, "malformed line"),
    ]
    assert dls[0].raw == corrupt
    assert d.stats.ignored == Counter({"blank line": 1, "comment": 1})


def test_type_9_sar_aircraft_is_air_with_altitude() -> None:
    msg = {"type": 9, "mmsi": 111230100, "lat": 60.1, "lon": 25.0, "alt": 300, "speed": 120, "course": 90.0}
    _, ups, _ = _run(encode_nmea(msg, T0))
    (u,) = ups
    assert (u.domain, u.alt_m, u.country, u.side) == ("air", 300.0, "FI", "nato")
    assert u.speed_mps == pytest.approx(120 * KNOTS_TO_MPS)
    msg.update(alt=4095, speed=1023)
    _, ups, _ = _run(encode_nmea(msg, T0))
    assert (ups[0].alt_m, ups[0].speed_mps) == (None, None)


def test_type_9_altitude_sensor() -> None:
    """ITU-R M.1371-5 Table 52: the altitude sensor bit says GNSS (0) or barometric (1)."""
    msg = {"type": 9, "mmsi": 111230100, "lat": 60.1, "lon": 25.0, "alt": 300}
    gnss = b"!AIVDO,1,1,,A,91b4tU1;001jL>0RHsH000000000,0*59"  # pyais.encode_dict(msg)
    baro = b"!AIVDO,1,1,,A,91b4tU1;001jL>0RHsH000800000,0*51"  # ... with the sensor bit set
    _, ups, dls = _run([gnss, baro], clock=lambda: T0)
    assert dls == []
    assert [(u.alt_m, u.alt_ref, u.alt_geom_m) for u in ups] == [(300.0, "geom", None), (300.0, "baro", None)]
    _, ups, _ = _run(encode_nmea({**msg, "alt": 4095}, T0))
    assert (ups[0].alt_m, ups[0].alt_ref) == (None, None)
    _, ups, _ = _run(encode_nmea({"type": 1, "mmsi": 273123456, "lat": 60.0, "lon": 25.0}, T0))
    assert (ups[0].alt_m, ups[0].alt_ref, ups[0].alt_geom_m) == (None, None, None)


def test_type_27_long_range() -> None:
    _, ups, _ = _run(encode_nmea({"type": 27, "mmsi": 273123456, "lat": 69.5, "lon": 33.1, "speed": 63, "course": 511}, T0))
    (u,) = ups
    assert (u.lat_deg, u.lon_deg) == (pytest.approx(69.5, abs=1e-3), pytest.approx(33.1, abs=1e-3))
    assert (u.speed_mps, u.course_deg) == (None, None)


def test_type_18_and_19_class_b() -> None:
    _, ups, _ = _run(encode_nmea({"type": 18, "mmsi": 265123456, "lat": 59.3, "lon": 18.1, "speed": 5.0, "heading": 511}, T0))
    # T0 is 2023-11-14: Sweden joined NATO on 2024-03-07.
    assert ups[0].side == "other" and ups[0].country == "SE" and ups[0].heading_deg is None
    m19 = {"type": 19, "mmsi": 265123456, "lat": 59.3, "lon": 18.1, "shipname": "MOLLY", "ship_type": 37, "to_bow": 8, "to_stern": 4}
    d, ups, _ = _run(encode_nmea(m19, T0))
    assert (ups[0].name, ups[0].type_code) == ("MOLLY", "37")
    assert d.static(265123456).length_m == 12.0


def test_type_21_aid_to_navigation_is_not_a_track() -> None:
    d, ups, dls = _run(encode_nmea({"type": 21, "mmsi": 992301234, "lat": 60.0, "lon": 25.0, "name": "BUOY"}, T0))
    assert ups == [] and dls == []
    assert d.stats.ignored["aid to navigation (type 21)"] == 1


def test_static_type_5_and_24_merge_into_later_positions() -> None:
    five = {"type": 5, "mmsi": 273123456, "shipname": "KAPITAN", "callsign": "UBCD", "ship_type": 70,
            "to_bow": 100, "to_stern": 20, "to_port": 10, "to_starboard": 10, "imo": 9123456}
    lines = [*encode_nmea(_pos(), T0), *encode_nmea(five, T0 + 1, seq_id=3), *encode_nmea(_pos(), T0 + 20)]
    d, ups, dls = _run(lines)
    assert dls == []
    assert (ups[0].name, ups[0].callsign) == (None, None)
    assert (ups[1].name, ups[1].callsign, ups[1].type_code) == ("KAPITAN", "UBCD", "70")
    st = d.static(273123456)
    assert (st.length_m, st.beam_m, st.imo) == (120.0, 20.0, 9123456)
    a = {"type": 24, "partno": 0, "mmsi": 230123456, "shipname": "SAILOR"}
    b = {"type": 24, "partno": 1, "mmsi": 230123456, "callsign": "OJAB", "ship_type": 37,
         "to_bow": 5, "to_stern": 5, "to_port": 2, "to_starboard": 1}
    pos = {"type": 18, "mmsi": 230123456, "lat": 60.1, "lon": 24.9}
    _, ups, _ = _run([*encode_nmea(a, T0), *encode_nmea(b, T0), *encode_nmea(pos, T0)])
    assert (ups[0].name, ups[0].callsign, ups[0].type_code) == ("SAILOR", "OJAB", "37")


# -- hand-made: multi-sentence -----------------------------------------------------


def _five(seq: int = 1) -> list[bytes]:
    return encode_nmea({"type": 5, "mmsi": 273123456, "shipname": "LONG NAME", "callsign": "UBCD"}, T0, seq_id=seq)


def test_multi_sentence_with_interleaved_single_sentence() -> None:
    p1, p2 = _five()
    d, _, dls = _run([p1, *encode_nmea(_pos(mmsi=230000001), T0), p2])
    assert dls == [] and d.static(273123456).name == "LONG NAME"


def test_truncated_multi_sentence_messages() -> None:
    p1, p2 = _five()
    # fragment 1 replaced by a new fragment 1: the first message is truncated
    _, _, dls = _run([p1, p1, p2])
    assert [(x.position, x.text) for x in dls] == [(1, "truncated multi-sentence message: 1 of 2 fragments")]
    # fragment 2 without fragment 1
    _, _, dls = _run([p2])
    assert dls[0].text.startswith("truncated multi-sentence message: fragment 2 of 2 without")
    # the feed ends before fragment 2
    _, _, dls = _run([p1])
    assert dls[0].text == "truncated multi-sentence message: 1 of 2 fragments" and dls[0].raw == p1
    # a fragment 1 too long ago
    d = AisDecoder("t", clock=lambda: T0, max_group_lines=3)
    out = list(d.decode([p1, *encode_nmea(_pos(), T0) * 4, p2]))
    reasons = [o.text for o in out if isinstance(o, DeadLetter)]
    assert reasons[0] == "truncated multi-sentence message: 1 of 2 fragments"
    assert reasons[1].startswith("truncated multi-sentence message: fragment 2 of 2 without")


def test_chunked_decoding_keeps_fragments_across_calls() -> None:
    p1, p2 = _five()
    d = AisDecoder("t", clock=lambda: T0)
    assert list(d.decode([p1], final=False)) == []
    assert list(d.decode([p2], final=False)) == []
    assert d.static(273123456).callsign == "UBCD"
    assert d.position == 2


def test_config_lists_win_over_mid() -> None:
    sides = SidesSettings(nato_mmsi=(273123456,))
    _, ups, _ = _run(encode_nmea(_pos(), T0), sides=sides)
    assert (ups[0].country, ups[0].side) == ("RU", "nato")


def test_every_output_is_a_valid_record() -> None:
    lines = [*encode_nmea(_pos(), T0), *encode_nmea(_pos(speed=102.2, course=359.9, heading=359), T0)]
    _, ups, _ = _run(lines)
    assert all(math.isfinite(u.t_s) for u in ups)
    assert ups[1].speed_mps == pytest.approx(102.2 * KNOTS_TO_MPS)
