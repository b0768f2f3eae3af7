"""The connector table against the emulators' real routes, and requests in HTTP terms."""

from __future__ import annotations

import asyncio
import re

import pytest

from emulators.web.serve import LiveClock, build_system
from sync_core.connectors import ROUTES, ConnectorError, HttpConnector, route_for, to_http
from sync_core.messages import Request, Response

ALIASES = {("supplier", "post_edi"): "receive_edi"}  # the engine's name for the EDI door
#: operations the core has no use for: master-data discovery for people and other
#: middleware (the core takes its partners and locations from its configuration)
NOT_CALLED = {
    "erp": {"list_locations", "create_location", "get_location"},
    "supplier": {"list_partners"},
    # The dock scans a pack by its SSCC; the core never receives goods itself.
    "wms": {"receive_pack"},
}


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def emulator_routes(system: str) -> dict[str, set[tuple[str, str]]]:
    """operation → (method, path shape) of every API route of the live emulator, read from
    its OpenAPI document (FastAPI's operationId is the endpoint's name + path + method)."""
    live = build_system(system, seed=1, clock=LiveClock())
    found: dict[str, set[tuple[str, str]]] = {}
    for path, methods in live.app.openapi()["paths"].items():
        if path.startswith(("/__admin", "/health", "/metrics")):
            continue
        for method, operation in methods.items():
            suffix = re.sub(r"\W", "_", path) + "_" + method
            name = operation["operationId"].removesuffix(suffix)
            found.setdefault(name, set()).add((method.upper(), _shape(path)))
    return found


@pytest.mark.parametrize("system", ["erp", "supplier", "wms", "ap"])
def test_every_emulator_operation_has_a_route_that_exists(system: str) -> None:
    served = emulator_routes(system)
    ours = {op: r for (target, op), r in ROUTES.items() if target == system}
    missing = set(served) - set(ours) - NOT_CALLED.get(system, set())
    assert missing == set(), "operations the connectors cannot call"
    for op, route in ours.items():
        name = ALIASES.get((system, op), op)
        assert name in served, f"{system} {op}: the emulator has no such operation"
        assert (route.method, _shape(route.path)) in served[name], (system, op, served[name])


def test_a_write_carries_its_key_trace_and_precondition() -> None:
    request = Request(
        "erp",
        "post_acknowledgment",
        {"order_number": "45/01", "if_match": '"1.0.3"'},
        body={"AcknowledgmentRevision": 1},
        idempotency_key="855:4501:1:erp",
        correlation_id="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
    )
    call = to_http("http://127.0.0.1:9/", request)
    assert call.method == "POST"
    assert call.url == (
        "http://127.0.0.1:9/fscmRestApi/resources/latest/purchaseOrders/45%2F01/acknowledgments"
    )
    assert call.headers["Idempotency-Key"] == "855:4501:1:erp"
    assert call.headers["traceparent"] == request.correlation_id
    assert call.headers["If-Match"] == '"1.0.3"'
    assert call.data == b'{"AcknowledgmentRevision":1}'


def test_a_read_maps_params_to_native_query_names() -> None:
    request = Request(
        "erp", "list_purchase_orders", {"updated_since": "2026-03-02T08:00:00", "offset": 0,
                                        "limit": 100})  # fmt: skip
    call = to_http("http://127.0.0.1:9", request)
    assert call.method == "GET" and call.data is None
    assert call.query == {"updatedSince": "2026-03-02T08:00:00", "offset": "0", "limit": "100"}


def test_an_x12_interchange_goes_as_text() -> None:
    call = to_http("http://h", Request("supplier", "post_edi", {"supplier": "S"}, body="ISA*00~"))
    assert call.headers["Content-Type"] == "application/edi-x12" and call.data == b"ISA*00~"


def test_unknown_operations_and_missing_path_params_are_named() -> None:
    with pytest.raises(ConnectorError, match="no route for erp 'teleport'"):
        route_for(Request("erp", "teleport"))
    with pytest.raises(ConnectorError, match="order_number"):
        to_http("http://h", Request("erp", "get_purchase_order", {}))


def test_no_answer_is_status_0_not_an_exception() -> None:
    async def call() -> Response:
        connector = HttpConnector({"erp": "http://127.0.0.1:9"}, timeout_s=2)
        try:
            assert connector.knows(Request("wms", "receive")) is not None
            return await connector.call(Request("erp", "get_purchase_order", {"order_number": "1"}))
        finally:
            await connector.close()

    response = asyncio.run(call())
    assert response.status == 0 and "no answer" in response.body["detail"]
