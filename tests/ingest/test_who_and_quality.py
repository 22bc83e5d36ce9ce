"""What the decoders say of a track beyond its position: who operates it (category), how good
its position is (AIS accuracy/RAIM, ADS-B NIC/NACp/SIL/GVA/NACv/NUCp), its context (AIS
navigational status, on the ground), and one report per message heard by several receivers."""

from __future__ import annotations

import glob
import gzip
import json
from collections import Counter
from pathlib import Path

import pyModeS.util
import pytest

from config.affiliation import Affiliation
from config.classification import Classifier
from config.records import DeadLetter, PositionQuality, TrackUpdate, position_quality
from config.settings import ClassificationSettings
from ingest._aircraft import AircraftState, nic_of, nuc_p_of
from ingest.aircraft_json import AircraftJsonDecoder
from ingest.ais import AisDecoder, encode_nmea
from ingest.cot import CotDecoder
from ingest.modes import ModeSDecoder, _quality
from ingest.sbs1 import Sbs1Decoder
from ingest.tracks import TracksCsvDecoder, TracksJsonlDecoder

T0 = 1_714_564_800.0  # 2024-05-01T12:00:00Z: Finland and Sweden in NATO


def _split(out):
    out = list(out)
    return [o for o in out if isinstance(o, TrackUpdate)], [o for o in out if isinstance(o, DeadLetter)]


def _pos(**kw):
    base = {"type": 1, "mmsi": 230123456, "lat": 60.0, "lon": 25.0, "speed": 10.0, "course": 90.0, "heading": 91}
    base.update(kw)
    return base


# -- AIS: context, quality, category ---------------------------------------------------------


@pytest.mark.parametrize(
    "fields, nav_status, accurate, raim",
    [
        (_pos(status=5, accuracy=1, raim=1), 5, True, True),  # moored, better than 10 m, RAIM in use
        (_pos(status=1, accuracy=0, raim=0), 1, False, False),  # at anchor
        (_pos(status=15), None, False, False),  # 15: not defined
        (_pos(type=3, status=0, accuracy=1), 0, True, False),
        ({"type": 18, "mmsi": 265123456, "lat": 59.3, "lon": 18.1, "accuracy": 1, "raim": 1}, None, True, True),
        ({"type": 19, "mmsi": 265123456, "lat": 59.3, "lon": 18.1, "accuracy": 0, "raim": 1, "shipname": "X"},
         None, False, True),
        ({"type": 27, "mmsi": 273123456, "lat": 59.3, "lon": 28.1, "status": 5, "accuracy": 1, "raim": 0}, 5, True,
         False),
        ({"type": 9, "mmsi": 111230100, "lat": 60.1, "lon": 24.9, "alt": 300, "accuracy": 1, "raim": 1}, None, True,
         True),
    ],
)
def test_ais_context_and_quality_flags(fields, nav_status, accurate, raim) -> None:
    (u,), dls = _split(AisDecoder("t").decode(encode_nmea(fields, T0)))
    assert dls == []
    assert (u.nav_status, u.quality.accuracy_high, u.quality.raim) == (nav_status, accurate, raim)
    assert u.quality.nic is None and u.on_ground is None  # ADS-B indicators are not AIS's
    assert u.quality is position_quality(accuracy_high=accurate, raim=raim)  # one instance per combination


def test_ais_category_follows_static_data_and_configuration() -> None:
    five = {"type": 5, "mmsi": 273456780, "shipname": "RUS PATROL 512", "callsign": "UBRX7", "ship_type": 35}
    lines = [*encode_nmea(_pos(mmsi=273456780), T0), *encode_nmea(five, T0 + 1, seq_id=1),
             *encode_nmea(_pos(mmsi=273456780, lat=60.01), T0 + 2),
             *encode_nmea({"type": 9, "mmsi": 111273100, "lat": 60.1, "lon": 28.0, "alt": 500}, T0 + 3),
             *encode_nmea({"type": 1, "mmsi": 992731234, "lat": 60.2, "lon": 28.0}, T0 + 4)]
    ups, dls = _split(AisDecoder("t").decode(lines))
    assert dls == []
    assert [(u.category, u.category_source) for u in ups] == [
        ("unknown", None),  # no static data yet
        ("military", "ais_type_35"),
        ("state", "mmsi_format_sar_aircraft"),
        ("unknown", "mmsi_aton"),
    ]
    ups, _ = _split(AisDecoder("t", classifier=Classifier(ClassificationSettings(civil_mmsi=(273456780,))))
                    .decode(lines))
    assert (ups[1].category, ups[1].category_source) == ("civil", "config_list")


def test_ais_side_is_judged_at_the_message_time() -> None:
    before = encode_nmea(_pos(mmsi=265123456), T0 - 86_400 * 365)  # 2023-05: Sweden not yet in NATO
    after = encode_nmea(_pos(mmsi=265123456, lat=60.1), T0)
    ups, _ = _split(AisDecoder("t").decode([*before, *after]))
    assert [u.side for u in ups] == ["other", "nato"]


# -- AIS: one message heard by several receivers ---------------------------------------------

_SENTENCE = rb"!AIVDM,1,1,,B,15N4cJ`005Jrek0H@9n`DW5608EP,0*13"  # type 1, MMSI 367078250
_HEARD = [
    b"\\s:r003669945,c:1241544035*79\\" + _SENTENCE,
    b"\\c:1241544035123,s:rx1*32\\" + _SENTENCE,
    b"$PGHP,1,2009,5,5,17,20,35,123,,,rx2,1,13*20",
    _SENTENCE,
    _SENTENCE + b",b003669794,1241544036",
]


def test_one_message_heard_by_several_receivers_is_one_report() -> None:
    d = AisDecoder("t")
    ups, dls = _split(d.decode(_HEARD))
    assert [(u.t_s, u.receiver) for u in ups] == [(1_241_544_035.0, "r003669945")]  # the first copy
    assert d.stats.duplicates == 3 and d.stats.as_dict()["duplicates"] == 3
    assert dls == [] and d.stats.messages == 1
    # the same payload again after the window: a new report (a moored ship repeating itself)
    ups, _ = _split(d.decode([_SENTENCE + b",b003669794,1241544047"]))
    assert [u.t_s for u in ups] == [1_241_544_047.0]
    # the window is a setting; 0 keeps every copy
    ups, _ = _split(AisDecoder("t", dedup_window_s=0).decode(_HEARD))
    assert len(ups) == 4


def test_duplicate_memory_is_bounded() -> None:
    d = AisDecoder("t", max_dedup=50)
    lines = [line for i in range(400) for line in encode_nmea(_pos(mmsi=230000000 + i), T0)]
    ups, _ = _split(d.decode(lines))
    assert len(ups) == 400 and len(d._recent) <= 50
    # over time the window sweeps what is older than itself
    d = AisDecoder("t")
    for i in range(300):
        list(d.decode(encode_nmea(_pos(mmsi=230000000 + i), T0 + i)))
    assert len(d._recent) <= 12  # swept once a window (5 s): at most two windows of one message a second


@pytest.mark.realdata
def test_duplicates_in_the_real_samples(shared_data: Path) -> None:
    # The DMA sample names 32 base stations but every payload in it is unique: the Danish
    # Maritime Authority's feed is merged upstream. 0 duplicates.
    lines = gzip.open(shared_data / "ais" / "dma_aisabnormal_ais-sample.txt.gz").read().splitlines()
    d = AisDecoder("dma")
    ups, _ = _split(d.decode(lines))
    assert d.stats.duplicates == 0 and len(ups) == 24_688
    assert len({u.receiver for u in ups}) == 32
    # The libais sample carries USCG NAIS receiver names and times: five copies of messages
    # heard by two or three stations within 2 s; identical payloads 15 s to 6 min apart (a
    # base station's channel management on both channels, an assigned-mode command every two
    # minutes) stay separate messages.
    lines = (shared_data / "ais" / "libais_test.aivdm").read_bytes().splitlines()
    counts = {}
    for window in (0, 5, 30):
        d = AisDecoder("libais", dedup_window_s=window)
        list(d.decode(lines))
        counts[window] = d.stats.duplicates
    assert counts == {0: 0, 5: 5, 30: 7}


@pytest.mark.realdata
def test_dma_sample_categories_context_and_quality(shared_data: Path) -> None:
    lines = gzip.open(shared_data / "ais" / "dma_aisabnormal_ais-sample.txt.gz").read().splitlines()
    ups, _ = _split(AisDecoder("dma").decode(lines))
    last = {u.track_id: u for u in ups}
    by_category = Counter(u.category for u in last.values())
    assert by_category == {"unknown": 1359, "civil": 75, "state": 3, "military": 1}
    # Five minutes of data: most ships sent no static message (type 5) in them, so their type
    # and name are not known and their category stays unknown.
    sources = Counter(u.category_source for u in last.values() if u.category != "civil")
    assert sources == {None: 1359, "ais_type_51": 2, "ais_type_55": 1, "ais_type_35": 1}
    assert (last["ais:211211450"].name, last["ais:211211450"].category) == ("FGS ALSTER", "military")
    assert Counter(u.category_source for u in last.values() if u.category == "civil").most_common(2) == [
        ("ais_type_30", 25), ("ais_type_70", 12)]
    # navigational status as the ships send it: 775 reports moored, 97 at anchor
    status = Counter(u.nav_status for u in ups)
    assert (status[0], status[5], status[1], status[7], status[None]) == (17_302, 775, 97, 2_594, 2_620)
    assert Counter(u.quality.accuracy_high for u in ups) == {False: 15_063, True: 9_625}
    assert Counter(u.quality.raim for u in ups) == {False: 20_909, True: 3_779}
    # 2013-11-12: every side judged by the membership of that day (no change since 2009 here)
    assert Counter(u.side for u in ups) == {"nato": 17_483, "other": 7_107, "russia": 91, "unknown": 7}


# -- SBS-1: on the ground ---------------------------------------------------------------------


def _sbs(kind: int, hex_: str = "4CA4E6", **f: str) -> bytes:
    fields = ["MSG", str(kind), "1", "1", hex_, "1", "2024/05/01", "12:00:00.000", "2024/05/01", "12:00:00.000"] + [""] * 12
    names = {"callsign": 10, "alt": 11, "gs": 12, "track": 13, "lat": 14, "lon": 15, "ground": 21}
    for k, v in f.items():
        fields[names[k]] = v
    return ",".join(fields).encode()


def test_sbs1_on_ground_flag_and_position_kind() -> None:
    lines = [
        _sbs(1, callsign="RYR2626"),
        _sbs(3, alt="3000", lat="53.4", lon="-6.2", ground="0"),
        _sbs(2, lat="53.42", lon="-6.25", ground="-1"),  # surface position, squat switch on
        _sbs(2, lat="53.43", lon="-6.26"),  # surface position, field 22 empty
        _sbs(5, alt="1000", ground="0"),
        _sbs(3, alt="1000", lat="53.44", lon="-6.27"),
        _sbs(3, "AE1234", alt="20000", lat="54.0", lon="14.0", ground="1"),
    ]
    ups, dls = _split(Sbs1Decoder("s").decode(lines))
    assert dls == []
    assert [u.on_ground for u in ups] == [False, True, True, False, True]
    assert [(u.category, u.category_source) for u in ups] == [("civil", "callsign_airline:RYR")] * 4 + [
        ("military", "icao_military_block:US")]
    assert all(u.quality is None for u in ups)  # SBS-1 carries no quality indicator


@pytest.mark.realdata
def test_node_sbs1_sample_on_ground_and_categories(shared_data: Path) -> None:
    lines = (shared_data / "adsb" / "node-sbs1_msgs.txt").read_bytes().splitlines()
    ups, _ = _split(Sbs1Decoder("node", clock=lambda: T0).decode(lines))
    assert Counter(u.on_ground for u in ups) == {False: 74}
    last = {u.track_id: u for u in ups}
    assert Counter(u.category_source for u in last.values()) == {
        None: 2, "callsign_airline:UAL": 1, "callsign_airline:SIA": 1, "callsign_airline:SWR": 1}
    # Los Angeles: ADFE14 sends surveillance replies only (no position); it lies above the last
    # N-number address (ADF7C7) but below the Department of Defense block (AE0000).
    assert "icao:adfe14" not in last


# -- aircraft.json and readsb traces -----------------------------------------------------------


def test_readsb_quality_ground_and_db_flags() -> None:
    doc = {"now": T0, "aircraft": [
        {"hex": "4ca4e6", "flight": "RYR2626", "alt_baro": 35000, "lat": 53.0, "lon": -6.0, "version": 2, "nic": 8,
         "nac_p": 10, "nac_v": 2, "sil": 3, "gva": 2, "dbFlags": 0},
        {"hex": "4ca4e7", "flight": "RYR2627", "alt_baro": 35000, "lat": 57.0, "lon": 21.0, "version": 2, "nic": 0,
         "nac_p": 0, "sil": 3, "gpsOkBefore": T0 - 300.5},  # GNSS lost five minutes ago
        {"hex": "ae5420", "alt_baro": "ground", "lat": 50.0, "lon": 8.6, "dbFlags": 1},
        {"hex": "4ca4e8", "lat": 53.1, "lon": -6.1, "nucp": 7, "dbFlags": 9},  # military (bit 0) and LADD
        {"hex": "4ca4e9", "lat": 53.2, "lon": -6.2, "nic": 12},
        {"hex": "4ca4ea", "lat": 53.2, "lon": -6.2, "sil": "3"},
    ]}
    ups, dls = _split(AircraftJsonDecoder("r").decode([json.dumps(doc).encode()]))
    a, b, c, e, f, g = ups
    assert a.quality == PositionQuality(adsb_version=2, nic=8, nac_p=10, nac_v=2, sil=3, gva=2) and a.on_ground is False
    assert (a.category, a.category_source) == ("civil", "callsign_airline:RYR")
    assert (b.quality.nic, b.quality.nac_p, b.quality.gnss_ok_before_s) == (0, 0, T0 - 300.5)
    assert (c.on_ground, c.alt_m, c.category, c.category_source, c.quality) == (True, None, "military",
                                                                                "dbflags_military", None)
    assert (e.quality.nuc_p, e.on_ground, e.category) == (7, None, "military")
    # A bad code is a bad optional field: dropped, the report kept (docs/feeds.md).
    assert (f.quality, g.quality) == (None, None)
    assert [(x.reason, x.detail) for x in dls] == [
        ("bad field", "nic=12 is outside [0, 11] (dropped, the rest kept) (aircraft #5)"),
        ("bad field", "sil='3' is not a number (dropped, the rest kept) (aircraft #6)")]


@pytest.mark.realdata
def test_uk_dump1090_snapshot_who_and_quality(shared_data: Path) -> None:
    doc = (shared_data / "adsb" / "billglover_dump1090_aircraft_uk.json").read_bytes()
    ups, _ = _split(AircraftJsonDecoder("uk").decode([doc]))
    # London, 2019: 51 aircraft with a position, airliners; no address in a military block,
    # no air arm's callsign. Those with an airline-style callsign are civil, the rest unknown.
    assert Counter(u.category for u in ups) == {"civil": 38, "unknown": 13}
    assert not any((u.category_source or "").startswith(("icao_military_block", "callsign_prefix")) for u in ups)
    assert Counter(u.category_source for u in ups).most_common(3) == [
        (None, 13), ("callsign_airline:RYR", 6), ("callsign_airline:BAW", 5)]
    # dump1090-mutability writes the version 0 NUCp ("nucp"): 7 for most
    assert Counter(u.quality.nuc_p for u in ups) == {7: 33, 6: 15, 0: 2, 5: 1}
    assert {u.on_ground for u in ups} == {False}


@pytest.mark.realdata
def test_readsb_trace_quality_and_ground(shared_data: Path) -> None:
    doc = (shared_data / "adsb" / "readsb_trace_full_ac671b.json").read_bytes()
    ups, _ = _split(AircraftJsonDecoder("trace").decode([doc]))
    assert Counter(u.on_ground for u in ups) == {False: 2_105, True: 394}  # taxi in and out
    assert sum(1 for u in ups if u.quality is None) == 3  # from its first detail row on
    rated = [u.quality for u in ups if u.quality is not None]
    assert Counter(q.adsb_version for q in rated) == {2: 2_484, 0: 12}
    assert Counter(q.nic for q in rated) == {8: 2_496}
    assert Counter(q.nac_p for q in rated) == {10: 2_484, 8: 12}
    assert Counter((q.sil, q.gva, q.nac_v) for q in rated) == {(3, 2, 2): 2_484, (2, 2, 2): 12}
    assert len({id(q) for q in rated}) == 2  # two sets of values: two shared instances
    assert Counter(u.category for u in ups) == {"civil": 2_496, "unknown": 3}  # dbFlags 0, DAL1812


# -- raw Mode S: NIC from the type code and the supplements ------------------------------------


def _df17(icao: str, me: int) -> str:
    head = f"{(17 << 3) | 5:02X}{icao}{me:014X}"
    return head + f"{pyModeS.util.crc(head + '000000'):06X}"


def _status(icao: str, version: int, nic_a: int, nac_p: int, sil: int, gva: int = 0, subtype: int = 0,
            cc: int = 0) -> str:
    """An aircraft operational status message (TC 31, DO-260B 2.2.3.2.7.2)."""
    me = (31 << 51) | (subtype << 48) | (cc << 32) | (version << 13) | (nic_a << 12) | (nac_p << 8) | (gva << 6) | (sil << 4)
    return _df17(icao, me)


@pytest.mark.parametrize(
    "tc, version, a, b, c, nic",
    [
        (9, 2, None, None, None, 11), (10, 1, None, None, None, 10), (12, 2, 0, 0, None, 7), (17, 2, 0, 0, None, 1),
        (11, 2, 1, 1, None, 9), (11, 2, 0, 0, None, 8), (11, 2, 1, 0, None, None), (11, 2, None, 1, None, None),
        (11, 1, 1, 0, None, 9), (11, 1, 0, 1, None, 8),  # version 1: supplement A alone (B is the antenna flag)
        (13, 2, 1, 0, None, 6), (16, 2, 1, 1, None, 3), (16, 2, 0, 0, None, 2), (20, 2, None, None, None, 11),
        (7, 2, 1, None, 0, 9), (7, 2, 0, None, 0, 8), (8, 2, 1, None, 1, 7), (8, 2, 0, None, 1, 6),
        (8, 2, 0, None, 0, 0), (7, 1, 1, None, None, 9), (8, 1, 1, None, None, 0),
        (11, 0, 1, 1, None, None), (11, None, 1, 1, None, None), (19, 2, 1, 1, None, None),
    ],
)
def test_nic_from_type_code_and_supplements(tc, version, a, b, c, nic) -> None:
    assert nic_of(tc, version, a, b, c) == nic


def test_nuc_p_of_version_0() -> None:
    assert [nuc_p_of(tc) for tc in (5, 8, 9, 11, 18, 20, 22, 19, 31)] == [9, 6, 9, 7, 0, 9, 0, None, None]


@pytest.mark.realdata
def test_mode_s_sample_with_and_without_operational_status(shared_data: Path) -> None:
    lines = (shared_data / "adsb" / "sample_data_adsb.csv").read_bytes().splitlines()
    # The sample has no operational status message: the version is unknown and the type code
    # (TC 11 positions) gives the NUCp.
    ups, _ = _split(ModeSDecoder("m").decode(lines))
    assert {(u.quality, u.on_ground) for u in ups} == {(PositionQuality(nuc_p=7), False)}
    assert {(u.category, u.category_source) for u in ups} == {("civil", "callsign_airline:EZY")}
    t0 = int(lines[0].split(b",")[0])
    for nic_a, nic in ((0, 8), (1, None)):  # TC 11 with NIC-B 0: NIC 8 when A is 0; no valid NIC when A is 1
        status = f"{t0},{_status('406B90', 2, nic_a, 9, 3, gva=2)}".encode()
        ups, dls = _split(ModeSDecoder("m").decode([status, *lines]))
        assert dls == []
        # the velocity messages (TC 19) give NACv 0
        assert {u.quality for u in ups} == {PositionQuality(adsb_version=2, nic=nic, nac_p=9, nac_v=0, sil=3, gva=2)}


def test_mode_s_surface_status_and_positions() -> None:
    st = AircraftState("406b90")
    # surface operational status, version 2: NIC-A 1; capability class NACv 2 (ME 17-19), NIC-C 0 (ME 20)
    frame = _status("406B90", 2, 1, 10, 3, subtype=1, cc=(2 << 5))
    d = {"typecode": 31, "subtype": 1, "version": 2, "nic_supplement_a": 1, "nac_p": 10, "sil": 3}
    _quality(st, 31, d, frame)
    assert (st.adsb_version, st.nic_a, st.nic_c, st.nac_v, st.nac_p, st.gva) == (2, 1, 0, 2, 10, None)
    _quality(st, 7, {"typecode": 7}, "")  # a surface position, TC 7: NIC 9 with A 1, C 0
    assert (st.on_ground, st.quality) == (True, PositionQuality(adsb_version=2, nic=9, nac_p=10, nac_v=2, sil=3))
    _quality(st, 11, {"typecode": 11, "nic_b": 1}, "")  # airborne again, TC 11 with A 1, B 1
    assert (st.on_ground, st.quality.nic) == (False, 9)
    _quality(st, 19, {"typecode": 19, "nac_v": 7}, "")  # reserved NACv
    assert st.quality.nac_v is None
    v0 = AircraftState("406b91")
    _quality(v0, 31, {"typecode": 31, "version": 0, "nac_p": 5, "sil": 2}, "")  # version 0 has no such fields
    _quality(v0, 6, {"typecode": 6}, "")
    assert (v0.on_ground, v0.quality) == (True, PositionQuality(adsb_version=0, nuc_p=8))


# -- Cursor on Target ---------------------------------------------------------------------------


@pytest.mark.realdata
def test_atak_sample_categories(shared_data: Path) -> None:
    d = CotDecoder("atak")
    items = [i for f in sorted(glob.glob(str(shared_data / "cot" / "*.xml"))) for i in d.decode([Path(f).read_bytes()])]
    ups, _ = _split(items)
    assert Counter((u.type_code, u.category, u.category_source) for u in ups) == {
        ("a-u-A-M-F", "military", "cot_type:A-M"): 4,
        ("a-u-A-M-H", "military", "cot_type:A-M"): 1,
        ("a-f-G-U-C", "military", "cot_type:G-U"): 4,
        ("a-f-G-E-V-C", "civil", "cot_type:G-E-V-C"): 4,
        ("a-f-G", "unknown", None): 4, ("a-h-G", "unknown", None): 4, ("a-u-G", "unknown", None): 4,
        ("a-u-G-E-V", "unknown", None): 4,
    }


# -- the generic track formats ------------------------------------------------------------------


def test_generic_records_carry_category_context_and_quality() -> None:
    rec = {"track_id": "icao:4ca4e6", "t_s": T0, "lat_deg": 53.0, "lon_deg": -6.0, "domain": "air", "nic": 8,
           "nac_p": 10, "sil": 3, "adsb_version": 2, "on_ground": False, "category": "state", "callsign": "RYR1"}
    ship = {"track_id": "ais:230123456", "t_s": T0, "lat_deg": 60.0, "lon_deg": 25.0, "domain": "sea", "nav_status": 5,
            "quality": {"accuracy_high": True, "raim": False}, "type_code": "35"}
    ext = {"track_id": "ext:heli-7", "t_s": T0, "lat_deg": 59.9, "lon_deg": 30.3, "domain": "air", "callsign": "RFF01"}
    lines = [json.dumps(r).encode() for r in (rec, ship, ext)]
    ups, dls = _split(TracksJsonlDecoder("g").decode(lines))
    assert dls == []
    a, s, e = ups
    assert (a.category, a.category_source, a.on_ground) == ("state", "feed", False)
    assert a.quality == PositionQuality(nic=8, nac_p=10, sil=3, adsb_version=2)
    assert (s.nav_status, s.quality, s.category, s.category_source) == (
        5, PositionQuality(accuracy_high=True, raim=False), "military", "ais_type_35")
    assert (e.category, e.category_source) == ("military", "callsign_prefix:RFF")
    csv = [b"track_id,t_s,lat_deg,lon_deg,domain,on_ground,nic,category,category_source",
           f"icao:4ca4e6,{T0},53,-6,air,true,8,civil,registry".encode(),
           f"icao:4ca4e6,{T0 + 1},53,-6,air,1,,,".encode(),
           f"icao:4ca4e6,{T0 + 2},53,-6,air,maybe,,,".encode(),
           f"icao:4ca4e6,{T0 + 3},53,-6,air,,7.5,,".encode(),
           f"icao:4ca4e6,{T0 + 4},53,-6,air,,,navy,".encode(),
           f"icao:4ca4e6,{T0 + 5},53,-6,air,,12,,".encode()]
    ups, dls = _split(TracksCsvDecoder("c").decode(csv))
    # A bad optional value is dropped with a "bad field" dead letter, the report kept.
    assert [(u.on_ground, u.quality, u.category, u.category_source) for u in ups] == [
        (True, PositionQuality(nic=8), "civil", "registry"), (True, None, "unknown", None)] + [
        (None, None, "unknown", None)] * 4
    assert [(x.reason, x.detail.split("=")[0]) for x in dls] == [
        ("bad field", "on_ground"), ("bad field", "nic"), ("bad field", "category"), ("bad field", "nic")]


def test_the_classifier_is_the_one_the_feed_is_given() -> None:
    c = Classifier(ClassificationSettings(military_icao=("4ca4e6",)))
    ups, _ = _split(Sbs1Decoder("s", Affiliation(), classifier=c).decode([_sbs(3, alt="3000", lat="53", lon="-6")]))
    assert (ups[0].category, ups[0].category_source) == ("military", "config_list")
