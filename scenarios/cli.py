"""The ``supplysync`` command line.

Exit codes: 0 the SLOs were met (or the command did its job), 1 an SLO was
violated, 2 bad input — the message names the file, the field and the reason,
and no traceback is shown for a user's mistake.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NoReturn

from analysis.history import HistoryError
from analysis.report import rebuild, summary_markdown, write_compare_order, write_report
from emulators import SYSTEMS
from scenarios import dlq_cli, live, selftest, serve_core, sweep
from scenarios.progress import Progress
from scenarios.runner import run_and_write, run_architecture, write_run
from scenarios.spec import ARCHITECTURES, ScenarioError, ScenarioSpec, library_names, load_scenario

__all__ = ["main"]

EXIT_OK, EXIT_SLO, EXIT_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # exit 2 with the usage line, as argparse
        self.print_usage(sys.stderr)
        self.exit(EXIT_INPUT, f"supplysync: error: {message}\n")


def _architectures(text: str) -> list[str]:
    names = [a.strip() for a in text.split(",") if a.strip()]
    unknown = [a for a in names if a not in ARCHITECTURES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown architecture {unknown[0] if unknown else text!r} "
            f"(known: {', '.join(ARCHITECTURES)})"
        )
    return list(dict.fromkeys(names))


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="supplysync", description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a scenario under one architecture")
    run.add_argument("scenario", help="a scenario file or a library name")
    run.add_argument("--architecture", default="event", choices=ARCHITECTURES)
    run.add_argument("--seed", type=int, help="override the scenario's seed")
    run.add_argument("--out", type=Path, help="output folder (default out/<scenario>-<arch>)")

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

    srv = sub.add_parser(
        "serve", help="run emulators (or the sync core: serve core) as HTTP services on 127.0.0.1"
    )
    srv.add_argument("system", nargs="?", default="all", choices=(*SYSTEMS, "core", "all"))
    srv.add_argument(
        "--port-base",
        type=int,
        default=8100,
        help="the core listens on base, erp on base+1, supplier +2, wms +3, ap +4 (default 8100)",
    )
    srv.add_argument("--seed", type=int, default=1, help="seed of the emulators' random streams")
    srv.add_argument(
        "--no-core", action="store_true", help="serve all: the emulators only, not the sync core"
    )
    core_group = srv.add_argument_group("serve core", "options of the sync core service")
    serve_core.add_arguments(core_group, seed=False)  # type: ignore[arg-type]
    srv.add_argument(
        "--webhook-target",
        metavar="URL",
        help="where the emulators POST their business events (loopback only)",
    )

    sc = sub.add_parser("scenarios", help="list, validate or describe scenario files")
    sc_sub = sc.add_subparsers(dest="action", required=True, parser_class=_Parser)
    sc_sub.add_parser("list", help="library scenarios with a one-line description")
    val = sc_sub.add_parser("validate", help="check a scenario file")
    val.add_argument("scenario")
    sc_sub.add_parser("schema", help="print the JSON Schema of scenario files")
    rep = sub.add_parser("report", help="re-judge a stored run (or compare) folder")
    rep.add_argument("dir", type=Path, help="a folder written by run, compare or live")
    sweep.add_parser(sub)
    dlq_cli.add_parser(sub)
    live.add_parser(sub)
    selftest.add_parser(sub)
    return p


def _run(args: argparse.Namespace) -> int:
    spec = load_scenario(args.scenario, seed=args.seed)
    out = args.out or Path("out") / f"{spec.name}-{args.architecture}"
    with Progress(spec.end_s, label=f"{spec.name}/{args.architecture}") as progress:
        outcome = run_architecture(spec, args.architecture, progress)
    write_run(out, outcome)
    print(summary_markdown([outcome.judged]), end="")
    print(f"\nsimulated {spec.end_s / 86400:.1f} days in {outcome.wall_s:.1f} s wall time")
    print(f"report: {out / 'report.html'}")
    return EXIT_OK if outcome.judged.results["passed"] else EXIT_SLO


def _compare(args: argparse.Namespace) -> int:
    spec = load_scenario(args.scenario, seed=args.seed)
    out = args.out or Path("out") / spec.name
    archs = args.architectures
    started = time.perf_counter()
    # one process per architecture: the runs are independent and seeded alike
    with ProcessPoolExecutor(max_workers=max(1, min(len(archs), os.cpu_count() or 1))) as pool:
        done = list(pool.map(run_and_write, [spec] * len(archs), archs, [out / a for a in archs]))
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
        raise ScenarioError(str(args.dir), "", "no such folder")
    path = rebuild(args.dir)
    print((path.parent / "summary.md").read_text(encoding="utf-8"), end="")
    print(f"report: {path}")
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    if args.system == "core":
        return serve_core.run(args)
    from emulators.web.apps import FACTORIES
    from emulators.web.serve import serve

    systems = [s for s in SYSTEMS if s in FACTORIES] if args.system == "all" else [args.system]
    missing = [s for s in systems if s not in FACTORIES]
    if missing:
        raise ScenarioError("serve", "system", f"{missing[0]} has no HTTP service yet")
    if not 1024 <= args.port_base <= 65000:
        raise ScenarioError("serve", "--port-base", "must be within 1024..65000")
    if args.webhook_target and not args.webhook_target.startswith(
        ("http://127.0.0.1", "http://localhost", "http://[::1]")
    ):
        raise ScenarioError("serve", "--webhook-target", "must be a loopback http:// URL")
    core = None
    if args.system == "all" and not args.no_core:  # the core in a process of its own
        urls = [
            (f"--{s}", f"http://127.0.0.1:{args.port_base + i}") for i, s in enumerate(SYSTEMS, 1)
        ]
        core = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "scenarios.serve_core",
                "--port",
                str(args.port_base),
                "--store",
                str(args.store),
                "--seed",
                str(args.seed),
                *(part for pair in urls for part in pair),
            ]
        )
    try:
        serve(
            systems,
            port_base=args.port_base,
            seed=args.seed,
            options={"webhook_target": args.webhook_target},
        )
    finally:
        if core is not None:
            core.terminate()
            core.wait(timeout=10)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {
        "run": _run,
        "compare": _compare,
        "scenarios": _scenarios,
        "serve": _serve,
        "report": _report,
        "sweep": sweep.handle,
        "dlq": dlq_cli.handle,
        "live": live.handle,
        "selftest": selftest.handle,
    }
    try:
        return handlers[args.command](args)
    except (ScenarioError, HistoryError) as e:
        print(f"supplysync: error: {e}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as e:
        print(f"supplysync: error: {e.filename or ''}: {e.strerror}", file=sys.stderr)
        return EXIT_INPUT


if __name__ == "__main__":
    sys.exit(main())
