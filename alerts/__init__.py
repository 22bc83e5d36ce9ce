"""alerts: the Kafka contract of closewatch.

Topic layout, the event/track/dead-letter value schemas (``alerts/schemas``) and the
one Event-to-GeoJSON contract (:mod:`alerts.codec`), the producer with delivery
guarantees and an on-disk spool, consumers (``closewatch tail``,
:func:`alerts.consumer.subscribe`) and the local single-node broker used by the demo
and the tests (:mod:`alerts.broker`). The package exports its exceptions
(:mod:`alerts.errors`).
"""

from alerts import errors as _errors
from alerts.errors import *  # noqa: F403 - the exceptions, listed once in alerts.errors

__all__ = list(_errors.__all__)
