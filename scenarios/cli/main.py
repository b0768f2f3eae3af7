"""The ``supplysync`` command line.

Exit codes (:mod:`scenarios.errors`): 0 the SLOs were met (or the command did
its job), 1 an SLO was violated, 2 bad input or an unavailable resource — one line
names the file, field, URL or port and the reason, and no traceback is shown for a
user's mistake; 130 interrupted (Ctrl-C); 3 a bug (with its traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

from analysis.history import HistoryError
from emulators import SYSTEMS
from scenarios.command import Command
from scenarios.errors import (
    EXIT_BUG,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SLO,
    STDOUT_ERRNOS,
    os_error_line,
    prepare_out,
    writing,
)
from scenarios.spec.load import ScenarioError, load_scenario

__all__ = ["main"]

# The sub-commands that live with the work they do (the others are defined below), by the
# module that publishes each one's COMMAND.  Why by name: a command imports what it needs
# (the simulation, FastAPI, Locust, matplotlib...) only when it is the one run, so
# `supplysync scenarios validate` or a usage error does not pay for all of them at start.
_COMMANDS = {
    "sweep": "scenarios.sim.sweep",
    "dlq": "scenarios.cli.dlq",
    "audit": "scenarios.cli.audit",
    "live": "scenarios.live.run",
    "loadgen": "scenarios.live.loadgen",
    "selftest": "scenarios.sim.selftest",
    "auth": "scenarios.cli.auth",
    "bus": "scenarios.cli.bus_replay",
}


def _command(name: str) -> Command:
    command: Command = importlib.import_module(_COMMANDS[name]).COMMAND
    return command


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # exit 2 with the usage line, as argparse
        self.print_usage(sys.stderr)
        self.exit(EXIT_INPUT, f"supplysync: error: {message}\n")


def _architectures(text: str) -> list[str]:
    from scenarios.spec.architectures import parse_names

    try:
        return parse_names(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _version() -> str:
    try:
        return metadata.version("supplysync")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _parser(only: str | None = None, *, described: bool = True) -> argparse.ArgumentParser:
    """The command line; with ``only``, that sub-command alone.  Without it (no command
    named: --help, --version or a usage error) every command, by name alone unless
    ``described``: that is all --version and a "choose from" error need, and --help asks for
    the described parser then (:class:`_Names`), so neither imports every command's work."""
    listing = only is None and not described
    parser = _Names if listing else _Parser
    p = parser(prog="supplysync", description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in (*_BUILT_IN, *_COMMANDS):
        if only not in (None, name):
            continue
        if listing:
            sub.add_parser(name)
        elif name in _BUILT_IN:
            _BUILT_IN[name](sub)
        else:
            _command(name).install(sub)
    return p


class _Names(_Parser):
    """The top-level parser naming the commands only; its help is the described parser's."""

    def print_help(self, file: Any = None) -> None:
        _parser().print_help(file)


def _run_arguments(sub: argparse._SubParsersAction[_Parser]) -> None:
    from scenarios.spec.architectures import ARCHITECTURES, EVENT

    run = sub.add_parser("run", help="run a scenario under one architecture")
    run.add_argument("scenario", help="a scenario file or a library name")
    run.add_argument("--architecture", default=EVENT.name, choices=ARCHITECTURES)
    run.add_argument("--seed", type=int, help="override the scenario's seed")
    run.add_argument("--out", type=Path, help="output folder (default out/<scenario>-<arch>)")


def _compare_arguments(sub: argparse._SubParsersAction[_Parser]) -> None:
    from scenarios.spec.architectures import ARCHITECTURES

    cmp = sub.add_parser("compare", help="run one scenario under several architectures")
    cmp.add_argument("scenario", help="a scenario file or a library name")
    cmp.add_argument(
        "--architectures",
        type=_architectures,
        default=list(ARCHITECTURES),
        help="comma-separated, e.g. batch,event",
    )
    cmp.add_argument("--seed", type=int, help="override the scenario's seed")
    cmp.add_argument("--out", type=Path, help="output folder (default out/<scenario>)")
    cmp.add_argument(
        "--strict", action="store_true", help="exit 1 when any architecture violates an SLO"
    )


def _serve_arguments(sub: argparse._SubParsersAction[_Parser]) -> None:
    from scenarios.live import serve_core

    srv = sub.add_parser(
        "serve", help="run emulators (or the sync core: serve core) as HTTP services on 127.0.0.1"
    )
    srv.add_argument(
        "system", nargs="?", default="all", choices=(*SYSTEMS, "core", "core-worker", "all")
    )
    srv.add_argument(
        "--port-base",
        type=int,
        default=8100,
        help="the core listens on base, erp on base+1, supplier +2, wms +3, ap +4 (default 8100)",
    )
    srv.add_argument(
        "--seed",
        type=int,
        help="seed of the emulators' random streams and the network (default: the "
        "scenario's, else 1)",
    )
    srv.add_argument(
        "--speedup",
        type=float,
        help="with --scenario: scenario seconds per real second; every supplier delay is "
        "divided by it, as in live (default 1: real time)",
    )
    srv.add_argument(
        "--no-core", action="store_true", help="serve all: the emulators only, not the sync core"
    )
    core_group = srv.add_argument_group("serve core", "options of the sync core service")
    serve_core.add_arguments(core_group, seed=False)  # type: ignore[arg-type]
    srv.add_argument(
        "--webhook-target",
        metavar="URL",
        help="where the emulators POST their business events (loopback only; '{system}' "
        "in it is replaced by erp, supplier, wms or ap)",
    )


def _scenarios_arguments(sub: argparse._SubParsersAction[_Parser]) -> None:
    sc = sub.add_parser("scenarios", help="list, validate or describe scenario files")
    sc_sub = sc.add_subparsers(dest="action", required=True, parser_class=_Parser)
    sc_sub.add_parser("list", help="library scenarios with a one-line description")
    val = sc_sub.add_parser("validate", help="check a scenario file")
    val.add_argument("scenario")
    sc_sub.add_parser("schema", help="print the JSON Schema of scenario files")


def _report_arguments(sub: argparse._SubParsersAction[_Parser]) -> None:
    rep = sub.add_parser("report", help="re-judge a stored run (or compare) folder")
    rep.add_argument("dir", type=Path, help="a folder written by run, compare or live")


_BUILT_IN: dict[str, Callable[[argparse._SubParsersAction[_Parser]], None]] = {
    "run": _run_arguments,
    "compare": _compare_arguments,
    "serve": _serve_arguments,
    "scenarios": _scenarios_arguments,
    "report": _report_arguments,
}


def _run(args: argparse.Namespace) -> int:
    spec = load_scenario(args.scenario, seed=args.seed)
    from analysis.report import summary_markdown
    from scenarios.sim.progress import Progress
    from scenarios.sim.runner import run_architecture, write_run

    out = args.out or Path("out") / f"{spec.name}-{args.architecture}"
    prepare_out(out)
    with Progress(spec.end_s, label=f"{spec.name}/{args.architecture}") as progress:
        outcome = run_architecture(spec, args.architecture, progress)
    with writing(out):
        write_run(out, outcome)
    print(summary_markdown([outcome.judged]), end="")
    print(f"\nsimulated {spec.end_s / 86400:.1f} days in {outcome.wall_s:.1f} s wall time")
    print(f"report: {out / 'report.html'}")
    return EXIT_OK if outcome.judged.results["passed"] else EXIT_SLO


def _compare(args: argparse.Namespace) -> int:
    spec = load_scenario(args.scenario, seed=args.seed)
    from concurrent.futures import ProcessPoolExecutor

    from analysis.rebuild import write_compare_order
    from analysis.report import summary_markdown, write_report
    from scenarios.sim.runner import run_and_write

    out = args.out or Path("out") / spec.name
    archs = args.architectures
    prepare_out(out)
    started = time.perf_counter()
    # one process per architecture: the runs are independent and seeded alike
    with writing(out):
        workers = max(1, min(len(archs), os.cpu_count() or 1))
        with ProcessPoolExecutor(max_workers=workers) as pool:
            done = list(
                pool.map(run_and_write, [spec] * len(archs), archs, [out / a for a in archs])
            )
        judged = [j for j, _ in done]
        write_compare_order(out, list(archs))
        write_report(out / "report.html", judged)
        (out / "summary.md").write_text(summary_markdown(judged), encoding="utf-8")
    print(summary_markdown(judged), end="")
    print(
        f"\nsimulated {spec.end_s / 86400:.1f} days x {len(archs)} architectures "
        f"in {time.perf_counter() - started:.1f} s wall time"
    )
    print(f"report: {out / 'report.html'}")
    if args.strict and not all(j.results["passed"] for j in judged):
        return EXIT_SLO
    return EXIT_OK


def _scenarios(args: argparse.Namespace) -> int:
    from scenarios.spec.load import library_names
    from scenarios.spec.models import ScenarioSpec

    if args.action == "list":
        for name in library_names():
            spec = load_scenario(name)
            print(f"{name:28} {spec.description.split('. ')[0].strip()}")
    elif args.action == "validate":
        spec = load_scenario(args.scenario)
        print(
            f"{args.scenario}: valid scenario {spec.name!r} "
            f"({spec.duration_days:g} days, seed {spec.seed})"
        )
    else:
        print(json.dumps(ScenarioSpec.model_json_schema(), indent=2))
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    if not args.dir.is_dir():
        what = "not a folder" if args.dir.exists() else "no such folder"
        raise ScenarioError(str(args.dir), "", what)
    from analysis.rebuild import rebuild

    try:
        with writing(args.dir):
            path = rebuild(args.dir)
    except UnicodeDecodeError as e:  # the history reader has no error of its own for it
        bad = next(_not_utf8(args.dir), args.dir)
        raise ScenarioError(
            str(bad), "", f"not UTF-8 text ({e.reason}): not a run's file"
        ) from None
    print((path.parent / "summary.md").read_text(encoding="utf-8"), end="")
    print(f"report: {path}")
    return EXIT_OK


def _not_utf8(folder: Path) -> Iterator[Path]:
    """The files of a run folder (and its architectures' folders) that are not UTF-8."""
    for path in sorted([*folder.glob("*.json*"), *folder.glob("*/*.json*")]):
        try:
            path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            yield path
        except OSError:
            continue


def _serve(args: argparse.Namespace) -> int:
    from scenarios.live import serve_all, serve_core

    if args.system == "core-worker":  # one worker of the scale-out core (serve core --bus)
        args.role = "worker"
    if args.system in ("core", "core-worker"):
        return serve_core.run(args)
    if args.bus or args.workers is not None:  # would be ignored: say so
        flag = "--bus" if args.bus else "--workers"
        raise ScenarioError("serve", flag, "only with serve core or core-worker (scale-out)")
    return serve_all.serve(args)


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    named = words[0] if words and (words[0] in _BUILT_IN or words[0] in _COMMANDS) else None
    args = _parser(named, described=named is not None).parse_args(words)
    handlers = {"run": _run, "compare": _compare, "scenarios": _scenarios, "serve": _serve,
                "report": _report}  # fmt: skip
    try:
        handle = handlers.get(args.command) or _command(args.command).handle
        code = handle(args)
    except (ScenarioError, HistoryError) as e:
        return _fail(str(e))
    except BrokenPipeError:
        return _stdout_failed("closed before the output was written (Broken pipe)")
    except OSError as e:
        if e.filename is None and e.errno in STDOUT_ERRNOS:  # files are written in writing()
            return _stdout_failed(e.strerror or str(e))
        return _fail(os_error_line(e, getattr(args, "out", None)))
    except KeyboardInterrupt:
        print("supplysync: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except Exception:  # a bug, not a verdict: never exit 1, the "SLO violated" code
        traceback.print_exc()
        return _fail("internal error (a bug: please report it with the traceback above)", EXIT_BUG)
    try:
        sys.stdout.flush()  # a closed pipe or a full disk on stdout shows here, not at exit
    except OSError as e:
        return _stdout_failed(e.strerror or str(e))
    return code


def _stdout_failed(reason: str) -> int:
    # point stdout at /dev/null, so the interpreter's last flush does not fail again
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return _fail(f"<stdout>: {reason}")


def _fail(message: str, code: int = EXIT_INPUT) -> int:
    print(f"supplysync: error: {message}", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
