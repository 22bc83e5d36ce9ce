"""Fixtures of the closewatch tests: a live run of the demo scenario moved to cross 11:00 UTC."""

from __future__ import annotations

import pytest

from config.settings import load_settings
from live_demo import LiveDemo, run_live, write_shifted_scenario


@pytest.fixture(scope="session")
def live_demo(tmp_path_factory: pytest.TempPathFactory) -> LiveDemo:
    out = tmp_path_factory.mktemp("live-demo")
    paths, t0 = write_shifted_scenario(out)
    settings = load_settings(paths["config"])
    return LiveDemo(out, paths, settings, t0, run_live(settings))
