"""The run's history: an append-only record of every business-fact change.

``history.jsonl`` holds one JSON object a line.  The first is the header
(``{"type": "header", "schema_version": 1, ...}``: scenario, architecture,
seed, epoch, end time); every other line is a ``change``: a system wrote a
value to a field of an entity at time ``t`` (seconds since the epoch of the
run), because of ``cause`` (the message or request that made it), within the
trace ``correlation_id``.  A history can be read back and judged again
without re-running anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA_VERSION", "Change", "History", "HistoryError"]

SCHEMA_VERSION = 1


class HistoryError(ValueError):
    """A history file that cannot be read; names the line and reason."""


@dataclass(frozen=True)
class Change:
    t: float
    system: str
    entity: str
    field: str
    value: Any
    cause: str
    correlation_id: str | None = None


@dataclass
class History:
    header: dict[str, Any]
    changes: list[Change] = field(default_factory=list)

    def record(self, change: Change) -> None:
        self.changes.append(change)

    def write(self, path: Path) -> None:
        with path.open("w", encoding="utf-8") as out:
            head = {"type": "header", "schema_version": SCHEMA_VERSION, **self.header}
            out.write(json.dumps(head, sort_keys=True) + "\n")
            for c in self.changes:
                row = {
                    "type": "change",
                    "t": round(c.t, 6),
                    "system": c.system,
                    "entity": c.entity,
                    "field": c.field,
                    "value": c.value,
                    "cause": c.cause,
                    "correlation_id": c.correlation_id,
                }
                out.write(json.dumps(row, sort_keys=True) + "\n")

    @classmethod
    def read(cls, path: Path) -> History:
        lines = path.read_text(encoding="utf-8").splitlines()
        if not lines:
            raise HistoryError(f"{path}: empty file, expected a header line")
        try:
            head = json.loads(lines[0])
        except json.JSONDecodeError as e:
            raise HistoryError(f"{path}: line 1: not JSON ({e.msg})") from None
        if head.get("type") != "header" or head.get("schema_version") != SCHEMA_VERSION:
            raise HistoryError(f"{path}: line 1: expected a header of schema_version 1")
        head = {k: v for k, v in head.items() if k not in ("type", "schema_version")}
        history = cls(head)
        for n, line in enumerate(lines[1:], start=2):
            try:
                row = json.loads(line)
                history.record(
                    Change(
                        row["t"],
                        row["system"],
                        row["entity"],
                        row["field"],
                        row["value"],
                        row["cause"],
                        row.get("correlation_id"),
                    )
                )
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise HistoryError(f"{path}: line {n}: not a change record ({e})") from None
        return history
