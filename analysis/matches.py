"""The three-way match checker: did AP approve, match or hold each invoice by its own rules?

``match_error``: AP approved or matched an invoice outside its tolerances, or
held one whose lines were all within them.  Judged from AP's own journal
(``ap_ordered_qty``, ``ap_received_qty``, ``ap_invoiced_qty``,
``ap_unit_price``), the supplier's ``invoice_price``, and ``match_status`` /
``holds``; an invoice's lines are the PO lines whose ``ap_invoiced_qty`` moved
with the same cause as its first status.  An invoice released by hand, or
held on a contract price we cannot tie to a line, is not judged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from analysis.history import Change
from analysis.violations import Violation

__all__ = ["DEFAULT_TOLERANCES", "check_matches", "judge_matches"]

#: AP's default tolerances (emulators.ap.Tolerances), used when the run's header has none.
DEFAULT_TOLERANCES: Mapping[str, float] = {"price_pct": 2.0, "qty_pct": 3.0, "amount_floor": 50.0}
_LINE_HOLDS = frozenset({"PRICE", "QTY ORD", "QTY REC"})


@dataclass
class _Invoice:
    cause: str
    lines: dict[str, int] = field(default_factory=dict)  # po_line entity -> billed at intake
    released: bool = False
    holds: tuple[str, ...] = ()


def check_matches(
    changes: Iterable[Change], tolerances: Mapping[str, float] | None = None
) -> list[Violation]:
    """Invoices approved or matched outside tolerance, or held inside it (AP's rules)."""
    return judge_matches(changes, tolerances)[0]


def judge_matches(
    changes: Iterable[Change], tolerances: Mapping[str, float] | None = None
) -> tuple[list[Violation], int]:
    """``check_matches``, and how many invoices had a match decision judged (the sample)."""
    tol = {**DEFAULT_TOLERANCES, **(tolerances or {})}
    po: dict[tuple[str, str], Any] = {}  # (po_line entity, field) -> current value
    moved: dict[str, list[tuple[str, int]]] = defaultdict(list)  # cause -> (line, billed)
    invoices: dict[str, _Invoice] = {}
    contract_vendors: set[str] = set()
    found: list[Violation] = []
    judged: set[str] = set()
    for c in changes:
        if c.entity.startswith("po_line:") and (
            (c.system == "ap" and c.field.startswith("ap_"))
            or (c.system == "supplier" and c.field == "invoice_price")
        ):
            po[(c.entity, c.field)] = c.value
            if c.system == "ap" and c.field == "ap_invoiced_qty":
                moved[c.cause].append((c.entity, c.value))
            continue
        if c.system == "ap" and c.field == "ap_contract_price":
            contract_vendors.add(c.entity.split(":")[1])
            continue
        if c.system != "ap" or c.field not in ("match_status", "holds"):
            continue
        inv = invoices.get(c.entity)
        if inv is None:
            inv = invoices[c.entity] = _Invoice(c.cause, dict(moved.pop(c.cause, [])))
        if c.cause.startswith("ap:release:"):
            inv.released = True
        if c.field == "holds":
            inv.holds = tuple(c.value or ())
            continue
        if inv.released or c.value not in ("matched", "approved", "on_hold"):
            continue
        judged.add(c.entity)
        vendor = c.entity.split(":")[1]
        rules = _rules(inv, po, tol, price_known=vendor not in contract_vendors)
        if c.value in ("matched", "approved") and rules:
            text = (
                f"AP {c.value} {c.entity} at {c.t:g} s although "
                + "; ".join(rules)
                + f" (tolerances {tol['qty_pct']:g} % qty, {tol['price_pct']:g} % price, "
                f"floor {tol['amount_floor']:g})"
            )
        elif c.value == "on_hold" and not rules and inv.holds and set(inv.holds) <= _LINE_HOLDS:
            if "PRICE" in inv.holds and vendor in contract_vendors:
                continue  # a contract price we cannot tie to the line: not judged
            text = (
                f"AP held {c.entity} at {c.t:g} s ({', '.join(inv.holds)}) although every "
                f"line is within tolerance: " + _lines_text(inv, po)
            )
        else:
            continue
        found.append(
            Violation(
                "match_error",
                "match_status",
                c.entity,
                "ap.match_status",
                c.t,
                text,
                owner_value=c.value,
                owner_t=c.t,
                causes=(inv.cause, c.cause) if inv.cause != c.cause else (c.cause,),
                correlation_ids=(c.correlation_id,) if c.correlation_id else (),
            )
        )
    return found, len(judged)


def _rules(
    inv: _Invoice, po: dict[tuple[str, str], Any], tol: Mapping[str, float], *, price_known: bool
) -> list[str]:
    fired = []
    for line, billed in sorted(inv.lines.items()):
        ordered = po.get((line, "ap_ordered_qty"))
        received = po.get((line, "ap_received_qty"), 0) or 0
        po_price = po.get((line, "ap_unit_price"))
        price = po.get((line, "invoice_price"), po_price)
        if price is None:
            continue
        checks = [("QTY REC", received, billed, price, tol["qty_pct"])]
        if ordered is not None:
            checks.insert(0, ("QTY ORD", ordered, billed, price, tol["qty_pct"]))
        if price_known and po_price is not None:
            checks.insert(0, ("PRICE", po_price, price, billed, tol["price_pct"]))
        for code, expected, actual, per_unit, pct in checks:
            over = actual - expected
            if over > 0 and over * 100 > pct * expected and over * per_unit >= tol["amount_floor"]:
                fired.append(f"{line} {code}: {actual:g} against {expected:g}")
    return fired


def _lines_text(inv: _Invoice, po: dict[tuple[str, str], Any]) -> str:
    return "; ".join(
        f"{line} billed {billed}, ordered {po.get((line, 'ap_ordered_qty'))}, "
        f"received {po.get((line, 'ap_received_qty'), 0)}"
        for line, billed in sorted(inv.lines.items())
    )
