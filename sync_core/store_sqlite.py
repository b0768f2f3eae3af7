"""The embedded durable store: SQLite, one file, write-ahead log.

Theory of operation
-------------------
One connection in autocommit mode; every write is an explicit
``BEGIN IMMEDIATE`` … ``COMMIT`` (the write lock is taken up front, so a
transaction never fails half-way on a lock upgrade).  ``commit_many`` encodes
every row first, in Python, then writes the whole group in one transaction
with one ``executemany`` per table, in this order:

==============  ================================================  ==================
table           row                                               written as
==============  ================================================  ==================
inbox           ``message_id`` (primary key)                      ``INSERT OR IGNORE``
entities        ``kind, key`` (primary key), ``version``, data    upsert, last wins
outbox          ``id`` (``AUTOINCREMENT``), request               insert, ids in order
dead_letters    ``id``, the letter, ``origin``, status, replays   insert
audit           ``seq``, message id, consumed ids, counts         insert
audit_trail     ``pos``, an entry of :mod:`sync_core.audit`       insert, chained
==============  ================================================  ==================

(``audit_trail`` only for a group that dead-letters something: one entry per
letter, written before the ``audit`` rows, the group's last write.)

An audit row's consumed ids are ``NULL`` in the usual case, "the message
consumed itself" (one JSON encode and some bytes less per message).  Outside
``commit_many``: ``dead_letters`` rows change status in place (replay,
discard), and ``inbound_queue`` holds replayed inbound messages until a driver
takes them; ``pending_inbound`` leaves out the ones already in the inbox, so a
driver that crashed between committing a replayed message and taking it does
not hand it on again.

The inbox is the idempotency key of the whole decision: when ``INSERT OR
IGNORE`` inserts fewer rows than the group consumes, a consumed id was there
already — the decision was made on stale state (another writer, another
driver) — and the transaction is rolled back with
:class:`~sync_core.store.AlreadyConsumed`, so no effect is ever recorded twice.
Data, bodies and requests are compact JSON text (:mod:`sync_core.store`).
Outbox ids are taken from ``sqlite_sequence`` inside the transaction (the write
lock makes that safe) and, being ``AUTOINCREMENT``, are never reused — not even
after every row is done and the file reopened — because a driver names the
reply to a read after the outbox id that sent it.  A done row is deleted.

The reads, and the writes whose logic is the same (dead letters, replays,
discards, the encoding of a group), are shared with PostgreSQL
(:class:`sync_core._store_sql.SqlStore`, on this module's ``_select``,
``_transaction`` and ``_insert_id``); how a group is written is this module's.
With ``read_cache=True`` the reads of a group commit (:meth:`SqliteStore.reader`)
go through a cache instead (:mod:`sync_core._store_cache`): the inbox and each
kind of entity read are loaded once and kept current by the store's own commits;
``PRAGMA data_version``, read once per group, says whether another connection
committed since (the cache is then cleared).  The store's own reads always query.

Durability: ``journal_mode=WAL`` always (the rollback journal is ~6x slower on
this disk), ``synchronous=FULL`` by default: a commit that returned survives a
power cut or an OS crash (the log is fsynced at every commit).  ``NORMAL``
(an option) fsyncs only at checkpoints: a returned commit survives the process
being killed (``kill -9``) — SQLite has written it to the OS — but the last
commits before a power cut or kernel crash may be lost, never half-kept (the
file stays consistent).  Throughput comes from group commit: a commit costs one
fsync of the log whatever its size (plus, now and then, a checkpoint).  Past
that the store is CPU-bound: encoding JSON (orjson, ~0.5 µs a document), the
five ``executemany`` and the Python loop that builds their rows
(``loadtests/bench_store.py``).  The schema is versioned (``PRAGMA
user_version``); a file of another version is refused, not migrated.

Errors: every ``sqlite3.Error`` (and a value SQLite cannot bind) is translated
here into :class:`~sync_core.store.StoreError`, ``retriable`` when the database
was busy or locked; a failed write is rolled back, so none of it is kept.

A store object belongs to the thread that opened it; several processes may
open the same file (SQLite serialises their writes).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from sync_core._store_cache import ReadCache
from sync_core._store_sql import Conflict, Rows, SqlStore, check_schema_version
from sync_core.audit import Clock
from sync_core.messages import Decision
from sync_core.store import OutboxItem, StoreError

__all__ = ["SCHEMA_VERSION", "SqliteStore", "Synchronous"]

Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]
_SYNCHRONOUS: dict[str, int] = {"OFF": 0, "NORMAL": 1, "FULL": 2, "EXTRA": 3}

SCHEMA_VERSION = 3  # 3: the audit trail
_SCHEMA = (
    "CREATE TABLE inbox (message_id TEXT PRIMARY KEY) STRICT, WITHOUT ROWID",
    "CREATE TABLE entities (kind TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL,"
    " data TEXT NOT NULL, PRIMARY KEY (kind, key)) STRICT",
    "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, request TEXT NOT NULL) STRICT",
    "CREATE TABLE dead_letters (id INTEGER PRIMARY KEY, message_id TEXT NOT NULL,"
    " kind TEXT NOT NULL, reason TEXT NOT NULL, body TEXT NOT NULL, request TEXT,"
    " correlation_id TEXT, query TEXT, at REAL, origin TEXT NOT NULL,"
    " status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'replayed', 'discarded')),"
    " replays INTEGER NOT NULL DEFAULT 0, replayed_as TEXT, discard_reason TEXT) STRICT",
    "CREATE TABLE inbound_queue (seq INTEGER PRIMARY KEY, message_id TEXT NOT NULL UNIQUE,"
    " kind TEXT NOT NULL, body TEXT NOT NULL, correlation_id TEXT, query TEXT) STRICT",
    "CREATE TABLE audit (seq INTEGER PRIMARY KEY, message_id TEXT NOT NULL,"
    " consumed TEXT, changes INTEGER NOT NULL, requests INTEGER NOT NULL,"
    " dead_letters INTEGER NOT NULL) STRICT",
    "CREATE TABLE audit_trail (pos INTEGER PRIMARY KEY, seq INTEGER NOT NULL, at TEXT NOT NULL,"
    " actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL,"
    " prev_hash TEXT NOT NULL, hash TEXT NOT NULL) STRICT",
)

_INSERT_INBOX = "INSERT OR IGNORE INTO inbox (message_id) VALUES (?)"
_UPSERT_ENTITY = (
    "INSERT INTO entities (kind, key, version, data) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (kind, key) DO UPDATE SET version = excluded.version, data = excluded.data"
)
_INSERT_OUTBOX = "INSERT INTO outbox (id, request) VALUES (?, ?)"
_INSERT_AUDIT = (
    "INSERT INTO audit (message_id, consumed, changes, requests, dead_letters)"
    " VALUES (?, ?, ?, ?, ?)"
)
_LAST_OUTBOX_ID = "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'"
_NEXT_DEAD_ID = "SELECT coalesce(max(id), 0) + 1 FROM dead_letters"  # rowid: max + 1
# the read cache's token: changes when another connection commits, not when this one does
_DATA_VERSION = "PRAGMA data_version"

_BUSY, _LOCKED = 5, 6  # primary SQLite result codes: the same call may succeed later
# What translates into StoreError: the driver's errors, and values it cannot bind
# (an integer beyond 64 bits, a string with a lone surrogate).
_DRIVER_ERRORS = (sqlite3.Error, ValueError, OverflowError)


class SqliteStore(SqlStore):
    """The store contract on one SQLite file (created on first open)."""

    _PARAM = "?"
    _KEY_ORDER = "key"
    _AUDIT_ORDER = "seq"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Synchronous = "FULL",
        busy_timeout_s: float = 5.0,
        clock: Clock = time.time,
        read_cache: bool = False,
    ) -> None:
        """``clock`` stamps the audit trail (seconds since the epoch); ``read_cache``: a group
        commit's reads go through a cache (:mod:`sync_core._store_cache`)."""
        if synchronous not in _SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {sorted(_SYNCHRONOUS)}: {synchronous!r}")
        self.path = Path(path)
        self.synchronous = synchronous
        self.clock = clock
        self._cache = ReadCache() if read_cache else None
        try:
            self._db = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None)
        except sqlite3.Error as e:
            raise self._error("open", e) from e
        try:
            self._configure()
        except BaseException:
            self._db.close()
            raise
        # every read on one cursor (each runs to its end: fetchall), not a cursor a read
        self._reads = self._db.cursor()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r}, synchronous={self.synchronous!r})"

    # -- opening ------------------------------------------------------------------------

    def _configure(self) -> None:
        db = self._db
        try:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            db.execute(f"PRAGMA synchronous={self.synchronous}")
        except _DRIVER_ERRORS as e:
            raise self._error("open", e) from e
        if mode != "wal":
            raise StoreError("open", f"{self.path}: journal_mode is {mode!r}, WAL is required")
        with self._transaction("open"):
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                tables = db.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
                if tables:
                    raise StoreError("open", f"{self.path}: a database, but not a store")
                for statement in _SCHEMA:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            else:
                check_schema_version(str(self.path), version, SCHEMA_VERSION, "file")

    def pragmas(self) -> dict[str, Any]:
        """The settings in force on this connection (for checks and reports)."""
        try:
            mode = self._db.execute("PRAGMA journal_mode").fetchone()[0]
            sync = self._db.execute("PRAGMA synchronous").fetchone()[0]
        except _DRIVER_ERRORS as e:
            raise self._error("pragmas", e) from e
        names = {v: k for k, v in _SYNCHRONOUS.items()}
        return {"journal_mode": mode, "synchronous": names[sync]}

    def close(self) -> None:
        try:
            self._db.close()
        except sqlite3.Error as e:
            raise self._error("close", e) from e

    # -- reads: SqlStore, on _select ----------------------------------------------------

    def _select(self, operation: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._reads.execute(sql, params).fetchall()
        except _DRIVER_ERRORS as e:
            raise self._error(operation, e) from e

    def _cache_token(self) -> int:
        """The read cache's token (``PRAGMA data_version``)."""
        return int(self._select("check", _DATA_VERSION)[0][0])

    # -- writes -------------------------------------------------------------------------

    def commit_many(self, decisions: Sequence[Decision]) -> list[list[OutboxItem]]:
        if not decisions:
            return []
        rows = self._encode(decisions)
        cache = self._cache
        try:
            first = self._write_group(decisions, rows)
        except Conflict:
            if cache is not None:
                cache.clear()
            raise self._already_consumed(decisions) from None
        except BaseException:
            if cache is not None:
                cache.clear()
            raise
        if cache is not None:
            # the last change of a key in the group wins, as in the table
            entities = {(kind, key): (version, data) for kind, key, version, data in rows.entities}
            # this connection's commits leave the data version as it was: if another one
            # committed since the check, the next check sees it and clears the cache
            token = cache.token
            if token is not None:
                cache.committed(token, token, rows.inbox, entities)
        return self._hand_out(decisions, range(first, first + len(rows.requests)))

    def _write_group(self, decisions: Sequence[Decision], rows: Rows) -> int:
        """The transaction of a group; its first outbox id."""
        inbox, entities, requests, dead, audit = rows
        with self._transaction("commit") as db:
            last = db.execute(_LAST_OUTBOX_ID).fetchone()
            first = (last[0] if last else 0) + 1
            if db.executemany(_INSERT_INBOX, zip(inbox)).rowcount != len(inbox):
                raise Conflict  # an id was in the inbox already: roll back
            if entities:
                db.executemany(_UPSERT_ENTITY, entities)
            if requests:
                ids = range(first, first + len(requests))
                db.executemany(_INSERT_OUTBOX, zip(ids, requests, strict=True))
            if dead:
                first_dead = db.execute(_NEXT_DEAD_ID).fetchone()[0]
                db.executemany(self._INSERT_DEAD, dead)
                letters = [letter for d in decisions for letter in d.dead_letters]
                ids = range(first_dead, first_dead + len(letters))
                self._append_trail(db, self._dead_trail(letters, ids))
            db.executemany(_INSERT_AUDIT, audit)
        return first

    def done_many(self, outbox_ids: Sequence[int]) -> None:
        rows = [(i,) for i in outbox_ids]
        if rows:
            with self._transaction("done_many") as db:
                db.executemany("DELETE FROM outbox WHERE id = ?", rows)

    def take_inbound(self, message_ids: Sequence[str]) -> None:
        rows = [(m,) for m in message_ids]
        if rows:
            with self._transaction("take_inbound") as db:
                db.executemany("DELETE FROM inbound_queue WHERE message_id = ?", rows)

    @contextmanager
    def _transaction(self, operation: str) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed on success, rolled back on any failure."""
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except _DRIVER_ERRORS as e:
            raise self._error(operation, e) from e

    def _insert_id(self, db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> int:
        row_id = db.execute(sql, params).lastrowid
        assert row_id is not None
        return row_id

    def _error(self, operation: str, e: Exception) -> StoreError:
        if isinstance(e, sqlite3.Error):
            code = getattr(e, "sqlite_errorcode", None)
            name = getattr(e, "sqlite_errorname", None) or type(e).__name__
            retriable = code is not None and code & 0xFF in (_BUSY, _LOCKED)
            return StoreError(operation, f"{self.path}: {name}: {e}", retriable=retriable)
        return StoreError(operation, f"{self.path}: cannot store a value: {e}")
