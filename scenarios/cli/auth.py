"""``supplysync auth token``: mint a bearer token for the core's API (or the emulators' admin).

Theory of operation: an operator or a tester holding the auth file's signing key (the
HS256 secret, or ``signing_key``: a private key PEM) mints a JWT for one subject with the
scopes it needs, and for a partner the one supplier it may see::

    supplysync auth token --auth auth.yaml --sub alice --scope "dlq:read dlq:replay"
    supplysync auth token --auth auth.yaml --sub portal-s1001 --scope partner:read \\
        --supplier S1001 --ttl 900

It prints the token alone on stdout (for ``$(...)`` in a shell).  Exit 2, one line, for
an auth file that cannot be used or holds no signing key, an unknown scope or a
``--ttl`` out of range.  The scopes and the file's format: :mod:`sync_core.auth`,
:data:`sync_core.service.access.SCOPES`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from scenarios.command import Command
from scenarios.errors import EXIT_OK, fail
from sync_core.auth import AuthFileError, load_auth, mint
from sync_core.service.access import SCOPES

__all__ = ["COMMAND", "handle"]

MAX_TTL_S = 366 * 24 * 3600


def _arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, parser_class=type(p))
    token = sub.add_parser("token", help="mint a bearer token (needs the file's signing key)")
    token.add_argument("--auth", metavar="FILE", required=True, help="the auth file")
    token.add_argument("--sub", required=True, help="who the token is for (the actor)")
    token.add_argument("--scope", required=True,
                       help=f"space-separated scopes: {', '.join(SCOPES)}")  # fmt: skip
    token.add_argument("--supplier", help="partner:read: the one supplier the token may see")
    token.add_argument("--ttl", type=float, default=3600.0,
                       help="seconds the token is valid (default 3600)")  # fmt: skip


def _fail(message: str) -> int:
    return fail(f"auth token: {message}")


def handle(args: argparse.Namespace) -> int:
    scopes = args.scope.split()
    unknown = [s for s in scopes if s not in SCOPES]
    if not scopes or unknown:
        what = f"unknown scope {unknown[0]!r}" if unknown else "give at least one scope"
        return _fail(f"--scope: {what} (known: {', '.join(SCOPES)})")
    if not 0 < args.ttl <= MAX_TTL_S:
        return _fail(f"--ttl: must be within 0..{MAX_TTL_S:g} seconds (exclusive of 0)")
    if not args.sub.strip():
        return _fail("--sub: must not be empty")
    try:
        config = load_auth(Path(args.auth))
    except AuthFileError as e:
        return _fail(f"--auth: {e}")
    if not config.can_mint:
        return _fail(f"--auth: {args.auth}: signing_key: needed to mint {config.algorithm} tokens")
    token = mint(config, sub=args.sub, scopes=scopes, now=time.time(), ttl_s=args.ttl,
                 supplier=args.supplier)  # fmt: skip
    print(token)
    return EXIT_OK


COMMAND = Command(
    "auth", "mint a bearer token for the core's API (serve --auth)", _arguments, handle
)
