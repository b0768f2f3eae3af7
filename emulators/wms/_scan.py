"""Receiving by scan: a whole labelled pack by its SSCC-18, or an item by its GTIN.

Theory of operation: a ship notice line may name the pack it travels in
(``sscc``, the 856's ``MAN*GM``) and the GTIN it ships under (``gtin``, a
substitute's own).  Scanning a pack's SSCC (``receive_pack``) receives every
line in that pack in full, at its shipped quantity, each as a receipt of its own
(lot and expiry from the ship notice; an expired lot is refused as ever); a pack
is received once, so a second scan — or any earlier receipt against one of its
lines — is a 409 naming ``sscc``.  Scanning an item's GTIN in a receipt (``gtin``
instead of ``po_line_nbr``) finds the line: on the ASN (its ``gtin``, else its
``item_id``), or without an ASN on the PO's expected receipts (``item_id``); the
first such line still open takes it, and a GTIN on no line is a 404 naming
``gtin``.  Both keys carry a GS1 check digit (GS1 General Specifications 7.9),
checked on the way in.
"""

from __future__ import annotations

from typing import Any, Protocol

from emulators._base import Reply, problem
from emulators.wms._checks import _gs1_key, _Invalid, _optional_str, _unprocessable

__all__ = ["line_by_gtin", "receive_pack"]

_RECEIVED = "received"
_Key = tuple[str | None, str, int]  # (asn_nbr or None, po_nbr, po_line_nbr)


class Wms(Protocol):
    """What scanning needs of the WMS: its ASNs, expected lines, packs and receiving."""

    ship_notices: dict[str, dict[str, Any]]
    expected: dict[tuple[str, int], dict[str, Any]]
    _packs: dict[str, list[tuple[str, str, int]]]  # SSCC → its ASN lines

    def _line_view(self, key: _Key) -> dict[str, Any]: ...
    def _receive(self, body: Any, idempotency_key: str | None) -> Reply: ...
    def _within_limits(self, body: Any) -> None: ...


def line_by_gtin(wms: Wms, ask: dict[str, Any]) -> int:
    """The PO line number a scanned GTIN stands for, on the ASN or the PO's expected lines."""
    gtin = ask["gtin"]
    if ask["asn_nbr"] is not None:
        asn = wms.ship_notices.get(ask["asn_nbr"])
        if asn is None:
            raise _Invalid(problem(404, "Not Found", f"no ship notice {ask['asn_nbr']}", "asn_nbr"))
        found = [
            n
            for n, line in sorted(asn["lines"].items())
            if gtin == (line.get("gtin") or line["item_id"])
        ]
        status = [wms._line_view((asn["asn_nbr"], asn["po_nbr"], n))["status"] for n in found]
    else:
        found = [
            n for (po, n), row in sorted(wms.expected.items())
            if po == ask["po_nbr"] and row["item_id"] == gtin
        ]  # fmt: skip
        status = [wms._line_view((None, ask["po_nbr"], n))["status"] for n in found]
    if not found:
        raise _Invalid(problem(404, "Not Found", f"no line ships GTIN {gtin}", "gtin"))
    open_lines = [n for n, s in zip(found, status, strict=True) if s != _RECEIVED]
    return int((open_lines or found)[0])


def receive_pack(wms: Wms, body: Any, idempotency_key: str | None) -> Reply:
    """Receive every line of the pack labelled ``sscc``, each at its shipped quantity."""
    if not isinstance(body, dict):
        return problem(400, "Bad Request", "body must be a JSON object", "")
    wms._within_limits(body)
    sscc = _gs1_key(body, "sscc", 18, "sscc")
    trace = _optional_str(body, "trace_id", "trace_id")
    if sscc is None:
        raise _unprocessable("is required", "sscc")
    keys = wms._packs.get(sscc)
    if not keys:
        return problem(404, "Not Found", f"no ship notice line travels in pack {sscc}", "sscc")
    if any(wms._line_view(key)["received_qty"] or wms._line_view(key)["rejected_qty"]
           for key in keys):  # fmt: skip
        return problem(409, "Conflict", f"pack {sscc} has already been received", "sscc")
    receipts = []
    for asn, _, n in keys:
        line = wms.ship_notices[asn]["lines"][n]
        scan = {"asn_nbr": asn, "po_line_nbr": n, "received_qty": line["shipped_qty"]}
        key = f"{idempotency_key}:{n}" if idempotency_key else None
        reply = wms._receive({**scan, "trace_id": trace}, key)
        receipts.append(reply.body["receipt"])
    return Reply(201, {"sscc": sscc, "receipts": receipts})
