"""The real DMA AIS recording (Danish straits, five minutes) as the engine tests take it."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from config.records import TrackUpdate
from config.settings import Settings
from ingest import open_feed

# short memory: a ship silent for 2 min goes stale, one silent for 3 min is forgotten
SHORT_MEMORY = {"stale_after_s": {"air": 60.0, "sea": 120.0, "land": 120.0}, "forget_after_s": 60.0}


def dma_run(shared_data: Path, proximity: dict[str, Any]) -> tuple[Settings, list[TrackUpdate]]:
    """Settings reading the recording with every incident raised (``all-traffic``) and the
    ``[proximity]`` section given, and the recording's reports."""
    path = shared_data / "ais" / "dma_aisabnormal_ais-sample.txt.gz"
    settings = Settings.model_validate({
        "feeds": [{"name": "dma", "format": "ais-nmea", "transport": "file", "path": str(path)}],
        "rules": {"profile": "all-traffic"},
        "proximity": proximity,
    })
    reports = [u for u in open_feed(settings.feeds[0], settings.sides, stop=threading.Event(), kafka=settings.kafka)
               if isinstance(u, TrackUpdate)]
    return settings, reports
