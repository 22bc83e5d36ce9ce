"""TLS and SASL settings reach kafka-python unchanged."""

from __future__ import annotations

import pytest

from alerts import AlertsError
from alerts.producer import client_security_config, topic_specs
from config.settings import KafkaSettings


def test_plaintext_is_the_default():
    cfg = client_security_config(KafkaSettings(bootstrap_servers="a:9092, b:9092"))
    assert cfg == {"bootstrap_servers": ["a:9092", "b:9092"], "security_protocol": "PLAINTEXT"}


def test_sasl_ssl_passes_credentials_and_certificates():
    s = KafkaSettings(bootstrap_servers="kafka.ops.example:9093", security_protocol="SASL_SSL",
                      sasl_mechanism="SCRAM-SHA-512", sasl_username="closewatch", sasl_password="pw",
                      ssl_cafile="/etc/ca.pem", ssl_certfile="/etc/client.pem", ssl_keyfile="/etc/client.key",
                      ssl_key_password="kpw")
    cfg = client_security_config(s)
    assert cfg["security_protocol"] == "SASL_SSL"
    assert (cfg["sasl_mechanism"], cfg["sasl_plain_username"], cfg["sasl_plain_password"]) == (
        "SCRAM-SHA-512", "closewatch", "pw")
    assert (cfg["ssl_cafile"], cfg["ssl_certfile"], cfg["ssl_keyfile"]) == (
        "/etc/ca.pem", "/etc/client.pem", "/etc/client.key")
    assert cfg["ssl_password"] == "kpw"


def test_ssl_without_sasl_has_no_credentials():
    cfg = client_security_config(KafkaSettings(bootstrap_servers="k:9093", security_protocol="SSL",
                                               ssl_cafile="/etc/ca.pem"))
    assert "sasl_mechanism" not in cfg and cfg["ssl_cafile"] == "/etc/ca.pem"


def test_sasl_without_mechanism_is_a_clear_error():
    with pytest.raises(ValueError, match="needs sasl_mechanism"):  # the settings refuse it
        KafkaSettings(bootstrap_servers="k:9092", security_protocol="SASL_PLAINTEXT")
    unchecked = KafkaSettings(bootstrap_servers="k:9092").model_copy(update={"security_protocol": "SASL_PLAINTEXT"})
    with pytest.raises(AlertsError, match="kafka.sasl_mechanism"):
        client_security_config(unchecked)


def test_topic_specs_follow_the_settings():
    specs = topic_specs(KafkaSettings(bootstrap_servers="k:1", partitions=6, retention_ms=1000,
                                      events_topic="ev.v1"))
    assert [(t.name, t.partitions, t.retention_ms) for t in specs] == [
        ("ev.v1", 6, 1000), ("closewatch.tracks.v1", 6, 1000), ("closewatch.deadletter.v1", 6, 1000),
        ("ev.v1.context", 6, 1000)]


def test_librdkafka_gets_the_same_options_under_its_names():
    from alerts.transport import rdkafka_config

    s = KafkaSettings(bootstrap_servers="k1:9093,k2:9093", security_protocol="SASL_SSL", client_id="cw-a",
                      sasl_mechanism="SCRAM-SHA-256", sasl_username="u", sasl_password="p", ssl_cafile="/ca.pem")
    assert rdkafka_config(s) == {
        "bootstrap.servers": "k1:9093,k2:9093", "client.id": "cw-a", "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-256", "sasl.username": "u", "sasl.password": "p", "ssl.ca.location": "/ca.pem",
    }
    mtls = KafkaSettings(bootstrap_servers="k:9093", security_protocol="SSL", ssl_cafile="/ca.pem",
                         ssl_certfile="/c.pem", ssl_keyfile="/c.key", ssl_key_password="kpw")
    assert {k: v for k, v in rdkafka_config(mtls).items() if k.startswith("ssl.")} == {
        "ssl.ca.location": "/ca.pem", "ssl.certificate.location": "/c.pem", "ssl.key.location": "/c.key",
        "ssl.key.password": "kpw"}


def test_repeated_librdkafka_lines_are_logged_once_per_window(caplog):
    import logging

    from alerts.transport import _QuietLog

    quiet = _QuietLog(logging.getLogger("alerts.test.quiet"), window_s=60.0)
    with caplog.at_level(logging.ERROR, logger="alerts.test.quiet"):
        for ms in range(50):
            quiet.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#producer-1",
                      f"[thrd:ssl://h:9093/bootstrap]: ssl://h:9093/bootstrap: SSL handshake failed (after {ms}ms)")
        quiet.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#producer-1", "[thrd:x]: x: Connection refused")
    assert [r.getMessage().split(": ", 1)[1] for r in caplog.records] == [
        "ssl://h:9093/bootstrap: SSL handshake failed (after 0ms)", "x: Connection refused"]
