"""The middleware's memory: one SQLite file (WAL).

``events`` holds the ids of the events handled (the dedupe table), ``orders`` the last
PO document read and the revision dispatched, ``acks`` the acknowledgment revision
applied per PO with each line's confirmed quantity, ``dead_letters`` what could not be
carried, and ``counters`` the interchange control numbers.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

__all__ = ["Store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (event_id TEXT PRIMARY KEY, system TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    po TEXT PRIMARY KEY, document TEXT NOT NULL, dispatched INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS acks (po TEXT PRIMARY KEY, revision INTEGER NOT NULL,
    confirmed TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letters (event_id TEXT, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class Store:
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # -- the dedupe table --------------------------------------------------------

    def seen(self, event_id: str) -> bool:
        row = self._db.execute("SELECT 1 FROM events WHERE event_id = ?", (event_id,))
        return row.fetchone() is not None

    def handled(self, event_id: str, system: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO events VALUES (?, ?)", (event_id, system))

    def dead_letter(self, event_id: str, reason: str) -> None:
        self._db.execute("INSERT INTO dead_letters VALUES (?, ?)", (event_id, reason))

    def dead_letters(self) -> list[tuple[str, str]]:
        return list(self._db.execute("SELECT event_id, reason FROM dead_letters"))

    # -- purchase orders ------------------------------------------------------------

    def order(self, po: str) -> tuple[dict[str, Any], int] | None:
        """The last PO document read and the revision dispatched (0: none yet)."""
        row = self._db.execute("SELECT document, dispatched FROM orders WHERE po = ?", (po,))
        found = row.fetchone()
        return None if found is None else (json.loads(found[0]), int(found[1]))

    def keep_order(self, document: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT INTO orders (po, document) VALUES (?, ?)"
            " ON CONFLICT (po) DO UPDATE SET document = excluded.document",
            (document["OrderNumber"], json.dumps(document)),
        )

    def dispatched(self, po: str, revision: int) -> None:
        self._db.execute("UPDATE orders SET dispatched = ? WHERE po = ?", (revision, po))

    # -- acknowledgments ------------------------------------------------------------

    def acknowledged(self, po: str) -> tuple[int, dict[int, int]]:
        """The acknowledgment revision applied (0: none) and each line's confirmed qty."""
        row = self._db.execute("SELECT revision, confirmed FROM acks WHERE po = ?", (po,))
        found = row.fetchone()
        if found is None:
            return 0, {}
        return int(found[0]), {int(k): v for k, v in json.loads(found[1]).items()}

    def applied(self, po: str, revision: int, confirmed: dict[int, int]) -> None:
        self._db.execute(
            "INSERT INTO acks VALUES (?, ?, ?) ON CONFLICT (po) DO UPDATE"
            " SET revision = excluded.revision, confirmed = excluded.confirmed",
            (po, revision, json.dumps(confirmed)),
        )

    def next_control(self) -> int:
        """The next interchange control number (ISA13): 1, 2, 3 ..."""
        row = self._db.execute(
            "INSERT INTO counters VALUES ('isa', 1) ON CONFLICT (name)"
            " DO UPDATE SET value = value + 1 RETURNING value"
        )
        return int(row.fetchone()[0])
