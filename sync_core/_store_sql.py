"""The read side the SQL stores share: one query per read, one decoder per row.

Theory of operation
-------------------
:mod:`sync_core.store_sqlite` and :mod:`sync_core.store_postgres` keep the
same tables under the same column names and read them with the same queries;
only their drivers and their writes differ.  :class:`SqlStore` holds those
reads once, written against one hook each backend supplies, ``_select``
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
``_load_text``     the text as stored   :func:`~sync_core.store.decode_json`
=================  ===================  ==========================================

``_load_text`` reads back free text that PostgreSQL stores as its JSON
encoding (it cannot hold a NUL in ``text``): a dead letter's reason,
correlation id and discard reason, a queued message's correlation id.
Everything else — entity data, requests, bodies, queries, an audit row's
consumed ids — is JSON text in both.

Writes stay in each backend: they differ in how rows are sent (``executemany``
against arrays in binary), how ids are taken, and how rows are locked.  Both
use :class:`Conflict` (the inbox check failed: roll back) and
:func:`maybe_json` from here.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from sync_core.messages import DeadLetter, Entity, Inbound, Kind
from sync_core.store import (
    AuditRecord,
    DeadLetterRecord,
    DeadLetterStatus,
    OutboxItem,
    Store,
    decode_json,
    encode_json,
    request_from_json,
    unknown_letter,
)

__all__ = ["DEAD_COLUMNS", "Conflict", "SqlStore", "maybe_json"]

# A dead letter as SqlStore._dead_record reads it, in this order.
DEAD_COLUMNS = (
    "id, message_id, kind, reason, body, request, correlation_id, query, at, status, replays,"
    " replayed_as, discard_reason"
)


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

    @abstractmethod
    def _select(self, operation: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Every row of ``sql``; a driver error is a StoreError of ``operation``."""

    @staticmethod
    def _load_text(value: Any) -> Any:
        """Free text as it was written (a backend that stores it encoded decodes it)."""
        return value

    def consumed(self, message_id: str) -> bool:
        rows = self._select(
            "consumed", f"SELECT 1 FROM inbox WHERE message_id = {self._PARAM}", (message_id,)
        )
        return bool(rows)

    def entity(self, kind: str, key: str) -> Entity | None:
        p = self._PARAM
        rows = self._select(
            "entity",
            f"SELECT version, data FROM entities WHERE kind = {p} AND key = {p}",
            (kind, key),
        )
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
