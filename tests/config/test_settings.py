import subprocess
import sys

import pytest

from config.settings import ConfigError, Settings, load_settings, parse_settings


def test_empty_file_gives_documented_defaults(tmp_path):
    p = tmp_path / "closewatch.toml"
    p.write_text("")
    s = load_settings(p)
    assert s == Settings()
    assert s.kafka is None  # embedded default: JSON Lines, no server
    assert s.sinks.events_jsonl == "closewatch-events.jsonl"
    assert s.proximity.thresholds.sea_sea_m == 1852.0


def test_bad_value_names_key_path_and_reason():
    with pytest.raises(ConfigError) as e:
        parse_settings({"proximity": {"thresholds": {"sea_sea_m": -5}}}, "x.toml")
    msg = str(e.value)
    assert "proximity.thresholds.sea_sea_m" in msg
    assert "greater than 0" in msg
    assert msg.startswith("x.toml")


def test_unknown_key_is_an_error_not_ignored():
    with pytest.raises(ConfigError) as e:
        parse_settings({"proximity": {"horizon_sec": 60}})
    assert "proximity.horizon_sec: unknown key" in str(e.value)


def test_feed_transport_requirements_and_index_in_path():
    with pytest.raises(ConfigError) as e:
        parse_settings({"feeds": [{"name": "a", "format": "sbs1", "path": "x"}, {"name": "b", "format": "sbs1", "transport": "tcp"}]})
    assert "feeds.1" in str(e.value)
    assert "needs host, port" in str(e.value)


def test_duplicate_feed_names_rejected():
    feed = {"name": "a", "format": "sbs1", "path": "x"}
    with pytest.raises(ConfigError, match="repeated: a"):
        parse_settings({"feeds": [feed, feed]})


def test_map_off_loopback_needs_token():
    with pytest.raises(ConfigError, match="map: .*set map.token"):
        parse_settings({"map": {"host": "0.0.0.0"}})
    token = "s3cret-s3cret-s3cret"
    assert parse_settings({"map": {"host": "0.0.0.0", "token": token}}).map.token == token


def test_invalid_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[proximity\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_settings(tmp_path / "missing.toml")


def test_cli_config_check_exit_codes(tmp_path):
    good = tmp_path / "good.toml"
    (tmp_path / "x.nmea").write_text("")
    good.write_text(f'[[feeds]]\nname = "ais"\nformat = "ais-nmea"\npath = "{tmp_path / "x.nmea"}"\n')
    bad = tmp_path / "bad.toml"
    bad.write_text("[kafka]\nbootstrap_servers = \"127.0.0.1:9092\"\npartitions = 0\n")
    ok = subprocess.run([sys.executable, "-m", "closewatch", "config", "check", str(good)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "valid (1 feeds" in ok.stdout
    ko = subprocess.run([sys.executable, "-m", "closewatch", "config", "check", str(bad)], capture_output=True, text=True)
    assert ko.returncode == 2
    assert "kafka.partitions: Input should be greater than or equal to 1" in ko.stderr


def test_example_file_is_valid_and_matches_defaults():
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "closewatch.example.toml"
    s = load_settings(example)
    defaults = Settings()
    for section in ("pipeline", "proximity", "zones", "sides", "classification", "sinks", "map", "archive", "scale"):
        assert getattr(s, section) == getattr(defaults, section), f"[{section}] differs from the defaults"
    assert s.feeds[0].name == "baltic-ais"


def test_bad_scale_settings_are_refused_naming_the_key(tmp_path):
    path = tmp_path / "c.toml"
    for text, reason in (
        ('[scale]\nrole = "engine"\n', r"scale\.role 'engine'.*\[kafka\]"),
        ("[scale]\npartitions = 0\n", r"scale\.partitions"),
        ("[scale]\npartitions = 3\nregion_cuts = [10]\n",
         r"scale: .*region_cuts has 1 cuts for 3 partitions.*closewatch scale plan"),
        ("[scale]\npartitions = 3\nregion_cuts = [20, 10]\n", r"scale: .*region_cuts must ascend"),
        ("[scale]\npartitions = 2\nregion_cuts = [-1]\n", r"scale\.region_cuts\.0"),
    ):
        path.write_text(text)
        with pytest.raises(ConfigError, match=reason):
            load_settings(path)
