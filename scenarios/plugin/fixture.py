"""pytest plugin: resilience SLOs as CI gates.

Theory of operation: the ``supplysync`` fixture runs a scenario (a library
name or a YAML file) in simulation, in the test's own process, through
:mod:`scenarios.sim.runner` — the same code as ``supplysync run`` — and writes the
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
emulators (one subprocess) and the sync core (``scenarios.live.serve_core``, on a
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

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from scenarios.plugin.services import (
    LiveServices,
    live_settings,
)
from scenarios.plugin.simulated import RunResult, SupplySync, folder_name

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
    folder = folder_name(request.node.nodeid.replace("::", "-").replace("/", "-"))
    made: list[Path] = []

    def out_dir() -> Path:  # created on the first run only
        if not made:
            if keep is not None:
                path = keep / folder
                path.mkdir(parents=True, exist_ok=True)
            else:
                path = tmp_path_factory.mktemp(folder_name(request.node.name)[:40])
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


@pytest.fixture(scope="module")
def supplysync_live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServices]:
    """The live services, once per test module: the four emulators and the sync core."""
    from scenarios.spec.load import ScenarioError, load_scenario

    config = request.config
    settings = live_settings(config, request.node.get_closest_marker("supplysync_live"))
    try:
        spec = load_scenario(str(settings.scenario), seed=settings.seed)
    except ScenarioError as e:
        pytest.fail(f"supplysync_live: {e}", pytrace=False)
    keep: Path | None = config.getoption("supplysync_out")
    name = folder_name(request.node.nodeid.replace("::", "-").replace("/", "-"))
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
