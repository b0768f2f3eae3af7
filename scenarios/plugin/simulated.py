"""The ``supplysync`` fixture's objects: :class:`SupplySync` (what a test gets) and
:class:`RunResult` (one run's ``results.json`` as a read-only attribute view, with the
SLO assertions and the failure message they raise).

Private: :mod:`scenarios.plugin.fixture` re-exports the public names and documents the
theory of operation; :mod:`scenarios.plugin.services` extends :class:`RunResult` for live
runs and shares :func:`folder_name` and :func:`attach_metrics`.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:  # the simulation (numpy, matplotlib, ...) loads on the first run only
    from analysis.checkers import UpdateLag
    from scenarios.sim.runner import Outcome
    from scenarios.spec.models import ScenarioSpec

__all__ = ["RunResult", "SloViolation", "SupplySync", "View"]

# Names a user may write for keys whose name carries a unit: ``flow.lag.p99``.
_ALIASES = {"lag": "lag_s"}
_TIME_KEY = re.compile(r"^(t|times|start|end)$|_t$|^t_")  # seconds since the run's start
_LIST_ITEMS = 6  # items of a list shown inside one violation


class SloViolation(AssertionError):
    """An SLO a test asserted was not met; the message explains the violation."""


class View(Mapping[str, Any]):
    """A read-only attribute view of a JSON object (nested objects are views too)."""

    __slots__ = ("_data", "_path")

    def __init__(self, data: Mapping[str, Any], path: str) -> None:
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_path", path)

    def __getattr__(self, name: str) -> Any:
        __tracebackhide__ = True
        if name.startswith("__"):
            raise AttributeError(name)
        key = name if name in self._data else _ALIASES.get(name, name)
        if key not in self._data:
            raise AttributeError(
                f"{self._path} has no {name!r} (it has: {', '.join(sorted(self._data))})"
            )
        return _wrap(self._data[key], f"{self._path}.{name}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self._path} is read-only")

    def __getitem__(self, key: str) -> Any:
        __tracebackhide__ = True
        if key not in self._data:
            raise KeyError(f"{self._path} has no {key!r} (it has: {', '.join(sorted(self._data))})")
        return _wrap(self._data[key], f"{self._path}[{key!r}]")

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"<{self._path}: {dict(self._data)!r}>"


def _wrap(value: Any, path: str) -> Any:
    if isinstance(value, Mapping):
        return View(value, path)
    if isinstance(value, list):
        return tuple(_wrap(v, f"{path}[{i}]") for i, v in enumerate(value))
    return value


class RunResult(View):
    """One run: ``results.json`` as attributes, where its files are, and assertions."""

    __slots__ = ("_nodeid", "_outcome", "_render", "_reported", "_spec", "out_dir")
    _nodeid: str
    _render: bool
    _outcome: Outcome
    _reported: bool
    _spec: ScenarioSpec
    out_dir: Path

    def __init__(
        self, outcome: Outcome, spec: ScenarioSpec, out_dir: Path, nodeid: str, render: bool = True
    ) -> None:
        super().__init__(outcome.results, "result")
        for name, value in (
            ("_render", render),
            ("_outcome", outcome),
            ("_spec", spec),
            ("_nodeid", nodeid),
            ("_reported", False),
            ("out_dir", out_dir),
        ):
            object.__setattr__(self, name, value)

    @property
    def results(self) -> dict[str, Any]:
        """The ``results.json`` document as a plain dict."""
        return dict(self._outcome.results)

    @property
    def spec(self) -> ScenarioSpec:
        """The validated scenario the run used, overrides and seed applied."""
        return self._spec

    @property
    def results_path(self) -> Path:
        return self.out_dir / "results.json"

    @property
    def report_path(self) -> Path:
        return self.out_dir / "report.html"

    def write_report(self) -> Path:
        """Render ``report.html`` (once); a failing report never hides a failing SLO."""
        from analysis.report import write_report

        if not self._reported:
            object.__setattr__(self, "_reported", True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # matplotlib's cosmetic warnings
                write_report(self.report_path, [self._outcome.judged])
        return self.report_path

    # -- assertions ------------------------------------------------------------------

    def _evidence(self, what: str, allow_unmeasured: bool) -> bool:
        """True when the run settled some owner update (it reached a replica, or was lost)
        to judge ``what`` on; fails the assertion (or, with ``allow_unmeasured``, returns
        False) when it settled none."""
        __tracebackhide__ = True
        flows, consistency = self.results["flows"].values(), self.results["consistency"]
        if sum(f["replica_updates"] for f in flows) + consistency["lost_updates"]:
            return True
        if allow_unmeasured:
            return False
        self._fail(
            f"{what}: not measured: 0 of {sum(f['updates'] for f in flows):,} owner updates "
            f"reached any replica or were lost; {consistency['pending_at_end']:,} still "
            "pending at the end (pass allow_unmeasured=True to accept a verdict without "
            "evidence)",
            kinds=("pending",),
        )

    def assert_no_lost_updates(self, *, allow_unmeasured: bool = False) -> None:
        """No update an owner made failed to reach one of its replicas.  A run that made no
        owner update at all is not measured and fails unless ``allow_unmeasured``."""
        __tracebackhide__ = True
        self._assert_none("lost updates", "lost_updates", "lost update", "lost", allow_unmeasured)

    def assert_no_duplicate_effects(self, *, allow_unmeasured: bool = False) -> None:
        """No replica applied the same cause twice (a receipt posted twice, ...); not
        measured, and failing unless ``allow_unmeasured``, without any owner update."""
        __tracebackhide__ = True
        self._assert_none(
            "duplicate effects",
            "duplicate_effects",
            "duplicate effect",
            "duplicates",
            allow_unmeasured,
        )

    def _assert_none(
        self, what: str, key: str, noun: str, kind: str, allow_unmeasured: bool
    ) -> None:
        """Fail when the run counted any ``key`` in its consistency results (``what`` in
        words, one of them a ``noun``; the failure shows the ``kind`` of record), once there
        is evidence to judge on (:meth:`_evidence`)."""
        __tracebackhide__ = True
        if not self._evidence(what, allow_unmeasured):
            return
        count = self.results["consistency"][key]
        if count:
            self._fail(f"{count} {noun}(s)", kinds=(kind,))

    def assert_converged(
        self, within_s: float | None = None, *, allow_unmeasured: bool = False
    ) -> None:
        """Every replica ends equal to its owner; with ``within_s``, every update made
        before the scenario's last fault window ended reached all its replicas within
        ``within_s`` seconds of that end.  Without evidence — no owner update, or (with
        ``within_s``) no fault window or no update before its end — the assertion is not
        measured and fails unless ``allow_unmeasured``."""
        __tracebackhide__ = True
        if not self._evidence("convergence", allow_unmeasured):
            return
        consistency = self.results["consistency"]
        if not consistency["converged"]:
            self._fail("not converged: replicas differ from their owner at the end", kinds=None)
        if within_s is None:
            return
        last = self._last_fault_end_s()
        judgement = self._outcome.judged.judgement
        before = [x for x in judgement.lags if x.t_owner <= last] if last > 0 else []
        if not before:
            if allow_unmeasured:
                return
            why = "the run has no fault window" if last <= 0 else "no update before it ended"
            self._fail(
                f"convergence within {within_s:g} s of the last fault: not measured: {why} "
                "(pass allow_unmeasured=True to accept a verdict without evidence)",
                kinds=None,
            )
        late = sorted(
            (x for x in before if x.t_owner + x.lag_s - last > within_s),
            key=lambda x: x.t_owner + x.lag_s,
            reverse=True,
        )
        if late:
            drain = late[0].t_owner + late[0].lag_s - last
            self._fail(
                f"not converged within {within_s:g} s of the last fault's end "
                f"(t={last:g} s, {self._clock(last)}): {len(late)} replica update(s) made "
                f"before it became visible later than that, the last {drain:g} s after it",
                kinds=None,
                extra=[("latest to become visible", [_lag_row(x) for x in late[:5]])],
                faults=True,
            )

    def assert_lag(self, flow: str, *, p99_s: float, allow_unmeasured: bool = False) -> None:
        """The p99 sync lag of ``flow`` (over every replica) is at most ``p99_s``.  With no
        replica update of ``flow`` the lag is not measured: the assertion fails, saying how
        many owner updates there were and how many were still pending, unless
        ``allow_unmeasured``."""
        __tracebackhide__ = True
        flows = self.results["flows"]
        if flow not in flows:
            raise KeyError(f"no flow {flow!r} in results.json (flows: {', '.join(sorted(flows))})")
        from analysis.results import lag_unmeasured

        lag = flows[flow]["lag_s"]
        why = lag_unmeasured(flow, flows[flow])
        if why is not None:
            if allow_unmeasured:
                return
            self._fail(
                f"{flow} p99 lag: not measured: {why} "
                "(pass allow_unmeasured=True to accept a verdict without evidence)",
                kinds=("pending", "lost"),
                faults=True,
            )
        if lag["p99"] <= p99_s:
            return
        by_replica = [
            {"replica": r, **{k: v for k, v in p.items() if k in ("p50", "p99", "max")}}
            for r, p in sorted(flows[flow].get("by_replica", {}).items())
        ]
        slowest = sorted(
            (x for x in self._outcome.judged.judgement.lags if x.flow == flow),
            key=lambda x: x.lag_s,
            reverse=True,
        )
        self._fail(
            f"{flow} p99 lag {lag['p99']:g} s > {p99_s:g} s "
            f"(p50 {lag['p50']:g} s, p95 {lag['p95']:g} s, max {lag['max']:g} s, "
            f"{flows[flow].get('replica_updates', '?')} replica updates)",
            extra=[("by replica", by_replica), ("slowest", [_lag_row(x) for x in slowest[:5]])],
            faults=True,
        )

    def assert_slos(self) -> None:
        """Every SLO of the scenario file was met (lag, lost, duplicates, convergence...)."""
        __tracebackhide__ = True
        failed = [s for s in self.results["slos"] if not s["passed"]]
        if failed:
            lines = "; ".join(f"{s['name']} ({s['detail']})" for s in failed)
            self._fail(f"{len(failed)} SLO(s) violated: {lines}", kinds=None, faults=True)

    # -- failure message -------------------------------------------------------------

    def _fail(
        self,
        headline: str,
        *,
        kinds: tuple[str, ...] | None = (),
        extra: Sequence[tuple[str, Sequence[Any]]] = (),
        faults: bool = False,
    ) -> NoReturn:
        """Raise :class:`SloViolation`: the headline, then every list of violations
        results.json holds (``kinds``; None = all), printed generically, then where the
        report is and how to re-run."""
        __tracebackhide__ = True
        results = self.results
        lines = [
            f"supplysync: {results['scenario']} under {results['architecture']} "
            f"(seed {results['seed']}): {headline}"
        ]
        violations: Mapping[str, Any] = results.get("violations", {})
        shown = sorted(violations) if kinds is None else [k for k in kinds if k in violations]
        sections = [*extra, *((k, violations[k]) for k in shown if violations[k])]
        if faults and results.get("faults"):
            sections.append(("fault windows", results["faults"]))
        consistency = results["consistency"]
        totals = {
            "lost": consistency.get("lost_updates", 0),
            "pending": consistency.get("pending_at_end", 0),
        }
        totals |= {k: v for k, v in consistency.items() if k in violations and type(v) is int}
        for title, items in sections:
            if not items:
                continue
            lines.append(f"  {title}:")
            for item in items:
                lines += _indent(self._describe(item), "    - ", "      ")
            more = totals.get(title, len(items)) - len(items)
            if more > 0:
                lines.append(f"    ... and {more} more (history.jsonl has every change)")
        report = self._report_on_failure()
        lines += [
            f"  report:  {report}",
            f"  results: {self.results_path}",
            f"  seed:    {results['seed']} ({self._rerun_hint()})",
        ]
        raise SloViolation("\n".join(lines))

    def _report_on_failure(self) -> str:
        if not self._render:
            return "not rendered (--supplysync-report none)"
        try:
            return str(self.write_report())
        except Exception as e:  # the verdict matters more than the picture
            return f"could not be written: {e!r}"

    def _describe(self, item: Any) -> str:
        """One violation: its explanation first (when the checkers gave one), then every
        non-empty field as key=value; times also as calendar time."""
        if not isinstance(item, Mapping):
            return str(item)
        head = [str(item["explanation"])] if item.get("explanation") else []
        fields = [
            f"{k}={self._value(k, v)}"
            for k, v in item.items()
            if k not in ("explanation", "kind") and v not in (None, [], {}, "")
        ]
        return "\n".join([*head, ", ".join(fields)])

    def _value(self, key: str, value: Any) -> str:
        if isinstance(value, list | tuple):
            shown = [self._value(key, v) for v in value[:_LIST_ITEMS]]
            if len(value) > _LIST_ITEMS:
                shown.append(f"... {len(value) - _LIST_ITEMS} more")
            return "[" + ", ".join(shown) + "]"
        if isinstance(value, Mapping):
            return "{" + ", ".join(f"{k}={self._value(k, v)}" for k, v in value.items()) + "}"
        if _TIME_KEY.search(key) and isinstance(value, int | float) and type(value) is not bool:
            return f"{value:g} s ({self._clock(value)})"
        return repr(value)

    def _clock(self, t: float) -> str:
        return (self._epoch() + dt.timedelta(seconds=t)).strftime("%a %Y-%m-%d %H:%M:%S")

    # -- what a live run answers differently (see LiveRunResult) ----------------------

    def _last_fault_end_s(self) -> float:
        return self._spec.last_fault_end_s

    def _epoch(self) -> dt.datetime:
        return self._spec.start

    def _rerun_hint(self) -> str:
        seed = self.results["seed"]
        return f"re-run: pytest {shlex.quote(self._nodeid)} --supplysync-seed {seed}"


def _lag_row(x: UpdateLag) -> dict[str, Any]:
    return {
        "fact": x.fact,
        "entity": x.entity,
        "replica": x.replica,
        "owner_t": round(x.t_owner, 3),
        "visible_t": round(x.t_owner + x.lag_s, 3),
        "lag_s": round(x.lag_s, 3),
    }


def _indent(text: str, first: str, rest: str) -> list[str]:
    lines = text.splitlines() or [""]
    return [first + lines[0], *(rest + line for line in lines[1:])]


def folder_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:120] or "run"


class SupplySync:
    """What the ``supplysync`` fixture gives a test."""

    def __init__(
        self,
        out_dir: Callable[[], Path],
        *,
        seed: int | None,
        reports: str,
        record: Callable[[str, object], None],
        nodeid: str,
    ) -> None:
        self._out_dir, self._seed, self._reports = out_dir, seed, reports
        self._record, self._nodeid = record, nodeid
        self._labels: dict[str, int] = {}
        self.runs: list[RunResult] = []

    def run(
        self,
        scenario: str | Path,
        *,
        architecture: str = "event",
        seed: int | None = None,
        **overrides: Any,
    ) -> RunResult:
        """Simulate ``scenario`` under ``architecture``; overrides as dotted paths."""
        __tracebackhide__ = True
        from scenarios.sim.runner import run_architecture, write_run
        from scenarios.spec.architectures import ARCHITECTURES, unknown
        from scenarios.spec.load import ScenarioError, load_scenario

        if architecture not in ARCHITECTURES:
            raise ScenarioError(str(scenario), "architecture", unknown(architecture))
        spec = load_scenario(
            str(scenario), seed=seed if seed is not None else self._seed, overrides=overrides
        )
        label = f"{spec.name}.{architecture}"
        self._labels[label] = self._labels.get(label, 0) + 1
        if self._labels[label] > 1:
            label = f"{label}.{self._labels[label]}"
        out = self._out_dir() / folder_name(label.replace(".", "-"))
        outcome = run_architecture(spec, architecture)
        write_run(out, outcome, report=False)
        reports = self._reports
        result = RunResult(outcome, spec, out, self._nodeid, reports != "none")
        if reports == "all":
            result.write_report()
        attach_metrics(self._record, label, outcome.results)
        self.runs.append(result)
        return result


def attach_metrics(
    record: Callable[[str, object], None], label: str, results: Mapping[str, Any]
) -> None:
    """A run's headline metrics as JUnit properties ``supplysync.<label>.*``."""
    prefix = f"supplysync.{label}"
    record(f"{prefix}.seed", results["seed"])
    record(f"{prefix}.passed", results["passed"])
    for flow, data in sorted(results["flows"].items()):
        lag = data["lag_s"]
        record(f"{prefix}.{flow}.lag_p99_s", "not measured" if lag["p99"] is None else lag["p99"])
        record(f"{prefix}.{flow}.lag_samples", lag["n"])
    consistency = results["consistency"]
    for key in ("lost_updates", "duplicate_effects", "converged"):
        record(f"{prefix}.{key}", consistency[key])
