"""``POST /webhooks/{system}``: the systems push their documents into the core.

A document is mapped to a message (:mod:`sync_core.inbound`) and answered 202 only once
durably committed (a duplicate too); a body that is not JSON is 400, a wrong envelope
422, an unknown system 404, a store that cannot commit 503 with ``Retry-After`` (the
sender retries: nothing was acknowledged).  A core that follows the ERP's releases reads
an ERP event by the version it announces (``apiVersion``: out of its envelope) before
mapping it; one that does not refuses an event in a shape it does not know (422).
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from sync_core.inbound import PARSERS, InboundError, from_system
from sync_core.service.access import requires
from sync_core.service.deps import Driver, ErpVersionsFollowed
from sync_core.service.problems import PROBLEM_DOC, problem
from sync_core.store import StoreError

__all__ = ["router"]

System = Annotated[str, Path(description="erp, supplier, wms or ap", max_length=20)]

# the unversioned routes, each deprecated for its /v1 successor (layers.py)
router = APIRouter(tags=["inbound"], deprecated=True)


@router.post(
    "/webhooks/{system}",
    status_code=202,
    dependencies=[requires("webhooks:{system}")],
    responses={400: PROBLEM_DOC, 404: PROBLEM_DOC, 422: PROBLEM_DOC, 503: PROBLEM_DOC},
)
async def webhook(
    system: System, request: Request, driver: Driver, versions: ErpVersionsFollowed
) -> Response:
    """A system pushes a document; 202 once it is durably committed (a duplicate too)."""
    if system not in PARSERS:
        return problem(404, "Not Found", f"unknown system {system!r}", "system")
    try:
        raw = await request.body()
    except ClientDisconnect:  # the sender gave up: it will send again
        return problem(400, "Bad Request", "the client disconnected mid-body", "body")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        return problem(400, "Bad Request", f"body is not JSON: {e}", "body")
    if system == "erp" and versions is not None:
        body = versions.event(body)
    try:
        message = from_system(system, body)
    except InboundError as e:
        return problem(422, "Unprocessable Content", str(e), e.field)
    try:
        outcome = await driver.submit(message, request.headers.get("traceparent"))
    except StoreError as e:
        return problem(503, "Service Unavailable", str(e), None, **{"Retry-After": "1"})
    return JSONResponse({"message_id": message.message_id, "outcome": outcome}, 202)
