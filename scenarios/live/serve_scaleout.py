"""``supplysync serve core --bus nats://... --store postgresql://... --workers N``: the
scale-out core (:mod:`sync_core.scaleout`), and ``supplysync serve core-worker`` (one
worker, on any machine that reaches the bus and the database).

Theory of operation: the composition root of the scale-out core, beside
:mod:`scenarios.live.serve_core` (whose options, engine and HTTP service it shares).
``serve core --bus`` checks the store (PostgreSQL only: workers on several machines
share it) and the bus, then starts N worker processes (``python -m
scenarios.live.serve_core --role worker`` with the same options; each exits when this
process is gone) and serves the core's API over an
:class:`~sync_core.scaleout.ingress.IngressDriver`.  ``--workers 0`` serves the ingress
alone (the workers run elsewhere: ``serve core-worker``).  A worker
(:class:`~sync_core.scaleout.worker.Worker`) joins, consumes its partitions and delivers
its outbox rows until SIGTERM.  ``--no-takeover`` (hidden) is the injected defect of the
crash test: workers neither take over a dead worker's partitions nor adopt its rows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from emulators import SYSTEMS
from scenarios.spec.load import ScenarioError
from sync_core.bus import BusConfig, BusError
from sync_core.store import StoreError

__all__ = [
    "add_arguments",
    "check",
    "fresh_backends",
    "is_scaleout",
    "run_worker",
    "spawn_workers",
    "worker_argv",
]

log = logging.getLogger("supplysync.core")
MAX_WORKERS = 64
DEFAULT_PARTITIONS = 32
ACK_WAIT_S = 5.0  # a dead worker's message goes to the next owner after this
MAX_DELIVER = 50  # deliveries before the bus dead-letters a message nobody can commit


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bus", metavar="URL",
                   help="nats://HOST:PORT: the scale-out core; webhooks are acknowledged once "
                   "JetStream has them, workers decide and commit (needs a postgresql:// "
                   "--store)")  # fmt: skip
    p.add_argument("--workers", type=int, metavar="N",
                   help="with --bus: worker processes on this machine (default 1; 0: the "
                   "ingress alone, workers started with serve core-worker)")  # fmt: skip
    p.add_argument("--bus-prefix", default="supplysync", metavar="NAME",
                   help="with --bus: the streams' name (default supplysync: streams "
                   "SUPPLYSYNC, SUPPLYSYNC_DLQ)")  # fmt: skip
    p.add_argument("--bus-partitions", type=int, default=DEFAULT_PARTITIONS, metavar="N",
                   help=f"with --bus: partitions (default {DEFAULT_PARTITIONS}; the same "
                   "for the ingress and every worker)")  # fmt: skip
    p.add_argument("--role", choices=("core", "worker"), default="core", help=argparse.SUPPRESS)
    p.add_argument("--no-takeover", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--expected-workers", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)


def is_scaleout(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "bus", None)) or getattr(args, "role", "core") == "worker"


def bus_config(args: argparse.Namespace) -> BusConfig:
    return BusConfig(partitions=args.bus_partitions, ack_wait=ACK_WAIT_S, max_deliver=MAX_DELIVER)


def check(args: argparse.Namespace, command: str) -> str:
    """Validate the scale-out options (ScenarioError: exit 2); the store's schema."""
    from sync_core.scaleout.membership import store_schema
    from sync_core.store_postgres import PostgresStore, is_postgres_url

    if not args.bus:
        raise ScenarioError(command, "--bus", "give the bus: nats://HOST:PORT")
    if not args.bus.startswith(("nats://", "tls://")):
        raise ScenarioError(command, "--bus", f"{args.bus!r} is not a nats:// URL")
    if not is_postgres_url(str(args.store)):
        raise ScenarioError(command, "--store", "the scale-out core needs postgresql://...")
    if args.workers is not None and not 0 <= args.workers <= MAX_WORKERS:
        raise ScenarioError(command, "--workers", f"must be within 0..{MAX_WORKERS}")
    if not 1 <= args.bus_partitions <= 1024:
        raise ScenarioError(command, "--bus-partitions", "must be within 1..1024")
    try:
        store = PostgresStore(str(args.store), schema=store_schema(str(args.store)))
        schema = store.schema
        store.close()
    except StoreError as e:
        raise ScenarioError(command, "--store", e.reason) from e
    try:
        asyncio.run(_check_bus(args))
    except BusError as e:
        raise ScenarioError(command, "--bus", str(e)) from e
    return schema


async def _check_bus(args: argparse.Namespace) -> None:
    from sync_core.bus.nats import NatsBus

    bus = await NatsBus.connect(args.bus, bus_config(args), prefix=args.bus_prefix)
    await bus.close()


def worker_argv(args: argparse.Namespace, urls: dict[str, str]) -> list[str]:
    """The command line of one worker with this process's options."""
    argv = [sys.executable, "-m", "scenarios.live.serve_core", "--role", "worker",
            "--store", str(args.store), "--bus", args.bus, "--bus-prefix", args.bus_prefix,
            "--bus-partitions", str(args.bus_partitions),
            "--expected-workers", str(args.workers or 1),
            "--parent-pid", str(os.getpid())]  # fmt: skip
    if args.scenario:
        argv += ["--scenario", args.scenario]
    if args.seed is not None:
        argv += ["--seed", str(args.seed)]
    if args.no_takeover:
        argv.append("--no-takeover")
    for system in SYSTEMS:
        if system in urls:
            argv += [f"--{system}", urls[system]]
    return argv


def spawn_workers(args: argparse.Namespace, urls: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    """Start ``--workers`` worker processes (their output goes where ours goes)."""
    procs = []
    for _ in range(args.workers if args.workers is not None else 1):
        proc = subprocess.Popen(
            worker_argv(args, urls), env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        print(f"worker    pid {proc.pid}", flush=True)
        procs.append(proc)
    return procs


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def ingress_factory(
    args: argparse.Namespace, schema: str, workers: list[subprocess.Popen[bytes]]
) -> Callable[..., Any]:
    """What ``serve_core`` builds its driver with: the ingress, over the bus; it stops
    ``workers`` when it stops (uvicorn re-raises SIGTERM once it has shut down, so code
    after the server would not run)."""

    def build(engine: Any, connector: Any, planner: Any, phi: Any) -> Any:
        from sync_core.bus.nats import NatsBus
        from sync_core.scaleout.ingress import IngressDriver
        from sync_core.scaleout.membership import Membership
        from sync_core.store_postgres import PostgresStore

        async def make() -> IngressDriver:
            bus = await NatsBus.connect(args.bus, bus_config(args), prefix=args.bus_prefix)
            driver = IngressDriver(
                bus,
                Membership(str(args.store), schema),
                engine,
                lambda: PostgresStore(str(args.store), schema=schema),
                connector,
                planner,
                phi=phi,
            )
            driver.on_stop.append(lambda: stop_workers(workers))
            return driver

        return make

    return build


def run_worker(args: argparse.Namespace, schema: str, parts: dict[str, Any]) -> int:
    """One worker until SIGTERM/SIGINT (or its parent is gone); 0 on a clean stop."""
    return asyncio.run(_worker(args, schema, parts))


async def _worker(args: argparse.Namespace, schema: str, parts: dict[str, Any]) -> int:
    from sync_core.bus.nats import NatsBus
    from sync_core.connectors import HttpConnector
    from sync_core.delivery import default_planner
    from sync_core.scaleout.membership import Membership
    from sync_core.scaleout.store import WorkerStore
    from sync_core.scaleout.worker import Worker, WorkerDriver

    url = str(args.store)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.getLogger("supplysync").handlers[:] = [handler]
    logging.getLogger("supplysync").setLevel(logging.INFO)

    def make_driver(slot: int) -> WorkerDriver:
        return WorkerDriver(
            parts["engine"],
            lambda: WorkerStore(url, slot=slot, schema=schema),
            HttpConnector(parts["urls"], versions=parts["erp_versions"]),
            default_planner(None),
            phi=parts["phi"],
            answer_within_s=60.0,
        )

    bus = await NatsBus.connect(args.bus, bus_config(args), prefix=args.bus_prefix)
    takeover, expected = not args.no_takeover, max(1, args.expected_workers)
    worker = Worker(bus, Membership(url, schema), make_driver, takeover=takeover,
                    expected=expected)  # fmt: skip
    task = asyncio.create_task(worker.run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    watch = asyncio.create_task(_orphaned(args.parent_pid, worker))
    try:
        await task
    except asyncio.CancelledError:
        pass
    except StoreError as e:
        log.error("worker stops: %s", e)
        return 1
    finally:
        watch.cancel()
        with contextlib.suppress(BusError):
            await bus.close()
    return 0


async def _orphaned(parent: int | None, worker: Any) -> None:
    """Stop ``worker`` once the process that started us is gone."""
    if parent is None:
        return
    while os.getppid() == parent:
        await asyncio.sleep(0.5)
    log.warning("the core's process %d is gone: this worker stops", parent)
    worker.stop()


def fresh_backends(
    store: str, bus: str, tag: str | None = None
) -> tuple[str, str, Callable[[], None]]:
    """A new schema in ``store`` and a new stream prefix on ``bus`` (a run's or a test's
    own): the store URL naming the schema, the prefix, and what removes both."""
    import uuid

    from sync_core.scaleout.membership import with_schema

    tag = tag or uuid.uuid4().hex[:12]
    schema, prefix = f"supplysync_run_{tag}", f"run{tag}"

    def remove() -> None:
        import psycopg
        from psycopg import sql

        with contextlib.suppress(psycopg.Error), psycopg.connect(store, autocommit=True) as db:
            db.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        with contextlib.suppress(BusError):
            asyncio.run(_destroy(bus, prefix))

    return with_schema(store, schema), prefix, remove


async def _destroy(url: str, prefix: str) -> None:
    from sync_core.bus.nats import NatsBus

    nats = await NatsBus.connect(url, BusConfig(partitions=DEFAULT_PARTITIONS), prefix=prefix)
    await nats.destroy()
    await nats.close()
