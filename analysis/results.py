"""``results.json``: the public, versioned verdict of one run.

``build_results`` turns a judgement into the document CI suites read; SLOs
given as plain numbers become named pass/fail entries with a detail that says
what was measured against what.  The document holds no wall-clock value, so
the same scenario and seed give byte-identical files (``dumps``), and
re-judging the stored history (``analysis.report.rebuild``) gives the same
document again: it records the SLOs it was judged against (``slo_spec``).

Schema 1 keys are kept as they were; later keys are only added: per flow
``by_priority``; in ``consistency`` the counts of every violation kind,
``agreement`` (time-averaged fraction of entities in agreement), ``pending_at_end``
(updates still within their path's worst-case staleness when the run ended: not lost),
``not_carried`` and ``converge_after_last_fault_s``; under ``violations``
one list per kind (up to 20 examples, taken in turn from each fact and replica),
each entry with its ``explanation``, and ``by_fact``: counts per kind and replica; ``t_visibility``,
``faults``, ``messages`` and ``slo_spec``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from analysis.checkers import examples, tally
from analysis.metrics import (
    VISIBILITY_POINTS_S,
    Judgement,
    consistency_over_time,
    fault_windows,
    message_counts,
    percentiles,
    t_visibility,
    time_to_converge,
)

__all__ = ["RESULTS_SCHEMA_VERSION", "Slos", "build_results", "dumps"]

RESULTS_SCHEMA_VERSION = 1
_EXAMPLES = 20  # violations listed with their explanation, per kind
_LISTS = {
    "lost_update": "lost",
    "duplicate_effect": "duplicates",
    "regression": "regressions",
    "divergence": "divergences",
    "match_error": "match_errors",
    "pending": "pending",  # not violations: still on their way at the end (within worst case)
}


@dataclass(frozen=True)
class Slos:
    lag_p99_s: dict[str, float] = field(default_factory=dict)
    max_lost_updates: int = 0
    max_duplicate_effects: int = 0
    converged: bool = True
    max_regressions: int | None = None
    max_match_errors: int | None = None
    converged_within_minutes: float | None = None  # after the last fault window ends


def _flow(judgement: Judgement, flow: str) -> dict[str, Any]:
    lags = [x for x in judgement.lags if x.flow == flow]
    replicas = sorted({x.replica for x in lags})
    by_priority: dict[str, list[float]] = {}
    for x in lags:
        by_priority.setdefault(judgement.priority_of(x.entity), []).append(x.lag_s)
    return {
        "updates": judgement.updates.get(flow, 0),
        "replica_updates": len(lags),
        "lag_s": percentiles([x.lag_s for x in lags]),
        "by_replica": {r: percentiles([x.lag_s for x in lags if x.replica == r]) for r in replicas},
        "by_priority": {p: percentiles(v) for p, v in sorted(by_priority.items())},
    }


def _slo_entries(slos: Slos, flows: dict[str, Any], consistency: dict[str, Any]) -> list[Any]:
    entries = []
    for flow, limit in sorted(slos.lag_p99_s.items()):
        p99 = flows[flow]["lag_s"]["p99"] if flow in flows else 0.0
        entries.append(
            {
                "name": f"{flow} p99 lag <= {limit:g} s",
                "passed": p99 <= limit,
                "detail": f"measured p99 {p99:g} s",
            }
        )
    limits: list[tuple[str, int | None, int]] = [
        ("lost updates", slos.max_lost_updates, consistency["lost_updates"]),
        ("duplicate effects", slos.max_duplicate_effects, consistency["duplicate_effects"]),
        ("regressions", slos.max_regressions, consistency["regressions"]),
        ("three-way-match errors", slos.max_match_errors, consistency["match_errors"]),
    ]
    for name, cap, measured in limits:
        if cap is not None:
            entries.append(
                {
                    "name": f"{name} <= {cap}",
                    "passed": measured <= cap,
                    "detail": f"measured {measured}",
                }
            )
    if slos.converged:
        off = (
            consistency["lost_updates"] + consistency["divergences"] + consistency["pending_at_end"]
        )
        entries.append(
            {
                "name": "converged",
                "passed": consistency["converged"],
                "detail": "every replica agrees with its owner at the end"
                if consistency["converged"]
                else f"{off} replica values differ from their owner at the end",
            }
        )
    if slos.converged_within_minutes is not None:
        after = consistency.get("converge_after_last_fault_s")
        limit = slos.converged_within_minutes * 60
        entries.append(
            {
                "name": f"converged within {slos.converged_within_minutes:g} min of the last fault",
                "passed": after is not None and after <= limit,
                "detail": f"measured {after:g} s"
                if after is not None
                else "no fault window, or something made before the last one never arrived",
            }
        )
    return entries


def _listed(judgement: Judgement, kind: str) -> list[dict[str, Any]]:
    out = []
    for v in examples(judgement.of_kind(kind), _EXAMPLES):
        entry = v.to_json()
        if kind == "duplicate_effect":  # schema 1 keys of a duplicate
            system, _, field_name = (v.replica or "").partition(".")
            entry |= {
                "system": system,
                "field": field_name.split("[")[0],
                "cause": v.causes[0] if v.causes else None,
                "times": [round(t, 3) for t in (v.times or (v.t,))],
            }
        out.append(entry)
    return out


def build_results(
    judgement: Judgement,
    *,
    scenario: str,
    architecture: str,
    seed: int,
    simulated_seconds: float,
    slos: Slos,
    volumes: dict[str, int],
    mode: str = "simulation",
) -> dict[str, Any]:
    flow_names = tuple(dict.fromkeys(f.flow for f in judgement.facts))
    flows = {flow: _flow(judgement, flow) for flow in flow_names}
    count = {kind: sum(v.count for v in judgement.of_kind(kind)) for kind in _LISTS}
    _, agreement = consistency_over_time(judgement, simulated_seconds)
    consistency = {
        "converged": judgement.converged,
        "lost_updates": count["lost_update"],
        "duplicate_effects": count["duplicate_effect"],
        "regressions": count["regression"],
        "divergences": count["divergence"],
        "match_errors": count["match_error"],
        "entities": judgement.entities,
        "agreement": round(float(agreement.mean()), 6) if agreement.size else 1.0,
        "not_carried": list(judgement.checked.not_carried),
        "pending_at_end": len(judgement.checked.pending),
        "converge_after_last_fault_s": time_to_converge(judgement),
    }
    entries = _slo_entries(slos, flows, consistency)
    visible = t_visibility(judgement, VISIBILITY_POINTS_S)
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "scenario": scenario,
        "architecture": architecture,
        "seed": seed,
        "mode": mode,
        "simulated_seconds": round(simulated_seconds, 3),
        "flows": flows,
        "consistency": consistency,
        "volumes": volumes,
        "violations": {name: _listed(judgement, kind) for kind, name in _LISTS.items()}
        | {"by_fact": tally(judgement.violations)},
        "t_visibility": {
            f"{t:g}": round(p, 6) for t, p in zip(VISIBILITY_POINTS_S, visible, strict=True)
        },
        "faults": fault_windows(judgement),
        "messages": message_counts(judgement),
        "slos": entries,
        "slo_spec": asdict(slos),
        "passed": all(e["passed"] for e in entries),
    }


def dumps(results: dict[str, Any]) -> str:
    return json.dumps(results, indent=2, sort_keys=True) + "\n"
