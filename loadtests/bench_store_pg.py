"""The PostgreSQL part of ``bench_store``: engine + :class:`PostgresStore` end to end.

``python -m loadtests.bench_store --store postgresql://127.0.0.1:5432/test`` (or
``--store "$SUPPLYSYNC_POSTGRES_URL"``) adds, for each ``--batch`` size, the end-to-end run
of ``bench_store`` (the engine deciding the ``--pos`` 855 messages through a
:class:`~sync_core.store.GroupCommit`) on PostgreSQL, in two modes measured in turn:

* **no cache** — every read the engine makes is a query (a round trip);
* **read cache** — the store's read cache (``PostgresStore(read_cache=True)``): one
  check per group, each kind of entity and the inbox loaded once, kept current by the
  store's own commits.

Each run has a schema of its own (``bench_store_<hex>``), preloaded with the
dispatched POs (``synchronous_commit`` off, not measured) and dropped after; the
measured store keeps the default ``synchronous_commit=on``.  Runs are interleaved
(mode by mode, repeat by repeat).  ``server_reads_per_message`` counts the queries the
store's reads sent (``_select``: a cache load is one), not the commit's statements.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import psycopg
from psycopg import sql

from sync_core.messages import Decision
from sync_core.store import Store
from sync_core.store_postgres import PostgresStore

__all__ = ["MODES", "measure_postgres", "postgres_rows"]

# name -> what the measured store is opened with
MODES: dict[str, dict[str, Any]] = {"no cache": {}, "read cache": {"read_cache": True}}


class Timed(Protocol):
    """A timed run (``bench_store.Run``): messages/s and CPU µs per message."""

    @property
    def rate(self) -> float: ...

    @property
    def cpu_us(self) -> float: ...


def _counting(store: PostgresStore) -> list[int]:
    """Count the queries ``store``'s reads send (the instance's ``_select``)."""
    count = [0]
    select = store._select

    def counted(operation: str, query: str, params: Sequence[Any] = ()) -> list[Any]:
        count[0] += 1
        return select(operation, query, params)

    store._select = counted  # type: ignore[method-assign]
    return count


def _run(
    url: str,
    dispatches: Sequence[Decision],
    drive: Callable[[Store, int], Timed],
    batch: int,
    messages: int,
    options: dict[str, Any],
) -> tuple[Timed, float]:
    """One end-to-end run in a new schema (dropped after); the run and reads per message."""
    schema = f"bench_store_{uuid.uuid4().hex[:12]}"
    try:
        with PostgresStore(url, schema=schema, synchronous_commit=False) as preload:
            for first in range(0, len(dispatches), 1000):
                preload.commit_many(dispatches[first : first + 1000])
        with PostgresStore(url, schema=schema, **options) as store:
            reads = _counting(store)
            run = drive(store, batch)
            return run, reads[0] / messages
    finally:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def measure_postgres(
    args: argparse.Namespace,
    dispatches: Sequence[Decision],
    drive: Callable[[Store, int], Timed],
    started: float,
) -> dict[str, Any]:
    """Every mode at every ``args.batch`` size on ``args.store``, ``args.repeat`` times
    interleaved (fewer once ``args.budget`` seconds since ``started`` are used)."""
    url, batches, repeat, messages = args.store, args.batch, args.repeat, args.pos
    runs: dict[tuple[str, int], list[tuple[Timed, float]]] = {
        (mode, b): [] for mode in MODES for b in batches
    }
    notes = []
    for r in range(repeat):
        if r and time.perf_counter() - started > args.budget:
            notes.append(f"PostgreSQL: stopped after {r} of {repeat} repeats: budget")
            break
        for b in batches:
            for mode, options in MODES.items():
                runs[mode, b].append(_run(url, dispatches, drive, b, messages, options))
    with psycopg.connect(url) as db:
        version = db.execute("SHOW server_version").fetchone()
    cells = []
    for (mode, b), done in runs.items():
        if done:
            rates = [t.rate for t, _ in done]
            cells.append({
                "mode": mode, "batch": b, "median": statistics.median(rates),
                "min": min(rates), "max": max(rates), "runs": [round(x) for x in rates],
                "cpu_us_per_message": statistics.median(t.cpu_us for t, _ in done),
                "server_reads_per_message": statistics.median(n for _, n in done),
            })  # fmt: skip
    return {
        "server_version": version[0] if version else None,
        "cells": cells,
        "notes": notes,
    }


def postgres_rows(report: dict[str, Any]) -> list[str]:
    """The Markdown table of the PostgreSQL cells, with their ratios to the same run's
    engine in memory and SQLite end to end."""
    pg, engine_rate = report["postgres"], report["engine"]["ack_decisions_per_s"]
    sqlite_e2e = {c["batch"]: c["end_to_end"]["median"] for c in report["cells"] if c["end_to_end"]}
    rows = [
        "",
        f"PostgreSQL {pg['server_version']} (`synchronous_commit=on`), engine + PostgresStore "
        "through GroupCommit on the same messages:",
        "",
        "| mode | batch | messages/s (median) | range | CPU µs/message | server reads/message "
        "| ÷ engine in memory | ÷ SQLite end to end |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in pg["cells"]:
        spread = f"{c['min']:,.0f}-{c['max']:,.0f}" if len(c["runs"]) > 1 else "-"
        sqlite = sqlite_e2e.get(c["batch"])
        rows.append(
            f"| {c['mode']} | {c['batch']:,} | {c['median']:,.0f} | {spread} "
            f"| {c['cpu_us_per_message']:,.0f} | {c['server_reads_per_message']:.2f} "
            f"| {c['median'] / engine_rate:.0%} "
            f"| {'-' if sqlite is None else format(c['median'] / sqlite, '.0%')} |"
        )
    rows += [f"Note: {n}" for n in pg["notes"]]
    return rows
