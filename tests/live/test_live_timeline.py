"""``supplysync live`` judges exactly the run and plays the scenario's whole timeline.

Against emulators that are already running, a live run resets them first (the default)
or, with ``--no-reset``, judges only the entities created after its start; a
contract-price change of the scenario is played through the ERP's API at its scaled
time, so the ``price`` flow is measured live as in a simulation; what the emulators'
request journals show the load generator got counts as failures.  The two live runs
share one emulators' process (about 15 s each); the rest is sans-IO.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from analysis.history import Change
from scenarios.live import run as live
from scenarios.live.events import not_played
from scenarios.live.judge import of_the_run
from scenarios.live.load import add_journal
from scenarios.live.procs import start_emulators, stop_group
from scenarios.live.report import _load_markdown
from scenarios.spec.load import load_scenario
from scenarios.spec.masterdata import generate
from tests.live._services import ERP_POS, po_body

SMALL_NETWORK = Path(__file__).parents[1] / "small_network.yaml"  # the shared base
SCENARIO = f"""\
extends: {SMALL_NETWORK}
name: live_prices
description: A small network whose contract prices change a quarter of the way in.
seed: 11
contract_price_changes:
  - {{at_hours: 6, item_share: 0.25, factor: [1.02, 1.05]}}
slos:
  lag_p99_s: {{price: 900}}
"""
DURATION_S = 6.0
SPEEDUP = 1.25 * 86400 / 7.5  # the 1.25 days of the timeline in 7.5 s


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """The scenario's four emulators, already running when ``live`` is called."""
    folder = tmp_path_factory.mktemp("running")
    scenario = folder / "live_prices.yaml"
    scenario.write_text(SCENARIO)
    proc, urls = start_emulators(str(scenario), 11, SPEEDUP, folder)
    try:
        yield scenario, urls
    finally:
        stop_group(proc)


def run(scenario: Path, urls: dict[str, str], out: Path, *extra: str) -> dict[str, Any]:
    args = ["live", str(scenario), "--users", "4", "--spawn-rate", "4", "--duration",
            f"{DURATION_S:g}s", "--speedup", f"{SPEEDUP:g}", "--out", str(out),
            "--settle-max", "20s", *extra]  # fmt: skip
    for system, url in urls.items():
        args += [f"--{system}", url]
    code = live.main(args)
    results: dict[str, Any] = json.loads((out / "results.json").read_text())
    assert code == 0, results["violations"]
    return results


def changes_of(out: Path) -> list[dict[str, Any]]:
    lines = (out / "history.jsonl").read_text().splitlines()[1:]
    return [r for r in map(json.loads, lines) if r["type"] == "change"]


def po_numbers(changes: list[dict[str, Any]]) -> set[str]:
    return {c["entity"].split(":")[1] for c in changes if c["entity"].startswith("po_line:")}


def assert_prices_played(results: dict[str, Any], out: Path) -> None:
    owner = [c for c in changes_of(out) if (c["system"], c["field"]) == ("erp", "contract_price")]
    assert owner and all(c["t"] >= 0 for c in owner), "no contract-price change was played"
    assert results["live"]["contract_prices_changed"] == 10  # a quarter of the 40 items
    price = results["flows"]["price"]
    assert price["updates"] >= 1 and price["lag_s"]["n"] >= 1, price
    assert results["live"]["not_played"] == [] and results["live"]["fault_schedule_errors"] == []


def test_live_resets_running_emulators_or_judges_only_what_it_created(
    running: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    scenario, urls = running
    spec = load_scenario(str(scenario))
    body = po_body(generate(spec.network, 11), 0)
    stale = httpx.post(urls["erp"] + ERP_POS, json=body, headers={"Idempotency-Key": "stale"})
    assert stale.status_code == 201

    # by default the running emulators are reset: the PO raised before is gone
    first = run(scenario, urls, tmp_path / "first")
    first_pos = po_numbers(changes_of(tmp_path / "first"))
    journal = httpx.get(urls["erp"] + "/__admin/requests").json()
    assert first_pos and not [r for r in journal if r["idempotency_key"] == "stale"]
    created = first["load"]["journal"]["erp post_purchase_order"]
    assert len(first_pos) == created["writes"] - created["failures"]
    assert first["live"]["reset"] and first["live"]["entities_before_start"] == 0
    assert first["consistency"]["lost_updates"] == 0
    assert_prices_played(first, tmp_path / "first")
    hooks = httpx.get(urls["erp"] + "/__admin/webhooks").json()
    assert hooks["published"] > 0  # counted since the reset, not since the process began

    # --no-reset: the first run's POs are still there, and none of them is judged
    second = run(scenario, urls, tmp_path / "second", "--no-reset")
    second_pos = po_numbers(changes_of(tmp_path / "second"))
    assert second_pos and not second_pos & first_pos
    assert not second["live"]["reset"] and second["live"]["entities_before_start"] > 0
    assert second["consistency"]["lost_updates"] == 0
    assert_prices_played(second, tmp_path / "second")  # prices that existed, changed now


def change(t: float, system: str, entity: str, field: str, value: Any = 1) -> Change:
    return Change(t, system, entity, field, value, "cause", None)


def test_of_the_run_leaves_out_what_came_before_the_start() -> None:
    old, new, price = "po_line:P1:1", "po_line:P2:1", "price:S1:I1"
    history = [
        change(-5.0, "erp", old, "ordered_qty"),
        change(-1.0, "erp", price, "contract_price", 10.0),  # loaded before the start
        change(-0.5, "ap", f"{price}:EA", "ap_contract_price", 10.0),
        change(1.0, "supplier", old, "confirmed_qty"),  # an old PO, confirmed during the run
        change(1.1, "erp", old, "confirmed_qty"),
        change(2.0, "erp", new, "ordered_qty"),
        change(2.1, "supplier", new, "ordered_qty"),
        change(3.0, "erp", price, "contract_price", 10.5),  # a change during the run
        change(3.1, "ap", f"{price}:EA", "ap_contract_price", 10.5),
    ]
    reset, none_left_out = of_the_run(history, whole_entities=False)
    assert [c.t for c in reset] == [1.0, 1.1, 2.0, 2.1, 3.0, 3.1] and none_left_out == 0
    kept, left_out = of_the_run(history, whole_entities=True)
    assert [c.t for c in kept] == [2.0, 2.1, 3.0, 3.1] and left_out == 1


def test_non_2xx_writes_in_the_journals_count_as_failures() -> None:
    def entry(requests: int, failures: int) -> dict[str, Any]:
        return {"requests": requests, "failures": failures, "rps": 1.0, "p50_ms": 1.0,
                "p95_ms": 1.0, "p99_ms": 1.0}  # fmt: skip

    load = {
        "total": entry(130, 2),
        "endpoints": {
            "POST WMS /receipts": entry(100, 0),
            "POST ERP /purchaseOrders": entry(30, 2),
        },
        "over_time": [],
        "errors": [],
    }
    journal = {
        "wms receive": {"system": "wms", "operation": "receive", "writes": 100,
                        "failures": 60, "statuses": {"404": 60}},
        "erp post_purchase_order": {"system": "erp", "operation": "post_purchase_order",
                                    "writes": 30, "failures": 2, "statuses": {"503": 2}},
        "ap post_invoice": {"system": "ap", "operation": "post_invoice", "writes": 1,
                            "failures": 1, "statuses": {"409": 1}},
    }  # fmt: skip
    merged = add_journal(load, journal)
    receipts = merged["endpoints"]["POST WMS /receipts"]
    assert (receipts["failures"], receipts["locust_failures"], receipts["journal_failures"]) == (
        60,
        0,
        60,
    )
    assert merged["endpoints"]["POST ERP /purchaseOrders"]["failures"] == 2  # seen by both
    total = merged["total"]
    assert (total["failures"], total["locust_failures"], total["journal_failures"]) == (63, 2, 63)
    assert merged["journal"] == journal and load["total"]["failures"] == 2  # input untouched
    summary = _load_markdown(merged)
    assert "| wms receive | 100 | 60 | 404: 60 |" in summary


def test_what_cannot_be_played_live_is_named(tmp_path: Path) -> None:
    path = tmp_path / "spiky.yaml"
    path.write_text(
        SCENARIO.replace("name: live_prices", "name: spiky")
        + "core_faults:\n  crashes: [{at_hours: 3, down_minutes: 10}]\n"
        "  latency_spikes: [{at_hours: 5, minutes: 30, extra_ms: 400}]\n"
    )
    spec = load_scenario(str(path))
    ours = not_played(spec, core_is_ours=True)
    assert len(ours) == 1 and ours[0].startswith("core latency spike at 5 h (+400 ms for 30 min)")
    theirs = not_played(spec, core_is_ours=False)
    assert len(theirs) == 2 and theirs[1].startswith("core crash at 3 h")
