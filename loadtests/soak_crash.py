"""Crash soak: the live core SIGKILLed at random moments under steady load, then judged.

Theory of operation: the same services as the ``supplysync_live`` pytest fixture
(:class:`scenarios.plugin.services.LiveServices`: the four emulators in one process, the
core — ``python -m scenarios.live.serve_core`` — in another, on a SQLite store file, all on
127.0.0.1).  A buyer thread raises purchase orders at the ERP at a steady rate
(``--rate`` a second, each retried with its idempotency key until the ERP takes it)
for ``--duration`` seconds.  Meanwhile the core is SIGKILLed ``--kills`` times, at
moments drawn from ``random.Random(--seed)``: one uniformly inside each of ``--kills``
equal slots of the run (so two kills are never closer than the core takes to come
back), and restarted at once on the same store file.  Suppliers acknowledge, ship and
bill in seconds (scenario time scaled by ``--speedup``), so at every kill there are
webhooks arriving, reads and writes in flight and retries waiting.

Then the run settles (no emulator's history grows, no webhook pending, the core's
queue and outbox empty; at most ``--settle-max``) and the emulators' histories are
judged by the project's checkers (:meth:`LiveServices.judge`, the same analysis as
every run): lost updates, duplicate effects, convergence.  Exit 0 when 0 lost, 0
duplicate effects and converged with evidence (some owner updates reached replicas),
else 1.  The figures: POs, PO lines, history records, webhooks delivered, the core's
messages (summed over its lives, sampled just before each kill), kills, restart time,
time to settle.  Bounded: ``--duration`` plus at most ``--settle-max`` plus start-up.

Run: ``python -m loadtests.soak_crash`` (10 kills in 120 s, 2 POs a second, seed 1);
a smoke version runs in the tests (2 kills in 15 s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SoakResult", "kill_times", "main", "run_soak"]

_REDELIVERED = re.compile(r"re-delivering (\d+) pending outbox rows")


@dataclass
class SoakResult:
    """What a soak did and how it was judged."""

    seed: int
    duration_s: float
    rate_per_s: float
    pos: int = 0
    po_lines: int = 0
    po_failures: list[str] = field(default_factory=list)
    kills: list[float] = field(default_factory=list)  # seconds into the load
    restart_s: list[float] = field(default_factory=list)  # kill to healthy again
    core_messages: int = 0  # messages the core handled, summed over its lives (sampled)
    webhooks_delivered: int = 0
    history_records: int = 0
    settle_s: float = 0.0
    lost: int | None = None
    duplicate_effects: int | None = None
    reposts: int | None = None
    converged: bool | None = None
    replica_updates: int = 0
    dead_letters: int | None = None
    recovered_rows: int = 0  # outbox rows the restarted cores found pending and sent again
    out_dir: str = ""

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.duplicate_effects == 0
            and bool(self.converged)
            and self.replica_updates > 0
            and not self.po_failures
            and self.dead_letters == 0
        )

    def lines(self) -> list[str]:
        restart = sorted(self.restart_s)
        return [
            f"crash soak, seed {self.seed}: {len(self.kills)} SIGKILLs in {self.duration_s:g} s "
            f"at {self.rate_per_s:g} POs/s",
            f"  kills at (s): {', '.join(f'{t:.1f}' for t in self.kills)}",
            f"  restart (kill -> healthy): median {restart[len(restart) // 2]:.2f} s, "
            f"max {restart[-1]:.2f} s"
            if restart
            else "  restart: none",
            f"  POs created: {self.pos} ({self.po_lines} lines; {len(self.po_failures)} refused)",
            f"  core messages handled (over {len(self.kills) + 1} lives): {self.core_messages}; "
            f"webhooks delivered: {self.webhooks_delivered}",
            f"  history records judged: {self.history_records}; "
            f"replica updates: {self.replica_updates}",
            f"  outbox rows found pending at restarts and sent again: {self.recovered_rows}",
            f"  settled in {self.settle_s:.1f} s after the load",
            f"  lost updates: {self.lost}; duplicate effects: {self.duplicate_effects} "
            f"(re-posts of the same value: {self.reposts}); converged: {self.converged}; "
            f"dead letters: {self.dead_letters}",
            f"  verdict: {'PASS' if self.ok else 'FAIL'}  (artefacts: {self.out_dir})",
        ]


def kill_times(seed: int, kills: int, duration_s: float, margin_s: float = 1.5) -> list[float]:
    """``kills`` moments in ``[0, duration_s)``, one uniformly inside each equal slot,
    at least ``margin_s`` from the slot's edges (room for the core to come back)."""
    rng = random.Random(f"{seed}/soak_crash/kills")
    slot = duration_s / kills
    if slot <= 2 * margin_s:
        raise ValueError(f"{kills} kills in {duration_s:g} s leave no room to restart")
    return [k * slot + rng.uniform(margin_s, slot - margin_s) for k in range(kills)]


def _core_messages(services: Any) -> int:
    import httpx

    try:
        status = httpx.get(f"{services.core}/status", timeout=2).json()
        return int(status.get("messages_handled", 0))
    except (httpx.HTTPError, ValueError, TypeError):
        return 0


def run_soak(
    *,
    kills: int = 10,
    duration_s: float = 120.0,
    rate_per_s: float = 2.0,
    seed: int = 1,
    scenario: str = "regional_network",
    speedup: float = 86400.0,
    settle_max_s: float = 120.0,
    out: Path | None = None,
    echo: Any = None,
) -> SoakResult:
    """One soak (see the module docstring); ``echo`` gets progress lines."""
    from scenarios.plugin.services import LiveServices, LiveSettings
    from scenarios.spec.load import load_scenario

    say = echo or (lambda line: None)
    folder = out or Path(tempfile.mkdtemp(prefix="soak-crash-"))
    folder.mkdir(parents=True, exist_ok=True)
    settings = LiveSettings(scenario=scenario, seed=seed, speedup=speedup,
                            quiet_s=2.0, settle_max_s=settle_max_s)  # fmt: skip
    spec = load_scenario(scenario, seed=seed)
    result = SoakResult(seed, duration_s, rate_per_s, out_dir=str(folder))
    moments = kill_times(seed, kills, duration_s)
    services = LiveServices(settings, spec, folder, "none", "soak_crash")
    try:
        services._start()
        say(f"services up: {services.urls}")
        orders: list[str] = []
        started = time.monotonic()

        def buyer() -> None:  # steady: PO n is due at n / rate, whatever the last one took
            n = 0
            while (due := n / rate_per_s) < duration_s:
                time.sleep(max(0.0, started + due - time.monotonic()))
                try:
                    orders.append(services.create_po(timeout_s=30.0))
                except Exception as e:  # counted and shown: a refused PO fails the soak
                    result.po_failures.append(repr(e))
                n += 1

        buying = threading.Thread(target=buyer, name="soak-buyer", daemon=True)
        buying.start()
        for at in moments:
            time.sleep(max(0.0, started + at - time.monotonic()))
            result.core_messages += _core_messages(services)
            t_kill = time.monotonic()
            services.kill_core()
            services.start_core()  # waits until healthy and subscribed again
            result.kills.append(round(t_kill - started, 2))
            result.restart_s.append(time.monotonic() - t_kill)
            say(f"kill {len(result.kills)} at {t_kill - started:.1f} s, back in "
                f"{result.restart_s[-1]:.2f} s; {len(orders)} POs so far")  # fmt: skip
        buying.join(timeout=duration_s + 60)
        load_end = time.monotonic()
        result.pos = len(orders)
        say(f"load over: {result.pos} POs; settling (at most {settle_max_s:g} s)")
        judged = services.judge(max_s=settle_max_s)
        result.settle_s = time.monotonic() - load_end
        result.core_messages += _core_messages(services)
        _record_verdict(result, judged.results, services, folder)
        (folder / "soak.json").write_text(json.dumps(_as_json(result), indent=2))
        return result
    finally:
        services.close()


def _record_verdict(
    result: SoakResult, results: dict[str, Any], services: Any, folder: Path
) -> None:
    """Copy the judged results, the core's dead letters and the rows its restarts sent
    again into ``result``."""
    import httpx

    consistency = results["consistency"]
    result.lost = consistency["lost_updates"]
    result.duplicate_effects = consistency["duplicate_effects"]
    result.reposts = consistency.get("reposts", consistency.get("duplicate_reposts"))
    result.converged = consistency["converged"]
    result.replica_updates = sum(f["replica_updates"] for f in results["flows"].values())
    result.history_records = results.get("volumes", {}).get("history_records", 0)
    result.po_lines = results.get("volumes", {}).get("po_lines", 0)
    webhooks = results.get("live", {}).get("webhooks", {})
    result.webhooks_delivered = sum(int(w.get("delivered", 0)) for w in webhooks.values())
    status = httpx.get(f"{services.core}/status", timeout=5).json()
    result.dead_letters = int(status.get("dead_letters", -1))
    log = (folder / "core.log").read_text(errors="replace")
    result.recovered_rows = sum(int(n) for n in _REDELIVERED.findall(log))


def _as_json(result: SoakResult) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        **asdict(result),
        "ok": result.ok,
        "at": dt.datetime.now().isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtests.soak_crash", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--kills", type=int, default=10, help="SIGKILLs of the core (default 10)")
    p.add_argument("--duration", type=float, default=120.0, help="seconds of load (120)")
    p.add_argument("--rate", type=float, default=2.0, help="POs a second (2)")
    p.add_argument("--seed", type=int, default=1, help="the kill moments and the network (1)")
    p.add_argument("--scenario", default="regional_network", help="network and suppliers")
    p.add_argument("--settle-max", type=float, default=120.0, help="longest settle wait (120)")
    p.add_argument("--out", type=Path, help="keep the artefacts here (default: a temp folder)")
    args = p.parse_args(argv)
    if args.kills < 1 or args.duration <= 0 or args.rate <= 0:
        p.error("--kills, --duration and --rate must be > 0")
    began = time.monotonic()
    result = run_soak(
        kills=args.kills,
        duration_s=args.duration,
        rate_per_s=args.rate,
        seed=args.seed,
        scenario=args.scenario,
        settle_max_s=args.settle_max,
        out=args.out,
        echo=lambda line: print(line, flush=True),
    )
    print("\n".join(result.lines()))
    print(f"  wall time: {time.monotonic() - began:.0f} s")
    if result.po_failures:
        print(f"  first refused PO: {result.po_failures[0]}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
