"""ERP masters → AP: items and contract prices.

``erp.master_changed`` is a thin event: a contract price (or an item) is read back.
A contract price at a newer version goes to AP, after the item it needs (GTIN and
unit) has been read; prices waiting for their item are held in ``price_waiting``.
``erp.master_page`` is the batch: the ERP has no change feed for prices, so a pull
of ``erp_prices`` reads them all and versions decide what is new.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sync_core.errors import MappingError
from sync_core.flows.base import CountedList, Flow, Tables, Work, field_of, read, traceparent
from sync_core.mappers import ap
from sync_core.messages import Inbound, Kind, Request

__all__ = ["TABLES"]

# No watermark: the ERP has no change feed for prices, so every pull reads them all.
_PRICES = CountedList("erp", "list_contract_prices", Kind.ERP_MASTER_PAGE, "offset")


def _master_changed(flow: Flow, work: Work, message: Inbound, now: dt.datetime) -> None:
    """Contract prices go to AP (its PRICE check); an item is read when a price needs
    its GTIN and unit.  Vendor changes have no replica here: consumed, no effect."""
    event = field_of(message.body, "eventType", "ERP business event")
    if event == "ContractPriceChanged":
        supplier = field_of(message.body, "SupplierNumber", "ERP business event")
        item = field_of(message.body, "ItemNumber", "ERP business event")
        work.requests.append(
            read(
                "erp",
                "get_contract_price",
                Kind.ERP_MASTER_DOCUMENT,
                supplier_number=supplier,
                item_number=item,
            )
        )
    elif event == "ItemChanged":
        work.requests.append(_item_request(field_of(message.body, "ItemNumber", event)))


def _item_request(item: str) -> Request:
    return read("erp", "get_item", Kind.ERP_MASTER_DOCUMENT, item_number=item)


def _master_document(flow: Flow, work: Work, message: Inbound, now: dt.datetime) -> None:
    doc = message.body
    version = field_of(doc, "ObjectVersionNumber", "ERP master record")
    item_number = str(field_of(doc, "ItemNumber", "ERP master record"))
    if not isinstance(version, int):
        raise MappingError("ERP master record", "ObjectVersionNumber", "expected an integer")
    if "ContractPrice" in doc:
        _contract_price(flow, work, doc, item_number, version)
        return
    known = work.entity("item", item_number)
    if flow.seen(known, version):
        return
    unit = {
        "gtin": field_of(doc, "GTIN", "ERP item"),
        "uom": field_of(doc, "UOMCode", "ERP item"),
    }
    work.put("item", item_number, version, unit)
    waiting = work.entity("price_waiting", item_number)
    if waiting is not None and waiting.data:
        for price in waiting.data:
            _price_to_ap(flow, work, price, unit)
        work.put("price_waiting", item_number, waiting.version + 1, [])


def _contract_price(
    flow: Flow, work: Work, doc: dict[str, Any], item_number: str, version: int
) -> None:
    """A contract price to AP, or held until its item (GTIN and unit) has been read."""
    key = f"{field_of(doc, 'SupplierNumber', 'ERP contract price')}:{item_number}"
    known = work.entity("price", key)
    if flow.seen(known, version):
        return  # an older or repeated read: never move AP's price back
    work.put("price", key, version, None)
    item = work.entity("item", item_number)
    if item is not None:
        _price_to_ap(flow, work, doc, item.data)
        return
    waiting = work.entity("price_waiting", item_number)
    held = list(waiting.data) if waiting else []
    if not held:
        work.requests.append(_item_request(item_number))
    work.put("price_waiting", item_number, (waiting.version if waiting else 0) + 1, [*held, doc])


def _price_to_ap(flow: Flow, work: Work, doc: dict[str, Any], item: dict[str, str]) -> None:
    supplier, number = doc["SupplierNumber"], doc["ItemNumber"]
    version = doc["ObjectVersionNumber"]
    trace = traceparent(f"price:{supplier}:{number}", str(version))
    write = flow.writer(work, trace, entity=("price", f"{supplier}:{number}", version))
    write("ap", "upsert_prices", ap.prices(doc, item["gtin"], item["uom"], trace),
          f"price:{supplier}:{number}:{version}:ap")  # fmt: skip


def _master_page(flow: Flow, work: Work, message: Inbound, now: dt.datetime) -> None:
    """The batch reads every contract price (the ERP has no change feed for them);
    versions decide what is new."""
    _PRICES.read_page(
        flow, work, message, now, "ERP contract price page", "hasMore", _price_inbound
    )


def _price_inbound(doc: Any) -> Inbound:
    if not isinstance(doc, dict):
        raise MappingError("ERP contract price page", "items", "expected objects")
    mid = f"erp:price:{doc.get('SupplierNumber')}:{doc.get('ItemNumber')}:"
    mid += str(doc.get("ObjectVersionNumber"))
    return Inbound(mid, Kind.ERP_MASTER_DOCUMENT, doc)


TABLES = Tables.pulling(
    "erp_prices",
    _PRICES,
    pages=_master_page,
    handlers={Kind.ERP_MASTER_CHANGED: _master_changed, Kind.ERP_MASTER_DOCUMENT: _master_document},
)
