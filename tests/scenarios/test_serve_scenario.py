"""Issue 14, item 1: ``serve --scenario`` configures the emulators exactly as ``live`` does.

``serve all --scenario X --speedup S`` and the emulators' process a live run starts
(``python -m scenarios.live.setup X SEED S BASE``) are built by the same function;
these tests start both, as subprocesses on free 127.0.0.1 ports, and compare what they
hold (``/__admin/state``, the partner directory with each partner's profile).  Every
wait is bounded; whatever a test starts is stopped by its pid.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.emulators.harness import WebhookReceiver
from tests.scenarios.test_cli_serve import free_base

ROOT = Path(__file__).resolve().parents[2]
EMULATORS = {"erp": 1, "supplier": 2, "wms": 3, "ap": 4}
P = "/fscmRestApi/resources/latest"


@contextlib.contextmanager
def _running(args: list[str], base: int, tmp_path: Path, name: str) -> Iterator[Path]:
    """``args`` as a subprocess until the four emulators on ``base`` are healthy; its
    stdout file.  SIGINT at the end, SIGKILL if it lingers."""
    out = tmp_path / f"{name}.out"
    with out.open("w") as sink, (tmp_path / f"{name}.err").open("w") as err:
        proc = subprocess.Popen(args, cwd=tmp_path, stdout=sink, stderr=err, text=True)
    try:
        deadline = time.monotonic() + 90
        for offset in EMULATORS.values():
            while True:
                assert proc.poll() is None, (tmp_path / f"{name}.err").read_text()
                assert time.monotonic() < deadline, f"{name} not healthy within 90 s"
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://127.0.0.1:{base + offset}/health").status_code == 200:
                        break
                time.sleep(0.1)
        yield out
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _serve(base: int, tmp_path: Path, *more: str) -> contextlib.AbstractContextManager[Path]:
    args = [sys.executable, "-m", "scenarios.cli.main", "serve", "all", "--no-core",
            "--port-base", str(base), *more]  # fmt: skip
    return _running(args, base, tmp_path, "serve")


def _configured(base: int) -> dict[str, Any]:
    """What the emulators on ``base`` were configured with: the ERP's and AP's state (their
    masters), the supplier network's partners and profiles, every system's faults."""
    url = {s: f"http://127.0.0.1:{base + k}" for s, k in EMULATORS.items()}
    erp = httpx.get(f"{url['erp']}/__admin/state").json()
    return {
        "erp": {k: erp[k] for k in ("vendors", "items", "contract_prices", "locations")},
        "ap": httpx.get(f"{url['ap']}/__admin/state").json()["prices"],
        "partners": httpx.get(f"{url['supplier']}/edi/partners").json(),
        "faults": {s: httpx.get(f"{u}/__admin/faults").json() for s, u in url.items()},
    }


def test_serve_scenario_and_the_live_runs_emulators_agree(tmp_path: Path) -> None:
    served, spawned = free_base(), free_base()
    live_args = [sys.executable, "-m", "scenarios.live.setup", "regional_network", "7", "600",
                 str(spawned)]  # fmt: skip
    with (
        _serve(served, tmp_path, "--scenario", "regional_network", "--seed", "7",
               "--speedup", "600") as out,
        _running(live_args, spawned, tmp_path, "live"),
    ):  # fmt: skip
        ours, theirs = _configured(served), _configured(spawned)
        printed = out.read_text()

    assert ours == theirs
    assert len(ours["erp"]["vendors"]) == 12  # the scenario's network, not the default 6
    partners = ours["partners"]["partners"]
    assert len(partners) == 12 and partners[0]["SupplierNumber"] == "S1001"
    assert partners[0]["EdiId"] == "SUPP1001"
    assert partners[0]["profile"]["ack_delay_median_s"] < 60  # divided by the speed-up
    for system, offset in EMULATORS.items():
        assert f"{system:9} http://127.0.0.1:{served + offset}" in printed
    assert "scenario regional_network, seed 7, x600: 12 vendors" in printed
    assert "12 trading partners" in printed


def test_serve_scenario_sets_the_scenarios_steady_faults_from_the_start(tmp_path: Path) -> None:
    base = free_base()
    with _serve(base, tmp_path, "--scenario", "webhook_chaos", "--speedup", "600") as out:
        faults = _configured(base)["faults"]
        printed = out.read_text()
    assert faults["erp"]["webhooks"]["drop"] == 0.05
    assert faults["supplier"]["webhooks"]["duplicate"] == 0.10
    assert faults["wms"]["webhooks"]["drop"] == 0
    assert "faults: webhooks 0.05 dropped" in printed


def test_serve_replaces_system_in_the_webhook_target(tmp_path: Path) -> None:
    base = free_base()
    with WebhookReceiver("/") as receiver:
        target = receiver.url.rstrip("/") + "/hooks/{system}"
        with _serve(base, tmp_path, "--webhook-target", target):
            erp = f"http://127.0.0.1:{base + 1}"
            sub = httpx.get(f"{erp}/__admin/subscription").json()
            body = {"SupplierNumber": "S1001", "Name": "Medline"}
            assert httpx.post(f"{erp}{P}/vendors", json=body).status_code == 201
            deadline = time.monotonic() + 10
            while not receiver.posts and time.monotonic() < deadline:
                time.sleep(0.05)
    assert sub["url"].endswith("/hooks/erp")
    assert receiver.posts and receiver.posts[0][0] == "/hooks/erp"


def test_serve_without_a_scenario_says_what_it_is_configured_with(tmp_path: Path) -> None:
    base = free_base()
    with _serve(base, tmp_path) as out:
        partners = httpx.get(f"http://127.0.0.1:{base + 2}/edi/partners").json()["partners"]
        printed = out.read_text()
    assert len(partners) == 6
    assert "no scenario, seed 1: no master data" in printed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--speedup", "600"], "--speedup: needs --scenario"),
        (["--scenario", "no_such_scenario"], "no_such_scenario"),
        (["--scenario", "partial_confirmation", "--speedup", "0"], "--speedup"),
    ],
)
def test_bad_serve_configuration_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scenarios.cli.main", "serve", "all", "--no-core",
         "--port-base", str(free_base()), *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
