"""The ``supplysync_live`` fixture's objects: :class:`LiveServices` (the running
emulators and sync core, with helpers to create POs, inject faults, kill the core and
judge), :class:`LiveRunResult` (a judged live run), :class:`LiveSettings` and the
``@pytest.mark.supplysync_live`` marker's parsing.

Private: :mod:`scenarios.plugin.fixture` re-exports the public names, defines the fixture
and documents the theory of operation.  Processes, collection and judgement are
:mod:`scenarios.live`'s.
"""

from __future__ import annotations

import datetime as dt
import math
import shlex
import signal
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from scenarios.plugin.simulated import RunResult, attach_metrics, folder_name

if TYPE_CHECKING:  # the simulation (numpy, matplotlib, ...) loads on the first run only
    from scenarios.sim.runner import Outcome
    from scenarios.spec.models import ScenarioSpec

__all__ = ["LiveRunResult", "LiveServiceError", "LiveServices", "LiveSettings"]

_ERP_POS = "/fscmRestApi/resources/latest/purchaseOrders"

_LIVE_OPTIONS = ("scenario", "seed", "speedup", "quiet_s", "settle_max_s")


@dataclass(frozen=True)
class LiveSettings:
    """How a module's live services run: ``@pytest.mark.supplysync_live(...)`` on the module."""

    scenario: str = "regional_network"  # its network, supplier behaviour and SLOs
    seed: int | None = None  # None: --supplysync-seed, else the scenario file's
    speedup: float = 86400.0  # scenario seconds per real second for the suppliers' delays
    quiet_s: float = 1.5  # judge(): no history change for this long = settled
    settle_max_s: float = 30.0  # judge(): the longest wait for that


class LiveServiceError(RuntimeError):
    """A live service refused what a test asked of it (a PO, a fault) or did not answer."""


class LiveRunResult(RunResult):
    """A live run judged from the emulators' histories: times are seconds since the
    services started, calendar times are wall-clock times."""

    __slots__ = ("_fault_end", "_started")
    _fault_end: float
    _started: dt.datetime

    def __init__(
        self,
        outcome: Outcome,
        spec: ScenarioSpec,
        out_dir: Path,
        nodeid: str,
        render: bool,
        *,
        fault_end_s: float,
        started: dt.datetime,
    ) -> None:
        super().__init__(outcome, spec, out_dir, nodeid, render)
        object.__setattr__(self, "_fault_end", fault_end_s)
        object.__setattr__(self, "_started", started)

    def _last_fault_end_s(self) -> float:
        return self._fault_end

    def _epoch(self) -> dt.datetime:
        return self._started

    def _rerun_hint(self) -> str:
        return (
            "a live run: the seed fixes the network and the suppliers' draws, not the timing; "
            f"re-run: pytest {shlex.quote(self._nodeid)}"
        )


class _Url:
    """A service's base URL, read-only: ``services.erp`` is ``services.urls["erp"]``."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._system = name

    def __get__(self, services: LiveServices, owner: type | None = None) -> str:
        return services.urls[self._system]

    def __set__(self, services: LiveServices, url: str) -> None:
        raise AttributeError(f"{self._system}: set by the running services, not by a test")


class LiveServices:
    """What the ``supplysync_live`` fixture gives a test module: the running services
    (``erp``, ``supplier``, ``wms``, ``ap``, ``core`` base URLs, ``pids``) and helpers."""

    def __init__(
        self, settings: LiveSettings, spec: ScenarioSpec, out_dir: Path, reports: str, nodeid: str
    ) -> None:
        self.settings, self.spec, self.out_dir = settings, spec, out_dir
        self._reports, self._nodeid = reports, nodeid
        self._record: Callable[[str, object], None] = lambda name, value: None
        self._runs: list[RunResult] = []
        self._stack = ExitStack()
        self._windows: list[list[Any]] = []  # [system, kind, start_s, end_s] on the run's axis
        self._labels: dict[str, int] = {}
        self._pos = 0
        self._processes: list[Any] = []  # every Popen started, for the teardown check
        self.urls: dict[str, str] = {}
        self.runs: list[LiveRunResult] = []

    # -- services --------------------------------------------------------------------

    def _start(self) -> None:
        import httpx

        from scenarios.live.faults import clock_offsets
        from scenarios.live.procs import (
            START_S,
            CoreProcess,
            EmulatorsProcess,
            stop_group,
            wait_healthy,
        )
        from scenarios.spec.masterdata import generate

        s, out = self.settings, self.out_dir
        # the emulators and the core start together (as `supplysync live` starts them): the
        # core subscribes itself at each emulator as it comes up, and is healthy once it has
        emulators = EmulatorsProcess(s.scenario, self.spec.seed, s.speedup, out)
        emulators.spawn(new_session=True)  # a process group of its own, for stop_group
        proc = emulators.proc
        assert proc is not None
        self._stack.callback(stop_group, proc, signal.SIGTERM)  # runs last
        self._processes.append(proc)
        self._emulators = proc
        urls = emulators.urls
        for stale in ("core.sqlite", "core.sqlite-wal", "core.sqlite-shm"):
            (out / stale).unlink(missing_ok=True)
        core = CoreProcess(s.scenario, self.spec.seed, urls, out)
        core.new_session = True  # its own process group: stop_group leaves nothing behind
        self._stack.callback(lambda: stop_group(core.proc, signal.SIGTERM))
        self._core = core
        self._spawn_core()
        wait_healthy([*emulators.health(), core.health()], START_S)
        self._client = self._stack.enter_context(httpx.Client(timeout=10))
        self._t0 = time.monotonic()
        self._started = dt.datetime.now()
        self._clocks = clock_offsets(urls, self._client, self._t0)
        self.urls = {**urls, "core": core.url}
        print(f"\nsupplysync_live: dashboard {self.dashboard}", flush=True)
        self._master = generate(self.spec.network, self.spec.seed)

    def _spawn_core(self) -> None:
        """Start the core's process, not waiting for it: the one place every start of the
        core goes through (a subclass may set what it runs on, as the scale-out tests do)."""
        self._core.spawn()
        self._processes.append(self._core.proc)

    def _start_core(self) -> None:
        from scenarios.live.procs import START_S, wait_healthy

        self._spawn_core()
        wait_healthy([self._core.health()], START_S)

    def close(self) -> None:
        """Stop every service (process groups: SIGTERM, then SIGKILL); idempotent."""
        self._stack.close()

    erp, supplier, wms, ap, core = _Url(), _Url(), _Url(), _Url(), _Url()

    @property
    def dashboard(self) -> str:
        """The core's live dashboard, with the scenario's lag SLOs drawn on its chart."""
        slos = ",".join(f"{k}:{v:g}" for k, v in self.spec.slos.lag_p99_s.items())
        return f"{self.core}/dashboard" + (f"?slo={slos}" if slos else "")

    @property
    def pids(self) -> dict[str, int | None]:
        """The running processes: ``emulators`` (all four) and ``core``."""
        proc = self._core.proc
        return {
            "emulators": self._emulators.pid,
            "core": None if proc is None or proc.poll() is not None else proc.pid,
        }

    @property
    def every_pid(self) -> tuple[int, ...]:
        """Every process (and process group) the fixture started, a restarted core included."""
        return tuple(p.pid for p in self._processes)

    def now(self) -> float:
        """Seconds since the services started (the time axis of :meth:`judge`)."""
        return time.monotonic() - self._t0

    def kill_core(self) -> None:
        """SIGKILL the sync core (a crash); :meth:`start_core` restarts it on its store."""
        from scenarios.live.procs import stop_group

        if self.pids["core"] is None:
            raise LiveServiceError("kill_core: the core is not running")
        stop_group(self._core.proc, signal.SIGKILL)
        self._windows.append(["core", "crash", self.now(), math.inf])

    def start_core(self) -> None:
        """Restart the core on the same store file after :meth:`kill_core`."""
        if self.pids["core"] is not None:
            raise LiveServiceError("start_core: the core is running")
        self._start_core()
        self._close_windows("core")

    # -- faults ------------------------------------------------------------------------

    def set_faults(self, system: str, faults: Mapping[str, Any] | Any) -> None:
        """Put ``faults`` in force at ``system``, replacing its faults: a dict in the admin
        API's structure (``{"outages": [{"start_s": 0, "end_s": 5}], "webhooks":
        {"drop": 1.0}}``) or an :class:`emulators.faults.Faults`.  Window times are seconds
        *from now*; the windows and the steady faults are recorded for :meth:`judge`."""
        from emulators.faults import Faults

        __tracebackhide__ = True
        self._check_system(system, "set_faults")
        f = faults if isinstance(faults, Faults) else Faults.model_validate(dict(faults))
        now = self.now()
        emu = self._clocks[system] + now  # the emulator's clock now

        def shift(w: Any) -> Any:
            return w.model_copy(update={"start_s": emu + w.start_s, "end_s": emu + w.end_s})

        shifted = f.model_copy(
            update={
                "outages": tuple(shift(w) for w in f.outages),
                "rate_limit_storms": tuple(shift(w) for w in f.rate_limit_storms),
            }
        )
        self._admin("PUT", system, "/__admin/faults", shifted.model_dump(mode="json"))
        self._close_windows(system)
        for kind, windows in (("outage", f.outages), ("rate_limit_storm", f.rate_limit_storms)):
            self._windows += [[system, kind, now + w.start_s, now + w.end_s] for w in windows]
        steady = [k for k, v in f.model_dump(exclude={"outages", "rate_limit_storms"}).items()
                  if v != Faults().model_dump()[k]]  # fmt: skip
        self._windows += [[system, kind, now, math.inf] for kind in steady]

    def clear_faults(self, system: str | None = None) -> None:
        """Clear the faults of ``system`` (default: every emulator)."""
        from scenarios.live.options import SYSTEMS

        for name in SYSTEMS if system is None else (system,):
            self._check_system(name, "clear_faults")
            self._admin("DELETE", name, "/__admin/faults")
            self._close_windows(name)

    def _close_windows(self, system: str) -> None:
        now = self.now()
        for w in self._windows:
            if w[0] == system and w[3] > now:
                w[3] = max(w[2], now)

    def _check_system(self, system: str, what: str) -> None:
        from scenarios.live.options import SYSTEMS

        if system not in SYSTEMS:
            raise ValueError(f"{what}: unknown system {system!r} (one of: {', '.join(SYSTEMS)})")

    def _admin(self, method: str, system: str, path: str, body: Any = None) -> None:
        import httpx

        try:
            r = self._client.request(method, self.urls[system] + path, json=body)
        except httpx.HTTPError as e:
            raise LiveServiceError(f"{system}: {method} {path} failed: {e!r}") from e
        if r.status_code >= 300:
            raise LiveServiceError(f"{system}: {method} {path} answered {r.status_code}: {r.text}")

    # -- business --------------------------------------------------------------------

    def create_po(
        self, *, lines: int | None = None, supplier: str | None = None, timeout_s: float = 15.0
    ) -> str:
        """Create one purchase order in the ERP, as a buyer would over its REST API (the
        scenario's network; lines and quantities drawn from the fixture's seeded stream);
        retried with its idempotency key after a 5xx, a 429 or no answer, for at most
        ``timeout_s``.  Returns the ERP's order number."""
        import random

        import httpx

        from scenarios.spec.masterdata import po_lines

        __tracebackhide__ = True
        master, demand = self._master, self.spec.demand
        n, self._pos = self._pos, self._pos + 1
        rng = random.Random(f"{self.spec.seed}/supplysync_live/po/{n}")
        if supplier is None:
            vendor = rng.choice(master.suppliers)
        else:
            found = [v for v in master.suppliers if v.supplier_id == supplier]
            if not found:
                known = ", ".join(v.supplier_id for v in master.suppliers)
                raise ValueError(f"create_po: no supplier {supplier!r} (known: {known})")
            vendor = found[0]
        catalog = master.catalog(vendor.supplier_id) or master.items
        count = rng.randint(*demand.lines_per_po) if lines is None else lines
        if not 1 <= count <= len(catalog):
            raise ValueError(f"create_po: lines must be within 1..{len(catalog)}, got {count}")
        items = rng.sample(catalog, count)
        hospital = rng.choice(master.hospitals)
        body = {
            "SupplierNumber": vendor.supplier_id,
            "ShipToLocationGLN": hospital.gln,
            "RequesterDepartment": f"CC-{master.hospitals.index(hospital) + 1:02d}-100",
            "NeedByDate": (dt.date.today() + dt.timedelta(days=5)).isoformat(),
            "lines": po_lines(items, rng, demand.quantity),
        }
        key = {"Idempotency-Key": f"supplysync-live-{self._emulators.pid}-po-{n}"}
        deadline, delay, last = time.monotonic() + timeout_s, 0.05, "no answer"
        while True:
            try:
                r = self._client.post(self.erp + _ERP_POS, json=body, headers=key)
                if r.status_code == 201:
                    return str(r.json()["OrderNumber"])
                last = f"{r.status_code}: {r.text[:300]}"
                if r.status_code < 500 and r.status_code != 429:
                    raise LiveServiceError(f"create_po: the ERP refused the PO ({last})")
            except httpx.HTTPError as e:
                last = repr(e)
            if time.monotonic() + delay > deadline:
                raise LiveServiceError(f"create_po: no PO within {timeout_s:g} s (last: {last})")
            time.sleep(delay)
            delay = min(1.0, delay * 2)

    def create_pos(self, count: int, **kwargs: Any) -> list[str]:
        """:meth:`create_po` ``count`` times; the order numbers."""
        return [self.create_po(**kwargs) for _ in range(count)]

    # -- judgement -------------------------------------------------------------------

    def wait_until_quiet(self, quiet_s: float | None = None, max_s: float | None = None) -> float:
        """Wait until no emulator's history has changed for ``quiet_s`` while the core had
        nothing queued or in flight (a retry waiting out a ``Retry-After`` is in flight), at
        most ``max_s``; the seconds waited."""
        from scenarios.live.judge import history_size, webhooks_pending

        quiet = quiet_s or self.settings.quiet_s
        limit = max_s or self.settings.settle_max_s
        started = time.monotonic()
        size, since = -1, started
        while time.monotonic() - started < limit:
            now_size = history_size(self._client, self.urls_of_emulators)
            busy = self._core_busy() or webhooks_pending(self._client, self.urls_of_emulators)
            if now_size != size or busy:
                size, since = now_size, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
            time.sleep(0.1)
        return time.monotonic() - started

    def _core_busy(self) -> bool:
        from scenarios.live.judge import core_busy

        if self.pids["core"] is None:
            return False  # a killed core does nothing until it is restarted
        return bool(core_busy(self._client, self.core))

    @property
    def urls_of_emulators(self) -> dict[str, str]:
        return {k: v for k, v in self.urls.items() if k != "core"}

    def judge(self, *, quiet_s: float | None = None, max_s: float | None = None) -> LiveRunResult:
        """Wait until the systems are quiet, then judge every emulator's history since the
        services started (the whole module's, as one run) with the same checkers as a
        simulated run: the result the ``supplysync`` fixture's ``run()`` returns, with the
        same assertions.  Artefacts go into a sub-folder of the module's folder."""
        from scenarios.live.judge import collect_changes, history_size, judge_changes, webhook_stats
        from scenarios.sim.runner import Outcome, write_run
        from scenarios.spec.architectures import EVENT

        __tracebackhide__ = True
        began = time.monotonic()
        emulators = self.urls_of_emulators
        settled = 0.0
        for _ in range(5):  # a change made while we read would be judged half-seen: re-read
            settled += self.wait_until_quiet(quiet_s, max_s)
            changes = collect_changes(self._client, emulators, self._clocks)
            if history_size(self._client, emulators) == len(changes):
                break
        end_s = self.now()
        windows = [(w[0], w[1], w[2], min(w[3], end_s)) for w in self._windows if w[2] <= end_s]
        header = {
            "scenario": self.spec.name,
            "architecture": EVENT.name,
            "seed": self.spec.seed,
            "epoch": self._started.isoformat(timespec="seconds"),
            "end_s": round(end_s, 3),
            "mode": "live",
            "speedup": self.settings.speedup,
            "sut": "builtin",
        }
        volumes = {
            "po_lines": len({c.entity for c in changes if c.field == "ordered_qty"}),
            "history_records": len(changes),
            "core_starts": self._core.starts,
        }
        history, judged = judge_changes(header, changes, windows, self.spec, volumes)
        judged.results["live"] = {
            "speedup": self.settings.speedup,
            "settle_s": round(settled, 3),
            "sut": "builtin",
            "urls": dict(self.urls),
            "webhooks": {s: webhook_stats(self._client, u) for s, u in emulators.items()},
        }
        label = f"live.{self.spec.name}"
        self._labels[label] = self._labels.get(label, 0) + 1
        if self._labels[label] > 1:
            label = f"{label}.{self._labels[label]}"
        test = self._nodeid.rpartition("::")[2] or "module"
        out = self.out_dir / folder_name(f"{test}-{label.replace('.', '-')}")
        outcome = Outcome(judged, history, time.monotonic() - began)
        write_run(out, outcome, report=False)
        ends = [w[3] for w in windows]
        result = LiveRunResult(
            outcome,
            self.spec,
            out,
            self._nodeid,
            self._reports != "none",
            fault_end_s=max(ends, default=0.0),
            started=self._started,
        )
        if self._reports == "all":
            result.write_report()
        attach_metrics(self._record, label, judged.results)
        self._runs.append(result)
        self.runs.append(result)
        return result

    def _bind(
        self, nodeid: str, record: Callable[[str, object], None], runs: list[RunResult]
    ) -> None:
        """The test now running: judgements are attributed to it (JUnit, failure report)."""
        self._nodeid, self._record, self._runs = nodeid, record, runs


def live_settings(config: pytest.Config, marker: pytest.Mark | None) -> LiveSettings:
    __tracebackhide__ = True
    if marker is None:
        settings = LiveSettings()
    else:
        kwargs = dict(marker.kwargs)
        if len(marker.args) > 1 or (marker.args and "scenario" in kwargs):
            pytest.fail("supplysync_live marker: one scenario only", pytrace=False)
        if marker.args:
            kwargs["scenario"] = marker.args[0]
        unknown = sorted(set(kwargs) - set(_LIVE_OPTIONS))
        if unknown:
            pytest.fail(
                f"supplysync_live marker: unknown option(s) {', '.join(unknown)} "
                f"(known: {', '.join(_LIVE_OPTIONS)})",
                pytrace=False,
            )
        settings = LiveSettings(**kwargs)
        for name in ("speedup", "quiet_s", "settle_max_s"):
            value = getattr(settings, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                pytest.fail(f"supplysync_live marker: {name} must be > 0, got {value!r}", False)
    if settings.seed is None:
        settings = replace(settings, seed=config.getoption("supplysync_seed"))
    return settings
