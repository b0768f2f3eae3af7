"""The dead-letter queue as people use it: list, inspect, replay, discard.

Theory of operation
-------------------
Everything the sync core could not do ends up as a dead letter in its store:
an inbound message the engine could not map, or an outbound request the
delivery planner gave up on.  Each has an id and a status (``open``,
``replayed``, ``discarded``) kept by the store (:mod:`sync_core.store`).  This
module is the thin layer a person drives — from ``supplysync dlq`` against a
store file, or from the sync core's API when it runs live:

* :func:`list_letters` filters by status, source (``inbound`` / ``request``),
  kind and target system; :func:`show` returns one letter.
* :func:`replay` queues letters again *after a fix*.  Every id is checked
  first (it exists, it is open, it can be replayed), so a bad id replays
  nothing; then each letter is replayed in its own store transaction, which
  also marks it replayed.  :func:`replay_all` replays every open letter that
  can be replayed and reports the others (a request-less letter of an unknown
  kind) instead of stopping at them.
* :func:`discard` gives an open letter up, with a reason a person wrote.

Each replay and discard names its ``actor`` (who asked), which the store writes
into its audit trail (:mod:`sync_core.audit`) in the same transaction.

A request letter goes back to the outbox with its idempotency key, so a system
that did apply it answers with its first reply; an inbound letter is queued as
a new inbound message that the next driver hands to the engine.  The store does
the work; this module adds the checks, the filters and the JSON form of a
letter that the CLI (:func:`record_to_json`) and the API (:func:`record_summary`) print.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sync_core.audit import ANONYMOUS
from sync_core.store import (
    DeadLetterError,
    DeadLetterRecord,
    DeadLetterStatus,
    Replayed,
    Store,
    replay_problem,
)

__all__ = [
    "ReplayReport",
    "Source",
    "discard",
    "list_letters",
    "record_summary",
    "record_to_json",
    "replay",
    "replay_all",
    "show",
]

Source = Literal["inbound", "request"]


@dataclass(frozen=True)
class ReplayReport:
    """What :func:`replay_all` did: the letters replayed, and those left open, with why."""

    replayed: list[Replayed] = field(default_factory=list)
    skipped: list[tuple[DeadLetterRecord, str]] = field(default_factory=list)


def list_letters(
    store: Store,
    *,
    status: DeadLetterStatus | str | None = None,
    source: Source | None = None,
    kind: str | None = None,
    target: str | None = None,
) -> list[DeadLetterRecord]:
    """The dead letters that match every filter given, oldest first.

    ``kind`` is the message kind of an inbound letter or the operation of a
    request letter; ``target`` the system a request letter was for.
    """
    wanted = None if status is None else DeadLetterStatus(status)
    if source not in (None, "inbound", "request"):
        raise ValueError(f"source must be 'inbound' or 'request': {source!r}")
    records = store.dead_letter_records(wanted)
    return [
        r
        for r in records
        if (source is None or r.source == source)
        and (kind is None or r.letter.kind == kind)
        and (target is None or (r.letter.request is not None and r.letter.request.target == target))
    ]


def show(store: Store, letter_id: int) -> DeadLetterRecord:
    """One letter; :class:`~sync_core.store.DeadLetterError` for an unknown id."""
    return store.dead_letter_record(letter_id)


def replay(store: Store, letter_ids: Sequence[int], *, actor: str = ANONYMOUS) -> list[Replayed]:
    """Replay these letters, in the order given; check them all before replaying any.

    Each replay is in the store's audit trail as done by ``actor``.
    """
    ids = list(dict.fromkeys(letter_ids))
    for letter_id in ids:
        record = store.dead_letter_record(letter_id)
        if record.status is not DeadLetterStatus.OPEN:
            raise DeadLetterError(
                "replay", letter_id, f"is {record.status.value}, not open", record.status
            )
        problem = replay_problem(record.letter)
        if problem is not None:
            raise DeadLetterError("replay", letter_id, problem, record.status)
    return [store.replay_dead_letter(letter_id, actor=actor) for letter_id in ids]


def replay_all(store: Store, *, actor: str = ANONYMOUS) -> ReplayReport:
    """Replay every open letter that can be (audited as done by ``actor``); report the
    open ones that cannot."""
    report = ReplayReport()
    for record in store.dead_letter_records(DeadLetterStatus.OPEN):
        problem = replay_problem(record.letter)
        if problem is None:
            report.replayed.append(store.replay_dead_letter(record.id, actor=actor))
        else:
            report.skipped.append((record, problem))
    return report


def discard(
    store: Store, letter_id: int, reason: str, *, actor: str = ANONYMOUS
) -> DeadLetterRecord:
    """Give an open letter up; ``reason`` (required, not blank) is kept with it, and the
    discard is in the store's audit trail as done by ``actor``."""
    return store.discard_dead_letter(letter_id, reason, actor=actor)


def record_summary(record: DeadLetterRecord) -> dict[str, Any]:
    """A letter and its status as the core's ``/dlq`` API shows it: what a person needs
    to decide (the reason, the body), without the request it would replay."""
    letter = record.letter
    return {
        "id": record.id,
        "status": record.status.value,
        "source": record.source,
        "message_id": letter.message_id,
        "kind": str(letter.kind),
        "reason": letter.reason,
        "correlation_id": letter.correlation_id,
        "at": letter.at,
        "replays": record.replays,
        "replayed_as": record.replayed_as,
        "discard_reason": record.discard_reason,
        "body": letter.body,
    }


def record_to_json(record: DeadLetterRecord) -> dict[str, Any]:
    """:func:`record_summary` with the query and the request (what ``--json`` shows)."""
    letter, request = record.letter, record.letter.request
    return {
        **record_summary(record),
        "query": letter.query,
        "request": None
        if request is None
        else {
            "target": request.target,
            "operation": request.operation,
            "params": request.params,
            "body": request.body,
            "idempotency_key": request.idempotency_key,
            "correlation_id": request.correlation_id,
            "critical": request.critical,
            "reply_kind": None if request.reply_kind is None else request.reply_kind.value,
        },
    }
