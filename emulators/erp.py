"""A cloud ERP's purchasing module: purchase orders, receipts, invoice status and masters.

Theory of operation
-------------------
Buyers create purchase orders (``create_purchase_order`` in the ERP's own UI, or
``post_purchase_order`` over the API); each gets an ``OrderNumber``,
``RevisionNumber`` 1 and status ``OPEN``, and every line holds an open
commitment equal to its ordered quantity.  The ERP announces each change of a
document with a thin business event (keys only, like Oracle Fusion's):
``{"eventId", "eventType": "PurchaseOrderChanged", "OrderNumber"}`` to its
``listeners``, who call back to read the document.  Readers page through orders
changed since a time with offset/limit and ``hasMore`` (Fusion pages by 25).

What changes a purchase order, and what it journals (entity ``po_line:{po}:{n}``):

=======================  ==============================  ===========================
call                     effect                          facts
=======================  ==============================  ===========================
create / post            new PO, lines OPEN              ``ordered_qty``
change (860-style)       qty / price / add / cancel a    ``ordered_qty``,
                         line, or cancel the PO;         ``ordered_price``,
                         ``RevisionNumber`` + 1          ``line_status``
acknowledgment (855)     confirmed / backordered qty,    ``confirmed_qty``,
                         commitment = confirmed + b/o    ``ack_status``
receipt                  ``ReceivedQuantity`` grows,     ``erp_received_qty``,
                         the commitment is relieved      ``line_status``
=======================  ==============================  ===========================

The open commitment of a line is what is still expected from the supplier:
(ordered, or confirmed + backordered once acknowledged) minus what was received,
never below zero; a canceled line commits nothing.  Only the buyer's changes
bump ``RevisionNumber`` (the supplier must then learn a new revision); every
change of the document bumps its strong ``ETag``
(``"<RevisionNumber>.<AcknowledgmentRevision>.<changes>"``).

Status machine.  Each line moves through ``_LINE_TRANSITIONS``, a table of
(status, event) → next status; a pair not in the table is refused with 409
naming the line.  Line statuses: ``OPEN`` → ``PARTIALLY_RECEIVED`` → ``RECEIVED``
(closed for receiving, also by a buyer short-closing the balance), or
``CANCELED`` before any receipt.  The header ``Status`` is a fold of its lines
(all canceled → ``CANCELED``; all others received → ``CLOSED_FOR_RECEIVING``;
anything received → ``PARTIALLY_RECEIVED``; else ``OPEN``), and
``_PO_OPERATIONS`` says which operations each header status admits (a PO can be
canceled only while ``OPEN``, i.e. before any receipt).  Invoice match statuses
(``post_invoice_status``, journalled as ``erp_match_status`` on
``invoice:{supplier}:{invoice}``) follow ``_INVOICE_TRANSITIONS``: any status may
follow any other except that ``PAID`` and ``CANCELED`` are final.

Masters: items (``ItemNumber``), vendors (``SupplierNumber``, ``Status``
ACTIVE/INACTIVE) and contract prices per vendor and item, each with
create / update (partial) / get / list.  A contract price journals
``contract_price`` on ``price:{supplier}:{item}`` when it is set; every master
write emits a thin event (``ItemChanged``, ``SupplierChanged``,
``ContractPriceChanged``) to the same listeners as the PO events.  A PO for a
vendor whose master is INACTIVE is refused; a vendor absent from the master is
accepted (scenarios need not load it).

HTTP semantics, without HTTP (the adapter maps headers to arguments):
every API method returns a :class:`Reply` and never raises; bad input is a
problem (RFC 9457) naming the native field and changes nothing.  Reads carry an
``etag`` header; ``if_none_match`` that matches → 304 with no body; a stale
``if_match`` on a write → 412, nothing applied.  Every write takes an
``Idempotency-Key``: a repeat returns the stored first reply and applies
nothing; the same key with a different request → 422 naming the header;
without a key a repeat is applied again (and journalled again, its cause being
the body's digest, so the harness sees the duplicate).  With
``rate_limit_per_s`` set, a token bucket on the injected clock admits every API
call (``burst`` deep); an empty bucket answers 429 with ``retry-after`` in whole
seconds and applies nothing.  The buyers' UI (``create_purchase_order``) is not
rate-limited.  Replies hold copies, never the live documents.

Native field names are the ERP's own (Fusion-like PascalCase); the sync core's
mappers translate them.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import hashlib
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeGuard

from emulators._base import Journal, Reply, body_cause, problem

__all__ = ["Erp", "PurchaseOrderRefused"]

_P = ParamSpec("_P")

# -- status machines ----------------------------------------------------------------

OPEN, PARTIALLY_RECEIVED, RECEIVED = "OPEN", "PARTIALLY_RECEIVED", "RECEIVED"
CLOSED_FOR_RECEIVING, CANCELED = "CLOSED_FOR_RECEIVING", "CANCELED"

_LINE_TRANSITIONS: dict[tuple[str, str], str] = {
    (OPEN, "change"): OPEN,
    (OPEN, "cancel"): CANCELED,
    (OPEN, "acknowledge"): OPEN,
    (OPEN, "receive_part"): PARTIALLY_RECEIVED,
    (OPEN, "receive_all"): RECEIVED,
    (PARTIALLY_RECEIVED, "change"): PARTIALLY_RECEIVED,
    (PARTIALLY_RECEIVED, "short_close"): RECEIVED,
    (PARTIALLY_RECEIVED, "acknowledge"): PARTIALLY_RECEIVED,
    (PARTIALLY_RECEIVED, "receive_part"): PARTIALLY_RECEIVED,
    (PARTIALLY_RECEIVED, "receive_all"): RECEIVED,
    (RECEIVED, "acknowledge"): RECEIVED,
}

_PO_OPERATIONS: dict[str, frozenset[str]] = {
    OPEN: frozenset({"change", "cancel", "acknowledge", "receive", "invoice"}),
    PARTIALLY_RECEIVED: frozenset({"change", "acknowledge", "receive", "invoice"}),
    CLOSED_FOR_RECEIVING: frozenset({"acknowledge", "invoice"}),
    CANCELED: frozenset(),
}

MATCH_STATUSES = ("UNMATCHED", "MATCHED", "ON_HOLD", "PAID", "CANCELED")
_INVOICE_TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: frozenset(MATCH_STATUSES),
    "UNMATCHED": frozenset(MATCH_STATUSES),
    "MATCHED": frozenset(MATCH_STATUSES),
    "ON_HOLD": frozenset(MATCH_STATUSES),
    "PAID": frozenset({"PAID"}),
    "CANCELED": frozenset({"CANCELED"}),
}


def _header_status(lines: list[dict[str, Any]]) -> str:
    live = [ln["LineStatus"] for ln in lines if ln["LineStatus"] != CANCELED]
    if not live:
        return CANCELED
    if all(s == RECEIVED for s in live):
        return CLOSED_FOR_RECEIVING
    if any(s in (PARTIALLY_RECEIVED, RECEIVED) for s in live):
        return PARTIALLY_RECEIVED
    return OPEN


# -- field checks: each returns what is wrong with a value, or None -----------------

_Check = Callable[[Any], str | None]


def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _text(v: Any) -> str | None:
    return None if isinstance(v, str) and v else "must be a non-empty string"


def _count(minimum: int) -> _Check:
    def check(v: Any) -> str | None:
        return None if _is_int(v) and v >= minimum else f"must be an integer >= {minimum}"

    return check


def _price(v: Any) -> str | None:
    number = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    return None if number and v > 0 else "must be a number > 0"


def _iso_date(v: Any) -> str | None:
    try:
        dt.date.fromisoformat(v)
    except (TypeError, ValueError):
        return "must be an ISO 8601 date (YYYY-MM-DD)"
    return None


def _optional(check: _Check) -> _Check:
    return lambda v: None if v is None else check(v)


def _same(value: str) -> _Check:
    return lambda v: None if v == value else f"cannot be changed (it is {value})"


def _one_of(*values: str) -> _Check:
    return lambda v: None if v in values else f"must be one of {', '.join(values)}"


def _digits(length: int, name: str) -> _Check:
    """A GS1 key by shape only: like the ERP's UI, it does not verify the check digit."""

    def check(v: Any) -> str | None:
        ok = isinstance(v, str) and len(v) == length and v.isascii() and v.isdigit()
        return None if ok else f"must be a {name} of {length} digits"

    return check


_GTIN, _GLN = _digits(14, "GTIN-14"), _digits(13, "GLN")
_UOM = _one_of("EA", "BX", "CA", "PK", "CT", "DZ")
_TITLES = {
    400: "Bad Request",
    404: "Not Found",
    409: "Conflict",
    412: "Precondition Failed",
    422: "Unprocessable Content",
    429: "Too Many Requests",
}


def _bad(status: int, detail: str, field_path: str | None) -> Reply:
    return problem(status, _TITLES[status], detail, field_path)


def _check_fields(
    body: Any,
    checks: dict[str, _Check],
    required: Iterable[str],
    *,
    prefix: str = "",
    extra: Iterable[str] = ("CorrelationId",),
) -> Reply | None:
    """422 naming the first missing, malformed or unknown field of ``body``."""
    if not isinstance(body, dict):
        status = 422 if prefix else 400
        return _bad(status, "must be a JSON object", prefix.rstrip(".") or "")
    for name in required:
        if name not in body:
            return _bad(422, "is required", f"{prefix}{name}")
    for name, check in checks.items():
        if name in body and (message := check(body[name])) is not None:
            return _bad(422, message, f"{prefix}{name}")
    known = set(checks) | set(extra)
    for name in body:
        if name not in known:
            return _bad(422, "unknown field", f"{prefix}{name}")
    return None


_ORDER_FIELDS: dict[str, _Check] = {
    "SupplierNumber": _text,
    "ShipToLocationGLN": _GLN,
    "RequesterDepartment": _text,
    "NeedByDate": _iso_date,
    "lines": lambda v: None if isinstance(v, list) and v else "must be a non-empty list",
}
_NEW_LINE_FIELDS: dict[str, _Check] = {
    "SupplierItem": _text,
    "ItemGTIN": _GTIN,
    "Quantity": _count(1),
    "UOMCode": _UOM,
    "Price": _price,
    "CriticalSupply": _one_of("Y", "N"),
}
_NEW_LINE_REQUIRED = ("SupplierItem", "ItemGTIN", "Quantity", "UOMCode", "Price")
_ACK_LINE_FIELDS: dict[str, _Check] = {
    "LineNumber": _count(1),
    "SupplierConfirmedQuantity": _count(0),
    "BackorderedQuantity": _count(0),
    "AcknowledgmentStatus": _text,
}


def _check_new_lines(lines: list[Any], prefix: str = "lines") -> Reply | None:
    for i, line in enumerate(lines):
        error = _check_fields(line, _NEW_LINE_FIELDS, _NEW_LINE_REQUIRED, prefix=f"{prefix}[{i}].")
        if error is not None:
            return error
    return None


# -- masters --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Master:
    kind: str
    key: tuple[str, ...]
    fields: dict[str, _Check]
    required: tuple[str, ...]
    defaults: dict[str, Any]
    event: str


_ITEM = _Master(
    "item",
    ("ItemNumber",),
    {"GTIN": _GTIN, "Description": _text, "UOMCode": _UOM, "ListPrice": _price},
    ("GTIN", "Description", "UOMCode", "ListPrice"),
    {},
    "ItemChanged",
)
_VENDOR = _Master(
    "vendor",
    ("SupplierNumber",),
    {"Name": _text, "Status": _one_of("ACTIVE", "INACTIVE")},
    ("Name",),
    {"Status": "ACTIVE"},
    "SupplierChanged",
)
_PRICE = _Master(
    "contract_price",
    ("SupplierNumber", "ItemNumber"),
    {"ContractPrice": _price, "EffectiveFrom": _iso_date, "EffectiveTo": _optional(_iso_date)},
    ("ContractPrice", "EffectiveFrom"),
    {"EffectiveTo": None},
    "ContractPriceChanged",
)
_MASTERS = (_ITEM, _VENDOR, _PRICE)


class PurchaseOrderRefused(ValueError):
    """The buyers' UI refused a purchase order; ``reply`` is the problem it showed."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.body.get("detail"), reply.body.get("field"))
        self.reply = reply


def _api(method: Callable[Concatenate[Erp, _P], Reply]) -> Callable[Concatenate[Erp, _P], Reply]:
    """An API call: throttled first, answered with a copy of what it built."""

    @functools.wraps(method)
    def call(self: Erp, /, *args: _P.args, **kwargs: _P.kwargs) -> Reply:
        limited = self._throttle()
        if limited is not None:
            return limited
        reply = method(self, *args, **kwargs)
        return Reply(reply.status, _copy(reply.body), dict(reply.headers))

    return call


def _copy(value: Any) -> Any:
    """A copy of a JSON-like document (dicts, lists, scalars): what a wire would hand
    over, at a tenth of ``copy.deepcopy``'s cost on the hot read path."""
    if isinstance(value, dict):
        out = dict(value)  # scalars copied in C; recurse only into containers
        for k, v in value.items():
            if isinstance(v, dict | list):
                out[k] = _copy(v)
        return out
    if isinstance(value, list):
        return [_copy(v) if isinstance(v, dict | list) else v for v in value]
    return value


def _fingerprint(operation: str, target: Any, body: Any) -> str:
    text = json.dumps([operation, target, body], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _tags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",") if t.strip()]


class Erp:
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
    ) -> None:
        if rate_limit_per_s is not None and rate_limit_per_s <= 0:
            raise ValueError("rate_limit_per_s must be > 0 (or None for no limit)")
        if burst is not None and burst < 1:
            raise ValueError("burst must be >= 1")
        self._journal = journal
        self._clock = clock
        self._epoch = epoch
        self._first_number = first_order_number
        self._rate = rate_limit_per_s
        self._burst = float(burst if burst is not None else max(1, math.ceil(self._rate or 1)))
        self._tolerance = over_receipt_tolerance
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.reset()

    def reset(self) -> None:
        """Back to an empty ERP (listeners stay subscribed)."""
        self._next_number = self._first_number
        self._next_event = 1
        self.orders: dict[str, dict[str, Any]] = {}
        self._updated: dict[str, str] = {}
        self._po_versions: dict[str, int] = {}
        self._idempotency: dict[str, tuple[str, Reply]] = {}
        self.masters: dict[str, dict[tuple[str, ...], dict[str, Any]]] = {
            m.kind: {} for m in _MASTERS
        }
        self._master_versions: dict[str, dict[tuple[str, ...], int]] = {
            m.kind: {} for m in _MASTERS
        }
        self.invoices: dict[tuple[str, str], dict[str, Any]] = {}
        self._tokens = self._burst
        self._last_refill: float | None = None

    def snapshot(self) -> dict[str, Any]:
        """The ERP's state as JSON-able data: documents, masters and counters."""
        return copy.deepcopy(
            {
                "orders": self.orders,
                "items": [r for _, r in sorted(self.masters["item"].items())],
                "vendors": [r for _, r in sorted(self.masters["vendor"].items())],
                "contract_prices": [r for _, r in sorted(self.masters["contract_price"].items())],
                "invoices": [r for _, r in sorted(self.invoices.items())],
                "counters": {
                    "next_order_number": self._next_number,
                    "next_event": self._next_event,
                    "idempotency_keys": len(self._idempotency),
                },
            }
        )

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
    ) -> dict[str, Any]:
        """Create and approve a PO; ``lines`` hold SupplierItem, ItemGTIN, Quantity,
        UOMCode, Price and CriticalSupply ("Y"/"N").  Returns a copy of the order;
        raises :class:`PurchaseOrderRefused` when the ERP refuses it."""
        body = {
            "SupplierNumber": supplier_number,
            "ShipToLocationGLN": ship_to_gln,
            "RequesterDepartment": department,
            "NeedByDate": need_by.isoformat(),
            "lines": lines,
        }
        error = self._check_order(body)
        if error is not None:
            raise PurchaseOrderRefused(error)
        return copy.deepcopy(self._open_order(body, None, correlation_id))

    # -- API: purchase orders ---------------------------------------------------

    @_api
    def post_purchase_order(self, body: Any, idempotency_key: str | None = None) -> Reply:
        """Create and approve a PO from its native document → 201 with the PO."""
        if (replay := self._replay("post_purchase_order", None, body, idempotency_key)) is not None:
            return replay
        error = self._check_order(body)
        if error is not None:
            return error
        order = self._open_order(body, idempotency_key, body.get("CorrelationId"))
        reply = Reply(201, order, {"etag": self._po_etag(order["OrderNumber"])})
        return self._remember("post_purchase_order", None, body, idempotency_key, reply)

    @_api
    def get_purchase_order(self, order_number: str, if_none_match: str | None = None) -> Reply:
        order = self.orders.get(order_number)
        if order is None:
            return _bad(404, f"no purchase order {order_number}", "OrderNumber")
        etag = self._po_etag(order_number)
        if if_none_match is not None and _none_match(if_none_match, etag):
            return Reply(304, None, {"etag": etag})
        return Reply(200, order, {"etag": etag})

    @_api
    def list_purchase_orders(
        self, *, updated_since: str, offset: int = 0, limit: int = 25
    ) -> Reply:
        """Orders whose ``LastUpdateDate`` is at or after ``updated_since`` (ISO 8601),
        oldest first, paged."""
        try:
            since = dt.datetime.fromisoformat(updated_since).isoformat(timespec="milliseconds")
        except (TypeError, ValueError):
            return _bad(400, "must be an ISO 8601 date-time", "updatedSince")
        if (error := _check_paging(offset, limit)) is not None:
            return error
        changed = sorted((t, n) for n, t in self._updated.items() if t >= since)
        return _page([self.orders[n] for _, n in changed], offset, limit)

    @_api
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
        if (replay := self._replay(operation, order_number, body, idempotency_key)) is not None:
            return replay
        order = self.orders.get(order_number)
        if order is None:
            return _bad(404, f"no purchase order {order_number}", "OrderNumber")
        if (stale := self._precondition(order_number, if_match)) is not None:
            return stale
        plan = self._plan_change(order, body)
        if isinstance(plan, Reply):
            return plan
        cause = idempotency_key or body_cause(f"erp:change:{order_number}", body)
        for step, line, update, status in plan:
            if step == "add":
                order["lines"].append(line)
                self._record_line(order_number, line, "ordered_qty", line["Quantity"], cause, body)
                continue
            if status != line["LineStatus"]:
                line["LineStatus"] = status
                self._record_line(order_number, line, "line_status", status, cause, body)
            if "Quantity" in update:
                line["Quantity"] = update["Quantity"]
                self._record_line(order_number, line, "ordered_qty", line["Quantity"], cause, body)
            if "Price" in update:
                line["Price"] = update["Price"]
                self._record_line(order_number, line, "ordered_price", line["Price"], cause, body)
            if "Quantity" in update or status == CANCELED:
                line["OpenCommitmentQuantity"] = _commitment(line, line["Quantity"])
        order["RevisionNumber"] += 1
        order["Status"] = _header_status(order["lines"])
        self._changed(order_number)
        reply = Reply(200, order, {"etag": self._po_etag(order_number)})
        return self._remember(operation, order_number, body, idempotency_key, reply)

    @_api
    def post_acknowledgment(
        self,
        order_number: str,
        body: Any,
        idempotency_key: str | None = None,
        *,
        if_match: str | None = None,
    ) -> Reply:
        operation = "post_acknowledgment"
        if (replay := self._replay(operation, order_number, body, idempotency_key)) is not None:
            return replay
        order = self.orders.get(order_number)
        if order is None:
            return _bad(404, f"no purchase order {order_number}", "OrderNumber")
        if (stale := self._precondition(order_number, if_match)) is not None:
            return stale
        error = _check_acknowledgment(body, order) or self._admits(order, "acknowledge")
        if error is not None:
            return error
        by_number = {ln["LineNumber"]: ln for ln in order["lines"]}
        for i, update in enumerate(body["lines"]):
            line = by_number[update["LineNumber"]]
            if (line["LineStatus"], "acknowledge") not in _LINE_TRANSITIONS:
                return _line_conflict(line, "acknowledged", f"lines[{i}].LineNumber")
        cause = idempotency_key or body_cause(f"erp:ack:{order_number}", body)
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
        self._changed(order_number)
        reply = Reply(
            200,
            {"OrderNumber": order_number, "lines": len(body["lines"])},
            {"etag": self._po_etag(order_number)},
        )
        return self._remember(operation, order_number, body, idempotency_key, reply)

    @_api
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
        if (replay := self._replay(operation, order_number, body, idempotency_key)) is not None:
            return replay
        order = self.orders.get(order_number)
        if order is None:
            return _bad(404, f"no purchase order {order_number}", "OrderNumber")
        if (stale := self._precondition(order_number, if_match)) is not None:
            return stale
        plan = self._plan_receipt(order, body)
        if isinstance(plan, Reply):
            return plan
        cause = idempotency_key or body_cause(f"erp:receipt:{order_number}", body)
        received = []
        for line, quantity, status in plan:
            line["ReceivedQuantity"] += quantity
            line["OpenCommitmentQuantity"] = max(0, line["OpenCommitmentQuantity"] - quantity)
            total = line["ReceivedQuantity"]
            self._record_line(order_number, line, "erp_received_qty", total, cause, body)
            if status != line["LineStatus"]:
                line["LineStatus"] = status
                self._record_line(order_number, line, "line_status", status, cause, body)
            received.append(
                {
                    "LineNumber": line["LineNumber"],
                    "ReceivedQuantity": total,
                    "OpenCommitmentQuantity": line["OpenCommitmentQuantity"],
                    "LineStatus": status,
                }
            )
        order["Status"] = _header_status(order["lines"])
        self._changed(order_number)
        reply = Reply(
            201,
            {
                "ReceiptNumber": body["ReceiptNumber"],
                "OrderNumber": order_number,
                "lines": received,
            },
            {"etag": self._po_etag(order_number)},
        )
        return self._remember(operation, order_number, body, idempotency_key, reply)

    @_api
    def post_invoice_status(
        self, order_number: str, body: Any, idempotency_key: str | None = None
    ) -> Reply:
        """An invoice's match status as AP decided it: ``{"InvoiceNumber",
        "MatchStatus", "HoldReason"?}`` → 200 with the invoice record."""
        operation = "post_invoice_status"
        if (replay := self._replay(operation, order_number, body, idempotency_key)) is not None:
            return replay
        order = self.orders.get(order_number)
        if order is None:
            return _bad(404, f"no purchase order {order_number}", "OrderNumber")
        checks = {
            "InvoiceNumber": _text,
            "MatchStatus": _one_of(*MATCH_STATUSES),
            "HoldReason": _optional(_text),
        }
        error = _check_fields(body, checks, ("InvoiceNumber", "MatchStatus"))
        if error is not None or (error := self._admits(order, "invoice")) is not None:
            return error
        supplier, number, status = (
            order["SupplierNumber"],
            body["InvoiceNumber"],
            body["MatchStatus"],
        )
        known = self.invoices.get((supplier, number))
        current = known["MatchStatus"] if known else None
        if status not in _INVOICE_TRANSITIONS[current]:
            return _bad(
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

    @_api
    def get_invoice(self, supplier_number: str, invoice_number: str) -> Reply:
        record = self.invoices.get((supplier_number, invoice_number))
        if record is None:
            return _bad(404, f"no invoice {invoice_number} of {supplier_number}", "InvoiceNumber")
        return Reply(200, record)

    # -- API: masters -------------------------------------------------------------

    @_api
    def create_item(self, body: Any, idempotency_key: str | None = None) -> Reply:
        return self._create_master(_ITEM, body, idempotency_key)

    @_api
    def update_item(
        self,
        item_number: str,
        body: Any,
        if_match: str | None = None,
        idempotency_key: str | None = None,
    ) -> Reply:
        return self._update_master(_ITEM, (item_number,), body, if_match, idempotency_key)

    @_api
    def get_item(self, item_number: str, if_none_match: str | None = None) -> Reply:
        return self._get_master(_ITEM, (item_number,), if_none_match)

    @_api
    def list_items(self, *, offset: int = 0, limit: int = 25) -> Reply:
        return self._list_master(_ITEM, offset, limit)

    @_api
    def create_vendor(self, body: Any, idempotency_key: str | None = None) -> Reply:
        return self._create_master(_VENDOR, body, idempotency_key)

    @_api
    def update_vendor(
        self,
        supplier_number: str,
        body: Any,
        if_match: str | None = None,
        idempotency_key: str | None = None,
    ) -> Reply:
        return self._update_master(_VENDOR, (supplier_number,), body, if_match, idempotency_key)

    @_api
    def get_vendor(self, supplier_number: str, if_none_match: str | None = None) -> Reply:
        return self._get_master(_VENDOR, (supplier_number,), if_none_match)

    @_api
    def list_vendors(self, *, offset: int = 0, limit: int = 25) -> Reply:
        return self._list_master(_VENDOR, offset, limit)

    @_api
    def create_contract_price(self, body: Any, idempotency_key: str | None = None) -> Reply:
        return self._create_master(_PRICE, body, idempotency_key)

    @_api
    def update_contract_price(
        self,
        supplier_number: str,
        item_number: str,
        body: Any,
        if_match: str | None = None,
        idempotency_key: str | None = None,
    ) -> Reply:
        key = (supplier_number, item_number)
        return self._update_master(_PRICE, key, body, if_match, idempotency_key)

    @_api
    def get_contract_price(
        self, supplier_number: str, item_number: str, if_none_match: str | None = None
    ) -> Reply:
        return self._get_master(_PRICE, (supplier_number, item_number), if_none_match)

    @_api
    def list_contract_prices(
        self, *, supplier_number: str | None = None, offset: int = 0, limit: int = 25
    ) -> Reply:
        only = None if supplier_number is None else (lambda k: k[0] == supplier_number)
        return self._list_master(_PRICE, offset, limit, only)

    # -- internals: purchase orders ---------------------------------------------

    def _check_order(self, body: Any) -> Reply | None:
        required = tuple(_ORDER_FIELDS)
        error = _check_fields(body, _ORDER_FIELDS, required) or _check_new_lines(body["lines"])
        if error is not None:
            return error
        vendor = self.masters["vendor"].get((body["SupplierNumber"],))
        if vendor is not None and vendor["Status"] != "ACTIVE":
            detail = f"supplier {body['SupplierNumber']} is {vendor['Status']}"
            return _bad(422, detail, "SupplierNumber")
        return None

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
        self.orders[number] = order
        self._po_versions[number] = 0
        cause = idempotency_key or f"erp:create:{number}"
        for line in order["lines"]:
            entity = f"po_line:{number}:{line['LineNumber']}"
            self._journal.record(entity, "ordered_qty", line["Quantity"], cause, correlation_id)
        self._changed(number)
        return order

    def _plan_change(
        self, order: dict[str, Any], body: Any
    ) -> Reply | list[tuple[str, dict[str, Any], dict[str, Any], str]]:
        checks: dict[str, _Check] = {
            "Action": _one_of("CHANGE", "CANCEL"),
            "lines": lambda v: None if isinstance(v, list) and v else "must be a non-empty list",
        }
        error = _check_fields(body, checks, ())
        if error is not None:
            return error
        if body.get("Action") == "CANCEL":
            if "lines" in body:
                return _bad(422, "not allowed with Action CANCEL", "lines")
            if (error := self._admits(order, "cancel", "Action")) is not None:
                return error
            live = [ln for ln in order["lines"] if ln["LineStatus"] != CANCELED]
            return [
                ("cancel", ln, {}, _LINE_TRANSITIONS[(ln["LineStatus"], "cancel")]) for ln in live
            ]
        if "lines" not in body:
            return _bad(422, "is required", "lines")
        if (error := self._admits(order, "change")) is not None:
            return error
        by_number = {ln["LineNumber"]: ln for ln in order["lines"]}
        next_number = max(by_number) + 1
        plan: list[tuple[str, dict[str, Any], dict[str, Any], str]] = []
        seen: set[int] = set()
        for i, update in enumerate(body["lines"]):
            at = f"lines[{i}]."
            action = update.get("Action", "CHANGE") if isinstance(update, dict) else None
            if action == "ADD":
                line_checks = {**_NEW_LINE_FIELDS, "Action": _text}
                error = _check_fields(update, line_checks, _NEW_LINE_REQUIRED, prefix=at, extra=())
                if error is not None:
                    return error
                plan.append(("add", _new_line(next_number, update), update, OPEN))
                next_number += 1
                continue
            line_checks = {
                "LineNumber": _count(1),
                "Action": _one_of("CHANGE", "CANCEL", "ADD"),
                "Quantity": _count(1),
                "Price": _price,
            }
            error = _check_fields(update, line_checks, ("LineNumber",), prefix=at, extra=())
            if error is not None:
                return error
            line = by_number.get(update["LineNumber"])
            if line is None or update["LineNumber"] in seen:
                detail = "no such line on this order" if line is None else "appears twice"
                return _bad(422, detail, f"{at}LineNumber")
            seen.add(update["LineNumber"])
            if action == "CANCEL":
                if "Quantity" in update or "Price" in update:
                    name = "Quantity" if "Quantity" in update else "Price"
                    return _bad(422, "not allowed with Action CANCEL", f"{at}{name}")
                event = "cancel"
            else:
                if "Quantity" not in update and "Price" not in update:
                    return _bad(422, "a change needs Quantity or Price", f"{at}LineNumber")
                quantity = update.get("Quantity", line["Quantity"])
                if quantity < line["ReceivedQuantity"]:
                    detail = f"must be at least the quantity received ({line['ReceivedQuantity']})"
                    return _bad(422, detail, f"{at}Quantity")
                closing = line["ReceivedQuantity"] > 0 and quantity == line["ReceivedQuantity"]
                event = "short_close" if closing else "change"
            status = _LINE_TRANSITIONS.get((line["LineStatus"], event))
            if status is None:
                verb = "canceled" if event == "cancel" else "changed"
                return _line_conflict(line, verb, f"{at}LineNumber")
            plan.append((event, line, update, status))
        return plan

    def _plan_receipt(
        self, order: dict[str, Any], body: Any
    ) -> Reply | list[tuple[dict[str, Any], int, str]]:
        checks: dict[str, _Check] = {
            "ReceiptNumber": _text,
            "ReceiptDate": _iso_date,
            "lines": lambda v: None if isinstance(v, list) and v else "must be a non-empty list",
        }
        error = _check_fields(body, checks, ("ReceiptNumber", "lines"))
        if error is not None:
            return error
        line_checks = {"LineNumber": _count(1), "QuantityReceived": _count(1)}
        for i, update in enumerate(body["lines"]):
            error = _check_fields(update, line_checks, tuple(line_checks), prefix=f"lines[{i}].")
            if error is not None:
                return error
        if (error := self._admits(order, "receive")) is not None:
            return error
        by_number = {ln["LineNumber"]: ln for ln in order["lines"]}
        plan: list[tuple[dict[str, Any], int, str]] = []
        seen: set[int] = set()
        for i, update in enumerate(body["lines"]):
            line = by_number.get(update["LineNumber"])
            if line is None or update["LineNumber"] in seen:
                detail = "no such line on this order" if line is None else "appears twice"
                return _bad(422, detail, f"lines[{i}].LineNumber")
            seen.add(update["LineNumber"])
            quantity = update["QuantityReceived"]
            total = line["ReceivedQuantity"] + quantity
            ceiling = math.floor(line["Quantity"] * (1 + self._tolerance) + 1e-9)
            if total > ceiling:
                detail = (
                    f"receiving {quantity} makes {total} of {line['Quantity']} ordered;"
                    f" at most {ceiling} may be received"
                )
                return _bad(422, detail, f"lines[{i}].QuantityReceived")
            event = "receive_all" if total >= line["Quantity"] else "receive_part"
            status = _LINE_TRANSITIONS.get((line["LineStatus"], event))
            if status is None:
                return _line_conflict(line, "received", f"lines[{i}].LineNumber")
            plan.append((line, quantity, status))
        return plan

    def _admits(
        self, order: dict[str, Any], operation: str, field_path: str = "OrderNumber"
    ) -> Reply | None:
        if operation in _PO_OPERATIONS[order["Status"]]:
            return None
        detail = (
            f"purchase order {order['OrderNumber']} is {order['Status']}: no {operation} allowed"
        )
        return _bad(409, detail, field_path)

    def _record_line(
        self, number: str, line: dict[str, Any], name: str, value: Any, cause: str, body: Any
    ) -> None:
        entity = f"po_line:{number}:{line['LineNumber']}"
        self._journal.record(entity, name, value, cause, body.get("CorrelationId"))

    def _po_etag(self, number: str) -> str:
        order = self.orders[number]
        revisions = f"{order['RevisionNumber']}.{order['AcknowledgmentRevision']}"
        return f'"{revisions}.{self._po_versions[number]}"'

    def _precondition(self, number: str, if_match: str | None) -> Reply | None:
        return _precondition(self._po_etag(number), if_match)

    def _now(self) -> dt.datetime:
        return self._epoch + dt.timedelta(seconds=self._clock())

    def _changed(self, order_number: str) -> None:
        order = self.orders[order_number]
        stamp = self._now().isoformat(timespec="milliseconds")
        order["LastUpdateDate"] = stamp
        self._updated[order_number] = stamp
        self._po_versions[order_number] += 1
        self._emit("PurchaseOrderChanged", OrderNumber=order_number)

    def _emit(self, event_type: str, **keys: str) -> None:
        event = {"eventId": f"erp-evt-{self._next_event}", "eventType": event_type, **keys}
        self._next_event += 1
        for listener in self.listeners:
            listener(event)

    # -- internals: masters -------------------------------------------------------

    def _create_master(self, spec: _Master, body: Any, idempotency_key: str | None) -> Reply:
        operation = f"create_{spec.kind}"
        if (replay := self._replay(operation, None, body, idempotency_key)) is not None:
            return replay
        fields = {**dict.fromkeys(spec.key, _text), **spec.fields}
        error = _check_fields(body, fields, (*spec.key, *spec.required))
        if error is not None:
            return error
        key = tuple(body[k] for k in spec.key)
        if key in self.masters[spec.kind]:
            return _bad(409, f"{spec.kind} {'/'.join(key)} exists already", spec.key[-1])
        record = {**dict(zip(spec.key, key, strict=True)), **spec.defaults}
        record.update({k: v for k, v in body.items() if k in spec.fields})
        if (error := self._check_master(spec, record)) is not None:
            return error
        self.masters[spec.kind][key] = record
        self._master_versions[spec.kind][key] = 0
        self._master_written(spec, key, body, idempotency_key)
        reply = Reply(201, record, {"etag": self._master_etag(spec, key)})
        return self._remember(operation, None, body, idempotency_key, reply)

    def _update_master(
        self,
        spec: _Master,
        key: tuple[str, ...],
        body: Any,
        if_match: str | None,
        idempotency_key: str | None,
    ) -> Reply:
        operation = f"update_{spec.kind}"
        if (replay := self._replay(operation, list(key), body, idempotency_key)) is not None:
            return replay
        record = self.masters[spec.kind].get(key)
        if record is None:
            return _bad(404, f"no {spec.kind} {'/'.join(key)}", spec.key[-1])
        stale = _precondition(self._master_etag(spec, key), if_match)
        if stale is not None:
            return stale
        fields = {**{k: _same(v) for k, v in zip(spec.key, key, strict=True)}, **spec.fields}
        if (error := _check_fields(body, fields, ())) is not None:
            return error
        merged = {**record, **{k: v for k, v in body.items() if k in spec.fields}}
        if (error := self._check_master(spec, merged)) is not None:
            return error
        record.update(merged)
        self._master_written(spec, key, body, idempotency_key)
        reply = Reply(200, record, {"etag": self._master_etag(spec, key)})
        return self._remember(operation, list(key), body, idempotency_key, reply)

    def _get_master(self, spec: _Master, key: tuple[str, ...], if_none_match: str | None) -> Reply:
        record = self.masters[spec.kind].get(key)
        if record is None:
            return _bad(404, f"no {spec.kind} {'/'.join(key)}", spec.key[-1])
        etag = self._master_etag(spec, key)
        if if_none_match is not None and _none_match(if_none_match, etag):
            return Reply(304, None, {"etag": etag})
        return Reply(200, record, {"etag": etag})

    def _list_master(
        self,
        spec: _Master,
        offset: int,
        limit: int,
        only: Callable[[tuple[str, ...]], bool] | None = None,
    ) -> Reply:
        if (error := _check_paging(offset, limit)) is not None:
            return error
        rows = sorted(self.masters[spec.kind].items())
        return _page([r for k, r in rows if only is None or only(k)], offset, limit)

    def _check_master(self, spec: _Master, record: dict[str, Any]) -> Reply | None:
        if spec is not _PRICE:
            return None
        for name, kind in (("SupplierNumber", "vendor"), ("ItemNumber", "item")):
            if (record[name],) not in self.masters[kind]:
                return _bad(422, f"no {kind} {record[name]} in the master", name)
        end = record["EffectiveTo"]
        if end is not None and dt.date.fromisoformat(end) < dt.date.fromisoformat(
            record["EffectiveFrom"]
        ):
            return _bad(422, "must not be before EffectiveFrom", "EffectiveTo")
        return None

    def _master_written(
        self, spec: _Master, key: tuple[str, ...], body: dict[str, Any], idempotency_key: str | None
    ) -> None:
        self._master_versions[spec.kind][key] += 1
        if spec is _PRICE and "ContractPrice" in body:
            cause = idempotency_key or body_cause(f"erp:price:{key[0]}:{key[1]}", body)
            self._journal.record(
                f"price:{key[0]}:{key[1]}",
                "contract_price",
                body["ContractPrice"],
                cause,
                body.get("CorrelationId"),
            )
        self._emit(spec.event, **dict(zip(spec.key, key, strict=True)))

    def _master_etag(self, spec: _Master, key: tuple[str, ...]) -> str:
        return f'"{self._master_versions[spec.kind][key]}"'

    # -- internals: idempotency and rate limit --------------------------------------

    def _replay(
        self, operation: str, target: Any, body: Any, idempotency_key: str | None
    ) -> Reply | None:
        if idempotency_key is None or idempotency_key not in self._idempotency:
            return None
        fingerprint, reply = self._idempotency[idempotency_key]
        if fingerprint != _fingerprint(operation, target, body):
            detail = "this key was used before with a different request"
            return _bad(422, detail, "Idempotency-Key")
        return reply

    def _remember(
        self, operation: str, target: Any, body: Any, idempotency_key: str | None, reply: Reply
    ) -> Reply:
        if idempotency_key is not None:
            stored = Reply(reply.status, _copy(reply.body), dict(reply.headers))
            self._idempotency[idempotency_key] = (_fingerprint(operation, target, body), stored)
        return reply

    def _throttle(self) -> Reply | None:
        if self._rate is None:
            return None
        now = self._clock()
        if self._last_refill is not None:
            elapsed = max(0.0, now - self._last_refill)
            self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
        self._last_refill = now
        if self._tokens >= 1:
            self._tokens -= 1
            return None
        wait = max(1, math.ceil((1 - self._tokens) / self._rate))
        limited = _bad(429, f"more than {self._rate:g} requests/s; retry in {wait} s", None)
        return Reply(429, limited.body, {**limited.headers, "retry-after": str(wait)})


# -- module helpers ---------------------------------------------------------------------


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


def _line_conflict(line: dict[str, Any], verb: str, field_path: str) -> Reply:
    detail = f"line {line['LineNumber']} is {line['LineStatus']}: it cannot be {verb}"
    return _bad(409, detail, field_path)


def _none_match(header: str, etag: str) -> bool:
    """If-None-Match: weak comparison, ``*`` matches any current representation."""
    tags = _tags(header)
    return "*" in tags or etag in [t.removeprefix("W/") for t in tags]


def _precondition(etag: str, if_match: str | None) -> Reply | None:
    """If-Match: strong comparison; a stale tag → 412 naming the header."""
    if if_match is None:
        return None
    tags = _tags(if_match)
    if "*" in tags or etag in tags:
        return None
    detail = f"the document has changed: its ETag is now {etag}"
    stale = _bad(412, detail, "If-Match")
    return Reply(412, stale.body, {**stale.headers, "etag": etag})


def _check_paging(offset: Any, limit: Any) -> Reply | None:
    if not _is_int(offset) or offset < 0:
        return _bad(400, "offset must be an integer >= 0", "offset")
    if not _is_int(limit) or not 1 <= limit <= 500:
        return _bad(400, "limit must be an integer within 1..500", "limit")
    return None


def _page(rows: list[dict[str, Any]], offset: int, limit: int) -> Reply:
    page = rows[offset : offset + limit]
    return Reply(
        200,
        {
            "items": page,
            "count": len(page),
            "offset": offset,
            "limit": limit,
            "hasMore": offset + limit < len(rows),
        },
    )


def _check_acknowledgment(body: Any, order: dict[str, Any]) -> Reply | None:
    if not isinstance(body, dict):
        return _bad(400, "body must be a JSON object", "")
    revision = body.get("AcknowledgmentRevision")
    if not _is_int(revision) or revision < 1:
        return _bad(422, "must be an integer >= 1", "AcknowledgmentRevision")
    lines = body.get("lines")
    if not isinstance(lines, list) or not lines:
        return _bad(422, "must be a non-empty list", "lines")
    line_numbers = {ln["LineNumber"] for ln in order["lines"]}
    for i, update in enumerate(lines):
        if not isinstance(update, dict):
            return _bad(422, "must be an object", f"lines[{i}]")
        for name, check in _ACK_LINE_FIELDS.items():
            if (message := check(update.get(name))) is not None:
                return _bad(422, message, f"lines[{i}].{name}")
        if update["LineNumber"] not in line_numbers:
            return _bad(422, "no such line on this order", f"lines[{i}].LineNumber")
    return None
