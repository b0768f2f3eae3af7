"""Issue 19 item 5, live: the ERP emulator switches its API version mid-run over HTTP,
and the live core follows it.

``supplysync live`` of a small scenario whose ERP ships a release 4 h in (4 s after the
run's clock starts, at x3600): the ERP's buyers (Locust) and the core follow it, so POs
raised on both sides of it are acknowledged in the ERP (after it, in the acknowledgment's
renamed field and with the new header), nothing is lost and no request fails.  A core
whose scenario says ``erp.core_follows_releases: false`` keeps speaking the base version:
from the release on, the ERP refuses its calls (400 naming the missing header) and they
are dead-lettered.  Every wait is bounded.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scenarios.live import run as live
from scenarios.live.procs import start_emulators, stop_group
from tests.live._services import Core, wait_until
from tests.scenarios.test_cli_serve import free_base
from tests.scenarios.test_serve_scenario import EMULATORS, _running

README = Path(__file__).parents[2] / "README.md"
SMALL_NETWORK = Path(__file__).parents[1] / "small_network.yaml"
SCENARIO = """\
extends: SMALL_NETWORK
name: live_release
description: A small network whose ERP ships a release a few (real) seconds in.
seed: 11
erp:
  base_version: "2026.4"
  core_follows_releases: FOLLOWS
  releases:
    - at_hours: AT_HOURS
      version: "2027.1"
      changes:
        - {kind: rename_field, document: purchase_order,
           field: NeedByDate, to: RequestedDeliveryDate}
        - {kind: rename_field, document: acknowledgment,
           field: SupplierConfirmedQuantity, to: ConfirmedQuantity}
        - {kind: event_shape, envelope: data}
        - {kind: required_header, header: REST-Framework-Version, value: "9"}
suppliers:  # shipments and invoices follow soon: the run settles in a second or two
  ack_delay: {median_minutes: 45, sigma: 0.5}
  ship_delay: {median_minutes: 20, sigma: 0.5}
  invoice_delay: {median_minutes: 20, sigma: 0.5}
duration_days: 0.35  # 8.4 s at x3600, and 1.2 s to settle
settle_days: 0.05
"""
SPEEDUP = 3600.0  # a release at 4 h comes 4 s after the run's clock starts
# The live run restarts the ERP's release timeline when its own clock starts (after the
# emulators and the core are up); the buyers (Locust) start about a second later (a few on a
# busy machine) and create a PO a second for 8 s: at 4 h the release falls inside the load
# with POs on both sides (at 7 h, with the load starting 0.8 s in, the last PO came at 6.8 s).
LIVE_RELEASE_H = 4
VERSION = "/fscmRestApi/resources/apiVersion"


def _scenario(folder: Path, name: str, follows: str, at_hours: int) -> Path:
    path = folder / f"{name}.yaml"
    text = SCENARIO.replace("SMALL_NETWORK", str(SMALL_NETWORK)).replace("FOLLOWS", follows)
    path.write_text(text.replace("AT_HOURS", str(at_hours)).replace("live_release", name))
    return path


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The scenario files, and emulators serving one whose release comes 1 s in."""
    folder = tmp_path_factory.mktemp("release")
    files = {
        "live": _scenario(folder, "live_release", "true", LIVE_RELEASE_H),
        "early": _scenario(folder, "early_release", "true", 1),
        "ignored": _scenario(folder, "early_release_ignored", "false", 1),
    }
    proc, urls = start_emulators(str(files["early"]), 11, SPEEDUP, folder)
    try:
        yield {"urls": urls, "files": files, "folder": folder}
    finally:
        stop_group(proc)


def _changes(out: Path) -> list[dict[str, Any]]:
    lines = (out / "history.jsonl").read_text().splitlines()[1:]
    return [r for r in map(json.loads, lines) if r["type"] == "change"]


def test_a_live_run_plays_the_release_and_its_core_follows(released: dict[str, Any]) -> None:
    out = released["folder"] / "live"
    args = ["live", str(released["files"]["live"]), "--users", "6", "--spawn-rate", "6",
            "--duration", "8s", "--speedup", f"{SPEEDUP:g}", "--out", str(out),
            "--settle-max", "20s"]  # fmt: skip
    code = live.main(args)
    results = json.loads((out / "results.json").read_text())
    assert code == 0, results["violations"]
    ((release),) = results["live"]["erp_releases"]
    header = json.loads((out / "history.jsonl").read_text().splitlines()[0])
    assert release["version"] == "2027.1" and release["at_s"] < header["end_s"]
    # 4 h into the run, on its own clock: not counted from when the emulators started
    assert abs(release["at_s"] - LIVE_RELEASE_H * 3600 / SPEEDUP) < 0.5
    changes = _changes(out)

    def at_erp(field: str, after: bool) -> list[float]:
        return [c["t"] for c in changes if (c["system"], c["field"]) == ("erp", field)
                and (c["t"] >= release["at_s"]) == after]  # fmt: skip

    assert at_erp("ordered_qty", after=False) and at_erp("ordered_qty", after=True)
    assert at_erp("confirmed_qty", after=True), "no acknowledgment reached the ERP after it"
    assert results["consistency"]["lost_updates"] == 0
    assert results["load"]["total"]["requests"] > 0 and results["load"]["total"]["failures"] == 0
    assert results["live"]["not_played"] == []


def test_a_core_that_ignores_the_release_is_refused_after_it(released: dict[str, Any]) -> None:
    """A core pulling the ERP (``--batch-interval``) in the base version: its pulls are
    answered 400 naming the new required header, and dead-lettered."""
    urls, folder = released["urls"], released["folder"]
    assert wait_until(lambda: httpx.get(urls["erp"] + VERSION).json()["version"] == "2027.1", 20)
    core = Core(folder / "ignores.sqlite", {"erp": urls["erp"]}, folder / "ignores.log",
                ("--scenario", str(released["files"]["ignored"]), "--seed", "11",
                 "--no-subscribe", "--batch-interval", "0.2"))  # fmt: skip
    core.start()
    try:

        def refused() -> list[dict[str, Any]]:
            letters = httpx.get(f"{core.url}/dlq").json()
            return [d for d in letters if "REST-Framework-Version" in d["reason"]]

        assert wait_until(lambda: bool(refused()), 15), core.log()
        assert "answered 400" in refused()[0]["reason"]
    finally:
        core.stop()


def test_the_readme_serve_command_gives_the_erp_its_release(tmp_path: Path) -> None:
    """The README's ``serve`` command, as written (on free ports): the ERP says when the
    release comes, in its line and at its apiVersion resource."""
    section = README.read_text().split("### Change management: an ERP release mid-run")[1]
    command = next(ln for ln in section.splitlines() if ln.startswith("supplysync serve "))
    base = free_base()
    args = [sys.executable, "-m", "scenarios.cli.main", *command.split()[1:],
            "--port-base", str(base)]  # fmt: skip
    with _running(args, base, tmp_path, "serve") as out:
        erp = f"http://127.0.0.1:{base + EMULATORS['erp']}"
        versions = httpx.get(erp + VERSION).json()
        printed = out.read_text()
    assert versions["version"] == "2026.4"
    assert versions["releases"] == [{"version": "2027.1", "at_s": 36.0}]
    assert "API 2027.1 from 36 s real;" in printed
