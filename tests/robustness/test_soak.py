"""The bounded soak (bench/bench_soak.py), short: the correctness of a run under junk and faults.

A live ``closewatch run`` (TCP feed with 1 % junk, Kafka sink) whose broker is
stopped and started again and whose feed server drops the connection and comes
back, compared with an undisturbed run over the same bytes: no event lost, none
made up or changed, duplicates only of the same ``event_id``, ``seq`` and content;
the descriptors the run holds do not grow with the faults; a feed of nothing but
junk publishes its dead letters while it runs. Memory and rates are figures of the
bench (docs/operations.md), not asserted here.

The descriptors of the disturbed run are those it had before the broker restart (within 3).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from alerts.broker import LocalBroker
from bench.bench_soak import junk_only, report, soak

pytestmark = [pytest.mark.slow, pytest.mark.kafka]


@pytest.fixture
def own_broker(tmp_path: Path, broker_runner: Callable[[LocalBroker, str], Iterator[LocalBroker]]) -> Iterator[LocalBroker]:
    """A broker of this test alone: the soak restarts it."""
    yield from broker_runner(LocalBroker(tmp_path / "broker"), "local Kafka broker of the soak")


def test_a_disturbed_live_run_loses_no_event_leaks_no_descriptor_and_dead_letters_junk_as_it_comes(
    tmp_path: Path, own_broker: LocalBroker
) -> None:
    s = soak(tmp_path, own_broker, duration_s=40.0, rate=2_000.0, tracks=1_000, pairs=20, broker_down_s=3.0,
             feed_down_s=3.0, settle_s=5.0)
    j = junk_only(tmp_path, own_broker, duration_s=20.0, rate=1_000.0, settle_s=5.0)
    print(report(s, j))

    # the faults happened: the broker went away and came back, the run reconnected to the feed
    assert len(s.feeding.faults) == 2 and s.server_connections >= 2
    assert s.feeding.junk > 0 and s.dead_letters.get("decode", 0) > 0
    assert s.exit_disturbed == 0 and s.exit_reference == 0, s.summary
    # a junk-only feed: dead letters reach the topic while the run goes on, and all of them
    during = [n for _t, n in j.dead_letters_seen]
    assert len(during) == 3 and during[0] > 0 and during == sorted(during) and during[-1] > during[0], j.dead_letters_seen
    assert j.dead_letters_end >= j.lines
    assert j.profile.fds_end <= j.profile.fds_start + 3, j.profile.line()

    # the events: those of the undisturbed run, none lost, none made up or changed; a copy
    # only as the at-least-once contract allows (same event_id, seq and content)
    c = s.comparison
    assert c.reference > 50, f"the world made few events: little compared ({c.line()})"
    assert c.lost == 0 and c.extra == 0 and c.changed == 0, c.line()
    assert c.received == c.reference + c.duplicates, c.line()

    # the broker restart leaves no descriptor behind (a retired producer's librdkafka handle used
    # to live on until a full garbage collection: tests/alerts/test_producer_descriptors.py)
    assert s.disturbed.fds_end <= s.disturbed.fds_start + 3, s.disturbed.line()
