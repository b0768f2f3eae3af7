"""Errors as RFC 9457 problem+json, naming the field at fault — for every router.

Why one module: each router answers its own mistakes (an unknown system, a letter no
longer open) with :func:`problem`, and the app maps what FastAPI and the store raise
(:func:`install`) to the same shape, so a client reads one error format and no user
mistake reaches a 500.  :data:`PROBLEM_DOC` documents that shape in the OpenAPI.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sync_core.store import StoreError

__all__ = ["PROBLEM_DOC", "PROBLEM_TYPE", "install", "problem"]

PROBLEM_TYPE = "application/problem+json"
PROBLEM_DOC = {
    "description": "Problem details (RFC 9457) naming the field at fault",
    "content": {PROBLEM_TYPE: {"schema": {"type": "object"}}},
}


def problem(
    status: int, title: str, detail: str, field: str | None = None, **headers: str
) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status,
                            "detail": detail}  # fmt: skip
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    first = errors[0] if errors else {"loc": (), "msg": str(exc)}
    loc = [str(p) for p in first["loc"] if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or "body"
    return problem(422, "Unprocessable Content", f"{field}: {first['msg']}", field)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    titles = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
              405: "Method Not Allowed"}  # fmt: skip
    # FastAPI's only 400 is a body it could not parse (not JSON): name the body
    field = "body" if exc.status_code == 400 else None
    detail = "the body is not valid JSON" if field else str(exc.detail)
    headers = dict(exc.headers or {})  # a 401's WWW-Authenticate (sync_core.service.access)
    return problem(exc.status_code, titles.get(exc.status_code, "Error"), detail, field, **headers)


async def _store_error(request: Request, exc: Exception) -> Response:
    """The store is busy or unreachable: try again, never a 500 (nothing was changed)."""
    reason = exc.reason if isinstance(exc, StoreError) else str(exc)
    return problem(503, "Service Unavailable", f"the store: {reason}", None, **{"retry-after": "1"})


def install(app: FastAPI) -> None:
    """Answer FastAPI's validation and HTTP errors, and a failing store, as problems."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(StoreError, _store_error)
