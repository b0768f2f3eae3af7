"""The processes of a live run: the emulators' and the sync core's, on free 127.0.0.1 ports.

Theory of operation.  The four emulators run in one subprocess
(:class:`EmulatorsProcess`: ``python -m scenarios.live.setup ...`` on four
consecutive free ports) and the sync core in another (:class:`CoreProcess`: ``python -m
scenarios.live.serve_core`` on a store file).  Every port is chosen, and held for the
process that serves on it (:func:`reserve_port`), before anything starts, so both
processes can start at once: the core subscribes itself at each emulator
as soon as that one listens.  :func:`wait_healthy` waits for all of them together: each is
healthy when its ``/health`` answers (the core: once it has subscribed itself at every
emulator); a process that exits while we wait fails the run with the tail of its log.
:class:`EmulatorsProcess` and :class:`CoreProcess` stop their process with a signal;
:func:`start_emulators` (and a :class:`CoreProcess` with ``new_session``) leads a process
group of its own, which :func:`stop_group` signals whole, so nothing outlives the run.
The processes run in the project's folder (``ROOT``): a scenario file and the store are
given to them as absolute paths, resolved from the caller's working directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from scenarios.live.options import ROOT, SYSTEMS, LiveError

START_S = 60.0  # the longest the emulators and the core may take to start (together)

__all__ = [
    "START_S",
    "CoreProcess",
    "EmulatorsProcess",
    "Health",
    "hold_port",
    "log_tail",
    "reserve_port",
    "start_emulators",
    "stop_group",
    "wait_healthy",
]


def reserve_port(port: int = 0) -> socket.socket:
    """127.0.0.1:``port`` (0: a free one) held for a child process to serve on: bound with
    SO_REUSEADDR and never listening.  While it is open nothing else gets the port (not a
    bind, not a ``bind(0)``, not an outgoing connection's ephemeral port), but the child,
    which binds it with SO_REUSEADDR too, can listen on it, and again after a restart; a
    connection while no child listens is refused.  A port found free and let go before
    the child bound it was taken in between by another test's port often enough to fail
    a run ("Address already in use")."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    return sock


def _hold_until_collected(owner: object, socks: list[socket.socket]) -> None:
    """Let ``socks`` go when ``owner`` is garbage-collected (or at exit)."""
    weakref.finalize(owner, _close_all, socks)


def _close_all(socks: list[socket.socket]) -> None:
    for s in socks:
        s.close()


def hold_port(owner: object) -> int:
    """A free 127.0.0.1 port held (:func:`reserve_port`) as long as ``owner`` lives: the
    port of a process ``owner`` starts, and restarts."""
    sock = reserve_port()
    _hold_until_collected(owner, [sock])
    return int(sock.getsockname()[1])


def _reserve_base() -> tuple[int, list[socket.socket]]:
    """A base whose +1..+4 (the emulators' fixed offsets) are held, and their sockets."""
    for _ in range(50):
        first = reserve_port()
        base = first.getsockname()[1] - 1
        socks = [first]
        try:
            for k in range(2, 5):
                socks.append(reserve_port(base + k))  # each held at once: all closed if one is busy
        except OSError:
            _close_all(socks)
            continue
        return base, socks
    raise LiveError("no four consecutive free ports on 127.0.0.1")


def _absolute(scenario: str) -> str:
    """A scenario file's absolute path (our processes run in ROOT); a library name as is."""
    path = Path(scenario)
    return str(path.absolute()) if path.suffix in (".yaml", ".yml") or path.exists() else scenario


def _stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def log_tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-2000:]
    except OSError:
        return ""


@dataclass(frozen=True)
class Health:
    """A process that is up once ``url``'s ``GET /health`` answers 200 and ``ready`` says so."""

    url: str
    proc: subprocess.Popen[bytes] | None
    log: Path
    ready: Callable[[dict[str, Any]], bool] = lambda _: True


def wait_healthy(waits: list[Health], timeout_s: float) -> None:
    """Wait until every one of ``waits`` is healthy, polling all of them together on one
    client (a client per poll built an SSL context each time: ~1 s of CPU over a start,
    taken from the processes starting); LiveError if one exits or the time runs out."""
    deadline = time.monotonic() + timeout_s
    pending = list(waits)
    with httpx.Client(timeout=1) as client:
        while True:
            for w in list(pending):
                if w.proc is not None and w.proc.poll() is not None:
                    raise LiveError(f"{w.url} exited with {w.proc.returncode}:\n{log_tail(w.log)}")
                try:
                    r = client.get(f"{w.url}/health")
                    if r.status_code == 200 and w.ready(r.json()):
                        pending.remove(w)
                except (httpx.HTTPError, ValueError):
                    pass
            if not pending:
                return
            if time.monotonic() >= deadline:
                w = pending[0]
                raise LiveError(f"{w.url} not healthy within {timeout_s:g} s:\n{log_tail(w.log)}")
            time.sleep(0.02)


class EmulatorsProcess:
    """The four emulators' subprocess on four consecutive free 127.0.0.1 ports, chosen when
    it is made (so a core can be given their URLs before they listen), logging to
    ``out/emulators.log``."""

    def __init__(self, scenario: str, seed: int, speedup: float, out: Path) -> None:
        base, held = _reserve_base()
        _hold_until_collected(self, held)
        self.urls = {s: f"http://127.0.0.1:{base + k}" for k, s in enumerate(SYSTEMS, start=1)}
        self.log = out / "emulators.log"
        self.args = [sys.executable, "-m", "scenarios.live.setup", _absolute(scenario),
                     str(seed), str(speedup), str(base)]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self, *, new_session: bool = False) -> None:
        """Start it, not waiting for it (``new_session``: it leads a process group of its
        own, see :func:`stop_group`)."""
        self.proc = _popen(self.args, self.log, new_session)

    def health(self) -> list[Health]:
        """What :func:`wait_healthy` waits for: each emulator's ``/health``."""
        return [Health(url, self.proc, self.log) for url in self.urls.values()]

    def stop(self) -> None:
        _stop(self.proc, signal.SIGINT)


def _popen(args: list[str], log: Path, new_session: bool) -> subprocess.Popen[bytes]:
    """``args`` in the project's folder, its output appended to ``log``."""
    with log.open("ab") as sink:
        return subprocess.Popen(
            args,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=new_session,
        )


class CoreProcess:
    """The sync core as a subprocess on a store file; killed and restarted at will."""

    new_session = False  # True: the core leads a process group of its own (see stop_group)
    store_url: str | None = None  # a postgresql:// store instead of the file in ``out``
    extra: tuple[str, ...] = ()  # more options (the scale-out core: --bus, --workers ...)

    def __init__(self, scenario: str, seed: int, urls: dict[str, str], out: Path) -> None:
        self.scenario, self.seed, self.urls = scenario, seed, urls
        self.store, self.log = (out / "core.sqlite").absolute(), out / "core.log"
        self.port = hold_port(self)  # its own, across restarts
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.lock = threading.Lock()

    def spawn(self) -> None:
        """Start it, not waiting for it (see :meth:`health`)."""
        args = [sys.executable, "-m", "scenarios.live.serve_core",
                "--store", self.store_url or str(self.store), "--port", str(self.port),
                "--scenario", _absolute(self.scenario), "--seed", str(self.seed)]  # fmt: skip
        for system, url in self.urls.items():
            args += [f"--{system}", url]
        self.proc = _popen([*args, *self.extra], self.log, self.new_session)
        self.starts += 1

    def health(self) -> Health:
        """Healthy once it answers and has subscribed itself at every emulator."""

        def subscribed(health: dict[str, Any]) -> bool:
            subs = health.get("subscriptions") or {}
            return len(subs) == len(self.urls) and all(
                str(v).startswith("http") for v in subs.values()
            )

        return Health(self.url, self.proc, self.log, subscribed)

    def start(self, timeout_s: float = 30.0) -> None:
        self.spawn()
        wait_healthy([self.health()], timeout_s)

    def kill(self) -> None:
        _stop(self.proc, signal.SIGKILL)

    def stop(self) -> None:
        _stop(self.proc, signal.SIGTERM)


def start_emulators(
    scenario: str, seed: int, speedup: float, out: Path, timeout_s: float = 30.0
) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """The four emulators in one subprocess that leads a process group of its own (so
    :func:`stop_group` leaves nothing behind), healthy; its log is ``out/emulators.log``.
    The caller owns the process: stop it with :func:`stop_group`."""
    emulators = EmulatorsProcess(scenario, seed, speedup, out)
    emulators.spawn(new_session=True)
    assert emulators.proc is not None
    try:
        wait_healthy(emulators.health(), timeout_s)
    except BaseException:
        stop_group(emulators.proc, signal.SIGKILL)
        raise
    return emulators.proc, emulators.urls


def stop_group(
    proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, timeout_s: float = 10.0
) -> None:
    """Signal the process group ``proc`` leads (started with ``start_new_session``), SIGKILL
    the group if its leader outlives ``timeout_s``, reap the leader, then SIGKILL whatever
    is left of the group."""
    if proc is None:
        return
    for s in (sig, signal.SIGKILL):
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, s)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                continue
        break
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # a child that outlived its leader
