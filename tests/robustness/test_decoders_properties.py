"""Property: mutated real feed input, along the direct path (an unguarded decoder, engine,
encoder), never raises; every item is a record and every dead letter has a documented
reason (no decoder leans on the pipeline's guard).

The seeds are the real samples of ``../shared/data``; hypothesis draws the mutations
(``tests/fuzz_path.py``). The CI budget is ``CLOSEWATCH_FUZZ_EXAMPLES`` examples per
decoder (default 80, each of 1 to 12 units); ``python -m bench.bench_fuzz`` pushes
100,000 inputs per decoder and prints the counts. The last test checks and prints how
many inputs each decoder was given here.
"""

from __future__ import annotations

import os
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz_path import FORMATS, SHARED_DATA, PathCounts, direct_path, format_of, units_for

pytestmark = pytest.mark.realdata

EXAMPLES = int(os.environ.get("CLOSEWATCH_FUZZ_EXAMPLES", "80"))
NAMES = sorted(FORMATS) if SHARED_DATA.is_dir() else []
COUNTS: dict[str, PathCounts] = {}


@pytest.fixture(scope="module", autouse=True)
def _needs_samples(shared_data: Any) -> None:
    """Skips (with the reason) only where ../shared/data is absent; CI always has it."""


@pytest.mark.parametrize("name", NAMES or ["(no samples)"])
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rng=st.randoms(use_true_random=False), n_units=st.integers(1, 12), cut=st.integers(1, 40))
def test_mutated_real_input_along_the_direct_path(name: str, rng: random.Random, n_units: int, cut: int) -> None:
    if format_of(name).documents:
        n_units = min(n_units, 3)
    counts = COUNTS.setdefault(name, PathCounts())
    direct_path(name, units_for(name, rng, n_units), counts, cut=cut)


def test_every_decoder_was_given_inputs() -> None:
    """How many inputs each decoder was given above (``pytest -s`` shows the table)."""
    assert set(COUNTS) == set(NAMES)
    print(f"\nmutated real inputs along the direct path ({EXAMPLES} examples per decoder):")
    for name, c in sorted(COUNTS.items()):
        print(f"  {name:17s} {c.inputs:7,} inputs  {c.updates:7,} reports  {c.notices:5,} notices  "
              f"{c.dead_letters:7,} dead letters  {c.events:5,} events")
        assert c.inputs >= EXAMPLES
    assert sum(c.updates for c in COUNTS.values()) > 0 and sum(c.dead_letters for c in COUNTS.values()) > 0
