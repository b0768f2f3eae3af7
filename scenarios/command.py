"""A sub-command of ``supplysync`` as data: its name, help, arguments and handler.

Why: each sub-command lives with the work it does (``sweep`` and ``selftest`` in
:mod:`scenarios.sim`, ``live`` in :mod:`scenarios.live`, ``dlq`` in :mod:`scenarios.cli`)
and publishes one :class:`Command`; the command line only lists them
(:mod:`scenarios.cli.main`), and a module that is also run on its own (``python -m``)
installs the same one into its own parser.  Before, each module wrote the same
``add_parser`` head by hand.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Command", "scenario_arguments"]


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    handle: Callable[[argparse.Namespace], int]
    description: str | None = None

    def install(self, subparsers: Any) -> argparse.ArgumentParser:
        """Add this command to ``subparsers``; the parsed arguments go to :attr:`handle`."""
        p: argparse.ArgumentParser = subparsers.add_parser(
            self.name, help=self.help, description=self.description
        )
        self.arguments(p)
        return p


def scenario_arguments(p: argparse.ArgumentParser, default_out: str) -> None:
    """The arguments of every command that runs a scenario: which one, its seed, and
    the output folder (``default_out`` says where it goes without ``--out``)."""
    p.add_argument("scenario", help="a scenario file or a library name")
    p.add_argument("--seed", type=int, help="override the scenario's seed")
    p.add_argument("--out", type=Path, help=f"output folder (default {default_out})")
