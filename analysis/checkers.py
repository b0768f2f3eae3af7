"""Checkers: what went wrong in a run, each violation with its minimal explanation.

Theory of operation: ``check`` groups the history's changes by replicated
fact (``analysis.facts``) and owner entity, then walks each group once in
time order.  Every owner change is an *update* (numbered 0, 1, ...).  A
replica write *reflects* the latest update, made at or before it, whose value
it shows (the value as the replica spells it); that update's *lag* is the
time between (0 when the replica already held the value).  An update is
*visible* at a replica once the replica reflected it or any later update —
the visibility delays feed the t-visibility curve of Bailis et al.'s PBS.
From the same walk come the violations:

``lost_update``
    the owner's last value never reached a replica (no write of it, nor of a
    later update) by the end of the run.
``divergence``
    a replica ends the run different from its owner although it had shown the
    owner's last value: something moved it away afterwards.
``regression``
    a replica wrote a value of an older update after it had reflected a newer
    one (a late or reordered message applied without checking versions).
``duplicate_effect``
    a replica applied the same cause twice and its value moved (a retried post
    without an idempotency key that counted a receipt again), or — for cumulative
    quantities — went above what its owner had at the time (a receipt or invoice
    counted twice, whatever the causes).  A cause applied again with the same
    value changed nothing: it is a *re-post* (``Checked.reposts``), counted and
    shown apart, so a naive design's re-sent documents do not drown the real
    double postings.  One defect is one
    violation: a quantity posted twice with the same cause is one duplicate (the one that
    names the cause), and a replica that ends above its owner because of it is not also a
    divergence (it still keeps the run from converging).
``match_error``
    AP approved or matched an invoice outside its tolerances, or held one
    whose lines were all within them: a checker of its own,
    :mod:`analysis.matches`.

Each violation names the fact, the entity, the owner's value and time, each
replica's value and time, and the correlation ids and causes involved
(:mod:`analysis.violations`, which also picks and counts them).
Judgement never asks the sync core what it did, so the same code judges any
middleware whose systems journal their facts.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from analysis.facts import FACTS, Fact
from analysis.history import Change
from analysis.violations import Violation

__all__ = ["Checked", "UpdateLag", "check"]


class UpdateLag(NamedTuple):  # a tuple: a long run makes one per replica write
    flow: str
    fact: str
    entity: str
    replica: str
    t_owner: float
    lag_s: float


@dataclass
class Checked:
    """Everything one walk over the history found."""

    lags: list[UpdateLag] = field(default_factory=list)
    # (flow, fact, entity, replica, t_update, delay or None when never visible)
    visibility: list[tuple[str, str, str, str, float, float | None]] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    updates: dict[str, int] = field(default_factory=dict)  # per flow: owner updates
    fact_updates: dict[str, int] = field(default_factory=dict)  # per fact: owner updates
    entities: int = 0
    # consistency: when each (fact, entity) starts to be judged, and +1/-1 steps of disagreement
    born: list[float] = field(default_factory=list)
    disagree: list[tuple[float, int]] = field(default_factory=list)
    not_carried: list[str] = field(default_factory=list)
    pending: list[Violation] = field(default_factory=list)  # in flight at the end: not lost
    match_judged: int = 0  # invoices whose match decision was judged (the match sample)
    # the same document applied again with the same value: no effect, reported apart
    reposts: list[Violation] = field(default_factory=list)
    # replicas that end above their owner because they counted something twice: reported
    # once, as that duplicate effect, yet not converged
    off_by_duplicate: int = 0

    def of_kind(self, kind: str) -> list[Violation]:
        return [v for v in self.violations if v.kind == kind]


_SCALARS = frozenset({int, float, str, bool, type(None)})


def _key(value: Any) -> Any:
    if type(value) in _SCALARS:
        return value
    try:
        hash(value)
    except TypeError:
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _replica_name(system: str, field_name: str, entity: str, owner_entity: str) -> str:
    base = f"{system}.{field_name}"
    return base if entity == owner_entity else f"{base}[{entity}]"


def check(
    changes: Iterable[Change],
    facts: tuple[Fact, ...] = FACTS,
    *,
    flows_carried: Iterable[str] | None = None,
    end_s: float | None = None,
    grace_s: Mapping[str, float] | None = None,
) -> Checked:
    """Lags, visibility, consistency steps and violations of every replicated fact.

    A replica is judged when its system appears in the history at all, or — when
    ``flows_carried`` is given — when its fact's flow is one of those flows; the others
    are listed in ``not_carried`` (only for facts whose owner changed).  An update that
    never reached a replica but was made less than ``grace_s[flow]`` before ``end_s`` (the
    path's worst case: the next batch would have carried it) is *pending*, not lost.
    """
    changes = list(changes)
    out = Checked(updates={f.flow: 0 for f in facts})
    roles, judged = _roles(changes, facts, set(flows_carried or ()), out)
    groups, causes = _group(changes, roles)
    by_name = {f.name: f for f in facts}
    late = {flow: end_s - bound for flow, bound in (grace_s or {}).items() if end_s is not None}
    for (name, entity), events in groups.items():
        _Entity(by_name[name], entity, judged[name], out).walk(events, late.get(by_name[name].flow))
    out.entities = len({entity for _, entity in groups})
    _applied_again(causes, facts, out)
    _one_duplicate_per_replica(out)
    out.violations.sort(key=lambda v: (v.t, v.kind, v.entity, v.replica or ""))
    return out


_Role = list[tuple[Fact, bool]]  # the facts a (system, field) plays a part in: is it the owner
_Group = list[tuple[bool, Change]]  # one (fact, owner entity)'s changes: is it the owner's
_CauseKey = tuple[str, str, str, str]  # (system, entity, field, cause) of a replica write


def _roles(
    changes: list[Change], facts: tuple[Fact, ...], carried: set[str], out: Checked
) -> tuple[dict[tuple[str, str], _Role], dict[str, tuple[str, ...]]]:
    """Which (system, field) owns or replicates which fact, and each fact's judged replicas
    (the others, of a fact whose owner changed, go to ``out.not_carried``)."""
    present = {c.system for c in changes}
    owners = {(c.system, c.field) for c in changes}
    roles: dict[tuple[str, str], _Role] = defaultdict(list)
    judged: dict[str, tuple[str, ...]] = {}
    for fact in facts:
        roles[fact.owner].append((fact, True))
        kept = []
        for replica in fact.replicas:
            if fact.flow in carried if carried else replica[0] in present:
                roles[replica].append((fact, False))
                kept.append(f"{replica[0]}.{replica[1]}")
            elif fact.owner in owners:
                out.not_carried.append(f"{fact.name}: {replica[0]}.{replica[1]}")
        judged[fact.name] = tuple(kept)
    return roles, judged


def _group(
    changes: list[Change], roles: dict[tuple[str, str], _Role]
) -> tuple[dict[tuple[str, str], _Group], dict[_CauseKey, list[Change]]]:
    """The changes of each (fact, owner entity), in time order, and the replica writes
    whose cause was applied more than once."""
    groups: dict[tuple[str, str], _Group] = defaultdict(list)
    first: dict[_CauseKey, Change] = {}
    causes: dict[_CauseKey, list[Change]] = {}  # only causes seen twice
    for change in changes:
        found = roles.get((change.system, change.field))
        if found is None:
            continue
        for fact, is_owner in found:
            if is_owner:
                groups[(fact.name, change.entity)].append((True, change))
                continue
            entity = fact.owner_entity(change.entity)
            if entity is None:
                continue
            groups[(fact.name, entity)].append((False, change))
            key = (change.system, change.entity, change.field, change.cause)
            seen = first.setdefault(key, change)
            if seen is not change:
                causes.setdefault(key, [seen]).append(change)
    return groups, causes


def _applied_again(
    causes: dict[_CauseKey, list[Change]], facts: tuple[Fact, ...], out: Checked
) -> None:
    """A cause a replica applied twice: a duplicate effect when its value moved, else a
    re-post (no effect, reported apart)."""
    owned = {r for f in facts for r in f.replicas}
    for (system, entity, field_name, cause), writes in causes.items():
        if (system, field_name) not in owned:
            continue
        fact = next(f for f in facts if (system, field_name) in f.replicas)
        times = ", ".join(f"{w.t:g}" for w in writes)
        first = _key(writes[0].value)
        if all(_key(w.value) == first for w in writes[1:]):  # the same value again
            kind, into, effect = "repost", out.reposts, f", {writes[0].value!r} each time"
        else:
            kind, into, effect = "duplicate_effect", out.violations, ""
        into.append(
            Violation(
                kind,
                fact.name,
                entity,
                f"{system}.{field_name}",
                writes[1].t,
                f"{system} applied {cause!r} {len(writes)} times to {field_name} of "
                f"{entity} (at {times} s){effect}",
                replica_value=writes[-1].value,
                replica_t=writes[-1].t,
                causes=(cause,),
                count=len(writes) - 1,
                times=tuple(w.t for w in writes),
                correlation_ids=tuple(
                    dict.fromkeys(w.correlation_id for w in writes if w.correlation_id)
                ),
            )
        )


def _one_duplicate_per_replica(out: Checked) -> None:
    """A cumulative quantity posted twice with the same cause is found twice: by its cause
    and by going above its owner.  Both name one defect: keep the one naming the cause."""
    by_cause = {
        (v.fact, v.entity, v.replica)
        for v in out.violations
        if v.kind == "duplicate_effect" and v.times
    }
    if by_cause:
        out.violations = [
            v
            for v in out.violations
            if v.kind != "duplicate_effect"
            or v.times
            or (v.fact, v.entity, v.replica) not in by_cause
        ]


@dataclass(slots=True)
class _ReplicaState:
    value: Any = None
    key: Any = None
    t: float | None = None
    change: Change | None = None
    high: int = -1  # highest update reflected
    visible_to: int = 0  # updates [0, visible_to) are visible
    reflected: set[int] = field(default_factory=set)
    agrees: bool = False
    overshot: bool = False


class _Entity:
    """One (fact, owner entity): its updates and each replica's progress through them."""

    __slots__ = (
        "disagreeing", "entity", "expected", "fact", "latest", "out", "replicas", "updates",
    )  # fmt: skip

    def __init__(self, fact: Fact, entity: str, declared: tuple[str, ...], out: Checked):
        self.fact, self.entity, self.out = fact, entity, out
        # a finer-keyed replica (AP's price per unit of measure) is known by its first
        # write; one that never wrote at all is judged under its declared name at the end
        finer = fact.replica_key is not None
        self.expected = declared if finer else ()
        self.replicas: dict[str, _ReplicaState] = (
            {} if finer else {r: _ReplicaState() for r in declared}
        )
        self.updates: list[tuple[float, Any, Change]] = []  # (t, value as replica, change)
        self.latest: dict[Any, int] = {}  # value key -> latest update index
        self.disagreeing = 0

    def walk(self, events: list[tuple[bool, Change]], pending_after: float | None) -> None:
        for is_owner, change in events:
            if is_owner:
                self._owner(change)
            else:
                name = _replica_name(change.system, change.field, change.entity, self.entity)
                state = self.replicas.get(name)
                if state is None:  # a replica first seen now: it disagreed until this write
                    state = self.replicas[name] = _ReplicaState()
                    if self.updates:
                        self.disagreeing += 1
                        if self.disagreeing == 1:
                            self.out.disagree.append((change.t, 1))
                self._replica(state, name, change)
        self._end(pending_after)

    # -- consistency bookkeeping ---------------------------------------------------

    def _set_agree(self, state: _ReplicaState, agrees: bool, t: float) -> None:
        if not self.updates or agrees == state.agrees:
            state.agrees = agrees
            return
        state.agrees = agrees
        before = self.disagreeing
        self.disagreeing += -1 if agrees else 1
        if before == 0 and self.disagreeing > 0:
            self.out.disagree.append((t, 1))
        elif before > 0 and self.disagreeing == 0:
            self.out.disagree.append((t, -1))

    # -- events --------------------------------------------------------------------

    def _owner(self, change: Change) -> None:
        fact, t = self.fact, change.t
        value = fact.as_replica(change.value)
        key = _key(value)
        i = len(self.updates)
        first = i == 0
        self.updates.append((t, value, change))
        self.latest[key] = i
        self.out.updates[fact.flow] = self.out.updates.get(fact.flow, 0) + 1
        self.out.fact_updates[fact.name] = self.out.fact_updates.get(fact.name, 0) + 1
        if first:
            self.out.born.append(t)
            for state in self.replicas.values():  # all start disagreeing, then settle
                state.agrees = False
            n = len(self.replicas)
            self.disagreeing = n
            if n:
                self.out.disagree.append((t, 1))
        for name, state in self.replicas.items():
            if state.t is not None and state.key == key:
                state.reflected.add(i)
                self.out.lags.append(UpdateLag(fact.flow, fact.name, self.entity, name, t, 0.0))
                self._visible(state, name, i, t)
                state.high = i
                self._set_agree(state, True, t)
            else:
                self._set_agree(state, False, t)

    def _visible(self, state: _ReplicaState, name: str, upto: int, t: float) -> None:
        for j in range(state.visible_to, upto + 1):
            tj = self.updates[j][0]
            self.out.visibility.append(
                (self.fact.flow, self.fact.name, self.entity, name, tj, t - tj)
            )
        state.visible_to = max(state.visible_to, upto + 1)

    def _replica(self, state: _ReplicaState, name: str, change: Change) -> None:
        fact, t, value = self.fact, change.t, change.value
        key = _key(value)
        prior = (state.value, state.t)
        state.value, state.key, state.t, state.change = value, key, t, change
        if not self.updates:
            return
        i = self.latest.get(key)
        owner_now = self.updates[-1]
        if (
            fact.cumulative
            and not state.overshot
            and _number(value)
            and _number(owner_now[1])
            and value > owner_now[1]
        ):
            state.overshot = True
            self._violation(
                "duplicate_effect",
                name,
                t,
                f"{name} of {self.entity} went to {value} at {t:g} s, above everything its "
                f"owner {_owner(fact)} had ({owner_now[1]} since {owner_now[0]:g} s): "
                "counted twice",
                change,
            )
        if i is not None:
            if i < state.high and self.updates[state.high][1] != value:
                newer = self.updates[state.high]
                self._violation(
                    "regression",
                    name,
                    t,
                    f"{name} of {self.entity} went back to {value!r} (update of "
                    f"{self.updates[i][0]:g} s) at {t:g} s after showing {newer[1]!r} "
                    f"(update of {newer[0]:g} s); it held {prior[0]!r} since {prior[1]:g} s",
                    change,
                    extra=(self.updates[i][2], newer[2]),
                )
            if i not in state.reflected:
                state.reflected.add(i)
                ti = self.updates[i][0]
                self.out.lags.append(UpdateLag(fact.flow, fact.name, self.entity, name, ti, t - ti))
            if i >= state.visible_to:
                self._visible(state, name, i, t)
            state.high = max(state.high, i)
        self._set_agree(state, key == _key(owner_now[1]), t)

    def _end(self, pending_after: float | None) -> None:
        if not self.updates:
            return
        if not self.replicas and self.expected:  # no replica ever showed this entity
            self.replicas = {name: _ReplicaState() for name in self.expected}
            self.out.disagree.append((self.updates[0][0], 1))  # from its first update on
        last_t, last_value, last_change = self.updates[-1]
        last_i = len(self.updates) - 1
        for name, state in self.replicas.items():
            if state.visible_to <= last_i:
                for j in range(state.visible_to, last_i + 1):
                    tj = self.updates[j][0]
                    self.out.visibility.append(
                        (self.fact.flow, self.fact.name, self.entity, name, tj, None)
                    )
            if state.t is not None and state.key == _key(last_value):
                continue
            if (
                state.overshot
                and _number(state.value)
                and _number(last_value)
                and state.value > last_value
            ):  # its duplicate effect is the one defect here, not also a divergence
                self.out.off_by_duplicate += 1
                continue
            held = "nothing" if state.t is None else f"{state.value!r} since {state.t:g} s"
            if state.visible_to <= last_i:
                kind = "lost_update"
                text = (
                    f"{name} of {self.entity} never showed {last_value!r}, set by "
                    f"{_owner(self.fact)} at {last_t:g} s ({last_change.cause}); it holds {held}"
                )
                if pending_after is not None and last_t > pending_after:
                    kind, text = "pending", text + " (still within the path's worst case)"
            else:
                kind = "divergence"
                text = (
                    f"{name} of {self.entity} ends at {held}, not {last_value!r} as "
                    f"{_owner(self.fact)} since {last_t:g} s, after having shown it"
                )
            self._violation(kind, name, last_t, text, state.change)

    def _violation(
        self,
        kind: str,
        name: str,
        t: float,
        text: str,
        change: Change | None,
        extra: tuple[Change, ...] = (),
    ) -> None:
        last_t, last_value, last_change = self.updates[-1]
        involved = [last_change, *extra] + ([change] if change is not None else [])
        found = self.out.pending if kind == "pending" else self.out.violations
        found.append(
            Violation(
                kind,
                self.fact.name,
                self.entity,
                name,
                t,
                text,
                owner_value=last_value,
                owner_t=last_t,
                replica_value=change.value if change is not None else None,
                replica_t=change.t if change is not None else None,
                replicas=tuple((r, s.value, s.t) for r, s in sorted(self.replicas.items())),
                causes=tuple(dict.fromkeys(c.cause for c in involved)),
                correlation_ids=tuple(
                    dict.fromkeys(c.correlation_id for c in involved if c.correlation_id)
                ),
            )
        )


def _number(value: Any) -> bool:
    return type(value) is int or type(value) is float


def _owner(fact: Fact) -> str:
    return f"{fact.owner[0]}.{fact.owner[1]}"
