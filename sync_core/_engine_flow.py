"""What every flow of the engine shares: the :class:`_Flow` base, trace ids, fields, stamps.

The engine's handlers live in mixin classes, one module per flow (the table is in
:mod:`sync_core.engine`).  Each mixin inherits :class:`_Flow`, which holds what they
all use of the engine: its configuration, the stored-PO cache, the version checks,
paging by keyset, and ``_consume`` (declared here for the type checker, defined by
:class:`~sync_core.engine.Engine`) for the documents a page carries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sync_core.errors import MappingError
from sync_core.messages import Entity, Inbound, Request
from sync_core.model import PurchaseOrder

if TYPE_CHECKING:
    from sync_core.engine import EngineConfig, _Work

_EPOCH_MARK = "1970-01-01T00:00:00.000"
_MS_EPOCH = dt.datetime(1970, 1, 1)


def traceparent(po_number: str, span: str) -> str:
    """A W3C ``traceparent`` whose trace id is derived from the PO: stable across restarts."""
    trace = hashlib.sha256(po_number.encode()).hexdigest()[:32]
    span_id = hashlib.sha256(f"{po_number}/{span}".encode()).hexdigest()[:16]
    return f"00-{trace}-{span_id}-01"


class _Flow:
    """The engine as its flows see it: mixed into :class:`~sync_core.engine.Engine`."""

    config: EngineConfig
    _po_models: dict[str, tuple[Any, PurchaseOrder]]

    def _stored_po(self, known: Entity) -> PurchaseOrder:
        """The stored PO as a model, validated once per stored document: the cache holds
        the document it was made from and answers only for that very object (a model
        is frozen; a store that decodes anew simply misses)."""
        cached = self._po_models.get(known.key)
        if cached is not None and cached[0] is known.data:
            return cached[1]
        po = PurchaseOrder.model_validate(known.data)
        self._po_models[known.key] = (known.data, po)
        return po

    def _seen(self, known: Entity | None, version: int) -> bool:
        """True when ``version`` was already acted upon (never, in naive mode)."""
        return not self.config.naive and known is not None and known.version >= version

    def _versioned(self, entity: tuple[str, str, int]) -> tuple[str, str, int] | None:
        return None if self.config.naive else entity

    @staticmethod
    def _keyset(
        work: _Work,
        message: Inbound,
        stamps: list[str],
        mark: str,
        request: Callable[[str, int], Request],
    ) -> None:
        """Page on by keyset, or move the watermark ``mark`` at the extract's end."""
        query = message.query or {}
        since = str(query.get("updated_since", _EPOCH_MARK))
        offset = int(query.get("offset", 0))
        stamps = [s or since for s in stamps]
        last = stamps[-1] if stamps else since
        if message.body.get("hasMore") and stamps:
            at_last = sum(1 for s in stamps if s == last)  # rows at the cursor already read
            work.requests.append(request(last, at_last + (offset if last == since else 0)))
            return
        known = work.entity("watermark", mark)
        if known is None or last > str(known.data):
            work.put("watermark", mark, (known.version if known else 0) + 1, last)

    if TYPE_CHECKING:

        def _consume(self, work: _Work, message: Inbound, now: dt.datetime) -> None: ...


def _stamp_ms(value: Any, document: str) -> int:
    """An ISO 8601 stamp as milliseconds since 1970: an integer source version."""
    try:
        moment = dt.datetime.fromisoformat(str(value)).replace(tzinfo=None)
    except ValueError:
        raise MappingError(
            document, "last_update_date", f"not an ISO 8601 stamp: {value!r}"
        ) from None
    return (moment - _MS_EPOCH) // dt.timedelta(milliseconds=1)


def _stamp_of(doc: Any, name: str) -> str:
    stamp = doc.get(name) if isinstance(doc, dict) else None
    return stamp if isinstance(stamp, str) else ""


def _field(body: Any, name: str, document: str) -> Any:
    if not isinstance(body, dict) or name not in body:
        raise MappingError(document, name, "missing")
    return body[name]
