"""Run a scenario under one architecture, judge it, and write its artefacts."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from analysis.history import History
from analysis.judged import JudgedRun
from analysis.metrics import judge
from analysis.report import summary_markdown, write_report
from analysis.results import Slos, build_results, dumps
from scenarios.sim.network import simulate
from scenarios.sim.progress import Progress
from scenarios.spec.models import ScenarioSpec

__all__ = ["Outcome", "run_and_write", "run_architecture", "write_run"]


@dataclass(frozen=True)
class Outcome:
    judged: JudgedRun
    history: History
    wall_s: float

    @property
    def results(self) -> dict[str, object]:
        return self.judged.results


def run_architecture(
    spec: ScenarioSpec, architecture: str, progress: Progress | None = None
) -> Outcome:
    """Simulate ``spec`` under ``architecture`` and judge its history."""
    started = time.perf_counter()
    run = simulate(spec, architecture, progress)
    run.history.header["volumes"] = run.volumes  # so `supplysync report` can re-judge it
    judgement = judge(run.history)
    results = build_results(
        judgement,
        scenario=spec.name,
        architecture=architecture,
        seed=spec.seed,
        simulated_seconds=spec.end_s,
        slos=Slos(**spec.slos.model_dump()),
        volumes=run.volumes,
    )
    return Outcome(JudgedRun(results, judgement), run.history, time.perf_counter() - started)


def write_run(out: Path, outcome: Outcome, *, report: bool = True) -> None:
    """``out``/results.json, history.jsonl, summary.md and (with ``report``) report.html."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(dumps(outcome.judged.results), encoding="utf-8")
    outcome.history.write(out / "history.jsonl")
    (out / "summary.md").write_text(summary_markdown([outcome.judged]), encoding="utf-8")
    if report:
        write_report(out / "report.html", [outcome.judged])


def run_and_write(spec: ScenarioSpec, architecture: str, out: Path) -> tuple[JudgedRun, float]:
    """One architecture of a comparison, in a worker process: artefacts on disk,
    the judged run back to the caller for the comparison report."""
    outcome = run_architecture(spec, architecture)
    write_run(out, outcome, report=False)
    return outcome.judged, outcome.wall_s
