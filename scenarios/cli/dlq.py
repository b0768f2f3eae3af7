"""``supplysync dlq``: the dead-letter queue of a store file, from the command line.

Theory of operation: each action opens the SQLite store file named on the
command line (it must exist — this command never creates a store), does one
thing through :mod:`sync_core.dlq`, prints what it did and closes the store::

    supplysync dlq list STORE [--status open|replayed|discarded] [--source ...] [--json]
    supplysync dlq show STORE ID
    supplysync dlq replay STORE (ID... | --all)
    supplysync dlq discard STORE ID --reason TEXT

Replayed letters are queued in the store (request letters in the outbox,
inbound letters as pending inbound messages); the sync core carries them out
the next time a driver runs on that store.  Exit codes: 0 done, 2 bad input —
a missing or foreign file, an unknown id, a letter that is not open, a missing
reason — with a message naming it and no traceback.  ``replay --all`` also
exits 0 when some open letters could not be replayed; it names them.

:data:`COMMAND` plugs the command into the ``supplysync`` parser and
:func:`handle` runs it; :func:`main` is the same command on its own
(``python -m scenarios.cli.dlq``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from scenarios.command import Command
from sync_core import dlq
from sync_core.store import DeadLetterRecord, DeadLetterStatus, Replayed, StoreError
from sync_core.store_sqlite import SqliteStore

__all__ = ["COMMAND", "handle", "main"]

EXIT_OK, EXIT_INPUT = 0, 2
_REASON_WIDTH = 72


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # exit 2 with the usage line, as argparse
        self.print_usage(sys.stderr)
        self.exit(EXIT_INPUT, f"supplysync: error: {message}\n")


def _letter_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a dead-letter id: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a dead-letter id: {text!r} (ids start at 1)")
    return value


def _arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``dlq``."""
    actions = p.add_subparsers(dest="dlq_action", required=True, parser_class=type(p))

    def store(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("store", type=Path, help="the sync core's SQLite store file")

    ls = actions.add_parser("list", help="the dead letters, oldest first")
    store(ls)
    ls.add_argument("--status", choices=[s.value for s in DeadLetterStatus])
    ls.add_argument("--source", choices=["inbound", "request"], help="what was dead-lettered")
    ls.add_argument("--kind", help="message kind (inbound) or operation (request)")
    ls.add_argument("--target", help="the system a request was for")
    ls.add_argument("--json", action="store_true", help="print a JSON array")

    sh = actions.add_parser("show", help="one dead letter, in full (JSON)")
    store(sh)
    sh.add_argument("id", type=_letter_id)

    rp = actions.add_parser("replay", help="queue open letters again, after a fix")
    store(rp)
    rp.add_argument("ids", nargs="*", type=_letter_id, metavar="ID")
    rp.add_argument("--all", action="store_true", help="every open letter")

    dc = actions.add_parser("discard", help="give an open letter up, with a reason")
    store(dc)
    dc.add_argument("id", type=_letter_id)
    dc.add_argument("--reason", required=True, help="why (kept with the letter)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run a parsed ``dlq`` command; errors of the user's making print a message and give 2."""
    if args.dlq_action == "replay" and bool(args.ids) == bool(args.all):
        return _fail("dlq replay: give dead-letter ids or --all (not both)")
    path: Path = args.store
    if not path.is_file():
        return _fail(f"{path}: no such store file")
    try:
        with SqliteStore(path) as store:
            return _ACTIONS[args.dlq_action](store, args)
    except StoreError as e:  # DeadLetterError included: unknown id, not open, ...
        return _fail(str(e))


def _fail(message: str) -> int:
    print(f"supplysync: error: {message}", file=sys.stderr)
    return EXIT_INPUT


def _list(store: SqliteStore, args: argparse.Namespace) -> int:
    records = dlq.list_letters(
        store, status=args.status, source=args.source, kind=args.kind, target=args.target
    )
    if args.json:
        print(json.dumps([dlq.record_to_json(r) for r in records], indent=2))
        return EXIT_OK
    if not records:
        print(f"{args.store}: no dead letters match")
        return EXIT_OK
    rows = [("ID", "STATUS", "SOURCE", "KIND", "MESSAGE", "REASON")]
    rows += [
        (str(r.id), r.status.value, r.source, str(r.letter.kind), r.letter.message_id,
         _short(r.letter.reason))
        for r in records
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[5]]))
    counts = {s: sum(r.status is s for r in records) for s in DeadLetterStatus}
    print(f"\n{len(records)} dead letters: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return EXIT_OK


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _REASON_WIDTH else line[: _REASON_WIDTH - 1] + "…"


def _show(store: SqliteStore, args: argparse.Namespace) -> int:
    print(json.dumps(dlq.record_to_json(dlq.show(store, args.id)), indent=2))
    return EXIT_OK


def _replay(store: SqliteStore, args: argparse.Namespace) -> int:
    if args.all:
        report = dlq.replay_all(store)
        replayed, skipped = report.replayed, report.skipped
    else:
        replayed, skipped = dlq.replay(store, args.ids), []
    for done in replayed:
        print(_replayed_line(done))
    for record, why in skipped:
        print(f"left open {record.id} ({record.letter.message_id}): {why}")
    if not replayed and not skipped:
        print(f"{args.store}: no open dead letters")
    return EXIT_OK


def _replayed_line(done: Replayed) -> str:
    r: DeadLetterRecord = done.record
    if done.outbox is not None:
        req = done.outbox.request
        what = f"request {req.target} {req.operation} back in the outbox as {r.replayed_as}"
    else:
        what = f"inbound {r.letter.kind} queued as {r.replayed_as}"
    return f"replayed {r.id}: {what} (replay {r.replays})"


def _discard(store: SqliteStore, args: argparse.Namespace) -> int:
    record = dlq.discard(store, args.id, args.reason)
    print(f"discarded {record.id} ({record.letter.message_id}): {record.discard_reason}")
    return EXIT_OK


_ACTIONS = {"list": _list, "show": _show, "replay": _replay, "discard": _discard}


def main(argv: Sequence[str] | None = None) -> int:
    """``supplysync dlq ...`` on its own: ``argv`` starts after ``dlq``."""
    parser = _Parser(prog="supplysync")
    COMMAND.install(parser.add_subparsers(dest="command", required=True, parser_class=_Parser))
    args = parser.parse_args(["dlq", *(sys.argv[1:] if argv is None else argv)])
    return handle(args)


COMMAND = Command(
    "dlq",
    "list, inspect, replay or discard the dead letters of a store file",
    _arguments,
    handle,
)


if __name__ == "__main__":
    sys.exit(main())
