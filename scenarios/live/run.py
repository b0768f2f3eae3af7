"""``supplysync live``: a scenario against real HTTP services under Locust load.

Theory of operation.  :func:`run_live` is one live run, in five phases, each
bounded in time, with every process it started stopped in a ``finally``
(errors and Ctrl-C included):

1. **services** — unless base URLs are given, the four emulators run in one
   subprocess (``python -m scenarios.live.setup``: one
   :class:`~emulators.web.serve.LiveClock`, the scenario's supplier profiles
   with every delay divided by the speed-up) and the sync core in another
   (``python -m scenarios.live.serve_core`` on a store file in the output folder,
   subscribing itself at the emulators); both start at once, and the run waits for
   every ``/health`` together.  With ``--sut external`` no core is
   started: the emulators' webhooks are subscribed to ``--webhook-target``.  Running
   emulators are reset first (``--no-reset``: kept, and only the entities created after
   the start are judged); a scenario with contract-price changes has its masters loaded
   into the ERP and AP before the clock starts.  What the timeline holds that cannot be
   played live is printed now (:func:`~scenarios.live.events.not_played`).
2. **clocks** — each emulator stamps its history with its own monotonic clock;
   one journalled probe request per emulator reads that clock against ours,
   so every record lands on the run's time axis (seconds since the run began).
3. **faults in real time** — the scenario's steady faults (error rate, latency,
   webhook duplicates/drops, rate limit) are set at the start; each fault
   window (outage, 429 storm, latency spike, sync-core crash) is a SimPy
   process in a :class:`simpy.rt.RealtimeEnvironment` whose factor is
   ``1 / speedup`` — it sets the window through ``PUT /__admin/faults`` (in the
   emulator's clock, so ``Retry-After`` is right) and clears it at its end; a
   crash is SIGKILL of the core and a restart on the same store.  The scenario's
   contract-price changes are processes on the same environment, played through the
   ERP's REST API (:mod:`scenarios.live.events`).
4. **load** — Locust runs headless in its own process (``--workers N`` adds
   ``--processes N``: one master and N workers on 127.0.0.1) with the
   actors of ``loadtests/locustfile.py``; it reads the scenario from
   ``SUPPLYSYNC_*`` environment variables this module sets, and writes CSVs.
   The scenario's timeline (demand, then ``settle_days``) is scaled into real
   time; afterwards the run waits until no system's history moves any more.
5. **judgement** — every emulator's ``/__admin/history`` becomes one
   :class:`~analysis.history.History` (``mode: live``), judged by the same
   analysis as a simulated run (:func:`judge_changes`, the one place that touches
   the analysis API); Locust's CSVs, with what the emulators' request journals show
   the load generator's writes got, become the results' ``load`` section.

Outputs in ``--out``: results.json, history.jsonl, summary.md, report.html
(with a load section: RPS, response times, sync lag and consistency on one
time axis, fault windows shaded), plus locust_*.csv and the services' logs.

Where each part lives: :mod:`scenarios.live.options` (options, their checks, shared
constants, :class:`~scenarios.live.options.LiveError`), :mod:`scenarios.live.procs` (the
emulators' and the core's processes, free ports, process groups),
:mod:`scenarios.live.faults` (clock offsets and the real-time fault schedule),
:mod:`scenarios.live.events` (the timeline's business events played live, the masters they
need), :mod:`scenarios.live.load` (Locust headless and its CSVs), :mod:`scenarios.live.judge`
(settling, collecting the histories from the emulators' admin APIs, judging them),
:mod:`scenarios.live.report` (the files in ``--out``) and :mod:`scenarios.live.setup` (the
emulators as the scenario configures them, and their subprocess).  This module is the run
and its command line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from scenarios.command import Command, scenario_arguments
from scenarios.errors import writing
from scenarios.live import events, loadgen
from scenarios.live.faults import (
    FaultSchedule,
    clock_at_start,
)
from scenarios.live.judge import (
    collect_changes,
    judge_changes,
    keyless_writes,
    of_the_run,
    wait_until_settled,
    webhook_stats,
)
from scenarios.live.load import (
    add_journal,
    journal_writes,
    locust_command,
    locust_env,
    read_locust_csv,
    run_locust,
)
from scenarios.live.options import (
    MAX_TIMELINE_S,
    SYSTEMS,
    LiveError,
    LiveOptions,
    LiveOutcome,
    parse_duration,
    validate_options,
)
from scenarios.live.procs import (
    START_S,
    CoreProcess,
    EmulatorsProcess,
    Health,
    log_tail,
    wait_healthy,
)
from scenarios.live.report import warm_up, write_outputs
from scenarios.spec.architectures import EVENT
from scenarios.spec.load import ScenarioError, load_scenario
from scenarios.spec.masterdata import MasterData, generate
from scenarios.spec.models import ScenarioSpec

__all__ = ["COMMAND", "handle", "main", "run_live"]

EXIT_OK, EXIT_SLO, EXIT_INPUT = 0, 1, 2


# -- the run ---------------------------------------------------------------------------


def run_live(o: LiveOptions, log: Callable[[str], None] = print) -> LiveOutcome:
    """One live run; raises ScenarioError for bad input, LiveError when it cannot run."""
    spec = load_scenario(o.scenario, seed=o.seed)
    speedup = validate_options(o, spec)
    seed = spec.seed
    o.out.mkdir(parents=True, exist_ok=True)
    for stale in o.out.glob("locust_*.csv"):
        stale.unlink()
    not_played = events.not_played(spec, core_is_ours=o.sut == "builtin" and not o.core_url)
    for item in not_played:
        log(f"not played live: {item}")
    with ExitStack() as stack:
        client = stack.enter_context(httpx.Client(timeout=10))
        master = generate(spec.network, seed)
        urls, core = _services_up(o, spec, speedup, master, stack, client, log)
        core_url = core.url if core is not None else o.core_url
        mailbox_after = 0 if o.reset else _mailbox_size(client, urls["supplier"])
        if spec.erp.releases and o.reset:
            events.restart_erp_releases(client, urls["erp"], log)
        start = time.monotonic()
        started_epoch = time.time()
        run_id = f"{int(started_epoch)}-{os.getpid()}"
        clocks = {s: clock_at_start(u, s, client, start) for s, u in urls.items()}
        prices = events.PriceChanges(spec, master, urls["erp"], run_id)
        stack.callback(prices.close)
        schedule = FaultSchedule(spec, speedup, urls, clocks, start, core, prices, not_played)
        stack.callback(schedule.finish, restart=False)
        schedule.run_in_background()
        prefix = o.out / "locust"
        env = locust_env(o, seed, speedup, urls, core_url, run_id, mailbox_after)
        log(f"load: {o.users} users for {o.duration_s:g} s ({o.workers or 1} Locust process(es))")
        if o.master_bind is not None:
            settings = loadgen.write_settings(o, env)
            bind = f"{o.master_bind[0]}:{o.master_bind[1]}"
            log(f"load: waiting for {o.expect_workers} worker(s): supplysync loadgen worker "
                f"--master {bind} --settings {settings}")  # fmt: skip
        waits = loadgen.WAIT_S if o.master_bind is not None else 0  # for workers started apart
        code = run_locust(
            locust_command(o, urls["erp"], prefix), env, o.out / "locust.log",
            o.duration_s + 120 + waits,
        )  # fmt: skip
        if code not in (0, 1):  # 1: some requests failed (that is data, not an error)
            raise LiveError(f"Locust exited with {code}:\n{log_tail(o.out / 'locust.log')}")
        warming = warm_up()  # the judgement's imports, while the systems settle
        remaining = schedule.timeline_s() - (time.monotonic() - start)
        if remaining > 0:
            log(f"the scenario's timeline runs {remaining:.1f} s more ...")
            time.sleep(min(remaining, MAX_TIMELINE_S))
        schedule.finish()  # faults cleared, a killed core restarted: now let it drain
        ours = core.url if core is not None else o.core_url if o.sut == "builtin" else None
        settled = wait_until_settled(client, urls, o.quiet_s, o.settle_max_s, ours)
        warming.join()
        end_s = time.monotonic() - start
        changes, left_out = of_the_run(
            collect_changes(client, urls, clocks), whole_entities=not o.reset
        )
        webhooks = {s: webhook_stats(client, u) for s, u in urls.items()}
        load = add_journal(
            read_locust_csv(prefix, started_epoch), journal_writes(client, urls, clocks, run_id)
        )
        header = _header(o, spec, speedup, started_epoch, end_s)
        volumes = _volumes(changes, load, core)
        history, judged = judge_changes(header, changes, schedule.recorded, spec, volumes)
        judged.results["load"] = load
        judged.results["live"] = _live_section(
            o, speedup, settled, left_out, schedule, prices, not_played, webhooks
        )
        if spec.erp.releases:  # when the ERP's API changed version, on the run's axis
            releases = events.erp_releases(client, urls["erp"], clocks["erp"])
            judged.results["live"]["erp_releases"] = releases
        if o.sut == "external":
            judged.results["live"]["carries"] = header["flows"]
            judged.results["live"]["keyless_writes"] = keyless_writes(client, urls, clocks)
        write_outputs(o.out, history, judged, schedule.recorded, end_s)
    return LiveOutcome(judged.results, o.out, bool(judged.results["passed"]))


def _volumes(changes: list[Any], load: dict[str, Any], core: CoreProcess | None) -> dict[str, int]:
    """What the run handled: PO lines, history records, requests, core starts."""
    return {
        "po_lines": len({c.entity for c in changes if c.field == "ordered_qty"}),
        "history_records": len(changes),
        "requests": int(load["total"].get("requests", 0)),
        "request_failures": int(load["total"].get("failures", 0)),
        "core_starts": core.starts if core else 0,
    }


def _live_section(
    o: LiveOptions,
    speedup: float,
    settled: float,
    left_out: Any,
    schedule: FaultSchedule,
    prices: events.PriceChanges,
    not_played: list[str],
    webhooks: dict[str, Any],
) -> dict[str, Any]:
    """results.json's ``live``: how the run was driven and what it could not do."""
    return {
        "users": o.users,
        "workers": o.workers,
        "duration_s": o.duration_s,
        "speedup": speedup,
        "settle_s": round(settled, 3),
        "sut": o.sut,
        "reset": o.reset,
        "entities_before_start": left_out,
        "load_average": list(os.getloadavg()),
        "fault_schedule_errors": schedule.errors + prices.errors,
        "skipped_faults": schedule.skipped,
        "not_played": not_played,
        "contract_prices_changed": prices.changed,
        "webhooks": webhooks,
    }


def _header(
    o: LiveOptions, spec: ScenarioSpec, speedup: float, started_epoch: float, end_s: float
) -> dict[str, Any]:
    """The history's header of a live run: the same keys as a simulated run's, with the
    system under test and the flows it carries."""
    return {
        "scenario": spec.name,
        "architecture": EVENT.name if o.sut == "builtin" else "external",
        "seed": spec.seed,
        "epoch": dt.datetime.fromtimestamp(started_epoch).isoformat(timespec="seconds"),
        "end_s": round(end_s, 3),
        "mode": "live",
        "speedup": speedup,
        "sut": o.sut,
        "flows": list(o.carries) if o.carries else list(_all_flows()),
    }


def _services_up(
    o: LiveOptions,
    spec: ScenarioSpec,
    speedup: float,
    master: MasterData,
    stack: ExitStack,
    client: httpx.Client,
    log: Callable[[str], None],
) -> tuple[dict[str, str], CoreProcess | None]:
    """The emulators' base URLs and our core (``None`` unless this run starts one), every
    service healthy, each process started stopped with ``stack``.  Emulators and core start
    at once (the core subscribes itself at each emulator as it comes up), unless the
    scenario's masters must be in before anyone listens (contract-price changes)."""
    _reachable(client, {**o.urls, **({"core": o.core_url} if o.core_url else {})})
    urls, waits = _emulators_up(o, spec.seed, speedup, stack, client, log)
    if spec.contract_price_changes or o.sut == "external":
        wait_healthy(waits, START_S)
        waits = []
    if spec.contract_price_changes:  # the prices to change must exist
        log("loading the master data (vendors, items, contract prices) ...")
        events.load_masters(client, urls, master)
    core = _core_up(o, spec, urls, stack, client, log)
    wait_healthy(waits + ([core.health()] if core is not None else []), START_S)
    if core is not None:
        slos = ",".join(f"{k}:{v:g}" for k, v in spec.slos.lag_p99_s.items())
        log(f"dashboard: {core.url}/dashboard?slo={slos}")
    if spec.contract_price_changes:  # whoever listens has taken the load in
        wait_until_settled(client, urls, min(o.quiet_s, 0.5), o.settle_max_s)
    return urls, core


def _emulators_up(
    o: LiveOptions,
    seed: int,
    speedup: float,
    stack: ExitStack,
    client: httpx.Client,
    log: Callable[[str], None],
) -> tuple[dict[str, str], list[Health]]:
    """The emulators' base URLs: the running ones given (reset if asked), else started
    here for the length of ``stack``; and what to wait for before they serve."""
    if o.urls:
        urls = {s: o.urls[s].rstrip("/") for s in SYSTEMS}
        if o.reset:
            log("resetting the running emulators ...")
            _reset(client, urls)
        return urls, []
    log(f"starting the emulators (x{speedup:g}) ...")
    emulators = EmulatorsProcess(o.scenario, seed, speedup, o.out)
    stack.callback(emulators.stop)
    emulators.spawn()
    return emulators.urls, emulators.health()


def _core_up(
    o: LiveOptions,
    spec: ScenarioSpec,
    urls: dict[str, str],
    stack: ExitStack,
    client: httpx.Client,
    log: Callable[[str], None],
) -> CoreProcess | None:
    """The system under test: an external one subscribed to the emulators' webhooks, or
    our core started (not yet healthy: see :meth:`CoreProcess.health`) on a fresh store
    (``None`` unless we started it)."""
    if o.sut == "external":
        for system, url in urls.items():
            hook = (o.webhook_target or "").replace("{system}", system)
            client.put(f"{url}/__admin/subscription", json={"url": hook}).raise_for_status()
        return None
    if o.core_url is not None:
        return None
    (o.out / "core.sqlite").unlink(missing_ok=True)
    core = CoreProcess(o.scenario, spec.seed, urls, o.out)
    if o.core_workers:
        core.store_url, core.extra = scaleout_backends(o, stack, log)
    stack.callback(core.stop)
    log("starting the sync core ...")
    core.spawn()
    return core


def scaleout_backends(
    o: LiveOptions, stack: ExitStack, log: Callable[[str], None]
) -> tuple[str, tuple[str, ...]]:
    """A schema and streams of this run's own for the scale-out core, removed when the run
    ends (after the core stops); the store URL and the core's options."""
    from scenarios.live.serve_scaleout import fresh_backends

    assert o.store is not None and o.bus is not None
    store, prefix, remove = fresh_backends(o.store, o.bus)
    stack.callback(remove)
    log(f"scale-out core: {o.core_workers} workers, bus {o.bus} (streams {prefix.upper()}), "
        f"store {store}")  # fmt: skip
    return store, ("--bus", o.bus, "--bus-prefix", prefix, "--workers", str(o.core_workers))


def _reachable(client: httpx.Client, urls: dict[str, str]) -> None:
    """Every running service the options name answers ``GET /health``, or LiveError naming it."""
    for name, url in urls.items():
        url = url.rstrip("/")
        try:
            r = client.get(f"{url}/health", timeout=5)
        except httpx.HTTPError as e:
            raise LiveError(f"{name} at {url} is unreachable: {_reason(e)}") from None
        if r.status_code != 200:
            raise LiveError(f"{name} at {url}: GET /health answered {r.status_code}")


def _reason(e: httpx.HTTPError) -> str:
    """One line: the exception's text, or its type when it has none."""
    return " ".join(str(e).split()) or type(e).__name__


def _reset(client: httpx.Client, urls: dict[str, str]) -> None:
    """Every running emulator back to empty (its webhook subscription stays)."""
    for system, url in urls.items():
        try:
            r = client.post(f"{url}/__admin/reset")
        except httpx.HTTPError as e:
            raise LiveError(f"{system} at {url}: POST /__admin/reset failed: {e}") from None
        if r.status_code != 204:
            raise LiveError(f"{system} at {url}: POST /__admin/reset answered {r.status_code}")


def _mailbox_size(client: httpx.Client, url: str) -> int:
    """Documents already in the supplier network's mailbox (the dock reads only newer ones)."""
    try:
        return int(client.get(f"{url}/__admin/state").json().get("mailbox_size", 0))
    except (httpx.HTTPError, ValueError, TypeError) as e:
        raise LiveError(f"supplier at {url}: GET /__admin/state failed: {e}") from None


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # unwinds the run: every process it started is stopped


def handle(args: argparse.Namespace) -> int:
    """``supplysync live``: exit 0 when the SLOs are met, 1 when not, 2 for bad input."""
    urls = {s: getattr(args, s) for s in SYSTEMS if getattr(args, s, None)}
    # the services and Locust run in the project's folder: every path they are given is
    # made absolute here, from the user's working directory (a bad file is named as given)
    scenario, path = args.scenario, Path(args.scenario)
    if path.suffix in (".yaml", ".yml") or path.exists():
        load_scenario(scenario, seed=args.seed)
        scenario = str(path.resolve())
    options = LiveOptions(
        scenario=scenario,
        users=args.users,
        spawn_rate=args.spawn_rate,
        duration_s=args.duration,
        out=(args.out or Path("out") / f"live-{path.stem}").absolute(),
        seed=args.seed,
        speedup=args.speedup,
        workers=args.workers,
        master_bind=args.master_bind,
        expect_workers=args.expect_workers,
        urls=urls,
        core_url=args.core,
        sut=args.sut,
        webhook_target=args.webhook_target,
        carries=_flows(args.carries),
        settle_max_s=args.settle_max,
        reset=not args.no_reset,
        core_workers=args.core_workers,
        bus=args.bus,
        store=args.store,
    )
    signal.signal(signal.SIGTERM, _terminate)
    try:
        with writing(options.out):  # a full disk names the --out folder
            outcome = run_live(options)
    except LiveError as e:
        print(f"supplysync: live run failed: {e}", file=sys.stderr)
        return EXIT_INPUT
    except httpx.HTTPError as e:  # a service that went away during the run
        try:
            where = f"{e.request.method} {e.request.url}"
        except RuntimeError:  # no request attached
            where = "a service"
        print(f"supplysync: live run failed: {where}: {_reason(e)}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("supplysync: interrupted; every service this run started is stopped", file=sys.stderr)
        return 130
    print((outcome.out / "summary.md").read_text(encoding="utf-8"), end="")
    print(f"report: {outcome.out / 'report.html'}")
    return EXIT_OK if outcome.passed else EXIT_SLO


def _all_flows() -> tuple[str, ...]:
    from analysis.facts import FLOWS

    return FLOWS


def _flows(text: str | None) -> tuple[str, ...] | None:
    """``--carries`` as flow names (checked against the facts' flows in the options)."""
    if text is None:
        return None
    return tuple(dict.fromkeys(f.strip() for f in text.split(",") if f.strip()))


def _arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``live``."""
    scenario_arguments(p, "out/live-<scenario>")
    p.add_argument("--users", type=int, default=10, help="Locust users (default 10)")
    p.add_argument("--spawn-rate", type=float, default=5.0, help="users started a second")
    p.add_argument(
        "--duration",
        type=parse_duration,
        default=60.0,
        help="how long the load runs, e.g. 60s, 2m (default 60s)",
    )
    p.add_argument(
        "--speedup",
        type=float,
        help="scenario seconds per real second (default: the demand days in --duration)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="Locust worker processes (one master + N workers on 127.0.0.1)",
    )
    loadgen.master_arguments(p)
    for system in SYSTEMS:
        p.add_argument(f"--{system}", metavar="URL", help=f"a running {system} emulator")
    p.add_argument("--core", metavar="URL", help="a running sync core (with the four URLs)")
    p.add_argument("--core-workers", type=int, default=0, metavar="N",
                   help="run the scale-out core: an ingress and N worker processes on --bus "
                   "and --store (a schema and streams of its own, removed after)")  # fmt: skip
    p.add_argument("--bus", metavar="URL", help="with --core-workers: nats://HOST:PORT")
    p.add_argument("--store", metavar="URL", help="with --core-workers: postgresql://...")
    p.add_argument(
        "--sut",
        choices=("builtin", "external"),
        default="builtin",
        help="external: judge another middleware; start no core of ours",
    )
    p.add_argument(
        "--webhook-target",
        metavar="URL",
        help="with --sut external: where the emulators POST their events "
        "('{system}' in it is replaced by erp, supplier, wms or ap)",
    )
    p.add_argument(
        "--carries",
        metavar="FLOWS",
        help="with --sut external: the flows it carries, comma-separated (of: "
        f"{', '.join(_all_flows())}); the others are reported as not carried, not as lost "
        "(default: all)",
    )
    p.add_argument(
        "--no-reset",
        action="store_true",
        help="with running emulators: do not reset them at the start; judge only the "
        "entities created after it (by default they are reset, so the run is judged alone)",
    )
    p.add_argument(
        "--settle-max",
        type=parse_duration,
        default=60.0,
        help="longest wait for the systems to go quiet after the load (default 60s)",
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="supplysync")
    COMMAND.install(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(args)
    try:
        return handle(parsed)
    except ScenarioError as e:
        print(f"supplysync: error: {e}", file=sys.stderr)
        return EXIT_INPUT


COMMAND = Command(
    "live",
    "run a scenario against live HTTP services under Locust load",
    _arguments,
    handle,
    "Start the emulators and the sync core (or use running ones), inject the "
    "scenario's faults in real time, drive the actors with Locust, then judge every "
    "system's history with the same checkers as a simulated run.",
)


if __name__ == "__main__":
    sys.exit(main())
