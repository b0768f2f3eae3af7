"""Run emulators as real HTTP services on 127.0.0.1 (``supplysync serve``).

Theory of operation: ``build_system`` is the composition root of one live
emulator: it reads the wall clock once (the run's epoch), gives the behaviour a
monotonic clock, a timer scheduler on the event loop and a seeded random
stream, and wraps it in a :class:`~emulators.host.Host` and its FastAPI app.
Webhooks go out through an aiohttp session (the client chosen by
``loadtests/bench_http_client.py``) to the subscriber URL given on the command
line or set later through ``PUT /__admin/subscription``.  ``serve`` runs one
uvicorn server per system in one event loop and stops them all cleanly on
SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

from emulators import SYSTEMS
from emulators.web._common import LiveSystem

__all__ = [
    "PORT_OFFSETS",
    "SYSTEMS",
    "LiveClock",
    "LiveSystem",
    "build_system",
    "serve",
    "tune_gc",
]

PORT_OFFSETS = {"erp": 1, "supplier": 2, "wms": 3, "ap": 4}

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


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # signals are handled once for all servers
        yield


async def _serve(servers: list[_Server]) -> None:
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for s in servers:
            s.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    await asyncio.gather(*(s.serve() for s in servers))


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


def serve(systems: list[str], *, port_base: int, seed: int, options: dict[str, Any]) -> None:
    configure_logging()
    clock = LiveClock()
    servers = []
    for system in systems:
        live = build_system(system, seed=seed, clock=clock, **options)
        port = port_base + PORT_OFFSETS[system]
        config = uvicorn.Config(
            live.app,
            host="127.0.0.1",
            port=port,
            access_log=False,
            log_level="warning",
            lifespan="on",
        )
        servers.append(_Server(config))
        print(f"{system:9} http://127.0.0.1:{port}  (admin: /__admin, docs: /docs)", flush=True)
    tune_gc()
    asyncio.run(_serve(servers))
