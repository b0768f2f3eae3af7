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
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import simpy

from analysis.history import Change, History
from emulators._base import FactChange, Reply
from emulators.erp import Erp
from emulators.faults import Refused
from emulators.host import Host
from emulators.supplier import SupplierNetwork, SupplierProfile
from emulators.webhooks import WebhookDispatcher
from emulators.wms import Wms
from scenarios.masterdata import MasterData, generate
from scenarios.spec import ScenarioSpec
from sync_core.delivery import DeliveryPlanner, RetryPolicy
from sync_core.engine import Engine, EngineConfig
from sync_core.messages import Inbound, Kind, Request, Response
from sync_core.sim import SimDriver
from sync_core.store import MemoryStore

__all__ = ["Run", "simulate"]

OUR_EDI_ID = "HOSPNET01"
# The built-in core keeps retrying for up to a day (cXML guidance: >= 6 h of retries).
CORE_RETRIES = RetryPolicy(first_s=1.0, cap_s=600.0, max_attempts=200, deadline_s=86400.0)


@dataclass
class Run:
    spec: ScenarioSpec
    architecture: str
    history: History
    volumes: dict[str, int]


class _Link:
    """A one-way network path with lognormal latency."""

    def __init__(self, env: simpy.Environment, rng: random.Random, median_s: float, sigma: float):
        self.env, self.rng, self.median_s, self.sigma = env, rng, median_s, sigma

    def delay(self) -> simpy.Timeout:
        return self.env.timeout(self.median_s * math.exp(self.rng.gauss(0.0, self.sigma)))


class _Transport:
    """The sync core's outbound calls, carried to the emulators over simulated links.

    Each call passes the target's fault gate (through its host) exactly as an
    HTTP request would: an outage answers 503, a refused connection answers
    nothing (status 0), injected latency adds to the link's.
    """

    def __init__(
        self,
        links: dict[str, _Link],
        hosts: dict[str, Host],
        routes: dict[tuple[str, str], Callable[[Request], Reply]],
    ):
        self.links = links
        self.hosts = hosts
        self.routes = routes

    def call(self, request: Request) -> Generator[simpy.Event, Any, Response]:
        link, host = self.links[request.target], self.hosts[request.target]
        yield link.delay()
        extra = host.gate.extra_latency_s()
        if extra > 0:
            yield link.env.timeout(extra)
        route = self.routes[(request.target, request.operation)]
        try:
            reply = host.invoke(
                request.operation,
                lambda: route(request),
                idempotency_key=request.idempotency_key,
                correlation_id=request.correlation_id,
            )
        except Refused as e:
            return Response(0, {"detail": str(e)})
        yield link.delay()
        return Response(reply.status, reply.body, reply.headers)


def _routes(
    erp: Erp, supplier: SupplierNetwork, wms: Wms
) -> dict[tuple[str, str], Callable[[Request], Reply]]:
    return {
        ("erp", "get_purchase_order"): lambda r: erp.get_purchase_order(r.params["order_number"]),
        ("erp", "list_purchase_orders"): lambda r: erp.list_purchase_orders(
            updated_since=r.params["updated_since"],
            offset=r.params["offset"],
            limit=r.params["limit"],
        ),
        ("erp", "post_acknowledgment"): lambda r: erp.post_acknowledgment(
            r.params["order_number"], r.body, r.idempotency_key
        ),
        ("supplier", "post_edi"): lambda r: supplier.receive_edi(r.body),
        ("supplier", "mailbox"): lambda r: supplier.mailbox(r.params["after"], r.params["limit"]),
        ("wms", "upsert_expected_receipts"): lambda r: wms.upsert_expected_receipts(
            r.body, r.idempotency_key
        ),
    }


def simulate(spec: ScenarioSpec, architecture: str) -> Run:
    env = simpy.Environment()
    epoch = spec.start
    history = History(
        {
            "scenario": spec.name,
            "architecture": architecture,
            "seed": spec.seed,
            "epoch": epoch.isoformat(),
            "end_s": spec.end_s,
            "mode": "simulation",
        }
    )

    def sink(c: FactChange) -> None:
        history.record(
            Change(round(c.t, 6), c.system, c.entity, c.field, c.value, c.cause, c.correlation_id)
        )

    def clock() -> float:
        return float(env.now)

    hosts = {name: Host(name, clock, spec.seed, sink) for name in ("erp", "supplier", "wms")}
    for name, faults in spec.faults.items():
        if name in hosts:
            hosts[name].set_faults(faults)

    def rng(name: str) -> random.Random:
        return random.Random(f"{spec.seed}/{name}")

    def schedule(delay: float, action: Callable[[], None]) -> None:
        def later() -> Generator[simpy.Event, Any, None]:
            yield env.timeout(delay)
            action()

        env.process(later())

    master = generate(spec.network, spec.seed)
    b = spec.suppliers
    profile = SupplierProfile(
        partial_rate=b.partial_rate,
        backorder_rate=b.backorder_rate,
        critical_partial_rate=b.critical_partial_rate,
        critical_backorder_rate=b.critical_backorder_rate,
        partial_fill=b.partial_fill,
        backorder_days=b.backorder_days,
        ack_delay_median_s=b.ack_delay.median_minutes * 60,
        ack_delay_sigma=b.ack_delay.sigma,
    )
    erp = Erp(hosts["erp"].journal, clock, epoch)
    supplier = SupplierNetwork(
        hosts["supplier"].journal,
        clock,
        epoch,
        schedule,
        {s.edi_id: profile for s in master.suppliers},
        spec.seed,
    )
    wms = Wms(hosts["wms"].journal)

    lat = spec.latency
    links = {
        name: _Link(env, rng(f"link/{name}"), lat.median_ms / 1000, lat.sigma)
        for name in ("erp", "supplier", "wms", "core")
    }
    engine = Engine(EngineConfig(OUR_EDI_ID, {s.supplier_id: s.edi_id for s in master.suppliers}))
    store = MemoryStore()
    transport = _Transport(links, hosts, _routes(erp, supplier, wms))
    planner = DeliveryPlanner(CORE_RETRIES, rng("core/delivery"))
    driver = SimDriver(env, engine, store, transport, epoch, planner)
    hosts["wms"].attach(wms)

    if architecture == "event":

        def webhooks(
            system: str, to_message: Callable[[dict[str, Any]], Inbound]
        ) -> WebhookDispatcher:
            """Events carried over the link to the core's inbound endpoint, at least once."""

            def deliver(event: dict[str, Any], done: Callable[[bool], None]) -> None:
                def carry() -> Generator[simpy.Event, Any, None]:
                    yield links["core"].delay()
                    driver.submit(to_message(event))
                    done(True)

                env.process(carry())

            return WebhookDispatcher(deliver, schedule, rng(f"webhooks/{system}"))

        hosts["erp"].attach(
            erp,
            webhooks("erp", lambda e: Inbound(e["eventId"], Kind.ERP_PO_CHANGED, e)),
            subscribed=lambda e: e.get("eventType") == "PurchaseOrderChanged",
        )
        hosts["supplier"].attach(
            supplier,
            webhooks("supplier", lambda d: Inbound(f"edi:{d['seq']}", Kind.SUPPLIER_EDI, d)),
        )
        for name in ("erp", "supplier"):
            hosts[name].set_faults(hosts[name].gate.faults)  # webhook faults to the dispatcher
    elif architecture == "batch":
        hosts["erp"].attach(erp)
        hosts["supplier"].attach(supplier)
        batch = spec.architectures.batch
        driver.every(batch.interval_hours * 3600, batch.at_hour * 3600)
    else:
        raise ValueError(f"unknown architecture {architecture!r}")

    orders = _Buyers(env, spec, master, erp, rng("demand"))
    env.process(orders.run())
    env.run(until=spec.end_s)
    volumes = {
        "purchase_orders": orders.pos,
        "po_lines": orders.lines,
        "messages_handled": driver.messages_handled,
        "requests_sent": driver.requests_sent,
        "dead_letters": len(store.dead_letters()),
        "history_records": len(history.changes),
    }
    return Run(spec, architecture, history, volumes)


class _Buyers:
    """Central procurement raising POs for the hospitals' demand."""

    def __init__(
        self,
        env: simpy.Environment,
        spec: ScenarioSpec,
        master: MasterData,
        erp: Erp,
        rng: random.Random,
    ) -> None:
        self.env, self.spec, self.master, self.erp, self.rng = env, spec, master, erp, rng
        self.pos = 0
        self.lines = 0

    def _rate_per_s(self, t: float) -> float:
        """Orders per second at time ``t`` (piecewise constant: hours and weekdays)."""
        d = self.spec.demand
        moment = self.spec.start + dt.timedelta(seconds=t)
        start, end = d.working_hours
        if not start <= moment.hour < end:
            return 0.0
        return d.pos_per_day * d.weekday_factor[moment.weekday()] / ((end - start) * 3600)

    def run(self) -> Generator[simpy.Event, Any, None]:
        """Thinning of a Poisson process against the peak rate (Lewis & Shedler)."""
        d = self.spec.demand
        peak = (
            d.pos_per_day
            * max(d.weekday_factor)
            / ((d.working_hours[1] - d.working_hours[0]) * 3600)
        )
        stop = self.spec.duration_days * 86400
        if peak <= 0:
            return
        while True:
            yield self.env.timeout(self.rng.expovariate(peak))
            if self.env.now >= stop:
                return
            if self.rng.random() * peak < self._rate_per_s(self.env.now):
                self._order()

    def _order(self) -> None:
        rng, master, d = self.rng, self.master, self.spec.demand
        hospital = rng.choice(master.hospitals)
        supplier = rng.choice(master.suppliers)
        catalog = master.catalog(supplier.supplier_id)
        if not catalog:
            return
        count = min(len(catalog), rng.randint(*d.lines_per_po))
        items = rng.sample(catalog, count)
        critical = any(i.critical for i in items)
        dc = master.serving_dc.get(hospital.gln)
        ship_to = hospital if critical or dc is None else dc
        today = (self.spec.start + dt.timedelta(seconds=self.env.now)).date()
        self.erp.create_purchase_order(
            supplier_number=supplier.supplier_id,
            ship_to_gln=ship_to.gln,
            department=f"CC-{master.hospitals.index(hospital) + 1:02d}-{rng.randint(100, 180)}",
            need_by=today + dt.timedelta(days=2 if critical else 5),
            lines=[
                {
                    "SupplierItem": i.vendor_part,
                    "ItemGTIN": i.gtin,
                    "Quantity": rng.randint(*d.quantity),
                    "UOMCode": i.order_uom.value,
                    "Price": i.unit_price,
                    "CriticalSupply": "Y" if i.critical else "N",
                }
                for i in items
            ],
        )
        self.pos += 1
        self.lines += count
