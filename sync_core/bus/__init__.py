"""The message bus under the sync core: one contract (``base``), two implementations.

``memory.MemoryBus`` runs in process; ``nats.NatsBus`` runs on NATS JetStream
(the optional ``nats`` extra).  Import the NATS one from its module: this package
never imports nats-py.
"""

from sync_core.bus.base import (
    Bus,
    BusConfig,
    BusError,
    BusMessage,
    DeadLetter,
    PublishAck,
    Span,
    Subscription,
    partition_of,
)
from sync_core.bus.memory import MemoryBus

__all__ = [
    "Bus",
    "BusConfig",
    "BusError",
    "BusMessage",
    "DeadLetter",
    "MemoryBus",
    "PublishAck",
    "Span",
    "Subscription",
    "partition_of",
]
