"""``supplysync serve all`` as a user runs it: busy ports, Ctrl-C, SIGTERM, a stuck core.

Each test starts the real command as a subprocess on free 127.0.0.1 ports and bounds
every wait; whatever a failing test leaves running is killed by its pid.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

SERVICES = ("core", "erp", "supplier", "wms", "ap")  # on base + 0..4
STOP_BOUND_S = 10.0


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_base(n: int = 5) -> int:
    """A port base whose ``n`` ports (by default core, erp, supplier, wms, ap) are all free.

    Drawn below the kernel's ephemeral range (32768-60999 here): a port from that range
    can be handed to any outgoing connection (another test's client, a database
    connection) between this check and the server's bind."""
    draw = random.SystemRandom()
    for _ in range(200):
        base = draw.randrange(20_000, 32_000 - n)
        if all(_is_free(base + k) for k in range(n)):
            return base
    raise RuntimeError(f"no {n} consecutive free ports")


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextlib.contextmanager
def serving(tmp_path: Path, base: int) -> Iterator[subprocess.Popen[str]]:
    """``supplysync serve all`` on ``base``, healthy; killed (with its children) if left."""
    out, err = (tmp_path / "serve.out").open("w"), (tmp_path / "serve.err").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "scenarios.cli.main", "serve", "all", "--port-base", str(base),
         "--store", str(tmp_path / "core.sqlite")],
        cwd=tmp_path, stdout=out, stderr=err, text=True,
    )  # fmt: skip
    children: list[int] = []
    try:
        deadline = time.monotonic() + 120
        pending = [f"http://127.0.0.1:{base + k}/health" for k in range(5)]
        while pending:
            assert proc.poll() is None, (tmp_path / "serve.err").read_text()
            assert time.monotonic() < deadline, "serve all not healthy within 120 s"
            try:
                if httpx.get(pending[0], timeout=1).status_code == 200:
                    pending.pop(0)
                    continue
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        children = _children(proc.pid)
        yield proc
    finally:
        for pid in [*children, proc.pid]:
            with contextlib.suppress(ProcessLookupError):
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        out.close()
        err.close()


def test_a_busy_port_is_named_before_any_url_is_printed(tmp_path):
    """Before: five URLs, then two tracebacks, exit 3."""
    base = free_base()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", base + 3))  # the WMS's
        busy.listen()
        proc = subprocess.run(
            [sys.executable, "-m", "scenarios.cli.main", "serve", "all", "--port-base", str(base),
             "--store", str(tmp_path / "core.sqlite")],
            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""  # no URL printed
    assert "Traceback" not in proc.stderr
    assert proc.stderr == (
        f"supplysync: error: serve: --port-base: cannot listen on 127.0.0.1:{base + 3} (wms): "
        "Address already in use\n"
    )
    assert all(_is_free(base + k) for k in range(5)), "something was left listening"
    assert not (tmp_path / "core.sqlite").exists()  # the core was never started


def test_a_busy_core_port_is_named_too(tmp_path):
    base = free_base()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", base))
        busy.listen()
        proc = subprocess.run(
            [sys.executable, "-m", "scenarios.cli.main", "serve", "all", "--port-base", str(base)],
            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert (proc.returncode, proc.stdout) == (2, "")
    assert f"127.0.0.1:{base} (core): Address already in use" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert all(_is_free(base + k) for k in range(1, 5))


def _stopped_within_bound(proc: subprocess.Popen[str], sig: int) -> tuple[int, float]:
    started = time.monotonic()
    proc.send_signal(sig)
    code = proc.wait(timeout=STOP_BOUND_S + 5)  # the bound is asserted below, with a margin
    return code, time.monotonic() - started


def test_ctrl_c_stops_every_child_and_frees_every_port(tmp_path):
    base = free_base()
    with serving(tmp_path, base) as proc:
        children = _children(proc.pid)
        assert children, "serve all started no core process"
        code, took = _stopped_within_bound(proc, signal.SIGINT)
        assert code == 0, (tmp_path / "serve.err").read_text()
        assert took < STOP_BOUND_S, took
        assert not any(_alive(pid) for pid in children)
        assert [base + k for k in range(5) if not _is_free(base + k)] == []
    err = (tmp_path / "serve.err").read_text()
    assert "Traceback" not in err and "TimeoutExpired" not in err, err
    printed = (tmp_path / "serve.out").read_text()
    for k, name in enumerate(SERVICES):
        assert f"http://127.0.0.1:{base + k}" in printed and name in printed


def test_sigterm_stops_a_core_that_does_not_answer_within_the_bound(tmp_path):
    """A stopped core (SIGSTOP) ignores SIGTERM, as a core stuck in one huge message did:
    it is killed, the command still exits within 10 s, and its port is free."""
    base = free_base()
    with serving(tmp_path, base) as proc:
        (core,) = _children(proc.pid)
        os.kill(core, signal.SIGSTOP)
        code, took = _stopped_within_bound(proc, signal.SIGTERM)
        assert code == 0
        assert took < STOP_BOUND_S, took
        assert not _alive(core)
        assert [base + k for k in range(5) if not _is_free(base + k)] == []
    assert "Traceback" not in (tmp_path / "serve.err").read_text()


@pytest.mark.parametrize("store", ["folder", "not-a-store"])
def test_a_core_that_cannot_start_stops_the_command_before_the_urls(tmp_path, store):
    base = free_base()
    path = tmp_path / store
    if store == "folder":
        path.mkdir()
    else:
        path.write_bytes(b"this is not an SQLite database" * 100)
    proc = subprocess.run(
        [sys.executable, "-m", "scenarios.cli.main", "serve", "all", "--port-base", str(base),
         "--store", store],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and store in proc.stderr, proc.stderr
    assert all(_is_free(base + k) for k in range(5))
