"""Inbound documents to messages: stable ids, the right kind, envelopes checked."""

from __future__ import annotations

from typing import Any

import pytest

from sync_core.inbound import InboundError, from_system
from sync_core.messages import Kind


@pytest.mark.parametrize(
    ("system", "body", "kind", "message_id"),
    [
        ("erp", {"eventId": "erp-evt-7", "eventType": "PurchaseOrderChanged",
                 "OrderNumber": "4500000001"}, Kind.ERP_PO_CHANGED, "erp-evt-7"),
        ("erp", {"eventId": "erp-evt-8", "eventType": "ContractPriceChanged",
                 "SupplierNumber": "S1001", "ItemNumber": "I1"}, Kind.ERP_MASTER_CHANGED,
         "erp-evt-8"),
        ("erp", {"eventId": "erp-evt-9", "eventType": "ItemChanged", "ItemNumber": "I1"},
         Kind.ERP_MASTER_CHANGED, "erp-evt-9"),
        ("supplier", {"seq": 12, "supplier": "SUPP1001", "type": "855", "payload": "ISA*~"},
         Kind.SUPPLIER_EDI, "edi:12"),
        ("wms", {"event_id": "wms-evt-3", "event_type": "receipt.created", "receipt_id": "R1",
                 "po_nbr": "4500000001", "po_line_nbr": 1}, Kind.WMS_RECEIPT_CREATED,
         "wms-evt-3"),
        ("ap", {"eventId": "ap-evt-2", "eventType": "InvoiceStatusChanged",
                "invoice": {"vendor_num": "S1001", "invoice_num": "INV-1"}},
         Kind.AP_INVOICE_STATUS_CHANGED, "ap-evt-2"),
    ],
)  # fmt: skip
def test_each_system_gets_its_source_id_and_kind(
    system: str, body: dict[str, Any], kind: Kind, message_id: str
) -> None:
    message = from_system(system, body)
    assert (message.kind, message.message_id, message.body) == (kind, message_id, body)


@pytest.mark.parametrize(
    ("system", "body", "field"),
    [
        ("erp", [], "body"),
        ("erp", {"eventType": "PurchaseOrderChanged", "OrderNumber": "1"}, "eventId"),
        ("erp", {"eventId": "e", "eventType": "PurchaseOrderChanged"}, "OrderNumber"),
        ("erp", {"eventId": "e", "eventType": "Teleported"}, "eventType"),
        ("erp", {"eventId": 5, "eventType": "ItemChanged"}, "eventId"),
        ("supplier", {"seq": True, "supplier": "S", "type": "855", "payload": ""}, "seq"),
        ("supplier", {"seq": 0, "supplier": "S", "type": "855", "payload": ""}, "seq"),
        ("supplier", {"seq": 1, "supplier": "S", "type": "850", "payload": ""}, "type"),
        ("supplier", {"seq": 1, "supplier": "S", "type": "855", "payload": 5}, "payload"),
        ("wms", {"event_id": "w", "event_type": "receipt.deleted", "receipt_id": "R"},
         "event_type"),
        ("ap", {"eventId": "a", "eventType": "InvoiceStatusChanged", "invoice": {}},
         "invoice.vendor_num"),
        ("crm", {}, "system"),
    ],
)  # fmt: skip
def test_a_bad_envelope_names_its_field(system: str, body: Any, field: str) -> None:
    with pytest.raises(InboundError) as e:
        from_system(system, body)
    assert e.value.field == field
