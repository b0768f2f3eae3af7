"""The load of a live run: Locust headless in its own process, and its CSVs read back.

Theory of operation.  :func:`run_locust` starts Locust on ``loadtests/locustfile.py``
(``--workers N`` adds ``--processes N``: one master and N workers on 127.0.0.1; with
``--master-bind`` the master alone, :mod:`scenarios.live.loadgen`) in a
process group of its own, which it stops whatever happens; the locustfile reads the
scenario from the ``SUPPLYSYNC_*`` environment variables of :func:`locust_env`.
:func:`read_locust_csv` turns the CSVs Locust writes into the results' ``load`` section
(totals, per endpoint, over time, errors).

Locust sees only what its users count as a failure; the emulators journal every answer.
:func:`journal_writes` reads each emulator's ``/__admin/requests`` for the load
generator's writes (every one carries an ``Idempotency-Key`` that starts with the run's
id) and counts, per system and operation, the writes and the non-2xx answers among
them; :func:`add_journal` puts that view into the ``load`` section (``journal``) and
counts it as failures: a write endpoint's ``failures`` is the larger of Locust's count
(``locust_failures``) and the journal's (``journal_failures``).  Each sees failures the
other cannot — Locust, a connection refused; the journal, an answer a Locust user
accepted — so the larger is a floor on the failures that happened, never an excuse to
report none while an emulator refused most writes.
"""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from scenarios.live.loadgen import master_flags
from scenarios.live.options import ROOT, LiveError, LiveOptions
from scenarios.live.procs import log_tail

__all__ = [
    "LOCUST_NAMES",
    "add_journal",
    "journal_writes",
    "locust_command",
    "locust_env",
    "read_locust_csv",
    "run_locust",
]

#: (system, operation) of the load generator's writes → the endpoint's name in Locust
LOCUST_NAMES = {
    ("erp", "post_purchase_order"): "POST ERP /purchaseOrders",
    ("erp", "change_purchase_order"): "PATCH ERP /purchaseOrders/[n]",
    ("wms", "receive"): "POST WMS /receipts",
}


def locust_command(o: LiveOptions, host: str, prefix: Path) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(o.locustfile),
        "--headless",
        "--host",
        host,
        "--csv",
        str(prefix),
        "--csv-full-history",
        "--only-summary",
        "--stop-timeout",
        "5",
        "--loglevel",
        "WARNING",
    ]
    if not o.shaped:
        cmd += ["-u", str(o.users), "-r", f"{o.spawn_rate:g}", "-t", f"{math.ceil(o.duration_s)}s"]
    if o.workers:
        cmd += ["--processes", str(o.workers)]
    return cmd + master_flags(o)


def locust_env(
    o: LiveOptions,
    seed: int,
    speedup: float,
    urls: dict[str, str],
    core_url: str | None,
    run_id: str,
    mailbox_after: int = 0,
) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "PYTHONUNBUFFERED": "1",
        "SUPPLYSYNC_SCENARIO": o.scenario,
        "SUPPLYSYNC_SEED": str(seed),
        "SUPPLYSYNC_SPEEDUP": repr(speedup),
        "SUPPLYSYNC_URLS": json.dumps({**urls, "core": core_url}),
        "SUPPLYSYNC_RUN_ID": run_id,
        "SUPPLYSYNC_USER_RPS": repr(o.per_user_rps),
        "SUPPLYSYNC_MAILBOX_AFTER": str(mailbox_after),
        **o.locust_env,
    }


def read_locust_csv(prefix: Path, started_epoch: float) -> dict[str, Any]:
    """Locust's ``PREFIX_stats.csv`` and ``PREFIX_stats_history.csv`` → the ``load`` section."""
    stats_path = Path(f"{prefix}_stats.csv")
    if not stats_path.exists():
        raise LiveError(f"Locust wrote no {stats_path.name}")

    def num(row: dict[str, str], key: str) -> float:
        try:
            v = float(row.get(key) or 0)
        except ValueError:
            return 0.0
        return 0.0 if math.isnan(v) else v

    endpoints, total = {}, {}
    with stats_path.open(newline="") as f:
        for row in csv.DictReader(f):
            entry = {
                "requests": int(num(row, "Request Count")),
                "failures": int(num(row, "Failure Count")),
                "rps": round(num(row, "Requests/s"), 3),
                "failures_per_s": round(num(row, "Failures/s"), 3),
                "p50_ms": num(row, "50%"),
                "p95_ms": num(row, "95%"),
                "p99_ms": num(row, "99%"),
                "max_ms": round(num(row, "Max Response Time"), 3),
                "avg_ms": round(num(row, "Average Response Time"), 3),
            }
            if row["Name"] == "Aggregated":
                total = entry
            else:
                endpoints[f"{row['Type']} {row['Name']}"] = entry
    over_time: list[dict[str, Any]] = []
    history_path = Path(f"{prefix}_stats_history.csv")
    if history_path.exists():
        with history_path.open(newline="") as f:
            rows = [r for r in csv.DictReader(f) if r.get("Name") == "Aggregated"]
        last = (started_epoch, 0.0, 0.0)
        for row in rows:  # rates from the running totals: Locust's own column lags
            t, done, failed = (
                num(row, k) for k in ("Timestamp", "Total Request Count", "Total Failure Count")
            )
            span = t - last[0]
            if span <= 0:
                continue
            over_time.append(
                {
                    "t": round(t - started_epoch, 3),
                    "users": int(num(row, "User Count")),
                    "rps": round((done - last[1]) / span, 3),
                    "failures_per_s": round((failed - last[2]) / span, 3),
                    "p50_ms": num(row, "50%"),
                    "p95_ms": num(row, "95%"),
                    "p99_ms": num(row, "99%"),
                    "requests": int(done),
                    "failures": int(failed),
                }
            )
            last = (t, done, failed)
    failures = []
    failures_path = Path(f"{prefix}_failures.csv")
    if failures_path.exists():
        with failures_path.open(newline="") as f:
            failures = [
                {
                    "endpoint": f"{r['Method']} {r['Name']}",
                    "error": r["Error"][:300],
                    "occurrences": int(num(r, "Occurrences")),
                }
                for r in csv.DictReader(f)
            ][:20]
    return {"total": total, "endpoints": endpoints, "over_time": over_time, "errors": failures}


def journal_writes(
    client: httpx.Client, urls: dict[str, str], clocks: dict[str, float], run_id: str
) -> dict[str, dict[str, Any]]:
    """The load generator's writes as each emulator journalled them, per ``system
    operation``: ``writes``, ``failures`` (non-2xx answers) and ``statuses`` (each
    non-2xx status and how often)."""
    prefix = f"{run_id}-"
    found: dict[str, dict[str, Any]] = {}
    for system, url in urls.items():
        r = client.get(f"{url}/__admin/requests", timeout=60)
        if r.status_code != 200:
            raise LiveError(f"{system}: GET /__admin/requests answered {r.status_code}")
        for rec in r.json():
            key = rec.get("idempotency_key") or ""
            if not key.startswith(prefix) or float(rec["t"]) < clocks[system]:
                continue
            entry = found.setdefault(
                f"{system} {rec['operation']}",
                {"system": system, "operation": rec["operation"], "writes": 0, "failures": 0,
                 "statuses": Counter()},
            )  # fmt: skip
            entry["writes"] += 1
            if not 200 <= int(rec["status"]) < 300:
                entry["failures"] += 1
                entry["statuses"][str(rec["status"])] += 1
    for entry in found.values():
        entry["statuses"] = dict(sorted(entry["statuses"].items()))
    return dict(sorted(found.items()))


def add_journal(load: dict[str, Any], journal: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``load`` with the journal's view: ``journal`` per endpoint, and each write
    endpoint's (and the total's) ``failures`` raised to what the journal shows."""
    endpoints = {name: dict(e) for name, e in load["endpoints"].items()}
    extra = 0
    for entry in journal.values():
        name = LOCUST_NAMES.get((entry["system"], entry["operation"]))
        locust = endpoints.get(name) if name else None
        if locust is None:  # a write Locust does not name: all of it counts
            extra += entry["failures"]
            continue
        seen = locust.get("locust_failures", locust["failures"])
        locust["locust_failures"] = seen
        locust["journal_failures"] = entry["failures"]
        locust["failures"] = max(seen, entry["failures"])
        extra += locust["failures"] - seen
    total = dict(load["total"])
    if total:
        total["locust_failures"] = total.get("locust_failures", total.get("failures", 0))
        total["journal_failures"] = sum(e["failures"] for e in journal.values())
        total["failures"] = total["locust_failures"] + extra
    return {**load, "endpoints": endpoints, "total": total, "journal": journal}


def run_locust(cmd: list[str], env: dict[str, str], log: Path, timeout_s: float) -> int:
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise LiveError(f"Locust did not finish within {timeout_s:g} s:\n{log_tail(log)}") from None
    finally:
        if proc.poll() is None:  # Ctrl-C, an error or the timeout: stop master and workers
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
