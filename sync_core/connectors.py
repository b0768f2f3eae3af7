"""Connectors: carry a :class:`~sync_core.messages.Request` to a system's native HTTP API.

Theory of operation
-------------------
The engine names a call by ``(target, operation)`` and its parameters; this
module owns the one table, :data:`ROUTES`, that says how each becomes an HTTP
request: the method, the path (``{name}`` placeholders filled from ``params``,
percent-encoded), which params go to the query string (and under which native
name), which become headers (``If-Match``, ``If-None-Match``), and how the body
travels (JSON, an X12 interchange as text, or none).  Every write carries the
request's ``Idempotency-Key`` and every call its correlation id as
``traceparent``.  The table covers every operation the emulators' web apps
expose (``tests/live/test_connectors.py`` checks it against their routes), so a
new engine flow needs a new table row only when a system grows a new API.

Parameter names are the behaviour's own, in snake_case (``order_number``,
``supplier_number``, ``item_number``, ``invoice_number``, ``po_nbr``,
``po_line_nbr``, ``asn_nbr``, ``receipt_id``, ``vendor_num``, ``invoice_num``,
``hold_code``, ``updated_since``, ``offset``, ``limit`` ...).  A param the
route does not use is ignored (``supplier`` on ``post_edi``: the interchange
names its receiver); a missing path param is a :class:`ConnectorError`.

:class:`HttpConnector` sends with one shared :class:`aiohttp.ClientSession`
(aiohttp, not httpx: ``loadtests/bench_http_client.py`` measured ~3x the
throughput on this machine).  It never raises for a failed call: no answer
(refused, reset, timed out) is a :class:`Response` with status 0, which
:func:`sync_core.delivery.classify` treats as retriable.  Given the ERP's versions (an
:class:`~sync_core.mappers.erp_versions.ErpVersions`: a core that follows the ERP's
releases), every ERP call goes out in the version the core follows (its body renamed,
the version's headers added), its reply comes back in the base names, and a call the
ERP refused in a version announced meanwhile is sent once more in that version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import aiohttp

from sync_core.errors import SyncCoreError
from sync_core.mappers.erp_versions import ErpVersions
from sync_core.messages import Request, Response

__all__ = ["ROUTES", "SYSTEMS", "ConnectorError", "HttpConnector", "Route", "route_for"]

SYSTEMS = ("erp", "supplier", "wms", "ap")

BodyKind = Literal["json", "x12", "none"]


class ConnectorError(SyncCoreError):
    """A request the connector cannot turn into HTTP (a programming error: not retriable)."""

    retriable = False


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # with {param} placeholders, param names as the engine uses them
    query: Mapping[str, str] = field(default_factory=dict)  # param -> query name
    headers: Mapping[str, str] = field(default_factory=dict)  # param -> header name
    body: BodyKind = "json"

    def url_path(self, params: Mapping[str, Any]) -> str:
        try:
            return self.path.format_map({k: quote(str(v), safe="") for k, v in params.items()})
        except KeyError as e:
            raise ConnectorError(
                f"{self.method} {self.path}: param {e.args[0]!r} missing"
            ) from None


_ERP = "/fscmRestApi/resources/latest"
_WMS = "/wms/api/v1"
_AP = "/payables/v1"
_PAGE = {"offset": "offset", "limit": "limit"}
_IF_MATCH = {"if_match": "If-Match"}
_IF_NONE = {"if_none_match": "If-None-Match"}
_PO = f"{_ERP}/purchaseOrders/{{order_number}}"
_AP_INVOICE = f"{_AP}/invoices/{{vendor_num}}/{{invoice_num}}"


def _master_routes(
    name: str, collection: str, key: str, query: Mapping[str, str] = _PAGE
) -> dict[tuple[str, str], Route]:
    """The four routes of an ERP master (``name``, at ``collection``/``key``): create,
    update (``If-Match``), get (``If-None-Match``) and a paged list (``query``)."""
    every, one = f"{_ERP}/{collection}", f"{_ERP}/{collection}/{key}"
    return {
        ("erp", f"create_{name}"): Route("POST", every),
        ("erp", f"update_{name}"): Route("PATCH", one, headers=_IF_MATCH),
        ("erp", f"get_{name}"): Route("GET", one, headers=_IF_NONE, body="none"),
        ("erp", f"list_{name}s"): Route("GET", every, query=query, body="none"),
    }


ROUTES: dict[tuple[str, str], Route] = {
    # ERP: purchase orders, acknowledgments, receipts, invoice status
    ("erp", "post_purchase_order"): Route("POST", f"{_ERP}/purchaseOrders"),
    ("erp", "list_purchase_orders"): Route(
        "GET",
        f"{_ERP}/purchaseOrders",
        query={"updated_since": "updatedSince", **_PAGE},
        body="none",
    ),
    ("erp", "get_purchase_order"): Route("GET", _PO, headers=_IF_NONE, body="none"),
    ("erp", "change_purchase_order"): Route("PATCH", _PO, headers=_IF_MATCH),
    ("erp", "post_acknowledgment"): Route("POST", f"{_PO}/acknowledgments", headers=_IF_MATCH),
    ("erp", "post_receipt"): Route("POST", f"{_PO}/receipts", headers=_IF_MATCH),
    ("erp", "post_invoice_status"): Route("POST", f"{_PO}/invoiceStatus"),
    ("erp", "get_invoice"): Route(
        "GET", f"{_ERP}/invoices/{{supplier_number}}/{{invoice_number}}", body="none"
    ),
    # ERP: masters
    **_master_routes("item", "items", "{item_number}"),
    **_master_routes("vendor", "vendors", "{supplier_number}"),
    **_master_routes(
        "contract_price",
        "contractPrices",
        "{supplier_number}/{item_number}",
        query={"supplier_number": "supplierNumber", **_PAGE},
    ),
    # supplier network (EDI VAN)
    ("supplier", "receive_edi"): Route("POST", "/edi/inbound", body="x12"),
    ("supplier", "post_edi"): Route("POST", "/edi/inbound", body="x12"),  # the engine's name
    ("supplier", "mailbox"): Route(
        "GET", "/edi/mailbox", query={"after": "after", "limit": "limit"}, body="none"
    ),
    # WMS
    ("wms", "upsert_expected_receipts"): Route("POST", f"{_WMS}/expected-receipts"),
    ("wms", "get_expected_receipt"): Route(
        "GET", f"{_WMS}/expected-receipts/{{po_nbr}}/{{po_line_nbr}}", body="none"
    ),
    ("wms", "post_ship_notice"): Route("POST", f"{_WMS}/ship-notices"),
    ("wms", "get_ship_notice"): Route("GET", f"{_WMS}/ship-notices/{{asn_nbr}}", body="none"),
    ("wms", "receive"): Route("POST", f"{_WMS}/receipts"),
    ("wms", "get_receipt"): Route("GET", f"{_WMS}/receipts/{{receipt_id}}", body="none"),
    ("wms", "list_receipts"): Route(
        "GET", f"{_WMS}/receipts", query={"po_nbr": "po_nbr", **_PAGE}, body="none"
    ),
    ("wms", "get_receiving_line"): Route(
        "GET",
        f"{_WMS}/receiving-lines/{{po_nbr}}/{{po_line_nbr}}",
        query={"asn_nbr": "asn_nbr"},
        body="none",
    ),
    ("wms", "putaway"): Route("POST", f"{_WMS}/putaways"),
    ("wms", "inventory"): Route(
        "GET",
        f"{_WMS}/inventory",
        query={"location": "location", "item_id": "item_id"},
        body="none",
    ),
    # AP
    ("ap", "upsert_po_lines"): Route("PUT", f"{_AP}/po-lines"),
    ("ap", "post_receipt"): Route("POST", f"{_AP}/receipts"),
    ("ap", "upsert_prices"): Route("PUT", f"{_AP}/prices"),
    ("ap", "post_invoice"): Route("POST", f"{_AP}/invoices"),
    ("ap", "list_invoices"): Route(
        "GET",
        f"{_AP}/invoices",
        query={"status": "status", "updated_since": "updated_since", **_PAGE},
        body="none",
    ),
    ("ap", "get_invoice"): Route("GET", _AP_INVOICE, body="none"),
    ("ap", "release_hold"): Route("POST", f"{_AP_INVOICE}/holds/{{hold_code}}/release"),
    ("ap", "approve"): Route("POST", f"{_AP_INVOICE}/approve", body="none"),
    ("ap", "pay"): Route("POST", f"{_AP_INVOICE}/payments"),
}


def route_for(request: Request) -> Route:
    """The route of ``request``; :class:`ConnectorError` when the table has none."""
    route = ROUTES.get((request.target, request.operation))
    if route is None:
        raise ConnectorError(
            f"no route for {request.target} {request.operation!r}: add it to sync_core.connectors"
        )
    return route


@dataclass(frozen=True)
class HttpCall:
    """One request in HTTP terms (what :meth:`HttpConnector.call` sends)."""

    method: str
    url: str
    query: dict[str, str]
    headers: dict[str, str]
    data: bytes | None


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_http(base_url: str, request: Request) -> HttpCall:
    route = route_for(request)
    params = request.params or {}
    url = base_url.rstrip("/") + route.url_path(params)
    query = {
        name: _query_value(params[p])
        for p, name in route.query.items()
        if params.get(p) is not None
    }
    headers = {name: str(params[p]) for p, name in route.headers.items() if params.get(p)}
    if request.idempotency_key is not None:
        headers["Idempotency-Key"] = request.idempotency_key
    if request.correlation_id is not None:
        headers["traceparent"] = request.correlation_id
    data: bytes | None = None
    if route.body == "json" and request.body is not None:
        data = json.dumps(request.body, separators=(",", ":")).encode()
        headers["Content-Type"] = "application/json"
    elif route.body == "x12":
        if not isinstance(request.body, str):
            raise ConnectorError(f"{request.target} {request.operation}: body must be X12 text")
        data = request.body.encode()
        headers["Content-Type"] = "application/edi-x12"
    return HttpCall(route.method, url, query, headers, data)


class HttpConnector:
    """Calls the systems at ``base_urls`` (system → ``http://127.0.0.1:port``) with aiohttp.

    Create it inside the event loop that will use it; :meth:`close` it there.
    ``limit`` bounds the open connections per target (the lanes bound the calls);
    ``versions``: the ERP's API versions the core follows (None: it speaks the base).
    """

    def __init__(
        self,
        base_urls: Mapping[str, str],
        *,
        timeout_s: float = 10.0,
        limit: int = 64,
        versions: ErpVersions | None = None,
    ) -> None:
        self.base_urls = dict(base_urls)
        self.versions = versions
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=limit),
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        )

    def knows(self, request: Request) -> str | None:
        """None if ``request`` can be sent, else why not (for the dead letter)."""
        if request.target not in self.base_urls:
            return f"no base URL for target {request.target!r}"
        try:
            to_http(self.base_urls[request.target], request)
        except ConnectorError as e:
            return str(e)
        return None

    async def call(self, request: Request) -> Response:
        versions = self.versions if request.target == "erp" else None
        if versions is None:
            return await self._send(to_http(self.base_urls[request.target], request))
        for _ in range(2):  # once more if the release came while the call was on its way
            out, headers, sent = versions.outgoing(request)
            http = to_http(self.base_urls[request.target], out)
            http.headers.update(headers)
            response = await self._send(http)
            translated = versions.incoming(request, response)
            if not versions.resend(sent, response):
                break
        return translated

    async def _send(self, http: HttpCall) -> Response:
        try:
            async with self._session.request(
                http.method, http.url, params=http.query, headers=http.headers, data=http.data
            ) as resp:
                raw = await resp.read()
                headers = {k.lower(): v for k, v in resp.headers.items()}
                return Response(resp.status, _decode(raw, headers.get("content-type", "")), headers)
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            return Response(0, {"detail": f"no answer: {type(e).__name__}: {e}"})

    async def close(self) -> None:
        await self._session.close()


def _decode(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text
