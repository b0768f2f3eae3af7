"""``uom_mismatch`` run: every invoice billed by the each is held UOM by the three-way match.

The ground truth is the supplier network's journal (``invoiced_uom`` on each PO line it
billed by the each, cause ``810:{partner}:{invoice}``), never AP's opinion of itself; AP's
verdict is its ``holds``.  A partner ``SUPP1xxx`` is vendor ``S1xxx`` in AP.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from analysis.report_tables import table_rows
from emulators.ap._matching import Matching
from scenarios.sim.runner import Outcome, run_architecture
from scenarios.spec.load import library_names, load_scenario

SHORT = {"duration_days": 2, "demand.pos_per_day": 60, "network.items": 40, "network.drugs": 40}


def run() -> Outcome:
    return run_architecture(load_scenario("uom_mismatch", overrides=SHORT), "event")


@cache
def honest() -> Outcome:
    return run()


def billed_by_each(o: Outcome) -> set[str]:
    """AP's entity of each invoice the supplier billed a line of by the each."""
    out = set()
    for c in o.history.changes:
        if c.system == "supplier" and c.field == "invoiced_uom":
            _, partner, number = c.cause.split(":")
            out.add(f"invoice:S{partner.removeprefix('SUPP')}:{number}")
    return out


def held(o: Outcome, code: str) -> set[str]:
    return {
        c.entity
        for c in o.history.changes
        if c.system == "ap" and c.field == "holds" and code in (c.value or ())
    }


def invoices(o: Outcome) -> set[str]:
    return {c.entity for c in o.history.changes if c.system == "ap" and c.field == "match_status"}


def test_every_invoice_billed_by_the_each_is_held_uom_and_no_other() -> None:
    o = honest()
    mismatched, all_invoices = billed_by_each(o), invoices(o)
    assert mismatched and all_invoices - mismatched  # both samples non-empty
    assert held(o, "UOM") == mismatched
    statuses = {
        c.entity: c.value
        for c in o.history.changes
        if c.system == "ap" and c.field == "match_status"
    }
    assert all(statuses[e] == "on_hold" for e in mismatched)  # never approved, never paid
    # results.json counts them where the run's invoice exceptions are reported
    found = o.results["invoice_exceptions"]["uom_mismatch"]
    lines = sum(
        1 for c in o.history.changes if c.system == "supplier" and c.field == "invoiced_uom"
    )
    assert found["billed_lines"] == found["caught"] == found["flagged_lines"] == lines > 0
    assert found["invoices"] == len(mismatched) and found["missed"] == 0
    assert found["missed_examples"] == []
    # and the report's side-by-side table says so
    assert dict(table_rows([o.judged]))["UoM mismatches caught / billed"] == [f"{lines} / {lines}"]
    for example in found["examples"]:
        assert example["invoice"] in mismatched
        assert example["invoiced_uom"] == "EA" and example["ordered_uom"] in ("CA", "BX")
        assert example["po_line"].startswith("po_line:")
    assert o.results["passed"], [s for s in o.results["slos"] if not s["passed"]]
    assert o.results["volumes"]["dead_letters"] == 0  # every 810 (N4 ids too) was read


def test_a_matcher_that_ignores_units_lets_the_mismatch_through_and_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Matching, "uom_mismatches", lambda self, invoice: [])
    o = run()
    mismatched = billed_by_each(o)
    assert mismatched and held(o, "UOM") == set()
    found = o.results["invoice_exceptions"]["uom_mismatch"]
    assert found["caught"] == 0 and found["missed"] == found["billed_lines"] > 0
    row = dict(table_rows([o.judged]))["UoM mismatches caught / billed"]
    assert row == [f"0 / {found['billed_lines']}"]
    assert {e["invoice"].split(":")[-1] for e in found["missed_examples"]} <= {
        e.split(":")[-1] for e in mismatched
    }
    # what it did instead: eaches counted as cases, a quantity variance (or worse, paid)
    assert held(o, "QTY ORD") & mismatched or held(o, "QTY REC") & mismatched


def test_a_run_without_the_fault_has_no_invoice_exceptions_key() -> None:
    spec = load_scenario(
        "uom_mismatch", overrides={**SHORT, "suppliers.invoice_uom_mismatch_rate": 0.0}
    )
    o = run_architecture(spec, "event")
    assert invoices(o) and "invoice_exceptions" not in o.results
    assert "UoM mismatches caught / billed" not in dict(table_rows([o.judged]))
    assert held(o, "UOM") == set()


def test_the_readme_lists_every_library_scenario_with_its_question() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    table = readme.split("| scenario | the question it asks |", 1)[1].split("\n\n", 1)[0]
    listed = {row.split("`")[1] for row in table.splitlines() if row.startswith("| `")}
    assert listed == set(library_names())
