"""The outbox runner, sans-IO: the one delivery loop every driver carries out.

Theory of operation
-------------------
The engine decides *what* to send; the runner decides *when*, *whether* and *what
then*, for every outbox row, and answers each event with commands
(:mod:`sync_core.drivers.commands`).  It owns no clock, no socket, no store and no
random source: a driver passes ``now`` (seconds on its own clock) and the answers,
and carries the commands out.  Three events move a row:

``start(item, now)``
    A committed (or recovered, or replayed) row.  A target the connector does not
    know (``knows``, the pre-check) is dead-lettered unsent.  Otherwise the row is
    planned.
``woke(item, now)``
    A :class:`~sync_core.drivers.commands.Sleep` ended: the row is planned again.
``answered(item, now, response)``
    A :class:`~sync_core.drivers.commands.Call` finished: its lane slot is free
    (rows queued for it get their ``Call``), and the answer is planned.

Planning asks, first, whether the row was *superseded*: it writes one version of
an entity and the store already holds a newer one (the runner mirrors the stored
versions: drivers report each commit with :meth:`OutboxRunner.committed`).  Such a
row is skipped unsent, so a retry of an older state never lands after the newer
one; it is asked before each plan, not while a call is on the wire, so it never
takes a half-open breaker's probe it would not use.  Then the
:class:`~sync_core.delivery.DeliveryPlanner` (retries with jittered backoff,
``Retry-After``, a breaker per target) answers in the runner's own commands: a ``Call``
waits in its priority lane (:class:`~sync_core.delivery.Lanes`) and goes to the driver
when it gets a slot, a ``Sleep`` goes to the driver as it is, ``Done`` marks a write
done or hands a read's reply to the engine, ``GiveUp`` dead-letters the request with its reason.

A read's reply becomes an inbound message here, and only here: it passes the
:class:`~sync_core.phi.PhiBoundary` first (``phi``; without one, PHI fields are
dropped), so no part of the core ever holds a patient's MRN or procedure date.

The inbound side has one policy here too, :func:`decide`: a message the engine
cannot handle (any error but the store's) is consumed and dead-lettered with the
reason, never left to block the messages behind it or to end a run.

Replays need nothing special: a replayed request is a new outbox row (``start``);
a replayed message is handed to the engine like any other, flagged by the driver
as taken from the store's inbound queue, so it is taken from there once committed.

A crash (:meth:`OutboxRunner.crash`) loses what a process loses: attempt counts,
breakers and lane slots.  The stored versions are the store's, and survive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sync_core.delivery import Action, DeliveryPlanner, Done, GiveUp, Lanes
from sync_core.drivers.commands import (
    Call,
    Command,
    ConsumeReply,
    DeadLetterRow,
    Delivered,
    Skip,
    Sleep,
)
from sync_core.messages import (
    DeadLetter,
    Decision,
    Entity,
    Inbound,
    Kind,
    Request,
    Response,
    StateView,
)
from sync_core.phi import PhiBoundary
from sync_core.store import OutboxItem, StoreError

__all__ = ["LANES", "Handler", "OutboxRunner", "PreCheck", "RunnerStats", "decide", "newest"]

LANES = {"critical": 16, "routine": 48}  # concurrent calls per lane, in every driver

# None when a request can be sent, else why not (a connector's ``knows``).
PreCheck = Callable[[Request], str | None]


class Handler(Protocol):
    """What :func:`decide` needs of the engine."""

    def handle(self, message: Inbound, now: dt.datetime, state: StateView) -> Decision: ...


def decide(
    engine: Handler, message: Inbound, now: dt.datetime, state: StateView, at: float
) -> tuple[Decision, Exception | None]:
    """The engine's decision on ``message``, and the error it raised, if any.

    The poison-message policy: an error while deciding (no handler for the kind, a
    bug in a flow) consumes the message and dead-letters it with the reason, so the
    ones behind it go on.  A :class:`~sync_core.store.StoreError` is the store's
    failure, not the message's: it propagates, and the driver decides again later.
    ``at`` stamps the letter (driver seconds).
    """
    try:
        return engine.handle(message, now, state), None
    except StoreError:
        raise
    except Exception as e:
        reason = f"engine could not handle {message.kind}: {type(e).__name__}: {e}"
        letter = DeadLetter(
            message.message_id,
            str(message.kind),
            reason,
            message.body,
            correlation_id=message.correlation_id,
            query=message.query,
            at=at,
        )
        consumed = (message.message_id,)
        return Decision(message.message_id, consumed=consumed, dead_letters=(letter,)), e


@dataclass
class RunnerStats:
    delivered: int = 0  # rows the target confirmed (writes done, reads replied)
    retries: int = 0  # sleeps: a retriable answer, or a breaker that refused the call
    superseded: int = 0  # writes skipped unsent: a newer version was stored
    given_up: int = 0  # rows dead-lettered (refused, exhausted, unknown target)


class OutboxRunner:
    """Lanes, retries, breakers, superseded writes, letters and replies (module docstring)."""

    def __init__(
        self,
        planner: DeliveryPlanner,
        lanes: dict[str, int] | None = None,
        knows: PreCheck | None = None,
        phi: PhiBoundary | None = None,
    ) -> None:
        self.planner = planner
        self.phi = phi or PhiBoundary(None)  # no key: PHI fields are dropped
        self.lane_capacity = dict(lanes or LANES)
        self.lanes: Lanes[Call] = Lanes(self.lane_capacity)
        self.knows = knows
        self.stats = RunnerStats()
        self._running: dict[int, Call] = {}  # outbox id → the call holding a slot
        self._versions: dict[tuple[str, str], int] = {}  # the store's entity versions

    # -- what the store holds ----------------------------------------------------------

    def committed(self, decisions: Iterable[Decision]) -> None:
        """These decisions were stored (in this order): their entity versions now are."""
        for decision in decisions:
            self.stored(change.entity for change in decision.changes)

    def stored(self, entities: Iterable[Entity]) -> None:
        """The store holds these entities (after a restart: those pending rows write)."""
        for e in entities:
            self._versions[(e.kind, e.key)] = e.version  # last write wins, as in the store

    def superseded(self, request: Request) -> bool:
        """True when the store holds a newer version of what ``request`` writes."""
        if request.supersedable is None:
            return False
        kind, key, version = request.supersedable
        return self._versions.get((kind, key), version) > version

    # -- the three events --------------------------------------------------------------

    def start(self, item: OutboxItem, now: float) -> list[Command]:
        """A row to deliver: pre-check it, then plan it."""
        if self.knows is not None and (why := self.knows(item.request)) is not None:
            return [self._dead_letter(item, why, now)]
        return self._plan(item, now)

    def woke(self, item: OutboxItem, now: float) -> list[Command]:
        """The :class:`Sleep` for ``item`` ended."""
        return self._plan(item, now)

    def answered(self, item: OutboxItem, now: float, response: Response) -> list[Command]:
        """The :class:`Call` for ``item`` got ``response``: free its slot, plan on.

        The calls that take the freed slot come first, then ``item``'s next step."""
        self.lanes.release(self._running.pop(item.outbox_id))
        started = self._start_ready()
        return started + self._act(self.planner.plan(item, now, response), now)

    def crash(self) -> None:
        """Forget what dies with a process: attempts, breakers, lane slots."""
        self.planner.forget()
        self.lanes = Lanes(self.lane_capacity)
        self._running.clear()

    # -- planning ----------------------------------------------------------------------

    def _plan(self, item: OutboxItem, now: float) -> list[Command]:
        if self.superseded(item.request):
            self.stats.superseded += 1
            self.planner.drop(item.outbox_id)
            return [Skip(item)]
        return self._act(self.planner.plan(item, now), now)

    def _act(self, action: Action, now: float) -> list[Command]:
        if isinstance(action, Call):
            self.lanes.offer(action, action.item.request.critical)
            return self._start_ready()
        if isinstance(action, Sleep):
            self.stats.retries += 1
            return [action]
        if isinstance(action, GiveUp):
            return [self._dead_letter(action.item, action.reason, now)]
        assert isinstance(action, Done)
        self.stats.delivered += 1
        request = action.item.request
        if request.reply_kind is None:
            return [Delivered(action.item)]
        reply = _reply(action.item, request.reply_kind, action.response, self.phi)
        return [ConsumeReply(action.item, reply)]

    def _start_ready(self) -> list[Command]:
        calls: list[Command] = []
        while (call := self.lanes.next_ready()) is not None:
            self._running[call.item.outbox_id] = call
            calls.append(call)
        return calls

    def _dead_letter(self, item: OutboxItem, reason: str, now: float) -> DeadLetterRow:
        self.stats.given_up += 1
        request = item.request
        letter = DeadLetter(
            f"outbox:{item.outbox_id}",
            request.operation,
            reason,
            request.body,
            request=request,
            correlation_id=request.correlation_id,
            at=now,
        )
        return DeadLetterRow(item, letter)


def _reply(item: OutboxItem, kind: Kind, response: Response, phi: PhiBoundary) -> Inbound:
    """A read's answer as the inbound message the engine takes it as (PHI tokenised)."""
    request = item.request
    return Inbound(
        f"reply:{item.outbox_id}",
        kind,
        phi.reply(kind, response.body),
        request.correlation_id,
        query=dict(request.params),
    )


def newest(pending: Sequence[OutboxItem], state: StateView) -> list[Entity]:
    """After a restart: the stored entities the pending rows write versions of."""
    found: list[Entity] = []
    for item in pending:
        if item.request.supersedable is not None:
            kind, key, _ = item.request.supersedable
            known = state.entity(kind, key)
            if known is not None:
                found.append(known)
    return found
