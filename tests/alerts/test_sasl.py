"""Security options from the config, against a local broker that requires SASL (PLAIN and SCRAM)."""

from __future__ import annotations

from typing import Iterator

import pytest

from alerts import KafkaSecurityError, KafkaUnreachableError
from alerts.broker import LocalBroker, SaslUsers
from alerts.consumer import subscribe
from alerts.producer import KafkaSink
from config.settings import KafkaSettings

pytestmark = pytest.mark.kafka

USERS = {"alice": "alice-secret", "bob": "bob-Secret!42"}


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory, broker_runner) -> Iterator[LocalBroker]:
    users = SaslUsers(USERS, mechanisms=("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"))
    yield from broker_runner(LocalBroker(tmp_path_factory.mktemp("kafka-sasl"), sasl=users), "SASL broker")


@pytest.mark.parametrize(("mechanism", "user"), [("PLAIN", "alice"), ("SCRAM-SHA-256", "bob"),
                                                 ("SCRAM-SHA-512", "alice")])
def test_produce_and_consume_with_credentials_from_settings(sasl_broker, tmp_path, topic_prefix, event_factory,
                                                            mechanism, user):
    settings = KafkaSettings(
        bootstrap_servers=sasl_broker.bootstrap_servers,
        events_topic=f"{topic_prefix}.events.v1",
        tracks_topic=f"{topic_prefix}.tracks.v1",
        deadletter_topic=f"{topic_prefix}.deadletter.v1",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism=mechanism,
        sasl_username=user,
        sasl_password=USERS[user],
    )
    events = [event_factory(f"close_approach-{i:016x}", 0) for i in range(3)]
    with KafkaSink(settings, spool_dir=tmp_path / "spool") as sink:
        assert len(sink.ensure_topics()) == 4  # events, tracks, dead letters, context
        sink.publish_events(events)
        sink.flush(30)
    got = list(subscribe(settings, from_beginning=True, timeout_s=2))
    assert sorted(g.event_id for g in got) == sorted(e.event_id for e in events)


def test_wrong_password_gets_nothing(sasl_broker, tmp_path, topic_prefix, event_factory):
    settings = KafkaSettings(bootstrap_servers=sasl_broker.bootstrap_servers, security_protocol="SASL_PLAINTEXT",
                             sasl_mechanism="SCRAM-SHA-256", sasl_username="alice", sasl_password="not-it")
    with pytest.raises(KafkaUnreachableError):
        KafkaSink(settings, use_spool=False).ensure_topics(timeout_s=3)
    assert "Failed authentication" in sasl_broker.log_path.read_text()
    # librdkafka: refused credentials are a configuration error, even with a spool
    sink = KafkaSink(settings, spool_dir=tmp_path / "spool", create_topics=False)
    with pytest.raises(KafkaSecurityError, match=r"(?s)SASL.*kafka\.sasl_username"):
        sink.publish_events([event_factory()])
    assert sink.stats()["spool_pending"] == 0
