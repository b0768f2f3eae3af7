"""What the core's 850 says beyond the purchase order: parties, contracts and item data.

A purchase order from the ERP names its items by GTIN and vendor part, its
ship-to by GLN; a trading partner's order entry wants more (ASC X12 004010,
850): the bill-to, buyer and vendor parties (``N1*BT``/``BY``/``VN`` with GLNs),
the contract the prices come from (``REF*CT``, PO105 ``CT``), the buyer's own
item number (PO1 ``BP``), the drug's NDC (``N4``), a description (``PID*F``)
and, for a unit that is a pack, what it holds (``PO4``).  The integration keeps
that as a cross reference, loaded from the network's master data when the core
is set up, as a translator keeps its trading-partner tables.  Without one (or
for an item it does not know) the 850 carries what the purchase order alone
says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["CrossReference", "ItemReference", "Party"]


@dataclass(frozen=True)
class Party:
    """An N1 party: its name (N102) and GLN (N104, qualifier ``UL``)."""

    name: str
    gln: str


@dataclass(frozen=True)
class ItemReference:
    """What the 850 says of one item besides its GTIN and vendor part."""

    buyer_item: str  # PO1 BP: the item number in the buyer's own item master
    description: str  # PID*F
    ndc: str = ""  # PO1 N4: a drug's NDC, 11-digit 5-4-2 billing form
    # the unit ladder, top down: (unit, how many of the next unit, that unit), e.g.
    # (("CA", 10, "BX"), ("BX", 100, "EA")); what PO4 says of a pack unit
    ladder: tuple[tuple[str, int, str], ...] = ()

    def pack(self, uom: str) -> tuple[int, int, str] | None:
        """PO401..PO403 for ordering by ``uom``: inner units per ``uom``, the size of
        each inner unit in the ladder's smallest unit, and that unit; None for a unit
        that is no pack (the smallest, or one the ladder does not hold)."""
        units = [step[0] for step in self.ladder]
        if uom not in units:
            return None
        below = self.ladder[units.index(uom) :]
        size = 1
        for _, quantity, _ in below[1:]:
            size *= quantity
        return below[0][1], size, below[-1][2]


@dataclass(frozen=True)
class CrossReference:
    """The parties and items the core's 850s name (see the module docstring)."""

    bill_to: Party  # N1*BT: who pays (the procurement office)
    buyer: Party  # N1*BY: who orders
    vendors: Mapping[str, Party] = field(default_factory=dict)  # supplier number → N1*VN
    contracts: Mapping[str, str] = field(default_factory=dict)  # supplier number → REF*CT
    items: Mapping[str, ItemReference] = field(default_factory=dict)  # GTIN → item data
    sites: Mapping[str, str] = field(default_factory=dict)  # ship-to GLN → N102 name
