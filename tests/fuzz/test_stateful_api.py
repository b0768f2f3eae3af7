"""Stateful API fuzzing (schemathesis state machines over OpenAPI links).

Beyond the per-operation fuzzing of ``tests/emulators/fuzz.py``, each app is
driven through sequences of calls that feed one response into the next
request: create a purchase order, then read, change, acknowledge and receive
*that* order; list the dead letters, then replay or discard one of them.

Links: schemathesis infers the ERP's itself (from its response models:
``OrderNumber``, ``ItemNumber``...).  The others' answers are untyped JSON (and
the WMS's inferred links read ``receipt_id`` off the list, not its items), so
the links those APIs really have are added here, to a copy of each app's
OpenAPI document (the apps' files are left as they are):

=========  ==============================================  =================================
app        from (status)                                   to
=========  ==============================================  =================================
wms        ``GET /receipts`` (200, its first item)         that receipt, its receiving line,
                                                           expected receipt and ship notice
ap         ``POST /invoices`` (201), ``GET /invoices``     ``GET``, ``approve``, ``payments``,
           (200, its first item)                           ``holds/{code}/release`` of that
                                                           invoice
supplier   ``POST /edi/inbound`` (202), ``GET              ``GET /edi/mailbox`` from 0, from
           /edi/mailbox`` (200)                            the first document's ``seq``
core       ``GET /dlq`` (200, its first letter)            ``GET /dlq/{id}``, ``replay``,
                                                           ``discard``
=========  ==============================================  =================================

Every scenario starts from a reset emulator holding a few valid documents (random
bodies seldom pass validation, so without them no link would lead to a real
resource), or from a fresh core with a store of its own holding three dead
letters.  The checks: never a 5xx except a fault's or a busy store's 503 with
``Retry-After``; every 4xx is problem+json, a 400/422 names the field; and
schemathesis' stateful checks — a resource a POST just created is there
(``ensure_resource_availability``), one deleted stays gone (``use_after_free``).
Each app must have followed at least one link to a 2xx.  Bounded: 30 scenarios
of up to 8 calls per app, about 20 s in all.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import ensure_resource_availability, use_after_free

from emulators.web.apps import FACTORIES
from scenarios.sim.network import OUR_EDI_ID
from sync_core.connectors import HttpConnector
from sync_core.delivery import default_planner
from sync_core.drivers.asyncio import LiveDriver
from sync_core.engine import Engine, EngineConfig
from sync_core.mappers.x12 import write_850
from sync_core.model import PurchaseOrder
from sync_core.service.app import create_app
from sync_core.store_sqlite import SqliteStore
from tests.builders import po_lines, purchase_order
from tests.emulators.harness import FakeClock
from tests.ports import free_port

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# Schemathesis sends strings only as the media types it knows: X12 goes on the wire as text.
schemathesis.serializer.alias("application/edi-x12", "text/plain")

SCENARIOS = 30  # per app; each up to STEPS calls
STEPS = 8
RUN = settings(
    max_examples=SCENARIOS,
    stateful_step_count=STEPS,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def problems(ctx: Any, response: Any, case: Any) -> None:
    """Never a 500; a 5xx only as a designed, retriable answer; every 4xx a named problem."""
    status = response.status_code
    headers = {k.lower(): v[0] for k, v in response.headers.items()}
    where = f"{case.method} {case.formatted_path}"
    if status >= 500:
        answer = f"{where} answered {status}: {response.text[:500]}"
        assert status == 503 and "retry-after" in headers, answer
    if 400 <= status < 600:
        assert headers.get("content-type", "").startswith("application/problem+json"), (
            f"{where}: {status} without problem+json: {response.text[:500]}"
        )
        body = json.loads(response.content)
        assert body["status"] == status and body["title"], body
        if status in (400, 422):
            assert body.get("field"), f"{where}: {status} does not name the field: {body}"


CHECKS = [problems, ensure_resource_availability, use_after_free]


def _link(operation_id: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation_id, "parameters": parameters}


def _add_links(doc: dict[str, Any], path: str, method: str, status: str, **links: Any) -> None:
    response = doc["paths"][path][method]["responses"][status]
    response.setdefault("links", {}).update(links)


def _operation_ids(doc: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {
        (method, path): op["operationId"]
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
    }


def _ap_links(doc: dict[str, Any]) -> None:
    ids, base = _operation_ids(doc), "/payables/v1/invoices/{vendor_num}/{invoice_num}"
    targets = {
        "get": ids[("get", base)],
        "approve": ids[("post", f"{base}/approve")],
        "pay": ids[("post", f"{base}/payments")],
        "release": ids[("post", f"{base}/holds/{{hold_code}}/release")],
    }
    for source, status, prefix in (("post", "201", ""), ("get", "200", "items/0/")):
        links = {
            f"{name.capitalize()}Invoice{source.capitalize()}": _link(
                operation_id,
                vendor_num=f"$response.body#/{prefix}vendor_num",
                invoice_num=f"$response.body#/{prefix}invoice_num",
            )
            for name, operation_id in targets.items()
        }
        _add_links(doc, "/payables/v1/invoices", source, status, **links)


def _wms_links(doc: dict[str, Any]) -> None:
    """The inferred ones read ``receipt_id`` off the list itself: read it off its items."""
    ids, api = _operation_ids(doc), "/wms/api/v1"
    line = {"po_nbr": "$response.body#/items/0/po_nbr",
            "po_line_nbr": "$response.body#/items/0/po_line_nbr"}  # fmt: skip
    _add_links(
        doc, f"{api}/receipts", "get", "200",
        GetReceipt=_link(ids[("get", f"{api}/receipts/{{receipt_id}}")],
                         receipt_id="$response.body#/items/0/receipt_id"),
        GetReceivingLine=_link(
            ids[("get", f"{api}/receiving-lines/{{po_nbr}}/{{po_line_nbr}}")], **line),
        GetExpectedReceipt=_link(
            ids[("get", f"{api}/expected-receipts/{{po_nbr}}/{{po_line_nbr}}")], **line),
        GetShipNotice=_link(ids[("get", f"{api}/ship-notices/{{asn_nbr}}")],
                            asn_nbr="$response.body#/items/0/asn_nbr"),
    )  # fmt: skip


def _supplier_links(doc: dict[str, Any]) -> None:
    mailbox = _operation_ids(doc)[("get", "/edi/mailbox")]
    _add_links(doc, "/edi/inbound", "post", "202", ReadMailbox=_link(mailbox, after="0"))
    after = _link(mailbox, after="$response.body#/documents/0/seq")
    _add_links(doc, "/edi/mailbox", "get", "200", PageMailbox=after)


def _core_links(doc: dict[str, Any]) -> None:
    ids = _operation_ids(doc)
    links = {
        name: _link(ids[(method, path)], letter_id="$response.body#/0/id")
        for name, method, path in (
            ("GetLetter", "get", "/dlq/{letter_id}"),
            ("ReplayLetter", "post", "/dlq/{letter_id}/replay"),
            ("DiscardLetter", "post", "/dlq/{letter_id}/discard"),
        )
    }
    _add_links(doc, "/dlq", "get", "200", **links)


def _schema(doc: dict[str, Any], add_links: Callable[[dict[str, Any]], None] | None) -> Any:
    doc = copy.deepcopy(doc)
    if add_links is not None:
        add_links(doc)
    return schemathesis.openapi.from_dict(doc)


def _machine(schema: Any, reset: Callable[[], None], seen: Counter[str]) -> Any:
    """The schema's state machine with our checks; ``seen`` counts the steps taken, those
    that followed a link, and those links that led to a 2xx."""

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            reset()

        def step(self, input: Any) -> Any:
            output = super().step(input)
            seen["steps"] += 1
            if input.transition is not None:
                seen["linked"] += 1
                if output.response.status_code < 300:
                    seen[f"linked 2xx: {input.case.operation.label}"] += 1
            return output

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(
                response, checks=CHECKS, transport_kwargs=kwargs or None, recorder=self.recorder
            )

    return Machine


ADDED_LINKS = {"erp": None, "wms": _wms_links, "ap": _ap_links, "supplier": _supplier_links}

# -- what each scenario starts from: a reset emulator holding a few valid documents, so that
# the lists have items and the links real ids (random bodies seldom pass the validation)


GLN, GTIN = "0860001000018", "30710000000014"
ERP_SEED: list[tuple[str, dict[str, Any]]] = [
    ("create_vendor", {"SupplierNumber": "S1001", "Name": "Medline"}),
    ("create_item", {"ItemNumber": "IT-1", "GTIN": GTIN, "Description": "Gloves nitrile M",
                     "UOMCode": "CA", "ListPrice": 50}),
    ("create_contract_price", {"SupplierNumber": "S1001", "ItemNumber": "IT-1",
                               "ContractPrice": 40.0, "EffectiveFrom": "2026-01-01"}),
    ("post_purchase_order", {"SupplierNumber": "S1001", "ShipToLocationGLN": GLN,
                             "RequesterDepartment": "CC-01-110", "NeedByDate": "2026-03-09",
                             "lines": [{"SupplierItem": "1001-00001", "ItemGTIN": GTIN,
                                        "Quantity": 12, "UOMCode": "CA", "Price": 41.5}]}),
]  # fmt: skip
WMS_SEED: list[tuple[str, dict[str, Any]]] = [
    ("upsert_expected_receipts", {"receipts": [
        {"po_nbr": "P100", "po_line_nbr": 1, "item_id": GTIN, "dock_gln": GLN, "exp_qty": 12,
         "qty_uom": "CA", "exp_date": "2026-03-09"}]}),
    ("post_ship_notice", {"asn_nbr": "ASN1", "po_nbr": "P100", "ship_date": "2026-03-01",
                          "lines": [{"po_line_nbr": 1, "item_id": GTIN, "shipped_qty": 10,
                                     "qty_uom": "CA", "lot_nbr": "LOT-7",
                                     "expiry_date": "2027-06-30"}]}),
    ("receive", {"asn_nbr": "ASN1", "po_line_nbr": 1, "received_qty": 4}),
]  # fmt: skip
AP_SEED: list[tuple[str, dict[str, Any]]] = [
    ("upsert_po_lines", {"po_lines": [
        {"po_number": "4500000001", "po_line_number": 1, "item_id": "ITEM-1",
         "quantity_ordered": 100, "unit_price": 10.0, "uom": "CA"}]}),
    ("post_receipt", {"receipt_num": "R-1", "po_number": "4500000001",
                      "lines": [{"po_line_number": 1, "quantity_received": 100}]}),
] + [
    ("post_invoice", {"vendor_num": "S1001", "invoice_num": f"INV-{n}",
                      "invoice_date": "2026-03-05", "po_number": "4500000001",
                      "invoice_amount": 10.0 * qty * price,
                      "lines": [{"po_line_number": 1, "quantity_invoiced": qty,
                                 "unit_price": 10.0 * price}]})
    for n, qty, price in ((1, 100, 1), (2, 10, 2))  # matched, then held on price
]  # fmt: skip
SEEDS = {"erp": ERP_SEED, "wms": WMS_SEED, "ap": AP_SEED}


def _seeded(system: str, live: Any, timers: list[Callable[[], None]]) -> Callable[[], None]:
    """A reset that leaves the emulator holding the seed documents (the supplier network:
    an order entered from an 850 and its 855, 856 and 810 in the mailbox)."""

    def reset() -> None:
        live.host.reset()
        timers.clear()
        behaviour = live.host.behaviour
        if system == "supplier":
            text = write_850(_purchase_order(), sender="HOSPNET01", receiver="SUPP1001",
                             control=1, now=dt.datetime(2026, 3, 2, 8))  # fmt: skip
            assert behaviour.receive_edi(text).status == 202
            for _ in range(20):  # the acknowledgment, shipping and invoicing timers
                due, timers[:] = list(timers), []
                for fire in due:
                    fire()
            assert behaviour.mailbox_docs, "the supplier network sent nothing"
            return
        for method, body in SEEDS[system]:
            reply = getattr(behaviour, method)(body, None)
            assert reply.status < 300, (method, reply.body)

    return reset


def _purchase_order() -> PurchaseOrder:
    return purchase_order(
        po_number="4500000101",
        order_date=dt.date(2026, 3, 2),
        requested_date=dt.date(2026, 3, 9),
        lines=po_lines()[:1],
    )


@pytest.mark.parametrize("system", sorted(ADDED_LINKS))
def test_emulator_state_machine(system: str) -> None:
    timers: list[Callable[[], None]] = []
    live = FACTORIES[system](
        seed=1, clock=FakeClock(), schedule=lambda delay, action: timers.append(action)
    )
    schema = _schema(live.app.openapi(), ADDED_LINKS[system])
    schema.app, schema.location = live.app, "/openapi.json"
    seen: Counter[str] = Counter()
    _machine(schema, _seeded(system, live, timers), seen).run(settings=RUN)
    print(system, dict(seen))
    assert any(k.startswith("linked 2xx") for k in seen), f"no link led anywhere: {seen}"


# -- the sync core -------------------------------------------------------------------------

_DEAD = [  # documents whose envelope is right and whose content the engine dead-letters
    {"seq": n, "supplier": "S1001", "type": "855", "payload": "not X12"} for n in (1, 2, 3)
]


class FreshCores:
    """One address serving a fresh core each scenario: its own store file and driver.

    Hypothesis replays a scenario's choices and expects the same answers, so the core
    must not carry one scenario's dead letters (or their replays) into the next.  uvicorn
    and every core's lifespan run on one event loop in a thread of their own; the
    connector points at a closed port (every delivery fails and is retried: the API must
    not care).
    """

    def __init__(self, folder: Path) -> None:
        self.folder, self.made = folder, 0
        self.engine = Engine(EngineConfig(OUR_EDI_ID, {"S1001": "SUPP1001"}))
        self.closed = f"http://127.0.0.1:{free_port()}"
        self.app: Any = None
        self._lifespan: Any = None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(self._asgi, host="127.0.0.1", port=port, lifespan="off",
                                interface="asgi3", access_log=False, log_level="error")  # fmt: skip
        self.server = uvicorn.Server(config)
        self._serving = asyncio.run_coroutine_threadsafe(self.server.serve(), self.loop)
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
            time.sleep(0.01)

    async def _asgi(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def fresh(self) -> None:
        self._stop_core()
        self.made += 1
        store = self.folder / f"core-{self.made}.sqlite"

        async def make_driver() -> LiveDriver:
            connector = HttpConnector(dict.fromkeys(("erp", "supplier", "wms", "ap"), self.closed))
            driver = LiveDriver(self.engine, lambda: SqliteStore(store), connector,
                                default_planner(1))  # fmt: skip
            await driver.start()
            return driver

        app = create_app(make_driver)
        self._lifespan = app.router.lifespan_context(app)
        self._run(self._lifespan.__aenter__())
        self.app = app

    def _stop_core(self) -> None:
        if self._lifespan is not None:
            self._run(self._lifespan.__aexit__(None, None, None))
            self._lifespan = None

    def close(self) -> None:
        self._stop_core()
        self.server.should_exit = True
        self._serving.result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def cores(tmp_path: Path) -> Iterator[FreshCores]:
    served_cores = FreshCores(tmp_path)
    try:
        served_cores.fresh()
        yield served_cores
    finally:
        served_cores.close()


def test_core_state_machine(cores: FreshCores) -> None:
    def reset() -> None:  # a fresh core with a few dead letters to look at, replay, discard
        cores.fresh()
        with httpx.Client(base_url=cores.base, timeout=10) as client:
            for body in _DEAD:
                reply = client.post("/webhooks/supplier", json=body)
                assert reply.status_code == 202, reply.text

    schema = _schema(cores.app.openapi(), _core_links)
    schema.config.update(base_url=cores.base)
    seen: Counter[str] = Counter()
    _machine(schema, reset, seen).run(settings=RUN)
    print("core", dict(seen))
    assert any(k.startswith("linked 2xx") for k in seen), f"no link led anywhere: {seen}"


def test_the_core_names_the_body_when_it_is_not_json(cores: FreshCores) -> None:
    with httpx.Client(base_url=cores.base, timeout=10) as client:
        reply = client.post("/dlq/1/discard", content=b"\xff{", headers={
            "content-type": "application/json"})  # fmt: skip
    assert reply.status_code == 400, reply.text
    assert reply.json().get("field") == "body", reply.json()
