"""The ``[kafka]`` settings as the settings of Kafka's two Python clients.

closewatch talks to Kafka through kafka-python (consumers, admin calls: ingest's
Kafka-fed feeds, ``closewatch map serve``, ``closewatch tail``) and librdkafka
through confluent-kafka (the producer). :func:`kafka_client_settings` is the one
place that turns the cluster, TLS and SASL settings into either client's names,
so every client of a run reaches the cluster the same way (an encrypted client
key, ``ssl_key_password``, included). It lives in ``config`` because every room
that opens a client may import ``config`` and nothing else of closewatch is
shared by ``ingest`` and ``alerts``.

The client id is not set here: each caller names its role (``client_id``,
``client_id-map``, ...).
"""

from __future__ import annotations

from typing import Any, Literal

from config.settings import ConfigError, KafkaSettings

__all__ = ["KafkaClient", "kafka_client_settings"]

KafkaClient = Literal["kafka-python", "librdkafka"]

# [kafka] key: (kafka-python keyword argument, librdkafka configuration property)
_NAMES: dict[str, tuple[str, str]] = {
    "sasl_mechanism": ("sasl_mechanism", "sasl.mechanism"),
    "sasl_username": ("sasl_plain_username", "sasl.username"),
    "sasl_password": ("sasl_plain_password", "sasl.password"),
    "ssl_cafile": ("ssl_cafile", "ssl.ca.location"),
    "ssl_certfile": ("ssl_certfile", "ssl.certificate.location"),
    "ssl_keyfile": ("ssl_keyfile", "ssl.key.location"),
    "ssl_key_password": ("ssl_password", "ssl.key.password"),
}
_SASL_KEYS = ("sasl_mechanism", "sasl_username", "sasl_password")
_TLS_KEYS = ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_key_password")


def kafka_client_settings(kafka: KafkaSettings, client: KafkaClient) -> dict[str, Any]:
    """The servers, TLS and SASL settings of ``kafka`` for ``client``.

    ``kafka-python``: keyword arguments of ``KafkaConsumer``, ``KafkaProducer`` and
    ``KafkaAdminClient`` (``bootstrap_servers`` as a list, ``security_protocol``,
    ``sasl_plain_username``, ``ssl_password``, ...). ``librdkafka``: configuration
    properties (``bootstrap.servers``, ``security.protocol``, ``ssl.key.password``, ...).
    Only the settings in force for ``kafka.security_protocol`` are given (SASL for
    ``SASL_*``, TLS for ``SSL`` and ``SASL_SSL``); unset ones are left out. Raises
    :class:`~config.settings.ConfigError` when SASL is asked for without a mechanism.
    """
    protocol = kafka.security_protocol
    keys: list[str] = []
    if protocol.startswith("SASL"):
        if kafka.sasl_mechanism is None:
            raise ConfigError(f"kafka.security_protocol={protocol} needs kafka.sasl_mechanism")
        keys += _SASL_KEYS
    if protocol in ("SSL", "SASL_SSL"):
        keys += _TLS_KEYS
    which = 0 if client == "kafka-python" else 1
    if which == 0:
        cfg: dict[str, Any] = {
            "bootstrap_servers": [s.strip() for s in kafka.bootstrap_servers.split(",") if s.strip()],
            "security_protocol": protocol,
        }
    else:
        cfg = {"bootstrap.servers": kafka.bootstrap_servers, "security.protocol": protocol.lower()}
    for key in keys:
        value = getattr(kafka, key)
        if value is not None:
            cfg[_NAMES[key][which]] = value
    return cfg
