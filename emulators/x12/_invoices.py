"""The 810 invoice: BIG, the N1 parties (RI remit-to, BT bill-to, ST ship-to), ITD terms,
DTM*011 (shipped date), IT1 lines, TDS total in cents."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from emulators.x12 import _elements as el
from emulators.x12._elements import _EXACT, UOM_CODES, Segment, X12Error, cents

_PARTIES = {"RI": "remit_to", "BT": "bill_to", "ST": "ship_to"}  # N101 (98) → field

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
    remit_to: str = ""  # N1*RI GLN: where to pay (the supplier)
    bill_to: str = ""  # N1*BT GLN: who pays (the 850's bill-to)
    ship_to: str = ""  # N1*ST GLN: where the goods went (the 850's ship-to)
    net_days: int | None = None  # ITD07: terms net days (ITD01 01 basic, ITD02 3 invoice date)
    shipped_on: str = ""  # DTM*011, CCYYMMDD

    @property
    def total_cents(self) -> int:
        """TDS01: the sum of quantity times unit price, in cents (rounded once, half up)."""
        with localcontext(_EXACT):
            exact = sum((Decimal(ln.qty) * Decimal(ln.price) for ln in self.lines), Decimal(0))
            return int((exact * 100).quantize(Decimal(1), ROUND_HALF_UP))


def render_810(doc: Invoice, control: str) -> list[list[str]]:
    body: list[Segment] = [["BIG", doc.date, doc.invoice_number, doc.po_date, doc.po_number]]
    for code, gln in (("RI", doc.remit_to), ("BT", doc.bill_to), ("ST", doc.ship_to)):
        if gln:
            body.append(["N1", code, "", "UL", gln])
    if doc.net_days is not None:
        body.append(["ITD", "01", "3", "", "", "", "", str(doc.net_days)])
    if doc.shipped_on:
        body.append(["DTM", "011", doc.shipped_on])
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
    extra: dict[str, Any] = {}
    lines: list[InvoiceLine] = []
    tds: tuple[int, int] | None = None
    ctt: tuple[int, int] | None = None
    for n, seg in enumerate(segments, start=1):
        tag = seg[0]
        if tag == "BIG":
            po_date = el._date(seg, 3, n) if el._el(seg, 3) else ""
            header = (el._req(seg, 2, n), el._date(seg, 1, n), el._req(seg, 4, n), po_date)
        elif tag == "N1" and el._el(seg, 1) in _PARTIES:
            gln = el._gs1(seg, 4, n, "UL") if el._el(seg, 3) == "UL" else el._req(seg, 4, n)
            extra[_PARTIES[seg[1]]] = gln
        elif tag == "ITD" and el._el(seg, 7):
            extra["net_days"] = el._qty(seg, 7, n)
        elif tag == "DTM" and el._el(seg, 1) == "011":
            extra["shipped_on"] = el._date(seg, 2, n)
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
    invoice = Invoice(number, date, po_number, tuple(lines), po_date, **extra)
    if tds is None:
        raise X12Error("TDS", "810 without TDS total")
    if tds[1] != invoice.total_cents:
        raise X12Error(
            el._at("TDS01", tds[0]), f"total {tds[1]} but the lines add up to {invoice.total_cents}"
        )
    if ctt is not None and ctt[1] != len(lines):
        raise X12Error(el._at("CTT01", ctt[0]), f"says {ctt[1]} lines, the set has {len(lines)}")
    return invoice
