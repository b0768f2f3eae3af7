"""``supplysync serve core``: run the sync core as a live HTTP service on 127.0.0.1.

Theory of operation: the composition root of the live core.  It builds the
engine (our EDI id and the trading partners of a scenario's network), a
:class:`~sync_core.drivers.asyncio.LiveDriver` over a SQLite store file (WAL) and an
aiohttp connector to the emulators' base URLs, and serves the core's FastAPI
app with uvicorn on a socket it binds *before* the app starts, so webhooks
that arrive while the driver recovers wait in the listen backlog instead of
being refused.  Once the driver is up it subscribes the core's webhook URL
(``/v1/system/<system>/webhooks``) at each emulator's ``PUT /__admin/subscription``,
retrying in the background until each emulator answers.  With ``--auth FILE`` access is
on (:mod:`sync_core.service.access`); when the file holds a signing key the core mints the
harness's own tokens (:func:`harness_tokens`): one for the emulators' admin API, one the
emulators send their webhooks with.  ``--batch-interval``
adds a batch tick every N seconds (the batch and hybrid architectures).  A scenario with
ERP releases (``erp.releases``) gives the core their mappers ahead of time, as the event
core of a simulation has them (:func:`~scenarios.spec.releases.core_versions`): its
connector and its webhook ingress follow the version the ERP announces, unless the
scenario says ``erp.core_follows_releases: false``.

Use it from the ``serve`` command (``add_arguments`` + ``run``), or as
``python -m scenarios.live.serve_core ...`` (what the live tests start).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulators import SYSTEMS
from scenarios.live import serve_scaleout
from scenarios.sim.changes import change_order_partners
from scenarios.sim.network import OUR_EDI_ID
from scenarios.spec.architectures import EVENT
from scenarios.spec.load import ScenarioError, load_scenario
from scenarios.spec.masterdata import cross_reference, generate
from scenarios.spec.models import NetworkSpec
from scenarios.spec.releases import core_versions
from sync_core.auth import AuthConfig, AuthFileError, load_auth, mint
from sync_core.engine import Engine, EngineConfig
from sync_core.mappers.erp_versions import ErpVersions
from sync_core.mappers.x12 import CrossReference
from sync_core.phi import PhiBoundary, key_from_text
from sync_core.store import Store, StoreError
from sync_core.store_sqlite import SqliteStore

if TYPE_CHECKING:
    from sync_core.drivers.asyncio import LiveDriver

# builds the driver of the core (serve_scaleout.ingress_factory): engine, connector,
# planner, PHI boundary -> an async factory of the (not yet started) driver
DriverBuilder = Callable[..., Any]

# The web stack (uvicorn, aiohttp, FastAPI) is imported when the core is served,
# not when the CLI builds its parser: a simulation never needs it.

__all__ = ["add_arguments", "auth_option", "harness_tokens", "main", "run", "serve_core"]

log = logging.getLogger("supplysync.core")
DEFAULT_PORT = 8100
HARNESS_S = 7 * 24 * 3600.0  # the harness's own tokens (core <-> emulators) last a week
# the longest between two tries to subscribe at an emulator that does not answer yet (a
# refused connection on loopback costs next to nothing; every second of it delays the run)
SUBSCRIBE_RETRY_S = 0.25


def add_arguments(p: argparse.ArgumentParser, *, seed: bool = True) -> None:
    """The core's options (for ``supplysync serve core``); ``seed=False`` when the
    parser already has a ``--seed`` (the ``serve`` command's: the same network)."""
    p.add_argument(
        "--store",
        default="core.sqlite",
        help="a SQLite store file (WAL; the default, no server) or postgresql://host/db",
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="default 8100")
    for system in SYSTEMS:
        p.add_argument(f"--{system}", metavar="URL", help=f"base URL of the {system} emulator")
    p.add_argument(
        "--scenario",
        metavar="NAME|FILE",
        help="a library name or scenario file: the core takes its trading partners from the "
        "scenario's network; serve all|erp|supplier|wms|ap configure the emulators from it "
        "as live does (master data, supplier profiles, steady faults)",
    )
    if seed:
        p.add_argument("--seed", type=int, default=1, help="seed of the network's master data")
    p.add_argument("--batch-interval", type=float, metavar="S",
                   help="also pull (batch tick) every S seconds")  # fmt: skip
    p.add_argument("--otlp-endpoint", metavar="URL",
                   help="export traces over OTLP/HTTP (needs supplysync[otel])")  # fmt: skip
    p.add_argument("--no-subscribe", action="store_true",
                   help="do not subscribe the core's webhooks at the emulators")  # fmt: skip
    p.add_argument("--auth", metavar="FILE",
                   help="turn scoped access on: bearer JWTs verified as the auth file (YAML "
                   "or JSON) says; serve all|erp|...: the emulators' /__admin too")  # fmt: skip
    serve_scaleout.add_arguments(p)


def auth_option(args: argparse.Namespace, command: str = "serve") -> AuthConfig | None:
    """The ``--auth`` file's config (None without one); ScenarioError naming what is wrong."""
    if not getattr(args, "auth", None):
        return None
    try:
        return load_auth(Path(args.auth))
    except AuthFileError as e:
        raise ScenarioError(command, "--auth", str(e)) from e


def _is_postgres(target: str | Path) -> bool:
    return str(target).startswith(("postgresql://", "postgres://"))


def open_store(target: str | Path) -> Store:
    """A PostgreSQL store for a postgresql:// URL (psycopg, the postgres extra), else the
    SQLite file."""
    if _is_postgres(target):
        try:
            from sync_core.store_postgres import PostgresStore
        except ImportError as e:
            raise StoreError(
                "open",
                f"the PostgreSQL store needs psycopg: pip install 'supplysync[postgres]' ({e})",
            ) from e
        return PostgresStore(str(target))
    return SqliteStore(Path(target))


def _loopback(name: str, url: str | None) -> str | None:
    if url is None:
        return None
    if not url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")):
        raise ScenarioError("serve core", f"--{name}", "must be a loopback http:// URL")
    return url.rstrip("/")


def run(args: argparse.Namespace) -> int:
    """Validate the options (ScenarioError → exit 2 in the CLI), then serve until stopped."""
    urls = {s: u for s in SYSTEMS if (u := _loopback(s, getattr(args, s, None))) is not None}
    if not urls:
        raise ScenarioError("serve core", "--erp", "give at least one emulator base URL")
    if not 1024 <= args.port <= 65535:
        raise ScenarioError("serve core", "--port", "must be within 1024..65535")
    if args.batch_interval is not None and not args.batch_interval > 0:
        raise ScenarioError("serve core", "--batch-interval", "must be > 0 seconds")
    auth = auth_option(args, "serve core")
    scaleout = serve_scaleout.is_scaleout(args)
    if getattr(args, "workers", None) is not None and not scaleout:
        raise ScenarioError("serve core", "--workers", "worker processes need --bus nats://...")
    if scaleout:
        schema = serve_scaleout.check(args, "serve core")
    elif not _is_postgres(args.store) and Path(args.store).is_dir():
        raise ScenarioError("serve core", "--store", f"{args.store} is a folder")
    else:
        try:  # open it once here, so a file that is not a store is exit 2, not a traceback
            open_store(args.store).close()
        except StoreError as e:
            raise ScenarioError("serve core", "--store", e.reason) from e
    versions, spec = None, None
    if args.scenario:
        spec = load_scenario(args.scenario, seed=args.seed)
        network, seed = spec.network, spec.seed
        versions = core_versions(spec, EVENT)  # the live core is the event core
    else:
        network, seed = NetworkSpec(), 1 if args.seed is None else args.seed
    master = generate(network, seed)
    partners = {s.supplier_id: s.edi_id for s in master.suppliers}
    xref = cross_reference(master)
    # the partners whose profile takes changes as 860s (none without a scenario)
    takes_860 = change_order_partners(spec, master) if spec is not None else frozenset()
    phi_key = os.environ.get("SUPPLYSYNC_PHI_KEY")
    try:
        key = None if phi_key is None else key_from_text(phi_key)
    except ValueError as e:
        raise ScenarioError("serve core", "SUPPLYSYNC_PHI_KEY", str(e)) from None
    if scaleout and args.role == "worker":
        config = EngineConfig(OUR_EDI_ID, partners, functional_acks=True, xref=xref,
                              change_orders=takes_860)  # fmt: skip
        engine = Engine(config)
        parts = {"engine": engine, "urls": urls, "erp_versions": versions,
                 "phi": PhiBoundary(key)}  # fmt: skip
        return serve_scaleout.run_worker(args, schema, parts)
    workers = serve_scaleout.spawn_workers(args, urls) if scaleout else []
    try:
        _serve(
            args,
            urls,
            partners,
            xref,
            takes_860,
            key,
            auth,
            versions,
            serve_scaleout.ingress_factory(args, schema, workers) if scaleout else None,
        )
    finally:
        serve_scaleout.stop_workers(workers)
    return 0


def _serve(
    args: argparse.Namespace,
    urls: dict[str, str],
    partners: dict[str, str],
    xref: CrossReference,
    change_orders: frozenset[str],
    key: bytes | None,
    auth: AuthConfig | None,
    versions: ErpVersions | None,
    driver: DriverBuilder | None,
) -> None:
    serve_core(
        phi_key=key,
        store=args.store,
        port=args.port,
        urls=urls,
        partners=partners,
        xref=xref,
        change_orders=change_orders,
        batch_interval_s=args.batch_interval,
        subscribe=not args.no_subscribe,
        otlp_endpoint=args.otlp_endpoint,
        auth=auth,
        erp_versions=versions,
        driver=driver,
    )


def serve_core(
    *,
    store: str | Path,
    port: int,
    urls: dict[str, str],
    partners: dict[str, str],
    xref: CrossReference | None = None,
    change_orders: frozenset[str] = frozenset(),
    batch_interval_s: float | None = None,
    subscribe: bool = True,
    seed: int | None = None,
    otlp_endpoint: str | None = None,
    auth: AuthConfig | None = None,
    phi_key: bytes | None = None,
    erp_versions: ErpVersions | None = None,
    driver: DriverBuilder | None = None,
) -> None:
    """Serve the core on 127.0.0.1:``port`` until SIGINT/SIGTERM (``auth``: access on);
    ``driver`` builds the driver (the scale-out core's ingress) instead of the live
    driver over ``store``;
    ``phi_key`` tokenises case POs' PHI fields (without it they are dropped:
    :mod:`sync_core.phi`); ``erp_versions``: the ERP's releases it follows (None: it
    speaks the ERP's base version); ``change_orders``: the partners (EDI ids) that take
    changes as 860s."""
    from sync_core.connectors import HttpConnector
    from sync_core.delivery import default_planner
    from sync_core.drivers.asyncio import LiveDriver
    from sync_core.service.app import create_app
    from sync_core.tracing import setup_tracing

    _configure_logging()
    build = driver
    engine = Engine(
        EngineConfig(
            OUR_EDI_ID, partners, functional_acks=True, xref=xref, change_orders=change_orders
        )
    )
    subscriptions: dict[str, Any] = {}

    async def make_driver() -> LiveDriver:
        connector, planner = HttpConnector(urls, versions=erp_versions), default_planner(seed)
        if build is None:
            driver = LiveDriver(engine, lambda: open_store(store), connector, planner,
                                phi=PhiBoundary(phi_key))  # fmt: skip
        else:
            driver = await build(engine, connector, planner, PhiBoundary(phi_key))()
        await driver.start()
        if batch_interval_s is not None:
            driver.every(batch_interval_s)
        return driver

    async def on_started(driver: LiveDriver) -> None:
        if subscribe:
            task = asyncio.create_task(_subscribe(urls, port, subscriptions, auth))
            _background.add(task)
            task.add_done_callback(_background.discard)

    tracing = setup_tracing("supplysync-core", endpoint=otlp_endpoint) if otlp_endpoint else None
    app = create_app(
        make_driver,
        on_started=on_started,
        subscriptions=subscriptions,
        tracing=tracing,
        auth=auth,
        erp_versions=erp_versions,
    )
    _listen_and_serve(app, port, store)


def _listen_and_serve(app: Any, port: int, store: str | Path) -> None:
    """Bind 127.0.0.1:``port`` (a busy port is exit 2), then serve ``app`` until stopped."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as e:
        sock.close()
        raise ScenarioError("serve core", "--port", f"cannot listen on {port}: {e.strerror}") from e
    sock.listen(2048)
    config = uvicorn.Config(app, access_log=False, log_level="warning", lifespan="on")
    print(f"core      http://127.0.0.1:{port}  (store {store}, docs: /docs)", flush=True)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()


_background: set[asyncio.Task[Any]] = set()


def harness_tokens(
    auth: AuthConfig | None, now: float, systems: Iterable[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """With access on and a signing key: the header the core calls the emulators' admin
    API with, and per system the token its emulator sends its webhooks with (valid a week,
    scope ``webhooks:<system>``: one emulator cannot push another's documents)."""
    if auth is None or not auth.can_mint:
        return {}, {}
    admin = mint(auth, sub="supplysync-core", scopes=["admin:faults"], now=now, ttl_s=HARNESS_S)
    hooks = {s: mint(auth, sub=f"supplysync-{s}", scopes=[f"webhooks:{s}"], now=now,
                     ttl_s=HARNESS_S) for s in systems}  # fmt: skip
    return {"authorization": f"Bearer {admin}"}, hooks


async def _subscribe(
    urls: dict[str, str], port: int, state: dict[str, Any], auth: AuthConfig | None = None
) -> None:
    """PUT our webhook URL at every emulator, retrying each until it answers 200."""
    import time

    import aiohttp

    headers, bearers = harness_tokens(auth, time.time(), urls)
    pending = dict(urls)
    delay = 0.05  # a live run starts the emulators with the core: they come up any moment
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while pending:
            for system, base in list(pending.items()):
                hook = f"http://127.0.0.1:{port}/v1/system/{system}/webhooks"
                body = {"url": hook} | ({"bearer": bearers[system]} if bearers else {})
                try:
                    async with session.put(
                        f"{base}/__admin/subscription", json=body, headers=headers
                    ) as resp:
                        ok = resp.status == 200
                        state[system] = hook if ok else f"refused: {resp.status}"
                except (aiohttp.ClientError, TimeoutError, OSError) as e:
                    ok = False
                    state[system] = f"unreachable: {type(e).__name__}"
                if ok:
                    del pending[system]
                    log.info("subscribed %s at %s", hook, base)
            if pending:
                await asyncio.sleep(delay)
                delay = min(SUBSCRIBE_RETRY_S, delay * 2)


def _configure_logging() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("supplysync")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="supplysync serve core", description=__doc__.split("\n")[0])
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        return run(args)
    except ScenarioError as e:
        print(f"supplysync: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
