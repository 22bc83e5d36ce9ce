"""One builder of client settings: both Kafka clients reach the cluster the same way."""

from __future__ import annotations

import os
import socket

import pytest

from config.kafka_clients import kafka_client_settings
from config.settings import ConfigError, KafkaSettings

MTLS = KafkaSettings(bootstrap_servers="k1:9093, k2:9093", security_protocol="SASL_SSL", client_id="cw",
                     sasl_mechanism="SCRAM-SHA-512", sasl_username="closewatch", sasl_password="pw",
                     ssl_cafile="/ca.pem", ssl_certfile="/client.pem", ssl_keyfile="/client.key",
                     ssl_key_password="kpw")


def test_both_clients_get_every_security_setting_under_their_own_names() -> None:
    assert kafka_client_settings(MTLS, "kafka-python") == {
        "bootstrap_servers": ["k1:9093", "k2:9093"], "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "closewatch", "sasl_plain_password": "pw",
        "ssl_cafile": "/ca.pem", "ssl_certfile": "/client.pem", "ssl_keyfile": "/client.key", "ssl_password": "kpw",
    }
    assert kafka_client_settings(MTLS, "librdkafka") == {
        "bootstrap.servers": "k1:9093, k2:9093", "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "closewatch", "sasl.password": "pw",
        "ssl.ca.location": "/ca.pem", "ssl.certificate.location": "/client.pem", "ssl.key.location": "/client.key",
        "ssl.key.password": "kpw",
    }


def test_only_the_settings_in_force_for_the_protocol() -> None:
    plain = MTLS.model_copy(update={"security_protocol": "PLAINTEXT"})
    assert kafka_client_settings(plain, "kafka-python") == {"bootstrap_servers": ["k1:9093", "k2:9093"],
                                                             "security_protocol": "PLAINTEXT"}
    tls = MTLS.model_copy(update={"security_protocol": "SSL", "ssl_key_password": None})
    assert set(kafka_client_settings(tls, "librdkafka")) == {
        "bootstrap.servers", "security.protocol", "ssl.ca.location", "ssl.certificate.location", "ssl.key.location"}


def test_sasl_without_a_mechanism_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="needs sasl_mechanism"):  # the settings refuse it
        KafkaSettings(bootstrap_servers="k:1", security_protocol="SASL_PLAINTEXT")
    unchecked = KafkaSettings(bootstrap_servers="k:1").model_copy(update={"security_protocol": "SASL_PLAINTEXT"})
    with pytest.raises(ConfigError, match=r"kafka\.security_protocol=SASL_PLAINTEXT needs kafka\.sasl_mechanism"):
        kafka_client_settings(unchecked, "librdkafka")


def test_every_client_of_a_run_is_built_from_the_one_function(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Kafka-fed feed's consumer and `map serve`'s consumer get the key password too."""
    import kafka

    from closewatch import cmd_map
    from config.settings import FeedSettings
    from ingest import feeds

    seen: list[dict[str, object]] = []

    class Recorder:
        def __init__(self, *topics: str, **kw: object) -> None:
            seen.append(kw)
            raise RuntimeError("recorded")

    monkeypatch.setattr(kafka, "KafkaConsumer", Recorder)
    with pytest.raises(RuntimeError, match="recorded"):
        cmd_map._consumer(MTLS)
    feed = FeedSettings(name="k", format="ais-nmea", transport="kafka", topic="raw")
    with pytest.raises(RuntimeError, match="recorded"):
        next(iter(feeds._units(feed, "lines", None, MTLS)))
    expected = kafka_client_settings(MTLS, "kafka-python")
    for kw in seen:
        assert {k: kw[k] for k in expected} == expected
    # a group member's id leads with the configured one, then names the process (GroupWatch finds it)
    assert seen[0]["client_id"] == "cw-map"
    assert str(seen[1]["client_id"]).startswith(f"cw-{socket.gethostname()}-{os.getpid()}-")
