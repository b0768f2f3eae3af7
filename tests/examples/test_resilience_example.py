"""An example resilience suite, written as a team would write it in its own repository.

With supplysync installed, the ``supplysync`` fixture is there (pytest11 entry point); each
test runs a library scenario in simulation, shortened to half a day of demand so the whole
file takes seconds, and fails the build when an SLO breaks.  On failure pytest prints the
violations, the seed and the run's report::

    pytest tests/examples --supplysync-out out/ci     # keep results.json, history, reports
    pytest tests/examples --supplysync-seed 7         # the same suite on another seed
"""

from __future__ import annotations

import pytest

# Half a day of demand (about 40 POs), on a small item catalogue: CI-sized.
SHORT = {"duration_days": 0.5, "demand.pos_per_day": 120, "network.items": 60}
# The ERP goes down at 09:00 for two hours, in the middle of the buyers' morning.
ERP_DOWN = {**SHORT, "faults.erp.outage_at_hours": 9, "faults.erp.outage_minutes": 120}


def test_event_driven_sync_meets_the_partial_confirmation_slos(supplysync):
    result = supplysync.run("partial_confirmation", architecture="event", **SHORT)
    result.assert_slos()
    result.assert_lag("po_acknowledgment", p99_s=60)
    assert result.consistency.duplicate_effects == 0


def test_a_nightly_batch_would_not(supplysync):
    result = supplysync.run("partial_confirmation", architecture="batch", **SHORT)
    assert not result.passed
    assert result.flows["po_dispatch"].lag.p99 > 3600  # POs wait for the 02:00 run


@pytest.mark.parametrize("architecture", ["event", "hybrid"])
def test_erp_outage_loses_nothing_and_recovers_within_an_hour(supplysync, architecture):
    result = supplysync.run("erp_outage", architecture=architecture, **ERP_DOWN)
    result.assert_no_lost_updates()
    result.assert_no_duplicate_effects()
    result.assert_converged(within_s=3600)


def test_webhook_chaos_hybrid_reconciles_dropped_events(supplysync):
    result = supplysync.run("webhook_chaos", architecture="hybrid", **SHORT)
    result.assert_slos()
