"""TLS from the config, against a local broker whose only client listener is SSL with mutual TLS.

The certificates are made for the test (a throwaway CA, ``alerts.tls``; the broker and
certificates are the ``tls_broker`` and ``pki`` fixtures of tests/kafka_fixtures.py). Both
Kafka clients are exercised: librdkafka sends (``KafkaSink``), kafka-python
creates the topics and reads back (``subscribe``).
"""

from __future__ import annotations

import json

import pytest
from kafka import KafkaConsumer

from alerts import KafkaSecurityError
from alerts.broker import LocalBroker
from alerts.consumer import subscribe
from alerts.producer import KafkaSink, client_security_config
from alerts.tls import LocalPki, make_local_pki
from config.settings import KafkaSettings

pytestmark = pytest.mark.kafka


def _settings(broker: LocalBroker, pki: LocalPki, prefix: str = "tls", **kw: object) -> KafkaSettings:
    base: dict[str, object] = dict(
        bootstrap_servers=broker.bootstrap_servers,
        events_topic=f"{prefix}.events.v1",
        tracks_topic=f"{prefix}.tracks.v1",
        deadletter_topic=f"{prefix}.deadletter.v1",
        security_protocol="SSL",
        ssl_cafile=str(pki.ca_cert),
        ssl_certfile=str(pki.client_cert),
        ssl_keyfile=str(pki.client_key),
        ssl_key_password=pki.client_key_password,
    )
    base.update(kw)
    return KafkaSettings(**base)  # type: ignore[arg-type]


def test_broker_listens_with_tls_only(tls_broker):
    props = tls_broker.config_path.read_text()
    assert tls_broker.security_protocol == "SSL"
    assert f"listeners=SSL://127.0.0.1:{tls_broker.port}," in props
    assert "ssl.client.auth=required" in props and "ssl.keystore.type=PEM" in props


def test_events_and_tracks_over_mutual_tls(tls_broker, pki, tmp_path, topic_prefix, event_factory, track_factory,
                                           validators):
    settings = _settings(tls_broker, pki, topic_prefix)
    events = [event_factory(f"close_approach-{i:016x}", 0) for i in range(3)]
    with KafkaSink(settings, spool_dir=tmp_path / "spool") as sink:
        assert len(sink.ensure_topics()) == 4  # kafka-python admin over TLS
        sink.publish_events(events)  # librdkafka over TLS
        sink.publish_tracks([track_factory(i) for i in range(5)])
        sink.flush(30)
        assert sink.stats()["acked"] == 8 and sink.stats()["spool_pending"] == 0
    got = list(subscribe(settings, from_beginning=True, timeout_s=3))
    assert sorted(g.event_id for g in got) == sorted(e.event_id for e in events)
    for g in got:
        validators["event"].validate(g.feature)
        assert g.headers["ce_id"] == f"{g.event_id}:0".encode()
    # tracks, with a plain kafka-python consumer configured by client_security_config
    consumer = KafkaConsumer(settings.tracks_topic, group_id=None, auto_offset_reset="earliest",
                             consumer_timeout_ms=2000, **client_security_config(settings))
    try:
        values = [json.loads(m.value) for m in consumer]
    finally:
        consumer.close()
    assert sorted(v["track_id"] for v in values) == sorted(track_factory(i).track_id for i in range(5))
    for v in values:
        validators["track"].validate(v)


def test_untrusted_broker_certificate_is_refused_clearly(tls_broker, pki, tmp_path, event_factory):
    other_ca = make_local_pki(tmp_path / "other-pki").ca_cert
    settings = _settings(tls_broker, pki, ssl_cafile=str(other_ca))
    # librdkafka: refused at the first connection, even with a spool (a wrong CA is no outage)
    sink = KafkaSink(settings, spool_dir=tmp_path / "spool", connect_timeout_s=10, create_topics=False)
    with pytest.raises(KafkaSecurityError, match=r"(?s)certificate verify failed.*kafka\.ssl_cafile"):
        sink.publish_events([event_factory()])
    assert sink.stats()["spool_pending"] == 0
    with pytest.raises(KafkaSecurityError):
        sink.close(timeout_s=1)
    # kafka-python: the bootstrap failure is explained by the handshake's own error
    with pytest.raises(KafkaSecurityError, match=r"(?s)CERTIFICATE_VERIFY_FAILED.*kafka\.ssl_cafile"):
        next(subscribe(settings, from_beginning=True, timeout_s=2))


def test_client_without_certificate_is_refused_clearly(tls_broker, pki, tmp_path, event_factory):
    settings = _settings(tls_broker, pki, ssl_certfile=None, ssl_keyfile=None, ssl_key_password=None)
    sink = KafkaSink(settings, use_spool=False, connect_timeout_s=10, create_topics=False)
    with pytest.raises(KafkaSecurityError, match=r"(?s)alert.*refused the client certificate"):
        sink.publish_events([event_factory()])
    with pytest.raises(KafkaSecurityError, match=r"refused the client certificate"):
        KafkaSink(settings, use_spool=False).ensure_topics(timeout_s=2)
