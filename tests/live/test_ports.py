"""The ports a live run's processes serve on are held for them from the moment they are
chosen: nothing else takes one in between (the CI failure this guards against: another
test's port landed on the supplier's before the emulators bound it, "Address already in
use"), yet the process they are for listens on them, and again after a restart."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from scenarios.live import procs
from scenarios.live.procs import CoreProcess, EmulatorsProcess, reserve_port

SERVE_ONCE = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
print("listening", flush=True)
conn, _ = s.accept()
conn.sendall(b"hello")
conn.close()
"""


def _taken_by_another(port: int) -> bool:
    """Whether a socket that is not the one it is held for can bind ``port``."""
    with socket.socket() as other:
        try:
            other.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def _serve_once(port: int) -> bytes:
    """A child process listens on ``port``, answers one connection and exits."""
    with subprocess.Popen(
        [sys.executable, "-c", SERVE_ONCE, str(port)], stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None and child.stdout.readline() == "listening\n"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            got = conn.recv(16)
        assert child.wait(timeout=10) == 0
    return got


def test_a_held_port_is_served_by_its_process_again_and_again_and_by_nothing_else() -> None:
    held = reserve_port()
    port = held.getsockname()[1]
    try:
        assert not _taken_by_another(port)
        assert _refused(port)  # held, not listening: a caller is refused, not kept waiting
        assert _serve_once(port) == b"hello"
        assert not _taken_by_another(port), "the port went free when its process exited"
        assert _refused(port)
        assert _serve_once(port) == b"hello"  # a restart listens again
    finally:
        held.close()


def test_the_emulators_and_the_cores_ports_are_held_from_the_moment_they_are_chosen(
    tmp_path: Path,
) -> None:
    emulators = EmulatorsProcess("partial_confirmation", 1, 60.0, tmp_path)
    ports = [urlsplit(u).port for u in emulators.urls.values()]
    core = CoreProcess("partial_confirmation", 1, emulators.urls, tmp_path)
    assert core.port not in ports
    for port in [*ports, core.port]:
        assert port is not None and not _taken_by_another(port), port
    del emulators, core  # a run's processes are done with: their ports go back
    assert all(_taken_by_another(port) for port in ports if port is not None)


def test_four_ports_with_a_busy_one_among_them_are_let_go_and_others_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run that met a busy fourth port left the three it held open (ResourceWarning)."""
    made: list[socket.socket] = []
    busy: list[int] = []

    def reserve(port: int = 0) -> socket.socket:  # the real one, but for the busy port
        if port and not busy:  # the first try's second port on: the last one is busy
            busy.append(port + 2)
        if port in busy:
            raise OSError(98, "Address already in use")
        made.append(reserve_port(port))
        return made[-1]

    monkeypatch.setattr(procs, "reserve_port", reserve)
    base, held = procs._reserve_base()
    try:
        assert base + 4 != busy[0]  # found elsewhere
        assert [s.getsockname()[1] for s in held] == [base + k for k in range(1, 5)]
        let_go = [s for s in made if s not in held]
        assert len(let_go) == 3 and all(s.fileno() == -1 for s in let_go)  # closed
    finally:
        procs._close_all(held)
