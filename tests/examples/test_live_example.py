"""An example live suite: the real services, started once for this module.

The ``supplysync_live`` fixture starts the four emulators and the sync core as processes on
free 127.0.0.1 ports, with the network and supplier behaviour of ``regional_network`` (the
suppliers run a day a second), and stops them when the module ends.  Tests act as buyers and
as the operator of the fault injector; ``judge()`` judges every system's own history since the
services started, so the whole module is one run, and a later test sees what earlier ones did.
Keep a test that breaks things on purpose in a module of its own.

    pytest tests/examples/test_live_example.py --supplysync-out out/ci-live
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.supplysync_live("regional_network")


def test_purchase_orders_reach_every_system_once(supplysync_live):
    supplysync_live.create_pos(5)
    result = supplysync_live.judge()
    result.assert_no_lost_updates()
    result.assert_no_duplicate_effects()
    result.assert_converged()
    assert result.flows["po_acknowledgment"].replica_updates >= 10  # ERP and WMS, every line


def test_a_core_crash_loses_nothing_and_doubles_nothing(supplysync_live):
    supplysync_live.kill_core()  # SIGKILL: whatever was in flight stays in its store
    supplysync_live.create_pos(3)  # the ERP takes them; its webhooks wait for the core
    supplysync_live.start_core()  # same store file
    result = supplysync_live.judge()
    assert ("core", "crash") in {(f.system, f.kind) for f in result.faults}
    result.assert_no_lost_updates()
    result.assert_no_duplicate_effects()
    result.assert_converged(within_s=30)
