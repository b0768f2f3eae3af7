"""pytest plugin: resilience SLOs as CI gates.

Theory of operation: the ``supplysync`` fixture runs a scenario (a library
name or a YAML file) in simulation, in the test's own process, through
:mod:`scenarios.runner` — the same code as ``supplysync run`` — and writes the
run's artefacts (``results.json``, ``history.jsonl``, ``summary.md``) into a
folder of its own: under ``--supplysync-out DIR`` (one sub-folder per test,
kept) or under pytest's temporary directory.  ``run()`` returns a
:class:`RunResult`, a read-only attribute view of ``results.json``
(``result.flows["po_acknowledgment"].lag.p99``,
``result.consistency.lost_updates``), with assertion helpers whose failure
message explains the violation as the checkers recorded it — which entity,
which systems, which values, at what simulated and calendar time — names the
run's ``report.html`` and the seed, with the command that re-runs it.  A
report takes a second or two to render, so it is rendered only for the runs
of a failed test (whatever failed in it: a ``pytest_runtest_makereport``
wrapper adds each run's seed and report to the failure), or for every run
with ``--supplysync-report all`` (``none``: never).

The seed of a run is, in order: ``run(seed=...)``, ``--supplysync-seed N``,
the scenario file's.  Overrides are keyword arguments, dotted paths given as
``**{"faults.erp.outage_minutes": 240}`` — the same paths as
``supplysync sweep --param``.  Each run's headline metrics are attached to
the test's JUnit XML entry as properties (``supplysync.<scenario>.<arch>.*``).

The live variant, ``supplysync_live``, is module-scoped: it starts the four
emulators (one subprocess) and the sync core (``scenarios.serve_core``, on a
store file in the module's folder) on free 127.0.0.1 ports through
:mod:`scenarios.live`, once per test module, each leading a process group of
its own, and stops both groups at the end of the module — failed tests, errors
and Ctrl-C included (SIGTERM, then SIGKILL).  ``@pytest.mark.supplysync_live
(scenario, seed=, speedup=, quiet_s=, settle_max_s=)`` on the module chooses
the network, the suppliers' behaviour (their delays divided by ``speedup``,
default a day a second) and the SLOs; the scenario's own faults and demand are
not played.  The :class:`LiveServices` object a test gets has the base URLs
(``erp``, ``supplier``, ``wms``, ``ap``, ``core``), ``pids``, and helpers:
``create_po()`` / ``create_pos(n)`` (a buyer at the ERP's REST API),
``set_faults(system, {...})`` / ``clear_faults()`` (the emulators' admin API,
windows in seconds from now), ``kill_core()`` / ``start_core()``, and
``judge()``: it waits until no history moves and the core has nothing in
flight, then judges every emulator's history since the services started — the
whole module is one run — with :mod:`scenarios.live`'s collection and
judgement, and returns a :class:`LiveRunResult`: the same attributes and
assertions as a simulated run, times in seconds since the services started.

Installed through the ``pytest11`` entry point, so ``pip install supplysync``
is all a suite needs; the plugin is then loaded by every pytest session of that
environment, so it imports the simulation only when a test first runs one.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import shlex
import signal
import time
import warnings
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:  # the simulation (numpy, matplotlib, ...) loads on the first run only
    from analysis.checkers import UpdateLag
    from scenarios.runner import Outcome
    from scenarios.spec import ScenarioSpec

__all__ = [
    "LiveRunResult",
    "LiveServiceError",
    "LiveServices",
    "LiveSettings",
    "RunResult",
    "SloViolation",
    "SupplySync",
    "View",
]

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

    def assert_no_lost_updates(self) -> None:
        """No update an owner made failed to reach one of its replicas."""
        __tracebackhide__ = True
        lost = self.results["consistency"]["lost_updates"]
        if lost:
            self._fail(f"{lost} lost update(s)", kinds=("lost",))

    def assert_no_duplicate_effects(self) -> None:
        """No replica applied the same cause twice (a receipt posted twice, ...)."""
        __tracebackhide__ = True
        dup = self.results["consistency"]["duplicate_effects"]
        if dup:
            self._fail(f"{dup} duplicate effect(s)", kinds=("duplicates",))

    def assert_converged(self, within_s: float | None = None) -> None:
        """Every replica ends equal to its owner; with ``within_s``, every update made
        before the scenario's last fault window ended reached all its replicas within
        ``within_s`` seconds of that end.  A run without fault windows has nothing to
        recover from: only the end state is checked."""
        __tracebackhide__ = True
        consistency = self.results["consistency"]
        if not consistency["converged"]:
            self._fail("not converged: replicas differ from their owner at the end", kinds=None)
        last = self._last_fault_end_s()
        if within_s is None or last <= 0:
            return
        before = [x for x in self._outcome.judged.judgement.lags if x.t_owner <= last]
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

    def assert_lag(self, flow: str, *, p99_s: float) -> None:
        """The p99 sync lag of ``flow`` (over every replica) is at most ``p99_s``."""
        __tracebackhide__ = True
        flows = self.results["flows"]
        if flow not in flows:
            raise KeyError(f"no flow {flow!r} in results.json (flows: {', '.join(sorted(flows))})")
        lag = flows[flow]["lag_s"]
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


def _folder_name(text: str) -> str:
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
        from scenarios.runner import run_architecture, write_run
        from scenarios.spec import ARCHITECTURES, ScenarioError, load_scenario

        if architecture not in ARCHITECTURES:
            raise ScenarioError(
                str(scenario),
                "architecture",
                f"unknown architecture {architecture!r} (known: {', '.join(ARCHITECTURES)})",
            )
        spec = load_scenario(
            str(scenario), seed=seed if seed is not None else self._seed, overrides=overrides
        )
        label = f"{spec.name}.{architecture}"
        self._labels[label] = self._labels.get(label, 0) + 1
        if self._labels[label] > 1:
            label = f"{label}.{self._labels[label]}"
        out = self._out_dir() / _folder_name(label.replace(".", "-"))
        outcome = run_architecture(spec, architecture)
        write_run(out, outcome, report=False)
        reports = self._reports
        result = RunResult(outcome, spec, out, self._nodeid, reports != "none")
        if reports == "all":
            result.write_report()
        _attach(self._record, label, outcome.results)
        self.runs.append(result)
        return result


def _attach(record: Callable[[str, object], None], label: str, results: Mapping[str, Any]) -> None:
    """A run's headline metrics as JUnit properties ``supplysync.<label>.*``."""
    prefix = f"supplysync.{label}"
    record(f"{prefix}.seed", results["seed"])
    record(f"{prefix}.passed", results["passed"])
    for flow, data in sorted(results["flows"].items()):
        record(f"{prefix}.{flow}.lag_p99_s", data["lag_s"]["p99"])
    consistency = results["consistency"]
    for key in ("lost_updates", "duplicate_effects", "converged"):
        record(f"{prefix}.{key}", consistency[key])


_RUNS = pytest.StashKey[list[RunResult]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("supplysync", "supplysync resilience scenarios")
    group.addoption(
        "--supplysync-out",
        metavar="DIR",
        type=Path,
        help="keep every run's artefacts (results.json, history.jsonl, summary.md, "
        "report.html) in DIR, one sub-folder per test (default: pytest's temporary directory)",
    )
    group.addoption(
        "--supplysync-seed",
        metavar="N",
        type=int,
        help="seed for every run that does not pass one itself (re-runs a failure exactly)",
    )
    group.addoption(
        "--supplysync-report",
        choices=("failed", "all", "none"),
        default="failed",
        help="render report.html for the runs of failed tests only (default; a report takes "
        "a second or two), for every run, or never",
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    seed = config.getoption("supplysync_seed")
    return None if seed is None else f"supplysync: --supplysync-seed {seed}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test, whatever failed in it, shows each of its runs' seed and report."""
    report = yield
    runs = item.stash.get(_RUNS, None)
    if runs and report.when == "call" and report.failed:
        lines = []
        for r in runs:
            where = r._report_on_failure()
            verdict = "SLOs met" if r.results["passed"] else "SLOs violated"
            lines.append(
                f"{r.results['scenario']} under {r.results['architecture']}, "
                f"seed {r.results['seed']}: {verdict}; report {where}"
            )
        report.sections.append(("supplysync runs", "\n".join(lines)))
    return report


@pytest.fixture
def supplysync(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> SupplySync:
    """Run supplysync scenarios in simulation and assert their SLOs."""
    config = request.config
    keep: Path | None = config.getoption("supplysync_out")
    seed: int | None = config.getoption("supplysync_seed")
    if seed is not None and seed < 0:
        raise pytest.UsageError(f"--supplysync-seed: must be >= 0, got {seed}")
    folder = _folder_name(request.node.nodeid.replace("::", "-").replace("/", "-"))
    made: list[Path] = []

    def out_dir() -> Path:  # created on the first run only
        if not made:
            if keep is not None:
                path = keep / folder
                path.mkdir(parents=True, exist_ok=True)
            else:
                path = tmp_path_factory.mktemp(_folder_name(request.node.name)[:40])
            made.append(path)
        return made[0]

    def record(name: str, value: object) -> None:
        request.node.user_properties.append((name, value))

    fixture = SupplySync(
        out_dir,
        seed=seed,
        reports=config.getoption("supplysync_report"),
        record=record,
        nodeid=request.node.nodeid,
    )
    request.node.stash[_RUNS] = fixture.runs
    return fixture


# -- the live variant ------------------------------------------------------------------------

_LIVE_OPTIONS = ("scenario", "seed", "speedup", "quiet_s", "settle_max_s")


@dataclass(frozen=True)
class LiveSettings:
    """How a module's live services run: ``@pytest.mark.supplysync_live(...)`` on the module."""

    scenario: str = "regional_network"  # its network, supplier behaviour and SLOs
    seed: int | None = None  # None: --supplysync-seed, else the scenario file's
    speedup: float = 86400.0  # scenario seconds per real second for the suppliers' delays
    quiet_s: float = 1.5  # judge(): no history change for this long = settled
    settle_max_s: float = 30.0  # judge(): the longest wait for that


class LiveServiceError(RuntimeError):
    """A live service refused what a test asked of it (a PO, a fault) or did not answer."""


class LiveRunResult(RunResult):
    """A live run judged from the emulators' histories: times are seconds since the
    services started, calendar times are wall-clock times."""

    __slots__ = ("_fault_end", "_started")
    _fault_end: float
    _started: dt.datetime

    def __init__(
        self,
        outcome: Outcome,
        spec: ScenarioSpec,
        out_dir: Path,
        nodeid: str,
        render: bool,
        *,
        fault_end_s: float,
        started: dt.datetime,
    ) -> None:
        super().__init__(outcome, spec, out_dir, nodeid, render)
        object.__setattr__(self, "_fault_end", fault_end_s)
        object.__setattr__(self, "_started", started)

    def _last_fault_end_s(self) -> float:
        return self._fault_end

    def _epoch(self) -> dt.datetime:
        return self._started

    def _rerun_hint(self) -> str:
        return (
            "a live run: the seed fixes the network and the suppliers' draws, not the timing; "
            f"re-run: pytest {shlex.quote(self._nodeid)}"
        )


class LiveServices:
    """What the ``supplysync_live`` fixture gives a test module: the running services
    (``erp``, ``supplier``, ``wms``, ``ap``, ``core`` base URLs, ``pids``) and helpers."""

    def __init__(
        self, settings: LiveSettings, spec: ScenarioSpec, out_dir: Path, reports: str, nodeid: str
    ) -> None:
        self.settings, self.spec, self.out_dir = settings, spec, out_dir
        self._reports, self._nodeid = reports, nodeid
        self._record: Callable[[str, object], None] = lambda name, value: None
        self._runs: list[RunResult] = []
        self._stack = ExitStack()
        self._windows: list[list[Any]] = []  # [system, kind, start_s, end_s] on the run's axis
        self._labels: dict[str, int] = {}
        self._pos = 0
        self._processes: list[Any] = []  # every Popen started, for the teardown check
        self.urls: dict[str, str] = {}
        self.runs: list[LiveRunResult] = []

    # -- services --------------------------------------------------------------------

    def _start(self) -> None:
        import httpx

        from scenarios import live
        from scenarios.masterdata import generate

        s, out = self.settings, self.out_dir
        proc, urls = live.start_emulators(s.scenario, self.spec.seed, s.speedup, out)
        self._stack.callback(live.stop_group, proc, signal.SIGTERM)  # runs last
        self._processes.append(proc)
        self._emulators = proc
        for stale in ("core.sqlite", "core.sqlite-wal", "core.sqlite-shm"):
            (out / stale).unlink(missing_ok=True)
        core = live.CoreProcess(s.scenario, self.spec.seed, urls, out)
        core.new_session = True  # its own process group: stop_group leaves nothing behind
        self._stack.callback(lambda: live.stop_group(core.proc, signal.SIGTERM))
        self._core = core
        self._start_core()
        self._client = self._stack.enter_context(httpx.Client(timeout=10))
        self._t0 = time.monotonic()
        self._started = dt.datetime.now()
        self._clocks = live.clock_offsets(urls, self._client, self._t0)
        self.urls = {**urls, "core": core.url}
        self._master = generate(self.spec.network, self.spec.seed)

    def _start_core(self) -> None:
        self._core.start()
        self._processes.append(self._core.proc)

    def close(self) -> None:
        """Stop every service (process groups: SIGTERM, then SIGKILL); idempotent."""
        self._stack.close()

    @property
    def erp(self) -> str:
        return self.urls["erp"]

    @property
    def supplier(self) -> str:
        return self.urls["supplier"]

    @property
    def wms(self) -> str:
        return self.urls["wms"]

    @property
    def ap(self) -> str:
        return self.urls["ap"]

    @property
    def core(self) -> str:
        return self.urls["core"]

    @property
    def pids(self) -> dict[str, int | None]:
        """The running processes: ``emulators`` (all four) and ``core``."""
        proc = self._core.proc
        return {
            "emulators": self._emulators.pid,
            "core": None if proc is None or proc.poll() is not None else proc.pid,
        }

    @property
    def every_pid(self) -> tuple[int, ...]:
        """Every process (and process group) the fixture started, a restarted core included."""
        return tuple(p.pid for p in self._processes)

    def now(self) -> float:
        """Seconds since the services started (the time axis of :meth:`judge`)."""
        return time.monotonic() - self._t0

    def kill_core(self) -> None:
        """SIGKILL the sync core (a crash); :meth:`start_core` restarts it on its store."""
        from scenarios import live

        if self.pids["core"] is None:
            raise LiveServiceError("kill_core: the core is not running")
        live.stop_group(self._core.proc, signal.SIGKILL)
        self._windows.append(["core", "crash", self.now(), math.inf])

    def start_core(self) -> None:
        """Restart the core on the same store file after :meth:`kill_core`."""
        if self.pids["core"] is not None:
            raise LiveServiceError("start_core: the core is running")
        self._start_core()
        self._close_windows("core")

    # -- faults ------------------------------------------------------------------------

    def set_faults(self, system: str, faults: Mapping[str, Any] | Any) -> None:
        """Put ``faults`` in force at ``system``, replacing its faults: a dict in the admin
        API's structure (``{"outages": [{"start_s": 0, "end_s": 5}], "webhooks":
        {"drop": 1.0}}``) or an :class:`emulators.faults.Faults`.  Window times are seconds
        *from now*; the windows and the steady faults are recorded for :meth:`judge`."""
        from emulators.faults import Faults

        __tracebackhide__ = True
        self._check_system(system, "set_faults")
        f = faults if isinstance(faults, Faults) else Faults.model_validate(dict(faults))
        now = self.now()
        emu = self._clocks[system] + now  # the emulator's clock now

        def shift(w: Any) -> Any:
            return w.model_copy(update={"start_s": emu + w.start_s, "end_s": emu + w.end_s})

        shifted = f.model_copy(
            update={
                "outages": tuple(shift(w) for w in f.outages),
                "rate_limit_storms": tuple(shift(w) for w in f.rate_limit_storms),
            }
        )
        self._admin("PUT", system, "/__admin/faults", shifted.model_dump(mode="json"))
        self._close_windows(system)
        for kind, windows in (("outage", f.outages), ("rate_limit_storm", f.rate_limit_storms)):
            self._windows += [[system, kind, now + w.start_s, now + w.end_s] for w in windows]
        steady = [k for k, v in f.model_dump(exclude={"outages", "rate_limit_storms"}).items()
                  if v != Faults().model_dump()[k]]  # fmt: skip
        self._windows += [[system, kind, now, math.inf] for kind in steady]

    def clear_faults(self, system: str | None = None) -> None:
        """Clear the faults of ``system`` (default: every emulator)."""
        from scenarios.live import SYSTEMS

        for name in SYSTEMS if system is None else (system,):
            self._check_system(name, "clear_faults")
            self._admin("DELETE", name, "/__admin/faults")
            self._close_windows(name)

    def _close_windows(self, system: str) -> None:
        now = self.now()
        for w in self._windows:
            if w[0] == system and w[3] > now:
                w[3] = max(w[2], now)

    def _check_system(self, system: str, what: str) -> None:
        from scenarios.live import SYSTEMS

        if system not in SYSTEMS:
            raise ValueError(f"{what}: unknown system {system!r} (one of: {', '.join(SYSTEMS)})")

    def _admin(self, method: str, system: str, path: str, body: Any = None) -> None:
        import httpx

        try:
            r = self._client.request(method, self.urls[system] + path, json=body)
        except httpx.HTTPError as e:
            raise LiveServiceError(f"{system}: {method} {path} failed: {e!r}") from e
        if r.status_code >= 300:
            raise LiveServiceError(f"{system}: {method} {path} answered {r.status_code}: {r.text}")

    # -- business --------------------------------------------------------------------

    def create_po(
        self, *, lines: int | None = None, supplier: str | None = None, timeout_s: float = 15.0
    ) -> str:
        """Create one purchase order in the ERP, as a buyer would over its REST API (the
        scenario's network; lines and quantities drawn from the fixture's seeded stream);
        retried with its idempotency key after a 5xx, a 429 or no answer, for at most
        ``timeout_s``.  Returns the ERP's order number."""
        import random

        import httpx

        __tracebackhide__ = True
        master, demand = self._master, self.spec.demand
        n, self._pos = self._pos, self._pos + 1
        rng = random.Random(f"{self.spec.seed}/supplysync_live/po/{n}")
        if supplier is None:
            vendor = rng.choice(master.suppliers)
        else:
            found = [v for v in master.suppliers if v.supplier_id == supplier]
            if not found:
                known = ", ".join(v.supplier_id for v in master.suppliers)
                raise ValueError(f"create_po: no supplier {supplier!r} (known: {known})")
            vendor = found[0]
        catalog = master.catalog(vendor.supplier_id) or master.items
        count = rng.randint(*demand.lines_per_po) if lines is None else lines
        if not 1 <= count <= len(catalog):
            raise ValueError(f"create_po: lines must be within 1..{len(catalog)}, got {count}")
        items = rng.sample(catalog, count)
        hospital = rng.choice(master.hospitals)
        body = {
            "SupplierNumber": vendor.supplier_id,
            "ShipToLocationGLN": hospital.gln,
            "RequesterDepartment": f"CC-{master.hospitals.index(hospital) + 1:02d}-100",
            "NeedByDate": (dt.date.today() + dt.timedelta(days=5)).isoformat(),
            "lines": [
                {
                    "SupplierItem": i.vendor_part,
                    "ItemGTIN": i.gtin,
                    "Quantity": rng.randint(*demand.quantity),
                    "UOMCode": i.order_uom.value,
                    "Price": i.unit_price,
                    "CriticalSupply": "Y" if i.critical else "N",
                }
                for i in items
            ],
        }
        key = {"Idempotency-Key": f"supplysync-live-{self._emulators.pid}-po-{n}"}
        deadline, delay, last = time.monotonic() + timeout_s, 0.05, "no answer"
        while True:
            try:
                r = self._client.post(self.erp + _ERP_POS, json=body, headers=key)
                if r.status_code == 201:
                    return str(r.json()["OrderNumber"])
                last = f"{r.status_code}: {r.text[:300]}"
                if r.status_code < 500 and r.status_code != 429:
                    raise LiveServiceError(f"create_po: the ERP refused the PO ({last})")
            except httpx.HTTPError as e:
                last = repr(e)
            if time.monotonic() + delay > deadline:
                raise LiveServiceError(f"create_po: no PO within {timeout_s:g} s (last: {last})")
            time.sleep(delay)
            delay = min(1.0, delay * 2)

    def create_pos(self, count: int, **kwargs: Any) -> list[str]:
        """:meth:`create_po` ``count`` times; the order numbers."""
        return [self.create_po(**kwargs) for _ in range(count)]

    # -- judgement -------------------------------------------------------------------

    def wait_until_quiet(self, quiet_s: float | None = None, max_s: float | None = None) -> float:
        """Wait until no emulator's history has changed for ``quiet_s`` while the core had
        nothing queued or in flight (a retry waiting out a ``Retry-After`` is in flight), at
        most ``max_s``; the seconds waited."""
        from scenarios.live import _history_size, webhooks_pending

        quiet = quiet_s or self.settings.quiet_s
        limit = max_s or self.settings.settle_max_s
        started = time.monotonic()
        size, since = -1, started
        while time.monotonic() - started < limit:
            now_size = _history_size(self._client, self.urls_of_emulators)
            busy = self._core_busy() or webhooks_pending(self._client, self.urls_of_emulators)
            if now_size != size or busy:
                size, since = now_size, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
            time.sleep(0.1)
        return time.monotonic() - started

    def _core_busy(self) -> bool:
        import httpx

        if self.pids["core"] is None:
            return False  # a killed core does nothing until it is restarted
        try:
            status = self._client.get(self.core + "/status", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return True  # starting up or overloaded: not settled
        return bool(status.get("queued") or status.get("outbox_pending"))

    @property
    def urls_of_emulators(self) -> dict[str, str]:
        return {k: v for k, v in self.urls.items() if k != "core"}

    def judge(self, *, quiet_s: float | None = None, max_s: float | None = None) -> LiveRunResult:
        """Wait until the systems are quiet, then judge every emulator's history since the
        services started (the whole module's, as one run) with the same checkers as a
        simulated run: the result the ``supplysync`` fixture's ``run()`` returns, with the
        same assertions.  Artefacts go into a sub-folder of the module's folder."""
        from scenarios import live
        from scenarios.runner import Outcome, write_run

        __tracebackhide__ = True
        began = time.monotonic()
        emulators = self.urls_of_emulators
        settled = 0.0
        for _ in range(5):  # a change made while we read would be judged half-seen: re-read
            settled += self.wait_until_quiet(quiet_s, max_s)
            changes = live._collect(self._client, emulators, self._clocks)
            if live._history_size(self._client, emulators) == len(changes):
                break
        end_s = self.now()
        windows = [(w[0], w[1], w[2], min(w[3], end_s)) for w in self._windows if w[2] <= end_s]
        header = {
            "scenario": self.spec.name,
            "architecture": "event",
            "seed": self.spec.seed,
            "epoch": self._started.isoformat(timespec="seconds"),
            "end_s": round(end_s, 3),
            "mode": "live",
            "speedup": self.settings.speedup,
            "sut": "builtin",
        }
        volumes = {
            "po_lines": len({c.entity for c in changes if c.field == "ordered_qty"}),
            "history_records": len(changes),
            "core_starts": self._core.starts,
        }
        history, judged = live._judge(header, changes, windows, self.spec, volumes)
        judged.results["live"] = {
            "speedup": self.settings.speedup,
            "settle_s": round(settled, 3),
            "sut": "builtin",
            "urls": dict(self.urls),
            "webhooks": {s: live._webhook_stats(self._client, u) for s, u in emulators.items()},
        }
        label = f"live.{self.spec.name}"
        self._labels[label] = self._labels.get(label, 0) + 1
        if self._labels[label] > 1:
            label = f"{label}.{self._labels[label]}"
        test = self._nodeid.rpartition("::")[2] or "module"
        out = self.out_dir / _folder_name(f"{test}-{label.replace('.', '-')}")
        outcome = Outcome(judged, history, time.monotonic() - began)
        write_run(out, outcome, report=False)
        ends = [w[3] for w in windows]
        result = LiveRunResult(
            outcome,
            self.spec,
            out,
            self._nodeid,
            self._reports != "none",
            fault_end_s=max(ends, default=0.0),
            started=self._started,
        )
        if self._reports == "all":
            result.write_report()
        _attach(self._record, label, judged.results)
        self._runs.append(result)
        self.runs.append(result)
        return result

    def _bind(
        self, nodeid: str, record: Callable[[str, object], None], runs: list[RunResult]
    ) -> None:
        """The test now running: judgements are attributed to it (JUnit, failure report)."""
        self._nodeid, self._record, self._runs = nodeid, record, runs


_ERP_POS = "/fscmRestApi/resources/latest/purchaseOrders"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "supplysync_live(scenario, *, seed, speedup, quiet_s, settle_max_s): how the "
        "supplysync_live services of this module run",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """A test that uses ``supplysync_live`` owns its judgements while it runs."""
    funcargs = getattr(item, "funcargs", {})
    services = funcargs.get("supplysync_live")
    if not isinstance(services, LiveServices):
        return (yield)
    module_id = services._nodeid
    runs = item.stash.setdefault(_RUNS, [])
    services._bind(item.nodeid, lambda k, v: item.user_properties.append((k, v)), runs)
    try:
        return (yield)
    finally:
        services._bind(module_id, lambda k, v: None, [])


def _live_settings(config: pytest.Config, marker: pytest.Mark | None) -> LiveSettings:
    __tracebackhide__ = True
    if marker is None:
        settings = LiveSettings()
    else:
        kwargs = dict(marker.kwargs)
        if len(marker.args) > 1 or (marker.args and "scenario" in kwargs):
            pytest.fail("supplysync_live marker: one scenario only", pytrace=False)
        if marker.args:
            kwargs["scenario"] = marker.args[0]
        unknown = sorted(set(kwargs) - set(_LIVE_OPTIONS))
        if unknown:
            pytest.fail(
                f"supplysync_live marker: unknown option(s) {', '.join(unknown)} "
                f"(known: {', '.join(_LIVE_OPTIONS)})",
                pytrace=False,
            )
        settings = LiveSettings(**kwargs)
        for name in ("speedup", "quiet_s", "settle_max_s"):
            value = getattr(settings, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                pytest.fail(f"supplysync_live marker: {name} must be > 0, got {value!r}", False)
    if settings.seed is None:
        settings = replace(settings, seed=config.getoption("supplysync_seed"))
    return settings


@pytest.fixture(scope="module")
def supplysync_live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServices]:
    """The live services, once per test module: the four emulators and the sync core."""
    from scenarios.spec import ScenarioError, load_scenario

    config = request.config
    settings = _live_settings(config, request.node.get_closest_marker("supplysync_live"))
    try:
        spec = load_scenario(str(settings.scenario), seed=settings.seed)
    except ScenarioError as e:
        pytest.fail(f"supplysync_live: {e}", pytrace=False)
    keep: Path | None = config.getoption("supplysync_out")
    name = _folder_name(request.node.nodeid.replace("::", "-").replace("/", "-"))
    if keep is not None:
        out = keep / f"live-{name}"
        out.mkdir(parents=True, exist_ok=True)
    else:
        out = tmp_path_factory.mktemp(f"live-{name[:40]}")
    services = LiveServices(
        settings, spec, out, config.getoption("supplysync_report"), request.node.nodeid
    )
    try:
        services._start()
        yield services
    finally:
        services.close()
