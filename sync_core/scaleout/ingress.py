"""The scale-out core's ingress: a webhook is acknowledged once the bus has stored it.

Theory of operation.  The ingress serves the core's whole HTTP API (the same FastAPI
app, :func:`sync_core.service.app.create_app`) over an :class:`IngressDriver`: the live
driver with its engine, group commit and outbox left idle, and ``submit`` replaced by a
publish.  A webhook's message is published to the bus (:mod:`sync_core.scaleout.envelope`:
keyed by its PO number, deduplicated by its message id, JetStream's ``Nats-Msg-Id``) and
the webhook is answered 202 once the bus acknowledged the publish: stored in the stream
(on disk, replicated as the stream is configured).  A publish that fails is a 503 with
``Retry-After``: the sender sends again, and the bus or the inbox recognises a repeat.
So killing the ingress at any moment loses nothing: what it acknowledged is in the
stream, what it did not the sender still holds.

Everything else reads the store: dead letters, entities, the audit trail.  A replayed
dead letter is written to the store as in one process; a request goes to the outbox
without an owner, and a worker adopts it (:meth:`WorkerStore.adopt`); a message is
published to the bus for the workers (flagged as taken from the store's inbound queue).
``/status`` reads from memory: ``queued`` is the bus's backlog (messages stored and not
yet acknowledged by a worker) and ``outbox_pending`` the outbox's rows, both refreshed in
the background every half second, ``workers`` the live worker slots.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sync_core.audit import ANONYMOUS
from sync_core.bus import Bus, BusError
from sync_core.drivers.asyncio import LiveDriver, Outcome
from sync_core.messages import Inbound
from sync_core.scaleout.envelope import encode, entity_key
from sync_core.scaleout.membership import Membership
from sync_core.scaleout.store import outbox_count
from sync_core.store import DeadLetterRecord, StoreError

__all__ = ["IngressDriver", "bus_backlog"]

log = logging.getLogger("supplysync.ingress")
REFRESH_S = 0.5


async def bus_backlog(bus: Bus) -> int | None:
    """Messages stored and not yet acknowledged, over every partition (None: unknown)."""
    js = getattr(bus, "_js", None)  # NATS JetStream: each partition's durable consumer
    if js is None:
        return None
    import nats.js.errors

    total = 0
    for p in range(bus.config.partitions):
        durable = f"{bus.stream}_p{p}"  # type: ignore[attr-defined]
        try:
            info = await js.consumer_info(bus.stream, durable)  # type: ignore[attr-defined]
        except nats.js.errors.NotFoundError:
            # nobody consumed it yet: all of the partition's messages wait
            state = await js.stream_info(bus.stream, subjects_filter=bus.subject(p))  # type: ignore[attr-defined]
            total += sum((state.state.subjects or {}).values())
            continue
        total += (info.num_pending or 0) + (info.num_ack_pending or 0)
    return total


class IngressDriver(LiveDriver):
    """Publishes what the service submits; reads the store for the rest."""

    def __init__(self, bus: Bus, members: Membership, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.bus = bus
        self.members = members
        self.published = 0
        self.backlog: int | None = None
        self.outbox_rows: int | None = None
        self.workers: list[int] = []
        self._watcher: asyncio.Task[None] | None = None
        self.on_stop: list[Callable[[], None]] = []  # run in a thread once stopped

    async def start(self) -> None:
        self._store = await self._db(self._open_store)
        self.stats.started_at = self.clock()
        self._dead_letters = await self.db(lambda s: len(s.dead_letters()))
        await asyncio.to_thread(self.members.watch)
        await self._refresh_once()
        self._watcher = asyncio.create_task(self._watch(), name="ingress-status")

    async def stop(self) -> None:
        self.begin_shutdown()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watcher
        if self._store is not None:  # let a status read in the store thread finish first
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.db(lambda s: None), self.drain_s)
        await super().stop()
        with contextlib.suppress(BusError):
            await self.bus.close()
        await asyncio.to_thread(self.members.leave)
        for hook in self.on_stop:
            await asyncio.to_thread(hook)

    # -- in -------------------------------------------------------------------------------

    async def submit(self, message: Inbound, traceparent: str | None = None) -> Outcome:
        """Published to the bus: ``accepted``, or ``duplicate`` within its dedup window."""
        if self._closing:
            raise StoreError("submit", "the core is stopping: send it again", retriable=True)
        return await self._publish(message)

    def submit_nowait(self, message: Inbound) -> None:
        self._spawn(self._publish_quietly(message))

    async def _publish_quietly(self, message: Inbound) -> None:
        with contextlib.suppress(StoreError):
            await self._publish(message)

    async def _publish(self, message: Inbound, *, queued: bool = False) -> Outcome:
        self.observe.arrived(message, self.clock())
        try:
            ack = await self.bus.publish(entity_key(message), encode(message, queued=queued),
                                         dedup_id=message.message_id)  # fmt: skip
        except BusError as e:
            log.error("publish of %s failed: %s", message.message_id, e)
            raise StoreError("publish", f"the bus did not store it: {e}", retriable=True) from e
        self.published += 1
        self.stats.messages_handled += 1
        if ack.duplicate:
            self.stats.duplicates += 1
        return "duplicate" if ack.duplicate else "accepted"

    async def replay(self, letter_id: int, *, actor: str = ANONYMOUS) -> DeadLetterRecord:
        replayed = await self.db(lambda s: s.replay_dead_letter(letter_id, actor=actor))
        if replayed.inbound is not None:
            await self._publish(replayed.inbound, queued=True)
        return replayed.record  # a request waits in the outbox, ownerless: a worker adopts it

    # -- status ---------------------------------------------------------------------------

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_S)
            await self._refresh_once()

    async def _refresh_once(self) -> None:
        try:
            self.backlog = await bus_backlog(self.bus)
        except Exception as e:  # BusError, or nats-py's own: the backlog is then unknown
            log.warning("cannot read the bus's backlog: %s", e)
            self.backlog = None
        try:
            self.outbox_rows = await self.db(outbox_count)
            self.workers = await asyncio.to_thread(self.members.live)
            self._store_state = "ok"
        except StoreError as e:
            self._store_state = f"failing: {e.reason}"

    @property
    def idle(self) -> bool:
        return not self.backlog and not self.outbox_rows

    def status(self) -> dict[str, Any]:
        base = super().status()
        return {
            **base,
            "role": "ingress",
            "published": self.published,
            # None: not known (a settle wait does not end on it)
            "queued": self.backlog,
            "outbox_pending": self.outbox_rows,
            "workers": len(self.workers),
        }
