"""Sync lag, consistency, visibility, backlog and recovery, computed from a history alone.

Theory of operation: ``judge`` runs the checkers (``analysis.checkers``) over a
history — one walk per (fact, entity) yields every update's lag at every
replica, its *visibility delay* (until the replica showed it or something
newer), the steps at which an entity's replicas start and stop agreeing with
its owner, and the violations — and keeps the history's messages, fault
windows and priorities beside them.  The metrics are functions of that
:class:`Judgement`:

* **lag** per flow and per priority (``critical`` lines vs ``routine``):
  nearest-rank p50 / p95 / p99 / max;
* **consistency over time**: at each sampled instant, the fraction of
  (fact, entity) pairs already born whose replicas all agree with the owner;
* **t-visibility** (Bailis et al., *Probabilistically Bounded Staleness*):
  P(a replica reflects an update t seconds after it happened), over every
  (update, replica) pair; pairs never visible count as never;
* **backlog**: (update, replica) pairs not yet visible, over time; around each
  fault window its level at the start, its peak and the *drain time* — from
  the window's end until the backlog is back to its level at the start;
* **time to converge** after the last fault: until every update made before
  that fault ended is visible everywhere;
* **dead letters by reason** and message counts by direction.

Judgement never asks the sync core what it did, so the same code judges any
middleware whose systems journal their facts.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis.checkers import Checked, UpdateLag, check
from analysis.facts import FACTS, Fact
from analysis.history import Change, Fault, History, Message, priority_of
from analysis.invoice_exceptions import relevant
from analysis.matches import judge_matches
from analysis.violations import Violation, attach_messages

__all__ = [
    "Judgement",
    "UpdateLag",
    "analytic_staleness",
    "backlog_over_time",
    "consistency_over_time",
    "fault_windows",
    "judge",
    "mechanism",
    "message_counts",
    "percentiles",
    "t_visibility",
    "time_to_converge",
]

VISIBILITY_POINTS_S = (0.1, 1.0, 10.0, 60.0, 300.0, 3600.0, 86400.0)


@dataclass
class Judgement:
    checked: Checked
    header: dict[str, Any] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    priorities: dict[str, str] = field(default_factory=dict)
    facts: tuple[Fact, ...] = FACTS
    # the supplier network's ``interchange:`` rows, for analysis.functional_acks (997s
    # answer interchanges, they replicate no fact: the checkers never see them)
    interchanges: list[Change] = field(default_factory=list)
    # the supplier's and AP's rows of unit-of-measure mismatches (analysis.invoice_exceptions)
    invoice_units: list[Change] = field(default_factory=list)

    # -- what the checkers found ---------------------------------------------------

    @property
    def lags(self) -> list[UpdateLag]:
        return self.checked.lags

    @property
    def updates(self) -> dict[str, int]:
        return self.checked.updates

    @property
    def entities(self) -> int:
        return self.checked.entities

    @property
    def violations(self) -> list[Violation]:
        return self.checked.violations

    def of_kind(self, kind: str) -> list[Violation]:
        if kind == "pending":  # kept apart from the violations: in flight, not lost
            return list(self.checked.pending)
        if kind == "repost":  # the same value applied again: no effect, not a violation
            return list(self.checked.reposts)
        return self.checked.of_kind(kind)

    @property
    def lost(self) -> list[Violation]:
        return self.of_kind("lost_update")

    @property
    def duplicates(self) -> list[Violation]:
        return self.of_kind("duplicate_effect")

    @property
    def converged(self) -> bool:
        return (
            not self.lost
            and not self.of_kind("divergence")
            and not self.checked.pending
            and not self.checked.off_by_duplicate
        )

    @property
    def end_s(self) -> float:
        end = self.header.get("end_s")
        if isinstance(end, int | float):
            return float(end)
        times = [x.t_owner + x.lag_s for x in self.lags] + [f.end for f in self.faults]
        return max(times, default=0.0)

    def priority_of(self, entity: str) -> str:
        return priority_of(self.priorities, entity)

    def flow_lags(self, flow: str, priority: str | None = None) -> list[float]:
        return [
            x.lag_s
            for x in self.lags
            if x.flow == flow and (priority is None or self.priority_of(x.entity) == priority)
        ]


HOPS = 4
_Z999 = 3.090232  # standard normal 99.9th percentile


def mechanism(header: dict[str, Any], flow: str) -> str:
    """How ``flow`` is carried: the header's ``mechanisms``, else the architecture."""
    mechanisms = header.get("mechanisms") or {}
    return str(mechanisms.get(flow) or header.get("architecture") or "unknown")


def analytic_staleness(header: dict[str, Any], mechanism: str) -> float | None:
    """Worst-case seconds for one fact to reach a replica, without faults (None: unknown)."""
    latency = header.get("latency") or {}
    if "median_ms" not in latency:
        return None
    hop = float(latency["median_ms"]) / 1000 * math.exp(_Z999 * float(latency.get("sigma", 0.0)))
    bound = HOPS * hop
    if mechanism == "batch":
        interval_h = (header.get("batch") or {}).get("interval_hours")
        if interval_h is None:
            return None
        bound += float(interval_h) * 3600
    return round(bound, 3)


def judge(
    source: History | Iterable[Change],
    facts: tuple[Fact, ...] = FACTS,
    *,
    header: dict[str, Any] | None = None,
) -> Judgement:
    """Judge a history (or just its changes: no messages, faults or priorities)."""
    if isinstance(source, History):
        head = {**source.header, **(header or {})}
        changes, messages = source.changes, source.messages
        faults, priorities = source.faults, source.priorities
    else:
        head, changes, messages, faults, priorities = dict(header or {}), list(source), [], [], {}
    grace = {}
    for flow in dict.fromkeys(f.flow for f in facts):
        bound = analytic_staleness(head, mechanism(head, flow))
        if bound is not None:
            grace[flow] = bound
    end = head.get("end_s")
    checked = check(
        changes,
        facts,
        flows_carried=head.get("flows"),
        end_s=float(end) if isinstance(end, int | float) else None,
        grace_s=grace,
    )
    matches, checked.match_judged = judge_matches(changes, head.get("tolerances"))
    checked.violations.extend(matches)
    checked.violations.sort(key=lambda v: (v.t, v.kind, v.entity, v.replica or ""))
    checked.violations = attach_messages(checked.violations, messages)
    interchanges = [c for c in changes if c.entity.startswith("interchange:")]
    units = [c for c in changes if relevant(c)]
    return Judgement(
        checked, head, list(messages), list(faults), dict(priorities), facts, interchanges, units
    )


def percentiles(values: list[float]) -> dict[str, Any]:
    """Nearest-rank p50/p95/p99 and max, rounded to milliseconds, beside the sample
    count ``n``.  With no values every statistic is None: *not measured*, never 0."""
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    return {"n": len(ordered)} | {
        k: round(v, 3)
        for k, v in (("p50", rank(50)), ("p95", rank(95)), ("p99", rank(99)), ("max", ordered[-1]))
    }


# -- consistency and visibility ----------------------------------------------------------


def consistency_over_time(
    judgement: Judgement, end_s: float | None = None, samples: int = 400
) -> tuple[np.ndarray, np.ndarray]:
    """(times, fraction of born (fact, entity) pairs whose replicas all agree)."""
    end = judgement.end_s if end_s is None else end_s
    times = np.linspace(0.0, end, samples)
    born = np.sort(np.array(judgement.checked.born, dtype=float))
    steps = sorted(judgement.checked.disagree)
    st = np.array([t for t, _ in steps], dtype=float)
    level = np.cumsum(np.array([d for _, d in steps], dtype=float))
    alive = np.searchsorted(born, times, side="right").astype(float)
    idx = np.searchsorted(st, times, side="right") - 1
    disagreeing = np.where(idx >= 0, level[np.maximum(idx, 0)] if level.size else 0.0, 0.0)
    fraction = np.where(alive > 0, 1.0 - disagreeing / np.maximum(alive, 1.0), 1.0)
    return times, fraction


def _delays(judgement: Judgement) -> np.ndarray:
    return np.array(
        [math.inf if d is None else d for *_, d in judgement.checked.visibility], dtype=float
    )


def t_visibility(judgement: Judgement, ts: Iterable[float]) -> list[float | None]:
    """P(a replica reflects an update within t seconds), for each t (None: no update)."""
    delays = np.sort(_delays(judgement))
    if delays.size == 0:
        return [None for _ in ts]
    return [float(np.searchsorted(delays, t, side="right") / delays.size) for t in ts]


def backlog_over_time(
    judgement: Judgement, end_s: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(times, count) step function: (update, replica) pairs not yet visible."""
    end = judgement.end_s if end_s is None else end_s
    vis = judgement.checked.visibility
    starts = np.array([t for *_, t, d in vis if d is None or d > 0], dtype=float)
    stops = np.array(
        [end if d is None else t + d for *_, t, d in vis if d is None or d > 0], dtype=float
    )
    times = np.concatenate([starts, stops, [0.0, end]])
    steps = np.concatenate([np.ones(starts.size), -np.ones(stops.size), [0.0, 0.0]])
    order = np.lexsort((-steps, times))  # at equal times, arrivals before departures
    return times[order], np.cumsum(steps[order])


def _level(times: np.ndarray, counts: np.ndarray, t: float) -> float:
    i = int(np.searchsorted(times, t, side="right")) - 1
    return float(counts[i]) if i >= 0 else 0.0


def fault_windows(judgement: Judgement) -> list[dict[str, Any]]:
    """Per fault window: backlog at its start, its peak, and how long it took to drain."""
    if not judgement.faults:
        return []
    times, counts = backlog_over_time(judgement)
    out = []
    for f in sorted(judgement.faults, key=lambda f: (f.start, f.system, f.kind)):
        base = _level(times, counts, f.start)
        after = times >= f.end
        drained = np.nonzero(after & (counts <= base))[0]
        drain = float(times[drained[0]] - f.end) if drained.size else None
        horizon = times[drained[0]] if drained.size else judgement.end_s
        inside = (times >= f.start) & (times <= horizon)
        peak = float(counts[inside].max()) if inside.any() else base
        in_window = [m for m in judgement.messages if f.start <= m.t <= f.end]
        out.append(
            {
                "system": f.system,
                "kind": f.kind,
                "start_s": round(f.start, 3),
                "end_s": round(f.end, 3),
                "backlog_at_start": int(base),
                "backlog_peak": int(peak),
                "drain_s": None if drain is None else round(max(drain, 0.0), 3),
                "retried": sum(1 for m in in_window if m.direction == "retried"),
                "dead_lettered": sum(1 for m in in_window if m.direction == "dead_lettered"),
            }
        )
    return out


def time_to_converge(judgement: Judgement) -> float | None:
    """Seconds after the last fault ended until everything made before it was visible.

    None without faults, when nothing was made before it (not measured), or when
    something made before it never became visible.
    """
    if not judgement.faults:
        return None
    last = max(f.end for f in judgement.faults)
    worst: float | None = None
    for *_, t, d in judgement.checked.visibility:
        if t <= last:
            if d is None:
                return None
            worst = max(worst or 0.0, t + d - last)
    return None if worst is None else round(worst, 3)


def message_counts(judgement: Judgement) -> dict[str, Any]:
    by_direction = Counter(m.direction for m in judgement.messages)
    reasons = Counter(
        (m.detail or "unknown") for m in judgement.messages if m.direction == "dead_lettered"
    )
    return {
        "by_direction": dict(sorted(by_direction.items())),
        "dead_letters_by_reason": dict(sorted(reasons.items())),
    }
