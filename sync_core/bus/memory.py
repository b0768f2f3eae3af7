"""The bus in process: what a single-process core uses, and the contract's reference.

Everything lives in lists and dicts of this one object; time is an input
(``clock``, seconds since the epoch, ``time.time`` by default), so tests move
it forward instead of sleeping, and a run is deterministic.  Nothing happens in
the background: an ack deadline is looked at when a consumer fetches, which is
the only moment a redelivery or a dead-lettering can be observed anyway.  A
fetch with nothing to hand out waits (asyncio, no threads) for a publish, an
ack or a nak, at most ``timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sync_core.bus import base

NOW = float("-inf")  # the deadline of a nak'd message: due at once


@dataclass(frozen=True)
class _Stored:
    key: str
    partition: int
    payload: bytes
    dedup_id: str
    seq: int
    at: datetime

    def message(self, deliveries: int) -> base.BusMessage:
        return base.BusMessage(self.key, self.partition, self.payload, self.dedup_id, self.seq,
                               self.at, deliveries, handle=self.seq)  # fmt: skip


@dataclass
class _Partition:
    seqs: list[int] = field(default_factory=list)  # stored, in order
    cursor: int = 0  # index in seqs of the first never delivered
    out: dict[int, float] = field(default_factory=dict)  # seq -> ack deadline
    deliveries: dict[int, int] = field(default_factory=dict)


class MemoryBus(base.Bus):
    def __init__(
        self, config: base.BusConfig | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config or base.BusConfig()
        self._clock = clock
        self._log: list[_Stored] = []
        self._parts = [_Partition() for _ in range(self.config.partitions)]
        self._dedup: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._dead: list[base.DeadLetter] = []
        self._waiters: list[asyncio.Event] = []
        self._closed = False

    def _check_open(self, what: str) -> None:
        if self._closed:
            raise base.BusError(f"{what}: the bus is closed")

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for event in waiters:
            event.set()

    async def publish(self, key: str, payload: bytes, dedup_id: str) -> base.PublishAck:
        self._check_open("publish")
        base.check_publish(self.config, key, payload, dedup_id)
        now = self._clock()
        while self._dedup:  # forget the ids older than the window (kept in time order)
            oldest = next(iter(self._dedup.values()))
            if now - oldest[1] < self.config.dedup_window:
                break
            self._dedup.popitem(last=False)
        partition = self.partition_of(key)
        if dedup_id in self._dedup:
            return base.PublishAck(self._dedup[dedup_id][0], partition, duplicate=True)
        at = datetime.fromtimestamp(now, UTC)
        stored = _Stored(key, partition, bytes(payload), dedup_id, len(self._log) + 1, at)
        self._log.append(stored)
        self._parts[partition].seqs.append(stored.seq)
        self._dedup[dedup_id] = (stored.seq, now)
        self._wake()
        return base.PublishAck(stored.seq, partition, duplicate=False)

    async def consume(self, partition: int) -> base.Subscription:
        self._check_open("consume")
        base.check_partition(self.config, partition)
        return _MemorySubscription(self, partition)

    def _take(self, partition: int, batch: int) -> list[base.BusMessage]:
        """Hand out up to ``batch`` due messages of ``partition``, redeliveries first."""
        part, now = self._parts[partition], self._clock()
        due = sorted(seq for seq, deadline in part.out.items() if deadline <= now)
        room = self.config.in_flight - (len(part.out) - len(due))
        fresh = part.seqs[part.cursor : part.cursor + max(room, 0)]
        taken: list[base.BusMessage] = []
        for seq in due + fresh:
            if len(taken) >= min(batch, room):
                break
            if seq in fresh:
                part.cursor += 1
            delivered = part.deliveries.get(seq, 0)
            stored = self._log[seq - 1]
            if delivered >= self.config.max_deliver:
                part.out.pop(seq, None)
                self._dead.append(base.DeadLetter(stored.message(0), delivered))
                continue
            part.deliveries[seq] = delivered + 1
            part.out[seq] = now + self.config.ack_wait
            taken.append(stored.message(delivered + 1))
        return taken

    def _next_deadline(self, partition: int) -> float | None:
        out = self._parts[partition].out
        return min(out.values()) - self._clock() if out else None

    def _settle(self, message: base.BusMessage, deadline: float | None) -> None:
        if not isinstance(message.handle, int) or not 0 < message.handle <= len(self._log):
            raise base.BusError(f"ack: message {message.seq} was not delivered by this bus")
        part = self._parts[self._log[message.handle - 1].partition]
        if message.handle in part.out:
            if deadline is None:
                del part.out[message.handle]
            else:
                part.out[message.handle] = deadline
        self._wake()

    async def ack(self, message: base.BusMessage) -> None:
        self._check_open("ack")
        self._settle(message, None)

    async def nak(self, message: base.BusMessage) -> None:
        self._check_open("nak")
        self._settle(message, NOW)

    async def dead_letters(self) -> list[base.DeadLetter]:
        self._check_open("dead_letters")
        return list(self._dead)

    async def replay(
        self, span: base.Span | None = None, *, partition: int | None = None
    ) -> AsyncIterator[base.BusMessage]:
        self._check_open("replay")
        span = span or base.Span()
        if partition is not None:
            base.check_partition(self.config, partition)
        last = len(self._log) if span.end_seq is None else min(span.end_seq, len(self._log))
        for stored in self._log[(span.start_seq or 1) - 1 : last]:
            if span.start_time is not None and stored.at < span.start_time:
                continue
            if span.end_time is not None and stored.at >= span.end_time:
                break
            if partition is None or stored.partition == partition:
                yield stored.message(0)

    async def close(self) -> None:
        self._closed = True
        self._wake()


class _MemorySubscription(base.Subscription):
    def __init__(self, bus: MemoryBus, partition: int) -> None:
        self._bus = bus
        self.partition = partition
        self._closed = False

    async def fetch(self, batch: int = 1, timeout: float = 1.0) -> list[base.BusMessage]:
        base.check_batch(batch)
        loop = asyncio.get_running_loop()
        give_up = loop.time() + timeout
        while True:
            if self._closed:
                raise base.BusError(f"fetch: the consumer of partition {self.partition} is closed")
            self._bus._check_open("fetch")
            taken = self._bus._take(self.partition, batch)
            left = give_up - loop.time()
            if taken or left <= 0:
                return taken
            deadline = self._bus._next_deadline(self.partition)
            wait = left if deadline is None else max(min(left, deadline), 0.001)
            event = asyncio.Event()
            self._bus._waiters.append(event)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), wait)

    async def close(self) -> None:
        self._closed = True
