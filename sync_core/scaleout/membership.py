"""Who is alive: worker slots held as PostgreSQL advisory locks, and who owns what.

Theory of operation.  A worker joins by taking one *slot*, a session-level advisory
lock ``(namespace, slot)`` on a connection of its own that it keeps open while it
lives; the namespace is derived from the store's schema, so two stores on one
database never share slots.  PostgreSQL releases a session's locks when the session
ends, so a worker that dies (``kill -9``, a lost machine: the server notices the
dropped connection) leaves its slot free, with no lease to expire and no heartbeat
table to sweep.  The live members are the granted locks of the namespace in
``pg_locks``, read by anyone.

Partitions are dealt to the live slots in order: partition ``p`` belongs to
``live[p % len(live)]``.  Every worker computes the same answer from the same
``pg_locks`` read; while a membership change spreads (each worker re-reads every
``tick``), two workers may both consume one partition for a moment, which is harmless:
the bus hands a partition's next message to one consumer at a time, and the inbox
drops a message decided twice.  With takeover off (the injected defect), a worker
owns only the partitions of its own slot among ``expected`` slots, whoever lives.

The slot is also the owner of the outbox rows the worker commits (the store's
``owner`` column): :mod:`sync_core.scaleout.store` adopts the rows of a slot nobody
holds, under a transaction lock on that slot, so a worker joining on it cannot
recover them at the same moment.
"""

from __future__ import annotations

import zlib
from typing import Any

import psycopg

from sync_core.store import StoreError

__all__ = ["Membership", "namespace", "owned_partitions", "store_schema", "with_schema"]

MAX_SLOTS = 256


def namespace(schema: str, what: str) -> int:
    """A positive 31-bit advisory-lock namespace for ``what`` in ``schema``."""
    return zlib.crc32(f"supplysync-{what}:{schema}".encode()) & 0x7FFFFFFF


def store_schema(url: str) -> str | None:
    """The schema a store URL names (``options=-csearch_path=NAME``), else None (the
    connection's current schema)."""
    try:
        options = psycopg.conninfo.conninfo_to_dict(url).get("options") or ""
    except psycopg.ProgrammingError as e:
        raise StoreError("open", f"not a PostgreSQL URL: {e}") from None
    for part in str(options).replace("-c ", "-c").split():
        if part.startswith("-csearch_path="):
            return part.split("=", 1)[1].split(",")[0].strip().strip('"') or None
    return None


def with_schema(url: str, schema: str) -> str:
    """``url`` with its search_path set to ``schema`` (a store of its own)."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


def owned_partitions(
    slot: int, live: list[int], partitions: int, *, takeover: bool = True, expected: int = 1
) -> set[int]:
    """The partitions ``slot`` consumes when ``live`` slots are held."""
    if not takeover:
        return {p for p in range(partitions) if p % expected == slot % expected}
    ordered = sorted(set(live) | {slot})
    return {p for p in range(partitions) if ordered[p % len(ordered)] == slot}


class Membership:
    """One worker's slot, held on a connection of its own (open with :meth:`join`)."""

    def __init__(self, url: str, schema: str) -> None:
        self.url, self.schema = url, schema
        self.ns = namespace(schema, "slots")
        self.slot: int | None = None
        self._db: psycopg.Connection[tuple[Any, ...]] | None = None

    def watch(self) -> None:
        """Connect without taking a slot (to read :meth:`live`: the ingress)."""
        try:
            self._db = psycopg.connect(self.url, autocommit=True,
                                       application_name="supplysync-member")  # fmt: skip
        except psycopg.Error as e:
            raise StoreError("watch", f"cannot read the members: {e}", retriable=True) from e

    def join(self) -> int:
        """Take the lowest free slot and keep it (StoreError when none is free)."""
        try:
            db = psycopg.connect(self.url, autocommit=True, application_name="supplysync-member")
            for slot in range(MAX_SLOTS):
                row = db.execute("SELECT pg_try_advisory_lock(%s, %s)", (self.ns, slot)).fetchone()
                if row and row[0]:
                    self._db, self.slot = db, slot
                    return slot
        except psycopg.Error as e:
            raise StoreError("join", f"cannot take a worker slot: {e}", retriable=True) from e
        db.close()
        raise StoreError("join", f"all {MAX_SLOTS} worker slots of {self.schema!r} are held")

    def live(self) -> list[int]:
        """The slots held now, ours included (StoreError when our connection is gone: a
        worker's slot may be taken by another then, so it must stop)."""
        if self._db is None or self._db.closed or self._db.broken:
            raise StoreError("membership", "the slot's connection is gone", retriable=True)
        try:
            rows = self._db.execute(
                "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid = %s::bigint::oid AND objsubid = 2"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                (self.ns,),
            ).fetchall()
        except psycopg.Error as e:
            raise StoreError("membership", f"cannot read the members: {e}", retriable=True) from e
        return sorted(int(slot) for (slot,) in rows)

    def leave(self) -> None:
        db, self._db = self._db, None
        if db is not None and not db.closed:
            db.close()  # the server releases the slot with the session
