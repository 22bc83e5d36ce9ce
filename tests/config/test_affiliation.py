"""Affiliation tables and precedence."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from config.affiliation import Affiliation, icao_blocks, mid_of_mmsi, mid_table, nato_members
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
