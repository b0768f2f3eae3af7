"""``supplysync live``: a scenario against real HTTP services under Locust load.

Theory of operation.  :func:`run_live` is one live run, in five phases, each
bounded in time, with every process it started stopped in a ``finally``
(errors and Ctrl-C included):

1. **services** — unless base URLs are given, the four emulators run in one
   subprocess (``python -m scenarios.live _emulators``: one
   :class:`~emulators.web.serve.LiveClock`, the scenario's supplier profiles
   with every delay divided by the speed-up) and the sync core in another
   (``python -m scenarios.serve_core`` on a store file in the output folder,
   subscribing itself at the emulators).  With ``--sut external`` no core is
   started: the emulators' webhooks are subscribed to ``--webhook-target``.
2. **clocks** — each emulator stamps its history with its own monotonic clock;
   one journalled probe request per emulator reads that clock against ours,
   so every record lands on the run's time axis (seconds since the run began).
3. **faults in real time** — the scenario's steady faults (error rate, latency,
   webhook duplicates/drops, rate limit) are set at the start; each fault
   window (outage, 429 storm, latency spike, sync-core crash) is a SimPy
   process in a :class:`simpy.rt.RealtimeEnvironment` whose factor is
   ``1 / speedup`` — it sets the window through ``PUT /__admin/faults`` (in the
   emulator's clock, so ``Retry-After`` is right) and clears it at its end; a
   crash is SIGKILL of the core and a restart on the same store.
4. **load** — Locust runs headless in its own process (``--workers N`` adds
   ``--processes N``: one master and N workers on 127.0.0.1) with the
   actors of ``loadtests/locustfile.py``; it reads the scenario from
   ``SUPPLYSYNC_*`` environment variables this module sets, and writes CSVs.
   The scenario's timeline (demand, then ``settle_days``) is scaled into real
   time; afterwards the run waits until no system's history moves any more.
5. **judgement** — every emulator's ``/__admin/history`` becomes one
   :class:`~analysis.history.History` (``mode: live``), judged by the same
   analysis as a simulated run (:func:`_judge`, the one place that touches
   the analysis API); Locust's CSVs become the results' ``load`` section.

Outputs in ``--out``: results.json, history.jsonl, summary.md, report.html
(with a load section: RPS, response times, sync lag and consistency on one
time axis, fault windows shaded), plus locust_*.csv and the services' logs.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import html
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import simpy
import simpy.rt

from emulators.faults import Faults, Latency, Outage, RateLimitStorm
from scenarios.masterdata import generate
from scenarios.spec import ScenarioError, ScenarioSpec, load_scenario

__all__ = [
    "LiveOptions",
    "LiveOutcome",
    "add_parser",
    "clock_offsets",
    "handle",
    "parse_duration",
    "read_locust_csv",
    "run_live",
    "start_emulators",
    "stop_group",
]

ROOT = Path(__file__).parents[1]
LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"
SYSTEMS = ("erp", "supplier", "wms", "ap")
# one cheap call per emulator that goes through its journal (to read its clock)
PROBES = {
    "erp": ("/fscmRestApi/resources/latest/purchaseOrders?limit=1", "list_purchase_orders"),
    "supplier": ("/edi/mailbox?limit=1", "mailbox"),
    "wms": ("/wms/api/v1/receipts?limit=1", "list_receipts"),
    "ap": ("/payables/v1/invoices?limit=1", "list_invoices"),
}
MAX_TIMELINE_S = 6 * 3600.0
EXIT_OK, EXIT_SLO, EXIT_INPUT = 0, 1, 2
_LOOPBACK = ("http://127.0.0.1", "http://localhost", "http://[::1]")


class LiveError(RuntimeError):
    """A live run that could not be carried out (a service did not start...)."""


# -- options --------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveOptions:
    """Everything one live run needs (the CLI's options, typed)."""

    scenario: str
    users: int = 10
    spawn_rate: float = 5.0
    duration_s: float = 60.0
    out: Path = Path("out/live")
    seed: int | None = None
    speedup: float | None = None  # None: the demand days fit into duration_s
    workers: int = 0
    urls: dict[str, str] = field(default_factory=dict)  # running emulators
    core_url: str | None = None  # a running core (then no crashes can be injected)
    sut: str = "builtin"
    webhook_target: str | None = None
    quiet_s: float = 2.0  # no history change for this long = settled
    settle_max_s: float = 60.0
    per_user_rps: float = 1.0  # tasks a second per Locust user
    locustfile: Path = LOCUSTFILE
    locust_env: dict[str, str] = field(default_factory=dict)
    shaped: bool = False  # the locustfile has a load shape: no -u/-r/-t


@dataclass
class LiveOutcome:
    results: dict[str, Any]
    out: Path
    passed: bool


def parse_duration(text: str) -> float:
    """``60s``, ``2m``, ``1h30m``, ``90`` → seconds."""
    m = re.fullmatch(
        r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", text
    )
    if not text.strip() or m is None or not any(m.groups()):
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 60s, 2m, 1h30m)")
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    total = h * 3600 + mi * 60 + s
    if total <= 0:
        raise argparse.ArgumentTypeError(f"duration must be > 0: {text!r}")
    return total


def _validate(o: LiveOptions, spec: ScenarioSpec) -> float:
    """Check the options against the scenario; the speed-up to use."""
    if o.users < 2:
        raise ScenarioError("live", "--users", "needs at least 2 (one is the receiving dock)")
    if not o.spawn_rate > 0:
        raise ScenarioError("live", "--spawn-rate", "must be > 0")
    if not 0 <= o.workers <= 64:
        raise ScenarioError("live", "--workers", "must be within 0..64")
    for name, url in [*o.urls.items(), ("core", o.core_url), ("webhook-target", o.webhook_target)]:
        if url is not None and not url.startswith(_LOOPBACK):
            raise ScenarioError("live", f"--{name}", f"must be a loopback http:// URL, got {url}")
    if o.urls and set(o.urls) != set(SYSTEMS):
        missing = sorted(set(SYSTEMS) - set(o.urls))
        raise ScenarioError("live", f"--{missing[0]}", "give all four emulator URLs, or none")
    if o.sut == "external":
        if o.webhook_target is None:
            raise ScenarioError("live", "--webhook-target", "required with --sut external")
        if o.core_url is not None:
            raise ScenarioError("live", "--core", "not with --sut external (no core of ours)")
    elif o.webhook_target is not None:
        raise ScenarioError("live", "--webhook-target", "only with --sut external")
    if o.core_url is not None and not o.urls:
        raise ScenarioError("live", "--core", "a running core needs the running emulators' URLs")
    speedup = o.speedup or spec.duration_days * 86400 / o.duration_s
    if not speedup > 0:
        raise ScenarioError("live", "--speedup", "must be > 0")
    timeline = spec.end_s / speedup
    if timeline > MAX_TIMELINE_S:
        raise ScenarioError(
            "live",
            "--speedup",
            f"{spec.name} ({spec.end_s / 86400:g} days) would last {timeline / 3600:.1f} h "
            f"at x{speedup:g}; raise it (at most {MAX_TIMELINE_S / 3600:g} h)",
        )
    if o.out.exists() and not o.out.is_dir():
        raise ScenarioError("live", "--out", f"{o.out} is a file")
    return speedup


# -- processes ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _free_port_base() -> int:
    """A base whose +1..+4 are all free (the emulators' fixed offsets)."""
    for _ in range(50):
        base = _free_port() - 1
        try:
            socks = []
            for k in range(1, 5):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", base + k))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise LiveError("no four consecutive free ports on 127.0.0.1")


def _stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _log_tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-2000:]
    except OSError:
        return ""


def _wait_healthy(
    url: str,
    proc: subprocess.Popen[bytes] | None,
    log: Path,
    timeout_s: float,
    ready: Callable[[dict[str, Any]], bool] = lambda _: True,
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise LiveError(f"{url} exited with {proc.returncode}:\n{_log_tail(log)}")
        try:
            r = httpx.get(f"{url}/health", timeout=1)
            if r.status_code == 200 and ready(r.json()):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.05)
    raise LiveError(f"{url} not healthy within {timeout_s:g} s:\n{_log_tail(log)}")


@contextmanager
def _emulators(scenario: str, seed: int, speedup: float, out: Path) -> Iterator[dict[str, str]]:
    base = _free_port_base()
    log = out / "emulators.log"
    args = [
        sys.executable,
        "-m",
        "scenarios.live",
        "_emulators",
        scenario,
        str(seed),
        str(speedup),
        str(base),
    ]
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        urls = {s: f"http://127.0.0.1:{base + k}" for k, s in enumerate(SYSTEMS, start=1)}
        for url in urls.values():
            _wait_healthy(url, proc, log, 30)
        yield urls
    finally:
        _stop(proc, signal.SIGINT)


class CoreProcess:
    """The sync core as a subprocess on a store file; killed and restarted at will."""

    new_session = False  # True: the core leads a process group of its own (see stop_group)

    def __init__(self, scenario: str, seed: int, urls: dict[str, str], out: Path) -> None:
        self.scenario, self.seed, self.urls = scenario, seed, urls
        self.store, self.log = out / "core.sqlite", out / "core.log"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.lock = threading.Lock()

    def start(self, timeout_s: float = 30.0) -> None:
        args = [
            sys.executable,
            "-m",
            "scenarios.serve_core",
            "--store",
            str(self.store),
            "--port",
            str(self.port),
            "--scenario",
            self.scenario,
            "--seed",
            str(self.seed),
        ]
        for system, url in self.urls.items():
            args += [f"--{system}", url]
        with self.log.open("ab") as sink:
            self.proc = subprocess.Popen(
                args,
                cwd=ROOT,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=self.new_session,
            )
        self.starts += 1

        def subscribed(health: dict[str, Any]) -> bool:
            subs = health.get("subscriptions") or {}
            return len(subs) == len(self.urls) and all(
                str(v).startswith("http") for v in subs.values()
            )

        _wait_healthy(self.url, self.proc, self.log, timeout_s, subscribed)

    def kill(self) -> None:
        _stop(self.proc, signal.SIGKILL)

    def stop(self) -> None:
        _stop(self.proc, signal.SIGTERM)


def start_emulators(
    scenario: str, seed: int, speedup: float, out: Path, timeout_s: float = 30.0
) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """The four emulators in one subprocess that leads a process group of its own (so
    :func:`stop_group` leaves nothing behind), healthy; its log is ``out/emulators.log``.
    The caller owns the process: stop it with :func:`stop_group`."""
    base = _free_port_base()
    log = out / "emulators.log"
    args = [sys.executable, "-m", "scenarios.live", "_emulators", scenario, str(seed),
            str(speedup), str(base)]  # fmt: skip
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
    try:
        urls = {s: f"http://127.0.0.1:{base + k}" for k, s in enumerate(SYSTEMS, start=1)}
        for url in urls.values():
            _wait_healthy(url, proc, log, timeout_s)
    except BaseException:
        stop_group(proc, signal.SIGKILL)
        raise
    return proc, urls


def stop_group(
    proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, timeout_s: float = 10.0
) -> None:
    """Signal the process group ``proc`` leads (started with ``start_new_session``), SIGKILL
    the group if its leader outlives ``timeout_s``, reap the leader, then SIGKILL whatever
    is left of the group."""
    if proc is None:
        return
    for s in (sig, signal.SIGKILL):
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, s)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                continue
        break
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # a child that outlived its leader


def clock_offsets(urls: dict[str, str], client: httpx.Client, start: float) -> dict[str, float]:
    """Each emulator's clock at our ``start`` (``time.monotonic()``), from journalled probes:
    the offsets :func:`_collect` needs to put every record on the run's time axis."""
    return {s: _clock_at_start(u, s, client, start) for s, u in urls.items()}


# -- clocks and faults ----------------------------------------------------------------


def _clock_at_start(url: str, system: str, client: httpx.Client, start: float) -> float:
    """The emulator's clock value at our ``start`` (monotonic), from a journalled probe."""
    path, operation = PROBES[system]
    before = time.monotonic()
    client.get(url + path)
    after = time.monotonic()
    records = client.get(f"{url}/__admin/requests").json()
    stamped = [r["t"] for r in records if r["operation"] == operation]
    if not stamped:
        raise LiveError(f"{system}: the probe {path} left no record in /__admin/requests")
    return float(stamped[-1]) - ((before + after) / 2 - start)


@dataclass(frozen=True)
class _Window:
    system: str  # an emulator, or "core"
    kind: str  # outage, rate_limit_storm, latency, crash
    start_s: float  # scenario seconds
    end_s: float
    value: Any = None


def _windows(spec: ScenarioSpec) -> list[_Window]:
    out = []
    for system, f in spec.faults.items():
        out += [_Window(system, "outage", w.start_s, w.end_s, w) for w in f.outages]
        out += [
            _Window(system, "rate_limit_storm", w.start_s, w.end_s, w) for w in f.rate_limit_storms
        ]
        out += [_Window(system, "latency", w.start_s, w.end_s, w) for w in f.latency_spikes]
    out += [_Window("core", "crash", c.start_s, c.end_s) for c in spec.core_faults.crashes]
    return sorted(out, key=lambda w: (w.start_s, w.system, w.kind))


def _steady(spec: ScenarioSpec, system: str) -> Faults:
    """The faults in force all run long (windows are set and cleared on schedule)."""
    f = next((v for k, v in spec.faults.items() if k == system), None)
    if f is None:
        return Faults()
    return Faults(
        latency=f.latency, error_rate=f.error_rate, rate_limit=f.rate_limit, webhooks=f.webhooks
    )


class FaultSchedule:
    """The scenario's fault windows, in real time (SimPy RT, factor 1/speedup)."""

    def __init__(
        self,
        spec: ScenarioSpec,
        speedup: float,
        urls: dict[str, str],
        clocks: dict[str, float],
        start: float,
        core: CoreProcess | None,
    ) -> None:
        self.spec, self.speedup, self.urls, self.clocks = spec, speedup, urls, clocks
        self.start, self.core = start, core
        self.active: dict[str, list[tuple[_Window, float, float]]] = {s: [] for s in SYSTEMS}
        self.recorded: list[tuple[str, str, float, float]] = []
        self.skipped: list[str] = []
        self.errors: list[str] = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="faults", daemon=True)
        self.client = httpx.Client(timeout=5)

    def now(self) -> float:
        return time.monotonic() - self.start

    def apply_steady(self) -> None:
        for system in SYSTEMS:
            self._put(system)

    def _put(self, system: str) -> None:
        f = _steady(self.spec, system)
        outages, storms, extra_ms = list(f.outages), list(f.rate_limit_storms), 0.0
        for w, emu_start, emu_end in self.active[system]:
            if w.kind == "outage":
                outages.append(Outage(start_s=emu_start, end_s=emu_end, mode=w.value.mode))
            elif w.kind == "rate_limit_storm":
                storms.append(
                    RateLimitStorm(
                        start_s=emu_start, end_s=emu_end, retry_after_s=w.value.retry_after_s
                    )
                )
            else:
                extra_ms += w.value.extra_ms
        latency = f.latency
        if extra_ms:
            latency = Latency(median_ms=latency.median_ms + extra_ms, sigma=latency.sigma)
        faults = replace_faults(
            f, outages=tuple(outages), rate_limit_storms=tuple(storms), latency=latency
        )
        body = faults.model_dump(mode="json")
        try:
            r = self.client.put(f"{self.urls[system]}/__admin/faults", json=body)
            if r.status_code != 200:
                self.errors.append(f"{system}: PUT /__admin/faults answered {r.status_code}")
        except httpx.HTTPError as e:
            self.errors.append(f"{system}: PUT /__admin/faults failed: {e}")

    def _window(self, env: simpy.Environment, w: _Window) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(w.start_s)
        started = self.now()
        length = (w.end_s - w.start_s) / self.speedup
        if w.system == "core":
            if self.core is None:
                self.skipped.append(f"crash at {w.start_s / 3600:g} h: the core is not ours")
                return
            with self.core.lock:
                self.core.kill()
            yield env.timeout(w.end_s - w.start_s)
            if not self.stop_event.is_set():
                with self.core.lock:
                    self.core.start()
        else:
            emu = self.clocks[w.system] + started
            entry = (w, emu, emu + length)
            self.active[w.system].append(entry)
            self._put(w.system)
            yield env.timeout(w.end_s - w.start_s)
            self.active[w.system].remove(entry)
            self._put(w.system)
        self.recorded.append((w.system, w.kind, started, self.now()))

    def _ticker(self, env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        while not self.stop_event.is_set():  # wakes the loop so a stop is seen within 0.2 s
            yield env.timeout(0.2 * self.speedup)

    def _run(self) -> None:
        env = simpy.rt.RealtimeEnvironment(factor=1 / self.speedup, strict=False)
        for w in _windows(self.spec):
            env.process(self._window(env, w))
        env.process(self._ticker(env))
        try:
            while not self.stop_event.is_set() and env.peek() <= self.spec.end_s:
                env.step()
        except Exception as e:  # a failed restart: the run is judged on what happened
            self.errors.append(f"fault schedule stopped: {type(e).__name__}: {e}")

    def run_in_background(self) -> None:
        self.apply_steady()
        self.thread.start()

    def finish(self, restart: bool = True) -> None:
        """Stop the schedule; close open windows, clear every fault, restart a killed core."""
        if self.stop_event.is_set():
            return
        self.stop_event.set()
        self.thread.join(timeout=30)
        for system in SYSTEMS:
            for w, _, _ in self.active[system]:
                self.recorded.append((system, w.kind, self.now(), self.now()))
            self.active[system].clear()
            try:
                self.client.delete(f"{self.urls[system]}/__admin/faults")
            except httpx.HTTPError as e:
                self.errors.append(f"{system}: DELETE /__admin/faults failed: {e}")
        if (
            restart
            and self.core is not None
            and (self.core.proc is None or self.core.proc.poll() is not None)
        ):
            with self.core.lock:
                self.core.start()
        self.client.close()

    def timeline_s(self) -> float:
        return self.spec.end_s / self.speedup


def replace_faults(f: Faults, **changes: Any) -> Faults:
    return Faults.model_validate({**f.model_dump(), **changes})


# -- load --------------------------------------------------------------------------------


def _locust_command(o: LiveOptions, host: str, prefix: Path) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(o.locustfile),
        "--headless",
        "--host",
        host,
        "--csv",
        str(prefix),
        "--csv-full-history",
        "--only-summary",
        "--stop-timeout",
        "5",
        "--loglevel",
        "WARNING",
    ]
    if not o.shaped:
        cmd += ["-u", str(o.users), "-r", f"{o.spawn_rate:g}", "-t", f"{math.ceil(o.duration_s)}s"]
    if o.workers:
        cmd += ["--processes", str(o.workers)]
    return cmd


def _locust_env(
    o: LiveOptions,
    seed: int,
    speedup: float,
    urls: dict[str, str],
    core_url: str | None,
    run_id: str,
) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "PYTHONUNBUFFERED": "1",
        "SUPPLYSYNC_SCENARIO": o.scenario,
        "SUPPLYSYNC_SEED": str(seed),
        "SUPPLYSYNC_SPEEDUP": repr(speedup),
        "SUPPLYSYNC_URLS": json.dumps({**urls, "core": core_url}),
        "SUPPLYSYNC_RUN_ID": run_id,
        "SUPPLYSYNC_USER_RPS": repr(o.per_user_rps),
        **o.locust_env,
    }


def read_locust_csv(prefix: Path, started_epoch: float) -> dict[str, Any]:
    """Locust's ``PREFIX_stats.csv`` and ``PREFIX_stats_history.csv`` → the ``load`` section."""
    stats_path = Path(f"{prefix}_stats.csv")
    if not stats_path.exists():
        raise LiveError(f"Locust wrote no {stats_path.name}")

    def num(row: dict[str, str], key: str) -> float:
        try:
            v = float(row.get(key) or 0)
        except ValueError:
            return 0.0
        return 0.0 if math.isnan(v) else v

    endpoints, total = {}, {}
    with stats_path.open(newline="") as f:
        for row in csv.DictReader(f):
            entry = {
                "requests": int(num(row, "Request Count")),
                "failures": int(num(row, "Failure Count")),
                "rps": round(num(row, "Requests/s"), 3),
                "failures_per_s": round(num(row, "Failures/s"), 3),
                "p50_ms": num(row, "50%"),
                "p95_ms": num(row, "95%"),
                "p99_ms": num(row, "99%"),
                "max_ms": round(num(row, "Max Response Time"), 3),
                "avg_ms": round(num(row, "Average Response Time"), 3),
            }
            if row["Name"] == "Aggregated":
                total = entry
            else:
                endpoints[f"{row['Type']} {row['Name']}"] = entry
    over_time: list[dict[str, Any]] = []
    history_path = Path(f"{prefix}_stats_history.csv")
    if history_path.exists():
        with history_path.open(newline="") as f:
            rows = [r for r in csv.DictReader(f) if r.get("Name") == "Aggregated"]
        last = (started_epoch, 0.0, 0.0)
        for row in rows:  # rates from the running totals: Locust's own column lags
            t, done, failed = (
                num(row, k) for k in ("Timestamp", "Total Request Count", "Total Failure Count")
            )
            span = t - last[0]
            if span <= 0:
                continue
            over_time.append(
                {
                    "t": round(t - started_epoch, 3),
                    "users": int(num(row, "User Count")),
                    "rps": round((done - last[1]) / span, 3),
                    "failures_per_s": round((failed - last[2]) / span, 3),
                    "p50_ms": num(row, "50%"),
                    "p95_ms": num(row, "95%"),
                    "p99_ms": num(row, "99%"),
                    "requests": int(done),
                    "failures": int(failed),
                }
            )
            last = (t, done, failed)
    failures = []
    failures_path = Path(f"{prefix}_failures.csv")
    if failures_path.exists():
        with failures_path.open(newline="") as f:
            failures = [
                {
                    "endpoint": f"{r['Method']} {r['Name']}",
                    "error": r["Error"][:300],
                    "occurrences": int(num(r, "Occurrences")),
                }
                for r in csv.DictReader(f)
            ][:20]
    return {"total": total, "endpoints": endpoints, "over_time": over_time, "errors": failures}


def _run_locust(cmd: list[str], env: dict[str, str], log: Path, timeout_s: float) -> int:
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise LiveError(
            f"Locust did not finish within {timeout_s:g} s:\n{_log_tail(log)}"
        ) from None
    finally:
        if proc.poll() is None:  # Ctrl-C, an error or the timeout: stop master and workers
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


# -- collection and judgement ---------------------------------------------------------


def _history_size(client: httpx.Client, urls: dict[str, str]) -> int:
    return sum(len(client.get(f"{u}/__admin/history").json()) for u in urls.values())


def _settle(client: httpx.Client, urls: dict[str, str], quiet_s: float, max_s: float) -> float:
    """Wait until no emulator's history has grown for ``quiet_s`` and none has a webhook
    still to deliver (one waiting out its backoff would arrive later), at most ``max_s``."""
    started = time.monotonic()
    size, since = -1, time.monotonic()
    while time.monotonic() - started < max_s:
        now_size = _history_size(client, urls)
        if now_size != size or webhooks_pending(client, urls):
            size, since = now_size, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
        time.sleep(0.25)
    return time.monotonic() - started


def _collect(client: httpx.Client, urls: dict[str, str], clocks: dict[str, float]) -> list[Any]:
    from analysis.history import Change

    changes = []
    for system, url in urls.items():
        for r in client.get(f"{url}/__admin/history", timeout=60).json():
            t = round(float(r["t"]) - clocks[system], 6)
            changes.append(
                Change(
                    t,
                    r["system"],
                    r["entity"],
                    r["field"],
                    r["value"],
                    r["cause"],
                    r.get("correlation_id"),
                )
            )
    changes.sort(key=lambda c: c.t)
    return changes


def webhooks_pending(client: httpx.Client, urls: dict[str, str]) -> int:
    """Webhooks the emulators have sent or will retry but not yet delivered or given up."""
    total = 0
    for url in urls.values():
        try:
            total += int(client.get(f"{url}/__admin/webhooks", timeout=2).json().get("pending", 0))
        except (httpx.HTTPError, ValueError):
            return 1  # cannot tell: not settled
    return total


def _webhook_stats(client: httpx.Client, url: str) -> dict[str, int]:
    """What an emulator's webhook dispatcher did (published, delivered, duplicated...)."""
    stats = client.get(f"{url}/__admin/webhooks").json()
    return {k: v for k, v in stats.items() if isinstance(v, int)}


def _judge(
    header: dict[str, Any],
    changes: list[Any],
    faults: list[tuple[str, str, float, float]],
    spec: ScenarioSpec,
    volumes: dict[str, int],
) -> Any:
    """The one place that uses the analysis API: history → judged run (results + judgement)."""
    from dataclasses import fields

    from analysis.facts import FLOWS
    from analysis.history import History
    from analysis.report import judge_run
    from analysis.results import Slos

    # every flow is expected of the middleware: one that never wrote a replica lost it all
    history = History({**header, "flows": list(FLOWS)})
    for c in changes:
        history.record(c)
    for system, kind, start, end in faults:
        history.fault(system, kind, start, max(start, end))
    known = {f.name for f in fields(Slos)}
    slos = Slos(**{k: v for k, v in spec.slos.model_dump().items() if k in known})
    return history, judge_run(history, slos=slos, volumes=volumes)


def _load_plot(
    results: dict[str, Any], judged: Any, faults: list[tuple[str, str, float, float]], end_s: float
) -> str | None:
    """RPS, response times, sync lag and consistency on one time axis, faults shaded."""
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.metrics import consistency_over_time

    over = results["load"]["over_time"]
    if not over:
        return None
    fig, axes = plt.subplots(4, 1, figsize=(9, 8.5), sharex=True)
    t = [p["t"] for p in over]
    axes[0].plot(t, [p["rps"] for p in over], label="requests/s")
    axes[0].plot(t, [p["failures_per_s"] for p in over], label="failures/s", color="#c0392b")
    axes[0].set_ylabel("Locust")
    axes[1].plot(t, [p["p50_ms"] for p in over], label="p50")
    axes[1].plot(t, [p["p95_ms"] for p in over], label="p95")
    axes[1].set_ylabel("response ms")
    for flow in ("po_dispatch", "po_acknowledgment", "ship_notice", "receipt", "invoice"):
        lags = [x for x in judged.judgement.lags if x.flow == flow]
        if lags:
            axes[2].scatter([x.t_owner for x in lags], [x.lag_s for x in lags], s=4, label=flow)
    axes[2].set_ylabel("sync lag s")
    times, agreement = consistency_over_time(judged.judgement, end_s)
    axes[3].plot(times, agreement, color="#1e8449", label="agreement")
    axes[3].set_ylabel("consistency")
    axes[3].set_xlabel("seconds since the run started")
    for ax in axes:
        for _, _, start, end in faults:
            ax.axvspan(start, max(end, start + 0.05), color="#f5b7b1", alpha=0.5)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _load_markdown(load: dict[str, Any]) -> str:
    rows = [
        "| endpoint | requests | failures | RPS | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, e in [*sorted(load["endpoints"].items()), ("**all**", load["total"])]:
        if e:
            rows.append(
                f"| {name} | {e['requests']} | {e['failures']} | {e['rps']:g} | "
                f"{e['p50_ms']:g} | {e['p95_ms']:g} | {e['p99_ms']:g} |"
            )
    return "\n## Load (Locust)\n\n" + "\n".join(rows) + "\n"


def _write(out: Path, history: Any, judged: Any, faults: list[Any], end_s: float) -> None:
    from analysis.report import summary_markdown, write_report
    from analysis.results import dumps

    results = judged.results
    (out / "results.json").write_text(dumps(results), encoding="utf-8")
    history.write(out / "history.jsonl")
    (out / "summary.md").write_text(
        summary_markdown([judged]) + _load_markdown(results["load"]), encoding="utf-8"
    )
    report = out / "report.html"
    write_report(report, [judged])
    png = _load_plot(results, judged, faults, end_s)
    table = html.escape(_load_markdown(results["load"]))
    section = "<section><h2>Load and sync on one time axis</h2>"
    if png:
        section += f'<img alt="load, lag and consistency" src="data:image/png;base64,{png}">'
    section += f"<pre>{table}</pre></section>"
    page = report.read_text(encoding="utf-8")
    page = page.replace("</body>", section + "</body>") if "</body>" in page else page + section
    report.write_text(page, encoding="utf-8")


# -- the run ---------------------------------------------------------------------------


def run_live(o: LiveOptions, log: Callable[[str], None] = print) -> LiveOutcome:
    """One live run; raises ScenarioError for bad input, LiveError when it cannot run."""
    spec = load_scenario(o.scenario, seed=o.seed)
    speedup = _validate(o, spec)
    seed = spec.seed
    o.out.mkdir(parents=True, exist_ok=True)
    for stale in o.out.glob("locust_*.csv"):
        stale.unlink()
    with ExitStack() as stack:
        if o.urls:
            urls = {s: o.urls[s].rstrip("/") for s in SYSTEMS}
        else:
            log(f"starting the emulators (x{speedup:g}) ...")
            urls = stack.enter_context(_emulators(o.scenario, seed, speedup, o.out))
        core: CoreProcess | None = None
        core_url = o.core_url
        client = stack.enter_context(httpx.Client(timeout=10))
        if o.sut == "external":
            for system, url in urls.items():
                hook = (o.webhook_target or "").replace("{system}", system)
                client.put(f"{url}/__admin/subscription", json={"url": hook}).raise_for_status()
        elif core_url is None:
            (o.out / "core.sqlite").unlink(missing_ok=True)
            core = CoreProcess(o.scenario, seed, urls, o.out)
            stack.callback(lambda: core.stop() if core else None)
            log("starting the sync core ...")
            core.start()
            core_url = core.url
        start = time.monotonic()
        started_epoch = time.time()
        clocks = {s: _clock_at_start(u, s, client, start) for s, u in urls.items()}
        schedule = FaultSchedule(spec, speedup, urls, clocks, start, core)
        stack.callback(schedule.finish, restart=False)
        schedule.run_in_background()
        run_id = f"{int(started_epoch)}-{os.getpid()}"
        prefix = o.out / "locust"
        env = _locust_env(o, seed, speedup, urls, core_url, run_id)
        log(f"load: {o.users} users for {o.duration_s:g} s ({o.workers or 1} Locust process(es))")
        code = _run_locust(
            _locust_command(o, urls["erp"], prefix), env, o.out / "locust.log", o.duration_s + 120
        )
        if code not in (0, 1):  # 1: some requests failed (that is data, not an error)
            raise LiveError(f"Locust exited with {code}:\n{_log_tail(o.out / 'locust.log')}")
        remaining = schedule.timeline_s() - (time.monotonic() - start)
        if remaining > 0:
            log(f"the scenario's timeline runs {remaining:.1f} s more ...")
            time.sleep(min(remaining, MAX_TIMELINE_S))
        schedule.finish()  # faults cleared, a killed core restarted: now let it drain
        settled = _settle(client, urls, o.quiet_s, o.settle_max_s)
        end_s = time.monotonic() - start
        changes = _collect(client, urls, clocks)
        webhooks = {s: _webhook_stats(client, u) for s, u in urls.items()}
        load = read_locust_csv(prefix, started_epoch)
        header = {
            "scenario": spec.name,
            "architecture": "event" if o.sut == "builtin" else "external",
            "seed": seed,
            "epoch": dt.datetime.fromtimestamp(started_epoch).isoformat(timespec="seconds"),
            "end_s": round(end_s, 3),
            "mode": "live",
            "speedup": speedup,
            "sut": o.sut,
        }
        volumes = {
            "po_lines": len({c.entity for c in changes if c.field == "ordered_qty"}),
            "history_records": len(changes),
            "requests": int(load["total"].get("requests", 0)),
            "request_failures": int(load["total"].get("failures", 0)),
            "core_starts": core.starts if core else 0,
        }
        history, judged = _judge(header, changes, schedule.recorded, spec, volumes)
        judged.results["load"] = load
        judged.results["live"] = {
            "users": o.users,
            "workers": o.workers,
            "duration_s": o.duration_s,
            "speedup": speedup,
            "settle_s": round(settled, 3),
            "sut": o.sut,
            "load_average": list(os.getloadavg()),
            "fault_schedule_errors": schedule.errors,
            "skipped_faults": schedule.skipped,
            "webhooks": webhooks,
        }
        _write(o.out, history, judged, schedule.recorded, end_s)
    return LiveOutcome(judged.results, o.out, bool(judged.results["passed"]))


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # unwinds the run: every process it started is stopped


def handle(args: argparse.Namespace) -> int:
    """``supplysync live``: exit 0 when the SLOs are met, 1 when not, 2 for bad input."""
    urls = {s: getattr(args, s) for s in SYSTEMS if getattr(args, s, None)}
    options = LiveOptions(
        scenario=args.scenario,
        users=args.users,
        spawn_rate=args.spawn_rate,
        duration_s=args.duration,
        out=args.out or Path("out") / f"live-{Path(args.scenario).stem}",
        seed=args.seed,
        speedup=args.speedup,
        workers=args.workers,
        urls=urls,
        core_url=args.core,
        sut=args.sut,
        webhook_target=args.webhook_target,
        settle_max_s=args.settle_max,
    )
    signal.signal(signal.SIGTERM, _terminate)
    try:
        outcome = run_live(options)
    except LiveError as e:
        print(f"supplysync: live run failed: {e}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("supplysync: interrupted; every service this run started is stopped", file=sys.stderr)
        return 130
    print((outcome.out / "summary.md").read_text(encoding="utf-8"), end="")
    print(f"report: {outcome.out / 'report.html'}")
    return EXIT_OK if outcome.passed else EXIT_SLO


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``live`` to the ``supplysync`` sub-commands; dispatch to :func:`handle`."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "live",
        help="run a scenario against live HTTP services under Locust load",
        description="Start the emulators and the sync core (or use running ones), inject the "
        "scenario's faults in real time, drive the actors with Locust, then judge every "
        "system's history with the same checkers as a simulated run.",
    )
    p.add_argument("scenario", help="a scenario file or a library name")
    p.add_argument("--users", type=int, default=10, help="Locust users (default 10)")
    p.add_argument("--spawn-rate", type=float, default=5.0, help="users started a second")
    p.add_argument(
        "--duration",
        type=parse_duration,
        default=60.0,
        help="how long the load runs, e.g. 60s, 2m (default 60s)",
    )
    p.add_argument("--out", type=Path, help="output folder (default out/live-<scenario>)")
    p.add_argument("--seed", type=int, help="override the scenario's seed")
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
    for system in SYSTEMS:
        p.add_argument(f"--{system}", metavar="URL", help=f"a running {system} emulator")
    p.add_argument("--core", metavar="URL", help="a running sync core (with the four URLs)")
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
        "--settle-max",
        type=parse_duration,
        default=60.0,
        help="longest wait for the systems to go quiet after the load (default 60s)",
    )
    return p


# -- the emulators' process --------------------------------------------------------------


def scaled_profiles(spec: ScenarioSpec, speedup: float) -> dict[str, Any]:
    """The scenario's supplier profile for each trading partner, every delay / speedup."""
    p = spec.suppliers.profile()
    fast = replace(
        p,
        ack_delay_median_s=p.ack_delay_median_s / speedup,
        duplicate_delay_s=p.duplicate_delay_s / speedup,
        ship_delay_median_s=p.ship_delay_median_s / speedup,
        invoice_delay_median_s=p.invoice_delay_median_s / speedup,
        duplicate_invoice_delay_s=p.duplicate_invoice_delay_s / speedup,
    )
    return {s.edi_id: fast for s in generate(spec.network, spec.seed).suppliers}


def _serve_emulators(scenario: str, seed: int, speedup: float, port_base: int) -> int:
    from emulators.web.serve import serve

    spec = load_scenario(scenario, seed=seed)
    serve(
        list(SYSTEMS),
        port_base=port_base,
        seed=seed,
        options={"profiles": scaled_profiles(spec, speedup)},
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 5 and args[0] == "_emulators":  # the emulators' subprocess
        return _serve_emulators(args[1], int(args[2]), float(args[3]), int(args[4]))
    parser = argparse.ArgumentParser(prog="supplysync")
    add_parser(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(args)
    try:
        return handle(parsed)
    except ScenarioError as e:
        print(f"supplysync: error: {e}", file=sys.stderr)
        return EXIT_INPUT


if __name__ == "__main__":
    sys.exit(main())
