"""The record of one write to a business fact: what an emulator journals, what a run's
history holds (:class:`analysis.history.History`) and what the checkers judge.

It is a named tuple: a run keeps millions of them, and a tuple of plain values is
smaller, quicker to build, and left alone by the garbage collector once it has looked
at it (a dataclass instance is rescanned every time).
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["FactChange"]


class FactChange(NamedTuple):
    """A system wrote ``value`` to ``field`` of ``entity`` at ``t`` because of ``cause``
    (the message or request id that made the write, so a write applied twice for the
    same cause can be told from two distinct updates), within the trace
    ``correlation_id``."""

    t: float
    system: str
    entity: str
    field: str
    value: Any
    cause: str
    correlation_id: str | None = None
