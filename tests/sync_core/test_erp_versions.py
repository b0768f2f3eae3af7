"""The core's ERP versions: it follows the version the ERP announces, and translates."""

from __future__ import annotations

from sync_core.mappers.erp import purchase_order_from_erp
from sync_core.mappers.erp_versions import Dialect, ErpVersions
from sync_core.messages import Request, Response

V2 = Dialect(
    "2027.1",
    requests={"post_acknowledgment": {"SupplierConfirmedQuantity": "ConfirmedQuantity"}},
    replies={"get_purchase_order": {"NeedByDate": "RequestedDeliveryDate"}},
    envelope="data",
    headers={"REST-Framework-Version": "9"},
)
ACK = Request("erp", "post_acknowledgment", {"order_number": "45"},
              {"lines": [{"LineNumber": 1, "SupplierConfirmedQuantity": 4}]})  # fmt: skip
READ = Request("erp", "get_purchase_order", {"order_number": "45"})
PO = {"OrderNumber": "4500000001", "SupplierNumber": "S1001", "ShipToLocationGLN": "0614141000012",
      "RequesterDepartment": "CC-01", "OrderDate": "2026-03-02", "RevisionNumber": 1,
      "lines": [{"LineNumber": 1, "ItemGTIN": "00614141000012", "SupplierItem": "A-1",
                 "Quantity": 5, "UOMCode": "EA", "Price": 2.5}]}  # fmt: skip


def versions() -> ErpVersions:
    return ErpVersions("2026.4", [V2])


def test_until_the_erp_announces_a_release_the_core_speaks_the_base_version() -> None:
    v = versions()
    request, headers, sent = v.outgoing(ACK)
    assert (request, headers, sent) == (ACK, {}, "2026.4")
    v.incoming(READ, Response(200, PO, {"x-erp-api-version": "2026.4"}))
    assert v.current == "2026.4" and v.switches == []


def test_a_reply_announcing_a_registered_version_is_followed_and_read_back() -> None:
    v = versions()
    doc = {**PO, "RequestedDeliveryDate": "2026-03-20"}
    read = v.incoming(READ, Response(200, doc, {"X-ERP-API-Version": "2027.1"}))
    assert v.current == "2027.1" and v.switches == ["2027.1"]
    assert purchase_order_from_erp(read.body).requested_date.isoformat() == "2026-03-20"
    request, headers, sent = v.outgoing(ACK)
    assert headers == {"REST-Framework-Version": "9"} and sent == "2027.1"
    assert request.body == {"lines": [{"LineNumber": 1, "ConfirmedQuantity": 4}]}


def test_a_refusal_by_the_new_version_is_sent_again_once_followed() -> None:
    v = versions()
    _, _, sent = v.outgoing(ACK)
    refused = Response(400, {"field": "REST-Framework-Version"}, {"x-erp-api-version": "2027.1"})
    v.incoming(ACK, refused)
    assert v.resend(sent, refused)
    _, headers, again = v.outgoing(ACK)
    assert again == "2027.1" and headers == {"REST-Framework-Version": "9"}
    # a refusal in the version it was sent in is the ERP's answer, not a release
    assert not v.resend(again, Response(400, {}, {"x-erp-api-version": "2027.1"}))
    assert not v.resend(sent, Response(503, {}, {"x-erp-api-version": "2027.1"}))


def test_a_version_the_registry_does_not_know_is_not_followed() -> None:
    v = versions()
    reply = Response(200, {"X": 1}, {"x-erp-api-version": "2099.9"})
    assert v.incoming(READ, reply) == reply
    assert v.current == "2026.4" and not v.resend("2026.4", Response(400, {}, reply.headers))


def test_an_event_comes_out_of_its_envelope_by_the_version_it_announces() -> None:
    v = versions()
    event = {"eventId": "e1", "eventType": "PurchaseOrderChanged", "apiVersion": "2027.1",
             "sequence": 3, "data": {"OrderNumber": "45", "ChangeType": "REVISION"}}  # fmt: skip
    assert v.event(event) == {"eventId": "e1", "eventType": "PurchaseOrderChanged",
                              "apiVersion": "2027.1", "sequence": 3, "OrderNumber": "45",
                              "ChangeType": "REVISION"}  # fmt: skip
    assert v.current == "2027.1"
    old = {"eventId": "e0", "eventType": "PurchaseOrderChanged", "OrderNumber": "44"}
    assert v.event(old) == old  # sent before the release, delivered after
