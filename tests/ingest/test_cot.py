"""Cursor on Target: the ATAK sample events and hand-made edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.records import DeadLetter, TrackUpdate
from config.settings import SidesSettings
from config.affiliation import Affiliation
from ingest.cot import CotDecoder


def _split(out):
    out = list(out)
    return [o for o in out if isinstance(o, TrackUpdate)], [o for o in out if isinstance(o, DeadLetter)]


def _event(uid="u1", type_="a-h-A-M-F", time="2024-05-01T12:00:00Z", stale="2024-05-01T12:05:00Z",
           lat="59.5", lon="24.5", hae="3000", detail="<contact callsign='BEAR 1'/><track course='270.5' speed='200.0'/>"):
    return (f"<?xml version='1.0' standalone='yes'?><event version='2.0' uid='{uid}' type='{type_}' time='{time}' "
            f"start='{time}' stale='{stale}' how='m-g'><point lat='{lat}' lon='{lon}' hae='{hae}' ce='10' le='20'/>"
            f"<detail>{detail}</detail></event>").encode()


@pytest.mark.realdata
def test_atak_sample_events(shared_data: Path) -> None:
    files = sorted((shared_data / "cot").glob("*.xml"))
    d = CotDecoder("cot")
    ups, dls = _split(d.decode(f.read_bytes() for f in files))
    assert len(files) == 34 and d.stats.messages == 34 and dls == []
    assert len(ups) == 29 and len({u.track_id for u in ups}) == 11
    assert d.stats.ignored == {"not a track (b-m-p)": 4, "not a track (b-t-f)": 1}
    by_type = {u.type_code: u for u in ups}
    air = by_type["a-u-A-M-F"]
    assert (air.domain, air.side, air.callsign) == ("air", "unknown", "ISR2 2")
    assert air.alt_m == pytest.approx(36.076, abs=1e-3)
    assert by_type["a-h-G"].side == "russia" and by_type["a-f-G-U-C"].side == "nato"
    hq = by_type["a-f-G-E-V-C"]
    assert (hq.speed_mps, hq.course_deg) == (0.0, 0.0)
    # The same stream cut into 37-byte chunks decodes the same.
    blob = b"".join(f.read_bytes() for f in files)
    ups2, _ = _split(CotDecoder("cot2").decode(blob[i : i + 37] for i in range(0, len(blob), 37)))
    assert [(u.track_id, u.t_s) for u in ups2] == [(u.track_id, u.t_s) for u in ups]


def test_fields_and_placeholders() -> None:
    ups, _ = _split(CotDecoder("c").decode([_event(), _event("u2", "a-n-S", hae="9999999.0", detail="")]))
    u = ups[0]
    assert (u.track_id, u.domain, u.side, u.callsign) == ("cot:u1", "air", "russia", "BEAR 1")
    assert (u.t_s, u.alt_m, u.course_deg, u.speed_mps) == (1_714_564_800.0, 3000.0, 270.5, 200.0)
    assert (ups[1].domain, ups[1].side, ups[1].alt_m) == ("sea", "other", None)
    # point@hae is the height above the WGS 84 ellipsoid
    assert (u.alt_ref, u.alt_geom_m, ups[1].alt_ref, ups[1].alt_geom_m) == ("geom", 3000.0, None, None)


def test_callsign_pattern_wins_over_cot_affiliation() -> None:
    aff = Affiliation(SidesSettings(nato_callsign_patterns=(r"BEAR \d",)))
    ups, _ = _split(CotDecoder("c", aff).decode([_event()]))
    assert ups[0].side == "nato"


@pytest.mark.parametrize(
    "raw, reason",
    [
        (_event(time="yesterday"), "unparseable timestamp"),
        (_event(stale="2024-05-01T11:00:00Z"), "impossible value"),
        (_event(lat="95"), "impossible value"),
        (_event(lat="abc"), "malformed event"),
        (_event(type_="a-q-A"), "malformed event"),
        (b"<event uid='x' type='a-f-G'><point lat='1' lon='2'/><oops></event>", "malformed event"),
        (b"<event uid='x' type='a-f-G' time='2024-05-01T12:00:00Z'></event>", "malformed event"),
    ],
)
def test_bad_events_are_dead_letters_and_stream_goes_on(raw: bytes, reason: str) -> None:
    ups, dls = _split(CotDecoder("c").decode([_event("a"), raw, _event("b")]))
    assert [u.track_id for u in ups] == ["cot:a", "cot:b"]
    assert len(dls) == 1 and dls[0].text.startswith(reason) and dls[0].position == 2


def test_an_out_of_range_optional_value_is_dropped_and_the_event_kept() -> None:
    ups, dls = _split(CotDecoder("c").decode([_event(detail="<contact callsign='B'/><track course='400' speed='3'/>")]))
    assert [(u.course_deg, u.speed_mps, u.callsign) for u in ups] == [(None, 3.0, "B")]
    assert [x.text for x in dls] == ["bad field: track@course=400 is outside [0, 360] (dropped, the rest kept)"]


def test_entities_are_never_expanded() -> None:
    bomb = b'<!DOCTYPE e [<!ENTITY a "aaaa">]><event uid="x" type="a-f-G">&a;</event>'
    ups, dls = _split(CotDecoder("c").decode([bomb]))
    assert ups == []
    assert [x.reason.split(":")[0] for x in dls] == ["malformed line", "malformed event"]


def test_junk_between_events_and_truncated_tail() -> None:
    ups, dls = _split(CotDecoder("c").decode([b"garbage " + _event("a") + b"\n" + _event("b")[:60]]))
    assert [u.track_id for u in ups] == ["cot:a"]
    assert [x.reason.split(":")[0] for x in dls] == ["malformed line", "truncated event"]


def test_space_and_bits_are_not_tracks() -> None:
    d = CotDecoder("c")
    ups, dls = _split(d.decode([_event(type_="a-f-P"), _event(type_="b-m-p-s-m")]))
    assert ups == [] and dls == [] and d.stats.ignored == {"dimension P": 1, "not a track (b-m-p)": 1}


def test_cot_times_are_zulu_by_definition() -> None:
    """CoT times are UTC: one written without ``Z`` is UTC, one with an offset is converted."""
    raw = [_event("z1", time="2024-05-01T12:00:00", stale="2024-05-01T12:05:00"),
           _event("z2", time="2024-05-01T14:00:00+02:00", stale="2024-05-01T14:05:00+02:00")]
    ups, dls = _split(CotDecoder("c").decode(raw))
    assert dls == [] and [u.t_s for u in ups] == [1_714_564_800.0, 1_714_564_800.0]
