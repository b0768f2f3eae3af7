"""The store contract and its in-memory implementation.

A store keeps the inbox (ids of consumed messages), the entity versions the
engine decided on, the outbox (requests not yet carried out) and dead letters.
``commit`` records a whole decision at once — consumed ids, entities, new
outbox rows and dead letters — so a crash leaves either all of it or none.
The in-memory store is the simulation default; durable backends implement the
same contract.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol

from sync_core.messages import DeadLetter, Decision, Entity, Request

__all__ = ["MemoryStore", "OutboxItem", "StateView", "Store"]


class StateView(Protocol):
    """What the engine may read: nothing else."""

    def consumed(self, message_id: str) -> bool: ...

    def entity(self, kind: str, key: str) -> Entity | None: ...


@dataclass(frozen=True)
class OutboxItem:
    outbox_id: int
    request: Request


class Store(ABC):
    @abstractmethod
    def consumed(self, message_id: str) -> bool: ...

    @abstractmethod
    def entity(self, kind: str, key: str) -> Entity | None: ...

    @abstractmethod
    def commit(self, decision: Decision) -> list[OutboxItem]:
        """Record ``decision`` atomically; return the outbox rows it added."""

    @abstractmethod
    def pending(self) -> list[OutboxItem]:
        """Outbox rows not yet marked done, oldest first."""

    @abstractmethod
    def done(self, outbox_id: int) -> None: ...

    @abstractmethod
    def add_dead_letter(self, letter: DeadLetter) -> None: ...

    @abstractmethod
    def dead_letters(self) -> list[DeadLetter]: ...


class MemoryStore(Store):
    def __init__(self) -> None:
        self._inbox: set[str] = set()
        self._entities: dict[tuple[str, str], Entity] = {}
        self._outbox: dict[int, Request] = {}
        self._next_id = 1
        self._dead: list[DeadLetter] = []

    def consumed(self, message_id: str) -> bool:
        return message_id in self._inbox

    def entity(self, kind: str, key: str) -> Entity | None:
        return self._entities.get((kind, key))

    def commit(self, decision: Decision) -> list[OutboxItem]:
        self._inbox.update(decision.consumed)
        for change in decision.changes:
            e = change.entity
            self._entities[(e.kind, e.key)] = e
        added = []
        for request in decision.requests:
            self._outbox[self._next_id] = request
            added.append(OutboxItem(self._next_id, request))
            self._next_id += 1
        self._dead.extend(decision.dead_letters)
        return added

    def pending(self) -> list[OutboxItem]:
        return [OutboxItem(i, r) for i, r in self._outbox.items()]

    def done(self, outbox_id: int) -> None:
        self._outbox.pop(outbox_id, None)

    def add_dead_letter(self, letter: DeadLetter) -> None:
        self._dead.append(letter)

    def dead_letters(self) -> list[DeadLetter]:
        return list(self._dead)
