"""Clocks and faults in real time: each emulator's clock read against ours, and the scenario's
fault windows set and cleared on schedule.

Theory of operation.  Each emulator stamps its history with its own monotonic clock; one
read of ``/__admin/clock`` per emulator reads that clock against ours
(:func:`clock_offsets`), so every record lands on the run's time axis.  The scenario's
steady faults are set at the start; each fault window (outage, 429 storm, latency spike,
sync-core crash) is a SimPy process in a :class:`simpy.rt.RealtimeEnvironment` whose
factor is ``1 / speedup`` (:class:`FaultSchedule`, on a thread of its own): it sets the
window through ``PUT /__admin/faults`` (in the emulator's clock, so ``Retry-After`` is
right) and clears it at its end; a crash is SIGKILL of the core and a restart on the
same store.  The scenario's business events (contract-price changes, see
:mod:`scenarios.live.events`) are processes on the same environment, so faults and
business events keep the scenario's order and spacing; what cannot be played live is
named before the run starts (:func:`~scenarios.live.events.not_played`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import simpy
import simpy.rt

from emulators.faults import Faults, Latency, Outage, RateLimitStorm
from scenarios.live.options import SYSTEMS, LiveError
from scenarios.live.procs import CoreProcess
from scenarios.live.setup import steady_faults
from scenarios.spec.models import ScenarioSpec

__all__ = ["FaultSchedule", "clock_at_start", "clock_offsets", "replace_faults"]


def clock_offsets(urls: dict[str, str], client: httpx.Client, start: float) -> dict[str, float]:
    """Each emulator's clock at our ``start`` (``time.monotonic()``): the offsets
    :func:`~scenarios.live.judge.collect_changes` needs to put every record on the run's
    time axis."""
    return {s: clock_at_start(u, s, client, start) for s, u in urls.items()}


def clock_at_start(url: str, system: str, client: httpx.Client, start: float) -> float:
    """The emulator's clock value at our ``start`` (monotonic), read from ``/__admin/clock``
    (the clock its journals are stamped with) at the midpoint of the request.  An admin read:
    no fault, rate limit or API release in force can refuse it (an ERP release that requires
    a new header refused the API call this used to journal, when it came first)."""
    before = time.monotonic()
    answer = client.get(f"{url}/__admin/clock")
    after = time.monotonic()
    try:
        stamped = float(answer.json()["t"])
    except (ValueError, KeyError, TypeError):
        raise LiveError(
            f"{system}: {url}/__admin/clock gave no clock ({answer.status_code})"
        ) from None
    return stamped - ((before + after) / 2 - start)


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


class Events(Protocol):
    """Business events played on the schedule's environment (one process each)."""

    def processes(self, env: simpy.Environment) -> list[Generator[simpy.Event, Any, None]]: ...


class FaultSchedule:
    """The scenario's fault windows and business events, in real time (SimPy RT, factor
    1/speedup)."""

    def __init__(
        self,
        spec: ScenarioSpec,
        speedup: float,
        urls: dict[str, str],
        clocks: dict[str, float],
        start: float,
        core: CoreProcess | None,
        events: Events | None = None,
        not_played: list[str] | None = None,
    ) -> None:
        self.spec, self.speedup, self.urls, self.clocks = spec, speedup, urls, clocks
        self.start, self.core, self.events = start, core, events
        self.active: dict[str, list[tuple[_Window, float, float]]] = {s: [] for s in SYSTEMS}
        self.recorded: list[tuple[str, str, float, float]] = []
        self.skipped: list[str] = list(not_played or [])  # named at the start, never played
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
        f = steady_faults(self.spec, system)
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
                return  # not ours to kill: named in ``skipped`` before the run started
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
        for process in self.events.processes(env) if self.events is not None else []:
            env.process(process)
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
