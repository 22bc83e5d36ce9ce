"""Who operates a track: the classification tables, each source, the precedence, the settings."""

from __future__ import annotations

import subprocess
import sys

import pytest

from config.affiliation import icao_blocks
from config.classification import (
    Classifier,
    ais_ship_types,
    callsign_prefixes,
    cot_types,
    military_blocks,
    military_types,
    mmsi_formats,
    name_patterns,
    watch_types,
)
from config.settings import ClassificationSettings, ConfigError, Settings, parse_settings


# -- the tables ------------------------------------------------------------------------------


def test_tables_load_and_are_consistent() -> None:
    types = ais_ship_types()
    assert types[35][:2] == ("military", True) and types[55][:2] == ("state", True) and types[51][:2] == ("state", True)
    assert types[70][0] == "civil" and types[59][1] is False and 0 not in types
    assert [f[0] for f in mmsi_formats()][:4] == ["111", "970", "972", "974"]  # longest prefix first
    assert len(callsign_prefixes()) >= 25 and callsign_prefixes()["RSD"].category == "state"
    assert military_types()["TU95"].role == "bomber" and military_types()["E3TF"].role == "isr"
    assert cot_types()[0][0].count("-") >= cot_types()[-1][0].count("-")
    assert {label for label, _, _ in name_patterns()} >= {"WARSHIP", "COAST_GUARD"}


def test_every_military_block_lies_in_its_states_allocation() -> None:
    allocation = icao_blocks()
    for block in military_blocks():
        owners = [c for start, end, c in allocation if start <= block.start and block.end <= end]
        assert owners == [block.country], f"{block.start:06X}-{block.end:06X} is not inside {block.country}'s block"
    assert any(b.country == "US" and b.confidence == "documented" for b in military_blocks())


def test_watch_types_are_a_view_of_the_type_table() -> None:
    assert set(watch_types()) == {"TU95", "T160", "TU160", "TU22", "SU24", "SU34", "IL20", "A50"}
    assert Settings().proximity.watch_types == watch_types()
    # the setting still replaces the view when it is given
    own = parse_settings({"proximity": {"watch_types": ["B52"]}})
    assert own.proximity.watch_types == ("B52",)


# -- AIS --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mmsi, ship_type, name, expected",
    [
        (273123456, "35", None, ("military", "ais_type_35")),
        (273123456, "55", None, ("state", "ais_type_55")),
        (219013695, "51", "DSRS RUDKOEBING", ("state", "ais_type_51")),
        (111219501, None, None, ("state", "mmsi_format_sar_aircraft")),
        (992191234, "70", None, ("unknown", "mmsi_aton")),  # an aid to navigation is no cargo ship
        (970123456, None, None, ("unknown", "mmsi_sart")),
        (972123456, None, None, ("unknown", "mmsi_mob")),
        (974123456, None, None, ("unknown", "mmsi_epirb")),
        (982191234, None, None, ("unknown", "mmsi_craft_associated")),
        (982191234, None, "COAST GUARD 3", ("state", "name_pattern:COAST_GUARD")),
        (230123456, "70", "NATO WARSHIP", ("military", "name_pattern:WARSHIP")),  # a name beats a civil type
        (211211450, None, "FGS ALSTER", ("military", "name_pattern:NAVY_PREFIX")),
        (265123456, None, "KBV 001 POSEIDON", ("state", "name_pattern:KBV")),
        (230123456, "70", "KAPITAN", ("civil", "ais_type_70")),
        (230123456, "30", "L 517 NORDSØ", ("civil", "ais_type_30")),  # a fishing registration is no hull number
        (219000001, None, "L 517 NORDSØ", ("unknown", None)),
        (230123456, "0", None, ("unknown", None)),
        (230123456, "90", None, ("unknown", None)),
        (230123456, "59", None, ("unknown", None)),
        (230123456, None, "WARSHIPS R US", ("unknown", None)),  # whole words only
    ],
)
def test_ais_sources(mmsi: int, ship_type, name, expected) -> None:
    assert Classifier().ais(mmsi, ship_type, name) == expected


def test_configuration_comes_first_for_ais() -> None:
    c = Classifier(ClassificationSettings(civil_mmsi=(273123456,), military_name_patterns=(r".*\bSMOLNY\b.*",),
                                          state_callsign_patterns=(r"UB[A-Z]{3}",)))
    assert c.ais(273123456, "35") == ("civil", "config_list")
    assert c.ais(273000001, "70", "PERVOMAYSK SMOLNY") == ("military", "config_pattern")
    assert c.ais(273000002, "70", None, "ubcdx") == ("state", "config_pattern")  # case-insensitive, whole callsign
    assert c.ais(273000002, "70", None, "UBCDXY") == ("civil", "ais_type_70")
    # a category the record carries comes after the configuration, before the tables
    assert c.ais(273000003, "70", asserted=("military", "feed")) == ("military", "feed")
    assert c.ais(273123456, "70", asserted=("military", "feed")) == ("civil", "config_list")


# -- aircraft ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address, callsign, type_code, db_flags, expected",
    [
        ("ae1234", None, None, None, ("military", "icao_military_block:US")),
        ("adf7c7", None, None, None, ("unknown", None)),  # the last US civil (N-number) address
        ("43c6f1", "ASCOT4A", None, None, ("military", "icao_military_block:GB")),
        ("43c6f1", "EZY12AB", None, None, ("military", "icao_military_block:GB")),  # the block beats a callsign
        ("3c6586", None, None, None, ("unknown", None)),  # German civil
        ("154a12", "RFF7033", None, None, ("military", "callsign_prefix:RFF")),
        ("154a12", "RSD214", "MI8", None, ("state", "callsign_prefix:RSD")),
        ("a12345", "RCH871", None, None, ("military", "callsign_prefix:RCH")),
        ("4d0101", "NATO01", None, None, ("military", "callsign_prefix:NATO")),
        ("4d0101", "NATO", None, None, ("unknown", None)),  # a prefix needs its number
        ("154a12", "RFFX", None, None, ("unknown", None)),
        ("154a12", None, "TU95", None, ("military", "type_designator:TU95")),
        ("154a12", None, "tu160", None, ("military", "type_designator:TU160")),
        ("4ca4e6", None, "B738", None, ("unknown", None)),
        ("4ca4e6", "RYR2626", "B738", None, ("civil", "callsign_airline:RYR")),
        ("4ca4e6", "RYR2626", "B738", 1, ("military", "dbflags_military")),
        ("4ca4e6", "RYR2626", "B738", 2, ("civil", "callsign_airline:RYR")),  # bit 1: interesting, not military
        ("400aa0", "DUKE01", None, None, ("unknown", None)),  # a tactical callsign: not an airline's
        ("400aa0", "GBPRI", None, None, ("unknown", None)),
        ("~1f2e3d", "RFF7033", None, None, ("military", "callsign_prefix:RFF")),  # TIS-B: no address block
        ("~ae1234", None, None, None, ("unknown", None)),
    ],
)
def test_aircraft_sources(address: str, callsign, type_code, db_flags, expected) -> None:
    assert Classifier().aircraft(address, callsign, type_code, db_flags) == expected


def test_configuration_comes_first_for_aircraft() -> None:
    c = Classifier(ClassificationSettings(civil_icao=("AE1234",), military_callsign_patterns=(r"DUKE\d+", r"FORTE\d+")))
    assert c.aircraft("ae1234", "RCH871", "C17", 1) == ("civil", "config_list")
    assert c.aircraft("400aa0", "DUKE01") == ("military", "config_pattern")
    assert c.aircraft("400aa0", "forte11") == ("military", "config_pattern")


# -- Cursor on Target -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cot_type, expected",
    [
        ("a-u-A-M-F", ("military", "cot_type:A-M")),
        ("a-h-A-M-H", ("military", "cot_type:A-M")),
        ("a-f-A-C-F", ("civil", "cot_type:A-C")),
        ("a-h-S-C-L", ("military", "cot_type:S-C")),
        ("a-n-S-X-M", ("civil", "cot_type:S-X")),
        ("a-h-U-S", ("military", "cot_type:U-S")),
        ("a-f-G-U-C", ("military", "cot_type:G-U")),
        ("a-f-G-E-V-C", ("civil", "cot_type:G-E-V-C")),
        ("a-f-G-E-V", ("unknown", None)),
        ("a-f-G", ("unknown", None)),
        ("a-f-A-MX", ("unknown", None)),  # whole atoms only
        ("b-m-p-s-m", ("unknown", None)),
    ],
)
def test_cot_type_tree(cot_type: str, expected) -> None:
    assert Classifier().cot(cot_type) == expected


def test_cot_callsign_pattern_and_prefix() -> None:
    c = Classifier(ClassificationSettings(state_callsign_patterns=(r"BORDER \d+",)))
    assert c.cot("a-u-G", "BORDER 7") == ("state", "config_pattern")
    assert c.cot("a-u-A", "RFF1234") == ("military", "callsign_prefix:RFF")


# -- the settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "section, message",
    [
        ({"military_icao": ["43C6G1"]}, "classification.military_icao.0: Value error, '43C6G1' is not a 24-bit"),
        ({"state_callsign_patterns": ["RFF("]}, "classification.state_callsign_patterns.0: Value error, 'RFF(' is not"),
        ({"civil_name_patterns": ["  "]}, "classification.civil_name_patterns.0: Value error, empty pattern"),
        ({"military_mmsi": [0]}, "classification.military_mmsi.0: Input should be greater than or equal to 1"),
        ({"state_name_patterns": ["A", "(?i)B"]}, "state_name_patterns do not compile together"),
        ({"military_mmsi": [273123456], "civil_mmsi": [273123456]}, "273123456 is listed as both military and civil"),
        ({"militray_mmsi": [1]}, "classification.militray_mmsi: unknown key"),
    ],
)
def test_bad_classification_settings_name_the_key(section, message) -> None:
    with pytest.raises(ConfigError) as e:
        parse_settings({"classification": section})
    assert message in str(e.value)


def test_config_check_catches_a_bad_classification_pattern(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[classification]\nmilitary_callsign_patterns = ["DUKE[0-9"]\n')
    r = subprocess.run([sys.executable, "-m", "closewatch", "config", "check", str(bad)], capture_output=True, text=True)
    assert r.returncode == 2
    assert "classification.military_callsign_patterns" in r.stderr and "DUKE[0-9" in r.stderr
