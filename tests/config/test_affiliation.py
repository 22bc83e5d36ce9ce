"""Affiliation tables and precedence."""

from __future__ import annotations

import calendar
import re
from typing import Any

import pytest
from pydantic import ValidationError

from config.affiliation import Affiliation, icao_blocks, mid_of_mmsi, mid_table, nato_accession_s, nato_members
from config.settings import SidesSettings


def test_nato_has_32_members_including_finland_and_sweden() -> None:
    members = nato_members()
    assert len(members) == 32
    assert {"FI", "SE", "US", "TR", "ME", "MK"} <= members
    assert not {"RU", "BY", "UA", "CH", "AT", "IE"} & members


def test_tables_load_and_are_consistent() -> None:
    mids = mid_table()
    assert len(mids) > 280
    assert mids[273] == ("RU", "RU") and mids[230] == ("FI", "FI") and mids[231] == ("FO", "DK")
    assert mids[740] == ("FK", "GB")
    blocks = icao_blocks()
    assert all(a[1] < b[0] for a, b in zip(blocks, blocks[1:]))  # sorted, no overlap
    assert all(len(c) == 2 and c.isupper() for _, _, c in blocks)


@pytest.mark.parametrize(
    "mmsi, mid",
    [
        (273123456, 273),  # ship
        (2730001, 273),  # coast station 00273xxxx -> written without leading zeros: 002730001
        (27312345, 273),  # coast 0273xxxxx
        (111273100, 273),  # SAR aircraft
        (982301234, 230),  # auxiliary craft
        (992301234, 230),  # aid to navigation
        (827312345, 273),  # handheld
        (970123456, None),  # SART
        (0, None),
    ],
)
def test_mid_of_mmsi(mmsi: int, mid: int | None) -> None:
    assert mid_of_mmsi(mmsi) == mid


@pytest.mark.parametrize(
    "mmsi, country, side",
    [
        (273123456, "RU", "russia"),
        (230123456, "FI", "nato"),
        (265123456, "SE", "nato"),
        (206123456, "BY", "russia"),
        (272123456, "UA", "other"),
        (331123456, "GL", "nato"),  # Greenland: Denmark
        (477123456, "HK", "other"),
        (999999999, None, "unknown"),
        (200000000, None, "unknown"),
    ],
)
def test_for_mmsi_tables(mmsi: int, country, side) -> None:
    assert Affiliation().for_mmsi(mmsi) == (country, side)


@pytest.mark.parametrize(
    "address, country, side",
    [
        ("154A12", "RU", "russia"),
        ("3c6586", "DE", "nato"),
        ("461F2A", "FI", "nato"),
        ("4AC9E1", "SE", "nato"),
        ("510012", "BY", "russia"),
        ("AE1234", "US", "nato"),
        ("4B1908", "CH", "other"),
        ("508000", "UA", "other"),
        ("000001", None, "unknown"),
        ("F00001", None, "unknown"),
        ("zzzzzz", None, "unknown"),
    ],
)
def test_for_icao_blocks(address: str, country, side) -> None:
    assert Affiliation().for_icao(address) == (country, side)


def test_block_edges_are_inclusive() -> None:
    a = Affiliation()
    assert a.for_icao("100000")[0] == "RU" and a.for_icao("1FFFFF")[0] == "RU"
    assert a.for_icao("200000")[0] is None


def test_belarus_configurable() -> None:
    a = Affiliation(SidesSettings(belarus="other"))
    assert a.for_mmsi(206123456) == ("BY", "other")
    assert a.for_icao("510012") == ("BY", "other")


def test_config_lists_first_then_asserted_then_tables() -> None:
    sides = SidesSettings(
        nato_mmsi=(273000001,),
        russia_icao=("3C6586",),
        russia_callsign_patterns=(r"RFF\d+",),
        nato_callsign_patterns=(r"NATO\d\d",),
    )
    a = Affiliation(sides)
    assert a.for_mmsi(273000001) == ("RU", "nato")
    assert a.for_icao("3c6586") == ("DE", "russia")
    assert a.for_icao("3c6587", callsign="rff7033") == ("DE", "russia")
    assert a.for_icao("154a12", callsign="NATO01") == ("RU", "nato")
    assert a.for_icao("154a12", callsign="NATO001") == ("RU", "russia")  # the whole callsign must match
    # a side asserted by the feed (CoT affiliation) comes after config, before tables
    assert a.for_icao("154a12", asserted="nato") == ("RU", "nato")
    assert a.for_icao("3c6586", asserted="nato") == ("DE", "russia")
    assert a.for_other("rff1") == "russia" and a.for_other(None, "nato") == "nato" and a.for_other("X") == "unknown"


@pytest.mark.parametrize(
    ("sides", "key"),
    [
        ({"nato_icao": ("12345",)}, "nato_icao.0"),
        ({"nato_mmsi": (1,), "russia_mmsi": (1,)}, "listed as both nato and russia: 1"),
        ({"nato_mmsi": (1_000_000_000,)}, "nato_mmsi.0"),
        ({"nato_callsign_patterns": (" ",)}, "nato_callsign_patterns.0"),
        ({"russia_callsign_patterns": ("RFF(",)}, "russia_callsign_patterns.0"),
        ({"russia_callsign_patterns": ("RFF", "(?i)RSD")}, "do not compile together"),
    ],
)
def test_bad_overrides_are_refused_by_the_settings(sides: dict[str, Any], key: str) -> None:
    """The settings check the overrides (config check finds them); Affiliation trusts them."""
    with pytest.raises(ValidationError, match=re.escape(key)):
        SidesSettings(**sides)


def _t(y: int, m: int, d: int) -> float:
    return float(calendar.timegm((y, m, d, 0, 0, 0)))


# -- alliance membership by date --------------------------------------------------------------


def test_accession_dates() -> None:
    joined = nato_accession_s()
    assert joined["FI"] == _t(2023, 4, 4) and joined["SE"] == _t(2024, 3, 7) and joined["MK"] == _t(2020, 3, 27)
    assert joined["ME"] == _t(2017, 6, 5) and joined["AL"] == joined["HR"] == _t(2009, 4, 1)
    assert {c for c, t in joined.items() if t == _t(2004, 3, 29)} == {"BG", "EE", "LV", "LT", "RO", "SK", "SI"}
    assert {c for c, t in joined.items() if t == _t(1999, 3, 12)} == {"CZ", "HU", "PL"}
    assert joined["ES"] == _t(1982, 5, 30) and joined["DE"] == _t(1955, 5, 6)
    assert joined["GR"] == joined["TR"] == _t(1952, 2, 18)
    assert sum(1 for t in joined.values() if t == _t(1949, 8, 24)) == 12


@pytest.mark.parametrize(
    "mmsi, when, side",
    [
        (230123456, _t(2010, 6, 1), "other"),  # a Finnish ship in 2010
        (230123456, _t(2024, 6, 1), "nato"),
        (230123456, _t(2023, 4, 3) + 86_399, "other"),  # the last second before accession
        (230123456, _t(2023, 4, 4), "nato"),
        (265123456, _t(2023, 12, 31), "other"),  # Sweden: 2024-03-07
        (265123456, _t(2024, 3, 7), "nato"),
        (211123456, _t(1954, 1, 1), "other"),
        (211123456, _t(1990, 1, 1), "nato"),
        (276123456, _t(2003, 1, 1), "other"),  # Estonia: 2004-03-29
        (273123456, _t(2003, 1, 1), "russia"),
        (230123456, None, "nato"),  # no data time: today's membership
    ],
)
def test_side_by_the_reports_date(mmsi: int, when, side: str) -> None:
    assert Affiliation().for_mmsi(mmsi, t_s=when)[1] == side


def test_side_switch_is_precomputed_per_identifier() -> None:
    a = Affiliation()
    for year in range(2000, 2026):
        a.for_mmsi(230123456, t_s=_t(year, 1, 1))
        a.for_icao("461f2a", t_s=_t(year, 1, 1))  # a Finnish aircraft
    assert len(a._mmsi_cache) == 1 and len(a._icao_cache) == 1  # one entry each, whatever the time
    assert a.for_icao("461f2a", t_s=_t(2020, 1, 1)) == ("FI", "other")
    assert a.for_icao("461f2a", t_s=_t(2025, 1, 1)) == ("FI", "nato")
