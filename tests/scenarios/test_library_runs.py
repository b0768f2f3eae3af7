"""Every library story runs, and tells the architectures apart the way its description says.

Each scenario is shortened through the same dotted-path overrides users have (a day of
demand at a reduced rate, its fault moved into that day), so the whole library runs in CI
in about a minute.  The event-driven core and the hybrid meet every story's SLOs; the
point-to-point ``api`` baseline loses updates under outages and chaotic webhooks, and
re-posts documents AP already holds (reported apart: they count nothing twice).  What
dropped webhooks never said, ``event`` finds by the gaps in the feeds' numbering and the
hybrid by its reconciliation too.  And the event core reads a PO once per revision, where
the point-to-point baseline reads it again at every announcement.
"""

from __future__ import annotations

from functools import cache, partial
from typing import Any

import pytest

from scenarios.sim import network
from scenarios.sim.runner import Outcome, run_architecture
from scenarios.spec.load import library_names, load_scenario
from sync_core.engine import EngineConfig

SHORT: dict[str, Any] = {
    "duration_days": 1,
    "settle_days": 1.5,
    "demand.pos_per_day": 150,
    "network.items": 120,
}
SHIFT: dict[str, dict[str, Any]] = {  # each story's fault, moved into the shortened run
    "erp_outage": {"faults.erp.outage_at_hours": 10},
    "supplier_network_outage": {"faults.supplier.outage_at_hours": 9},
    "crash_recovery": {
        "faults.core.crashes": [
            {"at_hours": 10, "down_minutes": 2},
            {"at_hours": 14.5, "down_minutes": 0},
        ]
    },
    "price_change_propagation": {
        "contract_price_changes": [{"at_hours": 10, "item_share": 0.2, "factor": [0.97, 1.08]}]
    },
    # the throttle only bites at the story's own demand: keep it, for half a day
    "rate_limit_pressure": {"duration_days": 0.5, "demand.pos_per_day": 1500},
}


@cache
def outcome(name: str, architecture: str) -> Outcome:
    spec = load_scenario(name, overrides={**SHORT, **SHIFT.get(name, {})})
    return run_architecture(spec, architecture)


def failed(o: Outcome) -> list[str]:
    return [f"{s['name']}: {s['detail']}" for s in o.results["slos"] if not s["passed"]]


def test_the_library_has_every_story_the_issue_names() -> None:
    assert set(library_names()) == {
        "regional_network", "partial_confirmation", "erp_outage", "supplier_network_outage",
        "backorder_storm", "price_change_propagation", "invoice_exceptions", "webhook_chaos",
        "rate_limit_pressure", "crash_recovery", "bill_only_implants", "erp_release",
        "silent_partner", "uom_mismatch", "change_orders",
    }  # fmt: skip


@pytest.mark.parametrize("name", library_names())
def test_the_hybrid_core_meets_every_story_s_slos(name: str) -> None:
    o = outcome(name, "hybrid")
    assert o.results["passed"], failed(o)
    assert o.results["volumes"]["purchase_orders"] > 0


@pytest.mark.parametrize("name", library_names())
def test_the_event_core_meets_every_story_s_slos(name: str) -> None:
    o = outcome(name, "event")
    assert o.results["passed"], failed(o)


@pytest.mark.parametrize("name", ["erp_outage", "supplier_network_outage", "webhook_chaos"])
def test_point_to_point_calls_lose_updates_under_outages_and_chaos(name: str) -> None:
    c = outcome(name, "api").results["consistency"]
    assert not outcome(name, "api").results["passed"]
    assert c["lost_updates"] > 0


def test_point_to_point_re_posts_are_reported_apart_from_duplicate_effects() -> None:
    """``api`` re-reads a PO on the echo of its own writes and sends AP its lines again:
    thousands of documents applied twice, each with the value AP already had.  They are
    re-posts, counted apart; none counted a quantity twice, so none is a duplicate effect."""
    for name in ("partial_confirmation", "crash_recovery"):
        results = outcome(name, "api").results
        c = results["consistency"]
        assert c["reposts"] > 1000 and c["duplicate_effects"] == 0, name
        example = results["violations"]["reposts"][0]
        assert example["replica"].startswith("ap.") and "each time" in example["explanation"]
        assert outcome(name, "event").results["consistency"]["reposts"] == 0, name


def test_dropped_webhooks_are_found_by_event_s_gap_detection_and_by_reconciliation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for architecture in ("event", "hybrid"):
        o = outcome("webhook_chaos", architecture)
        assert o.results["consistency"]["lost_updates"] == 0, architecture
        pulls = [
            m for m in o.history.messages if m.operation == "mailbox" and m.direction == "sent"
        ]
        assert pulls, f"{architecture} never pulled the supplier mailbox"
    # the same run with the engine's gap detection configured off (no numbered feeds):
    # what was dropped is lost
    monkeypatch.setattr(network, "EngineConfig", partial(EngineConfig, feeds={}))
    unnumbered = run_architecture(load_scenario("webhook_chaos", overrides=SHORT), "event").results
    lost = unnumbered["violations"]["lost"]
    assert unnumbered["consistency"]["lost_updates"] > 0 and lost
    assert all(v["explanation"] for v in lost)  # each names the entity, values and times


def test_the_faults_really_happen() -> None:
    throttled = outcome("rate_limit_pressure", "event").history.messages
    assert sum(1 for m in throttled if m.status == 429) > 0
    outage = outcome("erp_outage", "event").history
    assert [(f.system, f.kind) for f in outage.faults] == [("erp", "outage")]
    assert any(m.status == 503 for m in outage.messages)
    crashed = outcome("crash_recovery", "event")
    assert crashed.results["volumes"]["core_crashes"] == 2


def test_the_core_does_not_read_back_the_purchase_orders_its_own_writes_changed() -> None:
    """The ERP announces every change of a PO, the core's own acknowledgments and receipts
    too.  The core subscribes to the others only, so it reads each PO once per revision;
    the point-to-point baseline takes every announcement and reads every time."""
    spec = load_scenario("regional_network", overrides={"duration_days": 0.5, "settle_days": 0.5})

    def reads(architecture: str) -> tuple[int, int]:
        run = network.simulate(spec, architecture)
        sent = [m for m in run.history.messages if m.direction == "sent"]
        po_reads = sum(m.operation == "get_purchase_order" for m in sent)
        return po_reads, run.volumes["purchase_orders"]

    event_reads, pos = reads("event")
    api_reads, _ = reads("api")
    assert pos > 50
    assert event_reads == pos  # no revisions in this story: one read a PO
    assert api_reads > 2 * pos  # creation, acknowledgment and each receipt
