"""A scale-out worker: consume its partitions from the bus, decide, commit, deliver.

Theory of operation.  A worker is the live driver
(:class:`~sync_core.drivers.asyncio.LiveDriver`: the engine, the group commit, the
outbox runner) over a :class:`~sync_core.scaleout.store.WorkerStore`, fed from the bus
instead of HTTP:

1. It joins (:class:`~sync_core.scaleout.membership.Membership`): one slot, held as a
   PostgreSQL session lock while it lives.  Then the driver starts and re-delivers the
   outbox rows of its slot (a worker restarted on the slot of a dead one sends them).
2. Every ``tick`` it reads the live slots, consumes the partitions it owns now
   (:func:`~sync_core.scaleout.membership.owned_partitions`) and stops consuming the
   others, and adopts the outbox rows of dead slots (:meth:`WorkerStore.adopt`).
3. Each partition is one task: fetch a message, ``driver.submit`` it (decided and
   committed, under the schema's decision lock, with the messages of the worker's other
   partitions: one group commit), and only then ack it on the bus.  A worker killed
   between commit and ack gets the message redelivered to the partition's next owner
   after the bus's ``ack_wait``; the inbox recognises it (``duplicate``) and it is
   acked.  A store failure leaves the message unacked: it comes back.

So a ``kill -9`` at any moment loses nothing (nothing is acked on the bus before it is
committed; no outbox row is forgotten: its slot dies with the worker and another worker
adopts it) and applies nothing twice (the inbox's unique key; every write's
idempotency key; one owner delivers a row at a time).  ``takeover=False`` is the
injected defect: no adoption of rows, no taking over of partitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sync_core.bus import Bus, BusError, BusMessage, Subscription
from sync_core.drivers.asyncio import LiveDriver, Outcome, _Entry
from sync_core.drivers.runner import newest
from sync_core.scaleout.envelope import decode
from sync_core.scaleout.membership import Membership, owned_partitions
from sync_core.scaleout.store import WorkerStore
from sync_core.store import OutboxItem, StoreError

__all__ = ["Worker", "WorkerDriver", "WorkerStats"]

log = logging.getLogger("supplysync.worker")


@dataclass
class LockStats:
    """What the serial part costs (the benchmark's projection reads it from the log)."""

    groups: int = 0
    waited_s: float = 0.0  # waiting for the decision lock
    held_s: float = 0.0  # deciding and committing under it (wall)
    held_cpu_s: float = 0.0  # of which this process's CPU (the store thread's)

    def line(self, slot: int | None, messages: int) -> str:
        cpu = time.process_time()
        return (f"worker slot {slot} done: {messages} messages in {self.groups} groups; "
                f"decision lock held {self.held_s:.3f} s (cpu {self.held_cpu_s:.3f} s), "
                f"waited {self.waited_s:.3f} s; process cpu {cpu:.3f} s")  # fmt: skip


class WorkerDriver(LiveDriver):
    """The live driver, deciding under the schema's decision lock, adopting rows."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.lock_stats = LockStats()

    def _decide_and_commit(self, batch: list[_Entry], dones: list[int]) -> Any:
        store = self._require_store()
        assert isinstance(store, WorkerStore)
        stats = self.lock_stats
        stats.waited_s += store.lock_decisions()
        began, cpu = time.monotonic(), time.thread_time()
        try:
            return super()._decide_and_commit(batch, dones)
        finally:
            store.unlock_decisions()
            stats.groups += 1
            stats.held_s += time.monotonic() - began
            stats.held_cpu_s += time.thread_time() - cpu

    async def adopt(self, items: list[OutboxItem]) -> None:
        """Deliver rows another (dead) worker committed, as if this one had."""
        self.runner.stored(await self.db(lambda s: newest(items, s)))
        self.stats.recovered_rows += len(items)
        for item in items:
            self._deliver(item)


@dataclass
class WorkerStats:
    fetched: int = 0
    acked: int = 0
    duplicates: int = 0
    adopted: int = 0
    redelivered: int = 0  # messages the bus delivered more than once
    partitions: set[int] = field(default_factory=set)


class Worker:
    """One worker process's loop (module docstring); :meth:`run` until cancelled."""

    def __init__(
        self,
        bus: Bus,
        membership: Membership,
        make_driver: Callable[[int], WorkerDriver],
        *,
        takeover: bool = True,
        expected: int = 1,
        tick_s: float = 0.5,
    ) -> None:
        self.bus, self.membership, self.make_driver = bus, membership, make_driver
        self.takeover, self.expected, self.tick_s = takeover, expected, tick_s
        self.stats = WorkerStats()
        self.driver: WorkerDriver | None = None
        self._consumers: dict[int, asyncio.Task[None]] = {}
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """End :meth:`run` between two ticks (a store call is never cut in half)."""
        self._stop.set()

    async def run(self, ready: Callable[[Worker], None] | None = None) -> None:
        slot = await asyncio.to_thread(self.membership.join)
        log.info("worker pid %d holds slot %d", os.getpid(), slot)
        self.driver = self.make_driver(slot)
        await self.driver.start()
        try:
            await self._tick()
            if ready is not None:
                ready(self)
            while not self._stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.tick_s)
                if not self._stop.is_set():
                    await self._tick()
        finally:
            for task in self._consumers.values():
                task.cancel()
            for task in self._consumers.values():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self.driver.stop()
            await asyncio.to_thread(self.membership.leave)
            messages = self.driver.stats.messages_handled
            log.info(self.driver.lock_stats.line(self.membership.slot, messages))

    async def _tick(self) -> None:
        driver, slot = self.driver, self.membership.slot
        assert driver is not None and slot is not None
        # a lost slot connection ends the worker (StoreError): another may hold the slot now
        live = await asyncio.to_thread(self.membership.live)
        owned = owned_partitions(slot, live, self.bus.config.partitions,
                                 takeover=self.takeover, expected=self.expected)  # fmt: skip
        before = set(self._consumers)
        for p in sorted(owned - before):
            self._consumers[p] = asyncio.create_task(self._consume(p), name=f"partition-{p}")
        for p in sorted(before - owned):
            self._consumers.pop(p).cancel()
        if owned != before:
            new, gone = len(owned - before), len(before - owned)
            log.info("slot %d consumes %d partitions (%d new, %d given up) of %d live workers",
                     slot, len(owned), new, gone, len(live))  # fmt: skip
        self.stats.partitions = set(self._consumers)
        if self.takeover and live:
            try:
                items = await driver.db(lambda s: s.adopt(live))  # type: ignore[attr-defined]
            except StoreError as e:
                log.error("cannot adopt outbox rows: %s", e)
                return
            if items:
                log.info("adopted %d outbox rows of dead workers", len(items))
                self.stats.adopted += len(items)
                await driver.adopt(items)

    async def _consume(self, partition: int) -> None:
        """Fetch, decide, ack, until cancelled; a failure is logged and the loop goes on
        with a new subscription (the unacked message comes back)."""
        sub: Subscription | None = None
        while True:
            try:
                if sub is None:
                    sub = await self.bus.consume(partition)
                for message in await sub.fetch(1, timeout=1.0):
                    await self._handle(message)
            except asyncio.CancelledError:
                if sub is not None:
                    with contextlib.suppress(BusError):
                        await sub.close()
                raise
            except Exception as e:  # BusError, StoreError, a bug: never end the partition
                log.error("partition %d: %s: %s", partition, type(e).__name__, e)
                if sub is not None:
                    with contextlib.suppress(BusError):
                        await sub.close()
                sub = None
                await asyncio.sleep(0.5)

    async def _handle(self, message: BusMessage) -> None:
        driver = self.driver
        assert driver is not None
        self.stats.fetched += 1
        if message.deliveries > 1:
            self.stats.redelivered += 1
        try:
            envelope = decode(message.payload)
        except ValueError as e:  # not ours: ack it, or it would block the partition
            log.error("seq %d on partition %d dropped: %s", message.seq, message.partition, e)
            await self.bus.ack(message)
            return
        outcome: Outcome
        while True:
            try:
                outcome = await driver.submit(envelope.message)
                break
            except StoreError as e:
                if not e.retriable:  # it can never be stored: the bus dead-letters it
                    log.error("seq %d cannot be committed: %s", message.seq, e)
                    with contextlib.suppress(BusError):
                        await self.bus.nak(message)
                    return
                # not committed, or not known to be: try again (the inbox knows a repeat)
                log.warning("seq %d not committed yet (%s)", message.seq, e)
                await asyncio.sleep(0.2)
        if envelope.queued:
            mid = envelope.message.message_id
            await driver.db(lambda s: s.take_inbound([mid]))
        if outcome == "duplicate":
            self.stats.duplicates += 1
        await self.bus.ack(message)
        self.stats.acked += 1

    def status(self) -> dict[str, Any]:
        s = self.stats
        return {
            "slot": self.membership.slot,
            "pid": os.getpid(),
            "partitions": sorted(s.partitions),
            "fetched": s.fetched,
            "acked": s.acked,
            "duplicates": s.duplicates,
            "redelivered": s.redelivered,
            "adopted_rows": s.adopted,
            **({"driver": self.driver.status()} if self.driver is not None else {}),
        }
