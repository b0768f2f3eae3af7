"""A worked external middleware: written only against ``emulators/interfaces/README.md``.

It is what a team with its own integration would bring to the harness, and deliberately
not built like the sync core: an ``aiohttp.web`` service that does its work inside the
webhook request, one module per flow, a SQLite file for its memory, and no retry queue
of its own (a failed write answers the webhook 503, and the emulator redelivers it).

Theory of operation.  ``POST /hooks/{system}`` takes an event.  Its id (``eventId``,
``event_id``, or ``edi:{seq}`` for a supplier document) is looked up in the ``events``
table: an event already handled is answered 200 and nothing else.  Otherwise the flow
for its type runs under a per-PO lock, writing with ``Idempotency-Key`` headers derived
from business keys (``850:{po}:{revision}:ap``...), so a redelivered event repeats its
writes harmlessly; only when every write succeeded is the id recorded.  A write the
target answers 5xx, 429 or not at all fails the event (503: redelivered later); a 4xx
will not get better and is dead-lettered (logged, recorded, answered 200).

Flows carried (one module each): PO dispatch (:mod:`.dispatch`: ERP event → read the PO
→ 850 to the supplier network, PO lines to AP), acknowledgment (:mod:`.acknowledgment`:
855 → ERP acknowledgment and WMS expected receipts), ship notice (:mod:`.ship_notice`:
856 → WMS) and receipts (:mod:`.receipts`: WMS receipt → ERP and AP).  Not carried, on
purpose: invoices (810s and AP's invoice statuses are acknowledged and ignored) and
master data.  Ordering: a PO revision is sent only if newer than the one dispatched, an
855 applied only if its revision is newer than the one applied.

Two defects can be switched on to show the harness catching them:
``--drop-acknowledgments`` (855s are acknowledged and ignored) and
``--no-idempotency-keys`` (writes go without the header).

This package imports nothing of supplysync's (a test checks); run it with
``python -m external_middleware --port 9000 --erp URL --supplier URL --wms URL --ap URL``
from ``tests/examples``.
"""
