"""Injected defects: named, validated, and inert when none is set."""

from __future__ import annotations

import pytest

from scenarios.sim.network import simulate
from scenarios.spec.load import load_scenario
from sync_core.defects import Defects, trace_id

SHORT = {"duration_days": 0.4, "settle_days": 0.2, "demand.pos_per_day": 100, "network.items": 60}


def test_no_defect_is_the_correct_core() -> None:
    assert Defects().names == () and not Defects().engine
    assert Defects(drop_every_nth_ack=3).names == ("drop_every_nth_ack",)
    assert Defects(drop_every_nth_ack=3).engine and not Defects(stop_retrying=True).engine


@pytest.mark.parametrize("bad", [{"drop_every_nth_ack": -1}, {"ap_price_factor": 0.0}])
def test_a_defect_out_of_range_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        Defects(**bad)  # type: ignore[arg-type]


def test_an_empty_defect_set_changes_nothing_in_a_run() -> None:
    spec = load_scenario("regional_network", seed=7, overrides=SHORT)
    plain = simulate(spec, "event")
    run = simulate(spec, "event", defects=Defects())
    assert run.touched == frozenset() and run.volumes == plain.volumes
    assert run.history.changes == plain.history.changes
    assert run.history.messages == plain.history.messages


def test_a_defect_touches_what_it_breaks_and_says_so() -> None:
    spec = load_scenario("regional_network", seed=7, overrides=SHORT)
    run = simulate(spec, "event", defects=Defects(drop_every_nth_ack=2))
    acked = {c.entity.split(":")[1] for c in run.history.changes if c.field == "ack_status"}
    at_erp = {
        c.entity.split(":")[1]
        for c in run.history.changes
        if c.system == "erp" and c.field == "ack_status"
    }
    dropped = {trace_id(po) for po in acked - at_erp}
    assert dropped and run.touched == dropped  # every 2nd acknowledgment, and only those
    assert len(at_erp) >= len(dropped)
