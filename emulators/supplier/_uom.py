"""What a supplier's 810 bills: its IT1 lines, by the ordered unit or, as a fault, by the each.

Real suppliers' billing systems often invoice a line ordered by the case (CA)
or box (BX) by the each (EA): the quantity times the eaches the unit holds, at
the unit price divided by it (rounded half up to 4 decimals, as X12 IT104
allows).  The profile's ``invoice_uom_mismatch_rate`` is the share of invoices
that do so for every pack-ordered line they bill; the profile's ``catalog``
(vendor part, ordered unit, eaches, NDC) says what a unit holds, and a drug's
NDC, sent as the IT1 ``N4`` product id beside VC and UK.  The draw comes from
the invoicing stream and is made only when the rate is set, so a supplier
without the fault bills exactly as before.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from emulators.supplier._profile import SupplierProfile
from emulators.x12 import Invoice, InvoiceLine

__all__ = ["NET_DAYS", "billed_lines", "invoice_of"]

NET_DAYS = 30  # every supplier here bills net 30 from the invoice date (810 ITD)

_EACH = "EA"
_PRICE_STEP = Decimal("0.0001")


@lru_cache(maxsize=256)
def _index(catalog: tuple[tuple[str, str, int, str], ...]) -> dict[str, tuple[str, int, str]]:
    return {part: (unit, eaches, ndc) for part, unit, eaches, ndc in catalog}


def _per_each(price: str, eaches: int) -> str:
    each = (Decimal(price) / eaches).quantize(_PRICE_STEP, ROUND_HALF_UP).normalize()
    return format(max(each, _PRICE_STEP), "f")


def billed_lines(
    by_line: dict[int, dict[str, Any]],
    shipped: Iterable[dict[str, Any]],
    profile: SupplierProfile,
    rng: random.Random,
) -> tuple[tuple[InvoiceLine, ...], frozenset[int]]:
    """The 810's lines for ``shipped`` (``po_line``, ``qty``) and the PO lines billed by
    the each rather than by their ordered unit."""
    catalog = _index(profile.catalog) if profile.catalog else {}
    by_each = profile.invoice_uom_mismatch_rate > 0 and (
        rng.random() < profile.invoice_uom_mismatch_rate
    )
    lines, converted = [], set()
    for s in shipped:
        line = by_line[s["po_line"]]
        qty, uom, price = s["qty"], line["uom"], line["ack_price"]
        unit, eaches, ndc = catalog.get(line["ship_part"], ("", 1, ""))
        if by_each and unit == uom != _EACH and eaches > 1:
            qty, uom, price = qty * eaches, _EACH, _per_each(price, eaches)
            converted.add(s["po_line"])
        lines.append(
            InvoiceLine(s["po_line"], qty, uom, price, line["ship_part"], line["ship_gtin"], ndc)
        )
    return tuple(lines), frozenset(converted)


def invoice_of(
    number: str,
    now: dt.datetime,
    po_number: str,
    order: dict[str, Any],
    by_line: dict[int, dict[str, Any]],
    shipped: list[dict[str, Any]],
    shipped_on: dt.datetime,
    profile: SupplierProfile,
    rng: random.Random,
) -> tuple[Invoice, frozenset[int]]:
    """The 810 ``number`` billing one shipment (``shipped``) of PO ``po_number`` (its
    ``order``, its lines by ``po_line``), and the lines it bills by the each."""
    lines, by_each = billed_lines(by_line, shipped, profile, rng)
    invoice = Invoice(
        number,
        now.strftime("%Y%m%d"),
        po_number,
        lines,
        order["po_date"],
        remit_to=profile.gln,
        bill_to=order.get("bill_to_gln", ""),
        ship_to=order.get("ship_to_gln", ""),
        net_days=NET_DAYS,
        shipped_on=shipped_on.strftime("%Y%m%d"),
    )
    return invoice, by_each
