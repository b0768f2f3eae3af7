"""``supplysync bus replay``: a range of the scale-out core's event stream, from the command line.

Theory of operation: the scaled-out core's ingress publishes every webhook it accepts to a
NATS JetStream stream (``serve core --bus``; README: The sync core on several machines), so
the stream is the replayable event pipeline.  This command reads a range of it again —
without moving any consumer, so the workers notice nothing — through the bus contract's
``replay`` (:class:`sync_core.bus.Span`), and prints one JSON object a line, in stream
order::

    supplysync bus replay nats://127.0.0.1:4222 [--bus-prefix supplysync] [--bus-partitions 32]
        [--from SEQ|TIME] [--to SEQ|TIME] [--partition N | --key PO]

``--from`` is inclusive; ``--to`` is inclusive for a sequence number and exclusive for a
time (ISO 8601 with its zone, e.g. ``2026-12-03T10:00:00Z``).  ``--key`` keeps one PO's
messages (its partition, then its key).  Each line holds the message's ``seq``,
``partition``, ``key``, ``dedup_id``, ``published_at`` and the ``message`` the ingress
stored (its id, kind, body, ...).  What was printed is counted on stderr.  It only reads:
a prefix nobody published under is an error, not a new stream.  Exit codes: 0 done, 2 bad
input or a bus that cannot be read (no NATS there, no such stream), with a message naming
it and no traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from typing import Any

from scenarios.command import Command
from scenarios.errors import EXIT_OK, fail
from scenarios.live.serve_scaleout import DEFAULT_PARTITIONS
from sync_core.bus.base import BusConfig, BusError, BusMessage, Span, partition_of

__all__ = ["COMMAND", "handle", "main"]


def _moment(text: str) -> int | dt.datetime:
    """A stream sequence number (≥ 1) or an ISO 8601 time with its zone."""
    if text.isdigit():
        if int(text) < 1:
            raise argparse.ArgumentTypeError(f"{text!r}: sequence numbers start at 1")
        return int(text)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a sequence number nor an ISO 8601 time"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone (add Z or +00:00)")
    return moment


def _arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="bus_action", required=True, parser_class=type(p))
    rp = actions.add_parser("replay", help="print a range of the stream, one JSON a line")
    rp.add_argument("url", help="the NATS server, nats://HOST:PORT")
    rp.add_argument(
        "--bus-prefix",
        default="supplysync",
        metavar="NAME",
        help="the streams' name, as serve core --bus was given it (default supplysync)",
    )
    rp.add_argument(
        "--bus-partitions",
        type=int,
        default=DEFAULT_PARTITIONS,
        metavar="N",
        help=f"as serve core --bus was given it (default {DEFAULT_PARTITIONS})",
    )
    rp.add_argument(
        "--from",
        dest="start",
        type=_moment,
        metavar="SEQ|TIME",
        help="the first message: a sequence number or a time (inclusive)",
    )
    rp.add_argument(
        "--to",
        dest="end",
        type=_moment,
        metavar="SEQ|TIME",
        help="the last: a sequence number (inclusive) or a time (exclusive)",
    )
    which = rp.add_mutually_exclusive_group()
    which.add_argument("--partition", type=int, metavar="N", help="one partition only")
    which.add_argument("--key", metavar="PO", help="one PO's messages only")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run a parsed ``bus`` command; errors print a message naming what is wrong and give 2."""
    if not args.url.startswith(("nats://", "tls://")):
        return fail(f"bus replay: {args.url!r} is not a nats:// URL")
    if not 1 <= args.bus_partitions <= 1024:
        return fail("bus replay: --bus-partitions must be within 1..1024")
    if args.partition is not None and not 0 <= args.partition < args.bus_partitions:
        return fail(f"bus replay: --partition must be within 0..{args.bus_partitions - 1}")
    try:
        span = Span(
            start_seq=args.start if isinstance(args.start, int) else None,
            start_time=args.start if isinstance(args.start, dt.datetime) else None,
            end_seq=args.end if isinstance(args.end, int) else None,
            end_time=args.end if isinstance(args.end, dt.datetime) else None,
        )
        count = asyncio.run(_replay(args, span))
    except BusError as e:
        return fail(f"bus {e}")
    print(f"{count} message(s) replayed from {args.url} ({args.bus_prefix})", file=sys.stderr)
    return EXIT_OK


async def _replay(args: argparse.Namespace, span: Span) -> int:
    from sync_core.bus.nats import NatsBus  # nats-py: only for this command

    config = BusConfig(partitions=args.bus_partitions)
    bus = await NatsBus.connect(args.url, config, prefix=args.bus_prefix, create=False)
    partition = args.partition
    if args.key is not None:
        partition = partition_of(args.key, args.bus_partitions)
    count = 0
    try:
        async for message in bus.replay(span, partition=partition):
            if args.key is None or message.key == args.key:
                print(json.dumps(_line(message), ensure_ascii=False))
                count += 1
    finally:
        await bus.close()
    return count


def _line(m: BusMessage) -> dict[str, Any]:
    try:
        stored: Any = json.loads(m.payload)
    except ValueError:
        stored = m.payload.decode("utf-8", "replace")
    return {"seq": m.seq, "partition": m.partition, "key": m.key, "dedup_id": m.dedup_id,
            "published_at": m.published_at.isoformat(), "message": stored}  # fmt: skip


COMMAND = Command(
    "bus",
    "read the scale-out core's event stream again (NATS JetStream)",
    _arguments,
    handle,
)
main = COMMAND.main  # ``supplysync bus ...`` on its own: ``argv`` starts after ``bus``


if __name__ == "__main__":
    sys.exit(main())
