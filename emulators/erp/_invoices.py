"""Invoice match statuses: what AP decided about each supplier invoice against a PO.

Theory of operation: AP posts an invoice's match status against the PO it bills
(``post_invoice_status``); the ERP keeps one record per (supplier, invoice) and
journals ``erp_match_status`` on ``invoice:{supplier}:{invoice}``.  Statuses
follow ``INVOICE_TRANSITIONS``: any status may follow any other, except that
``PAID`` and ``CANCELED`` are final (a repeat of the same final status is
admitted, so a redelivered "paid" is harmless); any other move is 409 naming
``MatchStatus``.  The PO must admit ``invoice`` (not ``CANCELED``).  Invoices
emit no business event: AP owns them.
"""

from __future__ import annotations

from typing import Any

from emulators._base import Reply, body_cause
from emulators.erp._api import Core, api
from emulators.erp._checks import bad, check_fields, one_of, optional, text
from emulators.erp._po_status import admits

__all__ = ["INVOICE_TRANSITIONS", "MATCH_STATUSES", "Invoices"]

MATCH_STATUSES = ("UNMATCHED", "MATCHED", "ON_HOLD", "PAID", "CANCELED")
INVOICE_TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: frozenset(MATCH_STATUSES),
    "UNMATCHED": frozenset(MATCH_STATUSES),
    "MATCHED": frozenset(MATCH_STATUSES),
    "ON_HOLD": frozenset(MATCH_STATUSES),
    "PAID": frozenset({"PAID"}),
    "CANCELED": frozenset({"CANCELED"}),
}


class Invoices(Core):
    """The invoice calls of the :class:`~emulators.erp.Erp`."""

    orders: dict[str, dict[str, Any]]  # kept by the purchase orders

    def _reset_invoices(self) -> None:
        self.invoices: dict[tuple[str, str], dict[str, Any]] = {}

    @api
    def post_invoice_status(
        self, order_number: str, body: Any, idempotency_key: str | None = None
    ) -> Reply:
        """An invoice's match status as AP decided it: ``{"InvoiceNumber",
        "MatchStatus", "HoldReason"?}`` → 200 with the invoice record."""
        operation = "post_invoice_status"
        if (replay := self._admit(operation, order_number, body, idempotency_key)) is not None:
            return replay
        order = self.orders.get(order_number)
        if order is None:
            return bad(404, f"no purchase order {order_number}", "OrderNumber")
        checks = {
            "InvoiceNumber": text,
            "MatchStatus": one_of(*MATCH_STATUSES),
            "HoldReason": optional(text),
        }
        error = check_fields(body, checks, ("InvoiceNumber", "MatchStatus"))
        if error is not None or (error := admits(order, "invoice")) is not None:
            return error
        supplier, number, status = (
            order["SupplierNumber"],
            body["InvoiceNumber"],
            body["MatchStatus"],
        )
        known = self.invoices.get((supplier, number))
        current = known["MatchStatus"] if known else None
        if status not in INVOICE_TRANSITIONS[current]:
            return bad(
                409, f"invoice {number} is {current}: it cannot become {status}", "MatchStatus"
            )
        record = {
            "SupplierNumber": supplier,
            "InvoiceNumber": number,
            "OrderNumber": known["OrderNumber"] if known else order_number,
            "MatchStatus": status,
            "HoldReason": body.get("HoldReason"),
        }
        self.invoices[(supplier, number)] = record
        cause = idempotency_key or body_cause(f"erp:invoice:{order_number}", body)
        entity = f"invoice:{supplier}:{number}"
        self._journal.record(entity, "erp_match_status", status, cause, body.get("CorrelationId"))
        reply = Reply(200, record)
        return self._remember(operation, order_number, body, idempotency_key, reply)

    @api
    def get_invoice(self, supplier_number: str, invoice_number: str) -> Reply:
        record = self.invoices.get((supplier_number, invoice_number))
        if record is None:
            return bad(404, f"no invoice {invoice_number} of {supplier_number}", "InvoiceNumber")
        return Reply(200, record)
