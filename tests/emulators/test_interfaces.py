"""The native-interface contract (emulators/interfaces/) checked against the code.

Every webhook event a library simulation delivers validates against its event's JSON
Schema, and every document the core reads back in it against its document's; the
ERP's rarer events (every ``ChangeType``, the masters) are driven directly.  The README
names every schema file and every replicated fact, and its X12 example is an 850 the
supplier network accepts (and refuses, naming ISA08, when addressed to the ERP's
supplier number).  Validation uses ``jsonschema_rs``, which schemathesis (the ``test``
extra) already brings.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

import jsonschema_rs
import pytest

from analysis.facts import FACTS
from emulators import interfaces
from emulators._base import FactChange, Journal, Reply
from emulators.erp import Erp
from emulators.host import Host
from emulators.supplier import SupplierNetwork, SupplierProfile
from scenarios.sim import network
from scenarios.spec.load import load_scenario

README = resources.files("emulators.interfaces").joinpath("README.md").read_text()
EVENTS = interfaces.schema_names("events")
DOCUMENTS = interfaces.schema_names("documents")

# which document schema a read-back operation answers with
READS = {
    ("erp", "get_purchase_order"): "erp.PurchaseOrder",
    ("erp", "get_contract_price"): "erp.ContractPrice",
    ("erp", "get_item"): "erp.Item",
    ("erp", "get_vendor"): "erp.Vendor",
    ("supplier", "mailbox"): "supplier.MailboxPage",
    ("wms", "get_receipt"): "wms.Receipt",
    ("ap", "get_invoice"): "ap.Invoice",
}


def _validator(kind: str, name: str) -> Any:
    return jsonschema_rs.validator_for(interfaces.schema(kind, name))


def event_schema(system: str, event: dict[str, Any]) -> str:
    """The schema name of an event, from its system and type."""
    kind = event.get("eventType") or event.get("event_type") or event.get("type")
    return f"{system}.{kind}"


def _system(event: dict[str, Any]) -> str:
    """The emulator an event came from: its id's prefix (``erp-evt-1``); the supplier
    network's documents have none."""
    ident = event.get("eventId") or event.get("event_id")
    return str(ident).split("-", 1)[0] if ident else "supplier"


def assert_valid(kind: str, name: str, instances: list[Any]) -> None:
    validator = _validator(kind, name)
    for instance in instances:
        errors = [e.message for e in validator.iter_errors(instance)]
        assert not errors, f"{kind}/{name}.json refuses {instance}: {errors}"


@pytest.fixture(scope="module")
def library_run() -> dict[str, list[Any]]:
    """What a short price_change_propagation run delivered and read back, by schema."""
    captured: dict[str, list[Any]] = {}
    base = network.WebhookDispatcher
    invoke = Host.invoke

    class Capturing(base):  # type: ignore[misc, valid-type]
        def __init__(self, deliver: Any, schedule: Any, rng: Any, **kw: Any) -> None:
            def capture(event: dict[str, Any], done: Callable[[bool], None]) -> None:
                captured.setdefault(event_schema(_system(event), event), []).append(dict(event))
                deliver(event, done)

            super().__init__(capture, schedule, rng, **kw)

    def reading(self: Host, operation: str, call: Callable[[], Reply], **kw: Any) -> Reply:
        reply = invoke(self, operation, call, **kw)
        name = READS.get((self.system, operation))
        if name is not None and reply.status == 200:
            captured.setdefault(name, []).append(reply.body)
        return reply

    spec = load_scenario(
        "price_change_propagation",
        overrides={
            "duration_days": 3,
            "settle_days": 3,
            "demand.pos_per_day": 40,
            "network.items": 40,
            "faults.erp.webhooks.duplicate": 0.1,
            "faults.supplier.webhooks.duplicate": 0.1,
            "suppliers.duplicate_ack_rate": 0.05,
            "erp.phi.case_share": 0.2,  # case POs: their PHI fields validate too
            # buyers' changes as 860s, answered by 865s (events of their own)
            "demand.change_share": 0.3,
            "suppliers.change_orders": "860",
            "suppliers.change_ack": "865",
        },
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(network, "WebhookDispatcher", Capturing)
        mp.setattr(Host, "invoke", reading)
        network.simulate(spec, "event")
    return captured


def test_every_event_of_a_library_run_validates_against_its_schema(
    library_run: dict[str, list[Any]],
) -> None:
    delivered = {name: docs for name, docs in library_run.items() if name not in DOCUMENTS}
    assert set(delivered) <= set(EVENTS), f"events without a schema: {set(delivered) - set(EVENTS)}"
    for name, events in delivered.items():
        assert_valid("events", name, events)
    # the run exercised every event a core subscribes to (masters: see the next test)
    expected = set(EVENTS) - {"erp.ItemChanged", "erp.SupplierChanged"}
    assert expected <= set(delivered), f"not seen in the run: {expected - set(delivered)}"
    sequences = [e["sequence"] for e in delivered["wms.receipt.created"]]
    assert sorted(set(sequences)) == list(range(1, len(set(sequences)) + 1))


def test_every_document_read_back_in_a_library_run_validates(
    library_run: dict[str, list[Any]],
) -> None:
    read = {name: docs for name, docs in library_run.items() if name in DOCUMENTS}
    for name, docs in read.items():
        assert_valid("documents", name, docs)
    # the event core reads POs, prices, receipts and invoices; the mailbox is for batch
    assert {"erp.PurchaseOrder", "erp.ContractPrice", "wms.Receipt", "ap.Invoice"} <= set(read)
    assert len(read["wms.Receipt"]) > 100 and len(read["ap.Invoice"]) > 10


@pytest.fixture
def erp_events() -> Iterator[tuple[Erp, list[dict[str, Any]]]]:
    """An ERP whose events go through a real dispatcher (numbered) into a list."""
    from emulators.webhooks import WebhookDispatcher

    journal = Journal("erp", lambda: 0.0, lambda change: None)
    erp = Erp(journal, lambda: 0.0, dt.datetime(2026, 3, 23))
    events: list[dict[str, Any]] = []
    dispatcher = WebhookDispatcher(
        lambda event, done: (events.append(event), done(True)),
        lambda delay, action: action(),
        __import__("random").Random(1),
    )
    erp.listeners.append(dispatcher.publish)
    yield erp, events


def test_every_erp_event_and_change_type_validates(
    erp_events: tuple[Erp, list[dict[str, Any]]],
) -> None:
    erp, events = erp_events
    gtin = "30701000000014"
    assert erp.create_vendor({"SupplierNumber": "S1001", "Name": "Acme"}).ok
    assert erp.update_vendor("S1001", {"Status": "ACTIVE"}).ok
    item = {"ItemNumber": gtin, "GTIN": gtin, "Description": "Gloves", "UOMCode": "CA"}
    assert erp.create_item({**item, "ListPrice": 10.0}).ok
    price = {"SupplierNumber": "S1001", "ItemNumber": gtin}
    assert erp.create_contract_price(
        {**price, "ContractPrice": 9.5, "EffectiveFrom": "2026-01-01"}
    ).ok
    line = {"SupplierItem": "1001-00001", "ItemGTIN": gtin, "Quantity": 4, "UOMCode": "CA"}
    order = {
        "SupplierNumber": "S1001",
        "ShipToLocationGLN": "0860001001006",
        "RequesterDepartment": "ICU",
        "NeedByDate": "2026-03-30",
        "lines": [{**line, "Price": 9.5, "CriticalSupply": "Y"}],
    }
    number = erp.post_purchase_order(order).body["OrderNumber"]
    assert erp.change_purchase_order(number, {"lines": [{"LineNumber": 1, "Quantity": 5}]}).ok
    ack = {"LineNumber": 1, "SupplierConfirmedQuantity": 5, "BackorderedQuantity": 0}
    body = {"AcknowledgmentRevision": 1, "lines": [{**ack, "AcknowledgmentStatus": "IA"}]}
    assert erp.post_acknowledgment(number, body).ok
    receipt = {"ReceiptNumber": "RCV-000001", "lines": [{"LineNumber": 1, "QuantityReceived": 2}]}
    assert erp.post_receipt(number, receipt).ok
    erp.edit_confirmation(number, 1, 4)
    for event in events:
        assert_valid("events", event_schema("erp", event), [event])
    kinds = Counter(e["eventType"] for e in events)
    assert set(kinds) == {n.removeprefix("erp.") for n in EVENTS if n.startswith("erp.")}
    changes = [e["ChangeType"] for e in events if e["eventType"] == "PurchaseOrderChanged"]
    assert changes == ["CREATE", "REVISION", "ACKNOWLEDGMENT", "RECEIPT", "EDIT"]
    enum = interfaces.schema("events", "erp.PurchaseOrderChanged")["properties"]["ChangeType"]
    assert set(changes) == set(enum["enum"])
    assert_valid("documents", "erp.PurchaseOrder", [erp.get_purchase_order(number).body])
    assert_valid("documents", "erp.Vendor", [erp.get_vendor("S1001").body])
    assert_valid("documents", "erp.Item", [erp.get_item(gtin).body])


def test_the_readme_references_every_schema_file() -> None:
    for kind, names in (("events", EVENTS), ("documents", DOCUMENTS)):
        for name in names:
            assert f"]({kind}/{name}.json)" in README, f"{kind}/{name}.json is not in README.md"
    linked = set(re.findall(r"\]\(((?:events|documents)/[^)]+)\)", README))
    files = {f"events/{n}.json" for n in EVENTS} | {f"documents/{n}.json" for n in DOCUMENTS}
    assert linked == files


def test_every_schema_is_a_valid_draft_2020_12_schema() -> None:
    for kind, names in (("events", EVENTS), ("documents", DOCUMENTS)):
        for name in names:
            document = interfaces.schema(kind, name)
            assert jsonschema_rs.meta.is_valid(document), name  # its own $schema: 2020-12
            assert document["$id"].endswith(f"{kind}/{name}.json")


def test_the_readme_names_the_replica_write_of_every_fact() -> None:
    for fact in FACTS:
        assert f"| `{fact.name}` ({fact.flow})" in README, fact.name
        for system, field_name in fact.replicas:
            assert f"`{system}.{field_name}`" in README, (fact.name, system, field_name)


def _x12_example() -> str:
    block = re.search(r"```x12\n(.*?)```", README, re.S)
    assert block is not None
    return block.group(1).replace("\n", "")


def _network() -> tuple[SupplierNetwork, list[FactChange]]:
    changes: list[FactChange] = []
    journal = Journal("supplier", lambda: 0.0, changes.append)
    network = SupplierNetwork(
        journal,
        lambda: 0.0,
        dt.datetime(2026, 3, 23),
        lambda delay, action: None,
        {"SUPP1001": SupplierProfile()},
        seed=1,
    )
    return network, changes


def test_the_readme_850_is_accepted_with_its_revision_and_critical_line() -> None:
    network, changes = _network()
    reply = network.receive_edi(_x12_example())
    assert reply.status == 202 and reply.body["accepted"] == 1, reply.body
    order = network.orders[("SUPP1001", "4500000001")]
    assert order["revision"] == 1
    assert [(ln["vendor_part"], ln["critical"]) for ln in order["lines"]] == [
        ("1001-00001", False),
        ("1001-00013", True),
    ]
    assert {(c.entity, c.value) for c in changes if c.field == "ordered_qty"} == {
        ("po_line:4500000001:1", 4),
        ("po_line:4500000001:2", 2),
    }
    again = network.receive_edi(_x12_example())  # the same revision: recognised, ignored
    assert again.status == 202 and again.body["accepted"] == 0


def test_the_erp_supplier_number_as_isa08_is_an_unknown_trading_partner() -> None:
    network, _ = _network()
    text = _x12_example().replace("*ZZ*SUPP1001       *", "*ZZ*S1001          *", 1)
    reply = network.receive_edi(text)
    assert reply.status == 422 and reply.body["field"] == "ISA08"
    assert "unknown trading partner S1001" in reply.body["detail"]


def test_a_vp_qualifier_leaves_the_line_without_a_vendor_part() -> None:
    network, _ = _network()
    network.receive_edi(_x12_example().replace("**VC*1001-00001", "**VP*1001-00001"))
    lines = network.orders[("SUPP1001", "4500000001")]["lines"]
    assert lines[0]["vendor_part"] == "" and lines[1]["vendor_part"] == "1001-00013"
