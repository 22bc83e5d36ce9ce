"""The demo and the benchmark's traffic still give the recorded events, byte for byte but for
the last bits of numbers (``golden.same``: floating-point libraries differ between releases).

The record is ``tests/proximity/golden/``, written by ``tests/proximity/golden.py
record``; that script also checks every engine scenario of these tests (``check``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("proximity_golden", Path(__file__).with_name("golden.py"))
assert _spec is not None and _spec.loader is not None
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)


@pytest.mark.parametrize("name", ["demo", "traffic"])
def test_events_are_the_recorded_ones(name):
    expected = golden.recorded(name)
    got = golden.SCENARIOS[name]()
    assert len(got) == len(expected) > 1
    for k, (a, b) in enumerate(zip(expected, got)):
        assert golden.same(a, b), f"{name}: line {k} differs\n  recorded {a}\n  now      {b}"
