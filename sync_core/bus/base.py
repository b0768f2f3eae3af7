"""The bus contract: what every message bus under the sync core promises.

Theory of operation.  A producer publishes ``(key, payload, dedup_id)``; the key
is an entity's identity (a PO number), and ``partition_of(key, N)`` — a stable
CRC-32, never Python's salted ``hash()`` — picks one of ``N`` partitions, so
every message about one entity lands in one partition, in publish order, while
the partitions spread over workers.  A second publish with the same
``dedup_id`` inside ``dedup_window`` seconds is acknowledged as a duplicate
(``PublishAck.duplicate``, the first message's sequence) and never delivered.

A consumer of one partition fetches messages in publish order.  At most
``in_flight`` messages of a partition are out unacknowledged at a time; with
``in_flight=1`` (the default) the next message is held back until the current
one is acknowledged or dead-lettered, so a redelivery never overtakes it and
the per-entity order holds through crashes.  A message not acknowledged within
``ack_wait`` seconds — its consumer crashed, hung or closed — is delivered
again, to whichever consumer of the partition fetches next; ``nak`` asks for it
at once.  A message delivered ``max_deliver`` times without an ack is moved to
the dead-letter sink (``dead_letters()``, with its delivery count) instead of
being delivered again.

The bus keeps what it was given: ``replay`` reads a range of it again (from a
sequence or a time, up to another) without touching any consumer's position —
the replayable event pipeline.

Implementations: ``sync_core.bus.memory`` (in process) and
``sync_core.bus.nats`` (NATS JetStream); both pass one contract test suite
(``tests/sync_core/bus_contract/``).
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MAX_KEY_LENGTH = 256


class BusError(Exception):
    """Anything the bus refuses or cannot do; ``retriable`` says whether trying again may help."""

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable


@dataclass(frozen=True)
class BusConfig:
    """How a bus behaves; both implementations take the same fields."""

    partitions: int = 8
    max_deliver: int = 5  # deliveries before a message is dead-lettered
    ack_wait: float = 30.0  # seconds an unacknowledged delivery stays out before redelivery
    dedup_window: float = 120.0  # seconds a dedup id is remembered
    max_payload: int = 512 * 1024  # bytes (NATS carries 1 MiB by default, headers included)
    in_flight: int = 1  # unacknowledged messages per partition (1: strict order)

    def __post_init__(self) -> None:
        for name in ("partitions", "max_deliver", "max_payload", "in_flight"):
            if getattr(self, name) < 1:
                raise BusError(f"bus config: {name} must be at least 1, not {getattr(self, name)}")
        for name in ("ack_wait", "dedup_window"):
            if not getattr(self, name) > 0:
                raise BusError(f"bus config: {name} must be positive, not {getattr(self, name)}")


@dataclass(frozen=True)
class PublishAck:
    seq: int  # the stream sequence (the first message's, for a duplicate)
    partition: int
    duplicate: bool


@dataclass(frozen=True)
class BusMessage:
    key: str
    partition: int
    payload: bytes
    dedup_id: str
    seq: int  # position in the whole stream, 1-based, increasing with publish order
    published_at: datetime  # UTC, when the bus stored it
    deliveries: int = 0  # this delivery's number (1 = first); 0 for a replayed message
    handle: Any = field(default=None, compare=False, repr=False)  # the implementation's own


@dataclass(frozen=True)
class DeadLetter:
    message: BusMessage
    deliveries: int  # how many times it was delivered without an ack


@dataclass(frozen=True)
class Span:
    """A range of the stream: from ``start_seq`` or ``start_time`` (inclusive; the first
    message when neither is given) to ``end_seq`` (inclusive) or ``end_time`` (exclusive),
    and never past the message last stored when the replay began."""

    start_seq: int | None = None
    start_time: datetime | None = None
    end_seq: int | None = None
    end_time: datetime | None = None

    def __post_init__(self) -> None:
        if self.start_seq is not None and self.start_time is not None:
            raise BusError("replay: give start_seq or start_time, not both")
        if self.start_seq is not None and self.start_seq < 1:
            raise BusError(f"replay: start_seq must be at least 1, not {self.start_seq}")
        for name in ("start_time", "end_time"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise BusError(f"replay: {name} must carry a time zone (UTC), not {moment}")
        first, last = self.start_seq, self.end_seq
        if first is not None and last is not None and last < first:
            raise BusError(f"replay: end_seq {self.end_seq} is before start_seq {self.start_seq}")


def partition_of(key: str, partitions: int) -> int:
    """The partition of ``key``: the same in every process, on every machine, every run."""
    return zlib.crc32(key.encode("utf-8")) % partitions


def check_publish(config: BusConfig, key: str, payload: bytes, dedup_id: str) -> None:
    """Refuse what no bus can carry, naming what is wrong."""
    for name, value in (("key", key), ("dedup id", dedup_id)):
        if not isinstance(value, str) or not value:
            raise BusError(f"publish: the {name} must be a non-empty string, not {value!r}")
        if len(value) > MAX_KEY_LENGTH:
            raise BusError(f"publish: the {name} is over {MAX_KEY_LENGTH} characters")
        if any(ord(c) < 0x20 or c == "\x7f" for c in value):
            raise BusError(f"publish: the {name} {value!r} holds a control character")
    if not isinstance(payload, bytes | bytearray):
        raise BusError(f"publish: the payload must be bytes, not {type(payload).__name__}")
    if len(payload) > config.max_payload:
        raise BusError(
            f"publish: the payload is {len(payload)} bytes, over the bus's"
            f" max_payload of {config.max_payload}"
        )


def check_partition(config: BusConfig, partition: int) -> None:
    if not isinstance(partition, int) or not 0 <= partition < config.partitions:
        raise BusError(
            f"consume: no partition {partition!r}; the bus has 0..{config.partitions - 1}"
        )


def check_batch(batch: int) -> None:
    if batch < 1:
        raise BusError(f"fetch: batch must be at least 1, not {batch}")


class Subscription(ABC):
    """One consumer of one partition."""

    partition: int

    @abstractmethod
    async def fetch(self, batch: int = 1, timeout: float = 1.0) -> list[BusMessage]:
        """Up to ``batch`` messages in order, waiting at most ``timeout`` s for the first."""

    @abstractmethod
    async def close(self) -> None:
        """Stop consuming; unacknowledged messages come back after ``ack_wait``."""

    async def messages(self, timeout: float = 1.0) -> AsyncIterator[BusMessage]:
        """Every message, one at a time, until the consumer is closed or cancelled."""
        while True:
            for message in await self.fetch(1, timeout):
                yield message


class Bus(ABC):
    """A partitioned, deduplicating, replayable message bus (see the module docstring)."""

    config: BusConfig

    def partition_of(self, key: str) -> int:
        return partition_of(key, self.config.partitions)

    @abstractmethod
    async def publish(self, key: str, payload: bytes, dedup_id: str) -> PublishAck:
        """Store a message in ``key``'s partition, once per ``dedup_id`` per window."""

    @abstractmethod
    async def consume(self, partition: int) -> Subscription:
        """A consumer of ``partition``; consumers of one partition share its position."""

    @abstractmethod
    async def ack(self, message: BusMessage) -> None:
        """Done with ``message``: it is never delivered again."""

    @abstractmethod
    async def nak(self, message: BusMessage) -> None:
        """Not done with ``message``: deliver it again now (it counts as a delivery)."""

    @abstractmethod
    async def dead_letters(self) -> list[DeadLetter]:
        """Every message dead-lettered so far, oldest first."""

    @abstractmethod
    def replay(
        self, span: Span | None = None, *, partition: int | None = None
    ) -> AsyncIterator[BusMessage]:
        """The messages stored in ``span`` (all by default), in stream order, of one
        partition or of all, leaving every consumer where it was."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections; stored messages stay (for a durable bus)."""
