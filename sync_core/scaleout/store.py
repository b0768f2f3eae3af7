"""A worker's store: PostgreSQL, with the rows it owns and the lock its decisions take.

Theory of operation.  Three additions to :class:`~sync_core.store_postgres.PostgresStore`,
on the worker's own connection:

*Ownership.*  The connection sets ``supplysync.owner`` to the worker's slot
(:mod:`sync_core.scaleout.membership`), so every outbox row it commits carries that
owner (the column's default reads the setting).  :meth:`WorkerStore.pending` — what
the live driver re-delivers when it starts — claims the rows of its own slot only,
and :meth:`WorkerStore.adopt` claims the rows of the slots nobody holds (a dead
worker's) and the rows no worker owns (a replay made through the ingress): under
``pg_try_advisory_xact_lock`` on each dead slot, so no worker can join on that slot
while they move, and with ``FOR UPDATE SKIP LOCKED``, so two workers adopting at once
take disjoint rows.  A row is delivered by its owner only; a worker that dies leaves
its rows to whichever worker adopts them first.

*One decision at a time.*  The engine reads what the core knows (entities,
the inbox, the numbered feeds' last sequence, the work under way) and
writes back; partitions keep one PO's messages on one worker, but some state
is shared (a feed's sequence, contract prices, a tick's pulls).  So a worker
decides and commits a group under a session advisory lock of the schema
(:meth:`lock_decisions` … :meth:`unlock_decisions`): the decisions of all
workers are serial, as in one process, and what runs in parallel is the
rest — bus reads and acks, HTTP delivery, retries.  A worker killed while
holding it loses its session, and the server releases the lock.

*No inbound queue.*  A replayed message reaches the workers over the bus (the
ingress publishes it), so :meth:`pending_inbound` is empty here: every worker
reading the queue at start would decide it once each.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from sync_core.messages import Inbound
from sync_core.scaleout.membership import namespace
from sync_core.store import OutboxItem, Store
from sync_core.store_json import request_from_json
from sync_core.store_postgres import PostgresStore

__all__ = ["ADOPT_BATCH", "WorkerStore", "outbox_count"]

ADOPT_BATCH = 500

_CLAIM = (
    "UPDATE outbox SET owner = %(me)s WHERE id IN (SELECT id FROM outbox WHERE ({where})"
    " ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED) RETURNING id, request"
)


class WorkerStore(PostgresStore):
    """The store of the worker holding ``slot`` (see the module docstring)."""

    def __init__(self, url: str, *, slot: int, schema: str | None = None, **kw: Any) -> None:
        self.slot = slot
        super().__init__(url, schema=schema, **kw)
        self._decide_ns = namespace(self.schema, "decisions")
        self._slots_ns = namespace(self.schema, "slots")
        self._deciding = False

    def _connect(self, operation: str) -> psycopg.Connection[tuple[Any, ...]]:
        db = super()._connect(operation)
        try:
            db.execute("SELECT set_config('supplysync.owner', %s, false)", (str(self.slot),))
        except psycopg.Error as e:
            db.close()
            raise self._error(operation, e) from e
        self._deciding = False  # a new session holds no lock
        return db

    # -- one decision at a time -----------------------------------------------------------

    def lock_decisions(self) -> float:
        """Wait (at most ``lock_timeout_s``) for the schema's decision lock; seconds waited."""
        began = time.monotonic()
        self._select("lock_decisions", "SELECT pg_advisory_lock(%s, 0)", (self._decide_ns,))
        self._deciding = True
        return time.monotonic() - began

    def unlock_decisions(self) -> None:
        if not self._deciding:
            return
        self._deciding = False
        db = self._db
        if db is not None and not db.closed and not db.broken:
            try:
                db.execute("SELECT pg_advisory_unlock(%s, 0)", (self._decide_ns,))
            except psycopg.Error:
                db.close()  # closing the session releases the lock for sure

    # -- the rows it delivers -------------------------------------------------------------

    def pending(self) -> list[OutboxItem]:
        """The rows of this worker's slot (a restart on the same slot sends them again)."""
        return self._claim("pending", "owner = %(me)s", {})

    def adopt(self, live: list[int], limit: int = ADOPT_BATCH) -> list[OutboxItem]:
        """Claim rows of the slots not in ``live`` and rows of no owner (module docstring)."""
        with self._transaction("adopt") as db:
            owners = db.execute(
                "SELECT DISTINCT owner FROM outbox WHERE owner IS NOT NULL"
                " AND owner <> ALL(%s::int[])",
                (live,),
            ).fetchall()
            dead = []
            for (owner,) in owners:  # free now, and nobody joins on it until we commit
                row = db.execute("SELECT pg_try_advisory_xact_lock(%s, %s)",
                                 (self._slots_ns, owner)).fetchone()  # fmt: skip
                if row and row[0]:
                    dead.append(owner)
            where = "owner IS NULL OR owner = ANY(%(dead)s::int[])"
            params = {"me": self.slot, "dead": dead, "limit": limit}
            rows = db.execute(_CLAIM.format(where=where), params).fetchall()
        return sorted((OutboxItem(i, request_from_json(t)) for i, t in rows),
                      key=lambda item: item.outbox_id)  # fmt: skip

    def _claim(self, operation: str, where: str, params: dict[str, Any]) -> list[OutboxItem]:
        items: list[OutboxItem] = []
        while True:
            with self._transaction(operation) as db:
                rows = db.execute(_CLAIM.format(where=where + " AND id > %(after)s"),
                                  {"me": self.slot, "limit": ADOPT_BATCH,
                                   "after": items[-1].outbox_id if items else 0,
                                   **params}).fetchall()  # fmt: skip
            batch = sorted((OutboxItem(i, request_from_json(t)) for i, t in rows),
                           key=lambda item: item.outbox_id)  # fmt: skip
            items.extend(batch)
            if len(batch) < ADOPT_BATCH:
                return items

    def pending_inbound(self) -> list[Inbound]:
        return []


def outbox_count(store: Store) -> int:
    """Rows in the outbox, whoever owns them (a count, not the rows)."""
    if isinstance(store, PostgresStore):
        return int(store._select("outbox_count", "SELECT count(*) FROM outbox")[0][0])
    return len(store.pending())
