"""Bounded inputs (issue 15): every reproduction refused cleanly, quickly, in both worlds.

Each case runs in-process (the behaviour through its host, as the simulated
transport calls it) and over HTTP (uvicorn on 127.0.0.1).  A refused request is
a 4xx problem naming the field (or the X12 segment and element), answered within
a bound of time, and changes nothing: what was accepted before is still there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulators._base import Reply
from emulators.erp import Erp
from emulators.limits import DEFAULT_LIMITS, Limits
from emulators.supplier import SupplierNetwork
from emulators.web.apps import FACTORIES
from emulators.web.erp_api import ERP_PREFIX
from tests.emulators.harness import assert_problem, live_system, served
from tests.emulators.test_contract_supplier import tamper, x12_850

PO_LINE = {"SupplierItem": "1001-00001", "ItemGTIN": "30710000000014", "Quantity": 12,
           "UOMCode": "CA", "Price": 41.5}  # fmt: skip
PO = {"SupplierNumber": "S1001", "ShipToLocationGLN": "0860001000018",
      "RequesterDepartment": "CC-01-120", "NeedByDate": "2026-03-09",
      "lines": [PO_LINE]}  # fmt: skip
MB = 1024 * 1024


def _live(system: str, **options: Any) -> Any:
    return live_system(FACTORIES[system], **options)


class World:
    """The ERP and the supplier network, called in-process or over HTTP."""

    def __init__(self, mode: str, erp: Any, supplier: Any) -> None:
        self.mode, self.erp, self.supplier = mode, erp, supplier
        self.clients: dict[str, httpx.Client] = {}

    def post_po(self, body: Any) -> Reply:
        if self.mode == "in-process":
            behaviour: Erp = self.erp.host.behaviour
            return self.erp.host.invoke(
                "post_purchase_order", lambda: behaviour.post_purchase_order(body)
            )
        content = json.dumps(body).encode()
        headers = {"content-type": "application/json"}
        return _reply(
            self.clients["erp"].post(
                f"{ERP_PREFIX}/purchaseOrders", content=content, headers=headers
            )
        )

    def post_edi(self, text: str) -> Reply:
        if self.mode == "in-process":
            network: SupplierNetwork = self.supplier.host.behaviour
            return self.supplier.host.invoke("receive_edi", lambda: network.receive_edi(text))
        headers = {"content-type": "application/edi-x12"}
        return _reply(self.clients["supplier"].post("/edi/inbound", content=text, headers=headers))


def _reply(resp: httpx.Response) -> Reply:
    body = resp.json() if "json" in resp.headers.get("content-type", "") else resp.text
    return Reply(resp.status_code, body, dict(resp.headers))


@pytest.fixture(params=["in-process", "http"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    w = World(request.param, _live("erp"), _live("supplier"))
    if w.mode == "in-process":
        yield w
        return
    with served(w.erp.app) as erp_url, served(w.supplier.app) as supplier_url:
        w.clients = {"erp": httpx.Client(base_url=erp_url, timeout=30),
                     "supplier": httpx.Client(base_url=supplier_url, timeout=30)}  # fmt: skip
        try:
            yield w
        finally:
            for client in w.clients.values():
                client.close()


def _state(live: Any) -> Any:
    return json.dumps(live.host.snapshot(), sort_keys=True, default=str)


# -- the ERP's JSON -------------------------------------------------------------------


def test_a_200000_line_po_is_refused_quickly_and_changes_nothing(world: World) -> None:
    assert world.post_po(PO).status == 201
    before = _state(world.erp)

    started = time.monotonic()
    reply = world.post_po({**PO, "lines": [PO_LINE] * 200_000})
    elapsed = time.monotonic() - started

    # over HTTP the ~26 MB body is past max_body_bytes; in-process the lines are counted
    status, field = (422, "lines") if world.mode == "in-process" else (413, "body")
    assert_problem(reply, status, field)
    assert elapsed < 5, f"refused after {elapsed:.1f} s"
    assert _state(world.erp) == before


def test_a_50_mb_supplier_number_is_refused_naming_it_or_the_body(world: World) -> None:
    reply = world.post_po({**PO, "SupplierNumber": "S" * (50 * MB)})

    status, field = (422, "SupplierNumber") if world.mode == "in-process" else (413, "body")
    assert_problem(reply, status, field)
    assert world.erp.host.snapshot()["orders"] == {}


def test_a_long_string_within_the_body_limit_is_refused_naming_its_field(world: World) -> None:
    long = "x" * (DEFAULT_LIMITS.max_text_length + 1)

    assert_problem(world.post_po({**PO, "SupplierNumber": long}), 422, "SupplierNumber")
    line = {**PO_LINE, "SupplierItem": long}
    assert_problem(world.post_po({**PO, "lines": [PO_LINE, line]}), 422, "lines[1].SupplierItem")
    assert world.erp.host.snapshot()["orders"] == {}


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({**PO_LINE, "Quantity": 10**26}, "lines[0].Quantity"),
        ({**PO_LINE, "Quantity": DEFAULT_LIMITS.max_quantity + 1}, "lines[0].Quantity"),
        ({**PO_LINE, "Price": 1e26}, "lines[0].Price"),
    ],
    ids=["qty-1e26", "qty-past-limit", "price-1e26"],
)
def test_quantities_and_prices_past_their_range_are_refused(
    world: World, line: dict[str, Any], field: str
) -> None:
    assert_problem(world.post_po({**PO, "lines": [line]}), 422, field)
    assert world.erp.host.snapshot()["orders"] == {}


def test_a_po_of_exactly_the_limits_is_accepted(world: World) -> None:
    lines = [{**PO_LINE, "Quantity": DEFAULT_LIMITS.max_quantity}] * DEFAULT_LIMITS.max_lines
    body = {**PO, "SupplierNumber": "S" * DEFAULT_LIMITS.max_text_length, "lines": lines}

    assert world.post_po(body).status == 201


def test_a_19_mb_po_is_413_before_it_is_read() -> None:
    live = _live("erp")
    body = json.dumps({**PO, "lines": [PO_LINE] * 185_000}).encode()
    assert len(body) > 19 * MB
    with served(live.app) as url, httpx.Client(base_url=url, timeout=30) as client:
        started = time.monotonic()
        resp = client.post(f"{ERP_PREFIX}/purchaseOrders", content=body,
                           headers={"content-type": "application/json"})  # fmt: skip
        elapsed = time.monotonic() - started

    assert resp.status_code == 413 and resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["field"] == "body" and resp.json()["title"] == "Content Too Large"
    assert elapsed < 5, f"refused after {elapsed:.1f} s"
    assert live.host.snapshot()["orders"] == {}


def test_a_chunked_body_without_content_length_is_counted_and_refused() -> None:
    live = _live("erp")
    chunk = b" " * 65536

    def chunks() -> Iterator[bytes]:
        for _ in range(64):  # 4 MiB in all, never declared
            yield chunk

    with served(live.app) as url, httpx.Client(base_url=url, timeout=30) as client:
        resp = client.post(f"{ERP_PREFIX}/purchaseOrders", content=chunks(),
                           headers={"content-type": "application/json"})  # fmt: skip

    assert resp.status_code == 413 and resp.json()["field"] == "body"
    assert live.host.snapshot()["orders"] == {}


def test_the_limits_are_overridable_where_the_app_is_assembled(world: World) -> None:
    limits = Limits(max_lines=2, max_body_bytes=4096)
    erp = _live("erp", limits=limits)
    behaviour: Erp = erp.host.behaviour
    three = {**PO, "lines": [PO_LINE] * 3}

    assert_problem(behaviour.post_purchase_order(three), 422, "lines")
    assert behaviour.post_purchase_order({**PO, "lines": [PO_LINE] * 2}).status == 201
    with served(erp.app) as url, httpx.Client(base_url=url, timeout=10) as client:
        assert_problem(
            _reply(client.post(f"{ERP_PREFIX}/purchaseOrders", json=three)), 422, "lines"
        )
        big = {**PO, "RequesterDepartment": "d" * 5000}
        assert_problem(_reply(client.post(f"{ERP_PREFIX}/purchaseOrders", json=big)), 413, "body")
        schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert schema["PurchaseOrderCreate"]["properties"]["lines"]["maxItems"] == 2


# -- the supplier network's X12 -------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("PO1*1*10*CA*", "PO1*1*1" + "0" * 26 + "*CA*", "PO102 (segment 7)"),
        ("PO1*1*10*CA*", f"PO1*1*{DEFAULT_LIMITS.max_quantity + 1}*CA*", "PO102 (segment 7)"),
        ("*CA*45.50*", "*CA*100000000.00*", "PO104 (segment 7)"),
        ("DTM*002*20260309", "DTM*002*20261340", "DTM02 (segment 5)"),
        ("UK*10012345678902", "UK*10012345678903", "PO109 (segment 7)"),
        ("*UL*0614141000012", "*UL*12345", "N104 (segment 6)"),
        ("*UL*0614141000012", "*UL*0614141000013", "N104 (segment 6)"),
    ],
    ids=["qty-1e26", "qty-past-limit", "price", "dtm", "gtin", "gln-12345", "gln-check"],
)
def test_an_850_past_a_limit_is_refused_naming_segment_and_element(
    world: World, old: str, new: str, field: str
) -> None:
    reply = world.post_edi(tamper(x12_850(), old, new))

    assert_problem(reply, 422, field)
    assert world.supplier.host.snapshot()["orders"] == []


def test_an_element_past_the_text_limit_is_refused_naming_it(world: World) -> None:
    text = tamper(x12_850(), "REF*DP*CC-01-120", "REF*DP*" + "D" * 241)

    assert_problem(world.post_edi(text), 400, "REF02 (segment 3)")  # read with the envelope
    assert world.supplier.host.snapshot()["orders"] == []


def test_an_850_with_more_lines_than_the_limit_is_refused(world: World) -> None:
    text = x12_850()
    line = "PO1*{n}*1*CA*1.00**VC*NG-M~"
    lines = "".join(line.format(n=n) for n in range(3, DEFAULT_LIMITS.max_lines + 2))
    text = tamper(text, "CTT*2~SE*11*", f"{lines}CTT*{DEFAULT_LIMITS.max_lines + 1}~SE*11*")
    text = text.replace("SE*11*", f"SE*{11 + DEFAULT_LIMITS.max_lines - 1}*")

    reply = world.post_edi(text)

    assert_problem(reply, 422, f"PO1 (segment {8 + DEFAULT_LIMITS.max_lines})")
    assert world.supplier.host.snapshot()["orders"] == []


def test_an_interchange_past_its_size_is_413_and_enters_nothing(world: World) -> None:
    text = tamper(x12_850(), "REF*DP*CC-01-120~", "REF*DP*CC-01-120~" * 80_000)

    started = time.monotonic()
    reply = world.post_edi(text)

    assert_problem(reply, 413, "body")
    assert time.monotonic() - started < 5
    assert world.supplier.host.snapshot()["orders"] == []


def test_an_interchange_past_its_segment_count_is_refused() -> None:
    network = _live("supplier", limits=Limits(max_segments=10)).host.behaviour

    assert_problem(network.receive_edi(x12_850()), 400, "ISA")
    assert network.snapshot()["orders"] == []


def test_a_refusal_loses_nothing_accepted_before(world: World) -> None:
    assert world.post_edi(x12_850()).status == 202
    before = _state(world.supplier)

    bad = tamper(x12_850("4500000102", control=2), "DTM*002*20260309", "DTM*002*20261340")
    assert_problem(world.post_edi(bad), 422, "DTM02 (segment 5)")

    assert _state(world.supplier) == before


# -- OpenAPI states the bounds --------------------------------------------------------


@pytest.mark.parametrize("system", sorted(FACTORIES))
def test_openapi_states_the_bounds_of_every_write(system: str) -> None:
    schema = json.dumps(_live(system).app.openapi())

    assert "x-supplysync-bound" not in schema  # every marker filled in
    if system != "supplier":  # X12 is a string body: its bounds are the reader's
        assert f'"maxItems": {DEFAULT_LIMITS.max_lines}' in schema
        assert f'"maximum": {DEFAULT_LIMITS.max_quantity}' in schema


def test_limits_check_walks_in_document_order() -> None:
    limits = Limits(max_text_length=5, max_lines=2, max_quantity=10)
    check = limits.check

    assert check({"a": "abcde", "lines": [{"qty": 10}, {"qty": 1}]}, {"qty": "quantity"}) is None
    assert check({"a": "abcdef", "b": [1, 2, 3]}) == ("a", "longer than 5 characters")
    assert check({"b": [1, 2, 3], "a": "abcdef"}) == ("b", "more than 2 entries")
    refusal = check({"lines": [{"qty": 1}, {"qty": 11}]}, {"qty": "quantity"})
    assert refusal is not None and refusal.field == "lines[1].qty"
    assert check({"lines": [{"other": 11}]}, {"qty": "quantity"}) is None
    assert check({"lines": [{"qty": True}]}, {"qty": "quantity"}) is None  # a bool is no number
    assert check({"abcdef": 1}) == ("body", "holds a field name longer than 5 characters")
    assert check("abcdef") == ("body", "longer than 5 characters")


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-20, 20) | st.floats(-20, 20) | st.text(max_size=7),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["qty", "price", "note", "abcdefg"]), inner, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_the_quick_pass_answers_as_the_full_walk(document: Any) -> None:
    """check() first asks a pass that builds no paths; it must accept exactly what the
    walk that names the field accepts (a document it wrongly passed would slip a limit)."""
    limits = Limits(max_text_length=5, max_lines=3, max_quantity=10, max_price=10.0)
    numbers: dict[str, Any] = {"qty": "quantity", "price": "price"}
    full = limits._first_refusal(document, numbers)
    assert limits._fits(document, numbers) == (full is None)
    assert limits.check(document, numbers) == full
