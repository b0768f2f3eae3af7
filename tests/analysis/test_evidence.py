"""A verdict needs evidence: a statistic with no sample is *not measured* (null, never 0),
an SLO on it fails unless the scenario allows it, and the coverage table says per fact
whether the run exercised and carried it."""

from __future__ import annotations

import json

from analysis.history import Change
from analysis.judged import JudgedRun
from analysis.metrics import judge
from analysis.report import summary_markdown
from analysis.results import Slos, build_results

LINE = "po_line:4500000001:1"


def results(changes: list[Change], slos: Slos, end_s: float = 1000.0) -> dict:
    judgement = judge(changes, header={"end_s": end_s})
    doc = build_results(
        judgement,
        scenario="hand_built",
        architecture="event",
        seed=1,
        simulated_seconds=end_s,
        slos=slos,
        volumes={},
    )
    json.dumps(doc, allow_nan=False)  # what results.json holds: no NaN stands in for "none"
    return doc


def by_name(doc: dict) -> dict[str, dict]:
    return {e["name"]: e for e in doc["slos"]}


ORDERED = [
    Change(10, "erp", LINE, "ordered_qty", 10, "erp:create"),
    Change(10, "erp", LINE, "ordered_price", 4.5, "erp:create"),
]
SENT = [
    Change(11, "supplier", LINE, "ordered_qty", 10, "850:1"),
    Change(12, "ap", LINE, "ap_ordered_qty", 10, "ap:po:1"),
    Change(12, "ap", LINE, "ap_unit_price", 4.5, "ap:po:1"),
]


def test_a_lag_slo_on_a_flow_the_run_never_exercised_fails_as_not_measured() -> None:
    doc = results([*ORDERED, *SENT], Slos(lag_p99_s={"po_acknowledgment": 900}))
    entry = by_name(doc)["po_acknowledgment p99 lag <= 900 s"]
    assert (entry["passed"], entry["status"], entry["samples"]) == (False, "not measured", 0)
    assert entry["detail"] == (
        "not measured: the run made no owner update of po_acknowledgment (not exercised)"
    )
    assert doc["passed"] is False
    lag = doc["flows"]["po_acknowledgment"]["lag_s"]
    assert lag == {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}


def test_a_lag_slo_whose_updates_never_arrived_names_the_counts() -> None:
    # the ERP made 2 updates of po_dispatch; no replica reflected either before the end,
    # and both were made within the path's worst case (pending, not lost)
    doc = results(ORDERED, Slos(lag_p99_s={"po_dispatch": 300}, converged=False), end_s=20)
    entry = by_name(doc)["po_dispatch p99 lag <= 300 s"]
    assert entry["status"] == "not measured" and not entry["passed"]
    assert entry["detail"].startswith(
        "not measured: 0 of 2 owner updates of po_dispatch reached any replica;"
    )
    assert doc["flows"]["po_dispatch"]["updates"] == 2


def test_allow_unmeasured_lets_an_empty_sample_pass_and_says_so() -> None:
    slos = Slos(lag_p99_s={"po_acknowledgment": 900}, allow_unmeasured=True)
    entry = by_name(results([*ORDERED, *SENT], slos))["po_acknowledgment p99 lag <= 900 s"]
    assert (entry["passed"], entry["status"]) == (True, "not measured")
    assert entry["detail"].endswith("(allowed: allow_unmeasured)")


def test_a_measured_slo_carries_its_sample_size() -> None:
    doc = results([*ORDERED, *SENT], Slos(lag_p99_s={"po_dispatch": 300}))
    entry = by_name(doc)["po_dispatch p99 lag <= 300 s"]
    assert (entry["passed"], entry["status"], entry["samples"]) == (True, "met", 3)
    assert entry["detail"] == "measured p99 2 s over 3 replica updates"
    assert doc["flows"]["po_dispatch"]["lag_s"]["n"] == 3
    assert by_name(doc)["lost updates <= 0"]["samples"] == 3


def test_nothing_lost_on_a_run_that_settled_nothing_is_not_measured() -> None:
    doc = results([], Slos())
    lost, converged = by_name(doc)["lost updates <= 0"], by_name(doc)["converged"]
    assert (lost["status"], lost["passed"]) == ("not measured", False)
    assert (converged["status"], converged["passed"]) == ("not measured", False)
    assert doc["consistency"]["agreement"] is None
    assert set(doc["t_visibility"].values()) == {None}


def test_coverage_says_per_fact_what_the_run_exercised_and_carried() -> None:
    # ordered_qty reached both its replicas; ordered_price's only replica (AP) never saw it
    partly = [*ORDERED, *SENT[:2]]
    coverage = results(partly, Slos(converged=False))["coverage"]
    assert coverage["ordered_qty"]["status"] == "carried"
    assert coverage["ordered_qty"]["replicas"]["supplier.ordered_qty"] == {
        "carried": True, "updates": 1, "lost": 0, "pending": 0,
    }  # fmt: skip
    assert coverage["ordered_price"]["status"] == "not carried"
    assert coverage["ordered_price"]["replicas"]["ap.ap_unit_price"]["lost"] == 1
    assert coverage["confirmed_qty"] == {
        "flow": "po_acknowledgment",
        "owner": "supplier.confirmed_qty",
        "owner_updates": 0,
        "replicas": {
            "erp.confirmed_qty": {"carried": True, "updates": 0, "lost": 0, "pending": 0},
            "wms.expected_qty": {"carried": True, "updates": 0, "lost": 0, "pending": 0},
        },
        "status": "not exercised",
    }
    only_supplier = [*ORDERED, SENT[0]]
    doc = results(only_supplier, Slos(converged=False))
    assert doc["coverage"]["ordered_qty"]["status"] == "partly carried"
    assert doc["consistency"]["not_carried"] == [
        "ordered_qty: ap.ap_ordered_qty",
        "ordered_price: ap.ap_unit_price",
    ]


def test_the_summary_says_not_measured_and_shows_coverage() -> None:
    judgement = judge([*ORDERED, *SENT], header={"end_s": 1000.0})
    doc = build_results(
        judgement,
        scenario="hand_built",
        architecture="event",
        seed=1,
        simulated_seconds=1000.0,
        slos=Slos(lag_p99_s={"po_acknowledgment": 900}),
        volumes={},
    )
    text = summary_markdown([JudgedRun(doc, judgement)])
    assert "| SLOs | violated (1 not measured) |" in text
    assert "| ordered_price | carried (1 owner updates) |" in text
    assert "| confirmed_qty | not exercised (0 owner updates) |" in text
    assert "violates `po_acknowledgment p99 lag <= 900 s`: not measured:" in text
