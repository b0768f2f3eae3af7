"""``supplysync serve [erp|supplier|wms|ap|all]``: the emulators, and with ``all`` the core.

Theory of operation.  Every port is checked before anything starts or any URL is
printed: the emulators' sockets are bound here and handed to uvicorn
(:func:`emulators.web.serve.listen_all`), the core's port is tried (the core, a process
of its own, binds it itself a moment later).  A busy port is one line naming it, exit 2.
The core (``python -m scenarios.live.serve_core``) is started next and waited for until it
listens, so a core that cannot start (a bad ``--store``) stops the command before the
emulators' URLs are printed; its own error line is what the user reads.

Stopping: SIGINT (Ctrl-C) or SIGTERM asks the emulators to stop and, at the same moment,
sends the core SIGTERM; the core then gets until :data:`STOP_S` after the signal to
exit, and is killed if it has not (a core busy with one huge message must not outlive
the command, nor keep its port).  A second signal while stopping kills the core at once.
A stop requested by a signal is a clean exit, 0.

Configuration.  With ``--scenario`` the emulators are built by
:func:`scenarios.live.setup.emulator_setup`, the function a live run's emulators are
built by (the scenario's master data, its supplier profiles with every delay divided by
``--speedup``, the partner directory), and its steady faults are set from the start; the
core gets the same scenario (its trading partners) and seed.  Each service's URL is
printed with what it was configured with.

Access.  With ``--auth FILE`` the core checks bearer tokens and the emulators' ``/__admin``
needs one with the ``admin:faults`` scope (the core mints its own to subscribe, when the
file holds a signing key).
"""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from emulators import SYSTEMS
from scenarios.errors import EXIT_INPUT, EXIT_OK
from scenarios.live.serve_core import auth_option
from scenarios.live.setup import EmulatorSetup, emulator_setup
from scenarios.spec.load import ScenarioError, load_scenario

__all__ = ["STOP_S", "configure", "serve"]

STOP_S = 7.0  # after the stop signal: the core's time to exit before it is killed
CORE_START_S = 60.0  # the core imports its web stack and opens its store, then listens


def _check_free(port: int, name: str) -> None:
    from emulators.web.serve import listen

    listen(port, name).close()


class _Core:
    """The core's process: started, waited for until it listens, stopped within a bound."""

    def __init__(self, args: argparse.Namespace, seed: int) -> None:
        base = args.port_base
        urls = [(f"--{s}", f"http://127.0.0.1:{base + i}") for i, s in enumerate(SYSTEMS, 1)]
        self.port = args.port_base
        self.stop_at: float | None = None  # monotonic deadline, once asked to stop
        self.hurry = False
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scenarios.live.serve_core", "--port", str(self.port),
             "--store", str(args.store), "--seed", str(seed),
             *(("--scenario", args.scenario) if args.scenario else ()),
             *(("--otlp-endpoint", args.otlp_endpoint) if args.otlp_endpoint else ()),
             *(("--auth", str(Path(args.auth).resolve())) if args.auth else ()),
             *(part for pair in urls for part in pair)]
        )  # fmt: skip

    def wait_listening(self) -> int | None:
        """None once the core accepts connections; its exit code if it exited first."""
        deadline = time.monotonic() + CORE_START_S
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                return code
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return None
            except OSError:
                time.sleep(0.05)
        raise ScenarioError("serve", "core", f"not listening on 127.0.0.1:{self.port} "
                            f"within {CORE_START_S:g} s")  # fmt: skip

    def terminate(self) -> None:
        """Ask the core to stop (SIGTERM), once; the clock of STOP_S starts now."""
        if self.stop_at is None:
            self.stop_at = time.monotonic() + STOP_S
            if self.proc.poll() is None:
                self.proc.terminate()

    def stop(self) -> None:
        """SIGTERM if not sent yet, wait until the deadline (or a second signal), then kill."""
        self.terminate()
        assert self.stop_at is not None
        while self.proc.poll() is None and not self.hurry and time.monotonic() < self.stop_at:
            time.sleep(0.05)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def configure(args: argparse.Namespace) -> tuple[int, EmulatorSetup | None]:
    """The seed the services use and, with ``--scenario``, the emulators' setup;
    ScenarioError for a bad scenario or ``--speedup``."""
    if not args.scenario:
        if args.speedup is not None:
            raise ScenarioError("serve", "--speedup", "needs --scenario (it scales its delays)")
        return (1 if args.seed is None else args.seed), None
    speedup = 1.0 if args.speedup is None else args.speedup
    if not 0 < speedup <= 1_000_000:
        raise ScenarioError("serve", "--speedup", "must be within 0..1000000 (exclusive of 0)")
    spec = load_scenario(args.scenario, seed=args.seed)
    return spec.seed, emulator_setup(spec, speedup, dt.date.today())


def _plain(seed: int) -> dict[str, str]:
    """What emulators without a scenario are configured with."""
    return {
        "erp": f"no scenario, seed {seed}: no master data (any supplier, item, location goes)",
        "supplier": f"no scenario, seed {seed}: 6 trading partners SUPP1001..SUPP1006 (ERP "
        "S1001..S1006), default profiles (acknowledgments after ~45 min)",
        "wms": f"no scenario, seed {seed}",
        "ap": f"no scenario, seed {seed}: no contract prices",
    }


def _admin_check(args: argparse.Namespace) -> Any:
    """With ``--auth``: the emulators' ``/__admin`` needs a token with ``admin:faults``."""
    auth = auth_option(args)
    if auth is None:
        return None
    from sync_core.service.access import bearer_check

    return bearer_check(auth, "admin:faults")


def serve(args: argparse.Namespace) -> int:
    """Validate, check every port, start the core (``all``), then serve until a signal."""
    from emulators.web.apps import FACTORIES
    from emulators.web.serve import ListenError, listen_all
    from emulators.web.serve import serve as serve_emulators

    systems = [s for s in SYSTEMS if s in FACTORIES] if args.system == "all" else [args.system]
    missing = [s for s in systems if s not in FACTORIES]
    if missing:
        raise ScenarioError("serve", "system", f"{missing[0]} has no HTTP service yet")
    if not 1024 <= args.port_base <= 65000:
        raise ScenarioError("serve", "--port-base", "must be within 1024..65000")
    if args.webhook_target and not args.webhook_target.startswith(
        ("http://127.0.0.1", "http://localhost", "http://[::1]")
    ):
        raise ScenarioError("serve", "--webhook-target", "must be a loopback http:// URL")
    seed, setup = configure(args)
    admin_check = _admin_check(args)
    with_core = args.system == "all" and not args.no_core
    try:
        sockets = listen_all(systems, args.port_base)
        try:
            if with_core:
                _check_free(args.port_base, "core")
        except ListenError:
            for sock in sockets.values():
                sock.close()
            raise
    except ListenError as e:
        raise ScenarioError("serve", "--port-base", str(e)) from None

    core: _Core | None = None
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt  # before and after the event loop: unwind, stop the core

    def hurry(signum: int, frame: FrameType | None) -> None:
        if core is not None:
            core.hurry = True

    signal.signal(signal.SIGTERM, interrupt)
    try:
        if with_core:
            core = _Core(args, seed)
            code = core.wait_listening()
            if code is not None:  # it has said why on stderr
                return EXIT_INPUT
        serve_emulators(
            systems,
            port_base=args.port_base,
            seed=seed,
            options={"webhook_target": args.webhook_target},
            sockets=sockets,
            on_stop=core.terminate if core is not None else None,
            per_system=setup.options if setup else None,
            faults=setup.faults if setup else None,
            notes={s: setup.describe(s) for s in systems} if setup else _plain(seed),
            otlp_endpoint=args.otlp_endpoint,
            admin_check=admin_check,
        )
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a server is stopped
    finally:
        for sock in sockets.values():
            sock.close()
        if core is not None:
            for s in previous:
                signal.signal(s, hurry)
            core.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return EXIT_OK
