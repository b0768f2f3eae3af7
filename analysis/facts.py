"""The replicated facts: which system owns each business fact and who must learn it.

This table is data.  Adding a fact is one entry: its name, the flow that
carries it (lag is reported per flow), its owner (system, field) as journalled
by the owning system, and the (system, field) of each replica.  Optional
columns cover what differs between systems:

* ``values``: the owner's value → the value the replica shows for it, when
  the systems spell a status differently (AP's ``approved`` is the ERP's
  ``MATCHED``).  Values not in the map are compared as they are.
* ``replica_key``: a regular expression over the *replica's* entity whose
  group 1 is the owner's entity, when the replica keys the fact more finely
  (AP keys a contract price by vendor, item *and* unit of measure; the ERP by
  vendor and item).
* ``cumulative``: the value only grows (quantities shipped, received,
  invoiced); a replica above every value its owner ever had counted something
  twice — a duplicate effect even when the causes differ.

Entity keys are the emulators' (``po_line:{po}:{line}``,
``invoice:{vendor}:{number}``, ``price:{vendor}:{item}[:{uom}]``).  A fact whose
owner never changed in a run yields no samples.  A replica whose system never
appears in a run (AP in a run without AP) is *not carried* by it and is
reported as such, not judged; when the history's header lists the ``flows``
the architecture carries, that list decides instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FACTS", "FLOWS", "MATCH_STATUS_TO_ERP", "Fact"]

#: AP's invoice statuses as the ERP spells them (``post_invoice_status``).
MATCH_STATUS_TO_ERP: Mapping[str, str] = {
    "received": "UNMATCHED",
    "matched": "MATCHED",
    "approved": "MATCHED",
    "on_hold": "ON_HOLD",
    "paid": "PAID",
}


@dataclass(frozen=True)
class Fact:
    name: str
    flow: str
    owner: tuple[str, str]
    replicas: tuple[tuple[str, str], ...]
    values: Mapping[Any, Any] = field(default_factory=dict)
    replica_key: str | None = None
    cumulative: bool = False

    def as_replica(self, owner_value: Any) -> Any:
        """The value a replica shows for ``owner_value``."""
        try:
            return self.values.get(owner_value, owner_value)
        except TypeError:  # unhashable (a list of hold codes): compared as is
            return owner_value

    def owner_entity(self, replica_entity: str) -> str | None:
        """The owner's entity for a replica's, or None when it does not match the key."""
        if self.replica_key is None:
            return replica_entity
        m = re.match(self.replica_key, replica_entity)
        return m.group(1) if m else None


FACTS: tuple[Fact, ...] = (
    Fact(
        "ordered_qty",
        "po_dispatch",
        ("erp", "ordered_qty"),
        (("supplier", "ordered_qty"), ("ap", "ap_ordered_qty")),
    ),
    Fact("ordered_price", "po_dispatch", ("erp", "ordered_price"), (("ap", "ap_unit_price"),)),
    Fact(
        "confirmed_qty",
        "po_acknowledgment",
        ("supplier", "confirmed_qty"),
        (("erp", "confirmed_qty"), ("wms", "expected_qty")),
    ),
    Fact("ack_status", "po_acknowledgment", ("supplier", "ack_status"), (("erp", "ack_status"),)),
    Fact(
        "shipped_qty",
        "ship_notice",
        ("supplier", "shipped_qty"),
        (("wms", "shipped_qty"),),
        cumulative=True,
    ),
    Fact(
        "received_qty",
        "receipt",
        ("wms", "received_qty"),
        (("erp", "erp_received_qty"), ("ap", "ap_received_qty")),
        cumulative=True,
    ),
    Fact(
        "invoiced_qty",
        "invoice",
        ("supplier", "invoiced_qty"),
        (("ap", "ap_invoiced_qty"),),
        cumulative=True,
    ),
    Fact(
        "match_status",
        "match_status",
        ("ap", "match_status"),
        (("erp", "erp_match_status"),),
        values=MATCH_STATUS_TO_ERP,
    ),
    Fact(
        "contract_price",
        "price",
        ("erp", "contract_price"),
        (("ap", "ap_contract_price"),),
        replica_key=r"^(price:[^:]+:[^:]+):[^:]+$",
    ),
)

FLOWS: tuple[str, ...] = tuple(dict.fromkeys(f.flow for f in FACTS))
