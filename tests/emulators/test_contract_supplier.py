"""Supplier network contract: the same cases in-process and over HTTP (see harness.py).

The network's timers (acknowledge, ship, invoice, webhook retries) go to a
:class:`Timers` schedule that the test fires by hand, in due order, moving the
fake clock.  Over HTTP a timer set while the server handles a request fires on
the server's event loop, as ``loop.call_later`` would fire it live, so pushed
documents leave through the app's real webhook client.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import heapq
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import pytest

from emulators.supplier import SupplierNetwork, SupplierProfile
from emulators.web.supplier_api import EDI_MEDIA_TYPES, SUPPLIER_API, SUPPLIER_PREFIX
from emulators.web.supplier_app import DEFAULT_SUPPLIERS, supplier_system
from emulators.x12 import Interchange, read_855
from sync_core.mappers.x12 import acknowledgments_from_855, parse_interchange, write_850
from sync_core.model import PurchaseOrder
from tests import builders
from tests.emulators.fuzz import fuzz
from tests.emulators.harness import (
    FakeClock,
    Table,
    WebhookReceiver,
    assert_4xx_problem,
    assert_problem,
    call_after_outage,
    call_during_outage,
    world,
)

BUYER = "HOSPNET01"
SUPPLIER = "SUPP1001"
PO = "4500000101"
STAMP = dt.datetime(2026, 3, 2, 8, 0)
TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def purchase_order(number: str = PO, version: int = 1) -> PurchaseOrder:
    return builders.purchase_order(
        po_number=number,
        order_date=dt.date(2026, 3, 2),
        requested_date=dt.date(2026, 3, 9),
        version=version,
    )


def x12_850(
    number: str = PO, *, receiver: str = SUPPLIER, control: int = 1, version: int = 1
) -> str:
    """One interchange holding one 850, as the sync core writes it."""
    po = purchase_order(number, version)
    return write_850(po, sender=BUYER, receiver=receiver, control=control, now=STAMP)


def tamper(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} is not in the interchange exactly once"
    return text.replace(old, new)


class Timers:
    """A schedule the test fires by hand, in due order, moving the clock.

    A timer set on an event loop (inside a request handler, or by a timer that
    fired there) fires on that loop and the test waits for it; one set in the
    test thread fires there.
    """

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self._order = itertools.count()
        self._due: list[
            tuple[float, int, Callable[[], None], asyncio.AbstractEventLoop | None]
        ] = []

    def __call__(self, delay: float, action: Callable[[], None]) -> None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        heapq.heappush(self._due, (self.clock.t + delay, next(self._order), action, loop))

    def __len__(self) -> int:
        return len(self._due)

    def fire_next(self) -> None:
        due, _, action, loop = heapq.heappop(self._due)
        self.clock.t = max(self.clock.t, due)
        if loop is None:
            action()
            return
        done: concurrent.futures.Future[None] = concurrent.futures.Future()

        def call() -> None:
            try:
                action()
            except BaseException as e:  # hand it to the test thread
                done.set_exception(e)
            else:
                done.set_result(None)

        loop.call_soon_threadsafe(call)
        done.result(timeout=5)

    def run(self) -> int:
        """Fire every timer, those the fired ones set too; how many fired."""
        fired = 0
        while self._due:
            self.fire_next()
            fired += 1
        return fired


def _headers(key: str | None, media: str = "application/edi-x12") -> dict[str, str]:
    return {"content-type": media, **({"Idempotency-Key": key} if key else {})}


TABLE = Table(SUPPLIER_API, names={"text": "body"})  # an interchange is the body, as text


def _live(**options: Any) -> tuple[FakeClock, Timers, Any]:
    clock = FakeClock()
    timers = Timers(clock)
    return clock, timers, supplier_system(seed=1, clock=clock, schedule=timers, **options)


@contextmanager
def _network(mode: str) -> Iterator[Any]:
    """The network's API in ``mode``, its timers as ``.timers`` (fired by hand)."""
    clock = FakeClock()
    timers = Timers(clock)
    with world(supplier_system, TABLE, mode, clock, schedule=timers) as api:
        api.timers = timers
        yield api


@pytest.fixture(params=["in-process", "http"])
def supplier(request: pytest.FixtureRequest) -> Iterator[Any]:
    with _network(request.param) as api:
        yield api


@pytest.fixture
def supplier_http() -> Iterator[Any]:
    """The network over HTTP only: for the admin API and bytes, which have no in-process twin."""
    with _network("http") as api:
        yield api


def facts(api: Any, field: str) -> list[tuple[str, Any]]:
    return [(c.entity, c.value) for c in api.host.history if c.field == field]


def documents(api: Any, kind: str) -> list[dict[str, Any]]:
    reply = api.call("mailbox")
    assert reply.status == 200, reply.body
    return [d for d in reply.body["documents"] if d["type"] == kind]


# -- 850 in, 855 out --------------------------------------------------------------


def test_an_850_is_accepted_then_acknowledged_into_the_mailbox(supplier: Any) -> None:
    reply = supplier.call("receive_edi", text=x12_850(control=7))
    assert reply.status == 202 and reply.body == {"accepted": 1, "interchange": 7}
    assert facts(supplier, "ordered_qty") == [(f"po_line:{PO}:1", 10), (f"po_line:{PO}:2", 4)]
    assert documents(supplier, "855") == [] and len(supplier.timers) == 1

    supplier.timers.fire_next()  # the acknowledgment timer

    [doc] = documents(supplier, "855")
    assert (doc["seq"], doc["supplier"]) == (1, SUPPLIER)
    envelope, [ts] = parse_interchange(doc["payload"])
    assert (envelope.sender_id, envelope.receiver_id) == (SUPPLIER, BUYER)
    ack = acknowledgments_from_855(ts)  # the sync core reads what the supplier wrote
    assert ack.po_number == PO and ack.revision == 1
    assert [line.line_no for line in ack.lines] == [1, 2]
    assert [line.ordered_quantity for line in ack.lines] == [10, 4]
    confirmed = [line.confirmed_quantity for line in ack.lines]
    assert facts(supplier, "confirmed_qty") == [
        (f"po_line:{PO}:1", confirmed[0]),
        (f"po_line:{PO}:2", confirmed[1]),
    ]
    assert supplier.host.snapshot()["suppliers"][SUPPLIER]["acks_sent"] == 1
    assert supplier.host.webhooks.stats.published == 1  # pushed as well as posted


def test_the_same_850_twice_is_entered_once(supplier: Any) -> None:
    text = x12_850()
    first = supplier.call("receive_edi", text=text)
    again = supplier.call("receive_edi", text=text)

    assert (first.status, first.body["accepted"]) == (202, 1)
    assert (again.status, again.body["accepted"]) == (202, 0)
    state = supplier.host.snapshot()
    assert [o["customer_po"] for o in state["orders"]] == [PO]
    counters = state["suppliers"][SUPPLIER]
    assert (counters["orders_received"], counters["repeats_ignored"]) == (1, 1)
    assert len(facts(supplier, "ordered_qty")) == 2  # one per line, once
    assert supplier.timers.run() == 1
    assert len(documents(supplier, "855")) == 1


def test_a_new_revision_of_a_known_po_is_entered_again(supplier: Any) -> None:
    supplier.call("receive_edi", text=x12_850(control=1))
    reply = supplier.call("receive_edi", text=x12_850(control=2, version=2))

    assert (reply.status, reply.body["accepted"]) == (202, 1)
    assert supplier.host.snapshot()["orders"][0]["revision"] == 2
    assert len(facts(supplier, "ordered_qty")) == 4


# -- bad interchanges -------------------------------------------------------------


def _wrong_se01(text: str) -> str:
    se = next(s for s in text.split("~") if s.startswith("SE*"))
    _, count, control = se.split("*")
    return tamper(text, f"~{se}~", f"~SE*{int(count) + 1}*{control}~")


@pytest.mark.parametrize(
    ("text", "status", "field"),
    [
        (_wrong_se01(x12_850()), 400, "SE01"),
        (tamper(x12_850(), "IEA*1*000000001", "IEA*1*000000002"), 400, "IEA02"),
        (tamper(x12_850(), "GE*1*1~", "GE*2*1~"), 400, "GE01"),
        ("this is not an interchange", 400, "ISA"),
        ("", 400, "ISA"),
        (x12_850(receiver="SUPP9999"), 422, "ISA08"),
        (tamper(x12_850(), "*10*CA*", "*10*XX*"), 422, "PO103 (segment 7)"),
        (tamper(x12_850(), "CTT*2", "CTT*3"), 422, "CTT01 (segment 10)"),
        (tamper(x12_850(), "BEG*00*SA*", "BEG*00*SA*4500000101*"), 422, "BEG05 (segment 2)"),
    ],
    ids=["SE01", "IEA02", "GE01", "not-x12", "empty", "unknown-partner", "uom", "ctt", "date"],
)
def test_a_bad_interchange_is_a_4xx_problem_naming_the_element_and_enters_nothing(
    supplier: Any, text: str, status: int, field: str
) -> None:
    reply = supplier.call("receive_edi", text=text)

    assert_problem(reply, status, field)
    assert supplier.host.snapshot()["orders"] == []
    assert supplier.host.history == [] and len(supplier.timers) == 0
    assert [(r.operation, r.status) for r in supplier.host.requests] == [("receive_edi", status)]


def test_one_bad_set_refuses_the_whole_interchange(supplier: Any) -> None:
    good = parse_interchange(x12_850("4500000201"))[1][0].segments
    bad = [list(s) for s in parse_interchange(x12_850("4500000202"))[1][0].segments]
    bad[1][5] = "2026-03-02"  # BEG05 not CCYYMMDD
    bad[0][2] = bad[-1][2] = "0002"
    text = Interchange(BUYER, SUPPLIER, 3, [[list(s) for s in good], bad]).render("PO", STAMP)

    assert_problem(supplier.call("receive_edi", text=text), 422, "BEG05 (segment 2)")
    assert supplier.host.snapshot()["orders"] == []


# -- the mailbox ------------------------------------------------------------------


def test_the_mailbox_pages_by_sequence_number(supplier: Any) -> None:
    for k in range(3):
        supplier.call("receive_edi", text=x12_850(f"45000003{k:02d}", control=k + 1))
    assert supplier.timers.run() == 3

    first = supplier.call("mailbox", limit=2)
    assert first.status == 200
    assert [d["seq"] for d in first.body["documents"]] == [1, 2]
    assert first.body["hasMore"] is True

    rest = supplier.call("mailbox", after=2, limit=2)
    assert [d["seq"] for d in rest.body["documents"]] == [3]
    assert rest.body["hasMore"] is False
    assert supplier.call("mailbox", after=3).body == {"documents": [], "hasMore": False}

    numbers = [read_855(Interchange.parse(d["payload"]).sets[0]).po_number
               for d in first.body["documents"] + rest.body["documents"]]  # fmt: skip
    assert sorted(numbers) == [f"45000003{k:02d}" for k in range(3)]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"after": -1}, "after"), ({"limit": 0}, "limit"), ({"limit": 1001}, "limit")],
)
def test_bad_paging_is_a_4xx_problem_naming_the_parameter(
    supplier: Any, params: dict[str, int], field: str
) -> None:
    assert_4xx_problem(supplier.call("mailbox", **params), field)


# -- faults -----------------------------------------------------------------------


def test_outage_answers_503_with_retry_after_then_recovers(supplier: Any) -> None:
    send = partial(supplier.call, "receive_edi", text=x12_850())

    call_during_outage(supplier, send)
    assert supplier.call("mailbox").status == 503
    assert supplier.host.snapshot()["orders"] == []  # the behaviour never saw it
    assert len(supplier.timers) == 0

    up = call_after_outage(supplier, send, 202)
    assert up.body["accepted"] == 1
    assert [r.status for r in supplier.host.requests] == [503, 503, 202]
    assert supplier.host.history[0].t == 70


# -- HTTP only: bytes, the admin API, webhooks --------------------------------------


def test_a_body_that_is_not_utf8_is_400_naming_body(supplier_http: Any) -> None:
    body = x12_850().encode().replace(b"SHIP TO", b"SHIP \xff TO")
    resp = supplier_http.client.post(
        f"{SUPPLIER_PREFIX}/inbound", content=body, headers=_headers(None)
    )

    assert resp.status_code == 400
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["field"] == "body"
    assert supplier_http.host.snapshot()["orders"] == []


@pytest.mark.parametrize("media", EDI_MEDIA_TYPES)
def test_both_documented_media_types_are_taken(supplier_http: Any, media: str) -> None:
    resp = supplier_http.client.post(
        f"{SUPPLIER_PREFIX}/inbound", content=x12_850(), headers=_headers(None, media)
    )

    assert resp.status_code == 202 and resp.json()["accepted"] == 1


def test_admin_requests_and_history_show_what_was_called_and_changed(supplier_http: Any) -> None:
    client = supplier_http.client
    client.post(
        f"{SUPPLIER_PREFIX}/inbound",
        content=x12_850(),
        headers={**_headers("isa-1"), "traceparent": TRACE},
    )
    supplier_http.timers.fire_next()
    supplier_http.call("mailbox")

    assert supplier_http.answered() == [("receive_edi", 202), ("mailbox", 200)]
    requests = supplier_http.admin("requests")
    assert (requests[0]["idempotency_key"], requests[0]["correlation_id"]) == ("isa-1", TRACE)

    history = supplier_http.admin("history")
    assert [(h["field"], h["cause"]) for h in history if h["entity"] == f"po_line:{PO}:1"] == [
        ("ordered_qty", f"edi:{BUYER}:1"),
        ("confirmed_qty", f"855:{PO}:1"),
        ("ack_status", f"855:{PO}:1"),
    ]
    state = client.get("/__admin/state").json()
    assert state["mailbox_size"] == 1 and state["orders"][0]["supplier"] == SUPPLIER


def test_admin_reset_empties_the_network_and_stales_its_timers(supplier_http: Any) -> None:
    client = supplier_http.client
    supplier_http.call("receive_edi", text=x12_850())
    assert client.get("/__admin/state").json()["orders"]

    assert client.post("/__admin/reset").status_code == 204
    supplier_http.timers.run()  # the acknowledgment set before the reset does nothing

    state = client.get("/__admin/state").json()
    assert (state["orders"], state["mailbox_size"]) == ([], 0)
    assert state["suppliers"][SUPPLIER]["orders_received"] == 0
    assert supplier_http.admin("history") == supplier_http.admin("requests") == []
    assert supplier_http.call("mailbox").body == {"documents": [], "hasMore": False}
    assert supplier_http.call("receive_edi", text=x12_850()).body["accepted"] == 1


def test_a_subscriber_receives_the_pushed_855(supplier_http: Any) -> None:
    client = supplier_http.client
    with WebhookReceiver("/hooks/supplier") as receiver:
        assert client.put("/__admin/subscription", json={"url": receiver.url}).status_code == 200
        assert client.get("/__admin/subscription").json() == {"url": receiver.url}

        supplier_http.call("receive_edi", text=x12_850())
        supplier_http.timers.fire_next()  # on the server's loop, as live

        [event] = receiver.wait_for(1)
        # the mailbox's document, numbered as the subscription's first event
        assert event == {**supplier_http.call("mailbox").body["documents"][0], "sequence": 1}
        assert event["type"] == "855" and event["supplier"] == SUPPLIER
        assert read_855(Interchange.parse(event["payload"]).sets[0]).po_number == PO
        path, headers, _ = receiver.posts[0]
        assert path == "/hooks/supplier" and headers["x-emulator"] == "supplier"
        stats = supplier_http.webhook_stats(delivered=1)
    assert (stats["published"], stats["delivered"], stats["failed"]) == (1, 1, 0)


# -- the factory ------------------------------------------------------------------


def test_the_factory_wires_the_network_and_documents_the_x12_body() -> None:
    _, _, live = _live()
    assert isinstance(live.host.behaviour, SupplierNetwork) and live.host.system == "supplier"
    assert sorted(live.host.behaviour.profiles) == list(DEFAULT_SUPPLIERS)
    assert DEFAULT_SUPPLIERS[0] == "SUPP1001" and DEFAULT_SUPPLIERS[-1] == "SUPP1006"
    paths = live.app.openapi()["paths"]
    content = paths[f"{SUPPLIER_PREFIX}/inbound"]["post"]["requestBody"]["content"]
    assert content == {media: {"schema": {"type": "string"}} for media in EDI_MEDIA_TYPES}
    assert f"{SUPPLIER_PREFIX}/mailbox" in paths


def test_profiles_choose_the_trading_partners() -> None:
    _, _, live = _live(profiles={"ACME01": SupplierProfile(partial_rate=0.0)})
    network = live.host.behaviour

    assert_problem(network.receive_edi(x12_850()), 422, "ISA08")
    assert network.receive_edi(x12_850(receiver="ACME01")).status == 202


test_supplier_openapi_fuzz = pytest.mark.filterwarnings("ignore::DeprecationWarning")(
    fuzz("supplier")
)
