"""The audit trail: a tamper-evident record of the privileged actions and the dead letters.

Theory of operation
-------------------
Every dead letter the core records, and every replay and discard a person does,
appends one :class:`AuditEntry` to the store's audit trail, in the same
transaction as the action it records (a crash keeps both or neither).  An entry
holds ``seq`` (1, 2, 3 … with no gaps), ``at`` (ISO 8601 UTC from the store's
clock: simulated time in a simulation, the wall clock live), ``actor`` (who: a
person's name, a token's subject, or ``sync-core`` for what the core did by
itself), ``action``, ``subject`` (what it was done to, e.g. ``dead_letter:3``),
``detail`` (a JSON object), ``prev_hash`` and ``hash``.

``hash`` is the SHA-256 (FIPS 180-4) of the entry's canonical JSON: an object
of the seven other fields, keys sorted, no whitespace, non-ASCII characters as
``\\u`` escapes (Python's ``json.dumps(..., sort_keys=True, separators=(",",
":"))``, in the spirit of RFC 8785).  ``prev_hash`` is the hash of the entry
before (64 zeros for the first), so each hash covers every entry before it:
editing an entry breaks its hash, deleting or reordering entries breaks the
sequence and the chain.  :func:`verify` walks a trail in its stored order and
names the first entry that is wrong, and why.

What a chain cannot show by itself is the loss of its *last* entries: a trail
cut short is still a valid chain.  Keep the head hash elsewhere (what
``supplysync audit verify`` prints, or the export a SIEM ingests) and compare.

(:class:`AuditRecord` is the other audit a store keeps: one plain row per
committed decision, no chain.)

The stores keep the trail (``Store.append_audit``, ``Store.audit_trail``); this
module holds what every backend shares: how an entry is chained and hashed
(:func:`chain`), what the core records about a dead letter, a replay and a
discard, and the check.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sync_core.messages import DeadLetter, Decision

__all__ = [
    "ANONYMOUS",
    "GENESIS",
    "SYSTEM_ACTOR",
    "AuditAction",
    "AuditEntry",
    "AuditRecord",
    "Clock",
    "Head",
    "MemoryTrail",
    "Verdict",
    "chain",
    "check_actor",
    "dead_letter_detail",
    "format_at",
    "letter_subject",
    "replay_detail",
    "verify",
]

Clock = Callable[[], float]  # seconds since the Unix epoch (UTC)
Head = tuple[int, str]  # the last entry's seq and hash
GENESIS: Head = (0, "0" * 64)
SYSTEM_ACTOR = "sync-core"  # what the core did by itself (a dead letter)
ANONYMOUS = "anonymous"  # nobody said who
_ACTOR_MAX = 200
_REASON_MAX = 200  # a dead letter's reason in the detail: enough to read, bounded


class AuditAction(StrEnum):
    """What the core records on its own; ``Store.append_audit`` takes any other name too."""

    DEAD_LETTER = "dead_letter"
    REPLAY = "replay"
    DISCARD = "discard"


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


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the trail (see the module docstring)."""

    seq: int
    at: str
    actor: str
    action: str
    subject: str
    detail: Any  # a JSON object as written; whatever a tampered row holds as read
    prev_hash: str
    hash: str

    def fields(self) -> dict[str, Any]:
        """What ``hash`` covers: every field but the hash itself (a field added later is
        covered without a word here)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "hash"}

    def computed_hash(self) -> str:
        """The hash these fields should have: what :func:`verify` compares ``hash`` with."""
        return digest(self.fields())

    def to_json(self) -> dict[str, Any]:
        """The entry as one JSON object (a line of ``supplysync audit export``)."""
        return {**self.fields(), "hash": self.hash}


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The canonical JSON of ``fields``: sorted keys, no whitespace, ASCII."""
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return text.encode("ascii")


def digest(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(fields)).hexdigest()


def format_at(seconds: float) -> str:
    """``seconds`` since the epoch as ISO 8601 UTC, to the microsecond."""
    at = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return at.isoformat(timespec="microseconds").replace("+00:00", "Z")


def check_actor(actor: str) -> str:
    """``actor`` if it can name someone: not blank, at most 200 characters, no control
    characters; else :class:`ValueError`."""
    if not isinstance(actor, str) or not actor.strip():
        raise ValueError(f"an actor must be a non-blank string: {actor!r}")
    if len(actor) > _ACTOR_MAX or not actor.isprintable():
        raise ValueError(f"an actor is at most {_ACTOR_MAX} printable characters: {actor[:40]!r}")
    return actor


def chain(
    head: Head, at: float, actor: str, action: str, subject: str, detail: Mapping[str, Any]
) -> AuditEntry:
    """The entry that follows ``head`` (:data:`GENESIS` for the first one)."""
    seq, prev_hash = head[0] + 1, head[1]
    # a copy through JSON: what the entry holds is what a durable store reads back
    fields = {"seq": seq, "at": format_at(at), "actor": check_actor(actor),
              "action": str(action), "subject": str(subject),
              "detail": json.loads(json.dumps(dict(detail), sort_keys=True)),
              "prev_hash": prev_hash}  # fmt: skip
    return AuditEntry(**fields, hash=digest(fields))


def dead_letter_detail(letter: DeadLetter) -> dict[str, Any]:
    """What the trail says of a new dead letter (its body stays in the dead-letter queue)."""
    detail: dict[str, Any] = {
        "message_id": letter.message_id,
        "kind": str(letter.kind),
        "source": "inbound" if letter.request is None else "request",
        "reason": letter.reason[:_REASON_MAX],
    }
    if letter.request is not None:
        detail["target"] = letter.request.target
    return detail


def letter_subject(letter_id: int) -> str:
    """The subject of an entry about dead letter ``letter_id``."""
    return f"dead_letter:{letter_id}"


def replay_detail(message_id: str, replays: int, replayed_as: str) -> dict[str, Any]:
    return {"message_id": message_id, "replays": replays, "replayed_as": replayed_as}


class MemoryTrail:
    """The trail as a list, for the in-memory store."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.entries: list[AuditEntry] = []

    def append(
        self, actor: str, action: str, subject: str, detail: Mapping[str, Any]
    ) -> AuditEntry:
        last = self.entries[-1] if self.entries else None
        head = GENESIS if last is None else (last.seq, last.hash)
        entry = chain(head, self.clock(), actor, action, subject, detail)
        self.entries.append(entry)
        return entry


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify` found: how many entries, and the first bad one (if any)."""

    records: int
    bad_seq: int | None = None
    problem: str | None = None
    head: str | None = None  # the last entry's hash, when the chain is intact

    @property
    def intact(self) -> bool:
        """True only when there is a chain to judge and every link of it holds."""
        return self.records > 0 and self.problem is None

    def summary(self) -> str:
        if self.problem is not None:
            return f"record {self.bad_seq}: {self.problem}"
        if not self.records:
            return "no audit records: nothing to verify"
        return f"{self.records} records, chain intact (head {self.head})"


def verify(entries: Sequence[AuditEntry]) -> Verdict:
    """Check ``entries`` in their stored order; the first entry that is wrong, and why.

    Per entry, in this order: its ``seq`` is the next one (else a *gap* when
    the missing ones never come, *out of order* when they come later or came
    before), its ``prev_hash`` is the previous entry's ``hash``, and its
    ``hash`` is that of its fields.  An empty trail is no verdict.
    """
    seqs = {e.seq for e in entries}
    head = GENESIS
    for e in entries:
        expected = head[0] + 1
        if e.seq != expected:
            if e.seq < expected or expected in seqs:
                why = f"out of order (seq {e.seq} where {expected} was due)"
            else:
                missing = str(expected) if e.seq == expected + 1 else f"{expected}-{e.seq - 1}"
                why = f"gap (record {missing} missing before it)"
            return Verdict(len(entries), e.seq, why)
        if e.prev_hash != head[1]:
            return Verdict(len(entries), e.seq, _BROKEN_LINK)
        if e.hash != _hash_of(e):
            return Verdict(len(entries), e.seq, "hash mismatch (its fields were changed)")
        head = (e.seq, e.hash)
    return Verdict(len(entries), head=head[1] if entries else None)


_BROKEN_LINK = (
    "prev_hash does not match the previous record's hash "
    "(a record before it was changed, removed or added)"
)


def _hash_of(entry: AuditEntry) -> str | None:
    try:
        return entry.computed_hash()
    except (TypeError, ValueError):  # a tampered detail that is not JSON any more
        return None
