"""What the SQL stores share: the reads, and the writes whose logic is the same.

Theory of operation
-------------------
:mod:`sync_core.store_sqlite` and :mod:`sync_core.store_postgres` keep the
same tables under the same column names and read them with the same queries;
their drivers differ, and so does how a group commit is sent.  :class:`SqlStore`
holds those reads once, written against one hook each backend supplies, ``_select``
(run a query, return every row, translate a driver error into
:class:`~sync_core.store.StoreError` named after the operation), and a few
class attributes for what really differs:

=================  ===================  ==========================================
attribute          SQLite               PostgreSQL
=================  ===================  ==========================================
``_PARAM``         ``?``                ``%s`` (psycopg's placeholder)
``_KEY_ORDER``     ``key``              ``key COLLATE "C"`` (code point order, as
                                        SQLite's ``BINARY``, whatever the
                                        database's collation)
``_AUDIT_ORDER``   ``seq``              ``batch, pos`` (one sequence value per
                                        commit, the row's place in the group)
``_load_text``     the text as stored   :func:`~sync_core.store_json.decode_json`
=================  ===================  ==========================================

``_load_text`` reads back free text that PostgreSQL stores as its JSON
encoding (it cannot hold a NUL in ``text``): a dead letter's reason,
correlation id and discard reason, a queued message's correlation id.
Everything else — entity data, requests, bodies, queries, an audit row's
consumed ids — is JSON text in both.

The writes whose logic is the same are here too, on three more hooks:
``_transaction`` (one write transaction, yielding the connection),
``_insert_id`` (insert one row, return its id: ``lastrowid`` or ``RETURNING
id``) and ``_lock_letter`` / ``_lock_origin`` (what a replay or a discard
locks: nothing more in SQLite, whose write transaction already excludes every
other writer; the row and an advisory lock in PostgreSQL).  ``_dump_text`` is
``_load_text``'s inverse.  The audit trail (:mod:`sync_core.audit`) is appended
by :meth:`SqlStore._append_trail` as the last write of the transaction it
records, under ``_lock_trail`` (nothing more in SQLite; a table lock in
PostgreSQL, so two writers never chain onto the same head); its rows are kept
in the order written (``pos``) and read back in that order, so a reordering
shows.  :meth:`SqlStore._encode` turns a group of decisions
into rows before the transaction starts, and :meth:`SqlStore._hand_out` gives
each decision its outbox ids; how a group's rows are sent (``executemany``
against arrays in binary), how ids are taken, and ``done_many`` and
``take_inbound`` stay in each backend.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any, ClassVar, NamedTuple

from sync_core._store_cache import CachedReads, ReadCache
from sync_core.audit import (
    ANONYMOUS,
    GENESIS,
    SYSTEM_ACTOR,
    AuditAction,
    AuditEntry,
    chain,
    check_actor,
    dead_letter_detail,
    letter_subject,
    replay_detail,
)
from sync_core.messages import DeadLetter, Decision, Entity, Inbound, Kind, StateView
from sync_core.store import (
    AlreadyConsumed,
    AuditRecord,
    DeadLetterRecord,
    DeadLetterStatus,
    OutboxItem,
    Replayed,
    Store,
    StoreError,
    check_discard,
    reconsumed,
    replay_origin,
    replay_plan,
    unknown_letter,
)
from sync_core.store_json import decode_json, encode_json, request_from_json, request_to_json

__all__ = [
    "DEAD_COLUMNS",
    "DEAD_FIELDS",
    "TRAIL_COLUMNS",
    "Conflict",
    "Rows",
    "SqlStore",
    "check_schema_version",
    "maybe_json",
]

# A dead letter as SqlStore._dead_record reads it, in this order.
DEAD_COLUMNS = (
    "id, message_id, kind, reason, body, request, correlation_id, query, at, status, replays,"
    " replayed_as, discard_reason"
)


# An audit trail entry, as AuditEntry has its fields.
TRAIL_COLUMNS = "seq, at, actor, action, subject, detail, prev_hash, hash"
TrailItem = tuple[str, str, str, Mapping[str, Any]]  # actor, action, subject, detail


# The columns a dead letter is written with, in the order of SqlStore._dead_row.
DEAD_FIELDS = "message_id, kind, reason, body, request, correlation_id, query, at, origin"


def insert_dead_sql(param: str) -> str:
    """The INSERT of one dead letter (``_dead_row``) with the driver's placeholder."""
    return f"INSERT INTO dead_letters ({DEAD_FIELDS}) VALUES ({', '.join([param] * 9)})"


def check_schema_version(where: str, version: int, expected: int, place: str) -> None:
    """Refuse a store of another schema version (``place``: what to start anew); a store
    is never migrated."""
    if version < expected:
        raise StoreError(
            "open",
            f"{where}: schema version {version} is older than this store's "
            f"({expected}) and is not migrated: start a new store {place}",
        )
    if version != expected:
        raise StoreError("open", f"{where}: schema version {version}, expected {expected}")


class Rows(NamedTuple):
    """A group of decisions as rows, encoded before the write transaction starts."""

    inbox: list[str]
    entities: list[tuple[str, str, int, str]]  # kind, key, version, data; in decision order
    requests: list[str]
    dead: list[tuple[Any, ...]]
    audit: list[tuple[str, str | None, int, int, int]]


class Conflict(Exception):
    """Inside a commit: a consumed id was already in the inbox."""


def maybe_json(value: Any) -> str | None:
    """An optional document as JSON text, ``None`` as SQL ``NULL``."""
    return None if value is None else encode_json(value)


class SqlStore(Store):
    """The reads of the store contract on the tables both SQL backends keep."""

    _PARAM: ClassVar[str]  # the driver's query placeholder
    _KEY_ORDER: ClassVar[str]  # ORDER BY for entity keys
    _AUDIT_ORDER: ClassVar[str]  # ORDER BY for audit rows: commit order
    _INSERT_DEAD: ClassVar[str]  # insert_dead_sql(_PARAM), set for each backend below
    # the point reads the engine makes for every message, set for each backend below (one
    # string each: not formatted again at every read)
    _CONSUMED: ClassVar[str]
    _ENTITY: ClassVar[str]
    _CACHE_KIND: ClassVar[str]  # one kind's entities, loaded whole into the read cache
    _cache: ReadCache | None  # with read_cache=True (sync_core._store_cache)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A backend names its placeholder; the dead-letter INSERT and the point reads
        follow from it."""
        super().__init_subclass__(**kwargs)
        if "_PARAM" in vars(cls):
            p = cls._PARAM
            cls._INSERT_DEAD = insert_dead_sql(p)
            cls._CONSUMED = f"SELECT 1 FROM inbox WHERE message_id = {p}"
            cls._ENTITY = f"SELECT version, data FROM entities WHERE kind = {p} AND key = {p}"
            cls._CACHE_KIND = f"SELECT key, version, data FROM entities WHERE kind = {p}"

    @abstractmethod
    def _select(self, operation: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Every row of ``sql``; a driver error is a StoreError of ``operation``."""

    def reader(self) -> StateView:
        """The store itself, or with ``read_cache`` a view of the cache (checked at its first
        read after each commit of this store)."""
        if self._cache is None:
            return self
        return CachedReads(self._cache, self._select, self._cache_token, self._CACHE_KIND)

    def _cache_token(self) -> int:
        """The read cache's token now: a number that changes when another writer commits
        (:mod:`sync_core._store_cache`); a backend with a read cache says how it reads it."""
        raise NotImplementedError

    @abstractmethod
    def _transaction(self, operation: str) -> AbstractContextManager[Any]:
        """One write transaction, yielding the connection: committed on success, rolled
        back on any failure; a driver error is a StoreError of ``operation``."""

    @abstractmethod
    def _insert_id(self, db: Any, sql: str, params: Sequence[Any]) -> int:
        """Run the INSERT of one row ``sql`` on ``db``; the id it was given."""

    def _lock_letter(self, db: Any, operation: str, letter_id: int) -> DeadLetterRecord:
        """A dead letter no other writer changes until the transaction of ``db`` ends."""
        return self._dead_letter(operation, letter_id)

    def _lock_origin(self, db: Any, origin: str) -> None:
        """Serialise replays of the letters of one origin (``_dump_text`` of it)."""

    def _lock_trail(self, db: Any) -> None:
        """No other writer appends to the audit trail until the transaction of ``db`` ends."""

    @staticmethod
    def _load_text(value: Any) -> Any:
        """Free text as it was written (a backend that stores it encoded decodes it)."""
        return value

    @staticmethod
    def _dump_text(value: Any) -> Any:
        """Free text as this backend stores it (``_load_text`` reads it back)."""
        return value

    def consumed(self, message_id: str) -> bool:
        return bool(self._select("consumed", self._CONSUMED, (message_id,)))

    def entity(self, kind: str, key: str) -> Entity | None:
        rows = self._select("entity", self._ENTITY, (kind, key))
        return Entity(kind, key, rows[0][0], decode_json(rows[0][1])) if rows else None

    def entities(self, kind: str) -> list[Entity]:
        rows = self._select(
            "entities",
            f"SELECT key, version, data FROM entities WHERE kind = {self._PARAM}"
            f" ORDER BY {self._KEY_ORDER}",
            (kind,),
        )
        return [Entity(kind, key, version, decode_json(data)) for key, version, data in rows]

    def pending(self) -> list[OutboxItem]:
        rows = self._select("pending", "SELECT id, request FROM outbox ORDER BY id")
        return [OutboxItem(i, request_from_json(text)) for i, text in rows]

    def dead_letters(self) -> list[DeadLetter]:
        return [r.letter for r in self.dead_letter_records()]

    def dead_letter_records(self, status: DeadLetterStatus | None = None) -> list[DeadLetterRecord]:
        query = f"SELECT {DEAD_COLUMNS} FROM dead_letters"
        if status is None:
            rows = self._select("dead_letter_records", f"{query} ORDER BY id")
        else:
            rows = self._select(
                "dead_letter_records",
                f"{query} WHERE status = {self._PARAM} ORDER BY id",
                (DeadLetterStatus(status).value,),
            )
        return [self._dead_record(row) for row in rows]

    def dead_letter_record(self, letter_id: int) -> DeadLetterRecord:
        return self._dead_letter("dead_letter_record", letter_id)

    def _dead_letter(self, operation: str, letter_id: int) -> DeadLetterRecord:
        rows = self._select(
            operation,
            f"SELECT {DEAD_COLUMNS} FROM dead_letters WHERE id = {self._PARAM}",
            (letter_id,),
        )
        if not rows:
            raise unknown_letter(operation, letter_id)
        return self._dead_record(rows[0])

    def _dead_record(self, row: Sequence[Any]) -> DeadLetterRecord:
        """A dead letter from its row (the columns of ``DEAD_COLUMNS``)."""
        (letter_id, message_id, kind, reason, body, request, correlation_id, query, at, status,
         replays, replayed_as, discard_reason) = row  # fmt: skip
        text = self._load_text
        letter = DeadLetter(
            message_id,
            kind,
            text(reason),
            decode_json(body),
            None if request is None else request_from_json(request),
            text(correlation_id),
            None if query is None else decode_json(query),
            at,
        )
        return DeadLetterRecord(
            letter_id,
            letter,
            DeadLetterStatus(status),
            replays,
            replayed_as,
            None if discard_reason is None else text(discard_reason),
        )

    def pending_inbound(self) -> list[Inbound]:
        rows = self._select(
            "pending_inbound",
            "SELECT message_id, kind, body, correlation_id, query FROM inbound_queue AS q"
            " WHERE NOT EXISTS (SELECT 1 FROM inbox AS i WHERE i.message_id = q.message_id)"
            " ORDER BY seq",
        )
        text = self._load_text
        return [
            Inbound(m, Kind(k), decode_json(b), text(c), None if q is None else decode_json(q))
            for m, k, b, c, q in rows
        ]

    def audit(self) -> list[AuditRecord]:
        rows = self._select(
            "audit",
            "SELECT message_id, consumed, changes, requests, dead_letters FROM audit"
            f" ORDER BY {self._AUDIT_ORDER}",
        )
        return [
            AuditRecord(m, (m,) if c is None else tuple(decode_json(c)), *counts)
            for m, c, *counts in rows
        ]

    def audit_trail(self) -> list[AuditEntry]:
        rows = self._select("audit_trail", f"SELECT {TRAIL_COLUMNS} FROM audit_trail ORDER BY pos")
        return [AuditEntry(s, at, a, ac, su, _load_detail(d), p, h)
                for s, at, a, ac, su, d, p, h in rows]  # fmt: skip

    # -- writes -------------------------------------------------------------------------

    def _append_trail(self, db: Any, items: Sequence[TrailItem]) -> list[AuditEntry]:
        """Chain ``items`` onto the trail inside the transaction of ``db`` (its last write)."""
        if not items:
            return []
        self._lock_trail(db)
        p = ", ".join([self._PARAM] * 8)
        row = db.execute("SELECT seq, hash FROM audit_trail ORDER BY pos DESC LIMIT 1").fetchone()
        head = GENESIS if row is None else (row[0], row[1])
        entries = []
        for actor, action, subject, detail in items:
            e = chain(head, self.clock(), actor, action, subject, detail)
            db.execute(
                f"INSERT INTO audit_trail ({TRAIL_COLUMNS}) VALUES ({p})",
                (e.seq, e.at, e.actor, e.action, e.subject,
                 json.dumps(e.detail, sort_keys=True), e.prev_hash, e.hash),
            )  # fmt: skip
            head = (e.seq, e.hash)
            entries.append(e)
        return entries

    @staticmethod
    def _dead_trail(letters: Sequence[DeadLetter], ids: Sequence[int]) -> list[TrailItem]:
        """The trail items of new dead letters, with their ids."""
        return [
            (SYSTEM_ACTOR, AuditAction.DEAD_LETTER, letter_subject(i), dead_letter_detail(letter))
            for letter, i in zip(letters, ids, strict=True)
        ]

    def append_audit(
        self, actor: str, action: str, subject: str, detail: Mapping[str, Any]
    ) -> AuditEntry:
        check_actor(actor)
        with self._transaction("append_audit") as db:
            return self._append_trail(db, [(actor, action, subject, detail)])[0]

    def commit(self, decision: Decision) -> list[OutboxItem]:
        return self.commit_many((decision,))[0]

    def _encode(self, decisions: Sequence[Decision]) -> Rows:
        """Every row of a group, in order (the encoding is the costly part of a commit)."""
        rows = Rows([], [], [], [], [])
        inbox, entities, requests, dead, audit = rows
        encode, encode_request, dead_row = encode_json, request_to_json, self._dead_row
        for d in decisions:
            consumed = d.consumed
            inbox += consumed
            for change in d.changes:
                e = change.entity
                entities.append((e.kind, e.key, e.version, encode(e.data)))
            if d.requests:
                requests += map(encode_request, d.requests)
            if d.dead_letters:
                dead += map(dead_row, d.dead_letters)
            # the usual case, "consumed itself", is stored as NULL
            audit.append((
                d.message_id,
                None if consumed == (d.message_id,) else encode(consumed),
                len(d.changes), len(d.requests), len(d.dead_letters),
            ))  # fmt: skip
        return rows

    @staticmethod
    def _hand_out(decisions: Sequence[Decision], ids: Sequence[int]) -> list[list[OutboxItem]]:
        """The outbox rows each decision added, its requests paired with ``ids`` in order."""
        added = []
        first = 0
        for d in decisions:
            if d.requests:
                last = first + len(d.requests)
                added.append(list(map(OutboxItem, ids[first:last], d.requests)))
                first = last
            else:
                added.append([])
        return added

    def _already_consumed(self, decisions: Sequence[Decision]) -> AlreadyConsumed:
        """After a :class:`Conflict`: which consumed ids were in the inbox."""
        return AlreadyConsumed(reconsumed(decisions, self.consumed))

    def done(self, outbox_id: int) -> None:
        self.done_many((outbox_id,))

    def add_dead_letter(self, letter: DeadLetter) -> int:
        row = self._dead_row(letter)
        with self._transaction("add_dead_letter") as db:
            letter_id = self._insert_id(db, self._INSERT_DEAD, row)
            self._append_trail(db, self._dead_trail([letter], [letter_id]))
        return letter_id

    def give_up(self, outbox_id: int, letter: DeadLetter) -> int:
        row = self._dead_row(letter)
        with self._transaction("give_up") as db:
            db.execute(f"DELETE FROM outbox WHERE id = {self._PARAM}", (outbox_id,))
            letter_id = self._insert_id(db, self._INSERT_DEAD, row)
            self._append_trail(db, self._dead_trail([letter], [letter_id]))
        return letter_id

    def discard_dead_letter(
        self, letter_id: int, reason: str, *, actor: str = ANONYMOUS
    ) -> DeadLetterRecord:
        operation, p = "discard_dead_letter", self._PARAM
        check_actor(actor)
        with self._transaction(operation) as db:
            record = self._lock_letter(db, operation, letter_id)
            check_discard(record, reason)
            db.execute(
                f"UPDATE dead_letters SET status = 'discarded', discard_reason = {p}"
                f" WHERE id = {p}",
                (self._dump_text(reason), letter_id),
            )
            detail = {"message_id": record.letter.message_id, "reason": reason}
            self._append_trail(db, [(actor, AuditAction.DISCARD, letter_subject(letter_id),
                                     detail)])  # fmt: skip
        return replace(record, status=DeadLetterStatus.DISCARDED, discard_reason=reason)

    def replay_dead_letter(self, letter_id: int, *, actor: str = ANONYMOUS) -> Replayed:
        operation, p = "replay_dead_letter", self._PARAM
        check_actor(actor)
        with self._transaction(operation) as db:
            record = self._lock_letter(db, operation, letter_id)
            origin = self._dump_text(replay_origin(record.letter))
            self._lock_origin(db, origin)
            before = db.execute(
                f"SELECT count(*) FROM dead_letters WHERE origin = {p} AND status = 'replayed'",
                (origin,),
            ).fetchone()[0]

            def taken(message_id: str) -> bool:
                row = db.execute(
                    f"SELECT EXISTS (SELECT 1 FROM inbox WHERE message_id = {p})"
                    f" OR EXISTS (SELECT 1 FROM inbound_queue WHERE message_id = {p})",
                    (message_id, message_id),
                ).fetchone()
                return bool(row and row[0])

            n, message = replay_plan(record, before, taken)
            outbox = None
            if message is not None:
                db.execute(
                    "INSERT INTO inbound_queue (message_id, kind, body, correlation_id, query)"
                    f" VALUES ({p}, {p}, {p}, {p}, {p})",
                    (message.message_id, message.kind.value, encode_json(message.body),
                     self._dump_text(message.correlation_id), maybe_json(message.query)),
                )  # fmt: skip
                replayed_as = message.message_id
            else:
                request = record.letter.request
                assert request is not None
                outbox_id = self._insert_id(
                    db, f"INSERT INTO outbox (request) VALUES ({p})", (request_to_json(request),)
                )
                outbox = OutboxItem(outbox_id, request)
                replayed_as = f"outbox:{outbox_id}"
            db.execute(
                f"UPDATE dead_letters SET status = 'replayed', replays = {p}, replayed_as = {p}"
                f" WHERE id = {p}",
                (n, replayed_as, letter_id),
            )
            detail = replay_detail(record.letter.message_id, n, replayed_as)
            self._append_trail(db, [(actor, AuditAction.REPLAY, letter_subject(letter_id),
                                     detail)])  # fmt: skip
        record = replace(
            record, status=DeadLetterStatus.REPLAYED, replays=n, replayed_as=replayed_as
        )
        return Replayed(record, outbox, message)

    def _dead_row(self, letter: DeadLetter) -> tuple[Any, ...]:
        """A dead letter as the row ``_INSERT_DEAD`` writes (the columns of DEAD_FIELDS)."""
        request, text = letter.request, self._dump_text
        return (
            letter.message_id,
            str(letter.kind),  # a Kind by its value (psycopg writes an Enum by its name)
            text(letter.reason),
            encode_json(letter.body),
            None if request is None else request_to_json(request),
            text(letter.correlation_id),
            maybe_json(letter.query),
            letter.at,
            text(replay_origin(letter)),
        )


def _load_detail(text: str) -> Any:
    """An entry's detail as written; a row made unreadable stays text (and fails its hash)."""
    try:
        return json.loads(text)
    except ValueError:
        return text
