"""The processes of a live run: the emulators' and the sync core's, on free 127.0.0.1 ports.

Theory of operation.  The four emulators run in one subprocess
(``python -m scenarios.live.run _emulators ...`` on four consecutive free ports) and the sync
core in another (``python -m scenarios.live.serve_core`` on a store file); each is healthy when
its ``/health`` answers (the core: once it has subscribed itself at every emulator).  A
process that exits while we wait fails the run with the tail of its log.
:func:`serving_emulators` and :class:`CoreProcess` stop their process with a signal;
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from scenarios.live.options import ROOT, SYSTEMS, LiveError

__all__ = ["CoreProcess", "log_tail", "serving_emulators", "start_emulators", "stop_group"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _free_port_base() -> int:
    """A base whose +1..+4 are all free (the emulators' fixed offsets)."""
    for _ in range(50):
        base = _free_port() - 1
        try:
            socks = []
            for k in range(1, 5):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", base + k))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
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


def _wait_healthy(
    url: str,
    proc: subprocess.Popen[bytes] | None,
    log: Path,
    timeout_s: float,
    ready: Callable[[dict[str, Any]], bool] = lambda _: True,
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise LiveError(f"{url} exited with {proc.returncode}:\n{log_tail(log)}")
        try:
            r = httpx.get(f"{url}/health", timeout=1)
            if r.status_code == 200 and ready(r.json()):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.05)
    raise LiveError(f"{url} not healthy within {timeout_s:g} s:\n{log_tail(log)}")


def _spawn_emulators(
    scenario: str, seed: int, speedup: float, out: Path, *, new_session: bool
) -> tuple[subprocess.Popen[bytes], dict[str, str], Path]:
    """Start the four emulators' subprocess on free ports, logging to
    ``out/emulators.log`` (``new_session``: it leads a process group of its own);
    returns the process, each system's URL and the log, not waiting for health."""
    base = _free_port_base()
    log = out / "emulators.log"
    args = [sys.executable, "-m", "scenarios.live.run", "_emulators", _absolute(scenario),
            str(seed), str(speedup), str(base)]  # fmt: skip
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=new_session,
        )
    urls = {s: f"http://127.0.0.1:{base + k}" for k, s in enumerate(SYSTEMS, start=1)}
    return proc, urls, log


@contextmanager
def serving_emulators(
    scenario: str, seed: int, speedup: float, out: Path
) -> Iterator[dict[str, str]]:
    proc, urls, log = _spawn_emulators(scenario, seed, speedup, out, new_session=False)
    try:
        for url in urls.values():
            _wait_healthy(url, proc, log, 30)
        yield urls
    finally:
        _stop(proc, signal.SIGINT)


class CoreProcess:
    """The sync core as a subprocess on a store file; killed and restarted at will."""

    new_session = False  # True: the core leads a process group of its own (see stop_group)
    store_url: str | None = None  # a postgresql:// store instead of the file in ``out``
    extra: tuple[str, ...] = ()  # more options (the scale-out core: --bus, --workers ...)

    def __init__(self, scenario: str, seed: int, urls: dict[str, str], out: Path) -> None:
        self.scenario, self.seed, self.urls = scenario, seed, urls
        self.store, self.log = (out / "core.sqlite").absolute(), out / "core.log"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.lock = threading.Lock()

    def start(self, timeout_s: float = 30.0) -> None:
        args = [
            sys.executable,
            "-m",
            "scenarios.live.serve_core",
            "--store",
            self.store_url or str(self.store),
            "--port",
            str(self.port),
            "--scenario",
            _absolute(self.scenario),
            "--seed",
            str(self.seed),
        ]
        for system, url in self.urls.items():
            args += [f"--{system}", url]
        args += self.extra
        with self.log.open("ab") as sink:
            self.proc = subprocess.Popen(
                args,
                cwd=ROOT,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=self.new_session,
            )
        self.starts += 1

        def subscribed(health: dict[str, Any]) -> bool:
            subs = health.get("subscriptions") or {}
            return len(subs) == len(self.urls) and all(
                str(v).startswith("http") for v in subs.values()
            )

        _wait_healthy(self.url, self.proc, self.log, timeout_s, subscribed)

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
    proc, urls, log = _spawn_emulators(scenario, seed, speedup, out, new_session=True)
    try:
        for url in urls.values():
            _wait_healthy(url, proc, log, timeout_s)
    except BaseException:
        stop_group(proc, signal.SIGKILL)
        raise
    return proc, urls


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
