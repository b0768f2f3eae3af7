"""The replicated facts: which system owns each business fact and who must learn it.

This table is data.  Adding a fact is one entry: its owner (system, field) as
journalled by the owning system, and the (system, field) of each replica.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FACTS", "FLOWS", "Fact"]


@dataclass(frozen=True)
class Fact:
    name: str
    flow: str
    owner: tuple[str, str]
    replicas: tuple[tuple[str, str], ...]


FACTS: tuple[Fact, ...] = (
    Fact("ordered_qty", "po_dispatch", ("erp", "ordered_qty"), (("supplier", "ordered_qty"),)),
    Fact(
        "confirmed_qty",
        "po_acknowledgment",
        ("supplier", "confirmed_qty"),
        (("erp", "confirmed_qty"), ("wms", "expected_qty")),
    ),
    Fact("ack_status", "po_acknowledgment", ("supplier", "ack_status"), (("erp", "ack_status"),)),
)

FLOWS: tuple[str, ...] = tuple(dict.fromkeys(f.flow for f in FACTS))
