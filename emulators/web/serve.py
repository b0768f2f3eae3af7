"""Run emulators as real HTTP services on 127.0.0.1 (``supplysync serve``).

Theory of operation: ``build_system`` is the composition root of one live
emulator: it reads the wall clock once (the run's epoch), gives the behaviour a
monotonic clock, a timer scheduler on the event loop and a seeded random
stream, and wraps it in a :class:`~emulators.host.Host` and its FastAPI app.
Webhooks go out through an aiohttp session (the client chosen by
``loadtests/bench_http_client.py``) to the subscriber URL given on the command
line or set later through ``PUT /__admin/subscription`` (``{system}`` in the URL given
is replaced by each system's name).  ``serve`` builds each system with the options all
share plus its own (a scenario's master data and supplier profiles), sets its steady
faults, prints its URL and what it was configured with, and runs one
uvicorn server per system in one event loop on sockets bound before anything is
printed (:func:`listen_all`: a busy port is a :class:`ListenError` naming it, not
a uvicorn traceback after the URLs), and stops them all on SIGINT or SIGTERM:
open connections get :data:`GRACEFUL_S`, a second signal stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import signal
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import uvicorn

from emulators import SYSTEMS
from emulators.faults import Faults
from emulators.web._common import AdminGuard, LiveSystem
from emulators.web._tracing import enable_tracing, setup_tracing, shutdown_tracing

__all__ = [
    "GRACEFUL_S",
    "PORT_OFFSETS",
    "SYSTEMS",
    "ListenError",
    "LiveClock",
    "LiveSystem",
    "build_system",
    "listen",
    "listen_all",
    "serve",
    "tune_gc",
]

PORT_OFFSETS = {"erp": 1, "supplier": 2, "wms": 3, "ap": 4}
GRACEFUL_S = 3  # seconds open connections get to finish once asked to stop

log = logging.getLogger("supplysync.emulators")


class LiveClock:
    """Seconds since the service started (monotonic), and the wall-clock epoch."""

    def __init__(self) -> None:
        self.epoch = dt.datetime.now().replace(microsecond=0)
        self._t0 = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self._t0


def loop_scheduler() -> Callable[[float, Callable[[], None]], None]:
    """Timers on the running event loop (behaviour runs in ``async`` endpoints)."""

    def schedule(delay: float, action: Callable[[], None]) -> None:
        asyncio.get_running_loop().call_later(max(0.0, delay), action)

    return schedule


def build_system(system: str, *, seed: int, clock: LiveClock, **options: Any) -> LiveSystem:
    """The live emulator ``system`` with its app; ``options`` go to its app factory."""
    from emulators.web.apps import FACTORIES  # imports every app's routes: keep it lazy

    live: LiveSystem = FACTORIES[system](
        seed=seed, clock=clock, schedule=loop_scheduler(), **options
    )
    return live


class ListenError(Exception):
    """A port that cannot be listened on; ``str()`` names the port, the service and why."""

    def __init__(self, name: str, port: int, reason: str) -> None:
        self.name, self.port, self.reason = name, port, reason
        super().__init__(f"cannot listen on 127.0.0.1:{port} ({name}): {reason}")


def listen(port: int, name: str) -> socket.socket:
    """A socket listening on 127.0.0.1:``port`` (the service ``name``), or ListenError."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise ListenError(name, port, e.strerror or str(e)) from None
    return sock


def listen_all(systems: list[str], port_base: int) -> dict[str, socket.socket]:
    """Every system's socket on ``port_base`` + its offset; all or none (ListenError)."""
    sockets: dict[str, socket.socket] = {}
    try:
        for system in systems:
            sockets[system] = listen(port_base + PORT_OFFSETS[system], system)
    except ListenError:
        for sock in sockets.values():
            sock.close()
        raise
    return sockets


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # signals are handled once for all servers
        yield


async def _serve(
    servers: list[tuple[_Server, socket.socket]], on_stop: Callable[[], None] | None
) -> None:
    loop = asyncio.get_running_loop()

    def stop() -> None:
        first = not any(s.should_exit for s, _ in servers)
        for s, _ in servers:
            s.force_exit = s.should_exit  # a second signal: stop now
            s.should_exit = True
        if first and on_stop is not None:
            on_stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    await asyncio.gather(*(s.serve(sockets=[sock]) for s, sock in servers))


class _CorrelationFilter(logging.Filter):
    """Every record carries a correlation id (the W3C traceparent), "-" when it has none."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "correlation_id"):
            record.correlation_id = "-"
        return True


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_CorrelationFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s")
    )
    root = logging.getLogger("supplysync")
    root.handlers[:] = [handler]
    root.setLevel(level)


def tune_gc() -> None:
    """Emulators keep every document, journal entry and request record they see, so the
    heap only grows; with the default thresholds each full collection rescans it all
    (tens of ms, the p99 of a write).  Freeze what startup built and collect rarely."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 1000)


def serve(
    systems: list[str],
    *,
    port_base: int,
    seed: int,
    options: dict[str, Any],
    sockets: dict[str, socket.socket] | None = None,
    on_stop: Callable[[], None] | None = None,
    per_system: Mapping[str, Mapping[str, Any]] | None = None,
    faults: Mapping[str, Faults] | None = None,
    notes: Mapping[str, str] | None = None,
    otlp_endpoint: str | None = None,
    admin_check: Callable[[str], Any] | None = None,
) -> None:
    """Serve ``systems`` until SIGINT/SIGTERM (then ``on_stop()``, once).  ``sockets``:
    already listening (from :func:`listen_all`); else bound here, all before any URL is
    printed, a busy port raising :class:`ListenError`.  ``options`` go to every system's
    factory (``{system}`` in ``webhook_target`` replaced), ``per_system[s]`` to system
    ``s``'s only; ``faults[s]`` are set on ``s`` from the start; ``notes[s]`` (what it was
    configured with) is printed after its URL; ``otlp_endpoint``: each exports its spans
    there over OTLP/HTTP (:mod:`emulators.web._tracing`); ``admin_check``: ``/__admin``
    only for a request it accepts (:class:`emulators.web._common.AdminGuard`)."""
    sockets = listen_all(systems, port_base) if sockets is None else sockets
    try:
        configure_logging()
        clock = LiveClock()
        servers, providers = [], []
        for system in systems:
            mine = {**options, **(per_system or {}).get(system, {})}
            if isinstance(mine.get("webhook_target"), str):
                mine["webhook_target"] = mine["webhook_target"].replace("{system}", system)
            live = build_system(system, seed=seed, clock=clock, **mine)
            if admin_check is not None:
                live.app.add_middleware(AdminGuard, check=admin_check)
            if otlp_endpoint is not None:
                provider = setup_tracing(system, endpoint=otlp_endpoint)
                enable_tracing(live, provider)
                providers += [provider] if provider is not None else []
            if faults is not None and system in faults:
                live.host.set_faults(faults[system])
            config = uvicorn.Config(
                live.app,
                access_log=False,
                log_level="warning",
                lifespan="on",
                timeout_graceful_shutdown=GRACEFUL_S,
            )
            servers.append((_Server(config), sockets[system]))
        for system in systems:
            port = sockets[system].getsockname()[1]
            print(f"{system:9} http://127.0.0.1:{port}  (admin: /__admin, docs: /docs)", flush=True)
            if notes is not None and system in notes:
                print(f"{'':9} {notes[system]}", flush=True)
        tune_gc()
        try:
            asyncio.run(_serve(servers, on_stop))
        finally:
            shutdown_tracing(providers)
    finally:
        for sock in sockets.values():
            sock.close()
