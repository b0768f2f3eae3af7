"""An accounts-payable system: invoice intake, three-way match, holds and payment.

Theory of operation: integrations feed AP three kinds of reference data —
purchase-order lines (``upsert_po_lines``), goods receipts (``post_receipt``)
and contract prices (``upsert_prices``) — and suppliers' invoices arrive
through ``post_invoice``.  Each invoice is validated at intake: every line is
matched to its PO line (price, quantity ordered) and to what was received
(quantity received), and the header total to the sum of the lines.  A check
that fails places a *hold*, a row keyed by code with the line and the measured
difference; an invoice with no hold is matched and (by default at once)
approved, one with holds waits ``on_hold`` until each hold is released by a
person (``release_hold``) or cleared by re-matching: new reference data (a late
receipt, a PO change, a contract price) re-evaluates the held invoices it
touches and clears the line holds that no longer apply.  An approved invoice
is paid once (``pay``).

The rules, per invoice line, with the tolerances of :class:`Tolerances`:

* PRICE: the invoice unit price exceeds the reference price — the supplier's
  contract price for the item and UoM when one is effective on the invoice
  date, otherwise the PO price — by more than ``price_pct`` percent;
* QTY ORD: the quantity invoiced so far on the PO line (earlier invoices plus
  this one) exceeds the quantity ordered by more than ``qty_pct`` percent;
* QTY REC: the same, against the quantity received (nothing received: any
  excess holds).
* UOM: the line names a unit (``uom``) other than the PO line's: a
  ``uom_mismatch`` (ordered by the CA, billed by the EA), checked before the others,
  which then do not apply to that line; AP converts nothing and no re-match clears it:
  the supplier rebills or a person releases it.  Its quantity is not added to the
  PO line's ``quantity_invoiced``; the invoice journals ``uom_mismatch`` (the lines).

A line check holds only when its money difference (price excess times quantity,
or quantity excess times invoice unit price) is at least ``amount_floor``:
smaller differences pass.  Under-billing never holds.  AMOUNT holds when the
header ``invoice_amount`` differs from the sum of the lines by more than
``header_rounding``.  Duplicates: a second invoice with the same
``vendor_num`` and ``invoice_num`` is rejected with 409 (field
``invoice_num``) and changes nothing; one with the same vendor, invoice date
and amount but another number is accepted and held DUPLICATE (suspected
duplicate), for a person to release.

Native format (Oracle Payables open-interface names, lower-cased; amounts are
JSON numbers in the PO's currency, quantities integers in the PO line's UoM)::

    po line   {po_number, po_line_number, item_id, quantity_ordered, unit_price, uom}
    receipt   {receipt_num, po_number, lines: [{po_line_number, quantity_received}]}
    price     {vendor_num, item_id, uom, unit_price, effective_date?}
    invoice   {vendor_num, invoice_num, invoice_date, po_number, invoice_amount,
               lines: [{po_line_number, quantity_invoiced, unit_price, uom?}],
               correlation_id?}

Every write is first held to the :class:`~emulators.limits.Limits` it was given
(strings, lists, the quantities, prices and amounts of ``_BOUNDED``): a
document past them is a 422 naming the field and changes nothing.
Writes honour an ``Idempotency-Key`` (a repeat returns the first reply).
Without one, a repeated receipt is recognised by its ``receipt_num``; a resent
receipt under a new number counts again, as in a real AP system.

Invoice status machine (``TRANSITIONS``; any other pair is an illegal
transition, answered with 409 naming ``status``; releasing a hold the invoice
does not have open is 409 naming ``hold_code``)::

    received --validated_clean--> matched --approve--> approved --pay--> paid
    received --validated_held--> on_hold --release_hold--> on_hold
                                 on_hold --holds_cleared--> matched

Facts journalled: per invoice (``invoice:{vendor}:{number}``) ``match_status``
(the status), ``holds`` (sorted open hold codes) and ``payment_status``; per
PO line (``po_line:{po}:{line}``) ``ap_ordered_qty``, ``ap_unit_price``,
``ap_received_qty`` and ``ap_invoiced_qty``; per contract price
(``price:{vendor}:{item}:{uom}``) ``ap_contract_price``.  Each status change is
announced by a thin event ``{"eventId", "eventType": "InvoiceStatusChanged",
"invoice": {"vendor_num", "invoice_num"}}``.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from typing import Any

from emulators._base import Journal, Reply, body_cause, copy_document, page, problem
from emulators.admission import IdempotencyCache
from emulators.ap._checks import (
    _BOUNDED,
    _INVOICE,
    _INVOICE_LINE,
    _PO_LINE,
    _PRICE,
    _RECEIPT,
    _RECEIPT_LINE,
    _UNPROCESSABLE,
    _document,
    _entity,
    _hold_row,
    _illegal,
    _iso_date,
    _no_invoice,
    _open_codes,
    _public,
    _rows,
)
from emulators.ap._matching import HOLD_CODES, STATUSES, TRANSITIONS, Matching, Tolerances
from emulators.limits import DEFAULT_LIMITS, Limits

__all__ = ["HOLD_CODES", "STATUSES", "Ap", "Tolerances"]


class Ap(Matching):
    system = "ap"

    def __init__(
        self,
        journal: Journal,
        clock: Callable[[], float],
        epoch: dt.datetime,
        *,
        tolerances: Tolerances | None = None,
        auto_approve: bool = True,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        super().__init__(journal, clock, epoch, limits)
        self.tolerances = tolerances or Tolerances()
        self.auto_approve = auto_approve
        self._seeded_prices: list[dict[str, Any]] = []
        self.reset()

    def seed_prices(self, rows: list[dict[str, Any]]) -> None:
        """Contract prices (rows as ``PUT /prices`` takes them) held from now on and after
        every reset, as configuration: no journal entry, no re-match.  Replaces the prices;
        ValueError naming the row at fault."""
        found, error = _rows({"prices": rows}, "prices", _PRICE) if rows else ([], None)
        if error is not None:
            raise ValueError(f"seeded prices: {error.body}")
        self._seeded_prices = [dict(r) for r in found]
        self.reset()

    def reset(self) -> None:
        """Forget all data but the seeded prices (tolerances and listeners stay)."""
        self.po_lines: dict[tuple[str, int], dict[str, Any]] = {}
        self.receipts: dict[str, dict[str, Any]] = {}
        self.prices: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.invoices: dict[tuple[str, str], dict[str, Any]] = {}
        # indexes, so that intake and re-matching cost the same at invoice 20,000 as at 20
        self._po_numbers: set[str] = set()
        self._by_vendor_date: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._by_po: dict[str, list[dict[str, Any]]] = {}  # PO → its invoices, in intake order
        self._held: dict[str, dict[int, dict[str, Any]]] = {}  # PO → id() → invoice on hold
        self._payment_ids: set[str] = set()
        # a key per operation; the first reply replayed whatever the body (admission.py)
        self._idempotency = IdempotencyCache(per_operation=True)
        self._next_event = 1
        self._next_payment = 1
        for row in self._seeded_prices:
            self._hold_price(row)

    def _hold_price(self, row: dict[str, Any]) -> tuple[str, str, str]:
        """Hold a contract price row (as ``PUT /prices`` takes it); its key."""
        key = (row["vendor_num"], row["item_id"], row["uom"])
        self.prices[key] = {name: row.get(name) for name in _PRICE}
        if row.get("effective_date") is not None:
            self.prices[key]["effective_date"] = _iso_date(row["effective_date"])
        return key

    # -- reference data -------------------------------------------------------

    def _upsert(
        self,
        operation: str,
        columns: dict[str, str],
        body: Any,
        idempotency_key: str | None,
        apply: Callable[[list[dict[str, Any]], str, str | None], None],
    ) -> Reply:
        """An upsert of reference rows: admitted once per key, the rows under ``body[operation]``
        checked against ``columns``, then ``apply(rows, cause, correlation_id)`` → 200."""
        if (done := self._admit(operation, idempotency_key, body)) is not None:
            return done
        rows, error = _rows(body, operation, columns)
        if error is not None:
            return error
        cause = idempotency_key or body_cause(f"ap:{operation}", body)
        apply(rows, cause, body.get("correlation_id"))
        return self._remember(operation, idempotency_key, Reply(200, {"upserted": len(rows)}))

    def upsert_po_lines(self, body: Any, idempotency_key: str | None = None) -> Reply:
        return self._upsert("po_lines", _PO_LINE, body, idempotency_key, self._apply_po_lines)

    def _apply_po_lines(
        self, rows: list[dict[str, Any]], cause: str, correlation_id: str | None
    ) -> None:
        for row in rows:
            key = (row["po_number"], row["po_line_number"])
            self._po_numbers.add(key[0])
            line = self.po_lines.setdefault(key, {"quantity_received": 0, "quantity_invoiced": 0})
            line.update({name: row[name] for name in _PO_LINE})
            entity = f"po_line:{key[0]}:{key[1]}"
            self._journal.record(
                entity, "ap_ordered_qty", row["quantity_ordered"], cause, correlation_id
            )
            self._journal.record(entity, "ap_unit_price", row["unit_price"], cause, correlation_id)
        touched = {(r["po_number"], r["po_line_number"]) for r in rows}
        self._rematch(
            lambda inv, line: (inv["po_number"], line) in touched,
            cause,
            correlation_id,
            {po for po, _ in touched},
        )

    def post_receipt(self, body: Any, idempotency_key: str | None = None) -> Reply:
        if (done := self._admit("receipt", idempotency_key, body)) is not None:
            return done
        lines, error = _document(body, _RECEIPT, _RECEIPT_LINE)
        if error is not None:
            return error
        po = body["po_number"]
        for i, row in enumerate(lines):
            if (po, row["po_line_number"]) not in self.po_lines:
                return problem(
                    422, _UNPROCESSABLE, f"no line on PO {po}", f"lines[{i}].po_line_number"
                )
        number = body["receipt_num"]
        if number in self.receipts:
            reply = Reply(200, {"receipt_num": number, "duplicate": True})
            return self._remember("receipt", idempotency_key, reply)
        cause = idempotency_key or body_cause("ap:receipt", body)
        correlation_id = body.get("correlation_id")
        self.receipts[number] = copy_document(body) | {"received_at": self._stamp()}
        for row in lines:
            self._add_to_line(
                po, row, "quantity_received", "ap_received_qty", cause, correlation_id
            )
        touched = {row["po_line_number"] for row in lines}
        self._rematch(
            lambda inv, ln: inv["po_number"] == po and ln in touched, cause, correlation_id, {po}
        )
        reply = Reply(201, {"receipt_num": number, "duplicate": False})
        return self._remember("receipt", idempotency_key, reply)

    def upsert_prices(self, body: Any, idempotency_key: str | None = None) -> Reply:
        return self._upsert("prices", _PRICE, body, idempotency_key, self._apply_prices)

    def _apply_prices(
        self, rows: list[dict[str, Any]], cause: str, correlation_id: str | None
    ) -> None:
        for row in rows:
            key = self._hold_price(row)
            self._journal.record(
                "price:{}:{}:{}".format(*key),
                "ap_contract_price",
                row["unit_price"],
                cause,
                correlation_id,
            )
        keys = {(r["vendor_num"], r["item_id"], r["uom"]) for r in rows}

        def touched(inv: dict[str, Any], line: int) -> bool:
            po_line = self.po_lines[(inv["po_number"], line)]
            return (inv["vendor_num"], po_line["item_id"], po_line["uom"]) in keys

        self._rematch(touched, cause, correlation_id)

    # -- invoices -------------------------------------------------------------

    def post_invoice(self, body: Any, idempotency_key: str | None = None) -> Reply:
        if (done := self._admit("invoice", idempotency_key, body)) is not None:
            return done
        error = self._check_invoice(body)
        if error is not None:
            return error
        key = (body["vendor_num"], body["invoice_num"])
        cause = idempotency_key or body_cause("ap:invoice", body)
        correlation_id = body.get("correlation_id")
        invoice: dict[str, Any] = {
            "vendor_num": key[0],
            "invoice_num": key[1],
            "invoice_date": _iso_date(body["invoice_date"]),
            "po_number": body["po_number"],
            "invoice_amount": body["invoice_amount"],
            "status": "received",
            "payment_status": "unpaid",
            "payment_id": None,
            "creation_date": self._stamp(),
            "last_update_date": self._stamp(),
            "correlation_id": correlation_id,
            "lines": [
                {
                    "line_number": n,
                    "po_line_number": row["po_line_number"],
                    "quantity_invoiced": row["quantity_invoiced"],
                    "unit_price": row["unit_price"],
                    "uom": row.get("uom"),
                }
                for n, row in enumerate(body["lines"], start=1)
            ],
            "holds": [],
        }
        self.invoices[key] = invoice
        day = (invoice["vendor_num"], invoice["invoice_date"])
        self._by_vendor_date.setdefault(day, []).append(invoice)
        self._by_po.setdefault(invoice["po_number"], []).append(invoice)
        mismatched = self.uom_mismatches(invoice)
        if mismatched:
            rows = [{"po_number": invoice["po_number"], **m} for m in mismatched]
            self._journal.record(_entity(invoice), "uom_mismatch", rows, cause, correlation_id)
        foreign = {m["line_number"] for m in mismatched}
        for row in invoice["lines"]:
            if row["line_number"] in foreign:
                continue  # billed in another unit: nothing invoiced in the ordered one
            self._add_to_line(
                invoice["po_number"],
                row,
                "quantity_invoiced",
                "ap_invoiced_qty",
                cause,
                correlation_id,
            )
        invoice["holds"] = [_hold_row(h) for h in self._line_holds(invoice)]
        invoice["holds"] += [_hold_row(h) for h in self._invoice_holds(invoice)]
        event = "validated_held" if invoice["holds"] else "validated_clean"
        self._advance(invoice, event)
        self._settle(invoice, None, None, cause, correlation_id)
        entity = _entity(invoice)
        self._journal.record(entity, "payment_status", "unpaid", cause, correlation_id)
        reply = Reply(201, _public(invoice))
        return self._remember("invoice", idempotency_key, reply)

    def release_hold(self, vendor_num: str, invoice_num: str, code: str, reason: str) -> Reply:
        """Release every open hold row of ``code`` on the invoice (a person's decision)."""
        invoice = self.invoices.get((vendor_num, invoice_num))
        if invoice is None:
            return _no_invoice(vendor_num, invoice_num)
        if not isinstance(reason, str) or not reason.strip():
            return problem(422, _UNPROCESSABLE, "a release needs a reason", "reason")
        if (refused := self._past_limits({"reason": reason})) is not None:
            return refused
        if (invoice["status"], "release_hold") not in TRANSITIONS:
            return _illegal(invoice, "release_hold")
        rows = [
            h for h in invoice["holds"] if h["hold_code"] == code and h["hold_status"] == "open"
        ]
        if not rows:
            return problem(
                409, "Conflict", f"no open hold {code!r} on invoice {invoice_num}", "hold_code"
            )
        before = (invoice["status"], _open_codes(invoice))
        for row in rows:
            row["hold_status"], row["release_reason"] = "released", reason
        self._advance(invoice, "release_hold")
        if not _open_codes(invoice):
            self._advance(invoice, "holds_cleared")
        self._settle(invoice, *before, f"ap:release:{vendor_num}:{invoice_num}:{code}", None)
        return Reply(200, _public(invoice))

    def approve(self, vendor_num: str, invoice_num: str) -> Reply:
        """Approve a matched invoice (needed only when ``auto_approve`` is off)."""
        invoice = self.invoices.get((vendor_num, invoice_num))
        if invoice is None:
            return _no_invoice(vendor_num, invoice_num)
        if (invoice["status"], "approve") not in TRANSITIONS:
            return _illegal(invoice, "approve")
        before = (invoice["status"], _open_codes(invoice))
        self._advance(invoice, "approve")
        self._settle(invoice, *before, f"ap:approve:{vendor_num}:{invoice_num}", None)
        return Reply(200, _public(invoice))

    def pay(
        self,
        vendor_num: str,
        invoice_num: str,
        payment_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Reply:
        """Pay an approved invoice; ``payment_id`` is numbered by AP when not given."""
        if (done := self._admit("pay", idempotency_key, {"payment_id": payment_id})) is not None:
            return done
        invoice = self.invoices.get((vendor_num, invoice_num))
        if invoice is None:
            return _no_invoice(vendor_num, invoice_num)
        if (invoice["status"], "pay") not in TRANSITIONS:
            return _illegal(invoice, "pay")
        if payment_id is None:
            payment_id = f"PAY{self._next_payment:07d}"
            self._next_payment += 1
        elif not isinstance(payment_id, str) or not payment_id:
            return problem(422, _UNPROCESSABLE, "must be a non-empty string", "payment_id")
        if payment_id in self._payment_ids:
            return problem(409, "Conflict", f"payment {payment_id} already made", "payment_id")
        before = (invoice["status"], _open_codes(invoice))
        self._payment_ids.add(payment_id)
        invoice["payment_id"], invoice["payment_status"] = payment_id, "paid"
        invoice["payment_date"] = self._stamp()
        self._advance(invoice, "pay")
        cause = idempotency_key or f"ap:pay:{payment_id}"
        self._journal.record(_entity(invoice), "payment_status", "paid", cause, None)
        self._settle(invoice, *before, cause, None)
        return self._remember("pay", idempotency_key, Reply(200, _public(invoice)))

    # -- reads ----------------------------------------------------------------

    def get_invoice(self, vendor_num: str, invoice_num: str) -> Reply:
        invoice = self.invoices.get((vendor_num, invoice_num))
        if invoice is None:
            return _no_invoice(vendor_num, invoice_num)
        return Reply(200, _public(invoice))

    def list_invoices(
        self,
        status: str | None = None,
        offset: int = 0,
        limit: int = 25,
        updated_since: str | None = None,
    ) -> Reply:
        """Invoices in intake order, optionally of one status, paged with ``hasMore``.
        With ``updated_since`` (ISO 8601), only invoices whose status changed at or after
        it, oldest change first: a change feed for integrations to page by keyset."""
        if status is not None and status not in STATUSES:
            return problem(400, "Bad Request", f"must be one of {', '.join(STATUSES)}", "status")
        if offset < 0:
            return problem(400, "Bad Request", "offset must be >= 0", "offset")
        if not 1 <= limit <= 500:
            return problem(400, "Bad Request", "limit must be within 1..500", "limit")
        chosen = [i for i in self.invoices.values() if status is None or i["status"] == status]
        if updated_since is not None:
            try:
                since = dt.datetime.fromisoformat(updated_since).isoformat(timespec="milliseconds")
            except (TypeError, ValueError):
                return problem(400, "Bad Request", "must be an ISO 8601 date-time", "updated_since")
            chosen = sorted(
                (i for i in chosen if i["last_update_date"] >= since),
                key=lambda i: (i["last_update_date"], i["vendor_num"], i["invoice_num"]),
            )
        window = [_public(i) for i in chosen[offset : offset + limit]]
        return page(window, offset, limit, len(chosen))

    def snapshot(self) -> dict[str, Any]:
        """All state, JSON-able (for the control API)."""
        return copy.deepcopy(
            {
                "po_lines": list(self.po_lines.values()),
                "receipts": list(self.receipts.values()),
                "prices": list(self.prices.values()),
                "invoices": list(self.invoices.values()),
            }
        )

    # -- validation and helpers -----------------------------------------------

    def _add_to_line(
        self,
        po: str,
        row: dict[str, Any],
        column: str,
        fact: str,
        cause: str,
        correlation_id: str | None,
    ) -> None:
        """Add ``row[column]`` to that column of the PO line ``row`` names, and journal the
        line's new total as ``fact``."""
        line = self.po_lines[(po, row["po_line_number"])]
        line[column] += row[column]
        self._journal.record(
            f"po_line:{po}:{row['po_line_number']}", fact, line[column], cause, correlation_id
        )

    def _check_invoice(self, body: Any) -> Reply | None:
        lines, error = _document(body, _INVOICE, _INVOICE_LINE)
        if error is not None:
            return error
        po = body["po_number"]
        if po not in self._po_numbers:
            return problem(422, _UNPROCESSABLE, f"no purchase order {po} in AP", "po_number")
        seen: set[int] = set()
        for i, row in enumerate(lines):
            n = row["po_line_number"]
            if (po, n) not in self.po_lines:
                return problem(
                    422, _UNPROCESSABLE, f"no line {n} on PO {po}", f"lines[{i}].po_line_number"
                )
            if n in seen:
                return problem(
                    422, _UNPROCESSABLE, f"PO line {n} billed twice", f"lines[{i}].po_line_number"
                )
            seen.add(n)
        known = self.invoices.get((body["vendor_num"], body["invoice_num"]))
        if known is not None:
            return problem(
                409,
                "Conflict",
                f"duplicate invoice: {body['invoice_num']} from {body['vendor_num']} "
                f"was received {known['creation_date']}",
                "invoice_num",
            )
        return None

    def _admit(self, operation: str, idempotency_key: str | None, body: Any) -> Reply | None:
        """A body past the limits (422 naming the field), else a repeat's first reply."""
        return self._past_limits(body) or self._replay(operation, idempotency_key)

    def _past_limits(self, body: Any) -> Reply | None:
        refusal = self._limits.check(body, _BOUNDED)
        if refusal is None:
            return None
        return problem(422, _UNPROCESSABLE, refusal.detail, refusal.field)

    def _replay(self, operation: str, idempotency_key: str | None) -> Reply | None:
        return self._idempotency.replay(operation, idempotency_key)

    def _remember(self, operation: str, idempotency_key: str | None, reply: Reply) -> Reply:
        return self._idempotency.remember(operation, idempotency_key, reply)
