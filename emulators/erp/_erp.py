"""The ERP as one system: its settings, its state as a whole, reset and snapshot."""

from __future__ import annotations

import copy
import datetime as dt
import math
from collections.abc import Callable
from typing import Any

from emulators._base import Journal
from emulators.erp._invoices import Invoices
from emulators.erp._masters import Masters
from emulators.erp._orders import PurchaseOrders
from emulators.limits import DEFAULT_LIMITS, Limits

__all__ = ["Erp"]


class Erp(PurchaseOrders, Invoices, Masters):
    """A cloud ERP's purchasing module (see :mod:`emulators.erp`).

    ``clock`` gives seconds since ``epoch``; ``first_order_number`` starts the PO
    numbering; ``rate_limit_per_s`` (None: no limit) and ``burst`` (default: one
    second's worth, at least 1) shape the API's token bucket;
    ``over_receipt_tolerance`` is how far past the ordered quantity a line may be
    received (0.10: 10 %, rounded down to whole units); ``limits`` bound every
    document written to it (strings, lines, quantities, prices).
    """

    system = "erp"

    def __init__(
        self,
        journal: Journal,
        clock: Callable[[], float],
        epoch: dt.datetime,
        *,
        first_order_number: int = 4500000001,
        rate_limit_per_s: float | None = None,
        burst: int | None = None,
        over_receipt_tolerance: float = 0.10,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        if rate_limit_per_s is not None and rate_limit_per_s <= 0:
            raise ValueError("rate_limit_per_s must be > 0 (or None for no limit)")
        if burst is not None and burst < 1:
            raise ValueError("burst must be >= 1")
        super().__init__(journal, clock, epoch, limits)
        self._first_number = first_order_number
        self._rate = rate_limit_per_s
        self._burst = float(burst if burst is not None else max(1, math.ceil(self._rate or 1)))
        self._tolerance = over_receipt_tolerance
        self.reset()

    def reset(self) -> None:
        """Back to an empty ERP (listeners stay subscribed)."""
        self._reset_core()
        self._reset_orders()
        self._reset_masters()
        self._reset_invoices()

    def snapshot(self) -> dict[str, Any]:
        """The ERP's state as JSON-able data: documents, masters and counters."""
        return copy.deepcopy(
            {
                "orders": self.orders,
                "items": [r for _, r in sorted(self.masters["item"].items())],
                "vendors": [r for _, r in sorted(self.masters["vendor"].items())],
                "contract_prices": [r for _, r in sorted(self.masters["contract_price"].items())],
                "locations": [r for _, r in sorted(self.masters["location"].items())],
                "invoices": [r for _, r in sorted(self.invoices.items())],
                "counters": {
                    "next_order_number": self._next_number,
                    "next_event": self._next_event,
                    "idempotency_keys": len(self._idempotency),
                },
            }
        )
