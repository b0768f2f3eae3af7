"""How a simulated run uses the interpreter: what its speed rests on, held in place.

The simulation pauses CPython's cyclic collector for the length of a run
(``simulation._collector_paused``): that is only sound while a run makes next
to no cyclic garbage, so the first test runs every architecture with the
collector on and eager, and fails when a change makes cycles as it works.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from scenarios.sim import network
from scenarios.spec.load import load_scenario

ARCHITECTURES = ("event", "hybrid", "batch", "api")


@pytest.mark.parametrize("story", ["webhook_chaos", "crash_recovery"])
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_a_run_leaves_no_cyclic_garbage_for_the_paused_collector(
    story: str, architecture: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # drops, duplicates, reordering and crashes: the code paths with retries and restarts
    spec = load_scenario(
        story,
        overrides={
            "duration_days": 1,
            "settle_days": 0.25,
            "demand.pos_per_day": 300,
            "network.items": 120,
            "faults.core.crashes": [
                {"at_hours": 10, "down_minutes": 20},
                {"at_hours": 14.5, "down_minutes": 0},
            ],
        },
    )
    collected: list[int] = []

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop":
            collected.append(info["collected"])

    @contextlib.contextmanager
    def eager() -> Iterator[None]:
        before = gc.get_threshold()
        gc.collect()
        # what lives before the run is not the run's: frozen, so the sweeps look at the run
        # alone, and left frozen, as tests/conftest.py leaves what the session loaded
        gc.freeze()
        gc.set_threshold(2_000, 5, 5)
        gc.callbacks.append(count)
        try:
            yield
        finally:
            gc.callbacks.remove(count)
            gc.set_threshold(*before)

    monkeypatch.setattr(network, "_collector_paused", eager)
    run = network.simulate(spec, architecture)

    assert run.volumes["purchase_orders"] > 200 and run.volumes["requests_sent"] > 100
    assert run.volumes["core_crashes"] == 2
    assert len(collected) > 10  # the collector looked, often
    # a crash may strand a few objects (the dead consumer waiting for ever); nothing
    # that grows with the traffic may be left to the collector
    assert sum(collected) <= 10 * run.volumes["core_crashes"], f"{sum(collected)} in cycles"


def test_the_collector_is_on_again_after_a_run() -> None:
    spec = load_scenario("regional_network", overrides={"duration_days": 0.05})
    assert gc.isenabled()
    network.simulate(spec, "event")
    assert gc.isenabled()
