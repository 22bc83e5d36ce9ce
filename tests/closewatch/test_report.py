"""Incident reports of the live demo: one per incident kind, verified; and verification failing on any change."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas
import pytest

from alerts.codec import decode_event, event_from_feature
from closewatch.archive import Archive
from closewatch.replay import canonical_lines, incident_spans
from closewatch.report import VerificationError, build_report, keygen, verify_report
from live_demo import LiveDemo

KINDS = ["zone_entry", "predicted_zone_entry", "close_approach", "predicted_close_approach", "exercise_near_border"]


def _incident(live: LiveDemo, kind: str) -> str:
    spans = [s for s in incident_spans(live.events).values() if s.kind == kind]
    assert spans, f"the demo has no {kind}"
    return min(spans, key=lambda s: s.opened_s).event_id


def _events(path: Path) -> list:  # type: ignore[type-arg]
    return [event_from_feature(decode_event(line)) for line in path.read_bytes().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("keys")
    keygen(d / "k.key", d / "k.pub")
    return d / "k.key", d / "k.pub"


@pytest.fixture(scope="module")
def approach_report(live_demo: LiveDemo, signing_key: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
                    ) -> Path:
    out = tmp_path_factory.mktemp("reports") / "close-approach"
    build_report(Archive(live_demo.archive), out, event_id=_incident(live_demo, "close_approach"), pad_s=600.0,
                 sign_key=signing_key[0])
    return out


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_a_report_of_each_incident_kind_verifies(live_demo: LiveDemo, kind: str, tmp_path: Path) -> None:
    event_id = _incident(live_demo, kind)
    out = tmp_path / "report"
    summary = build_report(Archive(live_demo.archive), out, event_id=event_id, pad_s=300.0)
    for name in ("index.html", "replay.html", "timeline.png", "timeline.svg", "events.jsonl", "events.csv",
                 "events-at-the-time.jsonl", "tracks.parquet", "tracks.geojson", "config.json", "zones.geojson",
                 "versions.json", "report.json", "README.md", "manifest.json"):
        assert (out / name).is_file(), name
    plots = {"close_approach": "separation-", "predicted_close_approach": "separation-", "zone_entry": "zone-",
             "predicted_zone_entry": "zone-"}
    if kind in plots:
        assert any(f.startswith(plots[kind]) for f in summary.figures), summary.figures
        assert list(out.glob(f"{plots[kind]}*.svg"))
    # the incident's revisions are the live ones, and the report says when each was raised
    mine = [e for e in _events(out / "events.jsonl") if e.event_id == event_id]
    live = [e for e in live_demo.events if e.event_id == event_id]
    window = json.loads((out / "report.json").read_text())["window"]
    assert canonical_lines(mine) == canonical_lines([e for e in live if window["from_s"] <= e.t_s < window["to_s"]])
    assert mine and not summary.notes, summary.notes
    then = _events(out / "events-at-the-time.jsonl")
    assert all(e.detected_s is not None for e in then) and canonical_lines(then) == canonical_lines(_events(out / "events.jsonl"))
    tracks = geopandas.read_parquet(out / "tracks.parquet")
    reported = _events(out / "events.jsonl") + _events(out / "carried-in.jsonl")
    assert set(tracks["track_id"]) == {s.track_id for e in reported for s in e.subjects}
    assert {s.track_id for e in mine for s in e.subjects} <= set(tracks["track_id"])
    versions = json.loads((out / "versions.json").read_text())
    assert versions["closewatch"] and versions["dependencies"]["pyarrow"] and versions["dependencies"]["matplotlib"]
    assert "sasl_password" not in (out / "config.json").read_text() or \
        json.loads((out / "config.json").read_text())["kafka"] is None
    lines = verify_report(out)
    assert lines[-1].startswith("ok: the engine re-run over input/ gives the same")


def _tampered(report: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(report, copy)
    return copy


def _rehash(folder: Path) -> None:
    """What a forger does next: write the manifest again for the changed files."""
    from closewatch.report import _write_manifest

    _write_manifest(folder)


@pytest.mark.slow
def test_verify_passes_with_the_signers_key(approach_report: Path, signing_key: tuple[Path, Path]) -> None:
    lines = verify_report(approach_report, signing_key[1])
    assert any("signed by" in line and "the key given" in line for line in lines)


@pytest.mark.slow
def test_verify_fails_on_a_changed_event(approach_report: Path, tmp_path: Path) -> None:
    copy = _tampered(approach_report, tmp_path)
    text = (copy / "events.jsonl").read_text()
    (copy / "events.jsonl").write_text(text.replace('"severity":"critical"', '"severity":"warning"', 1))
    with pytest.raises(VerificationError, match=r"^events\.jsonl: changed") as e:
        verify_report(copy)
    assert e.value.path == "events.jsonl"
    # a forger who also rewrites the manifest breaks the signature...
    _rehash(copy)
    with pytest.raises(VerificationError, match="manifest.sig: the signature does not match"):
        verify_report(copy)
    # ...and without a signature, the re-run from the report's input tells
    (copy / "manifest.sig").unlink()
    (copy / "signer.pub").unlink()
    _rehash(copy)
    with pytest.raises(VerificationError, match=r"events\.jsonl: the re-run from input/ gives other revisions"):
        verify_report(copy)


@pytest.mark.slow
def test_verify_fails_on_a_changed_track(approach_report: Path, tmp_path: Path) -> None:
    copy = _tampered(approach_report, tmp_path)
    part = next((copy / "input" / "tracks").rglob("*.parquet"))
    data = bytearray(part.read_bytes())
    data[len(data) // 3] ^= 0x01
    part.write_bytes(bytes(data))
    rel = part.relative_to(copy).as_posix()
    with pytest.raises(VerificationError, match=f"^{rel}: changed"):
        verify_report(copy)


@pytest.mark.slow
def test_verify_fails_on_a_changed_configuration(approach_report: Path, tmp_path: Path) -> None:
    copy = _tampered(approach_report, tmp_path)
    cfg = json.loads((copy / "config.json").read_text())
    cfg["proximity"]["thresholds"]["air_air_lateral_m"] = 5000.0
    (copy / "config.json").write_text(json.dumps(cfg, indent=1, sort_keys=True) + "\n")
    with pytest.raises(VerificationError, match=r"^config\.json: changed"):
        verify_report(copy)
    (copy / "manifest.sig").unlink()
    (copy / "signer.pub").unlink()
    _rehash(copy)  # unsigned and re-hashed: the re-run with the changed threshold gives other revisions
    with pytest.raises(VerificationError, match="re-run from input/ gives other revisions"):
        verify_report(copy)


@pytest.mark.slow
def test_verify_fails_on_a_bad_signature_and_on_added_files(approach_report: Path, tmp_path: Path) -> None:
    copy = _tampered(approach_report, tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    keygen(other / "k.key", other / "k.pub")
    with pytest.raises(VerificationError, match="signature does not match"):
        verify_report(copy, other / "k.pub")  # signed, but not by the key the checker trusts
    sig = (copy / "manifest.sig").read_text()
    (copy / "manifest.sig").write_text(sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:])
    with pytest.raises(VerificationError, match="manifest.sig"):
        verify_report(copy)
    fresh = _tampered(approach_report, tmp_path / "b")
    (fresh / "extra.txt").write_text("slipped in")
    with pytest.raises(VerificationError, match=r"^extra\.txt: not in the manifest"):
        verify_report(fresh)


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "closewatch", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.slow
def test_demo_then_report_in_its_folder_just_works(tmp_path: Path) -> None:
    demo = _cli(["demo", "--out", "d", "--no-kafka"], tmp_path)
    assert demo.returncode == 0, demo.stderr
    d = tmp_path / "d"
    first = json.loads((d / "events.jsonl").read_text().splitlines()[0])["properties"]["event_id"]
    report = _cli(["report", first], d)
    assert report.returncode == 0, report.stderr
    assert (d / f"report-{first}" / "index.html").is_file()
    keys = _cli(["report", "keygen", "--out", "keys"], tmp_path)
    assert keys.returncode == 0 and "fingerprint" in keys.stdout
    again = _cli(["report", first, "--out", "signed", "--sign", str(tmp_path / "keys" / "closewatch-report.key")], d)
    assert again.returncode == 0, again.stderr
    ok = _cli(["report", "verify", "signed", "--public-key", str(tmp_path / "keys" / "closewatch-report.pub")], d)
    assert ok.returncode == 0, ok.stderr
    assert "verified" in ok.stdout
    (d / "signed" / "events.csv").write_text("changed")
    bad = _cli(["report", "verify", "signed"], d)
    assert bad.returncode == 1 and "events.csv: changed" in bad.stderr
    refused = _cli(["report", first, "--out", "signed"], d)
    assert refused.returncode == 2 and "not empty" in refused.stderr


def test_a_separation_figure_ends_where_the_input_ended() -> None:
    """Two ships reported for five minutes of a fifteen-minute window: the series has the engine's
    ticks up to the input's end, not ten more minutes of a dead-reckoned line."""
    from closewatch.report import separation_series
    from config.records import TrackUpdate
    from config.settings import Settings

    t0 = 1_700_000_000.0

    def ship(track_id: str, lon: float) -> list[TrackUpdate]:
        return [TrackUpdate(track_id=track_id, source="ais", t_s=t0 + k * 10.0, lat_deg=58.0, lon_deg=lon,
                            domain="sea", speed_mps=3.0, course_deg=0.0) for k in range(31)]

    a, b = ship("ais:1", 20.0), ship("ais:2", 20.02)
    settings = Settings()
    t_all, d_all, _ = separation_series(a, b, t0, t0 + 900.0, settings)
    t, d, _ = separation_series(a, b, t0, t0 + 900.0, settings, data_end_s=t0 + 300.0)
    assert t_all[-1] > t0 + 800.0  # without the input's end: every tick of the window
    assert t[-1] <= t0 + 300.0 < t[-1] + settings.proximity.pair_interval_s
    assert t.tolist() == [x for x in t_all.tolist() if x <= t0 + 300.0] and d.tolist() == d_all[: t.size].tolist()
