"""Who may import whom: the arrows of DESIGN.md's table of rooms, read from the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ("config", "ingest", "proximity", "alerts", "maps", "closewatch")

# DESIGN.md, "One room, one job": the rooms each may import (besides itself).
ALLOWED: dict[str, frozenset[str]] = {
    "config": frozenset(),
    "ingest": frozenset({"config"}),
    "proximity": frozenset({"config"}),
    "alerts": frozenset({"config", "proximity"}),
    "maps": frozenset({"config", "alerts", "proximity"}),
    "closewatch": frozenset(ROOMS),
}


def imported_rooms(path: Path) -> list[tuple[int, str]]:
    """(line, room) of every import of one of our rooms in a file, anywhere in it."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue  # relative imports stay inside their package
        out += [(node.lineno, n.split(".")[0]) for n in names if n.split(".")[0] in ROOMS]
    return out


@pytest.mark.parametrize("room", ROOMS)
def test_each_room_imports_only_what_the_design_allows(room: str) -> None:
    files = sorted((ROOT / room).rglob("*.py"))
    assert files, f"no Python files in {room}/"
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {other}"
        for path in files
        for line, other in imported_rooms(path)
        if other != room and other not in ALLOWED[room]
    ]
    assert wrong == [], "arrows DESIGN.md does not allow:\n" + "\n".join(wrong)


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("import os\n\ndef f():\n    from proximity.geometry import WGS84\n    import alerts.codec as c\n")
    assert imported_rooms(src) == [(4, "proximity"), (5, "alerts")]
