"""The SimPy driver: runs the engine in virtual time.

Theory of operation: inbound messages queue in a SimPy ``Store``; one consumer
takes them in order, asks the engine for a decision at the current virtual
time, commits it to the store in one step, and starts one delivery process per
new outbox row.  A delivery calls the target through the ``transport`` (which
owns latency and faults); a successful read is handed back to the engine as a
new inbound message, a successful write marks the row done, and a failure is
dead-lettered with the status and reason.  In ``batch`` mode a scheduler
submits a tick every interval.  The engine's behaviour is identical in every
driver; only how time passes and how bytes move differ.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator
from typing import Any, Protocol

import simpy

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
    ) -> None:
        self.env = env
        self.engine = engine
        self.store = store
        self.transport = transport
        self.epoch = epoch
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
        self.requests_sent += 1
        response = yield from self.transport.call(request)
        self.store.done(item.outbox_id)
        if not response.ok:
            reason = f"{request.target} {request.operation} answered {response.status}"
            if isinstance(response.body, dict) and "detail" in response.body:
                reason += f": {response.body['detail']}"
            self.store.add_dead_letter(
                DeadLetter(f"outbox:{item.outbox_id}", request.operation, reason, request.body)
            )
        elif request.reply_kind is not None:
            self.submit(
                Inbound(
                    f"reply:{item.outbox_id}",
                    request.reply_kind,
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
