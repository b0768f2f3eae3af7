"""Messages in, decisions out: the frozen value objects the engine speaks.

An :class:`Inbound` is anything that reaches the sync core: a webhook, a
document pushed by a partner, the reply to a read it asked for, a batch tick.
The engine answers each with a :class:`Decision`: the messages it consumed,
the entity versions to store, the requests to send (the outbox), and what it
dead-letters.  A driver stores a decision in one transaction, then carries out
its requests.  The engine reads what the core already knows through a
:class:`StateView`, which every store (and a driver's group commit) implements:
it lives here, with the messages, so the engine depends on no store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

__all__ = [
    "DeadLetter",
    "Decision",
    "Entity",
    "Inbound",
    "Kind",
    "PutEntity",
    "Request",
    "Response",
    "StateView",
]


class Kind(StrEnum):
    """Every kind of inbound message the engine knows."""

    ERP_PO_CHANGED = "erp.po_changed"  # thin event: {"OrderNumber"}
    ERP_PO_DOCUMENT = "erp.po_document"  # a purchase order as the ERP serves it
    ERP_PO_PAGE = "erp.po_page"  # a page of changed purchase orders
    SUPPLIER_EDI = "supplier.edi"  # {"seq", "supplier", "payload": X12 interchange}
    SUPPLIER_MAILBOX_PAGE = "supplier.mailbox_page"  # {"documents": [...], "hasMore"}
    BATCH_TICK = "batch.tick"  # time to pull: {"at": ISO time}
    ERP_MASTER_CHANGED = "erp.master_changed"  # thin event: ItemChanged, ContractPriceChanged...
    ERP_MASTER_DOCUMENT = "erp.master_document"  # an item, vendor or contract price read back
    ERP_MASTER_PAGE = "erp.master_page"  # a page of contract prices: {"items", "hasMore"}
    WMS_RECEIPT_CREATED = "wms.receipt_created"  # thin event: {"receipt_id", "po_nbr", ...}
    WMS_RECEIPT = "wms.receipt"  # a receipt as the WMS serves it
    WMS_RECEIPT_PAGE = "wms.receipt_page"  # {"items": [receipts], "has_more"}
    AP_INVOICE_STATUS_CHANGED = "ap.invoice_status_changed"  # thin event: {"invoice": {...}}
    AP_INVOICE = "ap.invoice"  # an invoice as AP serves it
    AP_INVOICE_PAGE = "ap.invoice_page"  # {"items": [invoices], "hasMore"}
    RECONCILE_TICK = "reconcile.tick"  # time to compare owners and replicas: {"at"}


@dataclass(frozen=True)
class Inbound:
    message_id: str
    kind: Kind
    body: Any
    correlation_id: str | None = None
    query: dict[str, Any] | None = None  # for a reply: the parameters of the read


@dataclass(frozen=True, init=False)
class Request:
    """A call to one system's native API.

    ``reply_kind`` is set for reads: the driver hands the reply body back to the
    engine as an :class:`Inbound` of that kind.  Writes carry an idempotency key, and
    ``supersedable`` when a newer version of the same entity makes them obsolete.
    """

    target: str
    operation: str
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    idempotency_key: str | None = None
    correlation_id: str | None = None
    critical: bool = False
    reply_kind: Kind | None = None
    # A write that carries one version of an entity the core keeps (kind, key, version):
    # a driver drops it unsent once the core holds a newer version (it was superseded),
    # so a retry of an older state can never land after the newer one.
    supersedable: tuple[str, str, int] | None = None

    # The engine makes several of these per message: an __init__ that fills __dict__ costs
    # a quarter of the generated one, which sets each field through object.__setattr__
    # (frozen). The same fields, in the same order, with the same defaults.
    def __init__(
        self,
        target: str,
        operation: str,
        params: dict[str, Any] | None = None,  # None: a new empty dict
        body: Any = None,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        critical: bool = False,
        reply_kind: Kind | None = None,
        supersedable: tuple[str, str, int] | None = None,
    ) -> None:
        d = self.__dict__
        d["target"] = target
        d["operation"] = operation
        d["params"] = {} if params is None else params
        d["body"] = body
        d["idempotency_key"] = idempotency_key
        d["correlation_id"] = correlation_id
        d["critical"] = critical
        d["reply_kind"] = reply_kind
        d["supersedable"] = supersedable


@dataclass(frozen=True)
class Response:
    """What a system answered to a :class:`Request`."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True, init=False)
class Entity:
    """What the core remembers of one business entity, at one source version."""

    kind: str
    key: str
    version: int
    data: Any

    def __init__(self, kind: str, key: str, version: int, data: Any) -> None:
        d = self.__dict__  # as Request's: cheaper than the frozen dataclass's own
        d["kind"] = kind
        d["key"] = key
        d["version"] = version
        d["data"] = data


class StateView(Protocol):
    """What the engine may read of the core's state: nothing else."""

    def consumed(self, message_id: str) -> bool: ...

    def entity(self, kind: str, key: str) -> Entity | None: ...


@dataclass(frozen=True, init=False)
class PutEntity:
    entity: Entity

    def __init__(self, entity: Entity) -> None:
        self.__dict__["entity"] = entity  # as Request's


@dataclass(frozen=True)
class DeadLetter:
    """What could not be done, with enough to do it again after a fix.

    An inbound message the engine could not map keeps its ``kind``, ``body``,
    ``correlation_id`` and ``query`` (so it can be handed to the engine again);
    an outbound request the delivery planner gave up on keeps the whole
    ``request`` (so it can go back to the outbox with its idempotency key).
    ``at`` is when it was dead-lettered, in seconds on the driver's clock.
    """

    message_id: str
    kind: str
    reason: str
    body: Any
    request: Request | None = None
    correlation_id: str | None = None
    query: dict[str, Any] | None = None
    at: float | None = None


@dataclass(frozen=True, init=False)
class Decision:
    message_id: str
    consumed: tuple[str, ...] = ()
    changes: tuple[PutEntity, ...] = ()
    requests: tuple[Request, ...] = ()
    dead_letters: tuple[DeadLetter, ...] = ()

    def __init__(
        self,
        message_id: str,
        consumed: tuple[str, ...] = (),
        changes: tuple[PutEntity, ...] = (),
        requests: tuple[Request, ...] = (),
        dead_letters: tuple[DeadLetter, ...] = (),
    ) -> None:
        d = self.__dict__  # as Request's
        d["message_id"] = message_id
        d["consumed"] = consumed
        d["changes"] = changes
        d["requests"] = requests
        d["dead_letters"] = dead_letters

    @property
    def duplicate(self) -> bool:
        """True when the message had been consumed before: nothing to do."""
        return not self.consumed
