"""The SimPy driver: runs the engine in virtual time.

Theory of operation: inbound messages queue in a SimPy ``Store``; one consumer
takes them in order, asks the engine for a decision at the current virtual
time, commits it to the store in one step, and starts one delivery process per
new outbox row.  Each delivery follows the ``planner`` (sans-IO: retries with
capped, jittered backoff honouring Retry-After, a circuit breaker per target):
it calls the target through the ``transport`` (which owns latency and faults),
waits when told to, hands a successful read back to the engine as a new
inbound message, marks a delivered row done, and dead-letters what the planner
gives up on with its reason.  In ``batch`` mode a scheduler
submits a tick every interval.  The engine's behaviour is identical in every
driver; only how time passes and how bytes move differ.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator
from typing import Any, Protocol

import simpy

from sync_core.delivery import DeliveryPlanner, Done, GiveUp, Send, Wait
from sync_core.engine import Engine
from sync_core.messages import DeadLetter, Inbound, Kind, Request, Response
from sync_core.store import OutboxItem, Store

__all__ = ["SimDriver", "SimTransport"]


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
    ) -> None:
        self.env = env
        self.engine = engine
        self.store = store
        self.transport = transport
        self.epoch = epoch
        self.planner = planner
        self.inbox: simpy.Store = simpy.Store(env)
        self.messages_handled = 0
        self.requests_sent = 0
        env.process(self._consume())

    def submit(self, message: Inbound) -> None:
        self.inbox.put(message)

    def every(self, interval_s: float, first_at_s: float) -> None:
        """Submit a batch tick at ``first_at_s`` and every ``interval_s`` after it."""
        self.env.process(self._ticks(interval_s, first_at_s))

    def _now(self) -> dt.datetime:
        return self.epoch + dt.timedelta(seconds=self.env.now)

    def _consume(self) -> Generator[simpy.Event, Any, None]:
        while True:
            message = yield self.inbox.get()
            decision = self.engine.handle(message, self._now(), self.store)
            self.messages_handled += 1
            for item in self.store.commit(decision):
                self.env.process(self._deliver(item))

    def _deliver(self, item: OutboxItem) -> Generator[simpy.Event, Any, None]:
        request = item.request
        action = self.planner.plan(item, self.env.now)
        while True:
            if isinstance(action, Wait):
                yield self.env.timeout(max(0.0, action.at - self.env.now))
                action = self.planner.plan(item, self.env.now)
            elif isinstance(action, Send):
                self.requests_sent += 1
                response = yield from self.transport.call(request)
                action = self.planner.plan(item, self.env.now, response)
            elif isinstance(action, GiveUp):
                self.store.done(item.outbox_id)
                self.store.add_dead_letter(
                    DeadLetter(f"outbox:{item.outbox_id}", request.operation, action.reason,
                               request.body)
                )  # fmt: skip
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

    def _ticks(self, interval_s: float, first_at_s: float) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(max(0.0, first_at_s - self.env.now))
        n = 0
        while True:
            n += 1
            self.submit(Inbound(f"tick:{n}", Kind.BATCH_TICK, {"at": self._now().isoformat()}))
            yield self.env.timeout(interval_s)
