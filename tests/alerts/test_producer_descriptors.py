"""A retired librdkafka producer lets go of its sockets and threads at once.

The sink retires its producer at every broker outage and makes a new one when the broker is
back (alerts/producer.py). A producer whose librdkafka handle stays alive until a full garbage
collection keeps its connections and wake-up descriptors meanwhile: the soak saw some 6 more
descriptors after each outage. Measured on the process's own descriptor table with the
cyclic collector off, so that only reference counting can free the handle.
"""

from __future__ import annotations

import gc
import os

import pytest

from alerts.broker import LocalBroker
from alerts.transport import RdProducer
from config.settings import KafkaSettings

pytestmark = pytest.mark.kafka


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _producer(bootstrap: str) -> RdProducer:
    p = RdProducer(KafkaSettings(bootstrap_servers=bootstrap), lambda _t: None, lambda _t, _e: None,
                   delivery_timeout_s=10.0)
    p.connect(30.0)
    return p


def test_a_retired_producer_closes_its_descriptors_without_a_garbage_collection(kafka_broker: LocalBroker) -> None:
    _producer(kafka_broker.bootstrap_servers).retire()  # libraries loaded, first-use descriptors opened
    gc.collect()
    gc.disable()
    try:
        before = _fds()
        for _ in range(3):
            p = _producer(kafka_broker.bootstrap_servers)
            assert _fds() > before  # a live producer holds connections and wake-up descriptors
            p.retire()
            del p
        assert _fds() <= before, f"{_fds() - before} descriptors still open after three retired producers"
    finally:
        gc.enable()
