"""Test data the suites build the same way: GS1 keys, the two-line purchase order,
the ERP's order form, X12 interchanges, and the four emulators on one clock.

Check digits are computed here, independently of the code under test, so a test
that compares against them checks the code rather than itself.  Every builder
takes keyword overrides: a suite names only what its cases change.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Any

from emulators._base import FactChange, Journal, Reply
from emulators.ap import Ap
from emulators.erp import Erp
from emulators.supplier import SupplierNetwork, SupplierProfile
from emulators.web.tables import native_routes
from emulators.wms import Wms
from sync_core.messages import Request
from sync_core.model import PurchaseOrder, PurchaseOrderLine, Uom

EPOCH = dt.datetime(2024, 1, 15, 8, 0)


def check_digit(body: str) -> str:
    """The GS1 mod-10 check digit of ``body`` (GS1 General Specifications 7.9)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def with_check_digit(body: str) -> str:
    """``body`` followed by its GS1 check digit."""
    return body + check_digit(body)


# GS1 keys with valid check digits, as the emulators' order checks want them
GLN = with_check_digit("061414100001")
GTIN_1 = with_check_digit("1001234567890")
GTIN_2 = with_check_digit("5012345000017")

# -- canonical model ------------------------------------------------------------------


def po_lines(*, gtin_2: str = GTIN_2, price_2: float = 12.0) -> tuple[PurchaseOrderLine, ...]:
    """Gloves (10 CA) and syringes (4 BX, clinical-critical)."""
    return (
        PurchaseOrderLine(line_no=1, gtin=GTIN_1, vendor_part="NG-M", quantity=10,
                          uom=Uom.CA, unit_price=45.5),
        PurchaseOrderLine(line_no=2, gtin=gtin_2, vendor_part="SY-10", quantity=4,
                          uom=Uom.BX, unit_price=price_2, critical=True),
    )  # fmt: skip


def purchase_order(**overrides: Any) -> PurchaseOrder:
    """PO 4500000001, version 1, to supplier S1001, with :func:`po_lines`."""
    fields: dict[str, Any] = {
        "po_number": "4500000001",
        "supplier_id": "S1001",
        "ship_to": GLN,
        "department": "CC-01-120",
        "order_date": dt.date(2024, 1, 15),
        "requested_date": dt.date(2024, 1, 20),
        "version": 1,
        "lines": po_lines(),
    }
    fields.update(overrides)
    return PurchaseOrder(**fields)


# -- the ERP's order form -----------------------------------------------------------


def erp_lines(quantity: int = 10) -> list[dict[str, Any]]:
    """The lines of :func:`po_lines` as a buyer types them into the ERP."""
    return [
        {"SupplierItem": "NG-M", "ItemGTIN": GTIN_1, "Quantity": quantity,
         "UOMCode": "CA", "Price": 45.5, "CriticalSupply": "N"},
        {"SupplierItem": "SY-10", "ItemGTIN": GTIN_2, "Quantity": 4,
         "UOMCode": "BX", "Price": 12.0, "CriticalSupply": "Y"},
    ]  # fmt: skip


def erp_po_body(supplier: str = "S1001", quantity: int = 10) -> dict[str, Any]:
    """The body of ``POST`` a PO of :func:`erp_lines` (what :func:`create_erp_po` types in)."""
    return {
        "SupplierNumber": supplier,
        "ShipToLocationGLN": GLN,
        "RequesterDepartment": "CC-01-120",
        "NeedByDate": "2024-01-20",
        "lines": erp_lines(quantity),
    }


def erp_ack(confirmed: int = 6, backordered: int = 4, *, revision: int = 1) -> dict[str, Any]:
    """A supplier's acknowledgment of a PO's line 1, as the ERP's API takes it."""
    return {
        "AcknowledgmentRevision": revision,
        "lines": [
            {"LineNumber": 1, "SupplierConfirmedQuantity": confirmed,
             "BackorderedQuantity": backordered, "AcknowledgmentStatus": "IA/IB"},
        ],
    }  # fmt: skip


def erp_receipt(quantity: int, line: int = 1, number: str = "R-1") -> dict[str, Any]:
    """Goods received against one line of a PO, as the ERP's API takes them."""
    return {"ReceiptNumber": number, "lines": [{"LineNumber": line, "QuantityReceived": quantity}]}


def create_erp_po(erp: Erp, need_by: dt.date = dt.date(2024, 1, 20)) -> dict[str, Any]:
    """A buyer creates a PO of :func:`erp_lines` for supplier S1001 in ``erp``."""
    return erp.create_purchase_order(
        supplier_number="S1001",
        ship_to_gln=GLN,
        department="CC-01-120",
        need_by=need_by,
        lines=erp_lines(),
    )


# -- X12 ------------------------------------------------------------------------------


def isa(sender: str, receiver: str, control: int) -> str:
    return "*".join(
        ["ISA", "00", " " * 10, "00", " " * 10, "ZZ", sender.ljust(15), "ZZ",
         receiver.ljust(15), "240116", "0900", "U", "00401", f"{control:09d}", "0", "P", ">"]
    )  # fmt: skip


def envelope(
    body: str,
    *,
    sender: str = "SUPP1001",
    receiver: str = "HOSPNET01",
    control: int = 7,
    ge01: int = 1,
    iea01: int = 1,
) -> str:
    """Wrap transaction sets (already terminated by ``~``) in GS/GE and ISA/IEA."""
    return (
        f"{isa(sender, receiver, control)}~"
        f"GS*PR*{sender}*{receiver}*20240116*0900*{control}*X*004010~"
        f"{body}GE*{ge01}*{control}~IEA*{iea01}*{control:09d}~"
    )


def interchange_855(
    po_number: str,
    lines: list[tuple[int, int, str, str, list[tuple[str, int, str | None]]]],
    *,
    revision: int = 1,
    sender: str = "SUPP1001",
    control: int = 1,
) -> str:
    """An 855 interchange; each line is (line no, qty, uom, price, [(ACK01, qty, date)])."""
    body = [
        ["ST", "855", "0001"],
        ["BAK", "00", "AC", po_number, "20240116"],
        ["REF", "PP", str(revision)],
    ]
    for line_no, qty, uom, price, acks in lines:
        body.append(["PO1", str(line_no), str(qty), uom, price, "", "VC", f"VP{line_no}"])
        for code, ack_qty, date in acks:
            body.append(["ACK", code, str(ack_qty), uom, *(["068", date] if date else [])])
    body.append(["CTT", str(len(lines))])
    body.append(["SE", str(len(body) + 1), "0001"])
    text = "".join("*".join(s) + "~" for s in body)
    return envelope(text, sender=sender, control=control)


# -- the emulators ------------------------------------------------------------------


def wire(body: Any) -> Any:
    """What a body looks like after crossing a wire as JSON."""
    return json.loads(json.dumps(body))


class Emulators:
    """The ERP, supplier network, WMS and AP on the caller's clock, every fact
    they journal in ``facts``, the supplier's timers handed to ``schedule``."""

    def __init__(
        self,
        clock: Callable[[], float],
        schedule: Callable[[float, Callable[[], None]], None],
        profiles: Mapping[str, SupplierProfile],
        *,
        seed: int,
    ) -> None:
        self.facts: list[FactChange] = []

        def journal(system: str) -> Journal:
            return Journal(system, clock, self.facts.append)

        self.erp = Erp(journal("erp"), clock, EPOCH)
        self.supplier = SupplierNetwork(
            journal("supplier"), clock, EPOCH, schedule, dict(profiles), seed=seed
        )
        self.wms = Wms(journal("wms"), clock, EPOCH)
        self.ap = Ap(journal("ap"), clock, EPOCH)
        self.routes = native_routes(
            {"erp": self.erp, "supplier": self.supplier, "wms": self.wms, "ap": self.ap}
        )

    def carry(self, request: Request) -> Reply:
        """Hand the request to its emulator as the simulated transport does (the
        emulators' operation tables), its body crossing as JSON."""
        route = self.routes[(request.target, request.operation)]
        return route(request.params, wire(request.body), request.idempotency_key)
