"""``supplysync live --core-workers N --bus ... --store ...``: the scaled-out core under a
scenario's load, judged by the same checkers; and its options' mistakes, one line, exit 2.

The run needs PostgreSQL and NATS: skipped without them, failed instead when
``SUPPLYSYNC_REQUIRE_SERVICES=1``.  The option checks need neither (but the unreachable
bus, which needs PostgreSQL to get that far).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtests.bench_live import stepped_options
from scenarios.live.run import run_live
from tests.ports import free_port
from tests.scenarios.test_cli_exits import cli, one_clean_line
from tests.sync_core.conftest import nats_url, postgres_url, probe_nats, probe_postgres, reachable


def test_live_judges_the_scaled_out_core_with_the_same_checkers(tmp_path: Path) -> None:
    pg = reachable(postgres_url(), probe_postgres)
    bus = reachable(nats_url(), probe_nats)
    out = tmp_path / "run"  # the PO cycle alone: POs at 3 a second for 8 s
    options = stepped_options(tmp_path / "orders.yaml", out, [3.0], 8.0, per_user_rps=5.0,
                              settle_max_s=30.0, core_workers=2, bus=bus, store=pg)  # fmt: skip
    outcome = run_live(options, log=lambda m: None)
    results = json.loads((out / "results.json").read_text())
    consistency = results["consistency"]
    replicas = sum(f["replica_updates"] for f in results["flows"].values())
    log = (out / "core.log").read_text(errors="replace")
    assert log.count("holds slot") == 2, log[-2000:]  # two workers decided
    assert replicas > 0, consistency  # evidence: updates reached the replicas
    assert (consistency["lost_updates"], consistency["duplicate_effects"]) == (0, 0)
    assert consistency["converged"] and outcome.results["consistency"] == consistency
    import psycopg

    schema = next(w for w in log.split() if w.startswith("postgresql://")).split("%3D")[1]
    with psycopg.connect(pg, autocommit=True) as db:  # the run's own schema is gone
        row = db.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,))
        assert row.fetchone() == (0,)


EMULATORS = ("--erp", "http://127.0.0.1:18101")


NATS, SQLITE = ("--bus", "nats://127.0.0.1:4222"), ("--store", "core.sqlite")


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (("serve", "core", "--workers", "2", *EMULATORS), ("--workers", "--bus")),
        (("serve", "core", *NATS, *SQLITE, *EMULATORS), ("--store", "postgresql")),
        (("serve", "core", "--bus", "http://127.0.0.1:4222", *EMULATORS), ("--bus", "nats://")),
        (("serve", "all", *NATS), ("--bus", "serve core")),
        (("live", "erp_outage", "--core-workers", "2"), ("--bus", "nats://")),
        (("live", "erp_outage", *NATS), ("--bus", "--core-workers")),
        (("live", "erp_outage", "--core-workers", "2", *NATS, *SQLITE), ("--store", "postgresql")),
    ],
)
def test_scale_out_options_that_cannot_work_are_one_line_and_exit_2(
    args: tuple[str, ...], names: tuple[str, ...], tmp_path: Path
) -> None:
    one_clean_line(cli(*args, cwd=tmp_path), *names)


def test_a_bus_that_does_not_answer_is_one_line_and_exit_2(tmp_path: Path) -> None:
    pg = reachable(postgres_url(), probe_postgres)
    nowhere = f"nats://127.0.0.1:{free_port()}"
    proc = cli("serve", "core", "--bus", nowhere, "--store", pg, *EMULATORS, cwd=tmp_path)
    one_clean_line(proc, "--bus", nowhere)
