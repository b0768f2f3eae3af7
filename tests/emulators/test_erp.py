"""The ERP emulator's HTTP semantics as its users see them: ETags, paging, the rate limit,
idempotency keys, bad input, copies and snapshots.  Its business rules: ``test_erp_orders.py``."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from emulators._base import Reply, body_cause
from emulators.erp import Erp
from tests.builders import EPOCH, GTIN_1, GTIN_2, create_erp_po, erp_ack, erp_po_body, erp_receipt
from tests.emulators.erp_world import World, etag_of


@pytest.fixture
def w() -> World:
    return World.made()


# -- ETags ------------------------------------------------------------------------------


def test_the_etag_is_stable_between_reads_and_changes_with_every_change(w: World) -> None:
    number = w.po()
    tags = [etag_of(w.erp, number)]
    assert etag_of(w.erp, number) == tags[0]

    assert w.erp.post_acknowledgment(number, erp_ack()).ok
    tags.append(etag_of(w.erp, number))
    assert w.erp.post_receipt(number, erp_receipt(2)).ok  # changes neither revision counter
    tags.append(etag_of(w.erp, number))
    assert w.erp.change_purchase_order(number, {"lines": [{"LineNumber": 2, "Price": 11.0}]}).ok
    tags.append(etag_of(w.erp, number))

    assert len(set(tags)) == 4
    assert all(t.startswith('"') and t.endswith('"') for t in tags)  # strong


def test_if_none_match_with_the_current_etag_is_304_without_a_body(w: World) -> None:
    number = w.po()
    tag = etag_of(w.erp, number)

    assert w.erp.get_purchase_order(number, if_none_match=tag) == Reply(304, None, {"etag": tag})
    assert w.erp.get_purchase_order(number, if_none_match=f"W/{tag}").status == 304
    assert w.erp.get_purchase_order(number, if_none_match='"other", ' + tag).status == 304
    w.erp.post_receipt(number, erp_receipt(1))
    fresh = w.erp.get_purchase_order(number, if_none_match=tag)
    assert fresh.status == 200 and fresh.body["lines"][0]["ReceivedQuantity"] == 1


def test_stale_if_match_is_412_and_changes_nothing(w: World) -> None:
    number = w.po()
    stale = etag_of(w.erp, number)
    w.erp.post_acknowledgment(number, erp_ack())
    before, facts, events = w.erp.snapshot(), len(w.facts), len(w.events)

    writes = [
        w.erp.change_purchase_order(
            number, {"lines": [{"LineNumber": 1, "Quantity": 3}]}, if_match=stale
        ),
        w.erp.post_receipt(number, erp_receipt(1), if_match=stale),
        w.erp.post_acknowledgment(number, erp_ack(confirmed=9, backordered=1), if_match=stale),
    ]

    for reply in writes:
        assert reply.status == 412 and reply.body["field"] == "If-Match"
        assert reply.headers["etag"] == etag_of(w.erp, number)
    assert w.erp.snapshot() == before
    assert (len(w.facts), len(w.events)) == (facts, events)
    current = etag_of(w.erp, number)
    assert w.erp.post_receipt(number, erp_receipt(1), if_match=current).status == 201


def test_a_stale_if_match_on_a_master_is_412(w: World) -> None:
    w.masters()
    tag = w.erp.get_contract_price("S1001", "IT-1").headers["etag"]
    assert w.erp.update_contract_price("S1001", "IT-1", {"ContractPrice": 41.0}, if_match=tag).ok

    again = w.erp.update_contract_price("S1001", "IT-1", {"ContractPrice": 39.0}, if_match=tag)

    assert again.status == 412
    assert w.erp.get_contract_price("S1001", "IT-1").body["ContractPrice"] == 41.0


# -- paging -----------------------------------------------------------------------------


def test_paging_with_has_more_returns_each_po_exactly_once(w: World) -> None:
    numbers = []
    for i in range(53):
        w.t = float(i // 5)  # several POs share a LastUpdateDate
        numbers.append(w.po())
    seen: list[str] = []
    offset, pages = 0, 0
    while True:
        page = w.erp.list_purchase_orders(
            updated_since="2024-01-15T08:00:00", offset=offset, limit=10
        ).body
        pages += 1
        seen += [po["OrderNumber"] for po in page["items"]]
        if not page["hasMore"]:
            break
        offset += page["limit"]

    assert pages == 6
    assert sorted(seen) == sorted(numbers) and len(seen) == len(set(seen))


def test_updated_since_leaves_out_older_changes(w: World) -> None:
    old = w.po()
    w.t = 3600.0
    new = w.po()

    page = w.erp.list_purchase_orders(updated_since="2024-01-15T08:30:00").body

    assert [po["OrderNumber"] for po in page["items"]] == [new]
    w.t = 7200.0
    w.erp.post_receipt(old, erp_receipt(1))  # a receipt is a change too
    page = w.erp.list_purchase_orders(updated_since="2024-01-15T08:30:00").body
    assert [po["OrderNumber"] for po in page["items"]] == [new, old]


def test_masters_page_with_has_more(w: World) -> None:
    for n in range(30):
        body = {"ItemNumber": f"IT-{n:03d}", "GTIN": GTIN_2, "Description": f"item {n}",
                "UOMCode": "EA", "ListPrice": 1.0 + n}  # fmt: skip
        assert w.erp.create_item(body).status == 201

    first = w.erp.list_items().body
    second = w.erp.list_items(offset=25).body

    assert (first["count"], first["hasMore"], second["count"], second["hasMore"]) == (
        25,
        True,
        5,
        False,
    )
    items = [i["ItemNumber"] for i in first["items"] + second["items"]]
    assert items == [f"IT-{n:03d}" for n in range(30)]


# -- rate limit -------------------------------------------------------------------------


def test_the_call_beyond_the_rate_is_429_with_retry_after_and_later_succeeds() -> None:
    w = World()
    erp = w.make(rate_limit_per_s=5)
    number = w.po()  # one token
    for _ in range(4):
        assert erp.get_purchase_order(number).status == 200
    facts = len(w.facts)

    limited = erp.post_receipt(number, erp_receipt(1))

    assert limited.status == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert len(w.facts) == facts  # nothing applied
    assert erp.snapshot()["orders"][number]["lines"][0]["ReceivedQuantity"] == 0
    assert erp.get_purchase_order(number).status == 429  # reads count too
    w.t += int(limited.headers["retry-after"])
    assert erp.post_receipt(number, erp_receipt(1)).status == 201


def test_retry_after_is_whole_seconds_until_a_token_is_back() -> None:
    w = World()
    erp = w.make(rate_limit_per_s=0.25, burst=2)
    assert erp.list_items().ok and erp.list_vendors().ok

    limited = erp.list_items()

    assert limited.headers["retry-after"] == "4"
    w.t = 3.9
    assert erp.list_items().status == 429
    w.t = 4.0
    assert erp.list_items().ok


def test_without_a_rate_limit_nothing_is_throttled(w: World) -> None:
    number = w.po()
    assert all(w.erp.get_purchase_order(number).ok for _ in range(1000))


# -- idempotency ----------------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    """A keyed write to a PO: ``call(erp, number, body, key)``, a first body, another
    body, and the field it journals."""

    label: str
    call: Callable[[Erp, str, Any, str | None], Reply]
    body: dict[str, Any]
    other: dict[str, Any]
    fact: str


WRITES = [
    Write(
        "receipt",
        lambda erp, n, body, key: erp.post_receipt(n, body, key),
        erp_receipt(1),
        erp_receipt(2),
        "erp_received_qty",
    ),
    Write(
        "change",
        lambda erp, n, body, key: erp.change_purchase_order(n, body, idempotency_key=key),
        {"lines": [{"LineNumber": 1, "Quantity": 12}]},
        {"lines": [{"LineNumber": 1, "Quantity": 13}]},
        "ordered_qty",
    ),
    Write(
        "acknowledgment",
        lambda erp, n, body, key: erp.post_acknowledgment(n, body, key),
        erp_ack(),
        erp_ack(confirmed=7, backordered=3),
        "confirmed_qty",
    ),
    Write(
        "invoice",
        lambda erp, n, body, key: erp.post_invoice_status(n, body, key),
        {"InvoiceNumber": "INV-1", "MatchStatus": "MATCHED"},
        {"InvoiceNumber": "INV-1", "MatchStatus": "ON_HOLD", "HoldReason": "PRICE"},
        "erp_match_status",
    ),
    Write(
        "contract price",
        lambda erp, n, body, key: erp.update_contract_price(
            "S1001", "IT-1", body, idempotency_key=key
        ),
        {"ContractPrice": 38.5},
        {"ContractPrice": 37.0},
        "contract_price",
    ),
]


@pytest.fixture(params=WRITES, ids=lambda write: write.label)
def write(request: pytest.FixtureRequest) -> Write:
    write: Write = request.param
    return write


@pytest.fixture
def number(w: World) -> str:
    """A PO on the ERP with masters, for the writes to apply to."""
    w.masters()
    return w.po()


def test_a_repeat_with_the_same_key_returns_the_first_reply_and_applies_nothing(
    w: World, write: Write, number: str
) -> None:
    first = write.call(w.erp, number, write.body, "key-1")
    assert first.ok, (write.label, first.body)
    state, facts, events = w.erp.snapshot(), len(w.facts), len(w.events)

    again = write.call(w.erp, number, copy.deepcopy(write.body), "key-1")

    assert again == first
    assert w.erp.snapshot() == state
    assert (len(w.facts), len(w.events)) == (facts, events)
    assert w.facts_of(write.fact)[-1].cause == "key-1"


def test_the_same_key_with_another_body_is_422_naming_the_header(
    w: World, write: Write, number: str
) -> None:
    assert write.call(w.erp, number, write.body, "key-1").ok
    state, facts = w.erp.snapshot(), len(w.facts)

    reused = write.call(w.erp, number, write.other, "key-1")

    assert reused.status == 422 and reused.body["field"] == "Idempotency-Key"
    assert w.erp.snapshot() == state and len(w.facts) == facts


def test_without_a_key_a_repeat_is_applied_again_under_the_bodys_cause(
    w: World, write: Write, number: str
) -> None:
    before = len(w.facts_of(write.fact))

    assert write.call(w.erp, number, write.body, None).ok
    assert write.call(w.erp, number, write.body, None).ok

    written = w.facts_of(write.fact)[before:]
    assert len(written) == 2
    assert written[0].cause == written[1].cause and ":body:" in written[0].cause


def test_a_keyless_receipt_applied_twice_receives_twice(w: World) -> None:
    number = w.po()
    w.erp.post_receipt(number, erp_receipt(3))
    w.erp.post_receipt(number, erp_receipt(3))

    [one, two] = w.facts_of("erp_received_qty", f"po_line:{number}:1")
    assert (one.value, two.value) == (3, 6)
    assert one.cause == two.cause == body_cause(f"erp:receipt:{number}", erp_receipt(3))


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ({"Quantity": None}, {"Quantity": float("nan")}),  # orjson writes both as null
        ({"b": 1, "a": 2}, {"a": 2, "b": 1.0}),
        ({"n": 2**64}, {"n": 2**64 + 1}),  # past orjson's integers
    ],
)
def test_the_body_digest_tells_bodies_apart_and_ignores_key_order(
    one: dict[str, Any], other: dict[str, Any]
) -> None:
    assert body_cause("erp", one) != body_cause("erp", other)
    assert body_cause("erp", one) == body_cause("erp", dict(reversed(list(one.items()))))


def test_a_refused_write_does_not_use_up_its_key(w: World) -> None:
    number = w.po()
    assert w.erp.post_receipt(number, erp_receipt(99), "key-1").status == 422
    assert w.erp.post_receipt(number, erp_receipt(1), "key-1").status == 201


# -- bad input ----------------------------------------------------------------------------

BAD_CALLS: list[tuple[str, Callable[[Erp, str], Reply], int, str]] = [
    ("get unknown PO", lambda e, n: e.get_purchase_order("1"), 404, "OrderNumber"),
    ("since not a date", lambda e, n: e.list_purchase_orders(updated_since="x"), 400,
     "updatedSince"),
    ("negative offset", lambda e, n: e.list_purchase_orders(updated_since="2024-01-01",
                                                             offset=-1), 400, "offset"),
    ("limit too big", lambda e, n: e.list_items(limit=501), 400, "limit"),
    ("limit not a number", lambda e, n: e.list_vendors(limit="9"), 400, "limit"),  # type: ignore[arg-type]
    ("PO not an object", lambda e, n: e.post_purchase_order([1]), 400, ""),
    ("PO bad GLN", lambda e, n: e.post_purchase_order({**erp_po_body(), "ShipToLocationGLN": "12"}),
     422, "ShipToLocationGLN"),
    ("PO unknown field", lambda e, n: e.post_purchase_order({**erp_po_body(), "Colour": "red"}),
     422, "Colour"),
    ("PO line bool qty", lambda e, n: e.post_purchase_order(
        {**erp_po_body(), "lines": [{**erp_po_body()["lines"][0], "Quantity": True}]}),
     422, "lines[0].Quantity"),
    ("PO line bad UOM", lambda e, n: e.post_purchase_order(
        {**erp_po_body(), "lines": [{**erp_po_body()["lines"][0], "UOMCode": "XX"}]}),
     422, "lines[0].UOMCode"),
    ("change unknown PO", lambda e, n: e.change_purchase_order("1", {"Action": "CANCEL"}), 404,
     "OrderNumber"),
    ("change no line", lambda e, n: e.change_purchase_order(
        n, {"lines": [{"LineNumber": 9, "Quantity": 1}]}), 422, "lines[0].LineNumber"),
    ("change zero qty", lambda e, n: e.change_purchase_order(
        n, {"lines": [{"LineNumber": 1, "Quantity": 0}]}), 422, "lines[0].Quantity"),
    ("change nothing", lambda e, n: e.change_purchase_order(n, {"lines": [{"LineNumber": 1}]}),
     422, "lines[0].LineNumber"),
    ("change twice", lambda e, n: e.change_purchase_order(
        n, {"lines": [{"LineNumber": 1, "Price": 1.0}, {"LineNumber": 1, "Price": 2.0}]}),
     422, "lines[1].LineNumber"),
    ("add bad GTIN", lambda e, n: e.change_purchase_order(
        n, {"lines": [{**erp_po_body()["lines"][0], "Action": "ADD", "ItemGTIN": "x"}]}),
     422, "lines[0].ItemGTIN"),
    ("cancel with lines", lambda e, n: e.change_purchase_order(
        n, {"Action": "CANCEL", "lines": []}), 422, "lines"),
    ("receipt no number", lambda e, n: e.post_receipt(n, {"lines": erp_receipt(1)["lines"]}), 422,
     "ReceiptNumber"),
    ("receipt negative", lambda e, n: e.post_receipt(n, erp_receipt(-1)), 422,
     "lines[0].QuantityReceived"),
    ("receipt not an object", lambda e, n: e.post_receipt(n, "R-1"), 400, ""),
    ("ack bad revision", lambda e, n: e.post_acknowledgment(
        n, {**erp_ack(), "AcknowledgmentRevision": 0}), 422, "AcknowledgmentRevision"),
    ("ack negative qty", lambda e, n: e.post_acknowledgment(n, erp_ack(confirmed=-1)), 422,
     "lines[0].SupplierConfirmedQuantity"),
    ("invoice bad status", lambda e, n: e.post_invoice_status(
        n, {"InvoiceNumber": "I", "MatchStatus": "DONE"}), 422, "MatchStatus"),
    ("item missing price", lambda e, n: e.create_item(
        {"ItemNumber": "IT-2", "GTIN": GTIN_1, "Description": "d", "UOMCode": "EA"}),
     422, "ListPrice"),
    ("item zero price", lambda e, n: e.update_item("IT-1", {"ListPrice": 0}), 422, "ListPrice"),
    ("unknown item", lambda e, n: e.update_item("IT-9", {"ListPrice": 1.0}), 404, "ItemNumber"),
    ("vendor bad status", lambda e, n: e.update_vendor("S1001", {"Status": "GONE"}), 422,
     "Status"),
    ("price bad date", lambda e, n: e.update_contract_price(
        "S1001", "IT-1", {"EffectiveFrom": "1 Jan"}), 422, "EffectiveFrom"),
    ("unknown price", lambda e, n: e.get_contract_price("S1001", "IT-9"), 404, "ItemNumber"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("label", "call", "status", "field_path"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS]
)
def test_bad_input_is_a_problem_naming_the_field_and_changes_nothing(
    w: World, label: str, call: Callable[[Erp, str], Reply], status: int, field_path: str
) -> None:
    w.masters()
    number = w.po()
    before, facts, events = w.erp.snapshot(), len(w.facts), len(w.events)

    reply = call(w.erp, number)

    assert (reply.status, reply.body["field"]) == (status, field_path), reply.body
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.body["status"] == status and reply.body["detail"]
    assert w.erp.snapshot() == before
    assert (len(w.facts), len(w.events)) == (facts, events)


# -- copies, snapshot, reset --------------------------------------------------------------


def test_replies_are_copies_of_the_documents(w: World) -> None:
    w.masters()
    number = w.po()
    for reply in (
        w.erp.get_purchase_order(number),
        w.erp.list_purchase_orders(updated_since="2024-01-01").body["items"][0],
        w.erp.post_receipt(number, erp_receipt(1)),
        w.erp.get_item("IT-1"),
    ):
        body = reply.body if isinstance(reply, Reply) else reply
        body.clear()
    created = create_erp_po(w.erp, need_by=EPOCH.date())
    created["lines"].clear()

    assert w.erp.get_purchase_order(number).body["lines"][0]["ReceivedQuantity"] == 1
    assert len(w.erp.get_purchase_order(created["OrderNumber"]).body["lines"]) == 2
    assert w.erp.get_item("IT-1").body["Description"] == "Gloves nitrile M"


def test_snapshot_is_plain_json_and_reset_empties_the_erp(w: World) -> None:
    w.masters()
    number = w.po()
    w.erp.post_invoice_status(number, {"InvoiceNumber": "I-1", "MatchStatus": "MATCHED"}, "k")
    snap = w.erp.snapshot()

    assert json.loads(json.dumps(snap)) == snap
    assert list(snap["orders"]) == [number]
    counts = [len(snap[k]) for k in ("items", "vendors", "contract_prices", "invoices")]
    assert counts == [2, 1, 1, 1]  # the masters: PO's two items, one vendor, one price

    w.erp.reset()

    empty = w.erp.snapshot()
    assert empty["orders"] == {} and empty["items"] == [] and empty["invoices"] == []
    assert empty["counters"] == {
        "next_order_number": 4500000001,
        "next_event": 1,
        "idempotency_keys": 0,
    }
    assert w.erp.get_purchase_order(number).status == 404
    assert w.po() == number  # numbering starts over
