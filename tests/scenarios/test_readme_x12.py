"""README.md's ```` ```x12 850-content ```` block is what the core writes, segment for segment.

The PO is built from the default network's master data (seed 1, with drugs): the first
gloves and the first drug of supplier S1001, the drug line clinically critical, revision 2;
the core writes it with the cross reference of that master data.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from emulators.x12 import Interchange, read_850
from scenarios.spec.masterdata import cross_reference, generate
from scenarios.spec.models import NetworkSpec
from sync_core.mappers.x12 import write_850
from sync_core.model import PurchaseOrder, PurchaseOrderLine

README = Path(__file__).resolve().parents[2] / "README.md"


def _block() -> list[str]:
    found = re.findall(r"```x12 850-content\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(found) == 1, "README.md needs one ```x12 850-content block"
    return found[0].splitlines()


def _written() -> str:
    master = generate(NetworkSpec(drugs=30), 1)
    items = master.catalog("S1001")
    gloves = next(i for i in items if i.description.startswith("Nitrile"))
    drug = next(i for i in items if i.ndc)
    lines = tuple(
        PurchaseOrderLine(
            line_no=n,
            gtin=item.gtin,
            vendor_part=item.vendor_part,
            quantity=quantity,
            uom=item.order_uom,
            unit_price=item.unit_price,
            critical=critical,
        )
        for n, (item, quantity, critical) in enumerate([(gloves, 4, False), (drug, 2, True)], 1)
    )
    po = PurchaseOrder(
        po_number="4500000001",
        supplier_id="S1001",
        ship_to=master.hospitals[0].gln,
        department="ICU",
        order_date=dt.date(2026, 3, 23),
        requested_date=dt.date(2026, 3, 30),
        version=2,
        lines=lines,
    )
    now = dt.datetime(2026, 3, 23, 9, 0)
    return write_850(
        po,
        sender="HOSPNET01",
        receiver="SUPP1001",
        control=1,
        now=now,
        xref=cross_reference(master),
    )


def test_the_readme_850_content_is_what_the_core_writes() -> None:
    text = _written()
    body = [s + "~" for s in text.split("~")]
    start = body.index(_block()[0])
    assert body[start : start + len(_block())] == _block()
    [segments] = Interchange.parse(text).sets  # and the supplier reads it
    order = read_850(segments)
    assert (order["revision"], order["contract"]) == (2, "GPO-S1001")
    assert [(ln["critical"], ln["ndc"]) for ln in order["lines"]] == [
        (False, ""),
        (True, "09001000101"),
    ]
