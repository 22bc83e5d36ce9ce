"""Property tests: random and mutated real input through every decoder, the engine, the encoder
and a sink (``tests/fuzz_path.py``). Whatever the input, the run ends normally and writes only
valid values; no bad unit ends the feed. The inputs tried per decoder are printed at the end
(a small budget here; ``bench/bench_fuzz.py`` tries at least 100,000 per decoder).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz_path import FORMATS, mutate, seeds, units_for, whole_path

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def _units(fmt: str) -> st.SearchStrategy[list[bytes]]:
    pool = seeds(fmt)
    one = st.one_of(
        st.sampled_from(pool),
        st.builds(mutate, st.sampled_from(pool), st.randoms(use_true_random=False)),
        st.binary(max_size=300),
    )
    return st.lists(one, min_size=20, max_size=150)


@pytest.mark.parametrize("fmt", FORMATS)
def test_any_input_goes_through_the_whole_path_and_out_as_valid_values(fmt: str, tmp_path_factory, shared_data) -> None:
    @settings(max_examples=4, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(units=_units(fmt))
    def trial(units: list[bytes]) -> None:
        result = whole_path(fmt, units, tmp_path_factory.mktemp(fmt))
        assert result.inputs == len(units) + (fmt == "tracks-csv")

    trial()


def test_the_mutations_reach_the_decoders_past_their_first_check(shared_data) -> None:
    """The mutated real lines are not all junk: a good share still decodes (the fuzz reaches deep)."""
    rnd = random.Random(7)
    units = units_for("tracks-jsonl", rnd, 300, junk_share=0.1)
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        result = whole_path("tracks-jsonl", units, Path(d))
    assert result.updates > 30 and result.dead_letters > 30
