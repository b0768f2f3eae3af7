"""Issue 19 item 5, live: the ERP emulator switches its API version mid-run over HTTP,
and the live core follows it.

The emulators run as a live run and ``serve --scenario`` build them
(:func:`~scenarios.live.setup.emulator_setup`, one subprocess), with a release a few
seconds after they start (6 h of the scenario at x3600); the core runs as
``python -m scenarios.live.serve_core --scenario`` as a live run starts it.  A core given
the scenario follows the release: POs raised on both sides of it are all acknowledged in
the ERP (the acknowledgment's renamed field and the new header sent after it), with no
dead letter.  A core whose scenario says ``erp.core_follows_releases: false`` keeps
speaking the base version: from the release on, the ERP refuses its calls (400 naming the
missing header) and they are dead-lettered.  Every wait is bounded.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scenarios.live.procs import start_emulators, stop_group
from scenarios.spec.load import load_scenario
from scenarios.spec.masterdata import generate
from tests.live._services import ERP_POS, Core, po_body, wait_until
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
    - at_hours: 6
      version: "2027.1"
      changes:
        - {kind: rename_field, document: purchase_order,
           field: NeedByDate, to: RequestedDeliveryDate}
        - {kind: rename_field, document: acknowledgment,
           field: SupplierConfirmedQuantity, to: ConfirmedQuantity}
        - {kind: event_shape, envelope: data}
        - {kind: required_header, header: REST-Framework-Version, value: "9"}
"""
SPEEDUP = 3600.0  # the release at 6 h comes 6 s after the emulators start
RELEASE_S = 6.0
NEW = {"REST-Framework-Version": "9"}
VERSION = "/fscmRestApi/resources/apiVersion"


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The emulators (serving the scenario, release included) and both scenario files."""
    folder = tmp_path_factory.mktemp("release")
    files = {}
    for follows in ("true", "false"):
        files[follows] = folder / f"live_release_{follows}.yaml"
        files[follows].write_text(
            SCENARIO.replace("SMALL_NETWORK", str(SMALL_NETWORK)).replace("FOLLOWS", follows)
        )
    proc, urls = start_emulators(str(files["true"]), 11, SPEEDUP, folder)
    try:
        yield {"urls": urls, "files": files, "folder": folder}
    finally:
        stop_group(proc)


def _create(erp: str, n: int, released: bool) -> tuple[str, str]:
    """Raise PO ``n`` as the buyers' client of that version does; (its number, the version
    the ERP answered in)."""
    body = po_body(generate(load_scenario(str(SMALL_NETWORK)).network, 11), n)
    headers = {"Idempotency-Key": f"release-po-{n}"}
    if released:
        body["RequestedDeliveryDate"] = body.pop("NeedByDate")
        headers |= NEW
    r = httpx.post(erp + ERP_POS, json=body, headers=headers, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()["OrderNumber"], r.headers["x-erp-api-version"]


def _acknowledged(erp: str, number: str) -> bool:
    r = httpx.get(f"{erp}{ERP_POS}/{number}", headers=NEW, timeout=5)
    return r.status_code == 200 and r.json().get("AcknowledgmentRevision") == 1


def test_a_core_that_follows_the_release_keeps_converging(released: dict[str, Any]) -> None:
    urls, folder = released["urls"], released["folder"]
    core = Core(folder / "follows.sqlite", urls, folder / "follows.log",
                ("--scenario", str(released["files"]["true"]), "--seed", "11"))  # fmt: skip
    core.start()
    try:
        before = [_create(urls["erp"], n, released=False) for n in range(3)]
        assert wait_until(
            lambda: httpx.get(urls["erp"] + VERSION).json()["version"] == "2027.1", 20
        ), "the release never came"
        after = [_create(urls["erp"], n, released=True) for n in range(3, 6)]
        assert {v for _, v in before} == {"2026.4"} and {v for _, v in after} == {"2027.1"}
        pos = [number for number, _ in before + after]
        assert wait_until(lambda: all(_acknowledged(urls["erp"], n) for n in pos), 20), core.log()
        assert httpx.get(f"{core.url}/dlq").json() == []
        journal = httpx.get(urls["erp"] + "/__admin/requests").json()
        acks = [r for r in journal if r["operation"] == "post_acknowledgment"]
        assert [r for r in acks if r["t"] >= RELEASE_S], "no acknowledgment after the release"
    finally:
        core.stop()


def test_a_core_that_ignores_the_release_is_refused_after_it(released: dict[str, Any]) -> None:
    """A core pulling the ERP (``--batch-interval``) in the base version: its pulls are
    answered 400 naming the new required header, and dead-lettered."""
    urls, folder = released["urls"], released["folder"]
    assert wait_until(lambda: httpx.get(urls["erp"] + VERSION).json()["version"] == "2027.1", 20)
    core = Core(folder / "ignores.sqlite", {"erp": urls["erp"]}, folder / "ignores.log",
                ("--scenario", str(released["files"]["false"]), "--seed", "11",
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
