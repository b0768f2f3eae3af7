"""The integration topology as a graph: who tells whom what, how, and how late.

Theory of operation: ``build_topology`` makes a networkx ``MultiDiGraph`` whose
nodes are the systems of the facts table and whose edges go from a fact's
owner to each replica that the run carried, through the middleware.  Each
edge holds the fact, its flow, the mechanism that carries it (the header's
``mechanisms`` per flow, else the run's architecture) and the lag measured in
the run (p99, max), beside the *analytic* worst case of the same path without
faults:

    event / api:  hops x per-hop bound
    batch:        batch interval + hops x per-hop bound
    hybrid:       as event (reconciliation only repairs what events lost)

where the per-hop bound is the 99.9th percentile of the scenario's lognormal
link latency (``median x exp(3.09 sigma)``, from the header's ``latency``) and
a path has ``HOPS`` one-way hops (the owner's notice to the middleware, its
read back — there and back — and the write to the replica).  Without latency
parameters in the header the analytic bound is left out (None).

``blast_radius`` answers what an outage of one system delays: every edge
that starts or ends there — and, for the middleware (``core``), all of them.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from analysis.facts import Fact
from analysis.metrics import HOPS, Judgement, analytic_staleness, mechanism, percentiles

__all__ = [
    "HOPS",
    "MIDDLEWARE",
    "analytic_staleness",
    "blast_radius",
    "build_topology",
    "staleness_table",
]

MIDDLEWARE = "core"


def build_topology(judgement: Judgement) -> nx.MultiDiGraph:
    header = judgement.header
    graph = nx.MultiDiGraph()
    carried_off = set(judgement.checked.not_carried)
    lags: dict[tuple[str, str], list[float]] = {}
    for x in judgement.lags:
        lags.setdefault((x.fact, x.replica.split("[")[0]), []).append(x.lag_s)
    for fact in judgement.facts:
        updates = judgement.checked.fact_updates.get(fact.name, 0)
        _add_fact(graph, fact, header, lags, carried_off, updates)
    return graph


def _add_fact(
    graph: nx.MultiDiGraph,
    fact: Fact,
    header: dict[str, Any],
    lags: dict[tuple[str, str], list[float]],
    carried_off: set[str],
    updates: int,
) -> None:
    if not updates:
        return  # nothing of this fact happened in the run
    owner = fact.owner[0]
    graph.add_node(owner)
    for system, field_name in fact.replicas:
        replica = f"{system}.{field_name}"
        if f"{fact.name}: {replica}" in carried_off:
            continue
        measured = lags.get((fact.name, replica), [])
        how = mechanism(header, fact.flow)
        stats = percentiles(measured)
        graph.add_edge(
            owner,
            system,
            key=f"{fact.name}->{replica}",
            fact=fact.name,
            flow=fact.flow,
            replica=replica,
            mechanism=how,
            samples=len(measured),
            lag_p99_s=stats["p99"],
            lag_max_s=stats["max"],
            analytic_s=analytic_staleness(header, how),
        )


def blast_radius(graph: nx.MultiDiGraph, system: str) -> dict[str, list[str]]:
    """Flows and facts an outage of ``system`` delays (everything, for the middleware)."""
    edges = [d for u, v, d in graph.edges(data=True) if system in (u, v, MIDDLEWARE)]
    return {
        "flows": sorted({d["flow"] for d in edges}),
        "facts": sorted({d["fact"] for d in edges}),
        "replicas": sorted({d["replica"] for d in edges}),
    }


def staleness_table(graph: nx.MultiDiGraph) -> list[dict[str, Any]]:
    """Per carried (fact, replica): mechanism, analytic worst case and measured lag."""
    rows = []
    for u, v, d in graph.edges(data=True):
        rows.append(
            {
                "fact": d["fact"],
                "flow": d["flow"],
                "path": f"{u} → {MIDDLEWARE} → {v}",
                "replica": d["replica"],
                "mechanism": d["mechanism"],
                "analytic_s": d["analytic_s"],
                "lag_p99_s": d["lag_p99_s"],
                "lag_max_s": d["lag_max_s"],
            }
        )
    return sorted(rows, key=lambda r: (r["flow"], r["fact"], r["replica"]))
