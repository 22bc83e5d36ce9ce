"""The exceptions of the ``alerts`` package: one root, narrow subclasses."""

from __future__ import annotations

__all__ = [
    "AlertsError",
    "BrokerError",
    "CodecError",
    "DeliveryError",
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


class DeliveryError(AlertsError):
    """Records could not be delivered to the broker and could not be kept for later."""


class SpoolFullError(DeliveryError):
    """The on-disk spool reached its bound: records would be dropped, so closewatch stops instead."""
