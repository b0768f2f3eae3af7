"""The real actors of a hospital network, as Locust users (``supplysync live`` runs this).

Theory of operation.  The live runner starts Locust on this file with the
scenario named in ``SUPPLYSYNC_SCENARIO`` (plus ``_SEED``, ``_SPEEDUP``,
``_URLS``: a JSON map of system → base URL, ``_RUN_ID``, ``_USER_RPS``,
``_MAILBOX_AFTER``), so
every actor works on the scenario's network and in its scaled time:

* :class:`Staff` — central procurement and the people who chase orders.
  Buyers create purchase orders in the ERP over its native REST API (the
  scenario's hospitals, suppliers, catalog, lines per PO and quantities, from
  a seeded stream per user) and now and then change one (a quantity, by change
  order); requesters look up a PO's status at the sync core's experience API
  (``GET /purchase-orders/{n}``) and at the ERP.  Task weights come from the
  scenario's volumes: per PO created, ``CHANGE_SHARE`` changes and one status
  look-up per line at each of the core and the ERP (a PO of 4-10 lines is
  chased about that often).  ``SUPPLYSYNC_MIX=orders`` keeps only the creates
  (the benchmark).
* :class:`Dock` — the receiving dock, one in the whole run
  (``fixed_count = 1``, so no two docks receive the same carton).  It reads
  the packing list that comes with each truck (the supplier's 856 from the
  supplier network's mailbox, with the supplier's own translator: the
  physical shipment, not what the middleware carries), waits for the truck
  (6 h median transit, scaled by the speed-up), looks each line up at the WMS
  (``GET /receiving-lines``, as a scanner does) and receives it against the
  ship notice, else against the PO line; when the WMS knows neither yet the
  goods wait an hour (scaled) and are looked up again.  It never posts a
  receipt the WMS would have to refuse as unknown: every non-2xx answer to a
  write is a failure of the run (the emulators' journals are checked).
  Against running emulators it reads only the mailbox documents that came
  after the run's start (``SUPPLYSYNC_MAILBOX_AFTER``).

The supplier network acknowledges, ships and invoices by itself: its timers
run on the served emulator's event loop with the scenario's delays divided
by the speed-up.  Every write carries an ``Idempotency-Key`` unique to the run,
so a client retry after a 5xx or a 429 is the same request, as a careful
buyer's client would send it.  The buyers' client is upgraded with each of the
scenario's ERP releases (:func:`scenarios.spec.releases.client_versions`): it speaks the
version the ERP announces, and sends once more a call a release refused on its way.
Users are ``FastHttpUser`` (measured: ~3.2k req/s here against ~1.2k for ``HttpUser``).
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import quote

from locust import FastHttpUser, constant, constant_throughput, task

from emulators.x12 import Interchange, X12Error, read_856
from scenarios.spec.load import load_scenario
from scenarios.spec.masterdata import MasterData, generate, po_lines
from scenarios.spec.models import ScenarioSpec
from scenarios.spec.releases import client_versions, incoming, outgoing

ERP_POS = "/fscmRestApi/resources/latest/purchaseOrders"
WMS_RECEIPTS = "/wms/api/v1/receipts"
WMS_LINES = "/wms/api/v1/receiving-lines"
MAILBOX = "/edi/mailbox"
CHANGE_SHARE = 0.05  # POs changed once after creation
TRANSIT_MEDIAN_S = 6 * 3600.0
DOCK_RETRY_S = 3600.0
DOCK_PATIENCE = 72
RETRIES = 4  # a client's tries of one write after a 5xx / 429 / no answer


@dataclass(frozen=True)
class Settings:
    """What the runner hands the actors (one typed object, read once)."""

    spec: ScenarioSpec
    master: MasterData
    speedup: float
    urls: dict[str, str | None]
    run_id: str
    user_rps: float
    mix: str
    mailbox_after: int = 0

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Settings:
        spec = load_scenario(
            env.get("SUPPLYSYNC_SCENARIO", "erp_outage"), seed=int(env.get("SUPPLYSYNC_SEED", "1"))
        )
        return cls(
            spec=spec,
            master=generate(spec.network, spec.seed),
            speedup=float(env.get("SUPPLYSYNC_SPEEDUP", "1440")),
            urls=json.loads(env.get("SUPPLYSYNC_URLS", "{}")),
            run_id=env.get("SUPPLYSYNC_RUN_ID", f"{int(time.time())}"),
            user_rps=float(env.get("SUPPLYSYNC_USER_RPS", "1")),
            mix=env.get("SUPPLYSYNC_MIX", "all"),
            mailbox_after=int(env.get("SUPPLYSYNC_MAILBOX_AFTER", "0")),
        )


@cache
def settings() -> Settings:
    return Settings.from_env(dict(os.environ))


@dataclass
class _Known:
    """POs this process's buyers created (status look-ups and changes pick from them)."""

    numbers: list[str] = field(default_factory=list)
    lines: dict[str, tuple[int, list[int]]] = field(default_factory=dict)  # count, quantities
    created: dict[str, float] = field(default_factory=dict)

    def add(self, number: str, quantities: list[int]) -> None:
        self.numbers.append(number)
        self.lines[number] = (len(quantities), quantities)
        self.created[number] = time.monotonic()
        if len(self.numbers) > 5000:
            for gone in self.numbers[:1000]:
                self.lines.pop(gone, None)
                self.created.pop(gone, None)
            del self.numbers[:1000]


KNOWN = _Known()
_USERS = itertools.count(1)


def _retry_after(headers: Any, attempt: int) -> float:
    try:
        given = float((headers or {}).get("retry-after") or 0)
    except (TypeError, ValueError):
        given = 0.0
    return float(min(2.0, max(given, 0.1 * 2**attempt)))


def purchase_order(rng: random.Random, s: Settings) -> dict[str, Any]:
    """One PO as central procurement raises it (as ``scenarios.sim.network`` does)."""
    master, d = s.master, s.spec.demand
    hospital = rng.choice(master.hospitals)
    supplier = rng.choice(master.suppliers)
    catalog = master.catalog(supplier.supplier_id) or master.items
    items = rng.sample(catalog, min(len(catalog), rng.randint(*d.lines_per_po)))
    critical = any(i.critical for i in items)
    dc = master.serving_dc.get(hospital.gln)
    ship_to = hospital if critical or dc is None else dc
    return {
        "SupplierNumber": supplier.supplier_id,
        "ShipToLocationGLN": ship_to.gln,
        "RequesterDepartment": f"CC-{master.hospitals.index(hospital) + 1:02d}-"
        f"{rng.randint(100, 180)}",
        "NeedByDate": (dt.date.today() + dt.timedelta(days=2 if critical else 5)).isoformat(),
        "lines": po_lines(items, rng, d.quantity),
    }


def _weights(s: Settings, create: Any, change: Any, core: Any, erp: Any) -> dict[Any, int]:
    """Tasks per PO created: changes, and one status look-up per line at each place."""
    if s.mix == "orders":
        return {create: 1}
    per_po = 100
    lines = sum(s.spec.demand.lines_per_po) / 2
    found = {
        create: per_po,
        change: round(per_po * CHANGE_SHARE),
        core: round(per_po * lines / 2),
        erp: round(per_po * lines / 2),
    }
    return {t: w for t, w in found.items() if w > 0}


class Staff(FastHttpUser):
    """Buyers and requesters (see the module's docstring for the task weights)."""

    wait_time = constant_throughput(settings().user_rps)

    def on_start(self) -> None:
        s = settings()
        self.s = s
        self.n = next(_USERS)
        self.rng = random.Random(f"{s.spec.seed}/locust/{s.run_id}/{os.getpid()}/{self.n}")
        self.writes = itertools.count(1)
        self.erp = s.urls.get("erp") or self.host or ""
        self.core = s.urls.get("core")
        self.versions = client_versions(s.spec)  # the ERP's releases, followed

    def _erp(self, operation: str, method: str, url: str, body: Any, **kw: Any) -> Any:
        """One call of the ERP's API in the version the buyers' client follows, sent once
        more if a release refused it on its way (the refusal is not reported); ``kw`` go
        to Locust (``catch_response``: the caller reports it)."""
        catch = kw.pop("catch_response", False)
        for _ in range(2):
            sent_body, headers, sent = outgoing(self.versions, operation, body)
            kw["headers"] = {**kw.get("headers", {}), **headers}
            r = self.client.request(method, url, json=sent_body, catch_response=True, **kw)
            if not incoming(self.versions, operation, sent, r.status_code, r.headers)[1]:
                break
        if not catch:
            with r:  # reported as Locust reports any answer
                pass
        return r

    def _key(self) -> dict[str, str]:
        return {"Idempotency-Key": f"{self.s.run_id}-{os.getpid()}-{self.n}-{next(self.writes)}"}

    def _write(self, method: str, url: str, body: dict[str, Any], name: str) -> Any:
        headers = self._key()
        for attempt in range(RETRIES):
            r = self._erp("post_purchase_order", method, url, body, headers=headers, name=name)
            if r.status_code not in (0, 429) and r.status_code < 500:
                return r
            time.sleep(_retry_after(r.headers, attempt))
        return None

    def create_po(self) -> None:
        body = purchase_order(self.rng, self.s)
        r = self._write("POST", self.erp + ERP_POS, body, "ERP /purchaseOrders")
        if r is not None and r.status_code == 201:
            KNOWN.add(str(r.json()["OrderNumber"]), [ln["Quantity"] for ln in body["lines"]])

    def change_po(self) -> None:
        """A buyer adds to a line of a PO raised moments ago, before the supplier is
        likely to have confirmed it (a change after shipping is another story)."""
        young = (
            time.monotonic() - self.s.spec.suppliers.ack_delay.median_minutes * 20 / self.s.speedup
        )
        recent = [n for n in KNOWN.numbers[-50:] if KNOWN.created[n] >= young]
        if not recent:
            return
        number = self.rng.choice(recent)
        line = self.rng.randint(1, KNOWN.lines[number][0])
        quantity = KNOWN.lines[number][1][line - 1] + self.rng.randint(1, 5)
        KNOWN.lines[number][1][line - 1] = quantity
        body = {"lines": [{"LineNumber": line, "Quantity": quantity}]}
        url = f"{self.erp}{ERP_POS}/{number}"
        headers = self._key()
        for attempt in range(RETRIES):
            with self._erp(
                "change_purchase_order",
                "PATCH",
                url,
                body,
                headers=headers,
                name="ERP /purchaseOrders/[n]",
                catch_response=True,
            ) as r:
                if r.status_code in (409, 412):  # the PO moved on (received, closed): no change
                    r.success()
                if r.status_code not in (0, 429) and r.status_code < 500:
                    return
            time.sleep(_retry_after(r.headers, attempt))

    def status_at_core(self) -> None:
        if not KNOWN.numbers or not self.core:
            return
        number = self.rng.choice(KNOWN.numbers[-500:])
        with self.client.get(
            f"{self.core}/purchase-orders/{number}",
            name="core /purchase-orders/[n]",
            catch_response=True,
        ) as r:
            if r.status_code == 404:  # the core has not heard of it yet: a fair answer
                r.success()

    def status_at_erp(self) -> None:
        if not KNOWN.numbers:
            return
        number = self.rng.choice(KNOWN.numbers[-500:])
        url = f"{self.erp}{ERP_POS}/{number}"
        self._erp("get_purchase_order", "GET", url, None, name="ERP /purchaseOrders/[n]")

    tasks = _weights(settings(), create_po, change_po, status_at_core, status_at_erp)  # type: ignore[assignment]


@dataclass(order=True)
class _Carton:
    due: float
    asn: str = field(compare=False)
    po: str = field(compare=False)
    item: Any = field(compare=False)
    tries: int = field(default=0, compare=False)


class Dock(FastHttpUser):
    """The receiving dock: one for the whole run."""

    fixed_count = 1
    abstract = settings().mix == "orders"
    wait_time = constant(0.2)

    def on_start(self) -> None:
        s = self.s = settings()
        self.rng = random.Random(f"{s.spec.seed}/locust/{s.run_id}/dock")
        self.after = s.mailbox_after  # what was there before the run is not ours
        self.trucks: list[_Carton] = []
        self.supplier = s.urls.get("supplier") or ""
        self.wms = s.urls.get("wms") or ""

    def _scaled(self, seconds: float) -> float:
        return seconds / self.s.speedup

    def _read_mailbox(self) -> None:
        r = self.client.get(
            f"{self.supplier}{MAILBOX}?after={self.after}&limit=500", name="supplier /edi/mailbox"
        )
        if r.status_code != 200:
            return
        for doc in r.json()["documents"]:
            self.after = max(self.after, doc["seq"])
            if doc["type"] != "856":
                continue
            try:
                notice = read_856(Interchange.parse(doc["payload"]).sets[0])
            except (X12Error, KeyError, IndexError):
                continue
            transit = self._scaled(TRANSIT_MEDIAN_S * math.exp(self.rng.gauss(0.0, 0.5)))
            for order in notice.orders:
                for item in order.items:
                    carton = _Carton(
                        time.monotonic() + transit, notice.shipment_id, order.po_number, item
                    )
                    heapq.heappush(self.trucks, carton)

    def _known(self, c: _Carton) -> dict[str, Any] | None:
        """The reference the WMS receives this carton against — its ship notice, else
        its PO line — as the dock's scanner looks it up (a read); None when the WMS
        knows neither yet (or did not answer)."""
        line = f"{self.wms}{WMS_LINES}/{quote(c.po)}/{c.item.po_line}"
        for ref in ({"asn_nbr": c.asn}, {}):
            with self.client.get(
                f"{line}?asn_nbr={quote(c.asn)}" if ref else line,
                name="WMS /receiving-lines/[po]/[n]",
                catch_response=True,
            ) as r:
                if r.status_code == 200:
                    return ref or {"po_nbr": c.po}
                if r.status_code != 404:
                    return None  # an outage, a 429: the goods wait (Locust counts it)
                r.success()  # not known (yet): a fair answer
        return None

    def _receive(self, c: _Carton) -> None:
        """Receive a carton against what the WMS knows, never blind: a receipt posted
        for a shipment the WMS has not heard of is a write it must refuse."""
        ref = self._known(c)
        if ref is not None:
            expiry = c.item.expiry
            expiry = f"{expiry[:4]}-{expiry[4:6]}-{expiry[6:]}" if expiry else None
            key = {"Idempotency-Key": f"{self.s.run_id}-dock-{c.asn}-{c.po}-{c.item.po_line}"}
            body = {
                **ref,
                "po_line_nbr": c.item.po_line,
                "received_qty": c.item.qty,
                "lot_nbr": c.item.lot or None,
                "expiry_date": expiry,
            }
            body = {k: v for k, v in body.items() if v is not None}
            r = self.client.post(self.wms + WMS_RECEIPTS, json=body, headers=key,
                                 name="WMS /receipts")  # fmt: skip
            if r.status_code < 500 and r.status_code not in (0, 429):
                return  # received, or refused: a person sorts it out (a failure)
        if c.tries + 1 < DOCK_PATIENCE:  # wait on the dock and try again
            c.due, c.tries = time.monotonic() + self._scaled(DOCK_RETRY_S), c.tries + 1
            heapq.heappush(self.trucks, c)

    @task
    def work(self) -> None:
        self._read_mailbox()
        now = time.monotonic()
        while self.trucks and self.trucks[0].due <= now:
            self._receive(heapq.heappop(self.trucks))
