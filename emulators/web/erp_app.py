"""The ERP's HTTP API (Fusion-like REST under ``/fscmRestApi/resources/latest``).

Thin over :class:`~emulators.erp.Erp`: each route validates the body against
the ERP's native models (so OpenAPI documents them), then calls the behaviour
through the host, which applies faults and journals the request.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from emulators._base import Reply
from emulators.erp import Erp
from emulators.host import Host
from emulators.web._common import (
    PROBLEM,
    LiveSystem,
    Schedule,
    add_subscription_routes,
    make_app,
    respond,
    webhooks_for,
)

__all__ = ["ERP_PREFIX", "erp_router", "erp_system"]

ERP_PREFIX = "/fscmRestApi/resources/latest"


class _Native(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PurchaseOrderLineCreate(_Native):
    SupplierItem: str = Field(min_length=1)
    ItemGTIN: str = Field(pattern=r"^[0-9]{14}$")
    Quantity: int = Field(gt=0)
    UOMCode: Literal["EA", "BX", "CA", "PK", "CT", "DZ"]
    Price: float = Field(gt=0)
    CriticalSupply: Literal["Y", "N"] = "N"


class PurchaseOrderCreate(_Native):
    SupplierNumber: str = Field(min_length=1)
    ShipToLocationGLN: str = Field(pattern=r"^[0-9]{13}$")
    RequesterDepartment: str = Field(min_length=1)
    NeedByDate: dt.date
    lines: list[PurchaseOrderLineCreate] = Field(min_length=1, max_length=999)


class AcknowledgmentLine(_Native):
    LineNumber: int = Field(ge=1)
    SupplierConfirmedQuantity: int = Field(ge=0)
    BackorderedQuantity: int = Field(ge=0)
    AcknowledgmentStatus: str = Field(min_length=2, max_length=40)
    PromisedDate: dt.date | None = None


class AcknowledgmentPost(_Native):
    AcknowledgmentRevision: int = Field(ge=1)
    AcknowledgmentType: str | None = None
    CorrelationId: str | None = None
    lines: list[AcknowledgmentLine] = Field(min_length=1)


OrderNumber = Annotated[str, Path(min_length=1, max_length=22)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
Traceparent = Annotated[str | None, Header(max_length=200)]


def erp_router(host: Host, erp: Erp) -> APIRouter:
    router = APIRouter(prefix=ERP_PREFIX, tags=["purchase orders"], responses={422: PROBLEM})

    @router.post("/purchaseOrders", status_code=201, responses={201: {}, 429: PROBLEM})
    async def create_purchase_order(
        body: PurchaseOrderCreate, traceparent: Traceparent = None
    ) -> Response:
        def call() -> Reply:
            order = erp.create_purchase_order(
                supplier_number=body.SupplierNumber,
                ship_to_gln=body.ShipToLocationGLN,
                department=body.RequesterDepartment,
                need_by=body.NeedByDate,
                lines=[line.model_dump() for line in body.lines],
                correlation_id=traceparent,
            )
            return Reply(201, order)

        return respond(host.invoke("create_purchase_order", call, correlation_id=traceparent))

    @router.get("/purchaseOrders", responses={429: PROBLEM, 503: PROBLEM})
    async def list_purchase_orders(
        updatedSince: Annotated[str, Query(description="ISO 8601 date-time")] = (
            "1970-01-01T00:00:00"
        ),
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 25,
    ) -> Response:
        return respond(
            host.invoke(
                "list_purchase_orders",
                lambda: erp.list_purchase_orders(
                    updated_since=updatedSince, offset=offset, limit=limit
                ),
            )
        )

    @router.get("/purchaseOrders/{OrderNumber}", responses={404: PROBLEM, 304: {}})
    async def get_purchase_order(OrderNumber: OrderNumber) -> Response:
        return respond(
            host.invoke("get_purchase_order", lambda: erp.get_purchase_order(OrderNumber))
        )

    @router.post("/purchaseOrders/{OrderNumber}/acknowledgments", responses={404: PROBLEM})
    async def post_acknowledgment(
        OrderNumber: OrderNumber,
        body: AcknowledgmentPost,
        idempotency_key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> Response:
        payload = body.model_dump(mode="json")
        return respond(
            host.invoke(
                "post_acknowledgment",
                lambda: erp.post_acknowledgment(OrderNumber, payload, idempotency_key),
                idempotency_key=idempotency_key,
                correlation_id=traceparent or body.CorrelationId,
            )
        )

    return router


def erp_system(
    *, seed: int, clock: Any, schedule: Schedule, webhook_target: str | None = None, **_: Any
) -> LiveSystem:
    host = Host("erp", clock, seed)
    erp = Erp(host.journal, clock, clock.epoch)
    dispatcher, target = webhooks_for("erp", seed, schedule, webhook_target)
    host.attach(erp, dispatcher)
    app = make_app(host, "supplysync ERP emulator", "A cloud ERP's purchasing REST API.")
    app.include_router(erp_router(host, erp))
    add_subscription_routes(app, target)
    return LiveSystem(host, app)
