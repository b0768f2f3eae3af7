"""Master data: items, vendors, contract prices and locations, with create / get / list
(and update, but for locations).

Theory of operation: the four masters share one shape, described by a
:class:`MasterSpec` (its key fields, checks, required fields, defaults and
event), so one set of internals serves all three.  A create answers 201 (409 if
the key exists); an update is partial, may repeat but never change the key, and
honours ``If-Match`` against the record's ETag (``"<writes>"``); a get honours
``If-None-Match``; a list pages by key order.  A contract price needs a vendor
and an item in the master and ``EffectiveTo`` not before ``EffectiveFrom``, and
journals ``contract_price`` on ``price:{supplier}:{item}`` when it is set.
Every write emits a thin event (``ItemChanged``, ``SupplierChanged``,
``ContractPriceChanged``) keyed by the record's key and bumps the record's
``ObjectVersionNumber`` (as Fusion's does), so a reader can tell a newer read
from an older one.  A vendor's ``Status``
(ACTIVE / INACTIVE) gates new purchase orders (see ``_orders``).

Locations (``LocationGLN``: hospitals, distribution centers, the procurement office) are
where a PO ships to; they emit no event (no integration replicates them).  Records
*seeded* (:meth:`Masters.seed_masters`: the scenario's network, given when the ERP is
built) are there from the start and after every reset, as configuration is: no event,
no journal entry, ``ObjectVersionNumber`` 1.  Once a master holds any record, a PO naming
a vendor, item or location it lacks is refused (see ``_orders``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from emulators._base import Reply, body_cause, check_paging, page
from emulators.erp._api import Core, api, none_match, precondition
from emulators.erp._checks import (
    GLN,
    GTIN,
    UOM,
    Check,
    bad,
    check_fields,
    iso_date,
    one_of,
    optional,
    price,
    same,
    text,
)

__all__ = [
    "ITEM",
    "LOCATION",
    "LOCATION_KINDS",
    "MASTERS",
    "PRICE",
    "VENDOR",
    "MasterSpec",
    "Masters",
    "unknown_master",
]


@dataclass(frozen=True)
class MasterSpec:
    kind: str
    key: tuple[str, ...]
    fields: dict[str, Check]
    required: tuple[str, ...]
    defaults: dict[str, Any]
    event: str | None  # None: its writes emit no event

    def check_new(self, body: Any) -> Reply | None:
        """What is wrong with ``body`` as a new record (its key fields are text)."""
        fields = {**dict.fromkeys(self.key, text), **self.fields}
        return check_fields(body, fields, (*self.key, *self.required))

    def new_record(self, key: tuple[str, ...], body: Mapping[str, Any]) -> dict[str, Any]:
        """The record ``body`` creates under ``key``: the defaults, then its own fields."""
        record = {**dict(zip(self.key, key, strict=True)), **self.defaults}
        record.update({k: v for k, v in body.items() if k in self.fields})
        return record


ITEM = MasterSpec(
    "item",
    ("ItemNumber",),
    {"GTIN": GTIN, "Description": text, "UOMCode": UOM, "ListPrice": price},
    ("GTIN", "Description", "UOMCode", "ListPrice"),
    {},
    "ItemChanged",
)
VENDOR = MasterSpec(
    "vendor",
    ("SupplierNumber",),
    {"Name": text, "Status": one_of("ACTIVE", "INACTIVE")},
    ("Name",),
    {"Status": "ACTIVE"},
    "SupplierChanged",
)
PRICE = MasterSpec(
    "contract_price",
    ("SupplierNumber", "ItemNumber"),
    {"ContractPrice": price, "EffectiveFrom": iso_date, "EffectiveTo": optional(iso_date)},
    ("ContractPrice", "EffectiveFrom"),
    {"EffectiveTo": None},
    "ContractPriceChanged",
)
LOCATION_KINDS = ("HOSPITAL", "DISTRIBUTION_CENTER", "PROCUREMENT_OFFICE")
LOCATION = MasterSpec(
    "location",
    ("LocationGLN",),
    {"LocationGLN": GLN, "Name": text, "Kind": one_of(*LOCATION_KINDS)},
    ("Name", "Kind"),
    {},
    None,
)
MASTERS = (ITEM, VENDOR, PRICE, LOCATION)
_BY_KIND = {m.kind: m for m in MASTERS}


class Masters(Core):
    """The master-data calls of the :class:`~emulators.erp.Erp`."""

    _seeded: Mapping[str, Sequence[Mapping[str, Any]]] = {}  # kind -> records, see seed_masters

    def seed_masters(self, records: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        """The records of each master (``item``, ``vendor``, ``contract_price``,
        ``location``) the ERP holds from now on and after every reset; each is checked
        as a create would be (ValueError naming the record).  Replaces the masters."""
        unknown = sorted(set(records) - set(_BY_KIND))
        if unknown:
            raise ValueError(f"no master {unknown[0]!r} (known: {', '.join(_BY_KIND)})")
        self._seeded = {kind: [dict(r) for r in rows] for kind, rows in records.items()}
        self._reset_masters()

    def _reset_masters(self) -> None:
        self.masters: dict[str, dict[tuple[str, ...], dict[str, Any]]] = {
            m.kind: {} for m in MASTERS
        }
        self._master_versions: dict[str, dict[tuple[str, ...], int]] = {m.kind: {} for m in MASTERS}
        self._key_order: dict[int, tuple[dict[tuple[str, ...], Any], list[tuple[str, ...]]]] = {}
        for spec in MASTERS:  # prices after vendors and items: they need both
            for body in self._seeded.get(spec.kind, ()):
                self._seed_one(spec, body)

    def _seed_one(self, spec: MasterSpec, body: Mapping[str, Any]) -> None:
        error = spec.check_new(dict(body))
        key = tuple(str(body[k]) for k in spec.key) if error is None else ()
        record = spec.new_record(key, body)
        error = error or self._check_master(spec, record)
        if error is not None:
            raise ValueError(f"seeded {spec.kind} {dict(body)}: {error.body}")
        self.masters[spec.kind][key] = {**record, "ObjectVersionNumber": 1}
        self._master_versions[spec.kind][key] = 1

    # -- API ------------------------------------------------------------------------

    @api
    def create_item(self, body: Any, idempotency_key: str | None = None) -> Reply:
        return self._create_master(ITEM, body, idempotency_key)

    @api
    def update_item(
        self,
        item_number: str,
        body: Any,
        if_match: str | None = None,
        idempotency_key: str | None = None,
    ) -> Reply:
        return self._update_master(ITEM, (item_number,), body, if_match, idempotency_key)

    @api
    def get_item(self, item_number: str, if_none_match: str | None = None) -> Reply:
        return self._get_master(ITEM, (item_number,), if_none_match)

    @api
    def list_items(self, *, offset: int = 0, limit: int = 25) -> Reply:
        return self._list_master(ITEM, offset, limit)

    @api
    def create_vendor(self, body: Any, idempotency_key: str | None = None) -> Reply:
        return self._create_master(VENDOR, body, idempotency_key)

    @api
    def update_vendor(
        self,
        supplier_number: str,
        body: Any,
        if_match: str | None = None,
        idempotency_key: str | None = None,
    ) -> Reply:
        return self._update_master(VENDOR, (supplier_number,), body, if_match, idempotency_key)

    @api
    def get_vendor(self, supplier_number: str, if_none_match: str | None = None) -> Reply:
        return self._get_master(VENDOR, (supplier_number,), if_none_match)

    @api
    def list_vendors(self, *, offset: int = 0, limit: int = 25) -> Reply:
        return self._list_master(VENDOR, offset, limit)

    @api
    def create_location(self, body: Any, idempotency_key: str | None = None) -> Reply:
        return self._create_master(LOCATION, body, idempotency_key)

    @api
    def get_location(self, gln: str, if_none_match: str | None = None) -> Reply:
        return self._get_master(LOCATION, (gln,), if_none_match)

    @api
    def list_locations(self, *, offset: int = 0, limit: int = 25) -> Reply:
        return self._list_master(LOCATION, offset, limit)

    @api
    def create_contract_price(self, body: Any, idempotency_key: str | None = None) -> Reply:
        return self._create_master(PRICE, body, idempotency_key)

    @api
    def update_contract_price(
        self,
        supplier_number: str,
        item_number: str,
        body: Any,
        if_match: str | None = None,
        idempotency_key: str | None = None,
    ) -> Reply:
        key = (supplier_number, item_number)
        return self._update_master(PRICE, key, body, if_match, idempotency_key)

    @api
    def get_contract_price(
        self, supplier_number: str, item_number: str, if_none_match: str | None = None
    ) -> Reply:
        return self._get_master(PRICE, (supplier_number, item_number), if_none_match)

    @api
    def list_contract_prices(
        self, *, supplier_number: str | None = None, offset: int = 0, limit: int = 25
    ) -> Reply:
        only = None if supplier_number is None else (lambda k: k[0] == supplier_number)
        return self._list_master(PRICE, offset, limit, only)

    # -- internals ------------------------------------------------------------------

    def _create_master(self, spec: MasterSpec, body: Any, idempotency_key: str | None) -> Reply:
        operation = f"create_{spec.kind}"
        if (replay := self._admit(operation, None, body, idempotency_key)) is not None:
            return replay
        if (error := spec.check_new(body)) is not None:
            return error
        key = tuple(body[k] for k in spec.key)
        if key in self.masters[spec.kind]:
            return bad(409, f"{spec.kind} {'/'.join(key)} exists already", spec.key[-1])
        record = spec.new_record(key, body)
        if (error := self._check_master(spec, record)) is not None:
            return error
        self.masters[spec.kind][key] = record
        self._master_versions[spec.kind][key] = 0
        self._master_written(spec, key, body, idempotency_key)
        reply = Reply(201, record, {"etag": self._master_etag(spec, key)})
        return self._remember(operation, None, body, idempotency_key, reply)

    def _update_master(
        self,
        spec: MasterSpec,
        key: tuple[str, ...],
        body: Any,
        if_match: str | None,
        idempotency_key: str | None,
    ) -> Reply:
        operation = f"update_{spec.kind}"
        if (replay := self._admit(operation, list(key), body, idempotency_key)) is not None:
            return replay
        record = self.masters[spec.kind].get(key)
        if record is None:
            return bad(404, f"no {spec.kind} {'/'.join(key)}", spec.key[-1])
        stale = precondition(self._master_etag(spec, key), if_match)
        if stale is not None:
            return stale
        fields = {**{k: same(v) for k, v in zip(spec.key, key, strict=True)}, **spec.fields}
        if (error := check_fields(body, fields, ())) is not None:
            return error
        merged = {**record, **{k: v for k, v in body.items() if k in spec.fields}}
        if (error := self._check_master(spec, merged)) is not None:
            return error
        record.update(merged)
        self._master_written(spec, key, body, idempotency_key)
        reply = Reply(200, record, {"etag": self._master_etag(spec, key)})
        return self._remember(operation, list(key), body, idempotency_key, reply)

    def _get_master(
        self, spec: MasterSpec, key: tuple[str, ...], if_none_match: str | None
    ) -> Reply:
        record = self.masters[spec.kind].get(key)
        if record is None:
            return bad(404, f"no {spec.kind} {'/'.join(key)}", spec.key[-1])
        etag = self._master_etag(spec, key)
        if if_none_match is not None and none_match(if_none_match, etag):
            return Reply(304, None, {"etag": etag})
        return Reply(200, record, {"etag": etag})

    def _list_master(
        self,
        spec: MasterSpec,
        offset: int,
        limit: int,
        only: Callable[[tuple[str, ...]], bool] | None = None,
    ) -> Reply:
        if (error := check_paging(offset, limit)) is not None:
            return error
        records = self.masters[spec.kind]
        keys = [k for k in self._sorted_keys(records) if only is None or only(k)]
        return page([records[k] for k in keys[offset : offset + limit]], offset, limit, len(keys))

    def _sorted_keys(self, records: dict[tuple[str, ...], Any]) -> list[tuple[str, ...]]:
        """The master's keys in order, sorted once per new key rather than once per page:
        a batch pages through every contract price, and sorting them all for each page of
        25 made a listing quadratic.  A master only gains keys (a reset builds new dicts),
        so the dict and its size tell whether the order is still good."""
        cached = self._key_order.get(id(records))
        if cached is None or cached[0] is not records or len(cached[1]) != len(records):
            cached = (records, sorted(records))
            self._key_order[id(records)] = cached
        return cached[1]

    def _check_master(self, spec: MasterSpec, record: dict[str, Any]) -> Reply | None:
        if spec is not PRICE:
            return None
        for name, kind in (("SupplierNumber", "vendor"), ("ItemNumber", "item")):
            if (record[name],) not in self.masters[kind]:
                return bad(422, f"no {kind} {record[name]} in the master", name)
        end = record["EffectiveTo"]
        if end is not None and dt.date.fromisoformat(end) < dt.date.fromisoformat(
            record["EffectiveFrom"]
        ):
            return bad(422, "must not be before EffectiveFrom", "EffectiveTo")
        return None

    def _master_written(
        self,
        spec: MasterSpec,
        key: tuple[str, ...],
        body: dict[str, Any],
        idempotency_key: str | None,
    ) -> None:
        self._master_versions[spec.kind][key] += 1
        # Fusion's ObjectVersionNumber: readers order what they read by it
        self.masters[spec.kind][key]["ObjectVersionNumber"] = self._master_versions[spec.kind][key]
        if spec is PRICE and "ContractPrice" in body:
            cause = idempotency_key or body_cause(f"erp:price:{key[0]}:{key[1]}", body)
            self._journal.record(
                f"price:{key[0]}:{key[1]}",
                "contract_price",
                body["ContractPrice"],
                cause,
                body.get("CorrelationId"),
            )
        if spec.event is not None:
            self._emit(spec.event, **dict(zip(spec.key, key, strict=True)))

    def _master_etag(self, spec: MasterSpec, key: tuple[str, ...]) -> str:
        return f'"{self._master_versions[spec.kind][key]}"'


def unknown_master(
    masters: Mapping[str, Mapping[tuple[str, ...], Mapping[str, Any]]], body: Mapping[str, Any]
) -> Reply | None:
    """A PO's vendor, ship-to location or line item missing from a master that holds
    records (an empty master checks nothing: scenarios need not load it) → 422 naming
    the field; None when all are known."""
    checks = (
        ("vendor", body["SupplierNumber"], "SupplierNumber"),
        ("location", body["ShipToLocationGLN"], "ShipToLocationGLN"),
    )
    for kind, value, name in checks:
        known = masters[kind]
        if known and (value,) not in known:
            return bad(422, f"no {kind} {value} in the ERP's master data", name)
    items = masters["item"]
    if items:
        gtins: set[str] | None = None
        for i, line in enumerate(body["lines"]):
            gtin = line["ItemGTIN"]
            if (gtin,) in items:  # items are numbered by GTIN: the usual case
                continue
            gtins = {r["GTIN"] for r in items.values()} if gtins is None else gtins
            if gtin not in gtins:
                detail = f"no item with GTIN {gtin} in the ERP's master data"
                return bad(422, detail, f"lines[{i}].ItemGTIN")
    return None
