"""The exceptions of the ``alerts`` package: one root, narrow subclasses."""

from __future__ import annotations

__all__ = [
    "AlertsError",
    "BrokerError",
    "CodecError",
    "DeliveryError",
    "KafkaSecurityError",
    "KafkaUnreachableError",
    "SpoolFullError",
]


class AlertsError(Exception):
    """Root of every error raised by ``alerts``."""


class BrokerError(AlertsError):
    """The local Kafka broker (or its Java/Maven tooling) could not be fetched, started or reached."""


class CodecError(AlertsError):
    """A message value could not be encoded or decoded (the message says which field)."""


class KafkaUnreachableError(AlertsError):
    """No broker of the configured cluster answered (bootstrap failed)."""


class KafkaSecurityError(KafkaUnreachableError):
    """The cluster answered but refused the connection's security: an untrusted broker
    certificate, a refused client certificate, rejected SASL credentials, unreadable TLS files.

    A configuration error (retrying does not help); the message names the settings to check.
    """


class DeliveryError(AlertsError):
    """Records could not be delivered to the broker and could not be kept for later."""


class SpoolFullError(DeliveryError):
    """The on-disk spool reached its bound: records would be dropped, so closewatch stops instead."""


class SpoolInUseError(AlertsError):
    """The spool folder is held (locked) by another running closewatch process."""
