"""Messages in, decisions out: the frozen value objects the engine speaks.

An :class:`Inbound` is anything that reaches the sync core: a webhook, a
document pushed by a partner, the reply to a read it asked for, a batch tick.
The engine answers each with a :class:`Decision`: the messages it consumed,
the entity versions to store, the requests to send (the outbox), and what it
dead-letters.  A driver stores a decision in one transaction, then carries out
its requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "DeadLetter",
    "Decision",
    "Entity",
    "Inbound",
    "Kind",
    "PutEntity",
    "Request",
    "Response",
]


class Kind(StrEnum):
    """Every kind of inbound message the engine knows."""

    ERP_PO_CHANGED = "erp.po_changed"  # thin event: {"OrderNumber"}
    ERP_PO_DOCUMENT = "erp.po_document"  # a purchase order as the ERP serves it
    ERP_PO_PAGE = "erp.po_page"  # a page of changed purchase orders
    SUPPLIER_EDI = "supplier.edi"  # {"seq", "supplier", "payload": X12 interchange}
    SUPPLIER_MAILBOX_PAGE = "supplier.mailbox_page"  # {"documents": [...], "hasMore"}
    BATCH_TICK = "batch.tick"  # time to pull: {"at": ISO time}


@dataclass(frozen=True)
class Inbound:
    message_id: str
    kind: Kind
    body: Any
    correlation_id: str | None = None
    query: dict[str, Any] | None = None  # for a reply: the parameters of the read


@dataclass(frozen=True)
class Request:
    """A call to one system's native API.

    ``reply_kind`` is set for reads: the driver hands the reply body back to the
    engine as an :class:`Inbound` of that kind.  Writes carry an idempotency key.
    """

    target: str
    operation: str
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    idempotency_key: str | None = None
    correlation_id: str | None = None
    critical: bool = False
    reply_kind: Kind | None = None


@dataclass(frozen=True)
class Response:
    """What a system answered to a :class:`Request`."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class Entity:
    """What the core remembers of one business entity, at one source version."""

    kind: str
    key: str
    version: int
    data: Any


@dataclass(frozen=True)
class PutEntity:
    entity: Entity


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    kind: str
    reason: str
    body: Any


@dataclass(frozen=True)
class Decision:
    message_id: str
    consumed: tuple[str, ...] = ()
    changes: tuple[PutEntity, ...] = ()
    requests: tuple[Request, ...] = ()
    dead_letters: tuple[DeadLetter, ...] = ()

    @property
    def duplicate(self) -> bool:
        """True when the message had been consumed before: nothing to do."""
        return not self.consumed
