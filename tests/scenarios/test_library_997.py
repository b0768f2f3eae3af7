"""997s in a simulated run: a partner that never sends one, one that rejects a share.

A short library story (``SHORT`` of ``test_library_runs``) with the suppliers'
functional-ack profile overridden the way users do it.  What the core decided
(its ``missing_997`` exceptions) is read from its store; everything else from
the run's history and results, as for any middleware.
"""

from __future__ import annotations

from typing import Any

import pytest

from scenarios.sim import network
from scenarios.sim.runner import Outcome, run_architecture
from scenarios.spec.load import load_scenario
from sync_core.store import MemoryStore
from tests.scenarios.test_library_runs import SHORT


def run(
    monkeypatch: pytest.MonkeyPatch,
    scenario: str = "partial_confirmation",
    architecture: str = "event",
    **overrides: Any,
) -> tuple[Outcome, MemoryStore]:
    """``scenario`` (short) under ``architecture``, and the core's store at its end."""
    stores: list[MemoryStore] = []

    class Kept(MemoryStore):
        def __init__(self, **kw: Any) -> None:
            super().__init__(**kw)
            stores.append(self)

    monkeypatch.setattr(network, "MemoryStore", Kept)
    spec = load_scenario(scenario, overrides={**SHORT, **overrides})
    outcome = run_architecture(spec, architecture)
    [store] = stores
    return outcome, store


def missing_997s(store: MemoryStore) -> list[dict[str, Any]]:
    return [
        dict(e.data or {})
        for e in store.entities("exception")
        if (e.data or {}).get("kind") == "missing_997"
    ]


def test_a_partner_that_never_sends_997s_leaves_every_850_overdue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outcome, store = run(monkeypatch, **{"suppliers.functional_acks": False})

    overdue = missing_997s(store)
    pos = outcome.results["volumes"]["purchase_orders"]
    assert len(overdue) >= pos > 0  # every 850 (each revision is one)
    assert all(x["open"] and x["deadline_s"] == 4 * 3600 for x in overdue)
    assert {x["partner"] for x in overdue} == {f"SUPP100{n}" for n in range(1, 7)}
    # the business went on: the 855s came all the same, nothing dead-lettered
    assert outcome.results["passed"], [s for s in outcome.results["slos"] if not s["passed"]]
    assert outcome.results["volumes"]["dead_letters"] == 0
    # the network journals every 850 it received, answered or not: no lag (not measured,
    # never 0), and each one unacknowledged, counted on the side that received it
    fa = outcome.results["functional_acks"]
    assert fa["partner_997s"]["interchanges"] == len(overdue)
    assert fa["partner_997s"]["lag_s"]["n"] == 0 and fa["partner_997s"]["lag_s"]["p50"] is None
    assert fa["partner_997s"]["unacknowledged"] == len(overdue)


def test_a_partner_that_rejects_a_share_of_850s_has_them_dead_lettered_with_its_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outcome, store = run(monkeypatch, **{"suppliers.fa_reject_rate": 0.05})

    letters = [m for m in outcome.history.messages if m.direction == "dead_lettered"]
    assert letters and len(letters) == len(store.dead_letters())
    for m in letters:
        assert m.message_id.startswith("997:SUPP100")
        assert m.detail is not None and "rejected by SUPP100" in m.detail
        assert "PO103 (segment" in m.detail and "invalid code value" in m.detail
    fa = outcome.results["functional_acks"]["partner_997s"]
    assert fa["rejected"] == len(letters)
    assert fa["accepted"] + fa["rejected"] == fa["interchanges"] == fa["lag_s"]["n"]
    assert fa["unacknowledged"] == 0
    assert missing_997s(store) == []  # rejected is answered: no 997 is missing


def test_with_997s_on_every_interchange_is_answered_both_ways(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outcome, store = run(monkeypatch)

    fa = outcome.results["functional_acks"]
    for name in ("partner_997s", "core_997s"):
        d = fa[name]
        assert d["interchanges"] > 0 and d["lag_s"]["n"] == d["accepted"] == d["interchanges"]
        assert (d["rejected"], d["unacknowledged"], d["pending_at_end"]) == (0, 0, 0)
    assert fa["core_997s"]["lag_s"]["p99"] < 60  # event-driven: the core answers at once
    assert fa["unmatched_997s"] == 0
    assert missing_997s(store) == [] and store.dead_letters() == []
