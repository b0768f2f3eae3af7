"""``python -m external_middleware --port 9000 --erp URL --supplier URL --wms URL --ap URL``."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from aiohttp import web

from .app import create_app
from .settings import Settings

SYSTEMS = ("erp", "supplier", "wms", "ap")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="external_middleware", description=__doc__)
    p.add_argument("--port", type=int, default=9000)
    for system in SYSTEMS:
        p.add_argument(f"--{system}", required=True, metavar="URL", help=f"the {system}'s base URL")
    p.add_argument(
        "--db",
        type=Path,
        help="its SQLite file (default: a new one per start: the emulators' event ids "
        "start again at 1 after a reset, so old memory would swallow new events)",
    )
    p.add_argument("--edi-id", default="EXTMW", help="our interchange id (ISA06)")
    p.add_argument("--drop-acknowledgments", action="store_true", help="defect: ignore 855s")
    p.add_argument(
        "--no-idempotency-keys", action="store_true", help="defect: write without the header"
    )
    args = p.parse_args(argv)
    settings = Settings(
        urls={s: getattr(args, s).rstrip("/") for s in SYSTEMS},
        database=args.db or Path(tempfile.mkdtemp(prefix="external_middleware-")) / "mw.sqlite",
        edi_id=args.edi_id,
        drop_acknowledgments=args.drop_acknowledgments,
        idempotency_keys=not args.no_idempotency_keys,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    web.run_app(create_app(settings), host="127.0.0.1", port=args.port, access_log=None,
                print=lambda text: print(text, flush=True))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
