"""Checkpoints of a Kafka-fed run: the engine's state with the input positions it matches.

Written only after the sinks acknowledged every event the engine produced up to
that point, then the input offsets are committed. A restart (even after
``kill -9``) restores the engine and reads the input from the checkpoint's
positions: the events it makes again are the same revisions (same
``event_id``/``seq``), so the union of events equals a clean run's.

The file is a pickle written atomically (temporary file, fsync, rename, fsync of
the folder). It is closewatch's own state in closewatch's own folder; never load
a checkpoint from elsewhere. A checkpoint is tied to the settings that shape the
engine (proximity and zones), and to the fields of the records it holds: with
other settings, or after the records changed, it is set aside, with a warning,
and the run starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from config.records import TrackUpdate, Zone
from config.settings import Settings
from ingest.positions import Positions

__all__ = ["Checkpoint", "CheckpointStore"]

log = logging.getLogger(__name__)

_FORMAT = 2  # 2: the engine of event families (proximity.families)


@dataclass
class Checkpoint:
    engine: Any
    positions: dict[str, Positions]  # feed name -> (topic, partition) -> next offset


class CheckpointStore:
    """One checkpoint file per set of Kafka feeds (topic and consumer group) in ``state_dir``."""

    def __init__(self, settings: Settings) -> None:
        feeds = sorted((f.name, f.topic or "", f.group_id or "") for f in settings.feeds if f.transport == "kafka")
        name = hashlib.sha256(json.dumps(feeds).encode()).hexdigest()[:16]
        self.path = Path(settings.pipeline.state_dir) / f"checkpoint-{name}.pickle"
        shape = {
            "proximity": settings.proximity.model_dump(mode="json"),
            "zones": settings.zones.model_dump(mode="json"),
            # The engine keeps records by reference: a pickle of other fields would not load right.
            "records": {r.__name__: [f.name for f in fields(r)] for r in (TrackUpdate, Zone)},
        }
        self._fingerprint = hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()

    def load(self) -> Checkpoint | None:
        try:
            with self.path.open("rb") as f:
                saved = pickle.load(f)
        except FileNotFoundError:
            return None
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as e:
            log.warning("checkpoint %s unreadable (%s): starting afresh", self.path, e)
            return None
        if saved.get("format") != _FORMAT or saved.get("fingerprint") != self._fingerprint:
            log.warning(
                "checkpoint %s was made with other proximity/zone settings or records: starting afresh", self.path
            )
            return None
        return Checkpoint(engine=saved["engine"], positions=saved["positions"])

    def save(self, engine: Any, positions: dict[str, Positions]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        blob = pickle.dumps(
            {"format": _FORMAT, "fingerprint": self._fingerprint, "engine": engine, "positions": positions},
            protocol=pickle.HIGHEST_PROTOCOL,
        )
        with tmp.open("wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
