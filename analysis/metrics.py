"""Sync lag and consistency, computed from a history alone.

Theory of operation: for every replicated fact (``analysis.facts``) and every
entity, walk the history in order.  Each owner change is an *update*.  A
replica *reflects* an update when its value equals the update's value at or
after the update; the time between is that replica's *lag* (0 when the replica
already held the value).  An update that a replica never reflects is
*superseded* if the owner changed again and the replica reflected a later
update, and *lost* otherwise.  A replica write whose cause was already
applied to the same field is a *duplicate effect*.  The run *converged* when
every replica ends equal to its owner.

Judgement never asks the sync core what it did, so the same code judges any
middleware whose systems journal their facts.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from analysis.facts import FACTS, FLOWS, Fact
from analysis.history import Change

__all__ = ["Judgement", "Lost", "UpdateLag", "judge", "percentiles"]


@dataclass(frozen=True)
class UpdateLag:
    flow: str
    fact: str
    entity: str
    replica: str
    t_owner: float
    lag_s: float


@dataclass(frozen=True)
class Lost:
    fact: str
    entity: str
    replica: str
    owner_value: Any
    owner_t: float
    replica_value: Any
    replica_t: float | None


@dataclass(frozen=True)
class Duplicate:
    system: str
    entity: str
    field: str
    cause: str
    times: tuple[float, ...]


@dataclass
class Judgement:
    lags: list[UpdateLag] = field(default_factory=list)
    lost: list[Lost] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    updates: dict[str, int] = field(default_factory=dict)  # per flow: owner updates
    entities: int = 0

    @property
    def converged(self) -> bool:
        return not self.lost

    def flow_lags(self, flow: str) -> list[float]:
        return [x.lag_s for x in self.lags if x.flow == flow]


def percentiles(values: list[float]) -> dict[str, float]:
    """Nearest-rank p50/p95/p99 and max (0 for no values), rounded to milliseconds."""
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    return {
        k: round(v, 3)
        for k, v in (("p50", rank(50)), ("p95", rank(95)), ("p99", rank(99)), ("max", ordered[-1]))
    }


@dataclass
class _Update:
    t: float
    value: Any
    reflected: set[str] = field(default_factory=set)


def judge(changes: list[Change], facts: tuple[Fact, ...] = FACTS) -> Judgement:
    roles: dict[tuple[str, str], list[tuple[Fact, str]]] = defaultdict(list)
    for fact in facts:
        roles[fact.owner].append((fact, "owner"))
        for replica in fact.replicas:
            roles[replica].append((fact, f"{replica[0]}.{replica[1]}"))

    per_entity: dict[tuple[str, str], list[tuple[str, Change]]] = defaultdict(list)
    seen_causes: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
    for change in changes:
        for fact, role in roles.get((change.system, change.field), ()):
            per_entity[(fact.name, change.entity)].append((role, change))
            if role != "owner":
                seen_causes[(change.system, change.entity, change.field, change.cause)].append(
                    change.t
                )

    result = Judgement(updates={flow: 0 for flow in FLOWS})
    by_name = {f.name: f for f in facts}
    for (name, entity), events in per_entity.items():
        _judge_entity(by_name[name], entity, events, result)
    result.entities = len({entity for _, entity in per_entity})
    result.duplicates = [
        Duplicate(s, e, f, c, tuple(ts)) for (s, e, f, c), ts in seen_causes.items() if len(ts) > 1
    ]
    return result


def _judge_entity(
    fact: Fact, entity: str, events: list[tuple[str, Change]], result: Judgement
) -> None:
    replicas = [f"{s}.{f}" for s, f in fact.replicas]
    current: dict[str, tuple[Any, float]] = {}  # replica -> (value, time)
    updates: list[_Update] = []
    for role, change in events:
        if role == "owner":
            update = _Update(change.t, change.value)
            updates.append(update)
            result.updates[fact.flow] += 1
            for replica in replicas:
                held = current.get(replica)
                if held is not None and held[0] == change.value:
                    update.reflected.add(replica)
                    result.lags.append(
                        UpdateLag(fact.flow, fact.name, entity, replica, change.t, 0.0)
                    )
        else:
            current[role] = (change.value, change.t)
            for update in updates:
                if role not in update.reflected and update.value == change.value:
                    update.reflected.add(role)
                    result.lags.append(
                        UpdateLag(fact.flow, fact.name, entity, role, update.t, change.t - update.t)
                    )
    if not updates:
        return
    last = updates[-1]
    for replica in replicas:
        held = current.get(replica)
        if held is None or held[0] != last.value:
            result.lost.append(
                Lost(
                    fact.name,
                    entity,
                    replica,
                    last.value,
                    last.t,
                    held[0] if held else None,
                    held[1] if held else None,
                )
            )
