"""alerts: the Kafka contract of closewatch.

Topic layout, the event/track/dead-letter value schemas (``alerts/schemas``),
the producer with delivery guarantees and an on-disk spool, consumers
(``closewatch tail``, :func:`alerts.consumer.subscribe`) and the local
single-node broker used by the demo and the tests (:mod:`alerts.broker`).
"""

from alerts.errors import (
    AlertsError,
    BrokerError,
    CodecError,
    DeliveryError,
    KafkaSecurityError,
    KafkaUnreachableError,
    SpoolFullError,
)

__all__ = [
    "AlertsError",
    "BrokerError",
    "CodecError",
    "DeliveryError",
    "KafkaSecurityError",
    "KafkaUnreachableError",
    "SpoolFullError",
]
