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
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

__all__ = ["Command", "Parser", "scenario_arguments"]


class Parser(argparse.ArgumentParser):
    """A parser whose usage errors exit 2 (bad input) with the usage line, as argparse."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


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

    def main(self, argv: Sequence[str] | None = None) -> int:
        """This command on its own (``python -m``): ``argv`` starts after its name."""
        parser = Parser(prog="supplysync")
        self.install(parser.add_subparsers(dest="command", required=True, parser_class=Parser))
        args = parser.parse_args([self.name, *(sys.argv[1:] if argv is None else argv)])
        return self.handle(args)


def scenario_arguments(p: argparse.ArgumentParser, default_out: str) -> None:
    """The arguments of every command that runs a scenario: which one, its seed, and
    the output folder (``default_out`` says where it goes without ``--out``)."""
    p.add_argument("scenario", help="a scenario file or a library name")
    p.add_argument("--seed", type=int, help="override the scenario's seed")
    p.add_argument("--out", type=Path, help=f"output folder (default {default_out})")
