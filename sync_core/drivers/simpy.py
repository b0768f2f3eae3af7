"""The SimPy driver: the outbox runner and the engine in virtual time.

Theory of operation: inbound messages queue in a deque; one consumer takes them
in order, one per turn of the event loop (``submit`` wakes it when idle), asks
the engine for a decision at the current virtual time (:func:`~sync_core.drivers.
runner.decide`: a message the engine cannot handle is dead-lettered, the run goes
on), commits it to the store in one step, and starts one delivery process per new
outbox row.  Each process carries out what the
:class:`~sync_core.drivers.runner.OutboxRunner` commands for its row: a ``Call``
goes through the ``transport`` (which owns latency and faults), a ``Sleep`` is a
timeout, a row queued for a lane slot waits on an event that the ``Call`` granting
the slot (answered to another row's release) triggers; a reply is submitted as a
new inbound message, and a row is marked done or dead-lettered as told.  ``every``
submits a tick (a batch pull, a reconciliation) every interval.  Only how time
passes and how bytes move is written here.

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
from enum import Enum
from typing import Any, Literal, Protocol

import simpy

from sync_core.audit import ANONYMOUS
from sync_core.defects import Defects, request_trace
from sync_core.delivery import DeliveryPlanner
from sync_core.drivers import commands as cmd
from sync_core.drivers.runner import Handler, OutboxRunner, PreCheck, decide
from sync_core.messages import Decision, Inbound, Kind, Request, Response
from sync_core.phi import PhiBoundary
from sync_core.store import DeadLetterRecord, OutboxItem, Store

__all__ = ["SimDriver", "SimTransport"]


# (t, direction, system, operation, message id, correlation id, status, detail): what the
# driver sent, retried, received and dead-lettered, for the run's history.
Observer = Callable[[float, str, str, str, str, str | None, int | None, str | None], None]


class SimTransport(Protocol):
    def call(self, request: Request) -> Generator[simpy.Event, Any, Response]:
        """Carry ``request`` to its target in virtual time and return the answer."""
        ...


class _Queued(Enum):
    """No command for the row yet: it waits for a slot of its lane."""

    QUEUED = "queued"


_QUEUED = _Queued.QUEUED
_Step = cmd.Call | cmd.Sleep | Literal[_Queued.QUEUED] | None  # None: the row is finished


class SimDriver:
    def __init__(
        self,
        env: simpy.Environment,
        engine: Handler,
        store: Store,
        transport: SimTransport,
        epoch: dt.datetime,
        planner: DeliveryPlanner,
        observe: Observer | None = None,
        defects: Defects | None = None,
        *,
        knows: PreCheck | None = None,
        phi: PhiBoundary | None = None,
    ) -> None:
        self.env = env
        self.engine = engine
        self.store = store
        self.transport = transport
        self.epoch = epoch
        self.runner = OutboxRunner(planner, knows=knows, phi=phi)
        self.observe = observe
        # accepted (durable), not yet handled; True for a replay taken from the store's queue
        self.inbox: deque[tuple[Inbound, bool]] = deque()
        self.messages_handled = 0
        self.requests_sent = 0
        self.engine_errors = 0
        self.crashes = 0
        self.up = True
        self._life = 0  # which incarnation of the process a coroutine belongs to
        self._wake: simpy.Event | None = None  # the idle consumer waits on it
        self._slot_events: dict[int, simpy.Event] = {}  # outbox id → its turn for a slot
        self.defects = defects
        self.touched: set[str] = set()  # trace ids of writes the defects affected
        env.process(self._consume(self._life))

    @property
    def superseded(self) -> int:
        """Writes skipped unsent because a newer version was stored."""
        return self.runner.stats.superseded

    def submit(self, message: Inbound, *, replay: bool = False) -> bool:
        """Accept a message (True), or refuse it while the core is down (False).

        ``replay``: it comes from the store's inbound queue, and is taken from it once
        committed."""
        if not self.up:
            return False
        self.inbox.append((message, replay))
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
            self.runner.crash()  # attempts, breakers and slots die with the process
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

    def replay(self, letter_id: int, *, actor: str = ANONYMOUS) -> DeadLetterRecord:
        """Replay dead letter ``letter_id`` (``Store.replay_dead_letter``, audited as done
        by ``actor``) and carry it out: a request goes back to delivery, a message back to
        the engine (while the core is down it waits in the store's queue, and ``restart``
        hands it on)."""
        replayed = self.store.replay_dead_letter(letter_id, actor=actor)
        if replayed.outbox is not None:
            self.env.process(self._deliver(replayed.outbox, self._life))
        if replayed.inbound is not None:
            self.submit(replayed.inbound, replay=True)
        return replayed.record

    def resubmit_replayed(self) -> None:
        """Hand on the inbound messages replayed from the dead-letter queue."""
        for message in self.store.pending_inbound():
            self.submit(message, replay=True)

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
            message, replay = self.inbox.popleft()
            decision, error = decide(self.engine, message, self._now(), self.store, self.env.now)
            self.engine_errors += error is not None
            self.messages_handled += 1
            if self.observe is not None:
                self._observe_inbound(message, decision)
            items = self.store.commit(decision)
            self.runner.committed((decision,))
            for item in items:
                self.env.process(self._deliver(item, life))
            if replay:
                self.store.take_inbound([message.message_id])

    def _observe_inbound(self, message: Inbound, decision: Decision) -> None:
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
        step = self._carry(self.runner.start(item, self.env.now), item)
        while step is not None:
            if isinstance(step, cmd.Sleep):
                yield self.env.timeout(max(0.0, step.until - self.env.now))
                if life != self._life:
                    return
                step = self._carry(self.runner.woke(item, self.env.now), item)
                continue
            if step is _QUEUED:  # no free slot of its lane: wait for one
                turn = self.env.event()
                self._slot_events[item.outbox_id] = turn
                yield turn  # (critical work never waits behind routine)
                if life != self._life:
                    return
                step = turn.value
            assert isinstance(step, cmd.Call)
            self.requests_sent += 1
            response = yield from self.transport.call(item.request)
            if self.observe is not None:
                request = item.request
                self.observe(float(self.env.now), "sent" if step.attempt == 1 else "retried",
                             request.target, request.operation, _message_id(item),
                             request.correlation_id, response.status, None)  # fmt: skip
            if life != self._life:
                return  # the reply reaches a dead process; the row stays pending
            step = self._carry(self.runner.answered(item, self.env.now, response), item)

    def _carry(self, commands: list[cmd.Command], item: OutboxItem) -> _Step:
        """Carry out ``commands``: a slot granted to another row wakes it; ``item``'s own
        next step is returned (None once it is finished, or queued for a slot)."""
        step: _Step = _QUEUED
        for command in commands:
            if command.item is not item:
                assert isinstance(command, cmd.Call)
                self._slot_events.pop(command.item.outbox_id).succeed(command)
            elif isinstance(command, cmd.Call | cmd.Sleep):
                step = command
            else:
                self._finish(command)
                return None
        return step

    def _finish(self, command: cmd.Command) -> None:
        item = command.item
        if isinstance(command, cmd.DeadLetterRow):
            request = item.request
            self.store.give_up(item.outbox_id, command.letter)  # one transaction
            if self.defects is not None and (t := request_trace(request)):
                self.touched.add(t)
            if self.observe is not None:
                self.observe(float(self.env.now), "dead_lettered", request.target,
                             request.operation, _message_id(item), request.correlation_id,
                             None, command.letter.reason)  # fmt: skip
        elif isinstance(command, cmd.ConsumeReply):
            self.store.done(item.outbox_id)
            self.submit(command.message)
        else:
            assert isinstance(command, cmd.Delivered | cmd.Skip)
            self.store.done(item.outbox_id)

    def _ticks(
        self, interval_s: float, first_at_s: float, kind: Kind
    ) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(max(0.0, first_at_s - self.env.now))
        n = 0
        while True:
            n += 1  # a tick while the core is down is missed, as a cron job's would be
            self.submit(Inbound(f"{kind}:{n}", kind, {"at": self._now().isoformat()}))
            yield self.env.timeout(interval_s)


def _message_id(item: OutboxItem) -> str:
    """The id a row goes by in the history: its idempotency key (causes name it)."""
    return item.request.idempotency_key or f"outbox:{item.outbox_id}"
