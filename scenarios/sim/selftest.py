"""``supplysync selftest``: the checkers proven against known defects of the core.

Theory of operation: for each seed, each :class:`~scenarios.sim.catalogue.Defect`
of the catalogue is injected into the built-in core and its base scenario run
once, short and seeded; the run is judged exactly as ``supplysync run`` judges
one (``results.json``: counts in ``consistency``, examples with their
explanations in ``violations``).  A defect is *caught* when the checker it names
fired and one of its listed violations is about an entity the defect really
touched (the defect hooks record the trace ids of the POs and prices whose
writes they changed).  The same base without any defect is the clean run: it
must show no violation of any kind, or a checker fires on noise and proves
nothing.  The table says, per defect and seed, what caught it and the first
explanation; the exit code is 0 when every defect was caught and every clean
run was clean, 1 otherwise, 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from analysis.metrics import judge
from analysis.results import Slos, build_results
from scenarios.command import Command
from scenarios.sim.catalogue import BASES, CATALOGUE, CHECKERS, Base, Defect
from scenarios.sim.network import simulate
from scenarios.spec.load import load_scenario
from sync_core.defects import Defects, trace_id

__all__ = [
    "COMMAND",
    "DEFAULT_SEEDS",
    "CleanRun",
    "Outcome",
    "Report",
    "Verdict",
    "handle",
    "run_selftest",
    "table",
]

DEFAULT_SEEDS = (1, 2)
_EXPLAIN = 110  # characters of the first explanation in the table


@dataclass(frozen=True)
class Outcome:
    """One judged short run: violations per checker, and what its defects touched."""

    counts: dict[str, int]  # checker -> violations counted
    settled: int  # replica updates reflected or lost: the evidence a clean verdict rests on
    listed: dict[str, list[dict[str, Any]]]  # checker -> the examples results.json lists
    touched: frozenset[str]


@dataclass(frozen=True)
class Verdict:
    defect: Defect
    seed: int
    caught: bool
    fired: dict[str, int]  # every checker that fired, with its count
    entity: str | None  # the first violation of the expected kind on a touched entity
    explanation: str  # ... its explanation, or why the defect went uncaught


@dataclass(frozen=True)
class CleanRun:
    base: Base
    seed: int
    fired: dict[str, int]
    explanation: str  # the first violation's, when there is one
    settled: int = 0  # no settled update: nothing was judged, so "clean" is not measured

    @property
    def clean(self) -> bool:
        return self.settled > 0 and not self.fired


@dataclass(frozen=True)
class Report:
    verdicts: tuple[Verdict, ...]
    clean_runs: tuple[CleanRun, ...]

    @property
    def passed(self) -> bool:
        return all(v.caught for v in self.verdicts) and all(c.clean for c in self.clean_runs)

    @property
    def uncaught(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.defect.name for v in self.verdicts if not v.caught))


def run_base(base: Base, seed: int, defects: Defects | None = None) -> Outcome:
    """Run ``base`` on ``seed`` (with ``defects`` in the core) and judge it."""
    spec = load_scenario(base.scenario, seed=seed, overrides=dict(base.overrides))
    run = simulate(spec, base.architecture, defects=defects)
    results = build_results(
        judge(run.history),
        scenario=spec.name,
        architecture=base.architecture,
        seed=spec.seed,
        simulated_seconds=spec.end_s,
        slos=Slos(**spec.slos.model_dump()),
        volumes=run.volumes,
    )
    counts = {kind: int(results["consistency"][n]) for kind, (n, _) in CHECKERS.items()}
    listed = {kind: list(results["violations"][name]) for kind, (_, name) in CHECKERS.items()}
    settled = sum(f["replica_updates"] for f in results["flows"].values())
    settled += int(results["consistency"]["lost_updates"])
    return Outcome(counts, settled, listed, run.touched)


def _traces(violation: dict[str, Any]) -> set[str]:
    """The trace ids a violation points at: its entity's PO or price, its correlation ids."""
    entity = str(violation.get("entity") or "")
    kind, _, rest = entity.partition(":")
    found = {trace_id(rest.split(":")[0])} if kind == "po_line" else {trace_id(entity)}
    for cid in violation.get("correlation_ids") or ():
        parts = str(cid).split("-")
        if len(parts) == 4:
            found.add(parts[1])
    return found


def _fired(outcome: Outcome) -> dict[str, int]:
    return {kind: n for kind, n in outcome.counts.items() if n}


def judge_defect(defect: Defect, seed: int, outcome: Outcome) -> Verdict:
    """Did the expected checker fire, naming an entity the defect touched?"""
    fired = _fired(outcome)
    if not outcome.counts[defect.checker]:
        why = f"{defect.checker} never fired"
        return Verdict(defect, seed, False, fired, None, why + _others(fired))
    for v in outcome.listed[defect.checker]:
        if _traces(v) & outcome.touched:
            return Verdict(defect, seed, True, fired, v.get("entity"), str(v["explanation"]))
    listed = outcome.listed[defect.checker]
    named = ", ".join(str(v.get("entity")) for v in listed[:3])
    why = f"{defect.checker} fired, but on entities the defect never touched ({named})"
    return Verdict(defect, seed, False, fired, None, why)


def _others(fired: dict[str, int]) -> str:
    return f" (fired instead: {_counts(fired)})" if fired else ""


def _counts(fired: dict[str, int]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in fired.items()) or "nothing"


def _clean(base: Base, seed: int, outcome: Outcome) -> CleanRun:
    first = next((v for kind in CHECKERS for v in outcome.listed[kind]), None)
    if not outcome.settled:
        return CleanRun(base, seed, {}, "not measured: the clean run settled no update", 0)
    explanation = str(first["explanation"]) if first else ""
    return CleanRun(base, seed, _fired(outcome), explanation, outcome.settled)


def run_selftest(
    seeds: Iterable[int] = DEFAULT_SEEDS, defects: Sequence[Defect] = CATALOGUE
) -> Report:
    """Every defect of ``defects`` on every seed, and the clean run of each base used."""
    verdicts: list[Verdict] = []
    clean: list[CleanRun] = []
    bases = [b for b in BASES if any(d.base == b for d in defects)]
    bases += [d.base for d in defects if d.base not in bases]
    for seed in seeds:
        for base in bases:
            clean.append(_clean(base, seed, run_base(base, seed)))
        for defect in defects:
            verdicts.append(judge_defect(defect, seed, run_base(defect.base, seed, defect.defects)))
    return Report(tuple(verdicts), tuple(clean))


def table(report: Report) -> str:
    """The report as the command prints it: one row per defect and seed, then the clean runs."""
    rows = [("defect", "seed", "expected", "caught by", "entity", "first explanation")]
    for v in report.verdicts:
        by = _counts(v.fired) if v.caught else "NOT CAUGHT"
        text = v.explanation if len(v.explanation) <= _EXPLAIN else v.explanation[:_EXPLAIN] + "…"
        rows.append((v.defect.name, str(v.seed), v.defect.checker, by, v.entity or "-", text))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "  " + r[5]
             for r in rows]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 17)
    lines.append("")
    for c in report.clean_runs:
        verdict = (
            f"no violations over {c.settled:,} settled updates"
            if c.clean
            else c.explanation
            if not c.settled
            else f"FIRED {_counts(c.fired)}: {c.explanation}"
        )
        lines.append(
            f"clean run {c.base.name} ({c.base.scenario}, {c.base.architecture}) "
            f"seed {c.seed}: {verdict}"
        )
    caught = sum(1 for v in report.verdicts if v.caught)
    seeds = sorted({v.seed for v in report.verdicts})
    lines.append(
        f"{caught} of {len(report.verdicts)} defect runs caught "
        f"({len({v.defect.name for v in report.verdicts})} defects, seeds "
        f"{', '.join(map(str, seeds))})"
        + ("" if not report.uncaught else f"; uncaught: {', '.join(report.uncaught)}")
    )
    return "\n".join(lines) + "\n"


# -- command line ---------------------------------------------------------------------


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a seed (an integer): {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError(f"not a seed (an integer): {text!r}")
    return seeds


def _defect(name: str) -> Defect:
    for defect in CATALOGUE:
        if defect.name == name:
            return defect
    known = ", ".join(d.name for d in CATALOGUE)
    raise argparse.ArgumentTypeError(f"unknown defect {name!r} (known: {known})")


def _arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``selftest``."""
    p.add_argument(
        "--seed",
        dest="seeds",
        action="append",
        type=_seeds,
        metavar="N[,N...]",
        help=f"seed(s) to run on (repeatable; default {','.join(map(str, DEFAULT_SEEDS))})",
    )
    p.add_argument(
        "--defect",
        dest="defects",
        action="append",
        type=_defect,
        metavar="NAME",
        help="run only this defect (repeatable; default: the whole catalogue)",
    )
    p.add_argument("--list", action="store_true", help="list the defects and exit")


def handle(args: argparse.Namespace) -> int:
    """Run the selftest the command line asked for; print its table."""
    if args.list:
        for d in CATALOGUE:
            print(f"{d.name:28} {d.checker:17} {d.base.name:7} {d.description}")
        return 0
    seeds = list(dict.fromkeys(s for group in args.seeds or [DEFAULT_SEEDS] for s in group))
    defects = list({d.name: d for d in args.defects or CATALOGUE}.values())
    started = time.perf_counter()
    report = run_selftest(seeds, defects)
    print(table(report), end="", flush=True)
    print(f"selftest: {time.perf_counter() - started:.1f} s wall time", file=sys.stderr)
    return 0 if report.passed else 1


COMMAND = Command(
    "selftest",
    "inject known defects into the built-in core; exit 1 unless every one is caught",
    _arguments,
    handle,
    "Run each named defect of the built-in core on a short seeded scenario "
    "and check that the checker it must trip fires, naming an entity the defect touched, "
    "while the same run without the defect shows no violation at all.",
)
