"""Master data for a scenario's network, generated from its seed.

Hospitals, distribution centers and the central procurement office get GLNs
under one GS1 company prefix; suppliers get their own prefix, an EDI id and
a catalog of items with GTIN-14s, UNSPSC classes and unit-of-measure ladders
(and, opt-in, drugs and IV fluids by NDC: :mod:`scenarios.spec.drugs`).
Names come from Faker seeded with the scenario seed, so the same seed always
yields the same network.  Everything is built as canonical models, so every
identifier is check-digit valid by construction.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from faker import Faker

from emulators.supplier import SupplierProfile
from scenarios.spec._catalog import Entry, catalog_item
from scenarios.spec.drugs import drug_items
from scenarios.spec.models import NetworkSpec
from scenarios.spec.partners import edi_id, partner_profiles
from sync_core.mappers.x12 import CrossReference, ItemReference, Party
from sync_core.model import Item, Location, LocationKind, Supplier, Uom, gs1_check_digit

__all__ = ["MasterData", "cross_reference", "generate", "po_lines", "supplier_profile"]

# (description, UNSPSC class, order UoM ladder, clinical-critical candidate)
_CATALOG: tuple[Entry, ...] = (
    (
        "Nitrile exam gloves, size {s}",
        "42132200",
        ((Uom.CA, 10, Uom.BX), (Uom.BX, 100, Uom.EA)),
        False,
    ),
    ("IV administration set, {d} drops/mL", "42221500", ((Uom.CA, 48, Uom.EA),), True),
    ("IV extension set, {l} cm", "42221500", ((Uom.CA, 50, Uom.EA),), True),
    ("IV catheter, {g} G", "42221500", ((Uom.BX, 50, Uom.EA),), True),
    (  # sterile sponges come sealed in packs of 5: a BX holds 5 PK of 5 EA
        "Sterile gauze dressing, {c} cm",
        "42311500",
        ((Uom.CA, 12, Uom.BX), (Uom.BX, 5, Uom.PK), (Uom.PK, 5, Uom.EA)),
        False,
    ),
    ("Hypodermic syringe, {m} mL", "42142600", ((Uom.CA, 8, Uom.BX), (Uom.BX, 100, Uom.EA)), False),
    ("Hypodermic needle, {g} G", "42142500", ((Uom.CA, 10, Uom.BX), (Uom.BX, 100, Uom.EA)), True),
)
_SIZES = {
    "s": ["S", "M", "L", "XL"],
    "d": ["10", "15", "20", "60"],
    "l": ["15", "30", "50"],
    "g": ["18", "20", "22", "24"],
    "c": ["5x5", "10x10"],
    "m": ["3", "5", "10", "20"],
}


@dataclass(frozen=True)
class MasterData:
    procurement_office: Location
    hospitals: tuple[Location, ...]
    distribution_centers: tuple[Location, ...]
    suppliers: tuple[Supplier, ...]
    items: tuple[Item, ...]
    serving_dc: dict[str, Location]  # hospital GLN -> its distribution center

    _catalogs: dict[str, tuple[Item, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_supplier: dict[str, list[Item]] = {}
        for i in self.items:
            by_supplier.setdefault(i.supplier_id, []).append(i)
        catalogs = {s: tuple(items) for s, items in by_supplier.items()}
        object.__setattr__(self, "_catalogs", catalogs)  # frozen: set once, here

    def catalog(self, supplier_id: str) -> list[Item]:
        """The supplier's items, in the order of ``items`` (indexed: one PO costs O(1))."""
        return list(self._catalogs.get(supplier_id, ()))


def po_lines(
    items: Sequence[Item], rng: random.Random, quantity: tuple[int, int]
) -> list[dict[str, Any]]:
    """The ERP purchase-order lines a buyer orders for ``items``: each a quantity drawn
    from ``rng`` within ``quantity``, one draw per item in order, at the catalog price."""
    return [
        {
            "SupplierItem": i.vendor_part,
            "ItemGTIN": i.gtin,
            "Quantity": rng.randint(*quantity),
            "UOMCode": i.order_uom.value,
            "Price": i.unit_price,
            "CriticalSupply": "Y" if i.critical else "N",
        }
        for i in items
    ]


def cross_reference(master: MasterData) -> CrossReference:
    """The core's trading-partner tables for its 850s, from the network's master data:
    the procurement office bills and buys, each supplier is a vendor party under its
    own GLN on one contract (``GPO-`` and its supplier number: the agreement the ERP's
    contract prices are loaded from, :func:`scenarios.sim.actors.load_masters`), and
    each item carries its ERP item number (the ERP numbers items by GTIN), its
    description, NDC and unit ladder."""
    office = master.procurement_office
    bill_to = Party(office.name, office.gln)
    return CrossReference(
        bill_to=bill_to,
        buyer=bill_to,
        vendors={s.supplier_id: Party(s.name, s.gln) for s in master.suppliers},
        contracts={s.supplier_id: f"GPO-{s.supplier_id}" for s in master.suppliers},
        items={
            i.gtin: ItemReference(
                buyer_item=i.gtin,
                description=i.description,
                ndc=i.ndc or "",
                ladder=tuple((st.uom.value, st.quantity, st.contains.value) for st in i.uom_ladder),
            )
            for i in master.items
        },
        sites={site.gln: site.name for site in (*master.hospitals, *master.distribution_centers)},
    )


def supplier_profile(
    profile: SupplierProfile, master: MasterData, supplier: Supplier
) -> SupplierProfile:
    """``profile`` with the supplier's GLN (its ship-from) and its catalog (vendor part,
    ordered unit, eaches it holds, NDC) when its invoices need one: a drug to name by NDC,
    or billing by the each."""
    items = master.catalog(supplier.supplier_id)
    profile = replace(profile, gln=supplier.gln)
    if not profile.invoice_uom_mismatch_rate and not any(i.ndc for i in items):
        return profile
    catalog = tuple(
        (i.vendor_part, i.order_uom.value, i.each_per(i.order_uom), i.ndc or "") for i in items
    )
    return replace(profile, catalog=catalog)


def trading_profiles(suppliers: Any, master: MasterData) -> dict[str, SupplierProfile]:
    """Each trading partner's profile (``suppliers``: the scenario's section): its own where
    ``suppliers.partners`` names it, with its catalog where its invoices need one."""
    own = partner_profiles(suppliers, [s.edi_id for s in master.suppliers])
    return {s.edi_id: supplier_profile(own[s.edi_id], master, s) for s in master.suppliers}


def _gln(prefix: str, n: int) -> str:
    body = f"{prefix}{n:0{12 - len(prefix)}d}"
    return body + gs1_check_digit(body)


def _gtin(level: int, prefix: str, n: int) -> str:
    body = f"{level}{prefix}{n:0{12 - len(prefix)}d}"
    return body + gs1_check_digit(body)


_SITE_NAMES = {
    LocationKind.HOSPITAL: "General Hospital",
    LocationKind.DISTRIBUTION_CENTER: "Distribution Center",
}


def _sites(prefix: str, first: int, towns: list[str], kind: LocationKind) -> tuple[Location, ...]:
    """One site of ``kind`` per town, the GLNs' location references counting from ``first``."""
    return tuple(
        Location(gln=_gln(prefix, first + i), name=f"{town} {_SITE_NAMES[kind]}", kind=kind)
        for i, town in enumerate(towns)
    )


def generate(spec: NetworkSpec, seed: int) -> MasterData:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(f"{seed}/masterdata")
    provider_prefix = "0860001"  # the health network's GS1 company prefix
    office = Location(
        gln=_gln(provider_prefix, 1),
        name="Central Procurement Office",
        kind=LocationKind.PROCUREMENT_OFFICE,
    )
    city = [fake.unique.city() for _ in range(spec.hospitals + spec.distribution_centers)]
    hospitals = _sites(provider_prefix, 100, city[: spec.hospitals], LocationKind.HOSPITAL)
    dcs = _sites(provider_prefix, 900, city[spec.hospitals :], LocationKind.DISTRIBUTION_CENTER)
    serving = {h.gln: dcs[i % len(dcs)] for i, h in enumerate(hospitals)} if dcs else {}
    suppliers = tuple(
        Supplier(
            supplier_id=f"S{1001 + i}",
            name=fake.unique.company(),
            gln=_gln(f"07{i + 10:03d}00", 1),
            edi_id=edi_id(i),
        )
        for i in range(spec.suppliers)
    )
    candidates = sum(1 for entry in _CATALOG if entry[3]) / len(_CATALOG)
    p_critical = min(1.0, spec.critical_share / candidates)
    items = []
    for n in range(spec.items):
        supplier = suppliers[n % len(suppliers)]
        entry = _CATALOG[rng.randrange(len(_CATALOG))]
        key = entry[0].split("{")[1][0]
        description = entry[0].format(**{key: rng.choice(_SIZES[key])})
        gtin = _gtin(3, f"07{suppliers.index(supplier) + 10:03d}00", n + 1)
        draw = (rng, (8.0, 400.0), p_critical)
        items.append(catalog_item(entry, description, gtin, supplier, n + 1, draw))
    if spec.drugs:
        items += drug_items(spec.drugs, seed, suppliers, len(items), p_critical)
    return MasterData(office, hospitals, dcs, suppliers, tuple(items), serving)
