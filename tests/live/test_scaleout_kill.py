"""The scale-out core survives a worker's SIGKILL under load: 0 lost, 0 duplicates, converged.

The same with the ingress SIGKILLed instead (and restarted, as a supervisor would): what
it acknowledged is in the stream, what it did not the emulators send again.

The services of the crash soak (:class:`scenarios.plugin.services.LiveServices`: the four
emulators in one process) with the scale-out core in another: the ingress and two
workers on NATS JetStream and PostgreSQL (a stream prefix and a schema of this test's
own).  A buyer raises POs at a steady rate; 4 s in, one worker is SIGKILLed.  The other
takes over its partitions (the message it held comes back after the bus's ack wait) and
adopts its undelivered outbox rows.  Then the run settles and the emulators' histories are
judged by the project's checkers.  The injected defect: the same run with takeover off
(``--no-takeover``: the dead worker's partitions and rows stay orphaned) must lose updates.

Skipped without PostgreSQL or NATS; failed instead when ``SUPPLYSYNC_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from scenarios.plugin.services import LiveServices, LiveSettings
from scenarios.spec.load import load_scenario
from tests.sync_core.conftest import (
    nats_url,
    postgres_url,
    probe_nats,
    probe_postgres,
    reachable,
)

_WORKER = re.compile(r"^worker +pid (\d+)$", re.MULTILINE)


@dataclass
class Backends:
    store: str
    prefix: str
    bus: str


@pytest.fixture
def backends() -> Iterator[Backends]:
    """A schema and a stream prefix of this test's own, removed at its end."""
    from scenarios.live.serve_scaleout import fresh_backends

    pg = reachable(postgres_url(), probe_postgres)
    bus = reachable(nats_url(), probe_nats)
    store, prefix, remove = fresh_backends(pg, bus)
    yield Backends(store, prefix, bus)
    remove()


class ScaleoutServices(LiveServices):
    """The live services with the scale-out core (ingress + workers) as the core."""

    core_args: tuple[str, ...] = ()
    store_url = ""

    def _spawn_core(self) -> None:
        self._core.store_url = self.store_url
        self._core.extra = self.core_args
        super()._spawn_core()

    def worker_pids(self) -> list[int]:
        log = (self.out_dir / "core.log").read_text(errors="replace")
        return [int(pid) for pid in _WORKER.findall(log)]


@dataclass
class KillRun:
    pos: int = 0
    failures: list[str] = field(default_factory=list)
    killed: int | None = None
    results: dict[str, Any] = field(default_factory=dict)
    log: str = ""

    @property
    def consistency(self) -> dict[str, Any]:
        return dict(self.results["consistency"])

    @property
    def replica_updates(self) -> int:
        return sum(f["replica_updates"] for f in self.results["flows"].values())


def wait_for_workers(core: str, count: int, timeout_s: float = 60.0) -> bool:
    """True once the ingress sees ``count`` live workers (slots held)."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{core}/status", timeout=2).json().get("workers") == count:
                return True
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    return False


def kill_a_worker(
    backends: Backends,
    out: Path,
    *,
    takeover: bool,
    settle_max_s: float,
    victim: str = "worker",
) -> KillRun:
    """Two workers, POs at 4 a second for 10 s, worker 2 (or the ingress) SIGKILLed at 4 s;
    then judged.  The ingress is restarted at once, with two new workers (the old ones stop
    when they see it gone)."""
    settings = LiveSettings(scenario="regional_network", seed=1, speedup=86400.0, quiet_s=2.0,
                            settle_max_s=settle_max_s)  # fmt: skip
    spec = load_scenario("regional_network", seed=1)
    services = ScaleoutServices(settings, spec, out, "none", "scaleout_kill")
    services.store_url = backends.store
    services.core_args = ("--bus", backends.bus, "--bus-prefix", backends.prefix,
                          "--workers", "2") + (() if takeover else ("--no-takeover",))  # fmt: skip
    run = KillRun()
    try:
        services._start()
        assert wait_for_workers(services.core, 2), "the two workers did not join"
        started, rate, duration = time.monotonic(), 4.0, 10.0

        def buyer() -> None:
            n = 0
            while (due := n / rate) < duration:
                time.sleep(max(0.0, started + due - time.monotonic()))
                try:
                    services.create_po(timeout_s=30.0)
                    run.pos += 1
                except Exception as e:  # a refused PO fails the test, named
                    run.failures.append(repr(e))
                n += 1

        buying = threading.Thread(target=buyer, daemon=True)
        buying.start()
        time.sleep(max(0.0, started + 4.0 - time.monotonic()))
        pids = services.worker_pids()
        assert len(pids) == 2, f"two workers expected, the core log names {pids}"
        proc = services._core.proc
        assert proc is not None
        run.killed = pids[1] if victim == "worker" else proc.pid
        os.kill(run.killed, signal.SIGKILL)
        if victim == "ingress":
            proc.wait(timeout=10)
            services.start_core()  # healthy and subscribed again
        buying.join(timeout=duration + 60)
        run.results = services.judge(max_s=settle_max_s).results
        run.log = (out / "core.log").read_text(errors="replace")
        print(f"\nscale-out kill (takeover {'on' if takeover else 'off'}): {run.pos} POs, "
              f"consistency {run.consistency}", flush=True)  # fmt: skip
        return run
    finally:
        services.close()


def lost_and_doubled_nothing(backends: Backends, out: Path, victim: str) -> KillRun:
    """:func:`kill_a_worker` with takeover, ``victim`` killed: every PO placed, updates at
    the replicas, nothing lost or doubled, converged."""
    run = kill_a_worker(backends, out, takeover=True, settle_max_s=60.0, victim=victim)
    c = run.consistency
    assert run.killed is not None and not run.failures and run.pos >= 35, run
    assert run.replica_updates > 0  # evidence: updates did flow to the replicas
    assert (c["lost_updates"], c["duplicate_effects"], c["converged"]) == (0, 0, True), c
    return run


def test_killing_the_ingress_mid_load_loses_and_doubles_nothing(
    backends: Backends, tmp_path: Path
) -> None:
    run = lost_and_doubled_nothing(backends, tmp_path, victim="ingress")
    assert run.log.count("holds slot") == 4  # 2 + 2 new


def test_killing_one_of_two_workers_mid_load_loses_and_doubles_nothing(
    backends: Backends, tmp_path: Path
) -> None:
    run = lost_and_doubled_nothing(backends, tmp_path, victim="worker")
    # evidence of the takeover: after the kill the survivor consumes every partition
    assert re.search(r"slot \d consumes 32 partitions \(16 new, 0 given up\) of 1 live", run.log)


def test_without_takeover_the_dead_workers_partitions_are_lost(
    backends: Backends, tmp_path: Path
) -> None:
    """The injected defect: the checkers must see what an orphaned partition costs."""
    run = kill_a_worker(backends, tmp_path, takeover=False, settle_max_s=20.0)
    c = run.consistency
    assert run.killed is not None and run.replica_updates > 0
    assert c["lost_updates"] > 0 or not c["converged"], c
