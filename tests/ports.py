"""Loopback ports for tests that serve on one, or need one nothing answers on."""

from __future__ import annotations

import socket

from scenarios.live.procs import reserve_port

_held: list[socket.socket] = []


def free_port() -> int:
    """A 127.0.0.1 port nothing listens on, held until the test ends
    (:func:`scenarios.live.procs.reserve_port`): a server the test starts on it can listen
    there (it binds with SO_REUSEADDR, as ours, uvicorn's, Dask's and ZeroMQ's do), nothing
    else can take it in between, and a connection to it is refused."""
    sock = reserve_port()
    _held.append(sock)
    return int(sock.getsockname()[1])


def release_ports() -> None:
    """Let go of every port :func:`free_port` holds (after each test, see conftest)."""
    while _held:
        _held.pop().close()
