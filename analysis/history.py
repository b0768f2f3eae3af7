"""The run's history: an append-only record of facts, messages and faults.

``history.jsonl`` holds one JSON object a line, keys sorted, times in seconds
since the run's epoch (rounded to microseconds).  The first line is the header;
the others are records in the order they happened, told apart by ``type``:

``header`` (line 1)
    ``{"type": "header", "schema_version": 2, "scenario", "architecture",
    "seed", "epoch", "end_s", "mode", ...}``.  Optional keys the analysis
    uses when present: ``flows`` (flows the architecture carries: their facts
    are judged even if no replica ever wrote one), ``mechanisms`` (flow →
    ``batch`` / ``api`` / ``event``), ``latency`` (``{"median_ms", "sigma"}``),
    ``batch`` (``{"interval_hours"}``), ``tolerances`` (AP's ``price_pct``,
    ``qty_pct``, ``amount_floor``), ``slos`` and ``volumes`` (so ``rebuild``
    can re-judge from the history alone).
``change``
    a system wrote ``value`` to ``field`` of ``entity`` at ``t`` because of
    ``cause`` (the message or request that made it), within the trace
    ``correlation_id``: ``{"type": "change", "t", "system", "entity",
    "field", "value", "cause", "correlation_id"}``.
``message``
    the middleware ``sent`` / ``received`` / ``retried`` / ``dead_lettered``
    a message: ``{"type": "message", "t", "direction", "system",
    "operation", "message_id", "correlation_id", "status", "detail"}``.
    ``system`` is the foreign system the message goes to (or, for
    ``received``, comes from); ``status`` the reply's status code when there
    was one; ``detail`` free text (for a dead letter: its reason).
``fault``
    a fault window: ``{"type": "fault", "system", "kind", "start", "end"}``
    (``kind`` as in the scenario: ``outage``, ``latency``, ``webhook_loss``...).
``entity``
    an entity's priority: ``{"type": "entity", "entity", "priority"}``
    (``critical`` or ``routine``); an entity ``po:{number}`` stands for every
    line of that purchase order.

Schema 1 files (header and changes only) are still read.  A history can be
read back and judged again without re-running anything.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

_loads: Callable[[str], Any]
try:  # orjson parses a history about twice as fast; the standard library reads the same
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson comes with the web stack, but is optional
    _loads = json.loads

__all__ = [
    "DIRECTIONS",
    "SCHEMA_VERSION",
    "Change",
    "Fault",
    "History",
    "HistoryError",
    "Message",
    "priority_of",
]

SCHEMA_VERSION = 2
_READABLE = (1, 2)
DIRECTIONS = ("sent", "received", "retried", "dead_lettered")


def priority_of(priorities: Mapping[str, str], entity: str) -> str:
    """``entity``'s priority: its own, else its PO's (``po:{number}`` for a PO line's), else
    ``routine``."""
    found = priorities.get(entity)
    if found is None and entity.startswith("po_line:"):
        found = priorities.get("po:" + entity.split(":")[1])
    return found or "routine"


class HistoryError(ValueError):
    """A history file that cannot be read; names the line and reason."""


class Change(NamedTuple):
    """One fact written.  Records are named tuples: a run keeps millions of them, and a
    tuple of plain values is smaller, quicker to build, and left alone by the garbage
    collector once it has looked at it (a dataclass instance is rescanned every time)."""

    t: float
    system: str
    entity: str
    field: str
    value: Any
    cause: str
    correlation_id: str | None = None


class Message(NamedTuple):
    t: float
    direction: str
    system: str
    operation: str
    message_id: str
    correlation_id: str | None = None
    status: int | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Fault:
    system: str
    kind: str
    start: float
    end: float


@dataclass
class History:
    header: dict[str, Any]
    changes: list[Change] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    priorities: dict[str, str] = field(default_factory=dict)

    # -- recording (what the simulation and the live runner call) --------------

    def record(self, change: Change) -> None:
        self.changes.append(change)

    def message(
        self,
        t: float,
        direction: str,
        system: str,
        operation: str,
        message_id: str,
        correlation_id: str | None = None,
        status: int | None = None,
        detail: str | None = None,
    ) -> None:
        if direction not in DIRECTIONS:
            raise ValueError(f"message direction {direction!r} is not one of {DIRECTIONS}")
        # a named tuple from the tuple of its fields: no generated __new__ per message
        fields = (round(t, 6), direction, system, operation, message_id, correlation_id,
                  status, detail)  # fmt: skip
        self.messages.append(tuple.__new__(Message, fields))

    def fault(self, system: str, kind: str, start_s: float, end_s: float) -> None:
        if end_s < start_s:
            raise ValueError(f"fault window on {system} ends ({end_s}) before it starts")
        self.faults.append(Fault(system, kind, round(start_s, 6), round(end_s, 6)))

    def priority(self, entity: str, priority: str) -> None:
        """Mark ``entity`` (or ``po:{number}`` for all its lines) ``critical`` or ``routine``."""
        self.priorities[entity] = priority

    def priority_of(self, entity: str) -> str:
        return priority_of(self.priorities, entity)

    # -- the file ---------------------------------------------------------------

    def write(self, path: Path) -> None:
        with path.open("w", encoding="utf-8") as out:
            head = {"type": "header", "schema_version": SCHEMA_VERSION, **self.header}
            out.write(json.dumps(head, sort_keys=True) + "\n")
            for entity, prio in self.priorities.items():
                row: dict[str, Any] = {"type": "entity", "entity": entity, "priority": prio}
                out.write(json.dumps(row, sort_keys=True) + "\n")
            for f in self.faults:
                row = {"type": "fault", "system": f.system, "kind": f.kind}
                row |= {"start": round(f.start, 6), "end": round(f.end, 6)}
                out.write(json.dumps(row, sort_keys=True) + "\n")
            # changes and messages merged in time order; a stable sort keeps equal times in
            # the order they were recorded (changes first)
            records = [(c.t, _change_line(c)) for c in self.changes]
            if self.messages:
                records += [(m.t, _message_line(m)) for m in self.messages]
                records.sort(key=itemgetter(0))
            out.writelines(line for _, line in records)

    @classmethod
    def read(cls, path: Path) -> History:
        try:
            return cls._read(path)
        except UnicodeDecodeError as e:
            raise HistoryError(
                f"{path}: not UTF-8 text (byte {e.object[e.start]:#04x} in a line)"
            ) from None

    @classmethod
    def _read(cls, path: Path) -> History:
        with path.open(encoding="utf-8") as lines:
            first = lines.readline()
            if not first:
                raise HistoryError(f"{path}: empty file, expected a header line")
            try:
                head = json.loads(first)
            except json.JSONDecodeError as e:
                raise HistoryError(f"{path}: line 1: not JSON ({e.msg})") from None
            if not isinstance(head, dict) or head.get("type") != "header":
                raise HistoryError(f"{path}: line 1: expected a header")
            if head.get("schema_version") not in _READABLE:
                raise HistoryError(
                    f"{path}: line 1: expected a header of schema_version "
                    f"{' or '.join(map(str, _READABLE))}, got {head.get('schema_version')!r}"
                )
            head = {k: v for k, v in head.items() if k not in ("type", "schema_version")}
            history = cls(head)
            for n, line in enumerate(lines, start=2):
                history._read_row(path, n, line)
        return history

    def _read_row(self, path: Path, n: int, line: str) -> None:
        try:
            row = _loads(line)
            kind = row.get("type", "change")
            if kind == "change":
                self.changes.append(
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
            elif kind == "message":
                self.message(
                    row["t"],
                    row["direction"],
                    row["system"],
                    row["operation"],
                    row["message_id"],
                    row.get("correlation_id"),
                    row.get("status"),
                    row.get("detail"),
                )
            elif kind == "fault":
                self.fault(row["system"], row["kind"], row["start"], row["end"])
            elif kind == "entity":
                self.priority(row["entity"], row["priority"])
            else:
                raise HistoryError(f"{path}: line {n}: unknown record type {kind!r}")
        except (KeyError, TypeError, AttributeError, ValueError) as e:  # JSON errors are these
            if isinstance(e, HistoryError):
                raise
            raise HistoryError(f"{path}: line {n}: not a {_kind(line)} record ({e})") from None


def _kind(line: str) -> str:
    for kind in ("message", "fault", "entity"):
        if f'"type": "{kind}"' in line:
            return kind
    return "change"


_ENCODER = json.JSONEncoder(sort_keys=True)
_ascii = json.encoder.encode_basestring_ascii


def _json(value: Any) -> str:
    """``json.dumps(value, sort_keys=True)``, with the common scalars written directly: a run
    writes a line for each of its hundreds of thousands of records, and ``json.dumps`` builds
    an encoder for every call."""
    kind = type(value)
    if kind is str:
        return _ascii(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if kind is float and value - value == 0:  # finite: NaN and infinities as json writes them
        return float.__repr__(value)
    return _ENCODER.encode(value)


# A record's line is the line json.dumps(row, sort_keys=True) writes for its row (every field,
# ``type`` added, the time rounded to 1 µs), keys in sorted order; tests hold the two equal.
def _change_line(c: Change) -> str:
    return (
        f'{{"cause": {_json(c.cause)}, "correlation_id": {_json(c.correlation_id)}, '
        f'"entity": {_json(c.entity)}, "field": {_json(c.field)}, '
        f'"system": {_json(c.system)}, "t": {_json(round(c.t, 6))}, "type": "change", '
        f'"value": {_json(c.value)}}}\n'
    )


def _message_line(m: Message) -> str:
    return (
        f'{{"correlation_id": {_json(m.correlation_id)}, "detail": {_json(m.detail)}, '
        f'"direction": {_json(m.direction)}, "message_id": {_json(m.message_id)}, '
        f'"operation": {_json(m.operation)}, "status": {_json(m.status)}, '
        f'"system": {_json(m.system)}, "t": {_json(round(m.t, 6))}, "type": "message"}}\n'
    )
