"""Invoice exceptions that are no price or quantity variance: a unit-of-measure mismatch.

Theory of operation: a supplier that bills a line ordered by the case (CA) by
the each (EA) sends an invoice that, paid as it stands, pays for a unit nobody
ordered.  The ground truth is the supplier network's journal: each PO line it
billed in another unit than ordered journals ``invoiced_uom`` (cause
``810:{partner}:{invoice}``).  What AP made of it is AP's journal: the
invoice's ``uom_mismatch`` rows (PO, PO line, ordered and invoiced unit) and
its ``holds``.  A billed line is *caught* when AP held its invoice ``UOM``
(hold code of a ``uom_mismatch``), *missed* otherwise, however else the invoice
was held or approved (a quantity variance is not the same exception).

``uom_mismatch`` in ``results.json`` (under ``invoice_exceptions``, a key only a
run with such an invoice has, so the sample is never empty): ``billed_lines``
and ``invoices`` (the supplier's), ``caught`` and ``missed`` (lines),
``flagged_lines`` (AP's own count, which may include lines no supplier row
names, e.g. an invoice from outside the network), and up to 20 ``examples``
and ``missed_examples``, oldest first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from analysis.history import Change

__all__ = ["FIELDS", "UOM_HOLD", "invoice_exceptions", "relevant"]

FIELDS = frozenset({"invoiced_uom", "uom_mismatch"})
UOM_HOLD = "UOM"  # AP's hold code of a uom_mismatch (emulators.ap)
_EXAMPLES = 20


def relevant(c: Change) -> bool:
    """The rows this module reads: what the supplier billed by another unit, what AP flagged
    and the UOM holds."""
    if c.field in FIELDS:
        return True
    return c.system == "ap" and c.field == "holds" and UOM_HOLD in (c.value or ())


def invoice_exceptions(changes: Iterable[Change]) -> dict[str, Any] | None:
    """``{"uom_mismatch": ...}`` as described above, or None when no invoice had one."""
    billed: dict[tuple[str, int, str], Change] = {}
    flagged: dict[tuple[str, int, str], dict[str, Any]] = {}
    held: set[str] = set()
    for c in changes:
        if c.system == "supplier" and c.field == "invoiced_uom":
            _, po, line = c.entity.split(":", 2)
            billed.setdefault((po, int(line), c.cause.rsplit(":", 1)[1]), c)
        elif c.system == "ap" and c.field == "uom_mismatch":
            number = c.entity.rsplit(":", 1)[1]
            for row in c.value or ():
                key = (row["po_number"], int(row["po_line_number"]), number)
                flagged[key] = {**row, "invoice": c.entity, "t": c.t}
        elif c.system == "ap" and c.field == "holds" and UOM_HOLD in (c.value or ()):
            held.add(c.entity)
    if not billed and not flagged:
        return None
    caught = [k for k in billed if k in flagged and flagged[k]["invoice"] in held]
    missed = [k for k in billed if k not in set(caught)]
    return {
        "uom_mismatch": {
            "billed_lines": len(billed),
            "invoices": len({(po, number) for po, _, number in billed}),
            "caught": len(caught),
            "missed": len(missed),
            "flagged_lines": len(flagged),
            "examples": [_example(flagged[k]) for k in caught[:_EXAMPLES]],
            "missed_examples": [
                {
                    "po_line": f"po_line:{po}:{line}",
                    "invoice": number,
                    "invoiced_uom": billed[(po, line, number)].value,
                    "t": round(billed[(po, line, number)].t, 6),
                }
                for po, line, number in missed[:_EXAMPLES]
            ],
        }
    }


def _example(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "invoice": row["invoice"],
        "po_line": f"po_line:{row['po_number']}:{row['po_line_number']}",
        "ordered_uom": row["ordered_uom"],
        "invoiced_uom": row["invoiced_uom"],
        "quantity_invoiced": row["quantity_invoiced"],
        "t": round(row["t"], 6),
    }
