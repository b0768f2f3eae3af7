"""A middleware we did not write, judged by ``supplysync live --sut external``.

``external_middleware/`` (next to this file) is written only against
``emulators/interfaces/``.  Each test starts the four emulators configured from a small
scenario (the same entry point ``live`` uses for its own), the middleware on a free
127.0.0.1 port, then ``supplysync live SCENARIO --sut external --webhook-target
http://127.0.0.1:PORT/hooks/{system}`` against the running emulators, and reads the verdict
in results.json.  The scenario duplicates a fifth of the ERP's, the VAN's and the WMS's
webhooks, the VAN sends 5 % of its 855s twice, and AP answers a fifth of all calls 503 —
so the middleware's dedupe table, ordering checks and idempotency keys all have work.

The middleware carries PO dispatch, acknowledgments, ship notices and receipts, and not
invoices; run with ``--carries`` naming those flows, its verdict passes and the invoices
are reported under ``coverage`` as not carried (not judged, not lost).  Two defects of it, each
switched on by a flag, must be caught: dropping the 855s (lost updates) and writing
without idempotency keys (a receipt's ERP write repeated when its AP write failed and the
WMS redelivered the event: a duplicate effect).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scenarios.live import run as live
from scenarios.live.procs import start_emulators, stop_group
from tests.ports import free_port

HERE = Path(__file__).parent
EXAMPLE = HERE / "external_middleware"
SPEEDUP = 7200.0  # a scenario day in 12 s: acknowledgments come ~0.4 s after the PO
DUPLICATE_WEBHOOKS = Path(__file__).parents[1] / "duplicate_webhooks.yaml"  # the shared base
SCENARIO = f"""\
extends: {DUPLICATE_WEBHOOKS}
name: external_smoke
description: A small network for judging an external middleware, with duplicate webhooks.
seed: 11
suppliers:
  duplicate_ack_rate: 0.05
faults:
  ap:
    error_rate: {{rate: 0.2, status: 503}}
"""
CARRIED = ("po_dispatch", "po_acknowledgment", "ship_notice", "receipt")
OURS = {"sync_core", "scenarios", "analysis", "emulators", "loadtests"}


def _healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the middleware exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the middleware is not healthy:\n{log.read_text()}")


@pytest.fixture
def judge(tmp_path: Path) -> Iterator[Callable[..., dict[str, Any]]]:
    """Run the example (with ``flags``) under ``live --sut external``; results.json."""
    started: list[subprocess.Popen[bytes]] = []

    def run(*flags: str, carries: tuple[str, ...] = ()) -> dict[str, Any]:
        scenario = tmp_path / "external_smoke.yaml"
        scenario.write_text(SCENARIO)
        out = tmp_path / "out"
        out.mkdir()
        emulators, urls = start_emulators(str(scenario), 11, SPEEDUP, out)
        started.append(emulators)
        port = free_port()
        log = out / "middleware.log"
        with log.open("wb") as sink:
            middleware = subprocess.Popen(
                [sys.executable, "-m", "external_middleware", "--port", str(port),
                 *(f"--{s}={u}" for s, u in urls.items()), "--db", str(tmp_path / "mw.sqlite"),
                 *flags],
                cwd=HERE, stdout=sink, stderr=subprocess.STDOUT,
            )  # fmt: skip
        started.append(middleware)
        _healthy(f"http://127.0.0.1:{port}", middleware, log)
        code = live.main(
            ["live", str(scenario), "--sut", "external",
             "--webhook-target", f"http://127.0.0.1:{port}/hooks/{{system}}",
             *(f"--{s}={u}" for s, u in urls.items()), "--speedup", str(SPEEDUP),
             "--users", "12", "--spawn-rate", "12", "--duration", "10s", "--settle-max", "20s",
             *(["--carries", ",".join(carries)] if carries else []), "--out", str(out)]
        )  # fmt: skip
        results: dict[str, Any] = json.loads((out / "results.json").read_text())
        results["exit_code"] = code
        results["middleware_log"] = log.read_text()
        return results

    yield run
    for proc in reversed(started):  # the middleware, then the emulators' process group
        if proc is started[0]:
            stop_group(proc)
        else:
            proc.terminate()
            proc.wait(timeout=10)


def _lost(results: dict[str, Any], fact: str) -> int:
    return sum(r["lost"] for r in results["coverage"][fact]["replicas"].values())


def _duplicates(results: dict[str, Any], replica: str) -> int:
    """Duplicate effects on ``replica`` (``system.field``)."""
    found = results["violations"]["by_fact"].get("duplicate_effect", {})
    return sum(n for name, n in found.items() if name.endswith(f": {replica}"))


def test_the_example_imports_nothing_of_ours() -> None:
    for path in EXAMPLE.glob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert not roots & OURS, f"{path.name} imports {roots & OURS}"
            assert roots <= {*sys.stdlib_module_names, "aiohttp"}, f"{path.name}: {roots}"


def test_the_example_carries_its_flows_cleanly_and_not_invoices(
    judge: Callable[..., dict[str, Any]],
) -> None:
    results = judge(carries=CARRIED)
    # what it declares it carries is judged, and met: the verdict passes
    assert results["exit_code"] == 0 and results["passed"], [
        s for s in results["slos"] if not s["passed"]
    ]
    assert results["consistency"]["lost_updates"] == 0
    coverage = results["coverage"]
    for fact, c in coverage.items():
        if c["flow"] in CARRIED:
            assert c["status"] == "carried", (fact, c)
            assert _lost(results, fact) == 0, (fact, c)
    assert results["consistency"]["duplicate_effects"] == 0, results["violations"]["duplicates"]
    for flow in CARRIED:
        assert results["flows"][flow]["replica_updates"] > 0, flow
    # invoices are not carried, and say so; AP never got one, so its status never moved
    assert coverage["invoiced_qty"]["status"] == "not carried", coverage["invoiced_qty"]
    assert coverage["match_status"]["status"] == "not exercised", coverage["match_status"]
    assert "invoiced_qty: ap.ap_invoiced_qty" in results["consistency"]["not_carried"]
    # the faults were real: duplicates reached the middleware, AP refused some calls
    hooks = results["live"]["webhooks"]
    assert sum(h["duplicated"] for h in hooks.values()) > 0, hooks
    assert all(h["failed"] == 0 for h in hooks.values()), hooks
    assert hooks["wms"]["retried"] > 0, hooks  # a receipt whose AP write met a 503
    assert "dead-lettered" not in results["middleware_log"], results["middleware_log"]


def test_dropped_acknowledgments_are_caught_as_lost_updates(
    judge: Callable[..., dict[str, Any]],
) -> None:
    results = judge("--drop-acknowledgments")
    assert _lost(results, "confirmed_qty") > 0 and _lost(results, "ack_status") > 0
    assert results["coverage"]["confirmed_qty"]["status"] == "not carried"
    assert results["exit_code"] == 1 and not results["passed"]


def test_writes_without_idempotency_keys_are_caught(
    judge: Callable[..., dict[str, Any]],
) -> None:
    """A receipt whose AP write met a 503 is redelivered by the WMS, and the middleware
    posts its ERP receipt again: without a key the ERP counts it twice (a duplicate
    effect) or refuses it — 422 when twice is past the over-receipt tolerance, 409 when the
    first receipt completed the PO (closed for receiving) — and the middleware dead-letters
    the event: AP never learns that receipt (a lost update).  Which refusal depends on which
    receipt the 503 met, so either is the ERP catching the repeat."""
    results = judge("--no-idempotency-keys")
    doubled = _duplicates(results, "erp.erp_received_qty")
    lost = results["coverage"]["received_qty"]["replicas"]["ap.ap_received_qty"]["lost"]
    assert doubled + lost > 0, results["violations"]
    log = results["middleware_log"]
    refusals = ("422 receiving", "is CLOSED_FOR_RECEIVING: no receive allowed")
    assert doubled or any(r in log for r in refusals), log
    assert results["exit_code"] == 1 and not results["passed"]
