"""A warehouse management system: expected receipts, ship notices, dock receiving, putaway.

Theory of operation: the dock plans receiving from what it expects to arrive.
Two documents tell it, both in the WMS's own snake_case shape:

* an expected receipt per purchase-order line (``upsert_expected_receipts``),
  ``{"receipts": [{po_nbr, po_line_nbr, item_id, dock_gln, exp_qty, qty_uom,
  ...}], "trace_id"}``; an upsert replaces the expected quantity and date of a
  known line and journals ``expected_qty``;
* a ship notice (``post_ship_notice``), ``{"asn_nbr", "po_nbr", "ship_date"?,
  "trace_id"?, "lines": [{po_line_nbr, item_id, shipped_qty, qty_uom,
  lot_nbr?, expiry_date? (YYYY-MM-DD)}]}``; each line becomes an expected line
  keyed by (asn_nbr, po_nbr, po_line_nbr) in status ``expected``, and the
  WMS journals the PO line's ``shipped_qty`` (summed over its ship notices).
  An ASN may be sent again, replacing its lines, until the dock posts the
  first receipt against it; after that a resend is a 409.

A ship notice line may also name the labelled pack it travels in (``sscc``,
an SSCC-18) and the GTIN it ships under (``gtin``); the header its bill of
lading (``bol_nbr``).

The dock receives (``receive``) against an ASN line (``asn_nbr`` +
``po_line_nbr``) or, without an ASN, against the PO line's expected receipt
(``po_nbr`` + ``po_line_nbr``); a scanned ``gtin`` may stand for
``po_line_nbr``, and ``receive_pack`` receives a whole pack by its ``sscc``
(:mod:`emulators.wms._scan`)::

    {"asn_nbr"?, "po_nbr"?, "po_line_nbr" | "gtin", "received_qty", "rejected_qty"?,
     "reject_reason"?, "lot_nbr"?, "expiry_date"?, "trace_id"?}

``received_qty`` is what the dock accepts into stock; ``rejected_qty`` is what
it counted but refused, with a ``reject_reason`` (``_REJECT_REASONS``).  A lot
whose ``expiry_date`` (from the receipt, else from the ASN line) is before
today is refused whole: its quantity moves to rejected with reason
``EXPIRED``.  A line may be received short, or over by up to
``over_receipt_pct`` (default 10 %) of its expected quantity; beyond that the
receipt is a 422 naming ``received_qty``.  Each line follows the table
``_TRANSITIONS`` below: expected → partially_received → received, where a
line closes once its accepted quantity reaches expected x (1 - ``close_pct``,
default 5 %).  A closed line refuses further receipts (409); so does any
(state, event) pair missing from the table.

Each receipt gets a sequential id (``RCV-000001``, ...), is announced to
``listeners`` with a thin event (keys only: ``event_id``, ``event_type``
``receipt.created``, ``receipt_id``, ``po_nbr``, ``po_line_nbr``), and moves
the PO line's journalled facts ``received_qty`` (cumulative accepted) and
``rejected_qty`` (cumulative refused) — each only when the receipt changes it.
``putaway`` then moves accepted quantity of a receipt into stock at a
location, kept by (location, item_id, lot_nbr) and read with ``inventory``;
putting away more than the receipt still holds is a 409 naming ``qty``.

Like the ERP, the WMS honours an ``Idempotency-Key`` (a repeat returns the
first reply and changes nothing) and applies a repeated request without one
again; its journal cause is then the body's digest, so the harness sees the
second application as a duplicate effect.  Bad input is a problem reply
naming the native field (``lines[0].shipped_qty``) and changes nothing.
Every write is first held to the :class:`~emulators.limits.Limits` it was given
(strings, lists, the quantities of ``_BOUNDED``): a document past them is a 422
naming the field and changes nothing.
Time is an input: ``clock`` (seconds of the run) from ``epoch`` dates
receipts and decides which lots have expired.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from emulators._base import Journal, Reply, System, body_cause, check_paging, is_int, page, problem
from emulators.admission import IdempotencyCache
from emulators.limits import DEFAULT_LIMITS, Bound, Limits
from emulators.wms._checks import (
    _check_receipt,
    _check_ship_notice,
    _Invalid,
    _unprocessable,
)
from emulators.wms._scan import line_by_gtin, receive_pack

__all__ = ["Wms"]

_REQUIRED: dict[str, type] = {
    "po_nbr": str,
    "po_line_nbr": int,
    "item_id": str,
    "dock_gln": str,
    "exp_qty": int,
    "qty_uom": str,
}

# -- the receiving line's state machine ----------------------------------------

EXPECTED, PARTIALLY_RECEIVED, RECEIVED = "expected", "partially_received", "received"
# A receipt is classified by the line's cumulative accepted quantity after it:
RECEIPT_NONE = "receipt_none"  # still nothing accepted (everything refused)
RECEIPT_SHORT = "receipt_short"  # some accepted, below the close threshold
RECEIPT_FULL = "receipt_full"  # at or above expected x (1 - close tolerance)

_TRANSITIONS: dict[tuple[str, str], str] = {
    (EXPECTED, RECEIPT_NONE): EXPECTED,
    (EXPECTED, RECEIPT_SHORT): PARTIALLY_RECEIVED,
    (EXPECTED, RECEIPT_FULL): RECEIVED,
    (PARTIALLY_RECEIVED, RECEIPT_NONE): PARTIALLY_RECEIVED,
    (PARTIALLY_RECEIVED, RECEIPT_SHORT): PARTIALLY_RECEIVED,
    (PARTIALLY_RECEIVED, RECEIPT_FULL): RECEIVED,
    # RECEIVED is closed: no receipt is legal on it.
}

DEFAULT_EPOCH = dt.datetime(2024, 1, 1)  # day 0 when no epoch is given

# the WMS's numeric fields that the limits bound, by native name
_BOUNDED: dict[str, Bound] = dict.fromkeys(
    ("exp_qty", "backorder_qty", "shipped_qty", "received_qty", "rejected_qty", "qty"), "quantity"
)

_Key = tuple[str | None, str, int]  # (asn_nbr or None for a PO receipt, po_nbr, po_line_nbr)


class Wms(System):
    system = "wms"

    def __init__(
        self,
        journal: Journal,
        clock: Callable[[], float] | None = None,
        epoch: dt.datetime = DEFAULT_EPOCH,
        *,
        over_receipt_pct: float = 10.0,
        close_pct: float = 5.0,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        if over_receipt_pct < 0 or not 0 <= close_pct < 100:
            raise ValueError("tolerances must be >= 0 (close_pct below 100)")
        super().__init__(journal, clock if clock is not None else (lambda: 0.0), epoch, limits)
        # a line is full from (1 - close) of its quantity, refused past (1 + over) of it
        self._full_share = 1 - Fraction(str(close_pct)) / 100
        self._most_share = 1 + Fraction(str(over_receipt_pct)) / 100
        self.expected: dict[tuple[str, int], dict[str, Any]] = {}
        # a key per operation, successes only, replayed whatever the body (admission.py)
        self._idempotency = IdempotencyCache(per_operation=True)
        self._init_state()

    def _init_state(self) -> None:
        self.ship_notices: dict[str, dict[str, Any]] = {}
        self._progress: dict[_Key, dict[str, Any]] = {}
        self.receipts: dict[str, dict[str, Any]] = {}
        self.stock: dict[tuple[str, str, str | None], int] = {}
        self._shipped: dict[tuple[str, int], int] = {}
        self._packs: dict[str, list[tuple[str, str, int]]] = {}  # SSCC → its ASN lines
        self._totals: dict[tuple[str, int], list[int]] = {}  # [accepted, rejected] per PO line
        self._next_receipt = 1
        self._next_event = 1

    # -- expected receipts (from the PO acknowledgment) -----------------------

    def upsert_expected_receipts(self, body: Any, idempotency_key: str | None = None) -> Reply:
        operation = "upsert_expected_receipts"
        if (replay := self._idempotency.replay(operation, idempotency_key)) is not None:
            return replay
        try:
            self._within_limits(body)
        except _Invalid as e:
            return e.reply
        rows = body.get("receipts") if isinstance(body, dict) else None
        if not isinstance(rows, list) or not rows:
            return problem(422, "Unprocessable Content", "must be a non-empty list", "receipts")
        for i, row in enumerate(rows):
            for name, kind in _REQUIRED.items():
                value = row.get(name) if isinstance(row, dict) else None
                if not isinstance(value, kind) or isinstance(value, bool) or value == "":
                    return problem(
                        422,
                        "Unprocessable Content",
                        f"must be a non-empty {kind.__name__}",
                        f"receipts[{i}].{name}",
                    )
            for name, least in (("po_line_nbr", 1), ("exp_qty", 0)):
                if row[name] < least:
                    return problem(
                        422, "Unprocessable Content", f"must be >= {least}", f"receipts[{i}].{name}"
                    )
        cause = idempotency_key or body_cause("wms", body)
        correlation_id = body.get("trace_id")
        for row in rows:
            key = (row["po_nbr"], row["po_line_nbr"])
            self.expected[key] = {**self.expected.get(key, {}), **row}
            self._journal.record(
                f"po_line:{key[0]}:{key[1]}", "expected_qty", row["exp_qty"], cause, correlation_id
            )
        return self._idempotency.remember(
            operation, idempotency_key, Reply(200, {"upserted": len(rows)})
        )

    def get_expected_receipt(self, po_nbr: str, po_line_nbr: int) -> Reply:
        row = self.expected.get((po_nbr, po_line_nbr))
        if row is None:
            return problem(
                404, "Not Found", f"no expected receipt {po_nbr}/{po_line_nbr}", "po_nbr"
            )
        return Reply(200, dict(row))

    # -- ship notices ---------------------------------------------------------

    def post_ship_notice(self, body: Any, idempotency_key: str | None = None) -> Reply:
        return self._once(
            "ship_notice", idempotency_key, lambda: self._ship_notice(body, idempotency_key)
        )

    def get_ship_notice(self, asn_nbr: str) -> Reply:
        asn = self.ship_notices.get(asn_nbr)
        if asn is None:
            return problem(404, "Not Found", f"no ship notice {asn_nbr}", "asn_nbr")
        return Reply(200, self._asn_view(asn))

    def _ship_notice(self, body: Any, idempotency_key: str | None) -> Reply:
        self._within_limits(body)
        asn, lines = _check_ship_notice(body)
        known = self.ship_notices.get(asn["asn_nbr"])
        if known is not None:
            progress = (
                self._progress[(known["asn_nbr"], known["po_nbr"], n)] for n in known["lines"]
            )
            if any(p["received_qty"] or p["rejected_qty"] for p in progress):
                return problem(
                    409, "Conflict", "receiving has started on this ship notice", "asn_nbr"
                )
            if known["po_nbr"] != asn["po_nbr"]:
                return problem(
                    409, "Conflict", f"ship notice is for PO {known['po_nbr']}", "po_nbr"
                )
        cause = idempotency_key or body_cause("wms", body)
        po = asn["po_nbr"]
        touched: set[int] = set()
        if known is not None:
            for n, line in known["lines"].items():
                self._shipped[(po, n)] -= line["shipped_qty"]
                del self._progress[(known["asn_nbr"], po, n)]
                self._packs.pop(line["sscc"] or "", None)
                touched.add(n)
        asn["lines"] = {line["po_line_nbr"]: line for line in lines}
        self.ship_notices[asn["asn_nbr"]] = asn
        for n, line in asn["lines"].items():
            self._shipped[(po, n)] = self._shipped.get((po, n), 0) + line["shipped_qty"]
            self._progress[(asn["asn_nbr"], po, n)] = _fresh_progress()
            if line["sscc"]:
                self._packs.setdefault(line["sscc"], []).append((asn["asn_nbr"], po, n))
            touched.add(n)
        for n in sorted(touched):
            self._journal.record(
                f"po_line:{po}:{n}", "shipped_qty", self._shipped[(po, n)], cause, asn["trace_id"]
            )
        return Reply(201 if known is None else 200, self._asn_view(asn))

    # -- receiving ------------------------------------------------------------

    def receive(self, body: Any, idempotency_key: str | None = None) -> Reply:
        return self._once("receive", idempotency_key, lambda: self._receive(body, idempotency_key))

    def receive_pack(self, body: Any, idempotency_key: str | None = None) -> Reply:
        """Scan a pack's SSCC: every line in it received in full (:mod:`emulators.wms._scan`)."""
        return self._once(
            "receive_pack", idempotency_key, lambda: receive_pack(self, body, idempotency_key)
        )

    def _receive(self, body: Any, idempotency_key: str | None) -> Reply:
        self._within_limits(body)
        ask = _check_receipt(body)
        key, source = self._find_line(ask)
        progress = self._progress.get(key) or _fresh_progress()
        expected_qty = source["shipped_qty"] if key[0] is not None else source["exp_qty"]
        shipped: dict[str, Any] = source if key[0] is not None else {}  # lot/expiry: ASN only
        lot = ask["lot_nbr"] if ask["lot_nbr"] is not None else shipped.get("lot_nbr")
        expiry = (
            ask["expiry_date"] if ask["expiry_date"] is not None else shipped.get("expiry_date")
        )
        accepted, rejected, reason = ask["received_qty"], ask["rejected_qty"], ask["reject_reason"]
        if expiry is not None and dt.date.fromisoformat(expiry) < self._today():
            accepted, rejected, reason = 0, accepted + rejected, "EXPIRED"
        total = progress["received_qty"] + accepted
        event = (
            RECEIPT_NONE
            if total == 0
            else RECEIPT_FULL
            if total >= expected_qty * self._full_share
            else RECEIPT_SHORT
        )
        status = _TRANSITIONS.get((progress["status"], event))
        if status is None:
            return problem(
                409,
                "Conflict",
                f"line is {progress['status']}; it accepts no more receipts",
                "po_line_nbr",
            )
        if total > expected_qty * self._most_share:
            limit = int(expected_qty * self._most_share)
            return problem(
                422,
                "Unprocessable Content",
                f"over receipt: {total} would exceed the {limit} allowed "
                f"({expected_qty} expected + tolerance)",
                "received_qty",
            )
        # Everything is checked: apply.
        progress.update(
            status=status,
            received_qty=total,
            rejected_qty=progress["rejected_qty"] + rejected,
        )
        self._progress[key] = progress
        receipt_id = f"RCV-{self._next_receipt:06d}"
        self._next_receipt += 1
        _, po, n = key
        receipt = {
            "receipt_id": receipt_id,
            "asn_nbr": key[0],
            "po_nbr": po,
            "po_line_nbr": n,
            "item_id": source["item_id"],
            "qty_uom": source["qty_uom"],
            "received_qty": accepted,
            "rejected_qty": rejected,
            "reject_reason": reason if rejected else None,
            "lot_nbr": lot,
            "expiry_date": expiry,
            "received_at": self._now().isoformat(timespec="milliseconds"),
            "put_away_qty": 0,
            "trace_id": ask["trace_id"],
        }
        self.receipts[receipt_id] = receipt
        cause = idempotency_key or body_cause("wms", body)
        self._announce_receipt(receipt, cause)
        return Reply(201, {"receipt": dict(receipt), "line": self._line_view(key)})

    def _announce_receipt(self, receipt: dict[str, Any], cause: str) -> None:
        """Journal the PO line's new totals and tell the subscribers of the receipt."""
        po, n = receipt["po_nbr"], receipt["po_line_nbr"]
        accepted, rejected = receipt["received_qty"], receipt["rejected_qty"]
        totals = self._totals.setdefault((po, n), [0, 0])
        totals[0] += accepted
        totals[1] += rejected
        entity = f"po_line:{po}:{n}"
        if accepted:
            self._journal.record(entity, "received_qty", totals[0], cause, receipt["trace_id"])
        if rejected:
            self._journal.record(entity, "rejected_qty", totals[1], cause, receipt["trace_id"])
        event_body = {
            "event_id": f"wms-evt-{self._next_event}",
            "event_type": "receipt.created",
            "receipt_id": receipt["receipt_id"],
            "po_nbr": po,
            "po_line_nbr": n,
        }
        self._next_event += 1
        for listener in self.listeners:
            listener(dict(event_body))

    def _find_line(self, ask: dict[str, Any]) -> tuple[_Key, dict[str, Any]]:
        if ask["po_line_nbr"] is None:  # an item scan: its GTIN finds the line
            ask["po_line_nbr"] = line_by_gtin(self, ask)
        n = ask["po_line_nbr"]
        if ask["asn_nbr"] is not None:
            asn = self.ship_notices.get(ask["asn_nbr"])
            if asn is None:
                raise _Invalid(
                    problem(404, "Not Found", f"no ship notice {ask['asn_nbr']}", "asn_nbr")
                )
            if ask["po_nbr"] is not None and ask["po_nbr"] != asn["po_nbr"]:
                raise _unprocessable(f"ship notice is for PO {asn['po_nbr']}", "po_nbr")
            line = asn["lines"].get(n)
            if line is None:
                raise _Invalid(
                    problem(404, "Not Found", "no such line on this ship notice", "po_line_nbr")
                )
            return (asn["asn_nbr"], asn["po_nbr"], n), line
        row = self.expected.get((ask["po_nbr"], n))
        if row is None:
            raise _Invalid(
                problem(404, "Not Found", f"no expected receipt {ask['po_nbr']}/{n}", "po_line_nbr")
            )
        return (None, ask["po_nbr"], n), row

    def get_receiving_line(
        self, po_nbr: str, po_line_nbr: int, asn_nbr: str | None = None
    ) -> Reply:
        """A line's receiving status: expected, received and rejected quantities."""
        key: _Key = (asn_nbr, po_nbr, po_line_nbr)
        known = (
            asn_nbr in self.ship_notices
            and self.ship_notices[asn_nbr]["po_nbr"] == po_nbr
            and po_line_nbr in self.ship_notices[asn_nbr]["lines"]
            if asn_nbr is not None
            else (po_nbr, po_line_nbr) in self.expected
        )
        if not known:
            return problem(404, "Not Found", "no such receiving line", "po_line_nbr")
        return Reply(200, self._line_view(key))

    def get_receipt(self, receipt_id: str) -> Reply:
        receipt = self.receipts.get(receipt_id)
        if receipt is None:
            return problem(404, "Not Found", f"no receipt {receipt_id}", "receipt_id")
        return Reply(200, dict(receipt))

    def list_receipts(self, po_nbr: str | None = None, offset: int = 0, limit: int = 100) -> Reply:
        """Receipts oldest first, optionally of one PO, paged with ``has_more``."""
        if (error := check_paging(offset, limit)) is not None:
            return error
        chosen = [r for r in self.receipts.values() if po_nbr is None or r["po_nbr"] == po_nbr]
        window = [dict(r) for r in chosen[offset : offset + limit]]
        return page(window, offset, limit, len(chosen), more="has_more")

    # -- putaway and inventory ------------------------------------------------

    def putaway(
        self, receipt_id: Any, location: Any, qty: Any, idempotency_key: str | None = None
    ) -> Reply:
        return self._once(
            "putaway", idempotency_key, lambda: self._putaway(receipt_id, location, qty)
        )

    def _putaway(self, receipt_id: Any, location: Any, qty: Any) -> Reply:
        self._within_limits({"receipt_id": receipt_id, "location": location, "qty": qty})
        receipt = self.receipts.get(receipt_id) if isinstance(receipt_id, str) else None
        if receipt is None:
            return problem(404, "Not Found", f"no receipt {receipt_id}", "receipt_id")
        if not isinstance(location, str) or not location:
            return problem(422, "Unprocessable Content", "must be a non-empty str", "location")
        if not is_int(qty) or qty < 1:
            return problem(422, "Unprocessable Content", "must be an integer >= 1", "qty")
        available = receipt["received_qty"] - receipt["put_away_qty"]
        if qty > available:
            return problem(
                409, "Conflict", f"only {available} of this receipt is left to put away", "qty"
            )
        receipt["put_away_qty"] += qty
        where = (location, receipt["item_id"], receipt["lot_nbr"])
        self.stock[where] = self.stock.get(where, 0) + qty
        return Reply(
            200,
            {
                "receipt_id": receipt_id,
                "location": location,
                "item_id": receipt["item_id"],
                "lot_nbr": receipt["lot_nbr"],
                "qty": qty,
                "remaining_qty": available - qty,
                "on_hand_qty": self.stock[where],
            },
        )

    def inventory(self, location: str | None = None, item_id: str | None = None) -> Reply:
        """Stock on hand by (location, item_id, lot_nbr), optionally filtered."""
        rows = [
            {"location": loc, "item_id": item, "lot_nbr": lot, "on_hand_qty": qty}
            for (loc, item, lot), qty in sorted(self.stock.items(), key=_stock_order)
            if (location is None or loc == location) and (item_id is None or item == item_id)
        ]
        return Reply(200, {"items": rows, "total_qty": sum(r["on_hand_qty"] for r in rows)})

    # -- control --------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole state as plain JSON-able data (for the control API)."""
        return {
            "expected_receipts": [copy.deepcopy(self.expected[k]) for k in sorted(self.expected)],
            "ship_notices": [
                self._asn_view(self.ship_notices[a]) for a in sorted(self.ship_notices)
            ],
            "po_receiving_lines": [
                self._line_view((None, po, n)) for po, n in sorted(self.expected)
            ],
            "receipts": [dict(r) for r in self.receipts.values()],
            "inventory": self.inventory().body["items"],
            "next_receipt_nbr": self._next_receipt,
            "next_event_nbr": self._next_event,
        }

    def reset(self) -> None:
        """Forget all state and idempotency keys; subscribers stay subscribed."""
        self.expected.clear()
        self._idempotency.clear()
        self._init_state()

    # -- internals ------------------------------------------------------------

    def _within_limits(self, body: Any) -> None:
        refusal = self._limits.check(body, _BOUNDED)
        if refusal is not None:
            raise _unprocessable(refusal.detail, refusal.field)

    def _once(self, operation: str, key: str | None, apply: Callable[[], Reply]) -> Reply:
        """A keyed write: a repeat of a success replays it; a refusal is not kept."""
        if (replay := self._idempotency.replay(operation, key)) is not None:
            return replay
        try:
            reply = apply()
        except _Invalid as e:
            return e.reply
        return self._idempotency.remember(operation, key, reply) if reply.ok else reply

    def _today(self) -> dt.date:
        return self._now().date()

    def _line_view(self, key: _Key) -> dict[str, Any]:
        asn_nbr, po, n = key
        progress = self._progress.get(key) or _fresh_progress()
        if asn_nbr is not None:
            source = self.ship_notices[asn_nbr]["lines"][n]
            expected_qty = source["shipped_qty"]
        else:
            source = self.expected[(po, n)]
            expected_qty = source["exp_qty"]
        return {
            "asn_nbr": asn_nbr,
            "po_nbr": po,
            "po_line_nbr": n,
            "item_id": source["item_id"],
            "qty_uom": source["qty_uom"],
            "expected_qty": expected_qty,
            **progress,
        }

    def _asn_view(self, asn: dict[str, Any]) -> dict[str, Any]:
        lines = []
        for n, line in sorted(asn["lines"].items()):
            progress = self._progress[(asn["asn_nbr"], asn["po_nbr"], n)]
            lines.append({**line, **progress})
        return {**{k: v for k, v in asn.items() if k != "lines"}, "lines": lines}


def _fresh_progress() -> dict[str, Any]:
    return {"status": EXPECTED, "received_qty": 0, "rejected_qty": 0}


def _stock_order(item: tuple[tuple[str, str, str | None], int]) -> tuple[str, str, bool, str]:
    (loc, sku, lot), _ = item
    return (loc, sku, lot is not None, lot or "")
