"""The ``supplysync_live`` fixture as a team meets it, run through ``pytester``.

Each suite below is a real pytest run of a test module that uses the live services: the four
emulators and the sync core start once for the module as real processes on free 127.0.0.1
ports, the tests create purchase orders over the ERP's REST API and put faults in force through
the emulators' admin API, and ``judge()`` judges the emulators' own histories with the same
checkers as a simulated run.  The suppliers run a day a second, so an order is acknowledged in
a few hundredths of a second and shipped and invoiced about a second later.  What is checked
is what a user sees: the verdict, the failure's explanation, the JUnit properties, and that no
process the fixture started outlives its module.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import httpcore  # noqa: F401
import pytest

# Imported here, not first inside an in-process pytester run: pytester restores sys.modules
# after each run, and numpy (under matplotlib) cannot be imported twice in one process; httpx
# imports httpcore on first use and caches its exception classes, which a second import of
# httpcore would no longer match.
import analysis.report  # noqa: F401
import scenarios.live.run
import scenarios.sim.runner  # noqa: F401
from tests.plugin.test_plugin import _plugin_args

pytest_plugins = ["pytester"]

SCENARIO = """\
extends: regional_network
name: live_fixture
seed: 11
duration_days: 1
network: {hospitals: 2, distribution_centers: 1, suppliers: 2, items: 40}
demand: {pos_per_day: 50, lines_per_po: [1, 3]}
"""


@pytest.fixture
def run(pytester: pytest.Pytester, tmp_path: Path):
    scenario = tmp_path / "live_fixture.yaml"
    scenario.write_text(SCENARIO)
    pids = tmp_path / "pids.jsonl"

    def go(source: str, *args: str) -> tuple[pytest.RunResult, list[int]]:
        header = (
            "import json\nimport pytest\n\n"
            f"pytestmark = pytest.mark.supplysync_live({str(scenario)!r}, speedup=86400)\n\n"
            "def keep_pids(services):\n"
            f"    with open({str(pids)!r}, 'a') as f:\n"
            "        f.write(json.dumps(services.every_pid) + '\\n')\n\n"
        )
        pytester.makepyfile(test_live_suite=header + source)
        quiet = ("-W", "ignore::pytest.PytestAssertRewriteWarning")
        result = pytester.runpytest(*_plugin_args(), *quiet, "-p", "no:cacheprovider", *args)
        started = [p for line in pids.read_text().splitlines() for p in json.loads(line)]
        return result, started

    return go


def assert_all_gone(pids: list[int]) -> None:
    """Neither a process the fixture started nor anything in its process group is left."""
    assert pids, "the suite recorded no PIDs"
    for pid in set(pids):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)


def test_a_passing_live_module_converges_and_leaves_no_process(run, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    result, pids = run(
        """
def test_orders_reach_every_system(supplysync_live):
    assert set(supplysync_live.urls) == {"erp", "supplier", "wms", "ap", "core"}
    assert all(supplysync_live.pids.values())
    supplysync_live.create_pos(4)
    r = supplysync_live.judge()
    keep_pids(supplysync_live)
    r.assert_no_lost_updates()
    r.assert_no_duplicate_effects()
    r.assert_converged()
    assert r.mode == "live" and r.volumes.po_lines >= 4
    assert r.flows["po_dispatch"].replica_updates >= 4
    assert r.flows["po_acknowledgment"].replica_updates >= 4

def test_a_supplier_outage_heals(supplysync_live):
    supplysync_live.set_faults("supplier", {"outages": [{"start_s": 0, "end_s": 1.5}]})
    supplysync_live.create_pos(2)
    r = supplysync_live.judge()
    supplysync_live.clear_faults()
    keep_pids(supplysync_live)
    assert ("supplier", "outage") in {(f.system, f.kind) for f in r.faults}
    r.assert_no_lost_updates()
    r.assert_converged(within_s=20)
""",
        f"--junitxml={junit}",
    )
    result.assert_outcomes(passed=2)
    assert_all_gone(pids)
    props = {
        p.get("name"): p.get("value")
        for case in ET.parse(junit).getroot().iter("testcase")
        if case.get("name") == "test_orders_reach_every_system"
        for p in case.iter("property")
    }
    assert props["supplysync.live.live_fixture.lost_updates"] == "0", props
    assert props["supplysync.live.live_fixture.converged"] == "True", props


def test_a_failing_live_module_explains_the_lost_updates(run) -> None:
    result, pids = run("""
def test_acknowledgments_reach_the_erp(supplysync_live):
    keep_pids(supplysync_live)
    # the supplier network's webhooks are never delivered: the core never hears of its 855s
    supplysync_live.set_faults("supplier", {"webhooks": {"drop": 1.0}})
    supplysync_live.create_pos(2, lines=2)
    supplysync_live.judge().assert_no_lost_updates()
""")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*SloViolation: supplysync: live_fixture under event (seed 11): * lost update(s)",
            "*  lost:",
            "*erp.confirmed_qty of po_line:* never showed *, set by supplier.confirmed_qty at *",
            "*  report:  */report.html",
            "*a live run*re-run: pytest test_live_suite.py::test_acknowledgments_reach_the_erp*",
        ]
    )
    report = Path(out.split("report:  ")[1].split()[0])
    assert report.is_file() and "live_fixture" in report.read_text()
    results = json.loads((report.parent / "results.json").read_text())
    assert results["consistency"]["lost_updates"] > 0 and results["mode"] == "live"
    assert {(f["system"], f["kind"]) for f in results["faults"]} == {("supplier", "webhooks")}
    assert_all_gone(pids)


def test_a_bad_marker_is_named_before_anything_starts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad_marker="""
import pytest

pytestmark = pytest.mark.supplysync_live("regional_network", speedup=0, users=3)

def test_never_runs(supplysync_live):
    raise AssertionError("the services must not start")
"""
    )
    quiet = ("-W", "ignore::pytest.PytestAssertRewriteWarning")
    result = pytester.runpytest(*_plugin_args(), *quiet, "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*supplysync_live marker: unknown option(s) users (known: scenario, seed, speedup*"]
    )
