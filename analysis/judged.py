"""A judged run: its results beside its judgement, and what every report reads of it.

:func:`judge_run` turns a history into results (scenario, seed, SLOs and volumes
from its header); the report's tables (:mod:`analysis.report_tables`), plots
(:mod:`analysis.report_plots`) and page (:mod:`analysis.report`) all read a
:class:`JudgedRun`.  The SLOs a stored run was judged against come back from its
header or, for an old ``results.json`` without ``slo_spec``, from their names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from analysis.history import History
from analysis.metrics import Judgement, judge
from analysis.results import Slos, build_results

__all__ = ["JudgedRun", "active_flows", "human", "judge_run", "slos_from_entries", "slos_of"]


@dataclass(frozen=True)
class JudgedRun:
    """One run's results (``results.json``) beside the judgement they came from."""

    results: dict[str, Any]
    judgement: Judgement

    @property
    def architecture(self) -> str:
        return str(self.results["architecture"])


def judge_run(
    history: History,
    *,
    slos: Slos | None = None,
    volumes: dict[str, int] | None = None,
) -> JudgedRun:
    """Judge a history into results, taking scenario, seed and SLOs from its header."""
    head = history.header
    slos = slos or slos_of(head.get("slos"))
    judgement = judge(history)
    results = build_results(
        judgement,
        scenario=str(head.get("scenario", "unknown")),
        architecture=str(head.get("architecture", "unknown")),
        seed=int(head.get("seed", 0)),
        simulated_seconds=float(head.get("end_s", judgement.end_s)),
        slos=slos,
        volumes=dict(volumes if volumes is not None else head.get("volumes") or {}),
        mode=str(head.get("mode", "simulation")),
    )
    return JudgedRun(results, judgement)


def slos_of(spec: Any) -> Slos:
    """The SLOs a run header's (or results.json's) ``slos`` spec names; defaults otherwise."""
    if not isinstance(spec, dict):
        return Slos()
    known = {f.name for f in fields(Slos)}
    return Slos(**{k: v for k, v in spec.items() if k in known})


_SLO_NAMES = (
    (re.compile(r"^(\w+) p99 lag <= ([0-9.e+-]+) s$"), "lag"),
    (re.compile(r"^lost updates <= (\d+)$"), "max_lost_updates"),
    (re.compile(r"^duplicate effects <= (\d+)$"), "max_duplicate_effects"),
    (re.compile(r"^regressions <= (\d+)$"), "max_regressions"),
    (re.compile(r"^three-way-match errors <= (\d+)$"), "max_match_errors"),
)


def slos_from_entries(entries: Any) -> Slos:
    """The SLOs a schema-1 results.json (no ``slo_spec``) was judged against, from its names."""
    spec: dict[str, Any] = {"lag_p99_s": {}, "converged": False}
    for entry in entries if isinstance(entries, list) else ():
        name = str(entry.get("name", ""))
        if name == "converged":
            spec["converged"] = True
        for pattern, key in _SLO_NAMES:
            m = pattern.match(name)
            if m and key == "lag":
                spec["lag_p99_s"][m.group(1)] = float(m.group(2))
            elif m:
                spec[key] = int(m.group(1))
    return slos_of(spec)


def active_flows(runs: list[JudgedRun]) -> list[str]:
    """The flows any of ``runs`` carried a replica update on, in first-seen order."""
    flows: dict[str, None] = {}
    for run in runs:
        for flow, data in run.results["flows"].items():
            if data["replica_updates"]:
                flows[flow] = None
    return list(flows)


def human(seconds: float | None) -> str:
    """A duration as the report spells it (``—`` when not measured)."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
