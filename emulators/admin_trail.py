"""The emulators' admin trail: who changed a system's faults, reset it or re-pointed its
webhooks, hash-chained so that an edit, a deletion or a reordering shows.

Theory of operation
-------------------
Fault changes are privileged actions (they make a partner's system fail on purpose), so
every ``/__admin`` write appends one entry: ``seq``, ``at`` (ISO 8601 UTC, wall clock),
``actor`` (the admin token's subject when ``--auth`` guards ``/__admin``, else the
``X-Actor`` header, else ``anonymous``), ``action`` (``faults_set``, ``faults_cleared``,
``reset``, ``subscription_set``, the ERP's ``releases_restarted``), ``subject`` (the
system), ``detail`` and ``prev_hash``;
``hash`` is the SHA-256 of the canonical JSON of those seven fields (keys sorted, no
whitespace, ASCII).  It is the record format of the sync core's audit trail (README:
Audit trail), so ``supplysync audit verify http://127.0.0.1:PORT`` checks an emulator's
trail by the same rules; the few lines that hash are written here again because an
emulator, another vendor's system, imports nothing of the core.

The trail lives as long as the process: ``POST /__admin/reset`` empties the system, not
its trail (the reset is itself an entry).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["GENESIS", "AdminTrail", "check_actor"]

GENESIS = "0" * 64


def check_actor(actor: str) -> str | None:
    """Why ``actor`` cannot name who acted (None: it can): 1-200 printable characters."""
    if not 1 <= len(actor) <= 200 or not actor.isprintable():
        return "X-Actor: 1 to 200 printable characters"
    return None


class AdminTrail:
    """The entries, oldest first, as the JSON objects ``GET /__admin/audit`` answers."""

    def __init__(
        self, system: str, wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    ) -> None:
        self.system = system  # the subject of every entry
        self.entries: list[dict[str, Any]] = []
        self._wall = wall

    def append(self, actor: str, action: str, detail: Mapping[str, Any]) -> None:
        at = self._wall().astimezone(dt.UTC).isoformat(timespec="microseconds")
        fields = {
            "seq": len(self.entries) + 1,
            "at": at.replace("+00:00", "Z"),
            "actor": actor,
            "action": action,
            "subject": self.system,
            "detail": dict(detail),
            "prev_hash": self.entries[-1]["hash"] if self.entries else GENESIS,
        }
        text = json.dumps(fields, sort_keys=True, separators=(",", ":"), allow_nan=False)
        self.entries.append({**fields, "hash": hashlib.sha256(text.encode("ascii")).hexdigest()})
