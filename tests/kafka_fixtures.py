"""The real local Kafka broker for the tests marked ``kafka``.

One broker per test session (started in a temporary directory, stopped at the
end). It FAILS the tests that need it when it cannot start (no Java, no Maven,
no jars): CI must never pass without having talked to Kafka.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Callable, Iterator

import pytest

from alerts.broker import BrokerTls, LocalBroker
from alerts.tls import LocalPki, make_local_pki

_topic_counter = itertools.count()


def _running(broker: LocalBroker, what: str) -> Iterator[LocalBroker]:
    """Start ``broker`` for a fixture, fail (never skip) when it cannot start, stop it afterwards."""
    try:
        broker.start(timeout_s=180)
    except Exception as e:  # noqa: BLE001 - turned into a test failure with the reason
        pytest.fail(f"the {what} did not start: {e}", pytrace=False)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    """A started single-node KRaft broker on 127.0.0.1 (free port)."""
    work: Path = tmp_path_factory.mktemp("kafka")
    yield from _running(LocalBroker(work), "local Kafka broker")


@pytest.fixture(scope="session")
def broker_runner() -> Callable[[LocalBroker, str], Iterator[LocalBroker]]:
    """For a broker with other settings: ``yield from broker_runner(LocalBroker(..., tls=...), "TLS broker")``."""
    return _running


@pytest.fixture
def topic_prefix(request: pytest.FixtureRequest) -> str:
    """A topic-name prefix unique to the test (several tests share one broker)."""
    name = "".join(c if c.isalnum() else "-" for c in request.node.name)[:40]
    return f"t{next(_topic_counter)}-{name}"


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LocalPki:
    """A throwaway CA, broker and client certificates; the client key is encrypted (PEM with a password)."""
    return make_local_pki(tmp_path_factory.mktemp("pki"), client_key_password="client-key-Secret")


@pytest.fixture(scope="session")
def tls_broker(tmp_path_factory: pytest.TempPathFactory, pki: LocalPki) -> Iterator[LocalBroker]:
    """A started broker whose only client listener is SSL with mutual TLS (client certificate required)."""
    tls = BrokerTls.from_pki(pki, client_auth="required")
    yield from _running(LocalBroker(tmp_path_factory.mktemp("kafka-tls"), tls=tls), "TLS broker")


def read_topic(bootstrap: str, topic: str, timeout_s: float = 120.0) -> list[tuple[bytes, dict[str, bytes]]]:
    """Every value of ``topic`` with its headers, read up to the topic's end offsets (not until a
    pause, which a loaded machine makes long); empty when the topic does not exist within ``timeout_s``."""
    import time

    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_bytes=8_000_000,
                             max_partition_fetch_bytes=8_000_000)
    try:
        deadline = time.monotonic() + timeout_s
        partitions = consumer.partitions_for_topic(topic)
        while not partitions and time.monotonic() < deadline:
            time.sleep(0.2)
            partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            return []
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        out = []
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            assert time.monotonic() < deadline, f"{topic}: not read to its end within {timeout_s} s"
            for records in consumer.poll(timeout_ms=500).values():
                out.extend((r.value, dict(r.headers)) for r in records)
        return out
    finally:
        consumer.close()


def group_lag(bootstrap: str, group: str, topic: str, end: int) -> int:
    """``end`` minus the offsets ``group`` committed on ``topic`` (``end`` while the group is unknown)."""
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
    except KafkaError:  # the group (or its coordinator) is not there yet: nothing committed
        return end
    finally:
        admin.close()
    return end - sum(o.offset for tp, o in offsets.items() if tp.topic == topic)
