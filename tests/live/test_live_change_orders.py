"""Change orders live: a buyer changes POs over HTTP, the core (a subprocess given a
scenario whose partners take 860s) sends 860s, the supplier network answers with 865s,
and the ERP shows each change acknowledged while the untouched critical line keeps
what the supplier had allocated to it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulators.x12 import Interchange, read_865
from tests.live._services import (
    ERP_POS,
    FAST_ACKS,
    Core,
    Emulators,
    create_pos,
    emulators,
    wait_until,
)

TAKES_860 = dataclasses.replace(FAST_ACKS, change_orders="860", change_ack="865")
SCENARIO = """\
name: live_change_orders
description: Every partner takes changes as 860s and answers with 865s.
seed: 1
start: 2026-03-23T00:00:00
duration_days: 1
suppliers: {change_orders: "860", change_ack: "865"}
"""


@pytest.fixture
def systems() -> Iterator[Emulators]:
    with emulators(TAKES_860) as running:
        yield running


def erp_po(erp_url: str, number: str) -> dict[str, Any]:
    reply = httpx.get(f"{erp_url}{ERP_POS}/{number}", timeout=10)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def docs(systems: Emulators, kind: str) -> list[dict[str, Any]]:
    mailbox: list[dict[str, Any]] = systems.hosts["supplier"].behaviour.mailbox_docs
    return [d for d in mailbox if d["type"] == kind]


def test_860s_and_865s_travel_live_and_untouched_lines_keep_their_allocation(
    systems: Emulators, tmp_path: Path
) -> None:
    scenario = tmp_path / "live_change_orders.yaml"
    scenario.write_text(SCENARIO)
    erp = systems.urls["erp"]
    core = Core(tmp_path / "core.sqlite", systems.urls, tmp_path / "core.log",
                ("--scenario", str(scenario)))  # fmt: skip
    core.start()
    try:
        pos = [n for n, lines in create_pos(erp, 6).items() if lines >= 2]
        assert pos, "no PO of two lines or more"
        acknowledged = lambda: all(erp_po(erp, n)["AcknowledgmentRevision"] for n in pos)  # noqa: E731
        assert wait_until(acknowledged, 20), core.log()
        before = {n: erp_po(erp, n)["lines"] for n in pos}
        with httpx.Client(base_url=erp, timeout=10) as client:
            for n in pos:  # cancel the last line, raise the first by 3
                last, more = before[n][-1]["LineNumber"], before[n][0]["Quantity"] + 3
                body = {"lines": [{"LineNumber": last, "Action": "CANCEL"},
                                  {"LineNumber": 1, "Quantity": more}]}  # fmt: skip
                reply = client.patch(f"{ERP_POS}/{n}", json=body)
                assert reply.status_code == 200, reply.text
        answered = lambda: all(erp_po(erp, n)["AcknowledgmentRevision"] >= 2 for n in pos)  # noqa: E731
        assert wait_until(answered, 20), core.log()
    finally:
        core.stop()
    network = systems.hosts["supplier"].behaviour
    assert sum(c["changes_received"] for c in network.counters.values()) >= len(pos)
    # what the supplier answered: only the two changed lines of each PO
    answers = [read_865(Interchange.parse(d["payload"]).sets[0]) for d in docs(systems, "865")]
    assert {a.po_number for a in answers} >= set(pos)
    assert all(sorted(c.code for c in a.lines) == ["DI", "QI"] for a in answers)
    for n in pos:
        lines = {ln["LineNumber"]: ln for ln in erp_po(erp, n)["lines"]}
        last = before[n][-1]["LineNumber"]
        assert lines[last]["LineStatus"] == "CANCELED"
        untouched = [k for k in lines if k not in (1, last)]
        for k in untouched:  # as acknowledged the first time
            old = next(ln for ln in before[n] if ln["LineNumber"] == k)
            assert lines[k]["SupplierConfirmedQuantity"] == old["SupplierConfirmedQuantity"]
            assert lines[k]["AcknowledgmentStatus"] == old["AcknowledgmentStatus"]
    assert "Traceback" not in core.log()
