"""Violations: what a checker found wrong, and how a few are chosen to be shown.

A :class:`Violation` is one defect with its minimal explanation — the fact, the
entity, the owner's value and time, each replica's value and time, and the
correlation ids and causes involved — whichever checker found it
(:mod:`analysis.checkers` for replicated facts, :mod:`analysis.matches` for
AP's three-way match).  :func:`examples` picks a few to show, in turn from each
kind and replica; :func:`tally` counts them; :func:`attach_messages` adds the
middleware's messages that carry their correlation ids or causes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from analysis.history import Message

__all__ = ["KINDS", "Violation", "attach_messages", "examples", "tally"]

KINDS = ("lost_update", "duplicate_effect", "regression", "divergence", "match_error")
_MESSAGES_PER_VIOLATION = 10


@dataclass(frozen=True)
class Violation:
    kind: str
    fact: str
    entity: str
    replica: str | None
    t: float  # when it happened (for end-of-run verdicts: the owner's last change)
    explanation: str
    owner_value: Any = None
    owner_t: float | None = None
    replica_value: Any = None
    replica_t: float | None = None
    replicas: tuple[tuple[str, Any, float | None], ...] = ()  # (replica, value, since)
    causes: tuple[str, ...] = ()
    correlation_ids: tuple[str, ...] = ()
    messages: tuple[Message, ...] = ()
    count: int = 1  # effects beyond the first, for a duplicate applied n times: n - 1
    times: tuple[float, ...] = ()

    @property
    def system(self) -> str:
        """The replica's system (schema 1 name for duplicates)."""
        return (self.replica or "").partition(".")[0]

    @property
    def field(self) -> str:
        """The replica's field, without the entity of a finer-keyed replica."""
        return (self.replica or "").partition(".")[2].split("[")[0]

    @property
    def cause(self) -> str | None:
        return self.causes[0] if self.causes else None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "fact": self.fact,
            "entity": self.entity,
            "replica": self.replica,
            "t": round(self.t, 3),
            "explanation": self.explanation,
            "owner_value": self.owner_value,
            "owner_t": _r(self.owner_t),
            "replica_value": self.replica_value,
            "replica_t": _r(self.replica_t),
            "replicas": [{"replica": r, "value": v, "t": _r(t)} for r, v, t in self.replicas],
            "times": [round(t, 3) for t in self.times],
            "causes": list(self.causes),
            "correlation_ids": list(self.correlation_ids),
            "messages": [
                {
                    "t": round(m.t, 3),
                    "direction": m.direction,
                    "system": m.system,
                    "operation": m.operation,
                    "message_id": m.message_id,
                    "status": m.status,
                    "detail": m.detail,
                }
                for m in self.messages
            ],
        }


def _r(t: float | None) -> float | None:
    return None if t is None else round(t, 3)


# -- choosing what to show -------------------------------------------------------------


def examples(violations: list[Violation], n: int) -> list[Violation]:
    """Up to ``n`` violations, taken in turn from each (kind, fact, replica), oldest first."""
    groups: dict[tuple[str, str, str], list[Violation]] = {}
    for v in violations:
        groups.setdefault((v.kind, v.fact, (v.replica or "").split("[")[0]), []).append(v)
    picked: list[Violation] = []
    depth = 0
    while len(picked) < n and any(len(g) > depth for g in groups.values()):
        picked += [g[depth] for g in groups.values() if len(g) > depth][: n - len(picked)]
        depth += 1
    return sorted(picked, key=lambda v: (v.t, v.kind, v.entity, v.replica or ""))


def tally(violations: list[Violation]) -> dict[str, dict[str, int]]:
    """Counts per kind, then per ``fact: replica``."""
    out: dict[str, dict[str, int]] = {}
    for v in violations:
        key = f"{v.fact}: {(v.replica or '').split('[')[0]}"
        per = out.setdefault(v.kind, {})
        per[key] = per.get(key, 0) + v.count
    return {k: dict(sorted(c.items())) for k, c in sorted(out.items())}


# -- messages -------------------------------------------------------------------------


def attach_messages(violations: list[Violation], messages: Iterable[Message]) -> list[Violation]:
    """Each violation with the messages that carry its correlation ids or causes."""
    wanted: set[str] = set()
    for v in violations:
        wanted.update(v.correlation_ids)
        wanted.update(v.causes)
    if not wanted:
        return violations
    index: dict[str, list[Message]] = defaultdict(list)
    for m in messages:
        for k in (m.correlation_id, m.message_id):
            if k in wanted:
                index[k].append(m)
    if not index:
        return violations
    out = []
    for v in violations:
        found: dict[int, Message] = {}
        for k in (*v.correlation_ids, *v.causes):
            for m in index.get(k, ()):
                found.setdefault(id(m), m)
        ms = sorted(found.values(), key=lambda m: m.t)[:_MESSAGES_PER_VIOLATION]
        out.append(_with_messages(v, tuple(ms)) if ms else v)
    return out


def _with_messages(v: Violation, messages: tuple[Message, ...]) -> Violation:
    return replace(v, messages=messages)
