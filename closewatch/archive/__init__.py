"""The archive: every normalised track update, event revision and dead letter of closewatch runs,
as GeoParquet 1.1 files partitioned by UTC hour, with no server (docs/archive.md).

* :class:`ArchiveSink` - the archive as one more sink of a run (a writer thread, bounded queue);
* :class:`Archive` - the folder: write parts, read tables by time, retention, compaction;
* :mod:`closewatch.archive.schema` - the tables and their GeoParquet metadata;
* :mod:`closewatch.archive.importer` - fill it from feed recordings, JSON Lines files, Kafka.
"""

from closewatch.archive.errors import ArchiveError, ArchiveFileError, ArchiveNotFoundError, ArchiveWriteError
from closewatch.archive.sink import ArchiveSink
from closewatch.archive.store import Archive, RunRecord

__all__ = [
    "Archive",
    "ArchiveError",
    "ArchiveFileError",
    "ArchiveNotFoundError",
    "ArchiveSink",
    "ArchiveWriteError",
    "RunRecord",
]
