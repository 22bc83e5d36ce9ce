"""`closewatch scale plan` on the real recordings: regions of about equal traffic, fewer halo copies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from closewatch.cells import CellGrid
from closewatch.cli import main
from config.settings import load_settings


def _config(path: Path, shared_data: Path, extra: str = "") -> Path:
    path.write_text(f"""
[[feeds]]
name = "ais"
format = "ais-nmea"
transport = "file"
path = "{shared_data / 'ais' / 'dma_aisabnormal_ais-sample.txt.gz'}"

[[feeds]]
name = "sbs"
format = "sbs1"
transport = "file"
path = "{shared_data / 'adsb' / 'node-sbs1_msgs.txt'}"
{extra}
[archive]
enabled = false

[scale]
partitions = 2
cell_deg = 4
""")
    return path


def test_plan_cuts_the_real_recordings_into_two_regions_of_about_equal_traffic(tmp_path, shared_data, capsys):
    """The AIS recording (24,688 updates in Danish waters; the SBS-1 one has no positions) in
    cells of 1 degree: two regions within 10 points of half each, fewer records per update than
    hashed cells, and the printed [scale] lines load as a worker's settings."""
    config = _config(tmp_path / "c.toml", shared_data)
    assert main(["scale", "plan", "-c", str(config), "--cell-deg", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("24,688 track updates, 2 partitions, cells of 1 degrees"), out
    per_update = {line.split(":")[0]: float(line.split(": ")[1].split()[0])
                  for line in out.splitlines() if "records judged per update" in line}
    assert per_update["regions"] < per_update["hashed cells"], out
    shares = [float(line.split()[3].rstrip("%")) for line in out.splitlines()[2:4]]
    assert all(40.0 <= s <= 60.0 for s in shares), out
    toml = out.split("# every worker's configuration:\n", 1)[1]
    cuts = json.loads(toml.split("region_cuts = ", 1)[1])
    worker = tmp_path / "worker.toml"
    worker.write_text(toml)
    settings = load_settings(worker)
    assert settings.scale.region_cuts == tuple(cuts) and settings.scale.cell_deg == 1.0
    assert CellGrid(1.0, tuple(cuts)).partitions(np.array([0]), 2).size == 1


def test_plan_needs_recordings(tmp_path, shared_data, capsys):
    extra = '\n[[feeds]]\nname = "live"\nformat = "ais-nmea"\ntransport = "udp"\nport = 10110\n'
    config = _config(tmp_path / "c.toml", shared_data, extra)
    assert main(["scale", "plan", "-c", str(config)]) == 2
    assert "scale plan: needs recordings: every feed a file (not live)" in capsys.readouterr().err
    files_only = _config(tmp_path / "files.toml", shared_data)
    assert main(["scale", "plan", "-c", str(files_only), "--partitions", "0"]) == 2
    assert "scale.partitions" in capsys.readouterr().err
