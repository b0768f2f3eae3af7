"""AP's three-way match and the invoice status machine.

Theory of operation: an invoice's lines are matched against the PO lines
(price, ordered and received quantity, within the :class:`Tolerances`) and the
invoice against its header total and duplicates; each mismatch is an open hold.
A line billed in another unit than ordered holds ``UOM`` (a ``uom_mismatch``: the
ordered and the invoiced unit, no quantity or price check on that line), which
no re-match clears: AP does not convert units, a person releases it.
The status machine is the table :data:`TRANSITIONS`: an event its status does
not allow is :class:`IllegalTransition` (a bug when raised internally).  A
matched invoice goes on to approved under auto-approval.  :class:`Matching` is
the part of :class:`~emulators.ap.Ap` that holds these rules; it reads the AP's
documents and indexes, set up by ``Ap.reset``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from emulators._base import System
from emulators.ap._checks import _dec, _entity, _open_codes, _pct

__all__ = [
    "HOLD_CODES",
    "STATUSES",
    "TRANSITIONS",
    "UOM_HOLD",
    "IllegalTransition",
    "Matching",
    "Tolerances",
]

STATUSES = ("received", "matched", "on_hold", "approved", "paid")
LINE_HOLDS = ("PRICE", "QTY ORD", "QTY REC")
UOM_HOLD = "UOM"  # billed in another unit than ordered: only a person releases it
HOLD_CODES = (*LINE_HOLDS, UOM_HOLD, "AMOUNT", "DUPLICATE")

TRANSITIONS: dict[tuple[str, str], str] = {
    ("received", "validated_clean"): "matched",
    ("received", "validated_held"): "on_hold",
    ("on_hold", "release_hold"): "on_hold",
    ("on_hold", "holds_cleared"): "matched",
    ("matched", "approve"): "approved",
    ("approved", "pay"): "paid",
}


class IllegalTransition(Exception):
    """An event the invoice's status does not allow (a bug when raised internally)."""


@dataclass(frozen=True)
class Tolerances:
    """Match tolerances of one AP instance (percentages and currency amounts)."""

    price_pct: float = 2.0
    qty_pct: float = 3.0
    amount_floor: float = 50.0  # line differences below this amount pass
    header_rounding: float = 0.01  # header vs lines: differences up to this pass


class Matching(System):
    """Holds, re-matching and the status machine over the AP's documents."""

    po_lines: dict[tuple[str, int], dict[str, Any]]
    prices: dict[tuple[str, str, str], dict[str, Any]]
    tolerances: Tolerances
    auto_approve: bool
    _by_vendor_date: dict[tuple[str, str], list[dict[str, Any]]]
    _by_po: dict[str, list[dict[str, Any]]]
    _held: dict[str, dict[int, dict[str, Any]]]
    _next_event: int

    # -- matching -------------------------------------------------------------

    def uom_mismatches(self, invoice: dict[str, Any]) -> list[dict[str, Any]]:
        """The invoice lines billed in another unit than their PO line was ordered in (a
        line that names no unit is taken to bill the ordered one): each names the PO line,
        the ordered and the invoiced unit.  AP converts nothing: the supplier rebills."""
        found = []
        for row in invoice["lines"]:
            ordered = self.po_lines[(invoice["po_number"], row["po_line_number"])]["uom"]
            billed = row.get("uom") or ordered
            if billed != ordered:
                found.append(
                    {
                        "line_number": row["line_number"],
                        "po_line_number": row["po_line_number"],
                        "ordered_uom": ordered,
                        "invoiced_uom": billed,
                        "quantity_invoiced": row["quantity_invoiced"],
                    }
                )
        return found

    def _line_holds(self, invoice: dict[str, Any]) -> list[dict[str, Any]]:
        """The line holds that apply to ``invoice`` now (earlier invoices count as billed)."""
        tol = self.tolerances
        billed_before: dict[int, int] = {}
        for other in self._by_po.get(invoice["po_number"], ()):
            if other is invoice:
                break
            foreign = {m["line_number"] for m in self.uom_mismatches(other)}
            for row in other["lines"]:
                if row["line_number"] in foreign:
                    continue  # another unit: no quantity in the ordered one
                n = row["po_line_number"]
                billed_before[n] = billed_before.get(n, 0) + row["quantity_invoiced"]
        holds = [
            {"hold_code": UOM_HOLD, "basis": "uom_mismatch", **m}
            for m in self.uom_mismatches(invoice)
        ]
        foreign = {h["line_number"] for h in holds}  # quantity and price checks: meaningless
        floor, price_pct, qty_pct = (
            _dec(tol.amount_floor),
            _dec(tol.price_pct),
            _dec(tol.qty_pct),
        )
        for row in invoice["lines"]:
            if row["line_number"] in foreign:
                continue
            po_line = self.po_lines[(invoice["po_number"], row["po_line_number"])]
            qty, price = Decimal(row["quantity_invoiced"]), _dec(row["unit_price"])
            billed = Decimal(billed_before.get(row["po_line_number"], 0)) + qty
            ordered = Decimal(po_line["quantity_ordered"])
            received = Decimal(po_line["quantity_received"])
            reference, price_basis = self._reference_price(invoice, po_line)
            # (code, basis, expected, actual, money per unit of excess, tolerance %)
            checks = (
                ("PRICE", price_basis, reference, price, qty, price_pct),
                ("QTY ORD", "order", ordered, billed, price, qty_pct),
                ("QTY REC", "receipt", received, billed, price, qty_pct),
            )
            for code, basis, expected, actual, per_unit, pct in checks:
                over = actual - expected
                amount = over * per_unit
                if over > 0 and over * 100 > pct * expected and amount >= floor:
                    holds.append(
                        {
                            "hold_code": code,
                            "line_number": row["line_number"],
                            "po_line_number": row["po_line_number"],
                            "basis": basis,
                            "expected": float(expected),
                            "actual": float(actual),
                            "difference": float(over),
                            "difference_pct": _pct(over, expected),
                            "amount": float(amount),
                        }
                    )
        return holds

    def _invoice_holds(self, invoice: dict[str, Any]) -> list[dict[str, Any]]:
        holds = []
        lines = sum(
            (Decimal(r["quantity_invoiced"]) * _dec(r["unit_price"]) for r in invoice["lines"]),
            Decimal(0),
        )
        total = _dec(invoice["invoice_amount"])
        if abs(total - lines) > _dec(self.tolerances.header_rounding):
            holds.append(
                {
                    "hold_code": "AMOUNT",
                    "basis": "lines",
                    "expected": float(lines),
                    "actual": float(total),
                    "difference": float(total - lines),
                    "amount": float(total - lines),
                }
            )
        same_day = self._by_vendor_date.get((invoice["vendor_num"], invoice["invoice_date"]), [])
        for other in same_day:
            if other is not invoice and _dec(other["invoice_amount"]) == total:
                holds.append({"hold_code": "DUPLICATE", "basis": f"invoice {other['invoice_num']}"})
                break
        return holds

    def _reference_price(
        self, invoice: dict[str, Any], po_line: dict[str, Any]
    ) -> tuple[Decimal, str]:
        contract = self.prices.get((invoice["vendor_num"], po_line["item_id"], po_line["uom"]))
        if contract is not None and (contract["effective_date"] or "") <= invoice["invoice_date"]:
            return _dec(contract["unit_price"]), "contract"
        return _dec(po_line["unit_price"]), "order"

    def _rematch(
        self,
        touches: Callable[[dict[str, Any], int], bool],
        cause: str,
        correlation_id: str | None,
        pos: set[str] | None = None,
    ) -> None:
        """Re-evaluate held invoices with a line ``touches`` selects (only those of
        ``pos``, when given); clear what passes now."""
        groups = self._held.values() if pos is None else (self._held.get(p, {}) for p in pos)
        held = sorted(
            (inv for group in groups for inv in group.values()), key=lambda i: i["creation_date"]
        )
        for invoice in held:
            if not any(touches(invoice, r["po_line_number"]) for r in invoice["lines"]):
                continue
            still = {(h["hold_code"], h["line_number"]) for h in self._line_holds(invoice)}
            before = (invoice["status"], _open_codes(invoice))
            for row in invoice["holds"]:
                if (
                    row["hold_status"] == "open"
                    and row["hold_code"] in LINE_HOLDS
                    and (row["hold_code"], row["line_number"]) not in still
                ):
                    row["hold_status"], row["release_reason"] = "cleared", "re-matched"
            if not _open_codes(invoice):
                self._advance(invoice, "holds_cleared")
            self._settle(invoice, *before, cause, correlation_id)

    # -- status machine -------------------------------------------------------

    def _advance(self, invoice: dict[str, Any], event: str) -> None:
        """Apply ``event``; a matched invoice goes on to approved under auto-approval."""
        new = TRANSITIONS.get((invoice["status"], event))
        if new is None:
            raise IllegalTransition(f"{event} in status {invoice['status']}")
        invoice["status"] = new
        if new == "on_hold":
            self._held.setdefault(invoice["po_number"], {})[id(invoice)] = invoice
        else:
            self._held.get(invoice["po_number"], {}).pop(id(invoice), None)
        if new == "matched" and self.auto_approve:
            self._advance(invoice, "approve")

    def _settle(
        self,
        invoice: dict[str, Any],
        status_before: str | None,
        holds_before: list[str] | None,
        cause: str,
        correlation_id: str | None,
    ) -> None:
        """Journal and announce what changed since ``*_before`` (``None``: new invoice)."""
        entity = _entity(invoice)
        holds = _open_codes(invoice)
        if holds != holds_before:
            self._journal.record(entity, "holds", holds, cause, correlation_id)
        if invoice["status"] != status_before:
            invoice["last_update_date"] = self._stamp()
            self._journal.record(entity, "match_status", invoice["status"], cause, correlation_id)
            event = {
                "eventId": f"ap-evt-{self._next_event}",
                "eventType": "InvoiceStatusChanged",
                "invoice": {
                    "vendor_num": invoice["vendor_num"],
                    "invoice_num": invoice["invoice_num"],
                },
            }
            self._next_event += 1
            for listener in self.listeners:
                listener(event)

    def _stamp(self) -> str:
        return self._now().isoformat(timespec="milliseconds")
