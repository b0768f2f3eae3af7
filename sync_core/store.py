"""The store contract, its in-memory implementation and group commit.

A store keeps the inbox (ids of consumed messages), the entity versions the
engine decided on, the outbox (requests not yet carried out), dead letters and
an audit trail of every committed decision.  ``commit`` records a whole
decision at once — consumed ids, entities, new outbox rows, dead letters and
its audit record — so a crash leaves either all of it or none: consuming a
message and recording its effects is one transaction, and a decision that
consumes a message consumed before is refused whole (:class:`AlreadyConsumed`):
it was made on stale state.  ``commit_many`` records several decisions in one
transaction (group commit), exactly as if committed one after the other.

:class:`GroupCommit` lets a driver decide many messages before it commits them
together: it is the engine's :class:`~sync_core.messages.StateView` over the store *and* the
decisions staged since the last commit, so a duplicate or a newer version
within the group is seen as it would be one message at a time.  It reads the store
through :meth:`Store.reader`: the store itself, or a read cache (:mod:`sync_core._store_cache`).

Dead letters are a queue a person works through (:mod:`sync_core.dlq`): each
gets an integer id and a status, ``open`` → ``replayed`` or ``discarded`` (with
a reason), and nothing else.  Replaying a letter and marking it replayed is one
transaction: a request letter puts its :class:`Request` back in the outbox
unchanged (same idempotency key); an inbound letter queues its message again
under a new id, ``{original}#replay{n}`` (the original id is in the inbox and
would be dropped as a duplicate), which drivers read from
:meth:`Store.pending_inbound` and hand to the engine.  ``n`` counts the
replays of the same original message (or idempotency key), and skips an id
already consumed or queued.  The rules live here (:func:`replay_plan`,
:func:`check_discard`), so every backend applies the same ones.

Apart from the per-decision audit above, a store keeps the *audit trail*
(:mod:`sync_core.audit`): a hash-chained entry for every dead letter recorded,
and every replay and discard with the actor who asked, each written in the
same transaction as what it records; ``at`` comes from the store's ``clock``.

What a store keeps must be JSON: request params and bodies, entity data and
dead-letter bodies are dicts with string keys, lists, strings, numbers,
booleans and ``None`` (a tuple comes back as a list); the durable stores write
it with :mod:`sync_core.store_json`.

The in-memory store is the simulation default; durable backends
(:mod:`sync_core.store_sqlite`) implement the same contract, and one contract
test suite runs against each.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from types import TracebackType
from typing import Any, Self

from sync_core.audit import (
    ANONYMOUS,
    SYSTEM_ACTOR,
    AuditAction,
    AuditEntry,
    AuditRecord,
    Clock,
    MemoryTrail,
    dead_letter_detail,
    letter_subject,
    replay_detail,
)
from sync_core.errors import SyncCoreError
from sync_core.messages import DeadLetter, Decision, Entity, Inbound, Kind, Request, StateView

__all__ = [
    "AlreadyConsumed",
    "AuditRecord",
    "DeadLetterError",
    "DeadLetterRecord",
    "DeadLetterStatus",
    "GroupCommit",
    "MemoryStore",
    "OutboxItem",
    "Replayed",
    "Store",
    "StoreError",
    "replay_problem",
    "superseded",
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


class DeadLetterError(StoreError):
    """A dead letter cannot be replayed or discarded: unknown, not open, or not replayable.

    ``letter_id`` names it; ``status`` is its status when it exists (``None`` for
    an unknown id).  Not retriable: the same call fails again.
    """

    def __init__(
        self, operation: str, letter_id: int, reason: str, status: DeadLetterStatus | None = None
    ) -> None:
        self.letter_id = letter_id
        self.status = status
        super().__init__(operation, f"dead letter {letter_id}: {reason}")


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


@dataclass(frozen=True, init=False)
class OutboxItem:
    outbox_id: int
    request: Request

    def __init__(self, outbox_id: int, request: Request) -> None:
        d = self.__dict__  # as messages.Request's: cheaper than the frozen dataclass's own
        d["outbox_id"] = outbox_id
        d["request"] = request


class DeadLetterStatus(StrEnum):
    """Where a dead letter stands: waiting for a person, replayed, or given up on."""

    OPEN = "open"
    REPLAYED = "replayed"
    DISCARDED = "discarded"


@dataclass(frozen=True)
class DeadLetterRecord:
    """One stored dead letter and what was done about it.

    ``replays`` is, once the letter is replayed, how many times its message (the
    same original inbound id, or the same idempotency key) has been replayed,
    this replay included; ``replayed_as`` is what the replay queued: the new
    inbound message id, or ``outbox:{id}``.  ``discard_reason`` says why a
    person gave it up.
    """

    id: int
    letter: DeadLetter
    status: DeadLetterStatus = DeadLetterStatus.OPEN
    replays: int = 0
    replayed_as: str | None = None
    discard_reason: str | None = None

    @property
    def source(self) -> str:
        """``request`` for an outbound request given up on, ``inbound`` for a message."""
        return "request" if self.letter.request is not None else "inbound"


@dataclass(frozen=True)
class Replayed:
    """What replaying a dead letter queued: an outbox row, or an inbound message."""

    record: DeadLetterRecord
    outbox: OutboxItem | None = None
    inbound: Inbound | None = None


_KINDS = frozenset(k.value for k in Kind)
_REPLAY_SUFFIX = re.compile(r"#replay\d+$")


def replay_origin(letter: DeadLetter) -> str:
    """What replays of the same thing share: the original message id, or the request's key."""
    if letter.request is not None:
        key = letter.request.idempotency_key
        return f"request:{key}" if key is not None else f"letter:{letter.message_id}"
    return _REPLAY_SUFFIX.sub("", letter.message_id)


def replay_problem(letter: DeadLetter) -> str | None:
    """Why ``letter`` cannot be replayed whatever its status, or ``None`` when it can."""
    if letter.request is not None or letter.kind in _KINDS:
        return None
    return f"cannot be replayed: it holds no request and {letter.kind!r} is not a message kind"


def replay_plan(
    record: DeadLetterRecord, replayed_before: int, taken: Callable[[str], bool]
) -> tuple[int, Inbound | None]:
    """The replay number, and for an inbound letter the message to queue.

    ``replayed_before`` counts earlier replays of the same origin; ``taken``
    says whether a message id is consumed or queued already (the new id must
    be neither, or the engine would drop it as a duplicate).
    """
    operation = "replay_dead_letter"
    if record.status is not DeadLetterStatus.OPEN:
        raise DeadLetterError(
            operation, record.id, f"is {record.status.value}, not open", record.status
        )
    letter = record.letter
    n = replayed_before + 1
    if letter.request is not None:
        return n, None
    problem = replay_problem(letter)
    if problem is not None:
        raise DeadLetterError(operation, record.id, problem, record.status)
    kind = Kind(letter.kind)
    origin = replay_origin(letter)
    while taken(f"{origin}#replay{n}"):
        n += 1
    message = Inbound(f"{origin}#replay{n}", kind, letter.body, letter.correlation_id,
                      letter.query)  # fmt: skip
    return n, message


def check_discard(record: DeadLetterRecord, reason: str) -> None:
    if record.status is not DeadLetterStatus.OPEN:
        raise DeadLetterError(
            "discard_dead_letter", record.id, f"is {record.status.value}, not open", record.status
        )
    if not reason.strip():
        raise DeadLetterError("discard_dead_letter", record.id, "a reason is required",
                              record.status)  # fmt: skip


def unknown_letter(operation: str, letter_id: int) -> DeadLetterError:
    return DeadLetterError(operation, letter_id, "no such dead letter")


class Store(ABC):
    """The recorder contract every backend implements (see the module docstring)."""

    clock: Clock  # what stamps the audit trail: seconds since the epoch

    @abstractmethod
    def consumed(self, message_id: str) -> bool: ...

    @abstractmethod
    def entity(self, kind: str, key: str) -> Entity | None: ...

    def entities(self, kind: str) -> list[Entity]:
        """Every entity of ``kind``, by key (for the experience API: exception queues)."""
        raise NotImplementedError(f"{type(self).__name__} cannot list entities")

    def reader(self) -> StateView:
        """What a group commit reads through: the store itself, or a backend's read cache
        (whose reads are as of the view's first read after the store's last commit)."""
        return self

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
    def done_many(self, outbox_ids: Sequence[int]) -> None:
        """Mark several outbox rows carried out, in one transaction (unknown ids: no-ops)."""

    @abstractmethod
    def add_dead_letter(self, letter: DeadLetter) -> int:
        """Record a dead letter (open); its id."""

    @abstractmethod
    def give_up(self, outbox_id: int, letter: DeadLetter) -> int:
        """Mark an outbox row done and record its dead letter, in one transaction; its id.

        What a driver does when the delivery planner gives up: a crash can
        leave neither the row without its letter nor the letter with the row.
        """

    @abstractmethod
    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter, whatever its status, in the order they were recorded."""

    @abstractmethod
    def dead_letter_records(self, status: DeadLetterStatus | None = None) -> list[DeadLetterRecord]:
        """The dead letters with their ids and status (only ``status`` if given), oldest first."""

    @abstractmethod
    def dead_letter_record(self, letter_id: int) -> DeadLetterRecord:
        """One dead letter; :class:`DeadLetterError` for an unknown id."""

    @abstractmethod
    def discard_dead_letter(
        self, letter_id: int, reason: str, *, actor: str = ANONYMOUS
    ) -> DeadLetterRecord:
        """Give an open letter up, with a (non-empty) reason; the record as it now is.

        The discard, with ``actor``, is in the audit trail (same transaction).
        """

    @abstractmethod
    def replay_dead_letter(self, letter_id: int, *, actor: str = ANONYMOUS) -> Replayed:
        """Queue an open letter again and mark it replayed, in one transaction (with its
        audit entry naming ``actor``).

        A request letter goes back to the outbox unchanged (same idempotency key,
        so a system that applied it before answers with its first reply).  An
        inbound letter is queued as a pending inbound message under a new id,
        ``{original}#replay{n}``: the original id is in the inbox.  A letter that
        is not open, or holds neither a request nor a known message kind, is a
        :class:`DeadLetterError` and nothing changes.
        """

    @abstractmethod
    def pending_inbound(self) -> list[Inbound]:
        """Replayed inbound messages not yet consumed, oldest first: drivers hand them on."""

    @abstractmethod
    def take_inbound(self, message_ids: Sequence[str]) -> None:
        """Forget queued inbound messages (after their decision is committed)."""

    @abstractmethod
    def audit(self) -> list[AuditRecord]:
        """One record per committed decision, duplicates included, in commit order."""

    @abstractmethod
    def append_audit(
        self, actor: str, action: str, subject: str, detail: Mapping[str, Any]
    ) -> AuditEntry:
        """Append an entry to the audit trail (its own transaction); the entry."""

    @abstractmethod
    def audit_trail(self) -> list[AuditEntry]:
        """The audit trail as stored, oldest first (:func:`sync_core.audit.verify` checks it)."""

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

    def __init__(self, *, clock: Clock = time.time) -> None:
        self.clock = clock
        self._trail = MemoryTrail(clock)
        self._inbox: set[str] = set()
        self._entities: dict[tuple[str, str], Entity] = {}
        self._outbox: dict[int, Request] = {}
        self._next_id = 1
        self._dead: list[DeadLetterRecord] = []  # a letter's id is its index + 1
        self._queued: dict[str, Inbound] = {}  # replayed inbound messages, in order
        # plain tuples of plain values: the collector stops tracking them (a long run
        # keeps one per message); ``audit()`` builds the records
        self._audit: list[tuple[str, tuple[str, ...], int, int, int]] = []

    def consumed(self, message_id: str) -> bool:
        return message_id in self._inbox

    def entity(self, kind: str, key: str) -> Entity | None:
        return self._entities.get((kind, key))

    def entities(self, kind: str) -> list[Entity]:
        return [e for (k, _), e in sorted(self._entities.items()) if k == kind]

    def commit(self, decision: Decision) -> list[OutboxItem]:
        consumed = decision.consumed
        if len(consumed) == 1 and consumed[0] not in self._inbox:  # the usual case, checked
            return self._apply(decision)
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
        for letter in decision.dead_letters:
            self.add_dead_letter(letter)
        d = decision
        self._audit.append(
            (d.message_id, d.consumed, len(d.changes), len(d.requests), len(d.dead_letters))
        )
        return added

    def pending(self) -> list[OutboxItem]:
        return [OutboxItem(i, r) for i, r in self._outbox.items()]

    def done(self, outbox_id: int) -> None:
        self._outbox.pop(outbox_id, None)

    def done_many(self, outbox_ids: Sequence[int]) -> None:
        for outbox_id in outbox_ids:
            self._outbox.pop(outbox_id, None)

    def add_dead_letter(self, letter: DeadLetter) -> int:
        letter_id = len(self._dead) + 1
        self._dead.append(DeadLetterRecord(letter_id, letter))
        self._trail.append(SYSTEM_ACTOR, AuditAction.DEAD_LETTER, letter_subject(letter_id),
                           dead_letter_detail(letter))  # fmt: skip
        return letter_id

    def give_up(self, outbox_id: int, letter: DeadLetter) -> int:
        self._outbox.pop(outbox_id, None)
        return self.add_dead_letter(letter)

    def dead_letters(self) -> list[DeadLetter]:
        return [r.letter for r in self._dead]

    def dead_letter_records(self, status: DeadLetterStatus | None = None) -> list[DeadLetterRecord]:
        return [r for r in self._dead if status is None or r.status is status]

    def dead_letter_record(self, letter_id: int) -> DeadLetterRecord:
        return self._record("dead_letter_record", letter_id)

    def _record(self, operation: str, letter_id: int) -> DeadLetterRecord:
        if not 1 <= letter_id <= len(self._dead):
            raise unknown_letter(operation, letter_id)
        return self._dead[letter_id - 1]

    def discard_dead_letter(
        self, letter_id: int, reason: str, *, actor: str = ANONYMOUS
    ) -> DeadLetterRecord:
        record = self._record("discard_dead_letter", letter_id)
        check_discard(record, reason)
        self._trail.append(actor, AuditAction.DISCARD, letter_subject(letter_id),
                           {"message_id": record.letter.message_id, "reason": reason})  # fmt: skip
        record = replace(record, status=DeadLetterStatus.DISCARDED, discard_reason=reason)
        self._dead[letter_id - 1] = record
        return record

    def replay_dead_letter(self, letter_id: int, *, actor: str = ANONYMOUS) -> Replayed:
        record = self._record("replay_dead_letter", letter_id)
        origin = replay_origin(record.letter)
        before = sum(
            1
            for r in self._dead
            if r.status is DeadLetterStatus.REPLAYED and replay_origin(r.letter) == origin
        )
        n, message = replay_plan(record, before, lambda m: m in self._inbox or m in self._queued)
        replayed_as = message.message_id if message else f"outbox:{self._next_id}"
        self._trail.append(actor, AuditAction.REPLAY, letter_subject(letter_id),
                           replay_detail(record.letter.message_id, n, replayed_as))  # fmt: skip
        outbox = None
        if message is not None:
            self._queued[message.message_id] = message
        else:
            assert record.letter.request is not None
            outbox = OutboxItem(self._next_id, record.letter.request)
            self._outbox[self._next_id] = record.letter.request
            self._next_id += 1
        record = replace(
            record, status=DeadLetterStatus.REPLAYED, replays=n, replayed_as=replayed_as
        )
        self._dead[letter_id - 1] = record
        return Replayed(record, outbox, message)

    def pending_inbound(self) -> list[Inbound]:
        return [m for m in self._queued.values() if m.message_id not in self._inbox]

    def take_inbound(self, message_ids: Sequence[str]) -> None:
        for message_id in message_ids:
            self._queued.pop(message_id, None)

    def audit(self) -> list[AuditRecord]:
        return [AuditRecord(*row) for row in self._audit]

    def append_audit(
        self, actor: str, action: str, subject: str, detail: Mapping[str, Any]
    ) -> AuditEntry:
        return self._trail.append(actor, action, subject, detail)

    def audit_trail(self) -> list[AuditEntry]:
        return list(self._trail.entries)

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
        self._reads = store.reader()
        self._decisions: list[Decision] = []
        self._consumed: set[str] = set()
        self._entities: dict[tuple[str, str], Entity] = {}

    def __len__(self) -> int:
        return len(self._decisions)

    def consumed(self, message_id: str) -> bool:
        return message_id in self._consumed or self._reads.consumed(message_id)

    def entity(self, kind: str, key: str) -> Entity | None:
        staged = self._entities.get((kind, key))
        return staged if staged is not None else self._reads.entity(kind, key)

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


def superseded(request: Request, state: StateView) -> bool:
    """True when the core already holds a newer version of what ``request`` writes."""
    if request.supersedable is None:
        return False
    kind, key, version = request.supersedable
    known = state.entity(kind, key)
    return known is not None and known.version > version
