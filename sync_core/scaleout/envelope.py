"""An inbound message on the bus: its bytes, its entity key, its dedup id.

The ingress publishes each webhook's :class:`~sync_core.messages.Inbound` as one bus
message; a worker reads it back unchanged.  The dedup id is the message id (the
source's own event id, :mod:`sync_core.inbound`), so a webhook sent twice within the
bus's duplicate window is stored once, and one sent later is recognised by the inbox.

The key picks the partition (:func:`sync_core.bus.base.partition_of`): the PO number
when the document names one, so every message about one PO is decided in order by
one worker; otherwise the document's own identity (a receipt, an invoice, an EDI
interchange), and ``tick`` for the core's own batch ticks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sync_core.messages import Inbound, Kind

__all__ = ["Envelope", "decode", "encode", "entity_key"]

# where the systems' documents name their PO (ERP events, WMS receipts, AP invoices)
_PO_FIELDS = ("OrderNumber", "po_number", "po_nbr", "poNumber")
_MAX_KEY = 200


@dataclass(frozen=True)
class Envelope:
    message: Inbound
    queued: bool = False  # a replay waiting in the store's inbound queue: take it after


def _po_number(body: Any, depth: int = 0) -> str | None:
    if not isinstance(body, dict) or depth > 2:
        return None
    for name in _PO_FIELDS:
        value = body.get(name)
        if isinstance(value, str | int) and str(value):
            return str(value)
    for value in body.values():
        if isinstance(value, dict) and (found := _po_number(value, depth + 1)) is not None:
            return found
    return None


def entity_key(message: Inbound) -> str:
    """The bus key of ``message``: its PO number when it names one, else its own id."""
    if message.kind in (Kind.BATCH_TICK, Kind.RECONCILE_TICK):
        return "tick"
    key = _po_number(message.body) or message.message_id
    return "".join(c for c in key if c.isprintable())[:_MAX_KEY] or "unknown"


def encode(message: Inbound, *, queued: bool = False) -> bytes:
    document = {
        "id": message.message_id,
        "kind": str(message.kind),
        "body": message.body,
        "correlation_id": message.correlation_id,
        "query": message.query,
        "queued": queued,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode(payload: bytes) -> Envelope:
    """The envelope ``encode`` wrote; ValueError naming what is wrong otherwise."""
    try:
        d = json.loads(payload)
        message = Inbound(d["id"], Kind(d["kind"]), d["body"], d.get("correlation_id"),
                          d.get("query"))  # fmt: skip
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"not a supplysync envelope: {type(e).__name__}: {e}") from None
    return Envelope(message, bool(d.get("queued")))
