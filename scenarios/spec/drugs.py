"""Drug and IV-fluid items, identified by an FDA National Drug Code (NDC).

Opt-in (``network.drugs``, default 0): the items come after the med-surg
catalog, from a random stream of their own, so a scenario without drugs draws
exactly what it drew before.  Each supplier is a synthetic labeler: its
labeler code and the 10-digit form it uses (4-4-2, 5-3-2, 5-4-1, in turn by
supplier) are made up, not real FDA assignments.  The item carries the
11-digit 5-4-2 billing form (X12 qualifier ``N4``); its GTIN-14 embeds the
10-digit NDC after the ``03`` prefix, as GS1 US allocates them for drugs,
under the packaging-level indicator of the ordering unit.  IV fluids are
ordered by the case of bags (a CA of 12 or 24 EA), vials by the case of boxes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from scenarios.spec._catalog import Entry, Ladder, catalog_item
from sync_core.model import Item, Supplier, Uom, gs1_check_digit
from sync_core.ndc import NDC10_FORMS, to_ndc11

__all__ = ["DRUG_CATALOG", "drug_items"]

_BAGS_12: Ladder = ((Uom.CA, 12, Uom.EA),)
_BAGS_24: Ladder = ((Uom.CA, 24, Uom.EA),)
_VIALS: Ladder = ((Uom.CA, 4, Uom.BX), (Uom.BX, 25, Uom.EA))
# (description, UNSPSC class in segment 51 drugs and pharmaceuticals, ladder, critical kind)
DRUG_CATALOG: tuple[Entry, ...] = (
    ("Sodium chloride 0.9 % injection, {v} mL bag", "51191900", _BAGS_24, True),
    ("Lactated Ringer's injection, {v} mL bag", "51191900", _BAGS_12, True),
    ("Dextrose 5 % injection, {v} mL bag", "51191900", _BAGS_24, True),
    ("Heparin sodium injection, {v} units/mL vial", "51141500", _VIALS, False),
)
_VOLUMES = {"mL bag": ["250", "500", "1000"], "units/mL vial": ["1000", "5000"]}


def _ndc10(supplier_index: int, n: int) -> str:
    """The supplier's synthetic labeler code, in its form, and product/package ``n``."""
    form = tuple(NDC10_FORMS)[supplier_index % len(NDC10_FORMS)]
    labeler_len, product_len, package_len = NDC10_FORMS[form]
    labeler = f"9{supplier_index + 1:0{labeler_len - 1}d}"
    product = f"{n // 10 + 1:0{product_len}d}"
    package = f"{n % 10 + 1:0{package_len}d}"[-package_len:]
    return f"{labeler}-{product}-{package}"


def drug_items(
    count: int, seed: int, suppliers: Sequence[Supplier], first: int, p_critical: float
) -> list[Item]:
    """``count`` drug and IV-fluid items, numbered on from catalog item ``first``."""
    rng = random.Random(f"{seed}/masterdata/drugs")
    items = []
    for k in range(count):
        index = (first + k) % len(suppliers)
        supplier = suppliers[index]
        entry = DRUG_CATALOG[rng.randrange(len(DRUG_CATALOG))]
        unit = entry[0].split("{v} ")[1]
        ndc10 = _ndc10(index, k // len(suppliers))
        body = f"{5 if entry[2][0][0] == Uom.CA else 3}03{ndc10.replace('-', '')}"
        description = entry[0].format(v=rng.choice(_VOLUMES[unit]))
        draw = (rng, (20.0, 600.0), p_critical)
        gtin = body + gs1_check_digit(body)
        number = first + k + 1
        items.append(
            catalog_item(entry, description, gtin, supplier, number, draw, to_ndc11(ndc10))
        )
    return items
