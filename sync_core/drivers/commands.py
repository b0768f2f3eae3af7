"""What the outbox runner tells a driver to do: frozen value objects, nothing else.

The runner (:mod:`sync_core.drivers.runner`) answers every event with a list of
these commands; a driver carries them out in order and reports back.  Only
:class:`Call` and :class:`Sleep` expect a report (``answered`` and ``woke``); the
others end their outbox row.  A row the runner returns no command for is queued
for a slot of its lane: a later :class:`Call` for it says its turn has come.

:class:`Call` and :class:`Sleep` are also what the retry planner
(:class:`~sync_core.delivery.DeliveryPlanner`) answers: one vocabulary from the planner
to the driver.  The runner hands a ``Sleep`` on as it is, and holds a ``Call`` in its
lane until a slot is free.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync_core.messages import DeadLetter, Inbound
from sync_core.store import OutboxItem

__all__ = [
    "Call",
    "Command",
    "ConsumeReply",
    "DeadLetterRow",
    "Delivered",
    "RowCommand",
    "Skip",
    "Sleep",
]


@dataclass(frozen=True)
class RowCommand:
    """What every command carries: the outbox row it is about (``command.item``)."""

    item: OutboxItem


@dataclass(frozen=True)
class Call(RowCommand):
    """Carry ``item.request`` to its target now (its lane slot is held); report the
    answer with ``runner.answered``.  ``attempt`` counts from 1."""

    attempt: int


@dataclass(frozen=True)
class Sleep(RowCommand):
    """Nothing to do for ``item`` until ``until`` (driver seconds); then ``runner.woke``."""

    until: float
    reason: str


@dataclass(frozen=True)
class Delivered(RowCommand):
    """The target confirmed the write: mark the row done."""


@dataclass(frozen=True)
class ConsumeReply(RowCommand):
    """A read succeeded: hand ``message`` (the reply) to the engine; the row is done
    once that message is committed (a crash in between reads again, and the inbox
    drops the second reply)."""

    message: Inbound


@dataclass(frozen=True)
class Skip(RowCommand):
    """A newer version of the entity is stored: mark the row done, unsent."""


@dataclass(frozen=True)
class DeadLetterRow(RowCommand):
    """Give up on the row: record ``letter`` and mark the row done, in one transaction
    (``Store.give_up``)."""

    letter: DeadLetter


Command = Call | Sleep | Delivered | ConsumeReply | Skip | DeadLetterRow
