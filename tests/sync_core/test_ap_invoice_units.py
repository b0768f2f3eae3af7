"""The core passes an 810's unit to AP unconverted: named on a line only where it differs."""

from __future__ import annotations

import datetime as dt

from sync_core.mappers import ap
from sync_core.model import Invoice, InvoiceLine, PurchaseOrder, PurchaseOrderLine, Uom

PO = PurchaseOrder(
    po_number="4500000001",
    supplier_id="S1001",
    ship_to="0860001001006",
    department="CC-01-100",
    order_date=dt.date(2026, 3, 2),
    requested_date=dt.date(2026, 3, 9),
    version=1,
    lines=tuple(
        PurchaseOrderLine(
            line_no=n, gtin=gtin, vendor_part=f"1001-{n:05d}", quantity=10, uom=uom, unit_price=45.6
        )
        for n, gtin, uom in ((1, "50390002001019", Uom.CA), (2, "30701000000014", Uom.BX))
    ),
)
INVOICE = Invoice(
    supplier_id="S1001",
    invoice_number="INV000001",
    invoice_date=dt.date(2026, 3, 5),
    po_number="4500000001",
    lines=(
        InvoiceLine(line_no=1, quantity=240, uom=Uom.EA, unit_price=1.9),  # 10 CA of 24
        InvoiceLine(line_no=2, quantity=10, uom=Uom.BX, unit_price=45.6),
    ),
    total=912.0,
)


def test_a_line_billed_in_another_unit_names_it_unconverted_and_the_others_stay_as_they_were():
    lines = ap.invoice(INVOICE, "trace", PO)["lines"]
    assert lines[0] == {
        "po_line_number": 1,
        "quantity_invoiced": 240,
        "unit_price": 1.9,
        "uom": "EA",
    }
    assert lines[1] == {"po_line_number": 2, "quantity_invoiced": 10, "unit_price": 45.6}
    assert ap.invoice(INVOICE, "trace")["lines"][0].keys() == lines[1].keys()  # no PO: as before
