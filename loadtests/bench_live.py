"""Benchmark: the highest sustained PO rate, end to end, with p99 acknowledgment lag <= 1 s.

Theory of operation: one ``supplysync live`` run (:func:`scenarios.live.run.run_live`)
of a regional network with no faults, suppliers that acknowledge within about
a second (scenario time scaled by ``--speedup``) and neither ship nor bill, so
the run measures the purchase-order cycle alone: a buyer's POST to the ERP →
the ERP's event → the core reads the PO and sends the 850 to the supplier
network → the 855 comes back → the core posts it to the ERP and the expected
receipts to the WMS.  Locust steps the PO rate up (``loadtests/locust_steps.py``:
``--rates`` POs a second, ``--step`` seconds each); then, per step, from the
run's own history and Locust's per-second CSV: the PO rate achieved (POs the
ERP created in the step), Locust failures, and the p99 of the acknowledgment
lag (supplier's confirmation → ERP and WMS; the analysis' ``po_acknowledgment``
flow) and of the dispatch lag (ERP → supplier).  A step is *sustained* when it
reached 90 % of its target rate with 0 failures and p99 ack lag <= 1 s, and
every acknowledgment made in it reached both replicas.

The baseline, in the same run: a bare FastAPI endpoint (one uvicorn worker,
uvloop + httptools, a typed ``async`` POST, no access log) under Locust
(``locust_baseline.py``) for ``--baseline`` seconds: the request rate of this
HTTP stack on this machine, with no sync work at all.

Run: ``python -m loadtests.bench_live [--rates 10,25,50,100,150] [--step 10]``.
Everything shares the machine's 2 cores (emulators, core, Locust), so the
figures are those of a loaded, shared machine: the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from analysis.history import History
from analysis.metrics import judge, percentiles
from scenarios.live.load import read_locust_csv
from scenarios.live.options import LiveOptions
from scenarios.live.run import run_live

ROOT = Path(__file__).parents[1]
SPEEDUP = 60.0  # 1 scenario minute = 1 s: acknowledgments in about a second
SCENARIO = """\
name: bench_live
description: The purchase-order cycle alone, for the live throughput benchmark.
seed: 11
start: 2026-03-23T00:00:00
duration_days: {days}
settle_days: {settle}
demand: {{pos_per_day: 800, lines_per_po: [4, 10]}}
suppliers:
  ack_delay: {{median_minutes: 1, sigma: 0.3}}
  ship_notices: false
  invoices: false
"""


def stepped_options(
    scenario: Path, out: Path, rates: list[float], step_s: float, **more: Any
) -> LiveOptions:
    """The live run of the stepped PO load (``locust_steps``: ``rates`` POs a second,
    ``step_s`` each), its scenario (:data:`SCENARIO`: demand for as long as the steps, 5 s
    to settle) written to ``scenario``; ``more``: the run's other options."""
    duration = len(rates) * step_s
    scenario.write_text(SCENARIO.format(days=f"{duration * SPEEDUP / 86400:.6f}",
                                        settle=f"{5 * SPEEDUP / 86400:.6f}"))  # fmt: skip
    return LiveOptions(
        scenario=str(scenario),
        users=2,
        duration_s=duration,
        out=out,
        speedup=SPEEDUP,
        locustfile=ROOT / "loadtests" / "locust_steps.py",
        shaped=True,
        locust_env={
            "SUPPLYSYNC_MIX": "orders",
            "SUPPLYSYNC_STEPS": ",".join(f"{r:g}" for r in rates),
            "SUPPLYSYNC_STEP_S": f"{step_s:g}",
        },
        **more,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Order(BaseModel):
    item: str
    quantity: int


def bare_app() -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/orders", status_code=201)
    async def create(order: Order) -> dict[str, Any]:
        return {"item": order.item, "quantity": order.quantity, "status": "created"}

    return app


def baseline(seconds: float, users: int, out: Path) -> dict[str, Any]:
    """Locust against the bare endpoint: requests a second, p50/p99."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "loadtests.bench_live", "--serve-baseline", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import httpx

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.post(f"http://127.0.0.1:{port}/orders", json={"item": "x", "quantity": 1})
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        prefix = out / "baseline"
        started = time.time()
        subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests/locust_baseline.py"),
             "--headless", "-u", str(users), "-r", str(users), "-t", f"{seconds:g}s",
             "--host", f"http://127.0.0.1:{port}", "--csv", str(prefix), "--only-summary",
             "--loglevel", "WARNING"],
            cwd=ROOT, check=False, timeout=seconds + 60,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        total: dict[str, Any] = read_locust_csv(prefix, started)["total"]
        return total
    finally:
        server.terminate()
        server.wait(timeout=10)


def steps(out: Path, rates: list[float], step_s: float) -> list[dict[str, Any]]:
    """Per step: target and achieved PO rate, failures, p99 ack and dispatch lag."""
    history = History.read(out / "history.jsonl")
    judgement = judge(history)
    load = json.loads((out / "results.json").read_text())["load"]["over_time"]
    first = min((p["t"] for p in load if p["users"] > 0), default=0.0) - 1.0
    created: dict[str, float] = {}
    for c in history.changes:
        if c.system == "erp" and c.field == "ordered_qty":
            created.setdefault(c.entity.split(":")[1], c.t)
    rows = []
    for k, rate in enumerate(rates):
        lo, hi = first + k * step_s, first + (k + 1) * step_s
        acks = [x for x in judgement.lags if x.flow == "po_acknowledgment" and lo <= x.t_owner < hi]
        sends = [x for x in judgement.lags if x.flow == "po_dispatch" and lo <= x.t_owner < hi]
        missing = sum(1 for v in judgement.checked.visibility if v[-1] is None and lo <= v[-2] < hi)
        failed = sum(p["failures_per_s"] for p in load if lo < p["t"] <= hi)
        pos = sum(1 for t in created.values() if lo <= t < hi)
        ack = percentiles([x.lag_s for x in acks])
        row = {
            "target_pos_s": rate,
            "achieved_pos_s": round(pos / step_s, 1),
            "failures": round(failed),
            "ack_lag_p50_s": ack["p50"],
            "ack_lag_p99_s": ack["p99"],
            "dispatch_lag_p99_s": percentiles([x.lag_s for x in sends])["p99"],
            "never_visible": missing,
        }
        row["sustained"] = (
            row["achieved_pos_s"] >= 0.9 * rate
            and row["failures"] == 0
            and bool(acks)
            and ack["p99"] <= 1.0
            and missing == 0
        )
        rows.append(row)
    return rows


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds: every service the run started is stopped


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rates", default="25,50,100,125,150", help="POs a second, one per step")
    p.add_argument("--step", type=float, default=10.0, help="seconds per step")
    p.add_argument("--per-user", type=float, default=5.0, help="POs a second per Locust user")
    p.add_argument("--workers", type=int, default=0, help="Locust worker processes")
    p.add_argument("--baseline", type=float, default=8.0, help="seconds of the bare baseline")
    p.add_argument("--out", type=Path, help="keep the run's artefacts here")
    p.add_argument("--serve-baseline", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve_baseline:
        import uvicorn

        uvicorn.run(bare_app(), host="127.0.0.1", port=args.serve_baseline,
                    access_log=False, log_level="warning")  # fmt: skip
        return 0
    rates = [float(r) for r in args.rates.split(",")]
    signal.signal(signal.SIGTERM, _terminate)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "run"
        options = stepped_options(
            Path(tmp) / "bench_live.yaml", out, rates, args.step,
            workers=args.workers, per_user_rps=args.per_user, settle_max_s=30.0,
        )  # fmt: skip
        started = time.monotonic()
        outcome = run_live(options, log=lambda m: print(m, file=sys.stderr))
        rows = steps(out, rates, args.step)
        base = baseline(args.baseline, 32, Path(tmp))
        best = max((r["achieved_pos_s"] for r in rows if r["sustained"]), default=0.0)
        report = {
            "machine": {"cpus": os.cpu_count(), "load_average": list(os.getloadavg())},
            "steps": rows,
            "best_sustained_pos_s": best,
            "target_pos_s": 100,
            "baseline_bare_fastapi": {
                k: base.get(k) for k in ("rps", "p50_ms", "p99_ms", "requests", "failures")
            },
            "live_verdict": {
                "passed": outcome.passed,
                "lost": outcome.results["consistency"]["lost_updates"],
                "duplicates": outcome.results["consistency"]["duplicate_effects"],
            },
            "wall_s": round(time.monotonic() - started, 1),
        }
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
