"""Purchase orders: their lifecycle, the line status machine, and the calls that move it.

Theory of operation
-------------------
A PO is born ``OPEN`` with ``RevisionNumber`` 1 (``create_purchase_order`` in the
buyers' UI, ``post_purchase_order`` over the API), every line holding an open
commitment equal to its ordered quantity.  Each line then moves through
the status machine of ``_po_status`` (``LINE_TRANSITIONS``, ``PO_OPERATIONS``).
Every change is planned in full before any of it is applied,
so a call refused on its last line applies none of the others.

The open commitment of a line is what is still expected from the supplier:
(ordered, or confirmed + backordered once acknowledged) minus what was received,
never below zero; a canceled line commits nothing.  Only the buyer's changes bump
``RevisionNumber``; every change of the document bumps its strong ``ETag``
(``"<RevisionNumber>.<AcknowledgmentRevision>.<changes>"``), stamps
``LastUpdateDate`` and emits one thin ``PurchaseOrderChanged`` event.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any, TypeVar

from emulators._base import Reply, body_cause, check_paging, copy_document, page
from emulators.erp._api import Core, api, none_match, precondition
from emulators.erp._checks import (
    CASE_FIELDS,
    NEW_LINE_FIELDS,
    NEW_LINE_REQUIRED,
    ORDER_FIELDS,
    Check,
    bad,
    check_acknowledgment,
    check_case,
    check_fields,
    check_new_lines,
    count,
    iso_date,
    non_empty_list,
    one_of,
    price,
    text,
)
from emulators.erp._masters import unknown_master
from emulators.erp._po_status import (
    CANCELED,
    LINE_TRANSITIONS,
    OPEN,
    admits,
    header_status,
)

__all__ = ["PurchaseOrderRefused", "PurchaseOrders"]


class PurchaseOrderRefused(ValueError):
    """The buyers' UI refused a purchase order; ``reply`` is the problem it showed."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.body.get("detail"), reply.body.get("field"))
        self.reply = reply


# (step, line, the caller's update, the line's next status)
_ChangePlan = list[tuple[str, dict[str, Any], dict[str, Any], str]]
# (line, quantity received, the line's next status)
_ReceiptPlan = list[tuple[dict[str, Any], int, str]]
# what a write's plan checked and found: the lines by number, or the steps above
_Plan = TypeVar("_Plan")


class PurchaseOrders(Core):
    """The PO calls of the :class:`~emulators.erp.Erp`."""

    _first_number: int
    _tolerance: float
    masters: dict[str, dict[tuple[str, ...], dict[str, Any]]]  # kept by the masters

    def _reset_orders(self) -> None:
        self._next_number = self._first_number
        self.orders: dict[str, dict[str, Any]] = {}
        self._updated: dict[str, str] = {}
        self._po_versions: dict[str, int] = {}

    # -- buyers (the ERP's own UI: no rate limit, no idempotency key) ----------

    def create_purchase_order(
        self,
        *,
        supplier_number: str,
        ship_to_gln: str,
        department: str,
        need_by: dt.date,
        lines: list[dict[str, Any]],
        correlation_id: str | None = None,
        case: tuple[str, dt.date] | None = None,
    ) -> dict[str, Any]:
        """Create and approve a PO; ``lines`` hold SupplierItem, ItemGTIN, Quantity,
        UOMCode, Price and CriticalSupply ("Y"/"N"); ``case`` (the patient's MRN and the
        procedure date) makes it a case PO.  Returns a copy of the order;
        raises :class:`PurchaseOrderRefused` when the ERP refuses it."""
        body = {
            "SupplierNumber": supplier_number,
            "ShipToLocationGLN": ship_to_gln,
            "RequesterDepartment": department,
            "NeedByDate": need_by.isoformat(),
            "lines": lines,
        }
        if case is not None:
            body["PatientMRN"], body["ProcedureDate"] = case[0], case[1].isoformat()
        error = self._past_limits(body) or self._check_order(body)
        if error is not None:
            raise PurchaseOrderRefused(error)
        order: dict[str, Any] = copy_document(self._open_order(body, None, correlation_id))
        return order

    def edit_confirmation(self, order_number: str, line_number: int, confirmed: int) -> None:
        """A person overwrites a line's supplier-confirmed quantity in the ERP's own screens
        (a "manual edit": drift the integration did not cause).  No new PO revision; the PO
        changes, so it is announced like any change."""
        order = self.orders[order_number]
        line = next(ln for ln in order["lines"] if ln["LineNumber"] == line_number)
        line["SupplierConfirmedQuantity"] = confirmed
        cause = f"erp:manual:{order_number}:{line_number}:{self._next_event}"
        self._journal.record(
            f"po_line:{order_number}:{line_number}", "confirmed_qty", confirmed, cause, None
        )
        self._changed(order_number, "EDIT")

    # -- API: purchase orders ---------------------------------------------------

    @api
    def post_purchase_order(self, body: Any, idempotency_key: str | None = None) -> Reply:
        """Create and approve a PO from its native document → 201 with the PO."""
        if (replay := self._admit("post_purchase_order", None, body, idempotency_key)) is not None:
            return replay
        error = self._check_order(body)
        if error is not None:
            return error
        order = self._open_order(body, idempotency_key, body.get("CorrelationId"))
        reply = Reply(201, order, {"etag": self._po_etag(order["OrderNumber"])})
        return self._remember("post_purchase_order", None, body, idempotency_key, reply)

    @api
    def get_purchase_order(self, order_number: str, if_none_match: str | None = None) -> Reply:
        order = self.orders.get(order_number)
        if order is None:
            return bad(404, f"no purchase order {order_number}", "OrderNumber")
        etag = self._po_etag(order_number)
        if if_none_match is not None and none_match(if_none_match, etag):
            return Reply(304, None, {"etag": etag})
        return Reply(200, order, {"etag": etag})

    @api
    def list_purchase_orders(
        self, *, updated_since: str, offset: int = 0, limit: int = 25
    ) -> Reply:
        """Orders whose ``LastUpdateDate`` is at or after ``updated_since`` (ISO 8601),
        oldest first, paged."""
        try:
            since = dt.datetime.fromisoformat(updated_since).isoformat(timespec="milliseconds")
        except (TypeError, ValueError):
            return bad(400, "must be an ISO 8601 date-time", "updatedSince")
        if (error := check_paging(offset, limit)) is not None:
            return error
        changed = sorted((t, n) for n, t in self._updated.items() if t >= since)
        return page([self.orders[n] for _, n in changed], offset, limit)

    @api
    def change_purchase_order(
        self,
        order_number: str,
        body: Any,
        if_match: str | None = None,
        idempotency_key: str | None = None,
    ) -> Reply:
        """A buyer's change order (860-style).  ``body`` is ``{"Action": "CANCEL"}`` to
        cancel the PO, or ``{"lines": [...]}`` where each entry is
        ``{"LineNumber", "Quantity"?, "Price"?}`` (change), ``{"LineNumber",
        "Action": "CANCEL"}`` or ``{"Action": "ADD", <new line fields>}``.
        Bumps ``RevisionNumber``; → 200 with the PO."""
        operation = "change_purchase_order"
        found = self._planned(operation, "change", order_number, body, idempotency_key, if_match,
                              self._plan_change)  # fmt: skip
        if isinstance(found, Reply):
            return found
        order, plan, cause = found
        for step, line, update, status in plan:
            if step == "add":
                order["lines"].append(line)
                self._record_line(order_number, line, "ordered_qty", line["Quantity"], cause, body)
                self._record_line(order_number, line, "ordered_price", line["Price"], cause, body)
                continue
            if self._move_line(order_number, line, status, cause, body) and status == CANCELED:
                # a canceled line orders, and is confirmed, nothing
                self._record_line(order_number, line, "ordered_qty", 0, cause, body)
                if line["SupplierConfirmedQuantity"]:
                    line["SupplierConfirmedQuantity"] = 0
                    self._record_line(order_number, line, "confirmed_qty", 0, cause, body)
            if "Quantity" in update:
                line["Quantity"] = update["Quantity"]
                self._record_line(order_number, line, "ordered_qty", line["Quantity"], cause, body)
            if "Price" in update:
                line["Price"] = update["Price"]
                self._record_line(order_number, line, "ordered_price", line["Price"], cause, body)
            if "Quantity" in update or status == CANCELED:
                line["OpenCommitmentQuantity"] = _commitment(line, line["Quantity"])
        order["RevisionNumber"] += 1
        order["Status"] = header_status(order["lines"])
        return self._written(operation, order_number, "REVISION", body, idempotency_key, 200, order)

    @api
    def post_acknowledgment(
        self,
        order_number: str,
        body: Any,
        idempotency_key: str | None = None,
        *,
        if_match: str | None = None,
    ) -> Reply:
        operation = "post_acknowledgment"
        found = self._planned(operation, "ack", order_number, body, idempotency_key, if_match,
                              self._plan_acknowledgment)  # fmt: skip
        if isinstance(found, Reply):
            return found
        order, by_number, cause = found
        correlation_id = body.get("CorrelationId")
        for update in body["lines"]:
            line = by_number[update["LineNumber"]]
            confirmed = update["SupplierConfirmedQuantity"]
            line["SupplierConfirmedQuantity"] = confirmed
            line["BackorderedQuantity"] = update["BackorderedQuantity"]
            line["AcknowledgmentStatus"] = update["AcknowledgmentStatus"]
            line["PromisedDate"] = update.get("PromisedDate")
            line["OpenCommitmentQuantity"] = _commitment(
                line, confirmed + update["BackorderedQuantity"]
            )
            entity = f"po_line:{order_number}:{line['LineNumber']}"
            self._journal.record(entity, "confirmed_qty", confirmed, cause, correlation_id)
            self._journal.record(
                entity, "ack_status", update["AcknowledgmentStatus"], cause, correlation_id
            )
        order["AcknowledgmentRevision"] = body["AcknowledgmentRevision"]
        answer = {"OrderNumber": order_number, "lines": len(body["lines"])}
        return self._written(
            operation, order_number, "ACKNOWLEDGMENT", body, idempotency_key, 200, answer
        )

    @api
    def post_receipt(
        self,
        order_number: str,
        body: Any,
        idempotency_key: str | None = None,
        *,
        if_match: str | None = None,
    ) -> Reply:
        """Goods received against a PO: ``{"ReceiptNumber", "lines": [{"LineNumber",
        "QuantityReceived"}]}`` → 201.  Over-receipt beyond the tolerance → 422."""
        operation = "post_receipt"
        found = self._planned(operation, "receipt", order_number, body, idempotency_key, if_match,
                              self._plan_receipt)  # fmt: skip
        if isinstance(found, Reply):
            return found
        order, plan, cause = found
        received = []
        for line, quantity, status in plan:
            line["ReceivedQuantity"] += quantity
            line["OpenCommitmentQuantity"] = max(0, line["OpenCommitmentQuantity"] - quantity)
            total = line["ReceivedQuantity"]
            self._record_line(order_number, line, "erp_received_qty", total, cause, body)
            self._move_line(order_number, line, status, cause, body)
            received.append(
                {
                    "LineNumber": line["LineNumber"],
                    "ReceivedQuantity": total,
                    "OpenCommitmentQuantity": line["OpenCommitmentQuantity"],
                    "LineStatus": status,
                }
            )
        order["Status"] = header_status(order["lines"])
        answer = {"ReceiptNumber": body["ReceiptNumber"], "OrderNumber": order_number,
                  "lines": received}  # fmt: skip
        return self._written(operation, order_number, "RECEIPT", body, idempotency_key, 201, answer)

    # -- internals ----------------------------------------------------------------

    def _check_order(self, body: Any) -> Reply | None:
        """The order's own checks; its limits are checked first by the caller (the API's
        admission, or :meth:`create_order`), once."""
        required = tuple(ORDER_FIELDS)
        error = (
            check_fields(body, {**ORDER_FIELDS, **CASE_FIELDS}, required)
            or check_case(body)
            or check_new_lines(body["lines"])
        )
        if error is not None:
            return error
        vendor = self.masters["vendor"].get((body["SupplierNumber"],))
        if vendor is not None and vendor["Status"] != "ACTIVE":
            detail = f"supplier {body['SupplierNumber']} is {vendor['Status']}"
            return bad(422, detail, "SupplierNumber")
        return unknown_master(self.masters, body)

    def _open_order(
        self, body: dict[str, Any], idempotency_key: str | None, correlation_id: str | None
    ) -> dict[str, Any]:
        number = str(self._next_number)
        self._next_number += 1
        now = self._now()
        order: dict[str, Any] = {
            "OrderNumber": number,
            "SupplierNumber": body["SupplierNumber"],
            "ShipToLocationGLN": body["ShipToLocationGLN"],
            "RequesterDepartment": body["RequesterDepartment"],
            "Status": OPEN,
            "OrderDate": now.date().isoformat(),
            "NeedByDate": body["NeedByDate"],
            "RevisionNumber": 1,
            "LastUpdateDate": now.isoformat(timespec="milliseconds"),
            "AcknowledgmentRevision": 0,
            "lines": [_new_line(n, line) for n, line in enumerate(body["lines"], start=1)],
        }
        order.update((name, body[name]) for name in CASE_FIELDS if name in body)  # a case PO
        self.orders[number] = order
        self._po_versions[number] = 0
        cause = idempotency_key or f"erp:create:{number}"
        for line in order["lines"]:
            entity = f"po_line:{number}:{line['LineNumber']}"
            self._journal.record(entity, "ordered_qty", line["Quantity"], cause, correlation_id)
            self._journal.record(entity, "ordered_price", line["Price"], cause, correlation_id)
        self._changed(number, "CREATE")
        return order

    def _planned(
        self,
        operation: str,
        tag: str,
        order_number: str,
        body: Any,
        idempotency_key: str | None,
        if_match: str | None,
        plan: Callable[[dict[str, Any], Any], Reply | _Plan],
    ) -> Reply | tuple[dict[str, Any], _Plan, str]:
        """The first step of a write to a PO: the order (``_writable``), the ``plan`` that
        checked all of ``body`` against it before anything changes, and the cause its
        journal entries carry (``erp:<tag>:<number>`` unless a key is given); or the reply
        the write gets instead."""
        order = self._writable(operation, order_number, body, idempotency_key, if_match)
        if isinstance(order, Reply):
            return order
        planned = plan(order, body)
        if isinstance(planned, Reply):
            return planned
        return order, planned, idempotency_key or body_cause(f"erp:{tag}:{order_number}", body)

    def _written(
        self,
        operation: str,
        order_number: str,
        change: str,
        body: Any,
        idempotency_key: str | None,
        status: int,
        answer: Any,
    ) -> Reply:
        """The last step of a write to a PO: the change announced (``ChangeType``), the
        reply with the new ETag, remembered for its ``Idempotency-Key``."""
        self._changed(order_number, change)
        reply = Reply(status, answer, {"etag": self._po_etag(order_number)})
        return self._remember(operation, order_number, body, idempotency_key, reply)

    def _plan_acknowledgment(
        self, order: dict[str, Any], body: Any
    ) -> Reply | dict[int, dict[str, Any]]:
        error = check_acknowledgment(body, order) or admits(order, "acknowledge")
        if error is not None:
            return error
        by_number = {ln["LineNumber"]: ln for ln in order["lines"]}
        for i, update in enumerate(body["lines"]):
            line = by_number[update["LineNumber"]]
            if (line["LineStatus"], "acknowledge") not in LINE_TRANSITIONS:
                return _line_conflict(line, "acknowledged", f"lines[{i}].LineNumber")
        return by_number

    def _plan_change(self, order: dict[str, Any], body: Any) -> Reply | _ChangePlan:
        checks: dict[str, Check] = {
            "Action": one_of("CHANGE", "CANCEL"),
            "lines": non_empty_list,
        }
        error = check_fields(body, checks, ())
        if error is not None:
            return error
        if body.get("Action") == "CANCEL":
            if "lines" in body:
                return bad(422, "not allowed with Action CANCEL", "lines")
            if (error := admits(order, "cancel", "Action")) is not None:
                return error
            live = [ln for ln in order["lines"] if ln["LineStatus"] != CANCELED]
            return [
                ("cancel", ln, {}, LINE_TRANSITIONS[(ln["LineStatus"], "cancel")]) for ln in live
            ]
        if "lines" not in body:
            return bad(422, "is required", "lines")
        if (error := admits(order, "change")) is not None:
            return error
        by_number = {ln["LineNumber"]: ln for ln in order["lines"]}
        next_number = max(by_number) + 1
        plan: _ChangePlan = []
        seen: set[int] = set()
        for i, update in enumerate(body["lines"]):
            at = f"lines[{i}]."
            action = update.get("Action", "CHANGE") if isinstance(update, dict) else None
            if action == "ADD":
                line_checks = {**NEW_LINE_FIELDS, "Action": text}
                error = check_fields(update, line_checks, NEW_LINE_REQUIRED, prefix=at, extra=())
                if error is not None:
                    return error
                plan.append(("add", _new_line(next_number, update), update, OPEN))
                next_number += 1
                continue
            line_checks = {
                "LineNumber": count(1),
                "Action": one_of("CHANGE", "CANCEL", "ADD"),
                "Quantity": count(1),
                "Price": price,
            }
            error = check_fields(update, line_checks, ("LineNumber",), prefix=at, extra=())
            if error is not None:
                return error
            line = _named_line(by_number, seen, update, at)
            if isinstance(line, Reply):
                return line
            if action == "CANCEL":
                if "Quantity" in update or "Price" in update:
                    name = "Quantity" if "Quantity" in update else "Price"
                    return bad(422, "not allowed with Action CANCEL", f"{at}{name}")
                event = "cancel"
            else:
                if "Quantity" not in update and "Price" not in update:
                    return bad(422, "a change needs Quantity or Price", f"{at}LineNumber")
                quantity = update.get("Quantity", line["Quantity"])
                if quantity < line["ReceivedQuantity"]:
                    detail = f"must be at least the quantity received ({line['ReceivedQuantity']})"
                    return bad(422, detail, f"{at}Quantity")
                closing = line["ReceivedQuantity"] > 0 and quantity == line["ReceivedQuantity"]
                event = "short_close" if closing else "change"
            status = LINE_TRANSITIONS.get((line["LineStatus"], event))
            if status is None:
                verb = "canceled" if event == "cancel" else "changed"
                return _line_conflict(line, verb, f"{at}LineNumber")
            plan.append((event, line, update, status))
        return plan

    def _plan_receipt(self, order: dict[str, Any], body: Any) -> Reply | _ReceiptPlan:
        checks: dict[str, Check] = {
            "ReceiptNumber": text,
            "ReceiptDate": iso_date,
            "lines": non_empty_list,
        }
        error = check_fields(body, checks, ("ReceiptNumber", "lines"))
        if error is not None:
            return error
        line_checks = {"LineNumber": count(1), "QuantityReceived": count(1)}
        for i, update in enumerate(body["lines"]):
            error = check_fields(update, line_checks, tuple(line_checks), prefix=f"lines[{i}].")
            if error is not None:
                return error
        if (error := admits(order, "receive")) is not None:
            return error
        by_number = {ln["LineNumber"]: ln for ln in order["lines"]}
        plan: _ReceiptPlan = []
        seen: set[int] = set()
        for i, update in enumerate(body["lines"]):
            line = _named_line(by_number, seen, update, f"lines[{i}].")
            if isinstance(line, Reply):
                return line
            quantity = update["QuantityReceived"]
            total = line["ReceivedQuantity"] + quantity
            ceiling = math.floor(line["Quantity"] * (1 + self._tolerance) + 1e-9)
            if total > ceiling:
                detail = (
                    f"receiving {quantity} makes {total} of {line['Quantity']} ordered;"
                    f" at most {ceiling} may be received"
                )
                return bad(422, detail, f"lines[{i}].QuantityReceived")
            event = "receive_all" if total >= line["Quantity"] else "receive_part"
            status = LINE_TRANSITIONS.get((line["LineStatus"], event))
            if status is None:
                return _line_conflict(line, "received", f"lines[{i}].LineNumber")
            plan.append((line, quantity, status))
        return plan

    def _record_line(
        self, number: str, line: dict[str, Any], name: str, value: Any, cause: str, body: Any
    ) -> None:
        entity = f"po_line:{number}:{line['LineNumber']}"
        self._journal.record(entity, name, value, cause, body.get("CorrelationId"))

    def _move_line(
        self, number: str, line: dict[str, Any], status: str, cause: str, body: Any
    ) -> bool:
        """Put ``line`` in ``status``, journalled; whether that was a move (False: it
        stood there already, and nothing is written)."""
        if status == line["LineStatus"]:
            return False
        line["LineStatus"] = status
        self._record_line(number, line, "line_status", status, cause, body)
        return True

    def _po_etag(self, number: str) -> str:
        order = self.orders[number]
        revisions = f"{order['RevisionNumber']}.{order['AcknowledgmentRevision']}"
        return f'"{revisions}.{self._po_versions[number]}"'

    def _writable(
        self,
        operation: str,
        order_number: str,
        body: Any,
        idempotency_key: str | None,
        if_match: str | None,
    ) -> dict[str, Any] | Reply:
        """The order a write applies to, or the reply it gets instead: the first reply to
        a body past the limits, a repeated ``Idempotency-Key``, 404 for an unknown PO,
        412 for a stale ``If-Match``."""
        if (replay := self._admit(operation, order_number, body, idempotency_key)) is not None:
            return replay
        order = self.orders.get(order_number)
        if order is None:
            return bad(404, f"no purchase order {order_number}", "OrderNumber")
        if (stale := self._precondition(order_number, if_match)) is not None:
            return stale
        return order

    def _precondition(self, number: str, if_match: str | None) -> Reply | None:
        return precondition(self._po_etag(number), if_match)

    def _changed(self, order_number: str, change: str) -> None:
        order = self.orders[order_number]
        stamp = self._now().isoformat(timespec="milliseconds")
        order["LastUpdateDate"] = stamp
        self._updated[order_number] = stamp
        self._po_versions[order_number] += 1
        self._emit(
            "PurchaseOrderChanged",
            OrderNumber=order_number,
            RevisionNumber=order["RevisionNumber"],
            ChangeType=change,
        )


def _new_line(number: int, line: dict[str, Any]) -> dict[str, Any]:
    return {
        "LineNumber": number,
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
        "LineStatus": OPEN,
        "ReceivedQuantity": 0,
    }


def _commitment(line: dict[str, Any], expected: int) -> int:
    """What is still expected of ``expected`` once receipts are counted."""
    if line["LineStatus"] == CANCELED:
        return 0
    received: int = line["ReceivedQuantity"]
    return max(0, expected - received)


def _named_line(
    by_number: dict[int, dict[str, Any]], seen: set[int], update: dict[str, Any], at: str
) -> dict[str, Any] | Reply:
    """The order's line an ``update`` (at path ``at``) names, noted in ``seen``; or the 422
    for a line the order does not have, or one named twice in the same call."""
    line = by_number.get(update["LineNumber"])
    if line is None or update["LineNumber"] in seen:
        detail = "no such line on this order" if line is None else "appears twice"
        return bad(422, detail, f"{at}LineNumber")
    seen.add(update["LineNumber"])
    return line


def _line_conflict(line: dict[str, Any], verb: str, field_path: str) -> Reply:
    detail = f"line {line['LineNumber']} is {line['LineStatus']}: it cannot be {verb}"
    return bad(409, detail, field_path)
