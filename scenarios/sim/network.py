"""Build one simulated run from a scenario and run it in SimPy's virtual time.

Theory of operation: ``simulate`` creates the emulators (ERP, supplier network,
WMS) with their journals feeding the run's history, the sync core (engine,
in-memory store, SimPy driver) and a simulated network between them whose
per-link latency is drawn from the scenario.  The architecture decides how the
core learns of changes: ``event`` subscribes it to the ERP's business events
and the supplier network's pushes; ``batch`` pulls both on a schedule.  Buyers
at the hospitals raise purchase orders in the ERP (a Poisson process with a
working-hours and weekday profile) until demand stops; the run then goes on
for the scenario's settle time so every architecture gets its chance to
converge.  Every random draw comes from a stream named after its component.
``defects`` (``supplysync selftest``) builds the core with named defects.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
import itertools
import math
import random
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import simpy

from analysis.facts import FLOWS
from analysis.history import Change, History
from emulators._base import Journal, Reply
from emulators.ap import Ap
from emulators.erp import Erp
from emulators.erp.releases import ErpReleases
from emulators.faults import Refused
from emulators.host import Host
from emulators.supplier import SupplierNetwork
from emulators.web.tables import NativeCall, native_routes
from emulators.webhooks import WebhookDispatcher
from emulators.wms import Wms
from scenarios.sim.actors import Buyers, Dock, PriceChange, load_masters
from scenarios.sim.changes import BuyerChanges, change_order_partners
from scenarios.sim.progress import Progress, run_with_progress
from scenarios.sim.releases import erp_releases
from scenarios.sim.releases import header as release_header
from scenarios.spec.architectures import ARCHITECTURES, Architecture
from scenarios.spec.masterdata import MasterData, cross_reference, generate, trading_profiles
from scenarios.spec.models import LatencySpike, ScenarioSpec
from scenarios.spec.releases import core_versions
from sync_core.breaker import BreakerConfig
from sync_core.defects import DefectiveEngine, Defects
from sync_core.delivery import DeliveryPlanner, RetryPolicy
from sync_core.drivers.simpy import SimDriver
from sync_core.engine import Engine, EngineConfig
from sync_core.flows.po import OWN_CHANGES
from sync_core.inbound import InboundError, from_ap, from_erp, from_supplier, from_wms
from sync_core.mappers.erp_versions import ErpVersions
from sync_core.messages import Inbound, Kind, Request, Response
from sync_core.phi import PhiBoundary, simulation_key
from sync_core.store import MemoryStore, Store

__all__ = ["FA_DEADLINE_S", "Run", "fa_deadline_s", "simulate"]

OUR_EDI_ID = "HOSPNET01"
NO_RETRIES = RetryPolicy(max_attempts=1)  # the defect ``stop_retrying``
FA_DEADLINE_S = EngineConfig.fa_deadline_s  # partners expect a 997 within hours


@dataclass
class Run:
    spec: ScenarioSpec
    architecture: str
    history: History
    volumes: dict[str, int]
    touched: frozenset[str] = frozenset()  # trace ids the run's defects touched


class _HistoryJournal(Journal):
    """An emulator's journal in a run: each fact goes straight into the run's history,
    stamped with the virtual time (to the microsecond), except while ``loading``.

    Most facts come in runs at one instant (a write journals each line it changed:
    four in five share the previous fact's time), so the stamp is rounded once per
    instant, and a record is built as the tuple it is (no named tuple's ``__new__``)."""

    def __init__(self, system: str, env: simpy.Environment, history: History) -> None:
        super().__init__(system, lambda: float(env.now), lambda _: None)
        self._env = env
        self._append = history.changes.append
        self._instant: float | None = None  # the virtual time ``_stamp`` was rounded from
        self._stamp = 0.0
        self.loading = False

    def record(
        self, entity: str, field_name: str, value: Any, cause: str, correlation_id: str | None
    ) -> None:
        if not self.loading:
            now = self._env.now
            if now != self._instant:
                self._instant, self._stamp = now, round(float(now), 6)
            fact = (self._stamp, self.system, entity, field_name, value, cause, correlation_id)
            self._append(_record(Change, fact))


_record = tuple.__new__  # a named tuple from the tuple of its fields, no generated __new__


class _Link:
    """A one-way network path with lognormal latency, slower inside its spike windows."""

    def __init__(
        self,
        env: simpy.Environment,
        rng: random.Random,
        median_s: float,
        sigma: float,
        spikes: tuple[LatencySpike, ...] = (),
    ):
        self.env, self.rng, self.median_s, self.sigma = env, rng, median_s, sigma
        self.spikes = spikes

    def delay(self) -> simpy.Timeout:
        base = self.median_s * math.exp(self.rng.gauss(0.0, self.sigma))
        if self.spikes:
            now = self.env.now
            base += sum(s.extra_ms / 1000 for s in self.spikes if s.start_s <= now < s.end_s)
        return self.env.timeout(base)


class _Transport:
    """The sync core's outbound calls, carried to the emulators over simulated links.

    Each call passes the target's fault gate (through its host) exactly as an
    HTTP request would: an outage answers 503, a refused connection answers
    nothing (status 0), injected latency adds to the link's.  With ERP releases, the
    ERP's version layer (``releases``) answers in front of its host, and the core's
    registry (``versions``) translates the core's ERP calls and replies (a call the
    release refused while it was on its way is sent once more, in the new version).
    """

    def __init__(
        self,
        links: dict[str, _Link],
        hosts: dict[str, Host],
        routes: dict[tuple[str, str], NativeCall],
    ):
        self.links = links
        self.hosts = hosts
        self.routes = routes
        self.strip_idempotency = False  # the point-to-point baseline sends no keys
        self.releases: ErpReleases | None = None
        self.versions: ErpVersions | None = None

    def call(self, request: Request) -> Generator[simpy.Event, Any, Response]:
        versions = self.versions if request.target == "erp" else None
        if versions is None:
            return (yield from self._call(request, {}))
        for _ in range(2):
            out, headers, sent = versions.outgoing(request)
            response = yield from self._call(out, headers)
            translated = versions.incoming(request, response)
            if not versions.resend(sent, response):
                break
        return translated

    def _call(
        self, request: Request, headers: dict[str, str]
    ) -> Generator[simpy.Event, Any, Response]:
        link, host = self.links[request.target], self.hosts[request.target]
        yield link.delay()
        extra = host.gate.extra_latency_s()
        if extra > 0:
            yield link.env.timeout(extra)
        route = self.routes[(request.target, request.operation)]
        if self.strip_idempotency:
            request = replace(request, idempotency_key=None)
        key = request.idempotency_key

        def invoke(body: Any) -> Reply:
            return host.invoke(
                request.operation,
                lambda: route(request.params, body, key),
                idempotency_key=key,
                correlation_id=request.correlation_id,
            )

        releases = self.releases if request.target == "erp" else None
        try:
            if releases is None:
                reply = invoke(request.body)
            else:
                reply = releases.handle(request.operation, headers, request.body, invoke)
        except Refused as e:
            return Response(0, {"detail": str(e)})
        yield link.delay()
        return Response(reply.status, reply.body, reply.headers)


def simulate(
    spec: ScenarioSpec,
    architecture: str,
    progress: Progress | None = None,
    *,
    defects: Defects | None = None,
) -> Run:
    design = ARCHITECTURES.get(architecture)
    if design is None:
        raise ValueError(f"unknown architecture {architecture!r}")
    env = simpy.Environment()
    epoch = spec.start
    history = History({**_header(spec, design), **release_header(spec, design)})
    _record_faults(history, spec)

    def clock() -> float:
        return float(env.now)

    hosts = _hosts(spec, clock)
    journals = {name: _HistoryJournal(name, env, history) for name in hosts}

    def rng(name: str) -> random.Random:
        return random.Random(f"{spec.seed}/{name}")

    def schedule(delay: float, action: Callable[[], None]) -> None:
        # a timeout with a callback: one event, where a process would take three
        env.timeout(delay).callbacks.append(lambda _: action())

    master = generate(spec.network, spec.seed)
    erp, supplier, wms, ap = _systems(spec, master, journals, clock, schedule)
    history.header["tolerances"] = dataclasses.asdict(ap.tolerances)

    links = _links(env, spec, rng)
    naive = design.point_to_point  # no memory, no breaker, a few retries
    takes_860 = change_order_partners(spec, master)
    engine = _engine(master, naive, defects, fa_deadline_s(spec, design), takes_860)
    store = _store(env, epoch)
    behaviours = {"erp": erp, "supplier": supplier, "wms": wms, "ap": ap}
    transport = _Transport(links, hosts, native_routes(behaviours))
    transport.releases, transport.versions = erp_releases(spec, clock), core_versions(spec, design)
    planner = _planner(spec, design, rng("core/delivery"), defects)
    phi = PhiBoundary(simulation_key(spec.name, spec.seed))  # a simulation key, not a secret
    driver = SimDriver(env, engine, store, transport, epoch, planner, history.message, defects,
                       phi=phi)  # fmt: skip
    if naive or (defects and defects.no_idempotency_keys):
        transport.strip_idempotency = True
    with _loading(journals.values()):  # the initial load is the starting state, not a change
        load_masters(erp, ap, master, epoch.date())  # before anyone listens
    for change in spec.contract_price_changes:
        schedule(change.at_hours * 3600, PriceChange(erp, master, change, rng("prices")).apply)
    dock = Dock(env, wms, rng("dock"))
    supplier.trucks.append(dock.on_shipment)

    webhooks = _Webhooks(driver, links["core"], schedule, rng, naive, history)
    _connect(spec, design, hosts, behaviours, driver, webhooks, transport)
    for crash in _crashes(spec):
        schedule(crash.at_s, driver.crash)
        schedule(crash.at_s + crash.down_s, driver.restart)

    BuyerChanges(spec, master, erp, schedule, rng("demand/changes"), supplier).watch()
    orders = Buyers(env, spec, master, erp, rng("demand"), history, rng("erp/cases"))
    env.process(orders.run())
    with _collector_paused():
        if progress is None:
            env.run(until=spec.end_s)
        else:
            run_with_progress(env, spec.end_s, progress, lambda: driver.messages_handled)
    touched = driver.touched | (engine.touched if isinstance(engine, DefectiveEngine) else set())
    volumes = _volumes(orders, driver, store, dock, history)
    history.header.update(_partners(spec, design, store, master))  # {} without partners
    return Run(spec, architecture, history, volumes, frozenset(touched))


def _volumes(
    orders: Buyers, driver: SimDriver, store: Store, dock: Dock, history: History
) -> dict[str, int]:
    """What a run did, counted (``results.json``'s ``volumes``, in this order)."""
    return {
        "purchase_orders": orders.pos,
        "po_lines": orders.lines,
        "messages_handled": driver.messages_handled,
        "requests_sent": driver.requests_sent,
        "dead_letters": len(store.dead_letters()),
        "dock_receipts": dock.received,
        "core_crashes": driver.crashes,
        "history_records": len(history.changes),
    }


def _partners(
    spec: ScenarioSpec, design: Architecture, store: MemoryStore, master: MasterData
) -> dict[str, Any]:
    """The header's ``partners``: per trading partner, the core's ``missing_997``
    exceptions at the end of the run (read from its store, as the dead letters are),
    ``opened`` and still ``open``; and ``missing_997_by_s``, how long after an 850 the
    core has surely looked for its 997 (the deadline, plus a pickup interval: a core
    that pulls checks it at its next pickup).  Only for a scenario that singles partners
    out (``suppliers.partners``): the others' results stay as they were."""
    if not spec.suppliers.partners:
        return {}
    pickup_s = design.pull(spec.architectures)[0] if design.pull is not None else 0.0
    out = {s.edi_id: {"missing_997_opened": 0, "missing_997_open": 0} for s in master.suppliers}
    for e in store.entities("exception"):
        row = e.data
        if isinstance(row, dict) and row.get("kind") == "missing_997" and row["partner"] in out:
            out[row["partner"]]["missing_997_opened"] += 1
            out[row["partner"]]["missing_997_open"] += 1 if row.get("open") else 0
    return {"partners": out, "missing_997_by_s": fa_deadline_s(spec, design) + pickup_s}


def _store(env: simpy.Environment, epoch: dt.datetime) -> MemoryStore:
    """The core's store; its audit trail is stamped in simulated time (the run's start, as
    UTC, plus ``env.now``), so a run stays deterministic."""
    start_s = epoch.replace(tzinfo=epoch.tzinfo or dt.UTC).timestamp()
    return MemoryStore(clock=lambda: start_s + env.now)


def _hosts(spec: ScenarioSpec, clock: Callable[[], float]) -> dict[str, Host]:
    """The four systems' hosts (fault gates, journals), each with the scenario's faults."""
    hosts = {
        name: Host(name, clock, spec.seed, keep_journals=False)
        for name in ("erp", "supplier", "wms", "ap")
    }
    for name, faults in spec.faults.items():
        if name in hosts:
            hosts[name].set_faults(faults)
    return hosts


def fa_deadline_s(spec: ScenarioSpec, design: Architecture) -> float:
    """How long the core lets an 850 wait for its 997 before a ``missing_997``: the
    partners' expected turnaround (4 h), plus, for an architecture that picks documents
    up on a schedule, the pickup interval (a nightly batch sees a 997 sent at 09:00 only
    the next night: the 4 h alone would open an exception for every 850)."""
    pickup_s = design.pull(spec.architectures)[0] if design.pull is not None else 0.0
    return FA_DEADLINE_S + pickup_s


def _engine(
    master: MasterData,
    naive: bool,
    defects: Defects | None,
    fa_deadline: float,
    change_orders: frozenset[str] = frozenset(),
) -> Engine:
    partners = {s.supplier_id: s.edi_id for s in master.suppliers}
    config = EngineConfig(
        OUR_EDI_ID,
        partners,
        naive=naive,
        functional_acks=True,
        fa_deadline_s=fa_deadline,
        xref=cross_reference(master),
        change_orders=change_orders,
    )
    return DefectiveEngine(config, defects) if defects and defects.engine else Engine(config)


def _planner(
    spec: ScenarioSpec, design: Architecture, rng: random.Random, defects: Defects | None
) -> DeliveryPlanner:
    """The design's retries (none with the stop-retrying defect); the point-to-point
    baseline's breaker never opens."""
    return DeliveryPlanner(
        NO_RETRIES if defects and defects.stop_retrying else design.retries(spec.architectures),
        rng,
        BreakerConfig(failure_threshold=2**31) if design.point_to_point else BreakerConfig(),
    )


def _systems(
    spec: ScenarioSpec,
    master: MasterData,
    journals: dict[str, _HistoryJournal],
    clock: Callable[[], float],
    schedule: Callable[[float, Callable[[], None]], None],
) -> tuple[Erp, SupplierNetwork, Wms, Ap]:
    """The four emulated systems, every supplier trading on the scenario's profile (or
    its own, where ``suppliers.partners`` names it)."""
    erp = Erp(journals["erp"], clock, spec.start)
    supplier = SupplierNetwork(
        journals["supplier"],
        clock,
        spec.start,
        schedule,
        trading_profiles(spec.suppliers, master),
        spec.seed,
        journal_receivers=bool(spec.suppliers.partners),
    )
    wms = Wms(journals["wms"], clock, spec.start)
    ap = Ap(journals["ap"], clock, spec.start)
    return erp, supplier, wms, ap


def _connect(
    spec: ScenarioSpec,
    design: Architecture,
    hosts: dict[str, Host],
    behaviours: dict[str, Any],
    driver: SimDriver,
    webhooks: _Webhooks,
    transport: _Transport,
) -> None:
    """How the core hears of changes: pull ticks, or webhooks; and reconcile ticks.
    With ERP releases, the ERP's events take the shape of the version in force, and a
    core that follows releases reads them by the version they announce."""
    if design.pull is not None:
        for name, behaviour in behaviours.items():
            hosts[name].attach(behaviour)
        driver.every(*design.pull(spec.architectures))
    else:
        parsers: dict[str, Callable[[dict[str, Any]], Inbound]] = {
            "erp": from_erp, "supplier": from_supplier, "wms": from_wms, "ap": from_ap
        }  # fmt: skip
        versions, releases = transport.versions, transport.releases
        if versions is not None:
            parsers["erp"] = lambda event: from_erp(versions.event(event))
        for name, behaviour in behaviours.items():
            subscribed = _erp_subscription(design.point_to_point) if name == "erp" else None
            shape = releases.event if name == "erp" and releases is not None else None
            hosts[name].attach(behaviour, webhooks.dispatcher(name, parsers[name]),
                               subscribed=subscribed, shape=shape)  # fmt: skip
        for name in behaviours:
            hosts[name].set_faults(hosts[name].gate.faults)  # webhook faults to the dispatcher
    if design.reconcile is not None:
        every = design.reconcile(spec.architectures)
        driver.every(every, every, Kind.RECONCILE_TICK)


def _links(
    env: simpy.Environment, spec: ScenarioSpec, rng: Callable[[str], random.Random]
) -> dict[str, _Link]:
    """One link to each system and to the core, slower in the scenario's latency spikes."""
    lat = spec.latency
    spikes: dict[str, tuple[LatencySpike, ...]] = {
        name: f.latency_spikes for name, f in spec.faults.items()
    }
    spikes["core"] = spec.core_faults.latency_spikes
    return {
        name: _Link(env, rng(f"link/{name}"), lat.median_ms / 1000, lat.sigma, spikes.get(name, ()))
        for name in ("erp", "supplier", "wms", "ap", "core")
    }


@contextlib.contextmanager
def _loading(journals: Iterable[_HistoryJournal]) -> Iterator[None]:
    """The journals record nothing inside: what is done is the run's starting state."""
    for journal in journals:
        journal.loading = True
    try:
        yield
    finally:
        for journal in journals:
            journal.loading = False


def _header(spec: ScenarioSpec, design: Architecture) -> dict[str, Any]:
    """The history's header: what the analysis needs to judge the history on its own
    (see analysis/history), the architecture's mechanism included."""
    return {
        "scenario": spec.name,
        "architecture": design.name,
        "seed": spec.seed,
        "epoch": spec.start.isoformat(),
        "end_s": spec.end_s,
        "mode": "simulation",
        "flows": list(FLOWS),
        "latency": {"median_ms": spec.latency.median_ms, "sigma": spec.latency.sigma},
        "slos": spec.slos.model_dump(),
        **design.mechanism(spec.architectures),
    }


class _Webhooks:
    """The core subscribed to the systems: each event carried over the link to the
    core's inbound endpoint, at least once.  The point-to-point baseline (``naive``) has
    no inbox: every copy gets a message id of its own and is handled again.  An event
    whose envelope the core cannot read (an ERP release changed its shape) is refused,
    as the live service answers it with a 4xx: the sender retries it, and the history
    records its first refusal as a dead letter."""

    def __init__(
        self,
        driver: SimDriver,
        link: _Link,
        schedule: Callable[[float, Callable[[], None]], None],
        rng: Callable[[str], random.Random],
        naive: bool,
        history: History,
    ) -> None:
        self.driver, self.link, self.schedule, self.rng = driver, link, schedule, rng
        self.naive = naive
        self.unique = itertools.count(1)
        self.history = history
        self.refused: set[str] = set()

    def dispatcher(
        self, system: str, to_message: Callable[[dict[str, Any]], Inbound]
    ) -> WebhookDispatcher:
        def deliver(event: dict[str, Any], done: Callable[[bool], None]) -> None:
            def arrive(_: simpy.Event) -> None:
                try:
                    message = to_message(event)
                except InboundError as e:
                    self._refuse(system, event, e)
                    done(False)
                    return
                if self.naive:
                    message = replace(
                        message, message_id=f"{message.message_id}#{next(self.unique)}"
                    )
                done(self.driver.submit(message))

            self.link.delay().callbacks.append(arrive)

        return WebhookDispatcher(deliver, self.schedule, self.rng(f"webhooks/{system}"))

    def _refuse(self, system: str, event: dict[str, Any], error: InboundError) -> None:
        name = str(event.get("eventId") or event.get("event_id") or event.get("sequence"))
        if name not in self.refused:
            self.refused.add(name)
            t = float(self.link.env.now)
            self.history.message(t, "dead_lettered", system, "webhook", name, None, 400, str(error))


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """CPython's cyclic garbage collector, off for the run and back on after.

    A run's history and the emulators' state only grow (a million tracked
    records in 12 simulated days), and the collector rescans them again and
    again: about a tenth of the run even with raised thresholds.  A run makes
    next to no cyclic garbage for it to find (what it drops is freed by its
    reference count; a core crash leaves a dozen objects, the dead consumer and
    deliveries waiting for ever, freed after the run;
    ``tests/scenarios/test_simulation_runtime.py`` holds every architecture to
    that), so it is paused.  Nothing the run computes depends on it.  After the
    run, what it built joins the oldest generation (a freeze and thaw moves it
    there), so switching the collector back on does not set off one sweep over
    all of it at once; it is collected as usual later.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if was_enabled:
            gc.enable()


_ERP_EVENTS = frozenset({"PurchaseOrderChanged", "ContractPriceChanged", "ItemChanged"})


def _erp_subscription(naive: bool) -> Callable[[dict[str, Any]], bool]:
    """The ERP events the core subscribes to; the point-to-point baseline takes them all.
    The core's subscription leaves out the PO changes it makes itself, as an ERP
    adapter's event filter would, so its own writes do not echo back."""
    if naive:
        return lambda e: e.get("eventType") in _ERP_EVENTS
    return lambda e: e.get("eventType") in _ERP_EVENTS and e.get("ChangeType") not in OWN_CHANGES


def _record_faults(history: History, spec: ScenarioSpec) -> None:
    """The scenario's fault windows, so reports can shade them and measure the drain."""
    for system, faults in spec.faults.items():
        for o in faults.outages:
            history.fault(system, "outage", o.start_s, o.end_s)
        for w in faults.rate_limit_storms:
            history.fault(system, "rate_limit_storm", w.start_s, w.end_s)
        for spike in faults.latency_spikes:
            history.fault(system, "latency", spike.start_s, spike.end_s)
    for crash in spec.core_faults.crashes:
        history.fault("core", "crash", crash.start_s, crash.end_s)
    for spike in spec.core_faults.latency_spikes:
        history.fault("core", "latency", spike.start_s, spike.end_s)


@dataclass(frozen=True)
class _Crash:
    at_s: float
    down_s: float


def _crashes(spec: ScenarioSpec) -> list[_Crash]:
    return [_Crash(c.at_hours * 3600, c.down_minutes * 60) for c in spec.core_faults.crashes]
