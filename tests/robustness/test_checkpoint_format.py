"""Checkpoints cannot run code: the engine's state in a checked .npz, read only from a safe folder.

A planted pickle, a tampered array or document, an array that needs pickle, a
state folder writable by everyone or given as a symbolic link: each is refused
with a clear error (the run stops, exit code 2) and nothing in the file runs.
A checkpoint of other settings is set aside with a warning (the run starts
afresh). A checkpoint written and read back gives an engine that goes on with
exactly the events of one that never stopped.
"""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod

from closewatch.checkpoint import CheckpointError, CheckpointStore, read_state_file
from closewatch.rules import build_rules
from config.records import TrackUpdate, Zone
from config.settings import Settings, parse_settings
from proximity.engine import Engine
from proximity.geometry import geodesic_circle

GEOD = Geod(ellps="WGS84")
T0 = 1_700_000_000.0


def _settings(state_dir: Path, **proximity: object) -> Settings:
    return parse_settings({
        "feeds": [{"name": "in", "format": "tracks-jsonl", "transport": "kafka", "topic": "t",
                   "bootstrap_servers": "127.0.0.1:9"}],
        "pipeline": {"state_dir": str(state_dir)},
        "zones": {"catalogue": "none", "territorial": False},
        "proximity": dict(proximity),
    })


def _zone() -> Zone:
    return Zone(zone_id="z", name="zone z", kind="site", geometry=geodesic_circle(22.0, 58.0, 10_000.0, max_error_m=1.0),
                sides=("russia", "nato"))


def _reports() -> list[TrackUpdate]:
    """Two opposing ships closing on each other across the zone, one of them reporting a jump."""
    out = []
    for k in range(120):
        t = T0 + 10 * k
        lon_a, lat_a, _ = GEOD.fwd(21.8, 58.0, 90.0, 6.0 * 10 * k)
        lon_b, lat_b, _ = GEOD.fwd(22.2, 58.0, 270.0, 6.0 * 10 * k)
        if k == 50:
            lon_b, lat_b = 23.5, 58.5  # a jump: track_integrity
        out.append(TrackUpdate(track_id="ais:1", source="in", t_s=t, lat_deg=float(lat_a), lon_deg=float(lon_a),
                               domain="sea", side="nato", speed_mps=6.0, course_deg=90.0, name="A" * 40))
        out.append(TrackUpdate(track_id="ais:2", source="in", t_s=t + 1, lat_deg=float(lat_b), lon_deg=float(lon_b),
                               domain="sea", side="russia", speed_mps=6.0, course_deg=270.0, callsign="ΩMEGA"))
    return out


def _canonical(events: list) -> list[str]:
    return [json.dumps(e.canonical(), sort_keys=True) for e in events]


def _saved(tmp_path: Path) -> tuple[CheckpointStore, list[str], Settings]:
    """A checkpoint saved half-way; and the events of an engine that never stopped."""
    settings = _settings(tmp_path / "state")
    reports = _reports()
    whole = Engine(settings.proximity, [_zone()])
    clean = _canonical(whole.process(reports) + whole.finish())
    eng = Engine(settings.proximity, [_zone()])
    first = eng.process(reports[:130])
    assert eng._book.open  # incidents are open at the cut
    store = CheckpointStore(settings)
    store.save(eng, {"in": {("t", 0): 65}})
    return store, _canonical(first), settings


def test_a_checkpoint_read_back_goes_on_with_the_events_of_a_run_that_never_stopped(tmp_path):
    store, first, settings = _saved(tmp_path)
    assert store.path.suffix == ".npz"
    with zipfile.ZipFile(store.path) as zf:  # a plain zip of .npy arrays and one JSON document
        names = zf.namelist()
        doc = json.loads(zf.read("checkpoint.json"))["body"]
    assert "checkpoint.json" in names and all(n.endswith(".npy") for n in names if n != "checkpoint.json")
    assert doc["format"] == 3 and doc["engine"]["schema"] == "closewatch.engine-state"
    saved = CheckpointStore(settings).load()
    assert saved is not None and saved.positions == {"in": {("t", 0): 65}}
    reports = _reports()
    rest = _canonical(saved.engine.process(reports[130:]) + saved.engine.finish())
    whole = Engine(settings.proximity, [_zone()])
    assert first + rest == _canonical(whole.process(reports) + whole.finish())


def test_a_checkpoint_read_back_keeps_the_runs_rule_profile(tmp_path):
    """The profile is configuration, not state: the run gives it again and the engine goes on under it."""
    settings = _settings(tmp_path / "state")
    rules = build_rules(settings)  # the default profile of a run: military
    reports = _reports()
    whole = Engine(settings.proximity, [_zone()], rules=build_rules(settings))
    clean = _canonical(whole.process(reports) + whole.finish())
    assert whole.suppressed  # the civil ships' encounter is counted, not raised
    eng = Engine(settings.proximity, [_zone()], rules=rules)
    first = _canonical(eng.process(reports[:130]))
    CheckpointStore(settings).save(eng, {"in": {("t", 0): 65}})
    saved = CheckpointStore(settings).load(rules=build_rules(settings))
    assert saved is not None and saved.engine.rules.profile.label == rules.profile.label
    assert first + _canonical(saved.engine.process(reports[130:]) + saved.engine.finish()) == clean


class _Payload:
    """What a planted pickle would run when loaded: creates a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_pickle_is_refused_and_runs_nothing(tmp_path):
    store, _, settings = _saved(tmp_path)
    marker = tmp_path / "pwned"
    store.path.write_bytes(pickle.dumps({"format": 3, "engine": _Payload(marker)}))
    with pytest.raises(CheckpointError, match="not a closewatch checkpoint"):
        CheckpointStore(settings).load()
    assert not marker.exists()


def test_an_array_that_needs_pickle_is_refused_and_runs_nothing(tmp_path):
    store, _, settings = _saved(tmp_path)
    marker = tmp_path / "pwned"
    with zipfile.ZipFile(store.path, "a") as zf:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
        zf.writestr("planted.npy", buf.getvalue())
    with pytest.raises(CheckpointError, match="not a closewatch checkpoint"):
        CheckpointStore(settings).load()
    assert not marker.exists()


def _rewrite(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    change(members)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for n, data in members.items():
            zf.writestr(n, data)


def test_a_tampered_array_fails_the_checksum(tmp_path):
    store, _, settings = _saved(tmp_path)

    def flip(members: dict[str, bytes]) -> None:
        name = "tracks.lat_deg.npy"
        data = bytearray(members[name])
        data[-1] ^= 0x01
        members[name] = bytes(data)

    _rewrite(store.path, flip)
    with pytest.raises(CheckpointError, match="SHA-256"):
        CheckpointStore(settings).load()


def test_a_tampered_document_fails_the_checksum(tmp_path):
    store, _, settings = _saved(tmp_path)

    def move_offsets(members: dict[str, bytes]) -> None:
        text = members["checkpoint.json"].decode()
        doc = json.loads(text)
        doc["body"]["positions"]["in"][0][2] = 0  # read the input again from its start
        body = json.dumps(doc["body"], sort_keys=True, separators=(",", ":"))
        members["checkpoint.json"] = ('{"body":' + body + ',"sha256":"' + doc["sha256"] + '"}').encode()

    _rewrite(store.path, move_offsets)
    with pytest.raises(CheckpointError, match="SHA-256"):
        CheckpointStore(settings).load()


def test_a_state_folder_writable_by_everyone_is_refused(tmp_path):
    store, _, settings = _saved(tmp_path)
    store.directory.chmod(0o777)
    with pytest.raises(CheckpointError, match="writable by everyone"):
        CheckpointStore(settings).load()


def test_a_checkpoint_writable_by_everyone_is_refused(tmp_path):
    store, _, settings = _saved(tmp_path)
    store.path.chmod(0o666)
    with pytest.raises(CheckpointError, match="not a file closewatch wrote"):
        read_state_file(store.path)


def test_a_state_folder_given_as_a_symbolic_link_is_refused(tmp_path):
    store, _, _ = _saved(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(store.directory)
    with pytest.raises(CheckpointError, match="symbolic link"):
        CheckpointStore(_settings(link)).load()


def test_a_missing_state_folder_is_made_private(tmp_path):
    settings = _settings(tmp_path / "new" / "state")
    assert CheckpointStore(settings).load() is None
    assert (tmp_path / "new" / "state").stat().st_mode & 0o777 == 0o700


def test_a_checkpoint_of_other_settings_is_set_aside_with_a_warning(tmp_path, caplog):
    _saved(tmp_path)
    caplog.set_level(logging.WARNING, logger="closewatch.checkpoint")
    assert CheckpointStore(_settings(tmp_path / "state", horizon_s=600.0)).load() is None
    assert "set aside, starting afresh" in caplog.text


def test_a_pickle_checkpoint_of_an_earlier_version_is_never_opened(tmp_path, caplog):
    store, _, settings = _saved(tmp_path)
    marker = tmp_path / "pwned"
    legacy = store.path.with_suffix(".pickle")
    legacy.write_bytes(pickle.dumps({"format": 2, "engine": _Payload(marker)}))
    caplog.set_level(logging.WARNING, logger="closewatch.checkpoint")
    assert CheckpointStore(settings).load() is not None  # the new checkpoint beside it is read
    assert not marker.exists()
    assert "never read" in caplog.text


def test_run_stops_with_exit_code_2_on_a_planted_checkpoint(tmp_path, write_config, run_cli):
    state = tmp_path / "state"
    config = write_config(f"""
[[feeds]]
name = "in"
format = "tracks-jsonl"
transport = "kafka"
topic = "t"
bootstrap_servers = "127.0.0.1:9"

[pipeline]
state_dir = "{state}"

[zones]
catalogue = "none"
territorial = false
""")
    store = CheckpointStore(_settings(state))
    state.mkdir(mode=0o700)
    marker = tmp_path / "pwned"
    store.path.write_bytes(pickle.dumps(_Payload(marker)))
    result = run_cli("run", "-c", config, timeout_s=120)
    assert result.returncode == 2, result.stderr
    assert "not a closewatch checkpoint" in result.stderr and str(store.path) in result.stderr
    assert "Traceback" not in result.stderr
    assert not marker.exists()


def test_notified_zones_travel_as_checked_bytes_and_come_back_equal():
    """A notified zone as an ingest worker sends it to every partition (``export_zones`` in the
    checkpoint format): read back equal; a flipped byte fails the checksum; a document of
    something else is refused naming what is missing."""
    from closewatch.checkpoint import state_bytes, state_from_bytes
    from proximity.state import StateError, export_zones, import_zones

    zone = Zone(zone_id="exercise:snap-1", name="Snap exercise", kind="exercise",
                geometry=geodesic_circle(28.3, 57.8, 15_000.0, max_error_m=1.0), sides=("russia",), active_from_s=T0,
                active_until_s=T0 + 3600.0,
                properties={"issued_s": T0, "declared": {"troops": 3000}, "note": "at short notice"})
    data = state_bytes(*export_zones([zone]))
    (back,) = import_zones(*state_from_bytes(data, "cells[0] offset 7"))
    assert back.geometry.equals_exact(zone.geometry, 0.0)
    fields = ("zone_id", "name", "kind", "sides", "domains", "active_from_s", "active_until_s", "properties")
    assert [getattr(back, f) for f in fields] == [getattr(zone, f) for f in fields]
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0xFF
    with pytest.raises(CheckpointError, match="cells\\[0\\] offset 7"):
        state_from_bytes(bytes(flipped), "cells[0] offset 7")
    with pytest.raises(StateError, match="no zones"):
        import_zones(*state_from_bytes(state_bytes({"tracks": []}, {}), "x"))
