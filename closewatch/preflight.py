"""Everything a command checks before it opens a feed, in one function.

``closewatch config check`` and ``closewatch run`` both call :func:`load_checked`, so a
file that passes the check does not then stop ``run`` (and ``map serve`` calls it for
what it uses). Past the settings schema (:mod:`config.settings`: types, ranges, finite
numbers, regular expressions, ICAO addresses), it checks what the schema cannot see:

* feed files (``file``: the file or folder exists and is readable; ``follow``: the
  folder of a file not there yet exists), Kafka feeds have a cluster;
* zone files: the catalogue and every custom zone file load (:func:`config.zones.load_catalogue`);
* the affiliation tables load with the ``[sides]`` overrides;
* TLS files: the Kafka client's CA, certificate and key, and the map server's
  certificate and key load into a TLS context (a wrong password or a key that does
  not match its certificate is found here);
* the output files and folders of a run (JSON Lines sinks without Kafka, the spool, the
  state folder of Kafka-fed runs) can be created.

Every problem is reported, each with its key path, as :class:`~config.settings.ConfigError`
(exit code 2). Relative paths are taken from the working directory, as the run takes them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from config.settings import ConfigError, Settings, load_settings
from config.tlsfiles import TlsFileError, check_client_files, server_context

__all__ = ["check_settings", "load_checked"]


def load_checked(path: str | Path | None, *, run: bool = True) -> Settings:
    """The settings of ``path`` (None: the embedded defaults), checked by :func:`check_settings`."""
    settings = load_settings(path)
    check_settings(settings, str(path) if path is not None else "(defaults)", run=run)
    return settings


def check_settings(settings: Settings, source: str, *, run: bool = True) -> None:
    """Raise :class:`ConfigError` listing every problem of ``settings`` that the schema cannot
    see. ``run=False`` (``map serve``) leaves out the feeds and a run's output files."""
    problems: list[str] = []
    if run:
        problems += _feed_problems(settings)
        problems += _output_problems(settings)
    problems += _zone_problems(settings)
    problems += _affiliation_problems(settings)
    problems += _kafka_tls_problems(settings)
    problems += _map_tls_problems(settings)
    if problems:
        raise ConfigError("\n  ".join([f"{source}: invalid configuration", *problems]))


def _feed_problems(settings: Settings) -> list[str]:
    problems = []
    for i, feed in enumerate(settings.feeds):
        key = f"feeds.{i}"
        if feed.transport == "file" and feed.path is not None:
            p = Path(feed.path)
            if not p.exists():
                problems.append(f"{key}.path: {feed.path}: no such file or folder")
            elif not os.access(p, os.R_OK | (os.X_OK if p.is_dir() else 0)):
                problems.append(f"{key}.path: {feed.path}: not readable (permission denied)")
        elif feed.transport == "follow" and feed.path is not None:
            p = Path(feed.path)
            if p.is_dir():
                problems.append(f"{key}.path: {feed.path}: is a folder; follow reads one file")
            elif p.exists():
                if not os.access(p, os.R_OK):
                    problems.append(f"{key}.path: {feed.path}: not readable (permission denied)")
            elif not p.absolute().parent.is_dir():
                problems.append(f"{key}.path: {feed.path}: no folder {p.absolute().parent} (a file not there "
                                "yet is waited for, in a folder that exists)")
        elif feed.transport == "kafka" and feed.bootstrap_servers is None and settings.kafka is None:
            problems.append(f"{key}: transport 'kafka' needs bootstrap_servers (or a [kafka] section)")
    return problems


def _creatable(path: str, *, folder: bool) -> str | None:
    """Why ``path`` (a file, or a folder when ``folder``) cannot be created or written, or None.

    Tried for real (a temporary file in the nearest existing folder, removed at once):
    permission bits say nothing for root or a read-only file system."""
    p = Path(path).absolute()
    if p.exists():
        if folder and not p.is_dir():
            return f"{path}: exists and is not a folder"
        if not folder and p.is_dir():
            return f"{path}: is a folder, not a file"
    where = p if p.is_dir() else p.parent
    while not where.exists():
        where = where.parent
    if not where.is_dir():
        return f"{path}: {where} is not a folder"
    try:
        with tempfile.TemporaryFile(dir=where, prefix=".closewatch-check-"):
            pass
    except OSError as e:
        return f"{path}: cannot write in {where}: {e.strerror or e}"
    if p.is_file() and not os.access(p, os.W_OK):
        return f"{path}: not writable (permission denied)"
    return None


def _output_problems(settings: Settings) -> list[str]:
    outputs: list[tuple[str, str | None, bool]] = []
    if settings.kafka is None:
        s = settings.sinks
        outputs += [("sinks.events_jsonl", s.events_jsonl, False), ("sinks.deadletter_jsonl", s.deadletter_jsonl, False),
                    ("sinks.tracks_jsonl", s.tracks_jsonl, False)]
    else:
        outputs.append(("kafka.spool_dir", settings.kafka.spool_dir, True))
    if any(f.transport == "kafka" for f in settings.feeds):
        outputs.append(("pipeline.state_dir", settings.pipeline.state_dir, True))
    problems = []
    for key, path, folder in outputs:
        why = _creatable(path, folder=folder) if path else None
        if why:
            problems.append(f"{key}: {why}")
    return problems


def _zone_problems(settings: Settings) -> list[str]:
    from config.zones import ZoneCatalogueError, load_catalogue

    try:
        load_catalogue(settings.zones)
    except ZoneCatalogueError as e:
        return [f"zones: {e}"]
    return []


def _affiliation_problems(settings: Settings) -> list[str]:
    from config.affiliation import Affiliation, AffiliationError

    try:
        Affiliation(settings.sides)
    except AffiliationError as e:
        return [f"sides: {e}"]
    return []


def _kafka_tls_problems(settings: Settings) -> list[str]:
    k = settings.kafka
    if k is None or k.security_protocol not in ("SSL", "SASL_SSL"):
        return []
    try:
        check_client_files(k.ssl_cafile, k.ssl_certfile, k.ssl_keyfile, k.ssl_key_password)
    except TlsFileError as e:
        return [f"kafka.ssl_{e.role}: {e}"]
    return []


def _map_tls_problems(settings: Settings) -> list[str]:
    m = settings.map
    if m.tls_certfile is None or m.tls_keyfile is None:
        return []
    try:
        server_context(m.tls_certfile, m.tls_keyfile, m.tls_key_password)
    except TlsFileError as e:
        return [f"map.tls_{e.role}: {e}"]
    return []
