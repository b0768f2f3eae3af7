"""Sweeps: one scenario over a grid of parameter values and architectures.

Theory of operation: a parameter is a dotted path of the scenario file with a
list of values (``faults.erp.outage_minutes=0,60,240``, parsed by
:func:`scenarios.spec.load.parse_param`).  The grid is the cartesian product of
the parameters' values, in the order given, times the architectures; every
point is loaded and validated in the calling process first, so a bad value
stops the sweep before anything runs, naming the point.  The points then run
in a process pool, or with ``--cluster`` on a Dask scheduler's workers (each run
is independent and seeded alike; :mod:`scenarios.sim.cells` is where they run);
the executor hands the results back in grid order, so the output does not
depend on which worker finished first, nor on which machine: the same scenario,
parameters, architectures and seed give a byte-identical ``sweep.csv``.

Written to the output folder: ``sweep.csv`` (one row per run: the parameter
values, the architecture, the seed and each SLO metric), ``sweep.md`` (the
same table, for a CI summary, with the plots), one PNG per metric plotted
against the first parameter (one line per architecture, and per value of any
further parameter that takes several), and each run's ``results.json`` under ``runs/``.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from analysis.results import dumps
from scenarios.command import Command, scenario_arguments
from scenarios.errors import prepare_out, writing
from scenarios.sim.cells import executor
from scenarios.sim.runner import run_architecture
from scenarios.spec.architectures import ARCHITECTURES, EVENT, parse_names, unknown
from scenarios.spec.load import ScenarioError, load_scenario, parse_param
from scenarios.spec.models import ScenarioSpec

__all__ = ["COMMAND", "SweepResult", "handle", "metrics_of", "run_cell", "sweep"]

Param = tuple[str, list[Any]]
_CONSISTENCY = ("lost_updates", "duplicate_effects", "regressions", "match_errors")


@dataclass(frozen=True)
class SweepResult:
    scenario: str
    params: list[Param]
    architectures: list[str]
    columns: list[str]  # of sweep.csv: parameters, architecture, seed, then the metrics
    metrics: list[str]
    rows: list[dict[str, Any]]  # one per run, in grid order
    out_dir: Path
    plots: dict[str, Path]  # metric -> PNG
    wall_s: float
    rerun: list[str] = field(default_factory=list)  # runs/ of cells a lost worker had

    @property
    def csv_path(self) -> Path:
        return self.out_dir / "sweep.csv"

    @property
    def markdown_path(self) -> Path:
        return self.out_dir / "sweep.md"


def metrics_of(results: dict[str, Any]) -> dict[str, Any]:
    """The SLO metrics of one run's ``results.json``, flat: p99 lag per flow, violation
    counts, convergence (and how long it took after the last fault), the verdict."""
    out: dict[str, Any] = {}
    for flow, data in sorted(results["flows"].items()):  # None: no sample, not measured
        out[f"{flow}_lag_p99_s"] = data["lag_s"]["p99"]
        out[f"{flow}_lag_samples"] = data["lag_s"]["n"]
    consistency = results["consistency"]
    out |= {k: consistency[k] for k in _CONSISTENCY if k in consistency}
    out["converged"] = consistency["converged"]
    if "converge_after_last_fault_s" in consistency:
        out["converge_after_last_fault_s"] = consistency["converge_after_last_fault_s"]
    out["slos_passed"] = results["passed"]
    return out


def run_cell(spec: ScenarioSpec, architecture: str) -> dict[str, Any]:
    """One grid point, in a worker process (here or a Dask worker, which imports it by
    name): only the results document comes back."""
    return run_architecture(spec, architecture).results


def _grid(
    scenario: str, params: Sequence[Param], architectures: Sequence[str], seed: int | None
) -> list[tuple[dict[str, Any], str, ScenarioSpec]]:
    paths = [path for path, _ in params]
    for path in paths:
        if paths.count(path) > 1:
            raise ScenarioError("--param", path, "given twice")
        if path == "seed" and seed is not None:
            raise ScenarioError("--param", path, "cannot be swept together with --seed")
    if not params:
        raise ScenarioError("--param", "", "give at least one parameter to sweep")
    for path, values in params:
        if not values:
            raise ScenarioError("--param", path, "no values")
    bad = [a for a in architectures if a not in ARCHITECTURES]
    if bad or not architectures:
        raise ScenarioError("--architectures", "", unknown(bad[0] if bad else ""))
    points = []
    for combination in itertools.product(*(v for _, v in params)):
        overrides = dict(zip(paths, combination, strict=True))
        try:
            spec = load_scenario(scenario, seed=seed, overrides=overrides)
        except ScenarioError as e:
            point = ", ".join(f"{p}={_cell(v)}" for p, v in overrides.items())
            raise ScenarioError(e.source, e.field, f"{e.reason} (sweep point {point})") from None
        points += [(overrides, a, spec) for a in architectures]
    return points


def sweep(
    scenario: str,
    params: Sequence[Param],
    architectures: Sequence[str],
    out_dir: Path,
    seed: int | None = None,
    workers: int | None = os.cpu_count(),
    *,
    plots: bool = True,
    progress: Callable[[int, int], None] | None = None,
    cluster: str | None = None,
    cluster_timeout: float = 10.0,
) -> SweepResult:
    """Run the grid in parallel and write sweep.csv, sweep.md and (with ``plots``, as the
    command line does) one PNG per metric; ``progress(done, total)`` after each run.  With
    ``cluster`` (a Dask scheduler's address) its workers run the grid, not ``workers``."""
    started = time.perf_counter()
    grid = [(path, list(values)) for path, values in params]
    points = _grid(scenario, grid, list(architectures), seed)
    specs, archs = [p[2] for p in points], [p[1] for p in points]
    n = max(1, min(workers or 1, len(points)))
    documents: list[dict[str, Any]] = []
    with executor(cluster, n, cluster_timeout) as cells:
        for results in cells.map(run_cell, specs, archs):  # in grid order
            documents.append(results)
            if progress is not None:
                progress(len(documents), len(points))
        rerun = [_run_name(i, archs[i]) for i in cells.rerun()]

    out_dir.mkdir(parents=True, exist_ok=True)
    rows, metrics = [], list(metrics_of(documents[0]))
    for i, ((overrides, arch, _), results) in enumerate(zip(points, documents, strict=True)):
        run_dir = out_dir / "runs" / _run_name(i, arch)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "results.json").write_text(dumps(results), encoding="utf-8")
        found = metrics_of(results)
        metrics += [m for m in found if m not in metrics]
        rows.append({**overrides, "architecture": arch, "seed": results["seed"], **found})
    columns = [p for p, _ in grid] + ["architecture", "seed", *metrics]
    name = specs[0].name
    (out_dir / "sweep.csv").write_text(_csv(columns, rows), encoding="utf-8")
    pngs = {
        m: _plot(out_dir / f"{m}.png", name, grid, list(architectures), rows, m)
        for m in (metrics if plots else [])
        if not m.endswith("_samples")  # the counts behind a metric: in the table only
    }
    (out_dir / "sweep.md").write_text(
        _markdown(name, grid, columns, rows, pngs, seed), encoding="utf-8"
    )
    return SweepResult(
        name,
        grid,
        list(architectures),
        columns,
        metrics,
        rows,
        out_dir,
        pngs,
        time.perf_counter() - started,
        rerun,
    )


# -- outputs ---------------------------------------------------------------------------


def _run_name(index: int, architecture: str) -> str:
    """The folder of a run under ``runs/``, e.g. ``002-event``."""
    return f"{index:03d}-{architecture}"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)  # true/false, 0.5, [1, 2]: as a scenario file would say it


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_cell(row.get(c)) for c in columns] for row in rows)
    return buffer.getvalue()


def _markdown(
    name: str,
    params: list[Param],
    columns: list[str],
    rows: list[dict[str, Any]],
    plots: dict[str, Path],
    seed: int | None,
) -> str:
    swept = "; ".join(f"`{p}` = {', '.join(_cell(v) for v in vs)}" for p, vs in params)
    lines = [
        f"# Sweep of {name}",
        "",
        f"{len(rows)} runs: {swept}"
        + ("" if seed is None else f"; seed {seed}")
        + ". One row per run; a metric with no sample is *not measured* (empty in the CSV).",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    swept_columns = {p for p, _ in params} | {"architecture", "seed"}
    lines += [
        "| "
        + " | ".join(
            "not measured" if row.get(c) is None and c not in swept_columns else _cell(row.get(c))
            for c in columns
        )
        + " |"
        for row in rows
    ]
    lines += ["", *(f"![{m}]({path.name})" for m, path in plots.items()), ""]
    return "\n".join(lines)


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return math.nan


def _plot(
    path: Path,
    name: str,
    params: list[Param],
    architectures: list[str],
    rows: list[dict[str, Any]],
    metric: str,
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_path, x_values = params[0]
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in x_values)
    positions = [float(v) if numeric else float(i) for i, v in enumerate(x_values)]
    others = [p for p, values in params[1:] if len(values) > 1]  # a fixed value draws no line
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    try:
        series = sorted({(r["architecture"], *(_cell(r[p]) for p in others)) for r in rows},
                        key=lambda k: (architectures.index(k[0]), k[1:]))  # fmt: skip
        for key in series:
            arch, *rest = key
            ys = []
            for value in x_values:
                match = [
                    r for r in rows
                    if r["architecture"] == arch and r[x_path] == value
                    and all(_cell(r[p]) == v for p, v in zip(others, rest, strict=True))
                ]  # fmt: skip
                ys.append(_number(match[0].get(metric)) if match else math.nan)
            label = ", ".join([arch, *(f"{p}={v}" for p, v in zip(others, rest, strict=True))])
            ax.plot(positions, ys, marker="o", label=label)
        if not numeric:
            ax.set_xticks(positions, [_cell(v) for v in x_values])
        ax.set_xlabel(x_path)
        ax.set_ylabel(metric)
        ax.set_title(f"{name}: {metric}")
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)
    return path


# -- command line ----------------------------------------------------------------------


def _param(text: str) -> Param:
    try:
        return parse_param(text)
    except ScenarioError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _architectures(text: str) -> list[str]:
    try:
        return parse_names(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _workers(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return n


def _arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``sweep``."""
    scenario_arguments(p, "out/<scenario>-sweep")
    p.add_argument(
        "--param",
        dest="params",
        action="append",
        type=_param,
        required=True,
        metavar="PATH=V1,V2,...",
        help="a dotted field path and its values, e.g. faults.erp.outage_minutes=0,60,240 "
        "(repeatable: the grid is every combination)",
    )
    p.add_argument(
        "--architectures",
        type=_architectures,
        default=[EVENT.name],
        help="comma-separated, e.g. event,batch (default: event)",
    )
    p.add_argument(
        "--workers",
        type=_workers,
        help="processes on this machine running the grid (default: the number of cores)",
    )
    p.add_argument(
        "--cluster",
        type=_scheduler,
        metavar="tcp://HOST:8786",
        help="run each grid cell on this Dask scheduler's workers instead (each needs "
        "supplysync installed: pip install 'supplysync[cluster]'); the files are the same",
    )
    p.add_argument(
        "--cluster-timeout",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="with --cluster: how long to wait for the scheduler and a first worker (default 10)",
    )


def _scheduler(text: str) -> str:
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or port is None:
        raise argparse.ArgumentTypeError(
            f"expected a scheduler address tcp://HOST:PORT, got {text!r}"
        )
    return text


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text!r}")
    return value


def handle(args: argparse.Namespace) -> int:
    """Run the sweep the command line asked for; print the table and where the files are."""
    out = args.out or Path("out") / f"{Path(args.scenario).stem}-sweep"

    def progress(done: int, total: int) -> None:  # a status line on a terminal only
        if sys.stderr.isatty():
            end = "\n" if done == total else ""
            print(f"\rsweep: {done}/{total} runs", end=end, file=sys.stderr, flush=True)

    if args.cluster and args.workers:
        raise ScenarioError(
            "--workers", "", "not with --cluster: the cluster's workers run the grid"
        )
    _grid(args.scenario, args.params, args.architectures, args.seed)  # bad input: no folder
    prepare_out(out)
    with writing(out):
        result = sweep(
            args.scenario,
            args.params,
            args.architectures,
            out,
            args.seed,
            args.workers or os.cpu_count() or 1,
            progress=progress,
            cluster=args.cluster,
            cluster_timeout=args.cluster_timeout,
        )
    print(result.markdown_path.read_text(encoding="utf-8").split("\n\n![", 1)[0].rstrip())
    print(f"\n{len(result.rows)} runs in {result.wall_s:.1f} s wall time")
    if result.rerun:  # the scheduler lost a worker: the cell ran again elsewhere, same result
        again = ", ".join(f"runs/{name}" for name in result.rerun)
        print(f"sent to another worker after a Dask worker was lost (Dask retried): {again}")
    print(f"table: {result.csv_path}\nplots: {', '.join(str(p) for p in result.plots.values())}")
    return 0


COMMAND = Command(
    "sweep",
    "run a scenario over a grid of parameter values and architectures",
    _arguments,
    handle,
    "Run SCENARIO for every combination of the --param values and each "
    "architecture, in parallel; write sweep.csv, sweep.md and a plot of each SLO metric "
    "against the first parameter.",
)
