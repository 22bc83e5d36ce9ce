"""The archive on disk: hour partitions of GeoParquet files, written atomically, read back by time.

Layout (hive partitioning: any Parquet reader can query the folders)::

    ARCHIVE/
      tracks/hour=2026-03-10T10/part-<run_id>-000001.parquet
      events/hour=2026-03-10T10/part-...
      deadletters/hour=2026-03-10T10/part-...
      zones/part-<run_id>-000001.parquet       (no hour: a run's zones, with their stream positions)
      runs/<run_id>.json                       (when, which closewatch, which settings; no secrets)

The hour is the UTC hour of the row's data time (``t_s``). ``run_id`` starts with the UTC
start time of the run (``20261202T101500Z-3fa2c1``): sorting by it sorts the runs in time.

A part file is written to a hidden temporary name (``.part-....parquet.tmp``, which Parquet
readers skip), fsynced, renamed into place and the folder fsynced: a reader never sees a
partial file, and once the rename is done the file survives a crash. Rows are sorted by a
Z-order (Morton) key of their position and written in row groups of ``_ROW_GROUP`` rows, so
the ``bbox`` column's statistics let readers skip row groups outside a box.
"""

from __future__ import annotations

import calendar
import json
import logging
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from closewatch.archive.errors import ArchiveError, ArchiveFileError, ArchiveNotFoundError
from closewatch.archive.schema import SCHEMAS, TABLES, geo_metadata, geometry_types, with_positions
from config.durable import fsync_dir

__all__ = ["HOURLY", "Archive", "RunRecord", "hour_key", "hour_of", "locate_archive", "new_run_id", "write_table_file"]

log = logging.getLogger(__name__)

HOURLY = ("tracks", "events", "deadletters")  # the tables partitioned by hour
_HOUR_FMT = "%Y-%m-%dT%H"
_HOUR_DIR = re.compile(r"^hour=(\d{4}-\d{2}-\d{2}T\d{2})$")
_PART = re.compile(r"^part-(?P<run>.+)-(?P<n>\d{6})\.parquet$")
_ROW_GROUP = 65_536
_COMPRESSION = "zstd"


def _writer_options(schema: pa.Schema) -> dict[str, Any]:
    """Parquet writer options of a table: zstd, statistics, and dictionary encoding for the text
    columns alone. Positions, times and boxes are almost all distinct: Arrow would fill a
    dictionary page with them before falling back to plain encoding, which made a tracks part
    about twice as dear to write and a fifth larger."""
    text = [f.name for f in schema if pa.types.is_string(f.type)
            or (pa.types.is_list(f.type) and pa.types.is_string(f.type.value_type))]
    return {"compression": _COMPRESSION, "write_statistics": True, "use_dictionary": text}


def new_run_id(now_s: float | None = None, label: str = "") -> str:
    """``20261202T101500Z-3fa2c1`` (``label`` inserted before the random part: ``...Z-import-3fa2c1``)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now_s is None else now_s))
    return f"{stamp}-{label + '-' if label else ''}{secrets.token_hex(3)}"


def hour_of(t_s: float) -> int:
    """The UTC hour number (hours since the epoch) of a data time."""
    return int(t_s // 3600)


def hour_key(hour: int) -> str:
    """``2026-03-10T10``: the partition value of an hour number."""
    return time.strftime(_HOUR_FMT, time.gmtime(hour * 3600))


def _hour_of_key(key: str) -> int:
    return calendar.timegm(time.strptime(key, _HOUR_FMT)) // 3600


def _morton(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """A Z-order key of positions (16 bits per axis): nearby positions get nearby keys."""
    x = np.clip((lon + 180.0) / 360.0 * 65535.0, 0, 65535).astype(np.uint64)
    y = np.clip((lat + 90.0) / 180.0 * 65535.0, 0, 65535).astype(np.uint64)

    def spread(v: np.ndarray) -> np.ndarray:
        v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF)
        v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F)
        v = (v | (v << np.uint64(2))) & np.uint64(0x33333333)
        return (v | (v << np.uint64(1))) & np.uint64(0x55555555)

    key: np.ndarray = spread(x) | (spread(y) << np.uint64(1))
    return key


@dataclass(frozen=True)
class RunRecord:
    """What ``runs/<run_id>.json`` says about one run (or one import)."""

    run_id: str
    started_s: float
    kind: str  # "run", "demo", "import", "report"
    closewatch_version: str
    settings: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "started_s": self.started_s, "kind": self.kind,
                "closewatch_version": self.closewatch_version, "settings": self.settings}


def write_table_file(path: Path, table_name: str, table: pa.Table) -> Path:
    """One (Geo)Parquet file of a ``table_name`` table at ``path``: rows of tracks in Z-order, the
    GeoParquet metadata, zstd; written durably (:func:`_write_durably`). A tracks table may come
    without the columns derived from the position (``schema.tracks_rows``): they are added after
    the sort, which then moves fewer columns."""
    if table_name == "tracks" and table.num_rows > 1:
        lon = table.column("lon_deg").to_numpy()
        lat = table.column("lat_deg").to_numpy()
        table = table.take(pa.array(np.argsort(_morton(lon, lat), kind="stable")))
    if table_name == "tracks" and "geometry" not in table.column_names:
        table = with_positions(table)
    metadata = dict(table.schema.metadata or {})
    if table_name != "deadletters":
        metadata[b"geo"] = json.dumps(geo_metadata(table, geometry_types(table_name, table))).encode()
    table = table.replace_schema_metadata(metadata)
    return _write_durably(path, lambda f: pq.write_table(table, f, row_group_size=_ROW_GROUP,
                                                         **_writer_options(table.schema)))


def _write_durably(path: Path, write: Callable[[BinaryIO], None]) -> Path:
    """``write`` into a hidden temporary name beside ``path``, fsynced, renamed to ``path``, the
    folder fsynced: a reader sees the whole file or none."""
    folder = path.parent
    tmp = folder / f".{path.name}.tmp"
    try:
        with tmp.open("wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(folder)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def merge_table_files(path: Path, table_name: str, parts: Sequence[Path]) -> Path:
    """The part files ``parts`` of a ``table_name`` table copied, in their order, into one file at
    ``path``, one part in memory at a time: each part keeps its own row order (tracks: Z-order per
    part), the ``geo`` metadata covers them all (the union of their bounding boxes and geometry
    types). Written durably (:func:`_write_durably`)."""
    schema = SCHEMAS[table_name]
    geo: dict[str, Any] | None = None
    for part in parts:
        meta = pq.read_schema(part).metadata or {}
        if b"geo" not in meta:
            continue
        part_geo = json.loads(meta[b"geo"])
        if geo is None:
            geo = part_geo
            continue
        column, other = geo["columns"]["geometry"], part_geo["columns"]["geometry"]
        column["geometry_types"] = sorted(set(column["geometry_types"]) | set(other["geometry_types"]))
        if "bbox" in other:
            box = column.get("bbox")
            column["bbox"] = other["bbox"] if box is None else [
                min(box[0], other["bbox"][0]), min(box[1], other["bbox"][1]),
                max(box[2], other["bbox"][2]), max(box[3], other["bbox"][3])]
    metadata = dict(schema.metadata or {})
    if geo is not None:
        metadata[b"geo"] = json.dumps(geo).encode()
    schema = schema.with_metadata(metadata)

    def copy(f: BinaryIO) -> None:
        with pq.ParquetWriter(f, schema, **_writer_options(schema)) as writer:
            for part in parts:
                writer.write_table(pq.read_table(part).cast(schema), row_group_size=_ROW_GROUP)

    return _write_durably(path, copy)


class Archive:
    """An archive folder: write parts, read tables by time, keep it within its retention."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # -- paths ------------------------------------------------------------------------------

    def table_dir(self, table: str) -> Path:
        if table not in TABLES:
            raise ArchiveError(f"no table {table!r} in an archive (tables: {', '.join(TABLES)})")
        return self.root / table

    def exists(self) -> bool:
        """The folder holds an archive (a table's folder, or the run records)."""
        return any((self.root / t).is_dir() for t in (*TABLES, "runs"))

    def require(self) -> "Archive":
        """This archive, or :class:`ArchiveNotFoundError` when the folder holds none."""
        if not self.exists():
            raise ArchiveNotFoundError(f"{self.root}: no archive here (no {', '.join(t + '/' for t in TABLES)})")
        return self

    def hours(self, table: str) -> list[int]:
        """The hour numbers that have a partition folder, in order."""
        d = self.table_dir(table)
        if not d.is_dir():
            return []
        out = []
        for child in d.iterdir():
            m = _HOUR_DIR.match(child.name)
            if m and child.is_dir():
                out.append(_hour_of_key(m.group(1)))
        return sorted(out)

    def part_files(self, table: str, hours: Iterable[int] | None = None) -> list[Path]:
        """The part files of ``table`` (of the given hours), in name order."""
        d = self.table_dir(table)
        if table not in HOURLY:
            return sorted(d.glob("part-*.parquet")) if d.is_dir() else []
        wanted = self.hours(table) if hours is None else hours
        files: list[Path] = []
        for h in wanted:
            folder = d / f"hour={hour_key(h)}"
            if folder.is_dir():
                files.extend(sorted(folder.glob("part-*.parquet")))
        return files

    def _next_part(self, folder: Path, run_id: str) -> Path:
        n = 0
        for p in folder.glob(f"part-{run_id}-*.parquet"):
            m = _PART.match(p.name)
            if m and m.group("run") == run_id:
                n = max(n, int(m.group("n")))
        return folder / f"part-{run_id}-{n + 1:06d}.parquet"

    # -- writing ----------------------------------------------------------------------------

    def write_part(self, table_name: str, table: pa.Table, run_id: str, hour: int | None = None) -> Path:
        """Write one part file of ``table_name`` (atomically, fsynced); returns its path."""
        folder = self.table_dir(table_name)
        if table_name in HOURLY:
            if hour is None:
                raise ArchiveError(f"a part of {table_name} needs its hour")
            folder = folder / f"hour={hour_key(hour)}"
        folder.mkdir(parents=True, exist_ok=True)
        return write_table_file(self._next_part(folder, run_id), table_name, table)

    def write_run(self, record: RunRecord) -> Path:
        folder = self.root / "runs"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{record.run_id}.json"
        tmp = folder / f".{path.name}.tmp"
        tmp.write_text(json.dumps(record.to_json(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path

    def runs(self) -> list[RunRecord]:
        """The run records, oldest first (unreadable ones are logged and left out)."""
        folder = self.root / "runs"
        out = []
        for p in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                d = json.loads(p.read_text(encoding="utf-8"))
                out.append(RunRecord(d["run_id"], float(d["started_s"]), d["kind"], d["closewatch_version"],
                                     d.get("settings")))
            except (OSError, ValueError, KeyError, TypeError) as e:
                log.warning("%s: run record not used: %s", p, e)
        return sorted(out, key=lambda r: r.run_id)

    # -- reading ----------------------------------------------------------------------------

    def read(
        self,
        table_name: str,
        start_s: float | None = None,
        end_s: float | None = None,
        *,
        columns: Sequence[str] | None = None,
        errors: list[ArchiveFileError] | None = None,
        files: Sequence[Path] | None = None,
        where: Sequence[tuple[str, str, Any]] = (),
    ) -> pa.Table:
        """Rows of ``table_name`` with ``start_s <= t_s < end_s`` (zones: every row), sorted by
        run and arrival, without the duplicates a crash during compaction can leave.

        ``where``: more row filters (``("event_id", "=", "...")``, pyarrow's form). A file that
        cannot be read is skipped: it is appended to ``errors`` when given, else
        :class:`ArchiveFileError` is raised naming it.
        """
        schema = SCHEMAS[table_name]
        if files is None:
            hours = None
            if table_name in HOURLY and (start_s is not None or end_s is not None):
                have = self.hours(table_name)
                lo = hour_of(start_s) if start_s is not None else (have[0] if have else 0)
                hi = hour_of(end_s) if end_s is not None else (have[-1] if have else -1)
                hours = [h for h in have if lo <= h <= hi]
            files = self.part_files(table_name, hours)
        filters: list[tuple[str, str, Any]] = list(where)
        if table_name in HOURLY:
            if start_s is not None:
                filters.append(("t_s", ">=", start_s))
            if end_s is not None:
                filters.append(("t_s", "<", end_s))
        cols = list(columns) if columns is not None else None
        if cols is not None:
            cols = list(dict.fromkeys(["run_id", "arrival", *cols]))
        parts = []
        for path in files:
            try:
                part = pq.read_table(path, columns=cols, filters=filters or None)
                wanted = schema if cols is None else pa.schema([schema.field(c) for c in cols])
                if not part.schema.remove_metadata().equals(wanted):
                    missing = [f.name for f in wanted if f.name not in part.schema.names]
                    raise ArchiveFileError(path, f"not a closewatch {table_name} file (columns missing or of "
                                                 f"another type: {', '.join(missing) or 'types differ'})")
                parts.append(part.replace_schema_metadata(None))
            except ArchiveFileError as e:
                self._file_failed(e, errors)
            except (pa.ArrowException, OSError, ValueError) as e:
                self._file_failed(ArchiveFileError(path, f"unreadable: {e}"), errors)
        empty = schema if cols is None else pa.schema([schema.field(c) for c in cols])
        table = pa.concat_tables(parts) if parts else empty.empty_table()
        if table.num_rows == 0:
            return table
        table = _by_run_and_arrival(table)
        run = table.column("run_id")
        arrival = table.column("arrival")
        same = pc.and_(pc.equal(run.slice(1), run.slice(0, table.num_rows - 1)),
                       pc.equal(arrival.slice(1), arrival.slice(0, table.num_rows - 1)))
        if table_name != "zones" and pc.any(same).as_py():
            keep = pa.concat_arrays([pa.array([True]), pc.invert(same.combine_chunks())])
            table = table.filter(keep)
        return table

    @staticmethod
    def _file_failed(error: ArchiveFileError, errors: list[ArchiveFileError] | None) -> None:
        if errors is None:
            raise error
        log.error("archive file skipped: %s", error)
        errors.append(error)

    def data_range(self, table_name: str = "tracks") -> tuple[float, float] | None:
        """The first and last data time of ``table_name``, or None when it is empty."""
        hours = self.hours(table_name)
        if not hours:
            return None
        first = self.read(table_name, hours[0] * 3600.0, (hours[0] + 1) * 3600.0, columns=["t_s"], errors=[])
        last = self.read(table_name, hours[-1] * 3600.0, (hours[-1] + 1) * 3600.0, columns=["t_s"], errors=[])
        if first.num_rows == 0 or last.num_rows == 0:
            return None
        return float(pc.min(first.column("t_s")).as_py()), float(pc.max(last.column("t_s")).as_py())

    # -- keeping it tidy ----------------------------------------------------------------------

    def apply_retention(self, retention_days: float | None, newest_hour: int | None = None) -> list[Path]:
        """Delete whole hour partitions more than ``retention_days`` older than the newest hour
        (the data clock: an imported old recording is not deleted for being old). Returns the
        folders deleted."""
        if retention_days is None:
            return []
        newest = newest_hour
        if newest is None:
            every = [h for t in HOURLY for h in self.hours(t)]
            if not every:
                return []
            newest = max(every)
        cutoff = newest + 1 - retention_days * 24.0  # an hour goes once all of it is older
        gone = []
        for t in HOURLY:
            for h in self.hours(t):
                if h + 1 <= cutoff:
                    folder = self.table_dir(t) / f"hour={hour_key(h)}"
                    shutil.rmtree(folder, ignore_errors=True)
                    gone.append(folder)
        if gone:
            log.info("archive retention (%g days): deleted %d hour partitions", retention_days, len(gone))
        return gone

    def compact(self, table_name: str, run_id: str, hour: int | None = None, *,
                below_rows: int | None = None) -> Path | None:
        """Merge the run's part files of one partition (those under ``below_rows`` rows, when
        given: large parts stay as they are) into one file, then delete them.

        The parts are copied one after another, one in memory at a time (an hour of a busy run
        is millions of rows). The merged file is durable before the small ones go; a crash in
        between leaves both, and :meth:`read` drops the duplicate rows (same run and arrival).
        """
        folder = self.table_dir(table_name)
        if table_name in HOURLY:
            if hour is None:
                raise ArchiveError(f"compacting {table_name} needs the hour")
            folder = folder / f"hour={hour_key(hour)}"
        parts = [p for p in sorted(folder.glob(f"part-{run_id}-*.parquet"))
                 if (m := _PART.match(p.name)) and m.group("run") == run_id]
        if below_rows is not None:
            parts = [p for p in parts if pq.read_metadata(p).num_rows < below_rows]
        if len(parts) < 2:
            return None
        merged = merge_table_files(self._next_part(folder, run_id), table_name, parts)
        for p in parts:
            p.unlink(missing_ok=True)
        fsync_dir(folder)
        return merged


def locate_archive(explicit: str | Path | None = None, config: str | Path | None = None,
                   cwd: str | Path | None = None) -> Archive:
    """The archive to read: ``explicit`` (``--archive``), else the ``[archive] path`` of ``config``
    (or of ``closewatch.toml`` in the current folder), else ``closewatch-archive/`` or
    ``archive/`` in the current folder, else the current folder itself. Raises
    :class:`ArchiveNotFoundError` listing where it looked (a bad configuration raises
    ``config.settings.ConfigError``)."""
    from config.settings import load_settings

    here = Path.cwd() if cwd is None else Path(cwd)
    if explicit is not None:
        return Archive(explicit).require()
    tried: list[Path] = []
    cfg = Path(config) if config is not None else (here / "closewatch.toml")
    if config is not None or cfg.is_file():
        path = Path(load_settings(cfg).archive.path)
        path = path if path.is_absolute() else here / path
        tried.append(path)
        if Archive(path).exists():
            return Archive(path)
    for candidate in (here / "closewatch-archive", here / "archive", here):
        tried.append(candidate)
        if Archive(candidate).exists():
            return Archive(candidate)
    raise ArchiveNotFoundError(
        f"no archive found (looked in {', '.join(str(p) for p in dict.fromkeys(tried))}); name one with --archive DIR"
    )


def _by_run_and_arrival(table: pa.Table) -> pa.Table:
    """``table`` sorted by run and arrival (stable), as ``sort_by`` would, with the order found in
    numpy on small integer codes and no copy when the rows are in order already (a replay reads
    millions of rows of one run; part files are in Morton order, so they are not)."""
    run = table.column("run_id").combine_chunks()
    arrival = table.column("arrival").combine_chunks()
    if run.null_count or arrival.null_count:
        return table.sort_by([("run_id", "ascending"), ("arrival", "ascending")])
    coded = run.dictionary_encode()
    names = coded.dictionary.to_pylist()
    rank = np.argsort(np.argsort(np.array(names, object), kind="stable"), kind="stable")
    runs = rank[coded.indices.to_numpy()]
    arrivals = arrival.to_numpy()
    same_run = runs[1:] == runs[:-1]
    if np.all((runs[1:] > runs[:-1]) | (same_run & (arrivals[1:] >= arrivals[:-1]))):
        return table
    return table.take(pa.array(np.lexsort((arrivals, runs))))
