"""Issue 14, item 5: ``live --sut external --carries FLOWS`` and the report's conformance section.

A middleware under test declares the flows it carries; the others are judged *not carried*
in results.json's ``coverage`` (not thousands of lost updates), and report.html gets a
conformance section: per flow its verdict, the first replica write missed, and the writes
made without an Idempotency-Key (from the emulators' request journals).  The middleware
here is our own core started as if it were someone else's (``serve_core --no-subscribe``;
the live run subscribes the emulators to it), told it carries only PO dispatch and
acknowledgments — so the other flows' replica writes it makes are ignored, as an
undeclared flow's would be.  The emulators are ``serve all --no-core --scenario``'s.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scenarios.test_cli_serve import free_base
from tests.scenarios.test_serve_scenario import _running, _serve

SMALL_NETWORK = Path(__file__).parents[1] / "small_network.yaml"  # the shared base
SCENARIO = f"""\
extends: {SMALL_NETWORK}
name: carries_smoke
description: A small network for judging an external middleware's declared flows.
seed: 11
"""
SPEEDUP = "7200"
DECLARED = ("po_dispatch", "po_acknowledgment")
SYSTEMS = ("erp", "supplier", "wms", "ap")


def _live(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scenarios.cli.main", "live", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sut", "external", "--webhook-target", "http://127.0.0.1:9/h", "--carries",
          "po_dispatch,invoices"], "unknown flow 'invoices'"),
        (["--carries", "po_dispatch"], "only with --sut external"),
        (["--sut", "external", "--webhook-target", "http://127.0.0.1:9/h", "--carries", ","],
         "name at least one flow"),
    ],
)  # fmt: skip
def test_bad_carries_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    done = _live(tmp_path, "partial_confirmation", *args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_undeclared_flows_are_not_carried_and_the_report_says_so(tmp_path: Path) -> None:
    scenario = tmp_path / "carries.yaml"
    scenario.write_text(SCENARIO)
    base = free_base()
    urls = {s: f"http://127.0.0.1:{base + k}" for k, s in enumerate(SYSTEMS, 1)}
    core = [sys.executable, "-m", "scenarios.live.serve_core", "--port", str(base),
            "--store", str(tmp_path / "core.sqlite"), "--scenario", str(scenario),
            "--no-subscribe", *(x for s, u in urls.items() for x in (f"--{s}", u))]  # fmt: skip
    with (
        _serve(base, tmp_path, "--scenario", str(scenario), "--speedup", SPEEDUP),
        _running(core, base, tmp_path, "core"),
    ):
        done = _live(
            tmp_path, str(scenario), "--sut", "external",
            "--webhook-target", f"http://127.0.0.1:{base}/webhooks/{{system}}",
            "--carries", ",".join(DECLARED), "--speedup", SPEEDUP, "--duration", "10s",
            "--users", "4", "--out", "out", *(x for s, u in urls.items() for x in (f"--{s}", u)),
        )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    out = tmp_path / "out"
    results = json.loads((out / "results.json").read_text())
    header = json.loads((out / "history.jsonl").read_text().splitlines()[0])
    assert header.get("flows", header.get("header", {}).get("flows")) == list(DECLARED)
    assert results["live"]["carries"] == list(DECLARED)

    coverage = results["coverage"]
    assert coverage["ordered_qty"]["status"] == "carried"
    assert coverage["confirmed_qty"]["status"] == "carried"
    for fact in ("shipped_qty", "received_qty", "invoiced_qty"):
        if coverage[fact]["owner_updates"]:
            assert coverage[fact]["status"] == "not carried", coverage[fact]
            assert not any(r["carried"] for r in coverage[fact]["replicas"].values())
    undeclared = {"shipped_qty", "received_qty", "invoiced_qty", "match_status", "contract_price"}
    lost = [v for v in results.get("violations", {}).get("examples", []) if v["fact"] in undeclared]
    assert not lost

    keyless = results["live"]["keyless_writes"]
    assert isinstance(keyless, dict)  # read from the request journals (ours sends keys)
    page = (out / "report.html").read_text()
    assert "Conformance of the middleware under test" in page
    assert "ship_notice</td><td>not carried (not declared)" in page
    assert "po_dispatch</td><td>carried" in page
