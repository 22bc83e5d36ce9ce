"""`closewatch run --serve-map`: the pipeline feeds its own live map, no Kafka needed."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request

from closewatch.scenario.baltic import write_scenario


def test_run_serves_the_live_map_of_its_own_pipeline(tmp_path):
    paths = write_scenario(tmp_path)
    config = paths["config"].read_text().replace("[map]", "[map]\nport = 0")
    paths["config"].write_text(config)
    proc = subprocess.Popen(
        [sys.executable, "-m", "closewatch", "run", "-c", str(paths["config"]), "--serve-map"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()  # type: ignore[union-attr]
            assert line, f"closewatch run ended early: {proc.stdout.read()}"  # type: ignore[union-attr]
            m = re.search(r"live map at (http://127\.0\.0\.1:\d+/)", line)
            url = m.group(1) if m else None
        assert url, "no live map URL printed"
        # The replay runs as fast as possible; once it has ended the map holds its final picture.
        while time.monotonic() < deadline:
            status = json.loads(urllib.request.urlopen(url + "api/status", timeout=5).read())
            if status["data_time"] == "2026-03-10T10:40:00Z":
                break
            time.sleep(0.2)
        assert status["data_time"] == "2026-03-10T10:40:00Z"
        tracks = json.loads(urllib.request.urlopen(url + "api/tracks", timeout=5).read())
        live = {f["properties"]["id"] for f in tracks["features"]}
        # At the end the patrol ships, the ferry and the Il-20 are still reporting; the Mi-8
        # (last report T0+1500 s) and the Eurofighter (T0+2100 s) have gone stale.
        assert {"ais:273456780", "ais:230987650", "ais:276543210", "icao:154a2c"} <= live
        assert "icao:1515b7" not in live
        zones = json.loads(urllib.request.urlopen(url + "api/zones", timeout=5).read())
        assert any(f["properties"]["id"] == "zone:border:RU-EE:10km" for f in zones["features"])
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "dead letters: 3" in out
