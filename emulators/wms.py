"""A warehouse management system: expected receipts per purchase-order line.

Theory of operation: the dock plans receiving from expected receipts.  An
integration upserts them (``upsert_expected_receipts``) in the WMS's own
snake_case shape, keyed by ``po_nbr`` and ``po_line_nbr``; an upsert replaces
the expected quantity and date of a known line.  Like the ERP, the WMS honours
an ``Idempotency-Key`` and applies a repeated request without one again.
"""

from __future__ import annotations

from typing import Any

from emulators._base import Journal, Reply, body_cause, problem

__all__ = ["Wms"]

_REQUIRED: dict[str, type] = {
    "po_nbr": str,
    "po_line_nbr": int,
    "item_id": str,
    "dock_gln": str,
    "exp_qty": int,
    "qty_uom": str,
}


class Wms:
    system = "wms"

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self.expected: dict[tuple[str, int], dict[str, Any]] = {}
        self._idempotency: dict[str, Reply] = {}

    def upsert_expected_receipts(self, body: Any, idempotency_key: str | None = None) -> Reply:
        if idempotency_key is not None and idempotency_key in self._idempotency:
            return self._idempotency[idempotency_key]
        rows = body.get("receipts") if isinstance(body, dict) else None
        if not isinstance(rows, list) or not rows:
            return problem(422, "Unprocessable Content", "must be a non-empty list", "receipts")
        for i, row in enumerate(rows):
            for name, kind in _REQUIRED.items():
                if not isinstance(row, dict) or not isinstance(row.get(name), kind):
                    return problem(
                        422,
                        "Unprocessable Content",
                        f"must be {kind.__name__}",
                        f"receipts[{i}].{name}",
                    )
        cause = idempotency_key or body_cause("wms", body)
        correlation_id = body.get("trace_id")
        for row in rows:
            key = (row["po_nbr"], row["po_line_nbr"])
            self.expected[key] = {**self.expected.get(key, {}), **row}
            self._journal.record(
                f"po_line:{key[0]}:{key[1]}", "expected_qty", row["exp_qty"], cause, correlation_id
            )
        reply = Reply(200, {"upserted": len(rows)})
        if idempotency_key is not None:
            self._idempotency[idempotency_key] = reply
        return reply

    def get_expected_receipt(self, po_nbr: str, po_line_nbr: int) -> Reply:
        row = self.expected.get((po_nbr, po_line_nbr))
        if row is None:
            return problem(
                404, "Not Found", f"no expected receipt {po_nbr}/{po_line_nbr}", "po_nbr"
            )
        return Reply(200, dict(row))
