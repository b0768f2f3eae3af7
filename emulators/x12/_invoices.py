"""The 810 invoice: BIG, IT1 lines, TDS total in cents."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext

from emulators.x12 import _elements as el
from emulators.x12._elements import _EXACT, UOM_CODES, Segment, X12Error, cents

# -- 810 invoice ------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceLine:
    po_line: int  # IT101
    qty: int  # IT102
    uom: str  # IT103
    price: str  # IT104
    vendor_part: str  # IT1 VC
    gtin: str = ""  # IT1 UK
    ndc: str = ""  # IT1 N4: a drug's NDC, 11-digit 5-4-2 billing form

    @property
    def amount_cents(self) -> int:
        return cents(self.qty, self.price)


@dataclass(frozen=True)
class Invoice:
    invoice_number: str  # BIG02
    date: str  # BIG01, CCYYMMDD
    po_number: str  # BIG04
    lines: tuple[InvoiceLine, ...]
    po_date: str = ""  # BIG03

    @property
    def total_cents(self) -> int:
        """TDS01: the sum of quantity times unit price, in cents (rounded once, half up)."""
        with localcontext(_EXACT):
            exact = sum((Decimal(ln.qty) * Decimal(ln.price) for ln in self.lines), Decimal(0))
            return int((exact * 100).quantize(Decimal(1), ROUND_HALF_UP))


def render_810(doc: Invoice, control: str) -> list[list[str]]:
    body: list[Segment] = [["BIG", doc.date, doc.invoice_number, doc.po_date, doc.po_number]]
    for line in doc.lines:
        if line.uom not in UOM_CODES:
            raise X12Error("IT103", f"unknown unit of measure {line.uom!r}")
        ids = el._ids(line.vendor_part, line.gtin) + (["N4", line.ndc] if line.ndc else [])
        body.append(["IT1", str(line.po_line), str(line.qty), line.uom, line.price, "", *ids])
    body.append(["TDS", str(doc.total_cents)])
    body.append(["CTT", str(len(doc.lines))])
    return el._close("810", body, control)


def read_810(segments: list[list[str]]) -> Invoice:
    el._check_set(segments, "810")
    header: tuple[str, str, str, str] | None = None
    lines: list[InvoiceLine] = []
    tds: tuple[int, int] | None = None
    ctt: tuple[int, int] | None = None
    for n, seg in enumerate(segments, start=1):
        tag = seg[0]
        if tag == "BIG":
            po_date = el._date(seg, 3, n) if el._el(seg, 3) else ""
            header = (el._req(seg, 2, n), el._date(seg, 1, n), el._req(seg, 4, n), po_date)
        elif tag == "IT1":
            ndc = dict(el._pairs(seg, 6, n)).get("N4", "")
            lines.append(InvoiceLine(*el._baseline_item(seg, n), ndc))
        elif tag == "TDS":
            tds = (n, el._qty(seg, 1, n))
        elif tag == "CTT":
            ctt = (n, el._qty(seg, 1, n))
    if header is None:
        raise X12Error("BIG", "810 without BIG")
    number, date, po_number, po_date = header
    invoice = Invoice(number, date, po_number, tuple(lines), po_date)
    if tds is None:
        raise X12Error("TDS", "810 without TDS total")
    if tds[1] != invoice.total_cents:
        raise X12Error(
            el._at("TDS01", tds[0]), f"total {tds[1]} but the lines add up to {invoice.total_cents}"
        )
    if ctt is not None and ctt[1] != len(lines):
        raise X12Error(el._at("CTT01", ctt[0]), f"says {ctt[1]} lines, the set has {len(lines)}")
    return invoice
