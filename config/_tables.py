"""Reading the committed data tables of ``config/data/``: CSV with ``#`` comment lines."""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["csv_rows"]


def csv_rows(path: Path, error: type[Exception], what: str) -> list[dict[str, str]]:
    """The rows of a CSV table whose header comes after its ``#`` comment lines; a file that
    cannot be read raises ``error`` naming it."""
    try:
        with path.open(encoding="utf-8", newline="") as f:
            body = [line for line in f if not line.startswith("#")]
    except OSError as e:
        raise error(f"{path}: cannot read {what} table") from e
    return list(csv.DictReader(body))
