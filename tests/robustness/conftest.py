"""Fixtures for the robustness tests: hostile input, faults and restarts of whole runs.

``write_config`` writes a closewatch.toml into the test's folder; ``run_cli`` runs
``python -m closewatch`` as the operator would (its own process, real signals,
real exit codes) and returns it, or its result when it is left to finish.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str, str], Path]:
    def write(text: str, name: str = "closewatch.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def cli(*args: str | Path, cwd: Path, **popen: object) -> subprocess.Popen[bytes]:
    """``closewatch ARGS`` in its own process group, in ``cwd``; stdout and stderr piped."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "closewatch", *map(str, args)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        **popen,
    )


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``closewatch ARGS`` in the test's folder to its end (``timeout_s``), output as text."""

    def run(*args: str | Path, timeout_s: float = 300.0) -> subprocess.CompletedProcess[str]:
        proc = cli(*args, cwd=tmp_path)
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"closewatch {' '.join(map(str, args))} did not end within {timeout_s} s:\n{err.decode()[-3000:]}")
        return subprocess.CompletedProcess(proc.args, proc.returncode, out.decode(), err.decode())

    return run


@pytest.fixture
def start_cli(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start ``closewatch ARGS`` in the test's folder and return the process (killed at the end)."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str | Path) -> subprocess.Popen[bytes]:
        proc = cli(*args, cwd=tmp_path)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The inputs the whole-path fuzz tried per decoder (tests/fuzz_path.py), when it ran."""
    fuzz = sys.modules.get("fuzz_path")
    tried = getattr(fuzz, "TRIED", None)
    if tried:
        terminalreporter.write_line(
            "whole-path fuzz, inputs tried per decoder: " + ", ".join(f"{f} {n:,}" for f, n in sorted(tried.items()))
        )
