"""How each supplier behaves: its profile (rates and delays) and its random streams.

A :class:`SupplierProfile` is configuration, the same in a scenario file and
the live emulator; the streams give every supplier its own seeded
``random.Random`` per concern, so a change in how one supplier ships cannot
shift how another acknowledges.  Beside them, the network's small tables: its
counters, the shape of an interchange id, and what its outbound X12 cannot write.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, fields
from typing import Any

CHANGE_ORDERS = ("replacement_850", "860")  # SupplierProfile.change_orders
CHANGE_ACKS = ("855", "865")  # SupplierProfile.change_ack


@dataclass(frozen=True)
class SupplierProfile:
    """How one supplier acknowledges, ships and bills (rates are per line or document, 0..1)."""

    partial_rate: float = 0.05
    backorder_rate: float = 0.03
    critical_partial_rate: float = 0.05
    critical_backorder_rate: float = 0.03
    partial_fill: tuple[float, float] = (0.4, 0.6)  # share of the line confirmed
    backorder_days: tuple[int, int] = (7, 21)
    ack_delay_median_s: float = 2700.0
    ack_delay_sigma: float = 0.7
    # line exceptions, exclusive, in this order of precedence (per line)
    reject_rate: float = 0.0  # IR: the whole line
    substitution_rate: float = 0.0  # IS: the whole line, another vendor part
    price_change_rate: float = 0.0  # IP: the confirmed part, at a new price
    price_change: tuple[float, float] = (0.95, 1.10)  # new price / ordered price
    # delivery of the 855 (per PO)
    missing_ack_rate: float = 0.0  # the 855 never comes
    duplicate_rate: float = 0.0  # the VAN delivers the 855 twice (at least once)
    duplicate_delay_s: float = 600.0
    # fulfilment
    ship_notices: bool = False
    ship_delay_median_s: float = 86400.0  # after the acknowledgment
    ship_delay_sigma: float = 0.5
    shelf_life_days: tuple[int, int] = (180, 1095)  # expiry after the ship date
    invoices: bool = False
    invoice_delay_median_s: float = 86400.0  # after the shipment
    invoice_delay_sigma: float = 0.5
    duplicate_invoice_rate: float = 0.0  # AP audit-recovery practice: ~0.5 % (weak)
    duplicate_invoice_delay_s: float = 14 * 86400.0
    # functional acknowledgments (997) and the envelope (ASC X12 004010)
    # a 997 for each 850 group, and interchanges journalled for the ack lag; False: a partner
    # that never sends one (the default: what the network did before 997s existed)
    functional_acks: bool = False
    fa_delay_median_s: float = 120.0  # receipt to 997 (a late partner: hours)
    fa_delay_sigma: float = 0.5
    fa_reject_rate: float = 0.0  # share of 850 sets rejected (AK5 R naming PO103, code 7)
    ta1_requested: bool = False  # ISA14 of what it sends: 1 asks for a TA1
    # billing by another unit than ordered (emulators.supplier._uom): the share of invoices
    # that bill each pack-ordered line by the each, and the supplier's catalog that says how
    # many eaches a line's unit holds: (vendor part, ordered unit, eaches, NDC or "")
    invoice_uom_mismatch_rate: float = 0.0
    catalog: tuple[tuple[str, str, int, str], ...] = ()
    # the supplier's own GLN (13 digits; "" if master data has none): its 856's ship-from
    # (N1*SF) and the GS1 company prefix of its SSCCs and bills of lading
    gln: str = ""
    # change orders (ASC X12 004010; emulators.supplier._changes): how the buyer must send
    # a change to this partner, "replacement_850" (BEG01 05, the default: what the network
    # took before 860s existed) or "860" (POC02 AI/CA/DI/PC/QD/QI); and how the partner
    # answers a change, with a revised "855" (every line) or an "865" (the changed lines)
    change_orders: str = "replacement_850"
    change_ack: str = "855"

    def __post_init__(self) -> None:
        if self.change_orders not in CHANGE_ORDERS:
            raise ValueError(f"change_orders: {self.change_orders!r} is not one of {CHANGE_ORDERS}")
        if self.change_ack not in CHANGE_ACKS:
            raise ValueError(f"change_ack: {self.change_ack!r} is not one of {CHANGE_ACKS}")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_rate") and not 0.0 <= value <= 1.0:
                raise ValueError(f"{f.name}: {value} is not within 0..1")
            if (f.name.endswith("_s") or f.name.endswith("_sigma")) and value < 0:
                raise ValueError(f"{f.name}: {value} is negative")
        if self.reject_rate + self.substitution_rate + self.price_change_rate > 1.0:
            raise ValueError("reject_rate + substitution_rate + price_change_rate exceed 1")
        for name in ("price_change", "shelf_life_days"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"{name}: expected 0 < low <= high, got {(low, high)}")


@dataclass
class _Streams:
    fill: random.Random  # ack delay on receipt, then the fill of each line
    ack: random.Random  # exceptions and delivery of the 855
    shipping: random.Random
    invoicing: random.Random
    fa: random.Random  # 997s: the rejections, then the delay
    changes: random.Random  # change orders: the answer's delay, added quantities' fill


_COUNTERS = (
    "orders_received",
    "repeats_ignored",
    "orders_canceled",
    "acks_sent",
    "acks_withheld",
    "ack_duplicates",
    "ship_notices",
    "invoices",
    "invoice_duplicates",
    "fa_sent",  # 997s sent for 850 groups
    "fa_rejected",  # 850 sets those 997s rejected (AK5 R)
    "fa_received",  # 997s the buyer sent for this supplier's groups
    "changes_received",  # 860s entered
    "change_acks_sent",  # 865s (or revised 855s) answering them
    "interchanges",  # ISA13 of the last interchange this supplier sent
)


_EDI_ID = re.compile(r"[A-Za-z0-9]{1,15}")
_OUR_DELIMITERS = ("*", "~", ">", "^")


def _unwritable(order: dict[str, Any]) -> tuple[str, str] | None:
    """The first value of an inbound order that our outbound X12 could not write."""
    values = [("BEG03", str(order.get("customer_po", "")))]
    for line in [*order.get("lines", []), *order.get("changes", [])]:
        values.append(("PO104", str(line.get("price", ""))))
        values.append(("PO107", str(line.get("vendor_part", ""))))
        values.append(("PO109", str(line.get("gtin", ""))))
    for element, value in values:
        if any(d in value for d in _OUR_DELIMITERS):
            return element, value
    return None


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    """A lognormal delay around ``median`` (one draw of ``rng``)."""
    return median * math.exp(rng.gauss(0.0, sigma))
