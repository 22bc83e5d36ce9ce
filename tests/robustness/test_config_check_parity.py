"""`config check` and `run` judge a configuration with one function (closewatch.preflight):
every file that `run` refuses, `config check` refuses first, with the same exit code (2) and
the same message naming the key path or the file and the reason; none gives a traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from alerts.tls import LocalPki, make_local_pki
from closewatch.cli import main

_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")
_FEED = '[[feeds]]\nname = "ais"\nformat = "ais-nmea"\npath = "{sample}"\n'


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LocalPki:
    return make_local_pki(tmp_path_factory.mktemp("pki"), client_key_password="key-Password")


def _cases(tmp: Path, sample: Path, pki: LocalPki) -> dict[str, tuple[bytes, str]]:
    """name -> (configuration file content, what the message must say)."""
    feed = _FEED.format(sample=sample)
    a_file = tmp / "a-file"
    a_file.write_text("x")
    a_dir = tmp / "a-dir"
    a_dir.mkdir(exist_ok=True)
    latin1_zones = tmp / "zones-latin1.geojson"
    latin1_zones.write_bytes('{"type": "FeatureCollection", "features": [{"name": "Tr\xe4ningsomr\xe5de"}]}'.encode("latin-1"))
    bad_geometry = tmp / "zones-bad.geojson"
    bad_geometry.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
                            '{"zone_id": "x", "name": "x"}, "geometry": {"type": "Polygon", "coordinates": [[[1, 2]]]}}]}')
    kafka_tls = (f'[kafka]\nbootstrap_servers = "127.0.0.1:9093"\nsecurity_protocol = "SSL"\n'
                 f'ssl_cafile = "{pki.ca_cert}"\nssl_certfile = "{pki.client_cert}"\nssl_keyfile = "{pki.client_key}"\n')
    t = str
    return {
        "bad callsign regex": (t('[sides]\nnato_callsign_patterns = ["RFF(\\\\d+"]\n' + feed).encode(),
                               "sides.nato_callsign_patterns.0: Value error, 'RFF(\\\\d+' is not a regular expression"),
        "patterns that do not compile together": (
            t('[sides]\nrussia_callsign_patterns = ["RFF\\\\d+", "(?i)rsd\\\\d+"]\n' + feed).encode(),
            "russia_callsign_patterns do not compile together"),
        "non-hex ICAO address": (t('[sides]\nrussia_icao = ["zz1234"]\n' + feed).encode(),
                                 "sides.russia_icao.0: Value error, 'zz1234' is not a 24-bit ICAO address"),
        "MMSI of ten digits": (t("[sides]\nnato_mmsi = [2730000000]\n" + feed).encode(), "sides.nato_mmsi.0: "),
        "both sides": (t('[sides]\nnato_icao = ["3C6586"]\nrussia_icao = ["3c6586"]\n' + feed).encode(),
                       "listed as both nato and russia: 3c6586"),
        "horizon inf": (t("[proximity]\nhorizon_s = inf\n" + feed).encode(),
                        "proximity.horizon_s: Input should be a finite number"),
        "threshold nan": (t("[proximity.thresholds]\nsea_sea_m = nan\n" + feed).encode(),
                          "proximity.thresholds.sea_sea_m: Input should be a finite number"),
        "horizon of 1e300": (t("[proximity]\nhorizon_s = 1e300\n" + feed).encode(), "proximity.horizon_s: "),
        "prediction too fine": (t("[proximity]\nhorizon_s = 86400\npredict_step_s = 0.001\n" + feed).encode(),
                                "samples a pair"),
        "map trail of 1e30 points": (t("[map]\ntrail_points = 1000000000000000000\n" + feed).encode(),
                                     "map.trail_points"),
        "missing feed file": (t(_FEED.format(sample=tmp / "missing.nmea")).encode(),
                              f"feeds.0.path: {tmp / 'missing.nmea'}: no such file or folder"),
        "follow a folder": (t(f'[[feeds]]\nname = "f"\nformat = "sbs1"\ntransport = "follow"\npath = "{a_dir}"\n').encode(),
                            "feeds.0.path: "),
        "follow in a missing folder": (
            t(f'[[feeds]]\nname = "f"\nformat = "sbs1"\ntransport = "follow"\npath = "{tmp}/nowhere/x.txt"\n').encode(),
            "feeds.0.path: "),
        "kafka feed without a cluster": (t('[[feeds]]\nname = "k"\nformat = "sbs1"\ntransport = "kafka"\ntopic = "t"\n').encode(),
                                         "feeds.0: transport 'kafka' needs bootstrap_servers"),
        "config not UTF-8": (("# Tr\xe4ning\n" + feed).encode("latin-1"), "not UTF-8 text (TOML files are UTF-8): byte 0xe4 at line 1, column 5"),
        "invalid TOML": (b"[proximity\n", "not valid TOML"),
        "unknown key": (t("[proximity]\nhorizon_sec = 60\n" + feed).encode(), "proximity.horizon_sec: unknown key"),
        "custom zone file missing": (t(f'[zones]\ncustom = ["{tmp}/none.geojson"]\n' + feed).encode(),
                                     f"zones: {tmp}/none.geojson: no such zone file"),
        "custom zone file not UTF-8": (t(f'[zones]\ncustom = ["{latin1_zones}"]\n' + feed).encode(),
                                       f"zones: {latin1_zones}: not readable GeoJSON"),
        "custom zone file is a folder": (t(f'[zones]\ncustom = ["{a_dir}"]\n' + feed).encode(), f"zones: {a_dir}"),
        "custom zone with a broken polygon": (t(f'[zones]\ncustom = ["{bad_geometry}"]\n' + feed).encode(),
                                              f"zones: {bad_geometry}"),
        "events file under a file": (t(f'[sinks]\nevents_jsonl = "{a_file}/events.jsonl"\n' + feed).encode(),
                                     f"sinks.events_jsonl: {a_file}/events.jsonl: {a_file} is not a folder"),
        "events file is a folder": (t(f'[sinks]\nevents_jsonl = "{a_dir}"\n' + feed).encode(),
                                    f"sinks.events_jsonl: {a_dir}: is a folder, not a file"),
        "SASL without user": (t('[kafka]\nbootstrap_servers = "127.0.0.1:9092"\nsecurity_protocol = "SASL_PLAINTEXT"\n'
                                'sasl_mechanism = "PLAIN"\n' + feed).encode(), "needs sasl_username, sasl_password"),
        "bad bootstrap server": (t('[kafka]\nbootstrap_servers = "127.0.0.1:99999"\n' + feed).encode(),
                                 "kafka.bootstrap_servers"),
        "kafka CA missing": (t(f'[kafka]\nbootstrap_servers = "127.0.0.1:9093"\nsecurity_protocol = "SSL"\n'
                               f'ssl_cafile = "{tmp}/ca.pem"\n' + feed).encode(),
                             f"kafka.ssl_cafile: {tmp}/ca.pem: no such file"),
        "kafka CA not PEM": (t(f'[kafka]\nbootstrap_servers = "127.0.0.1:9093"\nsecurity_protocol = "SSL"\n'
                               f'ssl_cafile = "{a_file}"\n' + feed).encode(), f"kafka.ssl_cafile: {a_file}: not a PEM"),
        "kafka client key password wrong": (t(kafka_tls + 'ssl_key_password = "wrong"\n' + feed).encode(),
                                            "the key cannot be decrypted with the configured password"),
        "kafka client key without password": (t(kafka_tls + feed).encode(), "the key is encrypted and no password is configured"),
        "map key of another certificate": (
            t(f'[map]\ntls_certfile = "{pki.broker_cert}"\ntls_keyfile = "{pki.client_key}"\n'
              f'tls_key_password = "key-Password"\n' + feed).encode(),
            "map.tls_certfile: " + f"{pki.broker_cert} with {pki.client_key}: the key does not belong to the certificate"),
        "map certificate without key": (t(f'[map]\ntls_certfile = "{pki.broker_cert}"\n' + feed).encode(),
                                        "a certificate needs both tls_certfile and tls_keyfile"),
        "map key file missing": (t(f'[map]\ntls_certfile = "{pki.broker_cert}"\ntls_keyfile = "{tmp}/k.pem"\n' + feed).encode(),
                                 f"map.tls_keyfile: {tmp}/k.pem: no such file"),
        "map token too short off loopback": (t('[map]\nhost = "0.0.0.0"\ntoken = "short"\n' + feed).encode(),
                                             "map.token: String should have at least 16 characters"),
        "map token with a space": (t('[map]\ntoken = "a token with spaces ok"\n' + feed).encode(), "map.token: "),
        "allowed host with a path": (t('[map]\nallowed_hosts = ["map.example/x"]\n' + feed).encode(),
                                     "map.allowed_hosts.0: "),
        "http feed without scheme": (t('[[feeds]]\nname = "h"\nformat = "aircraft-json"\ntransport = "http"\n'
                                       'url = "localhost:8080/data/aircraft.json"\n').encode(), "is not an http:// or https:// URL"),
    }


def _stderr_message(err: str) -> str:
    return "\n".join(line for line in err.splitlines() if not _LOG_LINE.match(line)).strip()


def _invoke(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, _stderr_message(capsys.readouterr().err)


@pytest.mark.realdata
def test_every_invalid_file_gets_the_same_exit_2_and_message_from_check_and_run(
    tmp_path: Path, shared_data: Path, pki: LocalPki, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # a run that went ahead would write its files here
    sample = shared_data / "ais" / "dma_aislib_replay_dump.txt"
    cases = _cases(tmp_path, sample, pki)
    failures = []
    for n, (name, (content, expected)) in enumerate(cases.items()):
        cfg = tmp_path / f"case{n}.toml"
        cfg.write_bytes(content)
        checked = _invoke(["config", "check", str(cfg)], capsys)
        ran = _invoke(["run", "-c", str(cfg)], capsys)
        if checked[0] != 2 or ran != checked or not checked[1].startswith(str(cfg)) or expected not in checked[1]:
            failures.append(f"{name}:\n  check -> {checked}\n  run   -> {ran}\n  expected {expected!r}")
    assert not failures, "\n".join(failures)
    assert not (tmp_path / "closewatch-events.jsonl").exists()  # no run went ahead


@pytest.mark.parametrize("kind", ["directory", "not UTF-8"])
def test_config_as_a_directory_or_binary_gives_a_line_not_a_traceback(tmp_path: Path, kind: str) -> None:
    """Through the real entry point (a new process), as an operator meets it."""
    cfg = tmp_path / "closewatch.toml"
    if kind == "directory":
        cfg.mkdir()
    else:
        cfg.write_bytes(b"\xff\xfe[map]\n")
    for argv in (["config", "check", str(cfg)], ["run", "-c", str(cfg)]):
        r = subprocess.run([sys.executable, "-m", "closewatch", *argv], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr
        assert r.stderr.startswith(f"{cfg}: "), r.stderr


def test_a_valid_file_passes_both_and_check_writes_nothing(tmp_path: Path, shared_data: Path,
                                                           capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "ok.toml"
    cfg.write_text(_FEED.format(sample=shared_data / "ais" / "dma_aislib_replay_dump.txt")
                   + '[sides]\nrussia_callsign_patterns = ["RFF\\\\d+", "RSD\\\\d{3}"]\nrussia_icao = ["3C6586"]\n'
                   + '[sinks]\nevents_jsonl = "out/deeper/events.jsonl"\n')
    assert _invoke(["config", "check", str(cfg)], capsys)[0] == 0
    assert not (tmp_path / "out").exists()
    code, err = _invoke(["run", "-c", str(cfg)], capsys)
    assert code == 0, err
    assert (tmp_path / "out" / "deeper" / "events.jsonl").is_file()


def test_check_notes_a_file_without_feeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "serve-only.toml"
    cfg.write_text("")
    code, err = _invoke(["config", "check", str(cfg)], capsys)
    assert code == 0 and "no [[feeds]]" in err
    assert _invoke(["run", "-c", str(cfg)], capsys)[0] == 2
