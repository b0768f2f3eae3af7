"""``results.json``: the public, versioned verdict of one run.

``build_results`` turns a judgement into the document CI suites read; SLOs
given as plain numbers become named pass/fail entries with a detail that says
what was measured against what.  The document holds no wall-clock value, so
the same scenario and seed give byte-identical files (``dumps``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from analysis.facts import FLOWS
from analysis.metrics import Judgement, percentiles

__all__ = ["RESULTS_SCHEMA_VERSION", "Slos", "build_results", "dumps"]

RESULTS_SCHEMA_VERSION = 1
_EXAMPLES = 20  # violations listed with their explanation, per kind


@dataclass(frozen=True)
class Slos:
    lag_p99_s: dict[str, float] = field(default_factory=dict)
    max_lost_updates: int = 0
    max_duplicate_effects: int = 0
    converged: bool = True


def _flow(judgement: Judgement, flow: str) -> dict[str, Any]:
    lags = [x for x in judgement.lags if x.flow == flow]
    replicas = sorted({x.replica for x in lags})
    return {
        "updates": judgement.updates.get(flow, 0),
        "replica_updates": len(lags),
        "lag_s": percentiles([x.lag_s for x in lags]),
        "by_replica": {r: percentiles([x.lag_s for x in lags if x.replica == r]) for r in replicas},
    }


def _slo_entries(slos: Slos, flows: dict[str, Any], consistency: dict[str, Any]) -> list[Any]:
    entries = []
    for flow, limit in sorted(slos.lag_p99_s.items()):
        p99 = flows[flow]["lag_s"]["p99"]
        entries.append(
            {
                "name": f"{flow} p99 lag <= {limit:g} s",
                "passed": p99 <= limit,
                "detail": f"measured p99 {p99:g} s",
            }
        )
    lost, dup = consistency["lost_updates"], consistency["duplicate_effects"]
    entries.append(
        {
            "name": f"lost updates <= {slos.max_lost_updates}",
            "passed": lost <= slos.max_lost_updates,
            "detail": f"measured {lost}",
        }
    )
    entries.append(
        {
            "name": f"duplicate effects <= {slos.max_duplicate_effects}",
            "passed": dup <= slos.max_duplicate_effects,
            "detail": f"measured {dup}",
        }
    )
    if slos.converged:
        entries.append(
            {
                "name": "converged",
                "passed": consistency["converged"],
                "detail": "every replica agrees with its owner at the end"
                if consistency["converged"]
                else f"{lost} replica values differ from their owner at the end",
            }
        )
    return entries


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
    flows = {flow: _flow(judgement, flow) for flow in FLOWS}
    consistency = {
        "converged": judgement.converged,
        "lost_updates": len(judgement.lost),
        "duplicate_effects": sum(len(d.times) - 1 for d in judgement.duplicates),
        "entities": judgement.entities,
    }
    entries = _slo_entries(slos, flows, consistency)
    violations = {
        "lost": [
            {
                "fact": x.fact,
                "entity": x.entity,
                "replica": x.replica,
                "owner_value": x.owner_value,
                "owner_t": round(x.owner_t, 3),
                "replica_value": x.replica_value,
                "replica_t": None if x.replica_t is None else round(x.replica_t, 3),
            }
            for x in judgement.lost[:_EXAMPLES]
        ],
        "duplicates": [
            {
                "system": d.system,
                "entity": d.entity,
                "field": d.field,
                "cause": d.cause,
                "times": [round(t, 3) for t in d.times],
            }
            for d in judgement.duplicates[:_EXAMPLES]
        ],
    }
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
        "violations": violations,
        "slos": entries,
        "passed": all(e["passed"] for e in entries),
    }


def dumps(results: dict[str, Any]) -> str:
    return json.dumps(results, indent=2, sort_keys=True) + "\n"
