"""A cloud ERP's purchasing module: purchase orders, lines and open commitments.

Theory of operation: buyers create purchase orders (``create_purchase_order``);
each gets an ``OrderNumber``, ``RevisionNumber`` 1 and status ``OPEN``, and
every line holds an open commitment equal to its ordered quantity.  The ERP
announces each change with a thin business event (keys only, like Oracle
Fusion's): ``{"eventId", "eventType": "PurchaseOrderChanged", "OrderNumber"}``
to its subscribers, who call back to read the document.  Readers page through
orders changed since a time with offset/limit and ``hasMore``.

A supplier acknowledgment is posted per order (``post_acknowledgment``); it
sets each line's confirmed and backordered quantity, status and promised date,
and moves the open commitment to the confirmed quantity.  An
``Idempotency-Key`` makes a repeated post a no-op that returns the first reply;
without one, a repeated post is applied again (and journalled again), as in an
ERP that trusts its callers.

Native field names are the ERP's own (Fusion-like PascalCase); the sync core's
mappers translate them.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from typing import Any

from emulators._base import Journal, Reply, body_cause, problem

__all__ = ["Erp"]

_LINE_UPDATE_FIELDS = {
    "LineNumber": int,
    "SupplierConfirmedQuantity": int,
    "BackorderedQuantity": int,
    "AcknowledgmentStatus": str,
}


class Erp:
    system = "erp"

    def __init__(
        self,
        journal: Journal,
        clock: Callable[[], float],
        epoch: dt.datetime,
        *,
        first_order_number: int = 4500000001,
    ) -> None:
        self._journal = journal
        self._clock = clock
        self._epoch = epoch
        self._next_number = first_order_number
        self._next_event = 1
        self.orders: dict[str, dict[str, Any]] = {}
        self._updated: dict[str, str] = {}
        self._idempotency: dict[str, Reply] = {}
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    # -- buyers ---------------------------------------------------------------

    def create_purchase_order(
        self,
        *,
        supplier_number: str,
        ship_to_gln: str,
        department: str,
        need_by: dt.date,
        lines: list[dict[str, Any]],
        correlation_id: str | None = None,
    ) -> dict[str, Any]:
        """Create and approve a PO; ``lines`` hold SupplierItem, ItemGTIN, Quantity,
        UOMCode, Price and CriticalSupply ("Y"/"N")."""
        number = str(self._next_number)
        self._next_number += 1
        now = self._now()
        order: dict[str, Any] = {
            "OrderNumber": number,
            "SupplierNumber": supplier_number,
            "ShipToLocationGLN": ship_to_gln,
            "RequesterDepartment": department,
            "Status": "OPEN",
            "OrderDate": now.date().isoformat(),
            "NeedByDate": need_by.isoformat(),
            "RevisionNumber": 1,
            "LastUpdateDate": now.isoformat(timespec="milliseconds"),
            "AcknowledgmentRevision": 0,
            "lines": [
                {
                    "LineNumber": n,
                    "SupplierItem": line["SupplierItem"],
                    "ItemGTIN": line["ItemGTIN"],
                    "Quantity": line["Quantity"],
                    "UOMCode": line["UOMCode"],
                    "Price": line["Price"],
                    "CriticalSupply": line.get("CriticalSupply", "N"),
                    "OpenCommitmentQuantity": line["Quantity"],
                    "SupplierConfirmedQuantity": None,
                    "BackorderedQuantity": None,
                    "AcknowledgmentStatus": None,
                    "PromisedDate": None,
                }
                for n, line in enumerate(lines, start=1)
            ],
        }
        self.orders[number] = order
        cause = f"erp:create:{number}"
        for line in order["lines"]:
            entity = f"po_line:{number}:{line['LineNumber']}"
            self._journal.record(entity, "ordered_qty", line["Quantity"], cause, correlation_id)
        self._changed(number)
        return order

    # -- API ------------------------------------------------------------------

    def get_purchase_order(self, order_number: str) -> Reply:
        order = self.orders.get(order_number)
        if order is None:
            return problem(404, "Not Found", f"no purchase order {order_number}", "OrderNumber")
        etag = f'"{order["RevisionNumber"]}.{order["AcknowledgmentRevision"]}"'
        return Reply(200, copy.deepcopy(order), {"etag": etag})

    def list_purchase_orders(self, *, updated_since: str, offset: int, limit: int) -> Reply:
        """Orders whose ``LastUpdateDate`` is at or after ``updated_since`` (ISO 8601),
        oldest first, paged."""
        try:
            since = dt.datetime.fromisoformat(updated_since).isoformat(timespec="milliseconds")
        except ValueError:
            return problem(400, "Bad Request", "must be an ISO 8601 date-time", "updatedSince")
        if offset < 0:
            return problem(400, "Bad Request", "offset must be >= 0", "offset")
        if not 1 <= limit <= 500:
            return problem(400, "Bad Request", "limit must be within 1..500", "limit")
        changed = sorted((t, n) for n, t in self._updated.items() if t >= since)
        page = changed[offset : offset + limit]
        return Reply(
            200,
            {
                "items": [copy.deepcopy(self.orders[n]) for _, n in page],
                "count": len(page),
                "offset": offset,
                "limit": limit,
                "hasMore": offset + limit < len(changed),
            },
        )

    def post_acknowledgment(
        self, order_number: str, body: Any, idempotency_key: str | None = None
    ) -> Reply:
        if idempotency_key is not None and idempotency_key in self._idempotency:
            return self._idempotency[idempotency_key]
        order = self.orders.get(order_number)
        if order is None:
            return problem(404, "Not Found", f"no purchase order {order_number}", "OrderNumber")
        error = _check_acknowledgment(body, {ln["LineNumber"] for ln in order["lines"]})
        if error is not None:
            return error
        cause = idempotency_key or body_cause(f"erp:ack:{order_number}", body)
        correlation_id = body.get("CorrelationId")
        by_number = {ln["LineNumber"]: ln for ln in order["lines"]}
        for update in body["lines"]:
            line = by_number[update["LineNumber"]]
            confirmed = update["SupplierConfirmedQuantity"]
            line["SupplierConfirmedQuantity"] = confirmed
            line["BackorderedQuantity"] = update["BackorderedQuantity"]
            line["AcknowledgmentStatus"] = update["AcknowledgmentStatus"]
            line["PromisedDate"] = update.get("PromisedDate")
            line["OpenCommitmentQuantity"] = confirmed + update["BackorderedQuantity"]
            entity = f"po_line:{order_number}:{line['LineNumber']}"
            self._journal.record(entity, "confirmed_qty", confirmed, cause, correlation_id)
            self._journal.record(
                entity, "ack_status", update["AcknowledgmentStatus"], cause, correlation_id
            )
        order["AcknowledgmentRevision"] = body["AcknowledgmentRevision"]
        self._changed(order_number)
        reply = Reply(200, {"OrderNumber": order_number, "lines": len(body["lines"])})
        if idempotency_key is not None:
            self._idempotency[idempotency_key] = reply
        return reply

    # -- internals ------------------------------------------------------------

    def _now(self) -> dt.datetime:
        return self._epoch + dt.timedelta(seconds=self._clock())

    def _changed(self, order_number: str) -> None:
        order = self.orders[order_number]
        stamp = self._now().isoformat(timespec="milliseconds")
        order["LastUpdateDate"] = stamp
        self._updated[order_number] = stamp
        event = {
            "eventId": f"erp-evt-{self._next_event}",
            "eventType": "PurchaseOrderChanged",
            "OrderNumber": order_number,
        }
        self._next_event += 1
        for listener in self.listeners:
            listener(event)


def _check_acknowledgment(body: Any, line_numbers: set[int]) -> Reply | None:
    if not isinstance(body, dict):
        return problem(400, "Bad Request", "body must be a JSON object", "")
    revision = body.get("AcknowledgmentRevision")
    if not isinstance(revision, int) or revision < 1:
        return problem(
            422, "Unprocessable Content", "must be an integer >= 1", "AcknowledgmentRevision"
        )
    lines = body.get("lines")
    if not isinstance(lines, list) or not lines:
        return problem(422, "Unprocessable Content", "must be a non-empty list", "lines")
    for i, update in enumerate(lines):
        if not isinstance(update, dict):
            return problem(422, "Unprocessable Content", "must be an object", f"lines[{i}]")
        for name, kind in _LINE_UPDATE_FIELDS.items():
            if not isinstance(update.get(name), kind):
                return problem(
                    422, "Unprocessable Content", f"must be {kind.__name__}", f"lines[{i}].{name}"
                )
        if update["LineNumber"] not in line_numbers:
            return problem(
                422, "Unprocessable Content", "no such line on this order", f"lines[{i}].LineNumber"
            )
    return None
