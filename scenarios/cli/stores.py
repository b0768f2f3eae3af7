"""What the store commands (``supplysync dlq``, ``supplysync audit``) share: the STORE
argument and the ``--actor`` option.

STORE is a ``postgresql://`` URL, or the path of an existing SQLite store file
(relative to the current folder): these commands read and change a store the sync
core wrote, and never create one, so a missing file is an error, not a new store.
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from scenarios.live.serve_core import open_store
from sync_core.audit import check_actor
from sync_core.store import Store, StoreError

__all__ = ["NoStore", "actor_argument", "add_actor", "add_store", "default_actor", "open_existing"]


class NoStore(StoreError):
    """STORE names no store file."""


def add_store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "store", metavar="STORE", help="the sync core's SQLite store file, or postgresql://host/db"
    )


def open_existing(target: str) -> Store:
    """The store STORE names; :class:`~sync_core.store.StoreError` (one line) if none."""
    is_url = target.startswith(("postgresql://", "postgres://"))
    if not is_url and not Path(target).is_file():
        raise NoStore("open", f"{target}: no such store file")
    return open_store(target)


def actor_argument(text: str) -> str:
    try:
        return check_actor(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_actor(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--actor",
        type=actor_argument,
        help="who does it, for the store's audit trail (default: your user name)",
    )


def default_actor() -> str:
    """The user name of whoever runs the command (``unknown`` when the system has none)."""
    try:
        return check_actor(getpass.getuser())
    except (OSError, KeyError, ValueError):
        return "unknown"
