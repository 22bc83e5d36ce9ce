"""Shared test fixtures.

Services (Kafka, Chromium) are never skipped when missing: a test that needs one
fails with the reason, in CI and on a laptop alike.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# Shared fixtures kept in their own modules (importable through pythonpath = ["tests"]).
pytest_plugins = ["kafka_fixtures", "browser_fixtures", "map_fixtures"]

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real feed samples beside the repository (never copied into it)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real feed samples not found at {SHARED_DATA} (CI always has them)")
    return SHARED_DATA
