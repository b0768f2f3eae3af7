"""``supplysync dlq``: the dead-letter queue of a store file, from the command line.

Theory of operation: each action opens the store named on the command line (a
SQLite file, which must exist — this command never creates a store — or a
``postgresql://`` URL: :mod:`scenarios.cli.stores`), does one thing through
:mod:`sync_core.dlq`, prints what it did and closes the store::

    supplysync dlq list STORE [--status open|replayed|discarded] [--source ...] [--json]
    supplysync dlq show STORE ID
    supplysync dlq replay STORE (ID... | --all) [--actor NAME]
    supplysync dlq discard STORE ID --reason TEXT [--actor NAME]

A replay or a discard is in the store's audit trail with ``--actor`` (by default
the user name of whoever runs the command).

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

from scenarios.cli.stores import NoStore, add_actor, add_store, default_actor, open_existing
from scenarios.command import Command
from scenarios.errors import EXIT_OK, fail
from sync_core import dlq
from sync_core.store import DeadLetterRecord, DeadLetterStatus, Replayed, Store, StoreError

__all__ = ["COMMAND", "handle", "main"]

_REASON_WIDTH = 72


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

    store = add_store

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
    add_actor(rp)

    dc = actions.add_parser("discard", help="give an open letter up, with a reason")
    store(dc)
    dc.add_argument("id", type=_letter_id)
    dc.add_argument("--reason", required=True, help="why (kept with the letter)")
    add_actor(dc)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run a parsed ``dlq`` command; errors of the user's making print a message and give 2."""
    if args.dlq_action == "replay" and bool(args.ids) == bool(args.all):
        return fail("dlq replay: give dead-letter ids or --all (not both)")
    if getattr(args, "actor", "") is None:
        args.actor = default_actor()
    try:
        with open_existing(args.store) as store:
            return _ACTIONS[args.dlq_action](store, args)
    except StoreError as e:  # DeadLetterError included: unknown id, not open, ...
        return fail(e.reason if isinstance(e, NoStore) else str(e))


def _list(store: Store, args: argparse.Namespace) -> int:
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


def _show(store: Store, args: argparse.Namespace) -> int:
    print(json.dumps(dlq.record_to_json(dlq.show(store, args.id)), indent=2))
    return EXIT_OK


def _replay(store: Store, args: argparse.Namespace) -> int:
    if args.all:
        report = dlq.replay_all(store, actor=args.actor)
        replayed, skipped = report.replayed, report.skipped
    else:
        replayed, skipped = dlq.replay(store, args.ids, actor=args.actor), []
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


def _discard(store: Store, args: argparse.Namespace) -> int:
    record = dlq.discard(store, args.id, args.reason, actor=args.actor)
    print(f"discarded {record.id} ({record.letter.message_id}): {record.discard_reason}")
    return EXIT_OK


_ACTIONS = {"list": _list, "show": _show, "replay": _replay, "discard": _discard}


COMMAND = Command(
    "dlq",
    "list, inspect, replay or discard the dead letters of a store",
    _arguments,
    handle,
)
main = COMMAND.main  # ``supplysync dlq ...`` on its own: ``argv`` starts after ``dlq``


if __name__ == "__main__":
    sys.exit(main())
