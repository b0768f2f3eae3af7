"""Loopback ports for tests that serve on one, or need one nothing answers on."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then let go): to serve on, or to be
    refused at."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
