"""Checkpoints of a Kafka-fed run: the engine's state with the input positions it matches.

Written only after the sinks acknowledged every event the engine produced up to
that point, then the input offsets are committed. A restart (even after
``kill -9``) restores the engine and reads the input from the checkpoint's
positions: the events it makes again are the same revisions (same
``event_id``/``seq``), so the union of events equals a clean run's.

The file cannot run code. It is a ``.npz`` (a zip of numpy ``.npy`` arrays,
stored uncompressed) holding the engine's exported state
(``proximity.state``): its arrays, read with ``allow_pickle=False`` (only
numbers, booleans and bytes), and ``checkpoint.json``,
``{"body": <document>, "sha256": "<hex>"}``: the document holds the format
version, the settings fingerprint, the input positions and the engine's
document; the SHA-256 covers the document's bytes and every array (name,
dtype, shape, bytes). It is written atomically: temporary file, fsync, rename,
fsync of the folder.

It is read only from a ``state_dir`` that is a real folder (not a symbolic
link) owned by the user running closewatch and not writable by everyone
(created ``0700`` when missing), and only if the file itself is a regular file
owned by that user and not writable by everyone. A folder or file that fails these checks, and a file that
is not a checkpoint of this format or fails its checksum (planted, tampered
with, damaged), stops the run with :class:`CheckpointError` (exit code 2,
docs/operations.md): a checkpoint closewatch did not write means someone else
writes in its state folder, which an operator must see. A checkpoint made with
other proximity or zone settings, of another format version, or of an engine
whose state no longer fits (the records changed), is set aside with a
warning and the run starts afresh from the consumer group's committed offsets.
A pickle checkpoint of an earlier closewatch (``checkpoint-*.pickle``) is never
opened; a warning names it.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import stat
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, Any, Callable, Mapping, Sequence

import numpy as np

from config.durable import fsync_dir
from config.records import TrackUpdate, Zone
from config.settings import Settings
from ingest.positions import Positions
from proximity.engine import Engine
from proximity.rules import Rules
from proximity.state import EngineState, StateError

__all__ = ["Checkpoint", "CheckpointError", "CheckpointStore", "check_state_dir", "read_state_file",
           "settings_fingerprint", "state_bytes", "state_from_bytes", "write_state_file"]

log = logging.getLogger(__name__)

_FORMAT = 3  # 3: the engine's exported state in a .npz (2: a pickle of the engine of event families)
_DOC = "checkpoint.json"
_MAX_DOC_BYTES = 256 * 1024 * 1024
_ARRAY_KINDS = frozenset("biuf")


class CheckpointError(Exception):
    """A checkpoint or its folder is refused: not ours, not safe, or not a checkpoint."""


@dataclass
class Checkpoint:
    engine: Engine
    positions: dict[str, Positions]  # feed name -> (topic, partition) -> next offset


def _digest(body: bytes, arrays: Mapping[str, np.ndarray]) -> str:
    h = hashlib.sha256(body)
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes() if a.size < 1 << 20 else memoryview(a).cast("B"))  # type: ignore[arg-type]
    return h.hexdigest()


# checkpoint.json is exactly  {"body":<the document>,"sha256":"<64 hex digits>"}
_HEAD = b'{"body":'
_TAIL = re.compile(rb',"sha256":"([0-9a-f]{64})"}\Z')


def check_state_dir(path: Path, *, create: bool = True) -> Path:
    """``path`` as a safe state folder: a real folder owned by this user, not writable by everyone.

    Created (mode 0700) when missing and ``create``. Raises :class:`CheckpointError`.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if not create:
            raise CheckpointError(f"state_dir {path} does not exist") from None
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = os.lstat(path)
        except OSError as e:
            raise CheckpointError(f"state_dir {path}: cannot create it: {e}") from e
    except OSError as e:
        raise CheckpointError(f"state_dir {path}: {e}") from e
    if stat.S_ISLNK(st.st_mode):
        raise CheckpointError(f"state_dir {path} is a symbolic link: give the real folder")
    if not stat.S_ISDIR(st.st_mode):
        raise CheckpointError(f"state_dir {path} is not a folder")
    if st.st_uid != os.geteuid():
        raise CheckpointError(f"state_dir {path} is owned by uid {st.st_uid}, not by the user running closewatch "
                              f"(uid {os.geteuid()}): refusing to read or write checkpoints there")
    if st.st_mode & stat.S_IWOTH:
        raise CheckpointError(f"state_dir {path} is writable by everyone (mode {stat.S_IMODE(st.st_mode):04o}): "
                              f"refusing to read checkpoints there; make it private (chmod 700 {path})")
    return path


def state_bytes(doc: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> bytes:
    """``doc`` and ``arrays`` as one ``.npz`` with the checksum (see module doc)."""
    body = json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    text = _HEAD + body + b',"sha256":"' + _digest(body, arrays).encode() + b'"}'
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(_DOC, text)
        for name, arr in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)
    return out.getvalue()


def write_state_file(path: Path, doc: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
    """:func:`state_bytes` written atomically (see module doc)."""
    data = state_bytes(doc, arrays)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def read_state_file(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The document and arrays of a state file, checked (see module doc). Raises
    :class:`CheckpointError`; ``FileNotFoundError`` when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise
    except OSError as e:
        raise CheckpointError(f"checkpoint {path}: cannot open it safely ({e}); it is not a file closewatch wrote") from e
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise CheckpointError(f"checkpoint {path} is not a regular file")
        if st.st_uid != os.geteuid() or st.st_mode & stat.S_IWOTH:
            raise CheckpointError(f"checkpoint {path} is owned by uid {st.st_uid} with mode "
                                  f"{stat.S_IMODE(st.st_mode):04o}: not a file closewatch wrote")
        return _read_state(f, st.st_size, f"checkpoint {path}")


def state_from_bytes(data: bytes, what: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The document and arrays of :func:`state_bytes`, checked; ``what`` names them in a
    :class:`CheckpointError`."""
    return _read_state(io.BytesIO(data), len(data), what)


def _read_state(f: IO[bytes], size: int, what: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    try:
        with zipfile.ZipFile(f) as zf:
            names = zf.namelist()
            infos = {i.filename: i for i in zf.infolist()}
            if _DOC not in infos:
                raise CheckpointError(f"{what}: no {_DOC}: not a closewatch checkpoint")
            if sum(i.file_size for i in infos.values()) > max(size * 2, 1 << 20) \
                    or infos[_DOC].file_size > _MAX_DOC_BYTES:
                raise CheckpointError(f"{what}: its members claim more bytes than the file holds")
            text = zf.read(_DOC)
            arrays: dict[str, np.ndarray] = {}
            for name in names:
                if name == _DOC:
                    continue
                if not name.endswith(".npy"):
                    raise CheckpointError(f"{what}: unexpected member {name!r}")
                with zf.open(name) as member:
                    arr = np.lib.format.read_array(member, allow_pickle=False)
                if arr.dtype.kind not in _ARRAY_KINDS:
                    raise CheckpointError(f"{what}: array {name} of dtype {arr.dtype}")
                arrays[name[: -len(".npy")]] = arr
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, KeyError) as e:
        raise CheckpointError(f"{what} is not a closewatch checkpoint ({type(e).__name__}: {e})") from e
    tail = _TAIL.search(text)
    if not text.startswith(_HEAD) or tail is None:
        raise CheckpointError(f"{what}: no checksum: not a closewatch checkpoint")
    body = text[len(_HEAD) : tail.start()]
    if _digest(body, arrays) != tail.group(1).decode():
        raise CheckpointError(f"{what} fails its SHA-256 checksum: damaged or changed since written")
    try:
        doc = json.loads(body, parse_constant=_no_constant)
    except ValueError as e:
        raise CheckpointError(f"{what}: its document is not JSON: {e}") from e
    if not isinstance(doc, dict):
        raise CheckpointError(f"{what}: its document is not an object")
    return doc, arrays


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def settings_fingerprint(settings: Settings, **more: Any) -> str:
    """What a saved engine state depends on: the proximity and zone settings, the records' fields
    (and ``more``); a state made with another fingerprint is set aside."""
    shape = {
        "proximity": settings.proximity.model_dump(mode="json"),
        "zones": settings.zones.model_dump(mode="json"),
        "records": {r.__name__: [f.name for f in fields(r)] for r in (TrackUpdate, Zone)},
        **more,
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


class CheckpointStore:
    """One checkpoint file per set of Kafka feeds (topic and consumer group) in ``state_dir``."""

    def __init__(self, settings: Settings) -> None:
        feeds = sorted((f.name, f.topic or "", f.group_id or "") for f in settings.feeds if f.transport == "kafka")
        name = hashlib.sha256(json.dumps(feeds).encode()).hexdigest()[:16]
        self.directory = Path(settings.pipeline.state_dir)
        self.path = self.directory / f"checkpoint-{name}.npz"
        self._legacy = self.directory / f"checkpoint-{name}.pickle"
        self._settings = settings
        self._fingerprint = settings_fingerprint(settings)

    def load(
        self,
        *,
        borders: Sequence[Any] = (),
        wall_clock: Callable[[], float] | None = None,
        rules: Rules | None = None,
        land: Any = None,
    ) -> Checkpoint | None:
        """The saved engine and positions; None when there is none or it is set aside (see module doc).

        Raises :class:`CheckpointError` when the folder or the file is refused.
        """
        check_state_dir(self.directory)
        if self._legacy.exists():
            log.warning("%s is a checkpoint of an earlier closewatch (a pickle): never read; remove it", self._legacy)
        try:
            doc, arrays = read_state_file(self.path)
        except FileNotFoundError:
            return None
        if doc.get("format") != _FORMAT or doc.get("fingerprint") != self._fingerprint:
            log.warning(
                "checkpoint %s was made by another version or with other proximity/zone settings or records: "
                "set aside, starting afresh", self.path
            )
            return None
        try:
            positions = {
                feed: {(str(t), int(p)): int(o) for t, p, o in entries} for feed, entries in doc["positions"].items()
            }
            kwargs: dict[str, Any] = {"borders": borders, "rules": rules, "land": land}
            if wall_clock is not None:
                kwargs["wall_clock"] = wall_clock
            engine = Engine.from_state(self._settings.proximity, EngineState(doc["engine"], arrays), **kwargs)
        except StateError as e:
            log.warning("checkpoint %s: the engine's state does not fit this closewatch (%s): set aside, "
                        "starting afresh", self.path, e)
            return None
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise CheckpointError(f"checkpoint {self.path}: positions unreadable: {e}") from e
        return Checkpoint(engine=engine, positions=positions)

    def save(self, engine: Engine, positions: dict[str, Positions]) -> None:
        check_state_dir(self.directory)
        state = engine.state()
        doc = {
            "format": _FORMAT,
            "fingerprint": self._fingerprint,
            "positions": {feed: [[t, p, o] for (t, p), o in sorted(pos.items())] for feed, pos in positions.items()},
            "engine": state.doc,
        }
        write_state_file(self.path, doc, state.arrays)
