"""One catalog item from a catalog entry: what the med-surg and the drug catalogs share."""

from __future__ import annotations

import random

from sync_core.model import Item, Supplier, Uom, UomStep

__all__ = ["Entry", "Ladder", "catalog_item"]

Ladder = tuple[tuple[Uom, int, Uom], ...]  # (unit, how many, of which unit), largest first
Entry = tuple[str, str, Ladder, bool]  # description template, UNSPSC, ladder, critical kind


def catalog_item(
    entry: Entry,
    description: str,
    gtin: str,
    supplier: Supplier,
    number: int,
    draw: tuple[random.Random, tuple[float, float], float],
    ndc: str | None = None,
) -> Item:
    """The item of ``entry``, catalog number ``number``, ordered by its ladder's top unit;
    ``draw`` = (stream, price range, chance a critical kind is
    critical): the price, then (for a critical kind only) the flag, in that order."""
    _, unspsc, ladder, critical_kind = entry
    rng, prices, p_critical = draw
    steps = tuple(UomStep(uom=u, quantity=q, contains=c) for u, q, c in ladder)
    return Item(
        gtin=gtin,
        description=description,
        unspsc=unspsc,
        supplier_id=supplier.supplier_id,
        vendor_part=f"{supplier.supplier_id[1:]}-{number:05d}",
        order_uom=steps[0].uom,
        uom_ladder=steps,
        unit_price=round(rng.uniform(*prices), 2),
        critical=critical_kind and rng.random() < p_critical,
        ndc=ndc,
    )
