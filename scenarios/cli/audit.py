"""``supplysync audit``: check a store's audit trail, or export it for a SIEM.

Theory of operation: each action opens the store named on the command line (an
existing SQLite file or a ``postgresql://`` URL, as ``supplysync dlq``:
:mod:`scenarios.cli.stores`), reads its audit trail (:mod:`sync_core.audit`) and
closes it::

    supplysync audit verify STORE|EMULATOR-URL [--token T]
    supplysync audit export STORE|EMULATOR-URL [--out FILE] [--token T]

An emulator's URL (``http://127.0.0.1:8101``) reads its admin trail from
``GET /__admin/audit`` (:mod:`emulators.admin_trail`: the same record format), with
``--token`` as the bearer when ``/__admin`` is guarded.

``verify`` walks the hash chain in stored order.  Exit 0 with ``N records, chain
intact (head HASH)`` when every entry holds; exit 1 naming the first bad record
(its seq, and why: a hash mismatch, a broken link, a gap, out of order); exit 1
too for a trail with no records — there is nothing to vouch for.  ``export``
writes one JSON object per line (the entry's fields and its hash), oldest
first, to stdout or ``--out``: what a SIEM ingests, and where the head hash
lives on outside the store.  Exit 2 for bad input: a missing file, a file that
is not a store, an unreachable database — one line, no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from scenarios.cli.stores import NoStore, add_store, open_existing
from scenarios.command import Command
from scenarios.errors import EXIT_OK, fail, os_error_line
from sync_core.audit import AuditEntry, verify
from sync_core.store import StoreError

__all__ = ["COMMAND", "EXIT_BROKEN", "handle"]

EXIT_BROKEN = 1  # the verdict is "not intact" (or there was nothing to judge)


def _arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="audit_action", required=True, parser_class=type(p))
    vf = actions.add_parser("verify", help="check the hash chain; name the first bad record")
    ex = actions.add_parser("export", help="the trail as JSON lines, oldest first (for a SIEM)")
    for action in (vf, ex):
        add_store(action)
        action.add_argument(
            "--token", help="bearer token for an emulator whose /__admin is guarded (--auth)"
        )
    ex.add_argument("--out", type=Path, metavar="FILE", help="write here (default: stdout)")
    p.set_defaults(handler=handle)


def _emulator_trail(url: str, token: str | None) -> list[AuditEntry]:
    """An emulator's admin trail (``GET /__admin/audit``); StoreError (one line) if none."""
    request = urllib.request.Request(url.rstrip("/") + "/__admin/audit")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return [AuditEntry(**entry) for entry in json.load(reply)]
    except urllib.error.HTTPError as e:
        raise NoStore("read", f"{url}: HTTP {e.code} for /__admin/audit") from None
    except (urllib.error.URLError, OSError) as e:
        raise NoStore("read", f"{url}: no answer ({getattr(e, 'reason', e)})") from None
    except (ValueError, TypeError):
        raise NoStore("read", f"{url}: /__admin/audit is not an audit trail") from None


def handle(args: argparse.Namespace) -> int:
    """Run a parsed ``audit`` command; bad input prints one line and gives 2."""
    try:
        if args.store.startswith(("http://", "https://")):
            trail = _emulator_trail(args.store, args.token)
        else:
            with open_existing(args.store) as store:
                trail = store.audit_trail()
    except StoreError as e:
        return fail(e.reason if isinstance(e, NoStore) else str(e))
    if args.audit_action == "verify":
        verdict = verify(trail)
        print(f"{args.store}: {verdict.summary()}")
        return EXIT_OK if verdict.intact else EXIT_BROKEN
    try:
        _export(trail, args.out)
    except OSError as e:
        return fail(os_error_line(e, args.out))
    return EXIT_OK


def _export(trail: Sequence[AuditEntry], out: Path | None) -> None:
    def write(stream: TextIO) -> None:
        for entry in trail:
            stream.write(json.dumps(entry.to_json(), ensure_ascii=False) + "\n")

    if out is None:
        write(sys.stdout)
        return
    with out.open("w", encoding="utf-8") as stream:
        write(stream)
    print(f"{out}: {len(trail)} audit records", file=sys.stderr)


COMMAND = Command(
    "audit",
    "verify a store's tamper-evident audit trail, or export it as JSON lines",
    _arguments,
    handle,
)
