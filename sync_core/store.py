"""The store contract, its in-memory implementation, group commit and the JSON codec.

A store keeps the inbox (ids of consumed messages), the entity versions the
engine decided on, the outbox (requests not yet carried out), dead letters and
an audit trail of every committed decision.  ``commit`` records a whole
decision at once — consumed ids, entities, new outbox rows, dead letters and
its audit record — so a crash leaves either all of it or none: consuming a
message and recording its effects is one transaction, and a decision that
consumes a message consumed before is refused whole (:class:`AlreadyConsumed`):
it was made on stale state.  ``commit_many`` records
several decisions in one transaction (group commit), exactly as if they had
been committed one after the other.

:class:`GroupCommit` lets a driver decide many messages before it commits them
together: it is the engine's :class:`StateView` over the store *and* the
decisions staged since the last commit, so a duplicate or a newer version
within the group is seen as it would be one message at a time.

What a store keeps must be JSON: request params and bodies, entity data and
dead-letter bodies are dicts with string keys, lists, strings, numbers,
booleans and ``None`` (a tuple comes back as a list).  :func:`request_to_json`
and :func:`request_from_json` round-trip a :class:`Request` exactly.

The in-memory store is the simulation default; durable backends
(:mod:`sync_core.store_sqlite`) implement the same contract, and one contract
test suite runs against each.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self

from sync_core.errors import SyncCoreError
from sync_core.messages import DeadLetter, Decision, Entity, Kind, Request

__all__ = [
    "AlreadyConsumed",
    "AuditRecord",
    "GroupCommit",
    "MemoryStore",
    "OutboxItem",
    "StateView",
    "Store",
    "StoreError",
    "decode_json",
    "encode_json",
    "request_from_json",
    "request_to_json",
]


class StoreError(SyncCoreError):
    """A store could not do what was asked; nothing of the failed write was kept.

    ``operation`` names the store method, ``reason`` what went wrong (the
    driver's message when a database failed).  ``retriable`` is true when the
    same call can succeed later unchanged (the database was busy or locked);
    otherwise the failure is permanent for this input or this store.
    """

    def __init__(self, operation: str, reason: str, *, retriable: bool = False) -> None:
        self.operation = operation
        self.reason = reason
        self.retriable = retriable
        super().__init__(f"store {operation}: {reason}")


class AlreadyConsumed(StoreError):
    """A decision consumes a message already consumed (before, or earlier in its group).

    It was decided on stale state — another writer got there first — so none of
    the group was stored.  Decide the message again: the engine will now see a
    duplicate.  Not retriable: the same commit can never succeed.
    """

    def __init__(self, message_ids: Sequence[str]) -> None:
        self.message_ids = tuple(message_ids)
        shown = ", ".join(self.message_ids[:5])
        more = len(self.message_ids) - 5
        super().__init__(
            "commit", f"already consumed: {shown}{f' and {more} more' if more > 0 else ''}"
        )


def reconsumed(decisions: Sequence[Decision], consumed: Callable[[str], bool]) -> list[str]:
    """The ids that ``decisions`` consume although ``consumed`` or an earlier one did."""
    seen: set[str] = set()
    again = []
    for d in decisions:
        for message_id in d.consumed:
            if message_id in seen or consumed(message_id):
                again.append(message_id)
            seen.add(message_id)
    return again


class StateView(Protocol):
    """What the engine may read: nothing else."""

    def consumed(self, message_id: str) -> bool: ...

    def entity(self, kind: str, key: str) -> Entity | None: ...


@dataclass(frozen=True)
class OutboxItem:
    outbox_id: int
    request: Request


@dataclass(frozen=True)
class AuditRecord:
    """One committed decision: which message, what it consumed, how much it did."""

    message_id: str
    consumed: tuple[str, ...]
    changes: int
    requests: int
    dead_letters: int

    @classmethod
    def of(cls, decision: Decision) -> AuditRecord:
        return cls(
            decision.message_id,
            tuple(decision.consumed),
            len(decision.changes),
            len(decision.requests),
            len(decision.dead_letters),
        )


class Store(ABC):
    """The recorder contract every backend implements (see the module docstring)."""

    @abstractmethod
    def consumed(self, message_id: str) -> bool: ...

    @abstractmethod
    def entity(self, kind: str, key: str) -> Entity | None: ...

    @abstractmethod
    def commit(self, decision: Decision) -> list[OutboxItem]:
        """Record ``decision`` atomically; return the outbox rows it added.

        :class:`AlreadyConsumed` when it consumes a message consumed before.
        """

    @abstractmethod
    def commit_many(self, decisions: Sequence[Decision]) -> list[list[OutboxItem]]:
        """Record ``decisions`` in order, all or none; the outbox rows each added.

        Equal to committing them one by one, except that a failure keeps none.
        """

    @abstractmethod
    def pending(self) -> list[OutboxItem]:
        """Outbox rows not yet marked done, oldest first."""

    @abstractmethod
    def done(self, outbox_id: int) -> None:
        """Mark an outbox row carried out; an unknown or finished id is a no-op."""

    @abstractmethod
    def add_dead_letter(self, letter: DeadLetter) -> None: ...

    @abstractmethod
    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter, in the order they were recorded."""

    @abstractmethod
    def audit(self) -> list[AuditRecord]:
        """One record per committed decision, duplicates included, in commit order."""

    @abstractmethod
    def close(self) -> None:
        """Release what the store holds; a closed store may not be used again."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class MemoryStore(Store):
    """The simulation default: plain dicts and lists, nothing survives the process.

    Values are kept as given, never copied or encoded (the engine does not
    mutate what it decided); a durable backend returns equal values decoded
    from JSON.
    """

    def __init__(self) -> None:
        self._inbox: set[str] = set()
        self._entities: dict[tuple[str, str], Entity] = {}
        self._outbox: dict[int, Request] = {}
        self._next_id = 1
        self._dead: list[DeadLetter] = []
        self._audit: list[AuditRecord] = []

    def consumed(self, message_id: str) -> bool:
        return message_id in self._inbox

    def entity(self, kind: str, key: str) -> Entity | None:
        return self._entities.get((kind, key))

    def commit(self, decision: Decision) -> list[OutboxItem]:
        return self.commit_many((decision,))[0]

    def commit_many(self, decisions: Sequence[Decision]) -> list[list[OutboxItem]]:
        again = reconsumed(decisions, self._inbox.__contains__)
        if again:
            raise AlreadyConsumed(again)
        return [self._apply(d) for d in decisions]

    def _apply(self, decision: Decision) -> list[OutboxItem]:
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
        self._audit.append(AuditRecord.of(decision))
        return added

    def pending(self) -> list[OutboxItem]:
        return [OutboxItem(i, r) for i, r in self._outbox.items()]

    def done(self, outbox_id: int) -> None:
        self._outbox.pop(outbox_id, None)

    def add_dead_letter(self, letter: DeadLetter) -> None:
        self._dead.append(letter)

    def dead_letters(self) -> list[DeadLetter]:
        return list(self._dead)

    def audit(self) -> list[AuditRecord]:
        return list(self._audit)

    def close(self) -> None:
        """Nothing to release: the state lives as long as the object."""


class GroupCommit:
    """Decisions staged for one group commit, visible to the engine before they are stored.

    A driver hands this object to ``Engine.handle`` as the state, stages each
    decision with :meth:`stage`, and calls :meth:`commit` when the group is full
    (or nothing else is waiting); only then may it carry out the requests.  If
    the commit fails none of the group is stored and the staging is cleared:
    the driver must decide those messages again.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._decisions: list[Decision] = []
        self._consumed: set[str] = set()
        self._entities: dict[tuple[str, str], Entity] = {}

    def __len__(self) -> int:
        return len(self._decisions)

    def consumed(self, message_id: str) -> bool:
        return message_id in self._consumed or self.store.consumed(message_id)

    def entity(self, kind: str, key: str) -> Entity | None:
        staged = self._entities.get((kind, key))
        return staged if staged is not None else self.store.entity(kind, key)

    def stage(self, decision: Decision) -> None:
        self._decisions.append(decision)
        self._consumed.update(decision.consumed)
        for change in decision.changes:
            e = change.entity
            self._entities[(e.kind, e.key)] = e

    def commit(self) -> list[list[OutboxItem]]:
        """Store every staged decision in one transaction; the outbox rows of each."""
        decisions = self._decisions
        self.discard()
        return self.store.commit_many(decisions) if decisions else []

    def discard(self) -> None:
        self._decisions = []
        self._consumed = set()
        self._entities = {}


# -- JSON: what durable stores write --------------------------------------------------


def _not_json(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# The C encoder made once, without the per-call set-up of ``json.dumps`` and without
# the circular-reference bookkeeping (a cycle ends in RecursionError): half the cost.
_C_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)  # None without the C speedups
_ENCODE: Any = (
    _C_ENCODER(None, _not_json, json.encoder.encode_basestring_ascii, None, ":", ",",
               False, False, False)
    if _C_ENCODER is not None
    else json.JSONEncoder(allow_nan=False, separators=(",", ":"), check_circular=False,
                          default=_not_json).iterencode
)  # fmt: skip
_DECODER = json.JSONDecoder()
_REQUEST_FIELDS = frozenset(Request.__dataclass_fields__)


def encode_json(value: Any) -> str:
    """Compact ASCII JSON of ``value``; :class:`StoreError` when it is not a JSON value."""
    try:
        return "".join(_ENCODE(value, 0))
    except (TypeError, ValueError, RecursionError) as e:
        raise StoreError("encode", f"not a JSON value: {e}") from e


def decode_json(text: str) -> Any:
    try:
        return _DECODER.decode(text)
    except ValueError as e:
        raise StoreError("decode", f"stored text is not JSON: {e}") from e


def request_to_json(request: Request) -> str:
    """A request as compact JSON; fields at their default are left out."""
    doc: dict[str, Any] = {"target": request.target, "operation": request.operation}
    if request.params:
        doc["params"] = request.params
    if request.body is not None:
        doc["body"] = request.body
    if request.idempotency_key is not None:
        doc["idempotency_key"] = request.idempotency_key
    if request.correlation_id is not None:
        doc["correlation_id"] = request.correlation_id
    if request.critical:
        doc["critical"] = True
    if request.reply_kind is not None:
        doc["reply_kind"] = request.reply_kind.value
    return encode_json(doc)


def request_from_json(text: str) -> Request:
    doc = decode_json(text)
    if not isinstance(doc, dict) or not _REQUEST_FIELDS.issuperset(doc):
        raise StoreError("decode", f"not a stored request: {text[:80]!r}")
    try:
        if "reply_kind" in doc:
            doc["reply_kind"] = Kind(doc["reply_kind"])
        return Request(**doc)
    except (TypeError, ValueError) as e:
        raise StoreError("decode", f"not a stored request: {e}") from e
