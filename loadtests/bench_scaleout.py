"""Benchmark: the scale-out core's highest PO rate at p99 ack lag <= 1 s, by worker count,
beside the single-process SQLite core in the same run; and the figures of a projection.

Theory of operation: the live throughput benchmark's run (:mod:`loadtests.bench_live`: the
purchase-order cycle alone, Locust stepping the PO rate up, each step judged from the run's
own history: *sustained* when it reached 90 % of its target with 0 failures, p99 ack lag
<= 1 s and every acknowledgment visible at both replicas), once per core: the single-process
core on SQLite (the baseline), then the scale-out core (``live --core-workers N``: ingress,
N workers, NATS JetStream, PostgreSQL; a schema and streams of each run's own) for each
``--workers``.  Each run reports its best sustained rate, its steps, the load average
before it, and for the scale-out runs what the workers logged when they stopped: messages,
groups, seconds holding the decision lock (wall and CPU), seconds waiting for it, and each
worker process's CPU.  From those the projection's inputs, per message: ``serial_s`` (the
decision lock held: the part no number of workers shortens) and ``parallel_cpu_s`` (a
worker's CPU outside it: what more machines divide), and messages per PO (``model``).

Run: ``python -m loadtests.bench_scaleout [--rates 10,20,30,45,60] [--step 8] [--workers
1,2,4]``; it needs PostgreSQL and NATS (``$SUPPLYSYNC_POSTGRES_URL``, ``$SUPPLYSYNC_NATS_URL``).
Everything shares the machine's cores (emulators, ingress, workers, PostgreSQL, NATS,
Locust), so the figures are those of a loaded, shared machine: the load average is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from loadtests.bench_live import _terminate, stepped_options, steps
from scenarios.live.run import run_live

_DONE = re.compile(
    r"worker slot \d+ done: (\d+) messages in (\d+) groups; decision lock held ([\d.]+) s "
    r"\(cpu ([\d.]+) s\), waited ([\d.]+) s; process cpu ([\d.]+) s"
)


def workers_logged(log: str) -> dict[str, Any]:
    """The workers' closing lines summed; per message: the serial and parallel costs."""
    rows = [tuple(float(x) for x in m) for m in _DONE.findall(log)]
    if not rows:
        return {"workers_reported": 0}
    messages, groups, held, held_cpu, waited, cpu = (sum(c) for c in zip(*rows, strict=True))
    out: dict[str, Any] = {
        "workers_reported": len(rows),
        "messages": int(messages),
        "groups": int(groups),
        "lock_held_s": round(held, 3),
        "lock_waited_s": round(waited, 3),
        "worker_cpu_s": round(cpu, 3),
    }
    if messages:
        out["serial_s_per_message"] = held / messages  # wall: CPU and waiting on PostgreSQL
        out["serial_cpu_s_per_message"] = held_cpu / messages  # the CPU part alone
        out["parallel_cpu_s_per_message"] = max(0.0, cpu - held_cpu) / messages
    return out


def one_core(
    label: str,
    workers: int,
    rates: list[float],
    step_s: float,
    tmp: Path,
    services: dict[str, str],
    settle_max_s: float = 90.0,
) -> dict[str, Any]:
    """One live run of the stepped PO load against one core; its figures."""
    out = tmp / label
    extra: dict[str, Any] = {}
    if workers:
        extra = {"core_workers": workers, "bus": services["bus"], "store": services["store"]}
    options = stepped_options(tmp / "bench_scaleout.yaml", out, rates, step_s,
                              per_user_rps=5.0, settle_max_s=settle_max_s, **extra)  # fmt: skip
    load_before = list(os.getloadavg())
    outcome = run_live(options, log=lambda m: print(f"[{label}] {m}", file=sys.stderr))
    rows = steps(out, rates, step_s)
    consistency = outcome.results["consistency"]
    sustained = [r["achieved_pos_s"] for r in rows if r["sustained"]]
    report: dict[str, Any] = {
        "core": label,
        "load_average_before": [round(x, 2) for x in load_before],
        "best_sustained_pos_s": max(sustained, default=0.0),
        "steps": rows,
        "lost": consistency["lost_updates"],
        "duplicates": consistency["duplicate_effects"],
        "converged": consistency["converged"],
        "pending_at_end": consistency.get("pending_at_end"),
        "pos_created": round(sum(r["achieved_pos_s"] for r in rows) * step_s),
    }
    if workers:
        report["workers"] = workers_logged((out / "core.log").read_text(errors="replace"))
    return report


def model(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The projection's inputs from the 1-worker run (the least contended): per message,
    the serial seconds and a worker's parallel CPU seconds; and messages per PO."""
    one = next((r for r in runs if r["core"] == "workers-1"), None)
    figures = (one or {}).get("workers", {})
    if "serial_s_per_message" not in figures:
        return {"measured": False}
    assert one is not None
    serial, parallel = figures["serial_s_per_message"], figures["parallel_cpu_s_per_message"]
    serial_cpu = figures["serial_cpu_s_per_message"]
    per_po = figures["messages"] / one["pos_created"] if one["pos_created"] else 0.0

    def amdahl(serial_s: float) -> dict[str, float | None]:
        """Each message holds the one lock `serial_s`, and costs `parallel` s of a worker's
        CPU that W machines share out: PO/s = 1 / (serial_s + parallel / W) / msgs per PO."""
        return {str(w): round(1.0 / (serial_s + parallel / w) / per_po, 1) if per_po else None
                for w in (1, 2, 8, 32)}  # fmt: skip

    return {
        "measured": True,
        "serial_s_per_message": round(serial, 6),
        "serial_cpu_s_per_message": round(serial_cpu, 6),
        "parallel_cpu_s_per_message": round(parallel, 6),
        "messages_per_po": round(per_po, 2),
        "pos_s_as_measured": amdahl(serial),  # the lock held as long as here
        "pos_s_lock_cpu_only": amdahl(serial_cpu),  # PostgreSQL waits gone: the upper bound
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rates", default="10,20,30,45,60", help="POs a second, one per step")
    p.add_argument("--step", type=float, default=8.0, help="seconds per step")
    p.add_argument("--workers", default="1,2", help="worker counts of the scale-out core")
    p.add_argument("--settle-max", type=float, default=90.0,
                   help="longest wait for the backlog to drain before judging")  # fmt: skip
    p.add_argument("--no-baseline", action="store_true", help="skip the SQLite core's run")
    args = p.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    counts = [int(w) for w in args.workers.split(",")]
    services = {
        "store": os.environ.get("SUPPLYSYNC_POSTGRES_URL")
        or "postgresql://postgres@127.0.0.1:5432/test",
        "bus": os.environ.get("SUPPLYSYNC_NATS_URL") or "nats://127.0.0.1:4222",
    }
    signal.signal(signal.SIGTERM, _terminate)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        runs = []
        for w in ([] if args.no_baseline else [0]) + counts:
            label = f"workers-{w}" if w else "sqlite-1-process"
            runs.append(one_core(label, w, rates, args.step, Path(tmp), services, args.settle_max))
    report = {
        "command": "python -m loadtests.bench_scaleout " + " ".join(argv or sys.argv[1:]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_average_after": list(os.getloadavg())},
        "runs": runs,
        "model": model(runs),
        "wall_s": round(time.monotonic() - started, 1),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
