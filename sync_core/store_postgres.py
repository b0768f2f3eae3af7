"""The store contract on PostgreSQL: for deployments that outgrow one machine.

Theory of operation
-------------------
The same contract and the same rules as :mod:`sync_core.store_sqlite`, on one
psycopg 3 connection in autocommit mode; every write is an explicit
transaction (``BEGIN`` … ``COMMIT``, ``READ COMMITTED``).  A store lives in
one PostgreSQL *schema* (``public`` unless told otherwise; created when
missing), so several stores — one per test, one per tenant — share a database
without seeing each other.  ``commit_many`` encodes every row first, in
Python, then writes the whole group in one transaction with one statement per
table, each taking all its rows as arrays sent in binary (``INSERT … SELECT *
FROM unnest(%b…)``: one round trip whatever the group size, and no per-element
quoting — psycopg's text array format escapes every quote of every JSON
document in Python, ten times the cost):

==============  ================================================  =========================
table           row                                               written as
==============  ================================================  =========================
inbox           ``message_id`` (primary key)                      ``ON CONFLICT DO NOTHING``
entities        ``kind, key`` (primary key), ``version``, data    upsert, last of the group
outbox          ``id`` (sequence ``outbox_id_seq``), request,     insert, ids in order
                ``owner`` (the connection's ``supplysync.owner``)
dead_letters    ``id`` (sequence), the letter, ``origin``, status insert, ids in order
audit           ``batch`` (a sequence, one per commit), ``pos``   insert
audit_trail     ``pos`` (sequence), an entry of the audit trail   insert, chained
==============  ================================================  =========================

(``audit_trail``: one entry per dead letter of the group, under ``LOCK TABLE
audit_trail IN SHARE ROW EXCLUSIVE MODE`` — writers that append to the trail
chain one after the other, readers are not blocked — just before the
``audit`` rows, the group's last write.)

The inbox is the idempotency key of the whole decision, as in SQLite: when
the inbox insert inserts fewer rows than the group consumes, a consumed id was
there already (or is being inserted by another writer's transaction, which
this one waits for) and the transaction is rolled back with
:class:`~sync_core.store.AlreadyConsumed`.  Outbox and dead-letter ids are
reserved from their sequences only after that check, sorted, and handed out
in the order of the group; they always increase and are never reused, but a
transaction that failed later (a lost connection) leaves a gap — sequences are
not transactional.  Audit rows are ordered by ``(batch, pos)``: one sequence
value per commit and the row's position in the group.  A commit takes its
``batch`` under a transaction-level advisory lock of the schema (the *commit
lock*, at the group's last write), so a reader that holds it shared knows that
no commit is half way: what the read cache relies on.

Text: identifiers (message ids, kinds, entity kinds and keys) are stored as
plain ``text``, which PostgreSQL refuses to hold a NUL character in: such an
id is a :class:`~sync_core.store.StoreError` (SQLite would keep it).  Free
text that may hold anything — a dead letter's reason and correlation id, a
replay origin (it contains an idempotency key), a queued message's
correlation id, a discard reason — is stored as its JSON encoding, and every
document (entity data, request, body, query) is JSON text written by
:func:`~sync_core.store_json.encode_json`, so what comes back is exactly what was
stored, as with SQLite (``text``, not ``jsonb``, which would reorder keys and
refuse ``\\u0000``).

The reads are SQLite's (:class:`sync_core._store_sql.SqlStore` runs them on
this module's ``_select``) but for three things: entity keys are ordered
``COLLATE "C"`` (code point order, as in SQLite), audit rows by ``(batch,
pos)``, and the free text above is decoded from its JSON.  So are the writes
whose logic is the same (dead letters, replays, discards, the encoding of a
group), on this module's ``_transaction``, ``_insert_id`` and locks.  With
``read_cache=True`` the reads of a group commit (:meth:`PostgresStore.reader`)
go through a cache instead, checked with one query per group
(:mod:`sync_core._store_cache`); the store's own reads always query.

Replays and discards lock the dead-letter row (``SELECT … FOR UPDATE``), and a
replay also takes a transaction-level advisory lock on its origin, so two
processes replaying letters of the same message count and number their
replays one after the other.

Durability: ``synchronous_commit`` is ``on`` by default (a returned commit is
in the server's fsynced WAL); ``synchronous_commit=False`` turns it off for
this connection (a server crash may lose the last commits, never half of
one).  The schema is versioned (table ``store_meta``); a schema of another
version is refused, not migrated; a schema holding other tables is not a
store.

Errors: every psycopg error (and a value that cannot be sent) is translated
here into :class:`~sync_core.store.StoreError`.  ``retriable`` when the same
call may succeed later unchanged: the connection failed or was closed by the
server (SQLSTATE classes 08, 57P), a serialization failure or deadlock (class
40), a lock wait beyond ``lock_timeout_s`` (55P03), a cancelled statement or
exhausted resources (57014, class 53).  A broken connection is replaced by a
new one on the next call.  A commit whose connection died during ``COMMIT``
may or may not have been kept: its retry then fails with ``AlreadyConsumed``
when it was, which tells the driver to decide again (the engine will see a
duplicate).  A failed write is rolled back, so none of it is kept.

A store object belongs to the thread that opened it (the live driver's store
thread); any number of processes may open the same schema.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from sync_core._store_cache import ReadCache
from sync_core._store_sql import (
    DEAD_COLUMNS,
    DEAD_FIELDS,
    Conflict,
    Rows,
    SqlStore,
    check_schema_version,
)
from sync_core.audit import Clock
from sync_core.messages import Decision
from sync_core.store import DeadLetterRecord, OutboxItem, StoreError, unknown_letter
from sync_core.store_json import decode_json, encode_json

__all__ = ["SCHEMA_VERSION", "PostgresStore", "is_postgres_url"]

SCHEMA_VERSION = 3  # 2: the audit trail; 3: outbox.owner (the scale-out core's workers)
_SCHEMA = (
    "CREATE TABLE store_meta (version integer NOT NULL)",
    "CREATE TABLE inbox (message_id text PRIMARY KEY)",
    "CREATE TABLE entities (kind text NOT NULL, key text NOT NULL, version bigint NOT NULL,"
    " data text NOT NULL, PRIMARY KEY (kind, key))",
    # owner: the scale-out worker slot that delivers the row (sync_core.scaleout), taken
    # from the connection's supplysync.owner setting; NULL when nobody set one
    "CREATE TABLE outbox (id bigserial PRIMARY KEY, request text NOT NULL, owner integer"
    " DEFAULT NULLIF(current_setting('supplysync.owner', true), '')::integer)",
    "CREATE TABLE dead_letters (id bigserial PRIMARY KEY, message_id text NOT NULL,"
    " kind text NOT NULL, reason text NOT NULL, body text NOT NULL, request text,"
    " correlation_id text NOT NULL, query text, at double precision, origin text NOT NULL,"
    " status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'replayed', 'discarded')),"
    " replays integer NOT NULL DEFAULT 0, replayed_as text, discard_reason text)",
    "CREATE INDEX dead_letters_replayed ON dead_letters (origin) WHERE status = 'replayed'",
    "CREATE INDEX dead_letters_status ON dead_letters (status, id)",
    "CREATE TABLE inbound_queue (seq bigserial PRIMARY KEY, message_id text NOT NULL UNIQUE,"
    " kind text NOT NULL, body text NOT NULL, correlation_id text NOT NULL, query text)",
    "CREATE SEQUENCE audit_batch_seq",
    "CREATE TABLE audit (batch bigint NOT NULL, pos bigint NOT NULL, message_id text NOT NULL,"
    " consumed text, changes integer NOT NULL, requests integer NOT NULL,"
    " dead_letters integer NOT NULL, PRIMARY KEY (batch, pos))",
    "CREATE TABLE audit_trail (pos bigserial PRIMARY KEY, seq bigint NOT NULL, at text NOT NULL,"
    " actor text NOT NULL, action text NOT NULL, subject text NOT NULL, detail text NOT NULL,"
    " prev_hash text NOT NULL, hash text NOT NULL)",
)

_INSERT_INBOX = "INSERT INTO inbox (message_id) SELECT unnest(%b::text[]) ON CONFLICT DO NOTHING"
_UPSERT_ENTITIES = (
    "INSERT INTO entities (kind, key, version, data)"
    " SELECT * FROM unnest(%b::text[], %b::text[], %b::bigint[], %b::text[])"
    " ON CONFLICT (kind, key) DO UPDATE SET version = excluded.version, data = excluded.data"
)
_RESERVE_IDS = (
    "SELECT ARRAY(SELECT nextval('outbox_id_seq') FROM generate_series(1, %s)),"
    " ARRAY(SELECT nextval('dead_letters_id_seq') FROM generate_series(1, %s))"
)
_INSERT_OUTBOX = "INSERT INTO outbox (id, request) SELECT * FROM unnest(%b::bigint[], %b::text[])"
_INSERT_DEAD_MANY = (
    f"INSERT INTO dead_letters (id, {DEAD_FIELDS}) SELECT * FROM unnest(%b::bigint[],"
    " %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[],"
    " %b::float8[], %b::text[])"
)
_LOCK_DEAD = f"SELECT {DEAD_COLUMNS} FROM dead_letters WHERE id = %s FOR UPDATE"
# the commit's number is taken under the schema's commit lock (sync_core._store_cache)
# the read cache's token: the sequence's last number, read once no commit holds the lock
_CACHE_CHECK = (
    "SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM audit_batch_seq)"
    " FROM (SELECT pg_advisory_xact_lock_shared(hashtextextended(%s, 0)) OFFSET 0) AS l"
)
_INSERT_AUDIT = (
    "WITH a AS (INSERT INTO audit (batch, pos, message_id, consumed, changes, requests,"
    " dead_letters) SELECT b.n, t.pos, t.m, t.c, t.ch, t.rq, t.dl"
    " FROM (SELECT nextval('audit_batch_seq') AS n FROM (SELECT"
    " pg_advisory_xact_lock(hashtextextended(%s, 0)) OFFSET 0) AS l OFFSET 0) AS b,"
    " unnest(%b::text[], %b::text[], %b::int[], %b::int[], %b::int[]) WITH ORDINALITY"
    " AS t(m, c, ch, rq, dl, pos) RETURNING batch) SELECT min(batch) FROM a"
)

# SQLSTATEs after which the same call may succeed: connection exceptions, serialization
# failures and deadlocks, exhausted resources, a cancelled statement (statement_timeout),
# a lock not obtained within lock_timeout, the server shutting down or starting.
_RETRIABLE_CLASSES = frozenset({"08", "40", "53"})
_RETRIABLE_STATES = frozenset({"55P03", "57014", "57P01", "57P02", "57P03", "57P05"})
# What translates into StoreError: the driver's errors, and values it cannot send
# (a lone surrogate: UnicodeEncodeError is a ValueError; an integer beyond 64 bits).
_DRIVER_ERRORS = (psycopg.Error, ValueError, OverflowError)


def is_postgres_url(text: str) -> bool:
    """True when ``text`` names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    return text.startswith(("postgresql://", "postgres://"))


class PostgresStore(SqlStore):
    """The store contract in one schema of a PostgreSQL database (created on first open)."""

    _PARAM = "%s"
    _KEY_ORDER = 'key COLLATE "C"'
    _AUDIT_ORDER = "batch, pos"

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        synchronous_commit: bool = True,
        lock_timeout_s: float = 5.0,
        connect_timeout_s: float = 5.0,
        clock: Clock = time.time,
        read_cache: bool = False,
    ) -> None:
        """``clock`` stamps the audit trail (seconds since the epoch); ``read_cache``: a group
        commit's reads go through a cache (:mod:`sync_core._store_cache`)."""
        if lock_timeout_s <= 0 or connect_timeout_s <= 0:
            raise ValueError("lock_timeout_s and connect_timeout_s must be positive")
        self.url = url
        self.synchronous_commit = synchronous_commit
        self.lock_timeout_s = lock_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.clock = clock
        self._closed = False
        self._db: psycopg.Connection[tuple[Any, ...]] | None = None
        self._cache = ReadCache() if read_cache else None
        self.schema = schema or ""
        db = self._connect("open")
        try:
            if not schema:
                self.schema = db.execute("SELECT current_schema()").fetchone()[0] or ""  # type: ignore[index]
                if not self.schema:
                    raise StoreError("open", f"{self._where()}: no schema in the search_path")
            self._configure(db)
        except _DRIVER_ERRORS as e:
            db.close()
            raise self._error("open", e) from e
        except BaseException:
            db.close()
            raise

    def __repr__(self) -> str:
        return f"PostgresStore({self._where()!r}, schema={self.schema!r})"

    def _where(self) -> str:
        """The database, for messages: the URL without its password."""
        try:
            info = psycopg.conninfo.conninfo_to_dict(self.url)
        except psycopg.ProgrammingError:
            return "postgresql (unparsable URL)"
        host, port, name = info.get("host", ""), info.get("port", ""), info.get("dbname", "")
        return f"postgresql://{host}{f':{port}' if port else ''}/{name}"

    # -- the connection -----------------------------------------------------------------

    def _connect(self, operation: str) -> psycopg.Connection[tuple[Any, ...]]:
        try:
            db = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=max(1, round(self.connect_timeout_s)),
                application_name="supplysync-store",
            )
        except _DRIVER_ERRORS as e:
            raise self._error(operation, e) from e
        try:
            if self.schema:
                db.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            db.execute(
                "SELECT set_config('lock_timeout', %s, false),"
                " set_config('synchronous_commit', %s, false)",
                (f"{round(self.lock_timeout_s * 1000)}ms",
                 "on" if self.synchronous_commit else "off"),
            )  # fmt: skip
        except _DRIVER_ERRORS as e:
            db.close()
            raise self._error(operation, e) from e
        self._db = db
        return db

    def _conn(self, operation: str) -> psycopg.Connection[tuple[Any, ...]]:
        """The live connection; a new one when the last one broke."""
        if self._closed:
            raise StoreError(operation, f"{self._where()}: the store is closed")
        db = self._db
        if db is None or db.broken or db.closed:
            return self._connect(operation)
        return db

    def _configure(self, db: psycopg.Connection[tuple[Any, ...]]) -> None:
        schema = sql.Identifier(self.schema)
        where = f"{self._where()} schema {self.schema!r}"
        with db.transaction():
            # one opener at a time creates or checks the schema
            db.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                       (f"supplysync-store:{self.schema}",))  # fmt: skip
            db.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
            db.execute(sql.SQL("SET search_path TO {}").format(schema))
            row = db.execute(
                "SELECT count(*), count(*) FILTER (WHERE c.relname = 'store_meta'"
                " AND c.relkind = 'r') FROM pg_class AS c JOIN pg_namespace AS n"
                " ON n.oid = c.relnamespace WHERE n.nspname = %s",
                (self.schema,),
            ).fetchone()
            assert row is not None
            relations, meta = row
            if not meta:
                if relations:
                    raise StoreError("open", f"{where}: holds tables, but not a store")
                for statement in _SCHEMA:
                    db.execute(statement)
                db.execute("INSERT INTO store_meta (version) VALUES (%s)", (SCHEMA_VERSION,))
                return
            versions = [v for (v,) in db.execute("SELECT version FROM store_meta").fetchall()]
            version = versions[0] if len(versions) == 1 else None
        if version is None:
            raise StoreError("open", f"{where}: store_meta holds {len(versions)} rows, not one")
        check_schema_version(where, version, SCHEMA_VERSION, "schema")

    def settings(self) -> dict[str, str]:
        """The settings in force on this connection (for checks and reports)."""
        rows = self._select(
            "settings",
            "SELECT name, setting FROM pg_settings WHERE name IN"
            " ('synchronous_commit', 'lock_timeout', 'search_path', 'transaction_isolation')",
        )
        return dict(rows)

    def close(self) -> None:
        self._closed = True
        db, self._db = self._db, None
        if db is not None:
            try:
                db.close()
            except _DRIVER_ERRORS as e:
                raise self._error("close", e) from e

    # -- reads: SqlStore, on _select ----------------------------------------------------

    @staticmethod
    def _load_text(value: Any) -> Any:
        return decode_json(value)

    @staticmethod
    def _dump_text(value: Any) -> Any:
        return encode_json(value)

    def _lock_letter(
        self, db: psycopg.Connection[tuple[Any, ...]], operation: str, letter_id: int
    ) -> DeadLetterRecord:
        """A dead letter, its row locked until the transaction of ``db`` ends."""
        row = db.execute(_LOCK_DEAD, (letter_id,)).fetchone()
        if row is None:
            raise unknown_letter(operation, letter_id)
        return self._dead_record(row)

    def _lock_origin(self, db: psycopg.Connection[tuple[Any, ...]], origin: str) -> None:
        """Two processes replaying letters of one origin count and number them in turn."""
        db.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (origin,))

    def _lock_trail(self, db: psycopg.Connection[tuple[Any, ...]]) -> None:
        """Writers chain onto the trail's head one at a time; readers go on."""
        db.execute("LOCK TABLE audit_trail IN SHARE ROW EXCLUSIVE MODE")

    def _cache_token(self) -> int:
        """The read cache's token: the last commit number, read under the commit lock."""
        [(last,)] = self._select("check", _CACHE_CHECK, (self._commit_lock,))
        return int(last)

    @property
    def _commit_lock(self) -> str:
        """What the schema's commit lock is named after (hashed into the advisory key)."""
        return f"supplysync-commits:{self.schema}"

    def _select(self, operation: str, query: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._conn(operation).execute(query, params).fetchall()
        except _DRIVER_ERRORS as e:
            raise self._error(operation, e) from e

    # -- writes -------------------------------------------------------------------------

    def commit_many(self, decisions: Sequence[Decision]) -> list[list[OutboxItem]]:
        if not decisions:
            return []
        rows = self._encode(decisions)
        # one row per key, the last change of the group wins (one upsert may not touch a
        # row twice)
        entities = {(kind, key): (version, data) for kind, key, version, data in rows.entities}
        try:
            batch, outbox_ids = self._write_group(decisions, rows, entities)
        except Conflict:
            self._cached(None, rows.inbox, entities)
            raise self._already_consumed(decisions) from None
        except BaseException:
            self._cached(None, rows.inbox, entities)
            raise
        self._cached(batch, rows.inbox, entities)
        return self._hand_out(decisions, outbox_ids)

    def _cached(
        self, batch: int | None, inbox: list[str], entities: dict[tuple[str, str], tuple[int, str]]
    ) -> None:
        """Tell the read cache (if any) what a commit wrote under ``batch`` (None: it failed)."""
        if self._cache is not None:
            if batch is None:
                self._cache.clear()
            else:
                self._cache.committed(batch - 1, batch, inbox, entities)

    def _write_group(
        self,
        decisions: Sequence[Decision],
        rows: Rows,
        entities: dict[tuple[str, str], tuple[int, str]],
    ) -> tuple[int, list[int]]:
        """The transaction of a group; its number (``audit_batch_seq``) and outbox ids."""
        inbox, _, requests, dead, audit = rows
        outbox_ids: list[int] = []
        with self._transaction("commit") as db:
            if inbox and db.execute(_INSERT_INBOX, (inbox,)).rowcount != len(inbox):
                raise Conflict  # an id was in the inbox already: roll back
            if entities:
                kinds, keys = zip(*entities, strict=True)
                versions, data = zip(*entities.values(), strict=True)
                db.execute(_UPSERT_ENTITIES, (list(kinds), list(keys), list(versions),
                                              list(data)))  # fmt: skip
            if requests or dead:
                row = db.execute(_RESERVE_IDS, (len(requests), len(dead))).fetchone()
                assert row is not None
                outbox_ids, dead_ids = sorted(row[0]), sorted(row[1])
                if requests:
                    db.execute(_INSERT_OUTBOX, (outbox_ids, requests))
                if dead:
                    columns = [list(c) for c in zip(*dead, strict=True)]
                    db.execute(_INSERT_DEAD_MANY, (dead_ids, *columns))
                    letters = [letter for d in decisions for letter in d.dead_letters]
                    self._append_trail(db, self._dead_trail(letters, dead_ids))
            batch = self._insert_audit(db, [list(c) for c in zip(*audit, strict=True)])
        return batch, outbox_ids

    def _insert_audit(self, db: psycopg.Connection[tuple[Any, ...]], columns: Sequence[Any]) -> int:
        """The last write of a commit (a test may make it fail, or die in it): the audit
        rows, under the commit's number, taken under the commit lock; that number."""
        row = db.execute(_INSERT_AUDIT, (self._commit_lock, *columns)).fetchone()
        assert row is not None
        return int(row[0])

    def done_many(self, outbox_ids: Sequence[int]) -> None:
        if outbox_ids:
            with self._transaction("done_many") as db:
                db.execute("DELETE FROM outbox WHERE id = ANY(%b::bigint[])", (list(outbox_ids),))

    def take_inbound(self, message_ids: Sequence[str]) -> None:
        if message_ids:
            with self._transaction("take_inbound") as db:
                db.execute(
                    "DELETE FROM inbound_queue WHERE message_id = ANY(%b::text[])",
                    (list(message_ids),),
                )

    @contextmanager
    def _transaction(self, operation: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        """One write transaction: committed on success, rolled back on any failure."""
        try:
            db = self._conn(operation)
            with db.transaction():
                yield db
        except _DRIVER_ERRORS as e:
            raise self._error(operation, e) from e

    def _insert_id(
        self, db: psycopg.Connection[tuple[Any, ...]], query: str, params: Sequence[Any]
    ) -> int:
        row = db.execute(f"{query} RETURNING id", params).fetchone()
        assert row is not None
        return int(row[0])

    def _error(self, operation: str, e: BaseException) -> StoreError:
        where = self._where()
        if isinstance(e, psycopg.Error):
            state = e.sqlstate
            if state is None:  # raised by the client: the connection, or a value it cannot send
                retriable = isinstance(e, psycopg.OperationalError)
                if isinstance(e, psycopg.DataError):
                    return StoreError(operation, f"{where}: cannot store a value: {e}")
            elif state[:2] == "22":  # a data exception: a value the schema cannot hold
                return StoreError(operation, f"{where}: cannot store a value: {_first_line(e)}")
            else:
                retriable = state[:2] in _RETRIABLE_CLASSES or state in _RETRIABLE_STATES
            name = type(e).__name__ if state is None else f"{type(e).__name__} ({state})"
            return StoreError(operation, f"{where}: {name}: {_first_line(e)}", retriable=retriable)
        return StoreError(operation, f"{where}: cannot store a value: {e}")


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else "no detail"
