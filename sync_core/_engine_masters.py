"""ERP masters → AP: contract prices, a flow of :class:`~sync_core.engine.Engine`.

A contract price at a newer version goes to AP, after the item it needs (GTIN and
unit) has been read; prices waiting for their item are held in ``price_waiting``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sync_core._engine_flow import _field, _Flow, traceparent
from sync_core.errors import MappingError
from sync_core.mappers import ap
from sync_core.messages import Inbound, Kind, Request

if TYPE_CHECKING:
    from sync_core.engine import _Work


class _Masters(_Flow):
    def _master_changed(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        """Contract prices go to AP (its PRICE check); an item is read when a price needs
        its GTIN and unit.  Vendor changes have no replica here: consumed, no effect."""
        event = _field(message.body, "eventType", "ERP business event")
        if event == "ContractPriceChanged":
            supplier = _field(message.body, "SupplierNumber", "ERP business event")
            item = _field(message.body, "ItemNumber", "ERP business event")
            work.requests.append(self._price_request(supplier, item))
        elif event == "ItemChanged":
            work.requests.append(self._item_request(_field(message.body, "ItemNumber", event)))

    def _price_request(self, supplier: str, item: str) -> Request:
        return Request(
            "erp",
            "get_contract_price",
            {"supplier_number": supplier, "item_number": item},
            reply_kind=Kind.ERP_MASTER_DOCUMENT,
        )

    def _item_request(self, item: str) -> Request:
        return Request(
            "erp", "get_item", {"item_number": item}, reply_kind=Kind.ERP_MASTER_DOCUMENT
        )

    def _master_document(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        doc = message.body
        version = _field(doc, "ObjectVersionNumber", "ERP master record")
        item_number = str(_field(doc, "ItemNumber", "ERP master record"))
        if not isinstance(version, int):
            raise MappingError("ERP master record", "ObjectVersionNumber", "expected an integer")
        if "ContractPrice" in doc:
            key = f"{_field(doc, 'SupplierNumber', 'ERP contract price')}:{item_number}"
            known = work.entity("price", key)
            if self._seen(known, version):
                return  # an older or repeated read: never move AP's price back
            work.put("price", key, version, None)
            item = work.entity("item", item_number)
            if item is None:  # the price needs the item's GTIN and unit: read it first
                waiting = work.entity("price_waiting", item_number)
                held = list(waiting.data) if waiting else []
                if not held:
                    work.requests.append(self._item_request(item_number))
                work.put("price_waiting", item_number, (waiting.version if waiting else 0) + 1,
                         [*held, doc])  # fmt: skip
                return
            self._price_to_ap(work, doc, item.data)
            return
        known = work.entity("item", item_number)
        if self._seen(known, version):
            return
        unit = {
            "gtin": _field(doc, "GTIN", "ERP item"),
            "uom": _field(doc, "UOMCode", "ERP item"),
        }
        work.put("item", item_number, version, unit)
        waiting = work.entity("price_waiting", item_number)
        if waiting is not None and waiting.data:
            for price in waiting.data:
                self._price_to_ap(work, price, unit)
            work.put("price_waiting", item_number, waiting.version + 1, [])

    def _price_to_ap(self, work: _Work, doc: dict[str, Any], item: dict[str, str]) -> None:
        supplier, number = doc["SupplierNumber"], doc["ItemNumber"]
        version = doc["ObjectVersionNumber"]
        trace = traceparent(f"price:{supplier}:{number}", str(version))
        work.requests.append(
            Request(
                "ap",
                "upsert_prices",
                {},
                body=ap.prices(doc, item["gtin"], item["uom"], trace),
                idempotency_key=f"price:{supplier}:{number}:{version}:ap",
                correlation_id=trace,
                supersedable=self._versioned(("price", f"{supplier}:{number}", version)),
            )
        )

    def _master_page(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        """The batch reads every contract price (the ERP has no change feed for them);
        versions decide what is new."""
        page = message.body
        offset = int((message.query or {}).get("offset", 0))
        items = _field(page, "items", "ERP contract price page")
        for doc in items:
            if not isinstance(doc, dict):
                raise MappingError("ERP contract price page", "items", "expected objects")
            mid = f"erp:price:{doc.get('SupplierNumber')}:{doc.get('ItemNumber')}:"
            mid += str(doc.get("ObjectVersionNumber"))
            self._consume(work, Inbound(mid, Kind.ERP_MASTER_DOCUMENT, doc), now)
        if page.get("hasMore"):
            work.requests.append(self._prices_request(offset + len(items)))

    def _prices_request(self, offset: int) -> Request:
        return Request(
            "erp",
            "list_contract_prices",
            {"offset": offset, "limit": self.config.page_size},
            reply_kind=Kind.ERP_MASTER_PAGE,
        )
