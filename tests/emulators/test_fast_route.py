"""The routes' short way answers every request as FastAPI's own handler does.

:class:`~emulators.web._fast_route.FastRoute` takes ordinary requests past FastAPI's
per-request introspection and hands everything else to the handler FastAPI built.
Each case here is sent to the ERP's app as served, and to the same app built with
FastAPI's handler alone: the status, content type, ETag and body must be the same, for
good requests and bad ones (a malformed or misdeclared body, a header past its bound,
a param of the wrong type, a repeat under an idempotency key).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from emulators.web._fast_route import FastRoute
from emulators.web.erp_api import ERP_PREFIX
from emulators.web.erp_app import erp_system
from tests.emulators.harness import live_system, served

LINE = {"SupplierItem": "1001-00001", "ItemGTIN": "30710000000014", "Quantity": 12,
        "UOMCode": "CA", "Price": 41.5}  # fmt: skip
PO = {"SupplierNumber": "S1001", "ShipToLocationGLN": "0860001000018",
      "RequesterDepartment": "CC-01-120", "NeedByDate": "2026-03-09", "lines": [LINE]}  # fmt: skip
POS = f"{ERP_PREFIX}/purchaseOrders"
JSON = {"content-type": "application/json"}

# (label, method, path, body bytes, headers, the status FastAPI answers)
CASES: list[tuple[str, str, str, bytes | None, dict[str, str], int]] = [
    ("a PO", "POST", POS, json.dumps(PO).encode(), JSON, 201),
    ("a PO, charset named", "POST", POS, json.dumps(PO).encode(),
     {"content-type": "application/json; charset=utf-8"}, 201),
    ("a PO as text/plain", "POST", POS, json.dumps(PO).encode(),
     {"content-type": "text/plain"}, 422),
    ("no content type", "POST", POS, json.dumps(PO).encode(), {}, 422),
    ("malformed JSON", "POST", POS, b'{"SupplierNumber": ', JSON, 422),
    ("NaN, which only the standard library reads", "POST", POS,
     json.dumps({**PO, "lines": [{**LINE, "Price": float("nan")}]}).encode(), JSON, 422),
    ("an empty body", "POST", POS, b"", JSON, 422),
    ("a list for a body", "POST", POS, b"[]", JSON, 422),
    ("a line without its price", "POST", POS,
     json.dumps({**PO, "lines": [{k: v for k, v in LINE.items() if k != "Price"}]}).encode(),
     JSON, 422),
    ("an idempotency key past 200", "POST", POS, json.dumps(PO).encode(),
     {**JSON, "Idempotency-Key": "k" * 201}, 422),
    ("a traceparent past 200", "POST", POS, json.dumps(PO).encode(),
     {**JSON, "traceparent": "t" * 201}, 422),
    ("a keyed PO", "POST", POS, json.dumps(PO).encode(), {**JSON, "Idempotency-Key": "k1"}, 201),
    ("its repeat", "POST", POS, json.dumps(PO).encode(), {**JSON, "Idempotency-Key": "k1"}, 201),
    ("the key reused", "POST", POS, json.dumps({**PO, "NeedByDate": "2026-03-10"}).encode(),
     {**JSON, "Idempotency-Key": "k1"}, 422),
    ("a PO read", "GET", f"{POS}/4500000001", None, {}, 200),
    ("a PO read, its ETag held", "GET", f"{POS}/4500000001", None,
     {"If-None-Match": "*"}, 304),
    ("no such PO", "GET", f"{POS}/1", None, {}, 404),
    ("a page", "GET", f"{POS}?updatedSince=2026-01-01T00:00:00&limit=1", None, {}, 200),
    ("a page size that is no number", "GET", f"{POS}?limit=ten", None, {}, 422),
    ("a negative offset", "GET", f"{POS}?offset=-1", None, {}, 400),
    ("a stale If-Match", "PATCH", f"{POS}/4500000001",
     json.dumps({"lines": [{"LineNumber": 1, "Quantity": 5}]}).encode(),
     {**JSON, "If-Match": '"9.9.9"'}, 412),
]  # fmt: skip


@pytest.fixture(scope="module")
def answers() -> Iterator[dict[str, list[tuple[int, tuple[str, str | None], Any]]]]:
    """Every case's answer from the app as served and from FastAPI's handler alone."""
    found: dict[str, list[tuple[int, tuple[str, str | None], Any]]] = {}
    for name in ("short", "fastapi"):
        patch = pytest.MonkeyPatch()
        if name == "fastapi":
            patch.setattr(FastRoute, "get_route_handler", APIRoute.get_route_handler)
        try:
            live = live_system(erp_system)
        finally:
            patch.undo()
        with served(live.app) as base, httpx.Client(base_url=base) as client:
            found[name] = [_answer(client, *case[1:5]) for case in CASES]
    yield found


def _answer(
    client: httpx.Client, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, tuple[str, str | None], Any]:
    reply = client.request(method, path, content=body, headers=headers)
    shown = (reply.headers.get("content-type", ""), reply.headers.get("etag"))
    return reply.status_code, shown, reply.json() if reply.content else None


@pytest.mark.parametrize("i", range(len(CASES)), ids=[c[0] for c in CASES])
def test_each_request_gets_fastapis_answer(
    answers: dict[str, list[tuple[int, tuple[str, str | None], Any]]], i: int
) -> None:
    short, fastapi = answers["short"][i], answers["fastapi"][i]

    assert short == fastapi
    assert short[0] == CASES[i][5], short


def test_bad_requests_are_problems_naming_the_field(
    answers: dict[str, list[tuple[int, tuple[str, str | None], Any]]],
) -> None:
    fields = {c[0]: a[2]["field"] for c, a in zip(CASES, answers["short"], strict=True)
              if a[0] >= 400}  # fmt: skip

    assert fields["an idempotency key past 200"] == "Idempotency-Key"
    assert fields["a traceparent past 200"] == "traceparent"
    assert fields["malformed JSON"].startswith("body")
    assert fields["a line without its price"] == "lines[0].Price"
    assert fields["a page size that is no number"] == "limit"
