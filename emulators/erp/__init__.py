"""A cloud ERP's purchasing module: purchase orders, receipts, invoice status and masters.

Theory of operation
-------------------
Buyers create purchase orders (``create_purchase_order`` in the ERP's own UI, or
``post_purchase_order`` over the API); each gets an ``OrderNumber``,
``RevisionNumber`` 1 and status ``OPEN``, and every line holds an open
commitment equal to its ordered quantity.  The ERP announces each change of a
document with a thin business event (keys, like Oracle Fusion's, plus what a
subscriber needs to know whether to read):
``{"eventId", "eventType": "PurchaseOrderChanged", "OrderNumber", "RevisionNumber",
"ChangeType"}`` to its ``listeners``, who call back to read the document.
``ChangeType`` says what moved: ``CREATE``, ``REVISION`` (the buyer's change or
cancel), ``ACKNOWLEDGMENT``, ``RECEIPT`` (posted over the API) or ``EDIT`` (a
person in the ERP's own screens).  Readers page through orders
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

Status machine.  Each line moves through ``_po_status.LINE_TRANSITIONS``, a table of
(status, event) → next status; a pair not in the table is refused with 409 naming
the line.  Line statuses: ``OPEN`` → ``PARTIALLY_RECEIVED`` → ``RECEIVED`` (closed
for receiving, also by a buyer short-closing the balance), or ``CANCELED`` before
any receipt.  The header ``Status`` is a fold of its lines (all canceled →
``CANCELED``; all others received → ``CLOSED_FOR_RECEIVING``; anything received →
``PARTIALLY_RECEIVED``; else ``OPEN``), and ``_po_status.PO_OPERATIONS`` says which
operations each header status admits (a PO can be canceled only while ``OPEN``, i.e.
before any receipt).  Invoice match statuses (``post_invoice_status``, journalled as
``erp_match_status`` on ``invoice:{supplier}:{invoice}``) follow
``_invoices.INVOICE_TRANSITIONS``: any status may follow any other except that
``PAID`` and ``CANCELED`` are final.

Masters: items (``ItemNumber``), vendors (``SupplierNumber``, ``Status``
ACTIVE/INACTIVE) and contract prices per vendor and item, each with
create / update (partial) / get / list.  A contract price journals
``contract_price`` on ``price:{supplier}:{item}`` when it is set; every master
write emits a thin event (``ItemChanged``, ``SupplierChanged``,
``ContractPriceChanged``) to the same listeners as the PO events.  A PO for a
vendor whose master is INACTIVE is refused.  Locations (``LocationGLN``) are where POs
ship to.  Once a master holds any record, a PO for a vendor, ship-to location or item
it lacks is refused with 422 naming the field; an empty master checks nothing
(scenarios need not load it).  Records seeded when the ERP is built (``seed_masters``:
a scenario's network) stay through every reset.

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

Layout: ``_orders`` (the PO lifecycle and its line status machine), ``_invoices``
(invoice match statuses), ``_masters`` (items, vendors, contract prices, locations),
``_checks`` (input validation as problems naming the field), ``_api`` (what
every API call shares: throttle, idempotency keys, copies, ETags, paging) and
``_erp`` (the :class:`Erp` composed of them, with reset and snapshot).
"""

from emulators.erp._erp import Erp
from emulators.erp._invoices import MATCH_STATUSES
from emulators.erp._orders import PurchaseOrderRefused

__all__ = ["MATCH_STATUSES", "Erp", "PurchaseOrderRefused"]
