"""``results.json``: the public, versioned verdict of one run.

``build_results`` turns a judgement into the document CI suites read; SLOs
given as plain numbers become named pass/fail entries with a detail that says
what was measured against what.  The document holds no wall-clock value, so
the same scenario and seed give byte-identical files (``dumps``), and
re-judging the stored history (``analysis.report.rebuild``) gives the same
document again: it records the SLOs it was judged against (``slo_spec``).

Schema 1 keys are kept as they were; later keys are only added: per flow
``by_priority`` and ``pending_at_end``; in ``consistency`` the counts of every violation
kind, ``agreement`` (time-averaged fraction of entities in agreement), ``pending_at_end``
(updates still within their path's worst-case staleness when the run ended: not lost),
``reposts`` (a document applied again with the same value: no effect, not a violation),
``not_carried`` (``fact: replica`` pairs whose owner changed in the run but that
reflected none of its updates: not carried by the architecture, or carried nowhere) and
``converge_after_last_fault_s``; under ``violations`` one list per kind (up to 20
examples, taken in turn from each fact and replica), each entry with its ``explanation``,
and ``by_fact``: counts per kind and replica; ``coverage`` (per fact, see
:func:`coverage`), ``t_visibility``, ``faults``, ``messages`` and ``slo_spec``;
``functional_acks`` (997s both ways: lag, verdicts, unacknowledged interchanges; see
:mod:`analysis.functional_acks`; per partner under ``partners`` when the history's header
names them); ``erp_release`` (only for a run whose scenario releases
a new ERP API version: the run before and after each release, see :mod:`analysis.erp_release`);
``invoice_exceptions`` only in a run where a supplier
billed a line in another unit than ordered (``uom_mismatch``: caught by AP's three-way
match or missed; see :mod:`analysis.invoice_exceptions`).

Schema 2: *a verdict needs evidence*.  Every percentile block carries its sample count
``n``, and a statistic with no samples is ``null`` (*not measured*), never 0; so is
``agreement`` when no entity was judged.  Every SLO entry carries ``samples`` and a
``status`` (``met``, ``violated`` or ``not measured``); an SLO whose sample is empty is
not measured and fails, unless the scenario sets ``allow_unmeasured``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from analysis.erp_release import erp_release
from analysis.functional_acks import functional_acks
from analysis.invoice_exceptions import invoice_exceptions
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
from analysis.violations import examples, tally

__all__ = [
    "RESULTS_SCHEMA_VERSION",
    "Slos",
    "build_results",
    "coverage",
    "dumps",
    "lag_unmeasured",
]

RESULTS_SCHEMA_VERSION = 2
_EXAMPLES = 20  # violations listed with their explanation, per kind
_LISTS = {
    "lost_update": "lost",
    "duplicate_effect": "duplicates",
    "regression": "regressions",
    "divergence": "divergences",
    "match_error": "match_errors",
    "pending": "pending",  # not violations: still on their way at the end (within worst case)
    "repost": "reposts",  # nor these: the same document applied again, its value unchanged
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
    # an SLO whose sample is empty is "not measured" and fails, unless this says otherwise
    allow_unmeasured: bool = False


def _base(replica: str) -> str:
    return replica.split("[")[0]


def _flow(judgement: Judgement, flow: str) -> dict[str, Any]:
    lags = [x for x in judgement.lags if x.flow == flow]
    replicas = sorted({x.replica for x in lags})
    by_priority: dict[str, list[float]] = {}
    for x in lags:
        by_priority.setdefault(judgement.priority_of(x.entity), []).append(x.lag_s)
    in_flow = {f.name for f in judgement.facts if f.flow == flow}
    return {
        "updates": judgement.updates.get(flow, 0),
        "replica_updates": len(lags),
        "pending_at_end": sum(1 for v in judgement.checked.pending if v.fact in in_flow),
        "lag_s": percentiles([x.lag_s for x in lags]),
        "by_replica": {r: percentiles([x.lag_s for x in lags if x.replica == r]) for r in replicas},
        "by_priority": {p: percentiles(v) for p, v in sorted(by_priority.items())},
    }


def coverage(judgement: Judgement) -> dict[str, Any]:
    """Per fact: owner updates, what each replica reflected, and one word for the whole.

    ``not exercised``: its owner never changed in the run (nothing to judge);
    ``not carried``: no replica reflected any update (or the architecture carries none);
    ``partly carried``: some replicas did, others reflected nothing or are not carried;
    ``carried``: every replica reflected at least one update.  A replica's ``updates``
    counts the owner updates it reflected (the lag samples); ``lost`` and ``pending``
    count entities whose last update it never showed, by the end of the run.
    """
    reflected: dict[tuple[str, str], int] = {}
    for x in judgement.lags:
        key = (x.fact, _base(x.replica))
        reflected[key] = reflected.get(key, 0) + 1
    missing: dict[tuple[str, str, str], int] = {}
    for kind, found in (("lost", judgement.lost), ("pending", judgement.checked.pending)):
        for v in found:
            key3 = (kind, v.fact, _base(v.replica or ""))
            missing[key3] = missing.get(key3, 0) + 1
    off = set(judgement.checked.not_carried)
    out: dict[str, Any] = {}
    for fact in judgement.facts:
        replicas: dict[str, Any] = {}
        for system, field_name in fact.replicas:
            name = f"{system}.{field_name}"
            carried = f"{fact.name}: {name}" not in off
            replicas[name] = {
                "carried": carried,
                "updates": reflected.get((fact.name, name), 0),
                "lost": missing.get(("lost", fact.name, name), 0),
                "pending": missing.get(("pending", fact.name, name), 0),
            }
        owner_updates = judgement.checked.fact_updates.get(fact.name, 0)
        reached = [r["carried"] and r["updates"] > 0 for r in replicas.values()]
        if not owner_updates:
            status = "not exercised"
        elif all(reached):
            status = "carried"
        elif any(reached):
            status = "partly carried"
        else:
            status = "not carried"
        out[fact.name] = {
            "flow": fact.flow,
            "owner": f"{fact.owner[0]}.{fact.owner[1]}",
            "owner_updates": owner_updates,
            "replicas": replicas,
            "status": status,
        }
    return out


def lag_unmeasured(flow: str, data: dict[str, Any] | None) -> str | None:
    """Why ``flow``'s lag has no sample (its entry of ``flows``), or None when it has."""
    if data is None or not data["updates"]:
        return f"the run made no owner update of {flow} (not exercised)"
    if not data["lag_s"]["n"]:
        return (
            f"0 of {data['updates']:,} owner updates of {flow} reached any replica; "
            f"{data['pending_at_end']:,} still pending at the end"
        )
    return None


def _not_carried(covered: dict[str, Any]) -> list[str]:
    """``fact: replica`` pairs whose owner changed but that reflected no update of it."""
    return [
        f"{fact}: {name}"
        for fact, c in covered.items()
        if c["owner_updates"]
        for name, r in c["replicas"].items()
        if not r["carried"] or not r["updates"]
    ]


def _verdict(
    name: str, passed: bool, detail: str, samples: int, *, measured: bool = True
) -> dict[str, Any]:
    return {
        "name": name,
        "passed": passed,
        "status": ("met" if passed else "violated") if measured else "not measured",
        "samples": samples,
        "detail": detail,
    }


def _unmeasured(slos: Slos, name: str, why: str) -> dict[str, Any]:
    allowed = " (allowed: allow_unmeasured)" if slos.allow_unmeasured else ""
    return _verdict(name, slos.allow_unmeasured, f"not measured: {why}{allowed}", 0, measured=False)


def _slo_entries(
    slos: Slos, flows: dict[str, Any], consistency: dict[str, Any], judgement: Judgement
) -> list[Any]:
    """A verdict per SLO, in this order: lag per flow, the count limits, convergence."""
    return [
        *_lag_entries(slos, flows),
        *_limit_entries(slos, consistency, judgement),
        *_convergence_entries(slos, consistency, judgement),
    ]


def _lag_entries(slos: Slos, flows: dict[str, Any]) -> list[Any]:
    entries = []
    for flow, limit in sorted(slos.lag_p99_s.items()):
        name = f"{flow} p99 lag <= {limit:g} s"
        data = flows.get(flow)
        why = lag_unmeasured(flow, data)
        if why is not None or data is None:
            entries.append(_unmeasured(slos, name, why or ""))
            continue
        lag = data["lag_s"]
        detail = f"measured p99 {lag['p99']:g} s over {lag['n']:,} replica updates"
        entries.append(_verdict(name, lag["p99"] <= limit, detail, lag["n"]))
    return entries


def _limit_entries(slos: Slos, consistency: dict[str, Any], judgement: Judgement) -> list[Any]:
    entries = []
    # the evidence for "nothing lost / doubled / regressed": outcomes the run settled
    settled = len(judgement.lags) + consistency["lost_updates"]
    limits: list[tuple[str, int | None, int, int, str]] = [
        ("lost updates", slos.max_lost_updates, consistency["lost_updates"], settled, "update"),
        (
            "duplicate effects",
            slos.max_duplicate_effects,
            consistency["duplicate_effects"],
            settled,
            "update",
        ),
        ("regressions", slos.max_regressions, consistency["regressions"], settled, "update"),
        (
            "three-way-match errors",
            slos.max_match_errors,
            consistency["match_errors"],
            judgement.checked.match_judged,
            "match",
        ),
    ]
    for name, cap, measured, samples, what in limits:
        if cap is None:
            continue
        full = f"{name} <= {cap}"
        if not samples:
            updates = sum(judgement.checked.fact_updates.values())
            why = (
                f"0 of {updates:,} owner updates reached any replica or were lost; "
                f"{consistency['pending_at_end']:,} still pending at the end"
                if what == "update"
                else "no invoice reached a match decision"
            )
            entries.append(_unmeasured(slos, full, why))
            continue
        unit = "replica updates and losses" if what == "update" else "invoices judged"
        detail = f"measured {measured} over {samples:,} {unit}"
        entries.append(_verdict(full, measured <= cap, detail, samples))
    return entries


def _convergence_entries(
    slos: Slos, consistency: dict[str, Any], judgement: Judgement
) -> list[Any]:
    entries = []
    if slos.converged:
        entities = consistency["entities"]
        if not entities:
            entries.append(_unmeasured(slos, "converged", "the run made no owner update"))
        else:
            off = (
                consistency["lost_updates"]
                + consistency["divergences"]
                + consistency["pending_at_end"]
                + judgement.checked.off_by_duplicate
            )
            detail = (
                f"every replica agrees with its owner at the end ({entities:,} entities)"
                if consistency["converged"]
                else f"{off} replica values differ from their owner at the end"
            )
            entries.append(_verdict("converged", consistency["converged"], detail, entities))
    if slos.converged_within_minutes is not None:
        after = consistency.get("converge_after_last_fault_s")
        limit = slos.converged_within_minutes * 60
        name = f"converged within {slos.converged_within_minutes:g} min of the last fault"
        last = max((f.end for f in judgement.faults), default=None)
        before = sum(
            1 for *_, t, _d in judgement.checked.visibility if last is not None and t <= last
        )
        if not before:
            why = "the run has no fault window, or nothing was made before the last one ended"
            entries.append(_unmeasured(slos, name, why))
        elif after is None:
            detail = "something made before the last fault ended never reached its replica"
            entries.append(_verdict(name, False, detail, before))
        else:
            detail = f"measured {after:g} s over {before:,} replica updates"
            entries.append(_verdict(name, after <= limit, detail, before))
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
    covered = coverage(judgement)
    consistency = {
        "converged": judgement.converged,
        "lost_updates": count["lost_update"],
        "duplicate_effects": count["duplicate_effect"],
        "regressions": count["regression"],
        "divergences": count["divergence"],
        "match_errors": count["match_error"],
        "entities": judgement.entities,
        "agreement": round(float(agreement.mean()), 6)
        if agreement.size and judgement.entities
        else None,
        "not_carried": _not_carried(covered),
        "pending_at_end": len(judgement.checked.pending),
        "reposts": count["repost"],
        "converge_after_last_fault_s": time_to_converge(judgement),
    }
    entries = _slo_entries(slos, flows, consistency, judgement)
    visible = t_visibility(judgement, VISIBILITY_POINTS_S)
    release = erp_release(judgement)
    exceptions = invoice_exceptions(judgement.invoice_units)
    return {
        **({"invoice_exceptions": exceptions} if exceptions else {}),
        "schema_version": RESULTS_SCHEMA_VERSION,
        "scenario": scenario,
        "architecture": architecture,
        "seed": seed,
        "mode": mode,
        "simulated_seconds": round(simulated_seconds, 3),
        "coverage": covered,
        "flows": flows,
        "consistency": consistency,
        "volumes": volumes,
        "violations": {name: _listed(judgement, kind) for kind, name in _LISTS.items()}
        | {"by_fact": tally(judgement.violations)},
        "t_visibility": {
            f"{t:g}": None if p is None else round(p, 6)
            for t, p in zip(VISIBILITY_POINTS_S, visible, strict=True)
        },
        "faults": fault_windows(judgement),
        "messages": message_counts(judgement),
        "functional_acks": functional_acks(
            judgement.interchanges,
            simulated_seconds,
            judgement.header.get("partners"),
            judgement.header.get("missing_997_by_s"),
        ),
        "slos": entries,
        "slo_spec": asdict(slos),
        "passed": all(e["passed"] for e in entries),
    } | ({} if release is None else {"erp_release": release})


def dumps(results: dict[str, Any]) -> str:
    return json.dumps(results, indent=2, sort_keys=True) + "\n"
