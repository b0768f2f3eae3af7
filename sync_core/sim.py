"""The SimPy driver: runs the engine in virtual time.

Theory of operation: inbound messages queue in a deque; one consumer takes them
in order, one per turn of the event loop (``submit`` wakes it when idle), asks
the engine for a decision at the current virtual time, commits it to the store
in one step, and starts one delivery process per new outbox row.  Each delivery
follows the ``planner`` (sans-IO: retries with capped, jittered backoff
honouring Retry-After, a circuit breaker per target) and, for each call, waits
for a slot of its priority lane (``LANES``: critical supply has slots of its
own and may borrow idle routine ones): it calls the target through the
``transport`` (which owns latency and faults), waits when told to, hands a
successful read back to the engine as a new inbound message, marks a delivered
row done, and dead-letters what the planner gives up on with its reason.  In
``batch`` mode a scheduler submits a tick every interval.  The engine's
behaviour is identical in every driver; only how time passes and how bytes move
differ.

Crashes: ``crash()`` kills the core at the current instant — the consumer and
every delivery in flight stop where they are (a request already carried may
have been applied by its target, its outbox row still pending), and
``submit`` refuses messages, as a dead process refuses connections, so
senders must retry.  Messages accepted before the crash were committed (a
webhook is acknowledged only once it is durable), so they survive.
``restart()`` starts a new consumer and re-delivers every pending outbox row
from the store: idempotency keys make the repeats harmless.

``defects`` (:class:`~sync_core.defects.Defects`, for ``supplysync selftest``)
breaks the driver on purpose: a restart that forgets the pending outbox, and
``touched``, the trace ids of the writes the driver's defects affected.  Unset,
it costs nothing: the hooks sit only in ``restart`` and where a write is given up.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable, Generator
from typing import Any, Protocol

import simpy

from sync_core.defects import Defects, request_trace
from sync_core.delivery import DeliveryPlanner, Done, GiveUp, Lanes, Send, Wait
from sync_core.engine import Engine
from sync_core.messages import DeadLetter, Inbound, Kind, Request, Response
from sync_core.store import OutboxItem, Store, superseded

__all__ = ["SimDriver", "SimTransport"]


# (t, direction, system, operation, message id, correlation id, status, detail): what the
# driver sent, retried, received and dead-lettered, for the run's history.
Observer = Callable[[float, str, str, str, str, str | None, int | None, str | None], None]


LANES = {"critical": 16, "routine": 48}  # concurrent calls per lane, as the live driver


class SimTransport(Protocol):
    def call(self, request: Request) -> Generator[simpy.Event, Any, Response]:
        """Carry ``request`` to its target in virtual time and return the answer."""
        ...


class SimDriver:
    def __init__(
        self,
        env: simpy.Environment,
        engine: Engine,
        store: Store,
        transport: SimTransport,
        epoch: dt.datetime,
        planner: DeliveryPlanner,
        observe: Observer | None = None,
        defects: Defects | None = None,
    ) -> None:
        self.env = env
        self.engine = engine
        self.store = store
        self.transport = transport
        self.epoch = epoch
        self.planner = planner
        self.observe = observe
        self.inbox: deque[Inbound] = deque()  # accepted (durable), not yet handled
        self.messages_handled = 0
        self.requests_sent = 0
        self.superseded = 0
        self.crashes = 0
        self.up = True
        self._life = 0  # which incarnation of the process a coroutine belongs to
        self._wake: simpy.Event | None = None  # the idle consumer waits on it
        self.lane_capacity = dict(LANES)
        self.lanes: Lanes[OutboxItem] = Lanes(self.lane_capacity)
        self._slot_events: dict[int, simpy.Event] = {}  # id(item) → its turn for a slot
        self.defects = defects
        self.touched: set[str] = set()  # trace ids of writes the defects affected
        env.process(self._consume(self._life))

    def submit(self, message: Inbound) -> bool:
        """Accept a message (True), or refuse it while the core is down (False)."""
        if not self.up:
            return False
        self.inbox.append(message)
        wake = self._wake
        if wake is not None and not wake.triggered:
            wake.succeed()
        return True

    def every(self, interval_s: float, first_at_s: float, kind: Kind = Kind.BATCH_TICK) -> None:
        """Submit a tick of ``kind`` at ``first_at_s`` and every ``interval_s`` after it."""
        self.env.process(self._ticks(interval_s, first_at_s, kind))

    def crash(self) -> None:
        """Kill the core now: everything in flight stops; committed state survives."""
        if self.up:
            self.up = False
            self.crashes += 1
            self._life += 1
            self._wake = None  # the dead consumer takes no more messages
            self.planner.forget()
            self.lanes = Lanes(self.lane_capacity)  # the slots die with the process
            self._slot_events.clear()

    def restart(self) -> None:
        """Start again on the same store: consume on, re-deliver the pending outbox."""
        if self.up:
            return
        self.up = True
        self.env.process(self._consume(self._life))
        pending = self.store.pending()
        if self.defects is not None:
            self.touched.update(t for item in pending if (t := request_trace(item.request)))
            if self.defects.lose_outbox_on_crash:  # forgotten: never delivered
                self.store.done_many([item.outbox_id for item in pending])
                pending = []
        for item in pending:
            self.env.process(self._deliver(item, self._life))
        self.resubmit_replayed()

    def resubmit_replayed(self) -> None:
        """Hand on the inbound messages replayed from the dead-letter queue."""
        for message in self.store.pending_inbound():
            self.submit(message)

    def _now(self) -> dt.datetime:
        return self.epoch + dt.timedelta(seconds=self.env.now)

    def _consume(self, life: int) -> Generator[simpy.Event, Any, None]:
        while True:
            # One message per turn of the event loop, as a queue's get would hand it
            # over: a turn at once when one is waiting, else when one is submitted.
            turn = self.env.event()
            if self.inbox:
                turn.succeed()
            else:
                self._wake = turn
            yield turn
            if life != self._life:  # crashed meanwhile: what was accepted stays queued
                return
            message = self.inbox.popleft()
            decision = self.engine.handle(message, self._now(), self.store)
            self.messages_handled += 1
            if self.observe is not None:
                self._observe_inbound(message, decision)
            for item in self.store.commit(decision):
                self.env.process(self._deliver(item, life))
            if "#replay" in message.message_id:
                self.store.take_inbound([message.message_id])

    def _drop_superseded(self, item: OutboxItem) -> bool:
        """Drop a write a newer version of its entity made obsolete — before planning it,
        so it never takes a half-open breaker's probe it would not use."""
        if not superseded(item.request, self.store):
            return False
        self.superseded += 1
        self.planner.drop(item.outbox_id)
        self.store.done(item.outbox_id)
        return True

    def _start_ready(self, offered: OutboxItem | None = None) -> bool:
        """Start what may run now; True when that includes ``offered`` (it goes on at
        once, without an event: it was not waiting)."""
        started = False
        while (ready := self.lanes.next_ready()) is not None:
            if ready is offered:
                started = True
            else:
                self._slot_events.pop(id(ready)).succeed()
        return started

    def _observe_inbound(self, message: Inbound, decision: Any) -> None:
        assert self.observe is not None
        system = str(message.kind).split(".")[0]
        t = float(self.env.now)
        if not decision.duplicate:
            self.observe(t, "received", system, str(message.kind), message.message_id,
                         message.correlation_id, None, None)  # fmt: skip
        for letter in decision.dead_letters:
            self.observe(t, "dead_lettered", system, str(message.kind), letter.message_id,
                         message.correlation_id, None, letter.reason)  # fmt: skip

    def _deliver(self, item: OutboxItem, life: int) -> Generator[simpy.Event, Any, None]:
        request = item.request
        attempts = 0
        mid = request.idempotency_key or f"outbox:{item.outbox_id}"  # causes name the key
        if self._drop_superseded(item):
            return
        action = self.planner.plan(item, self.env.now)
        while True:
            if isinstance(action, Wait):
                yield self.env.timeout(max(0.0, action.at - self.env.now))
                if life != self._life or self._drop_superseded(item):
                    return
                action = self.planner.plan(item, self.env.now)
            elif isinstance(action, Send):
                lanes = self.lanes
                lanes.offer(item, request.critical)
                if not self._start_ready(item):  # no free slot of its lane: wait for one
                    turn = self.env.event()
                    self._slot_events[id(item)] = turn
                    yield turn  # (critical work never waits behind routine)
                    if life != self._life:
                        return
                self.requests_sent += 1
                attempts += 1
                response = yield from self.transport.call(request)
                if lanes is self.lanes:
                    lanes.release(item)
                    self._start_ready()
                if self.observe is not None:
                    self.observe(float(self.env.now), "sent" if attempts == 1 else "retried",
                                 request.target, request.operation, mid,
                                 request.correlation_id, response.status, None)  # fmt: skip
                if life != self._life:
                    return  # the reply reaches a dead process; the row stays pending
                action = self.planner.plan(item, self.env.now, response)
            elif isinstance(action, GiveUp):
                letter = DeadLetter(
                    f"outbox:{item.outbox_id}",
                    request.operation,
                    action.reason,
                    request.body,
                    request=request,
                    correlation_id=request.correlation_id,
                    at=self.env.now,
                )
                self.store.give_up(item.outbox_id, letter)  # one transaction
                if self.defects is not None and (t := request_trace(request)):
                    self.touched.add(t)
                if self.observe is not None:
                    self.observe(float(self.env.now), "dead_lettered", request.target,
                                 request.operation, mid, request.correlation_id, None,
                                 action.reason)  # fmt: skip
                return
            else:
                assert isinstance(action, Done)
                self.store.done(item.outbox_id)
                if request.reply_kind is not None:
                    self._reply(item, action.response)
                return

    def _reply(self, item: OutboxItem, response: Response) -> None:
        request = item.request
        self.submit(
            Inbound(
                f"reply:{item.outbox_id}",
                request.reply_kind or Kind.ERP_PO_DOCUMENT,
                response.body,
                request.correlation_id,
                query=dict(request.params),
            )
        )

    def _ticks(
        self, interval_s: float, first_at_s: float, kind: Kind
    ) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(max(0.0, first_at_s - self.env.now))
        n = 0
        while True:
            n += 1  # a tick while the core is down is missed, as a cron job's would be
            self.submit(Inbound(f"{kind}:{n}", kind, {"at": self._now().isoformat()}))
            yield self.env.timeout(interval_s)
