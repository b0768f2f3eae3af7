"""HTTP semantics without HTTP: what every call of the ERP's API shares.

An API method is wrapped by :func:`api`: the token bucket answers first (429 with
``retry-after`` when it is empty, nothing applied), then the method runs, and the
caller gets a copy of what it built, never a live document (the HTTP adapter, which
encodes a reply before anything else runs, reads it uncopied).  :class:`Core` holds
the state behind that: the injected clock and journal, the event listeners, the
stored first replies of idempotency keys and the token bucket
(:mod:`emulators.admission`), and the
:class:`~emulators.limits.Limits` every write is held to (``_admit``: a body past
them is a 422 naming the field, before anything else).  The helpers below are
the rest of the HTTP semantics the ERP speaks: ETag preconditions
(``If-None-Match`` → 304, a stale ``If-Match`` → 412) and offset/limit paging
with ``hasMore``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from emulators._base import Reply, System, copy_document, handed_over
from emulators.admission import IdempotencyCache, TokenBucket
from emulators.erp._checks import bad
from emulators.limits import Bound

__all__ = [
    "Core",
    "api",
    "copy_document",
    "none_match",
    "precondition",
]

# the ERP's numeric fields that the limits bound, by native name
BOUNDED: dict[str, Bound] = {
    "Quantity": "quantity",
    "SupplierConfirmedQuantity": "quantity",
    "BackorderedQuantity": "quantity",
    "QuantityReceived": "quantity",
    "Price": "price",
    "ListPrice": "price",
    "ContractPrice": "price",
}

_P = ParamSpec("_P")
_S = TypeVar("_S", bound="Core")


def api(method: Callable[Concatenate[_S, _P], Reply]) -> Callable[Concatenate[_S, _P], Reply]:
    """An API call: throttled first, answered with a copy of what it built (unless its
    caller reads the reply at once: :func:`~emulators._base.read_at_once`)."""

    @functools.wraps(method)
    def call(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> Reply:
        limited = self._throttle()
        if limited is not None:
            return limited
        return handed_over(method(self, *args, **kwargs))

    return call


class Core(System):
    """State every API call shares; the :class:`~emulators.erp.Erp` sets it up."""

    _rate: float | None
    _burst: float

    def _reset_core(self) -> None:
        self._next_event = 1
        # a key names one request across the API, refused when reused for another;
        # replies are kept as copies (views of documents that change later)
        self._idempotency = IdempotencyCache(per_operation=False, fingerprint=True, copies=True)
        self._bucket = None if self._rate is None else TokenBucket(self._rate, self._burst)

    def _emit(self, event_type: str, **keys: Any) -> None:
        event = {"eventId": f"erp-evt-{self._next_event}", "eventType": event_type, **keys}
        self._next_event += 1
        for listener in self.listeners:
            listener(event)

    # -- admission: limits, then idempotency keys ---------------------------------

    def _admit(
        self, operation: str, target: Any, body: Any, idempotency_key: str | None
    ) -> Reply | None:
        """A body past the limits (422 naming the field), else a repeat's stored reply."""
        return self._past_limits(body) or self._replay(operation, target, body, idempotency_key)

    def _past_limits(self, body: Any) -> Reply | None:
        refusal = self._limits.check(body, BOUNDED)
        return None if refusal is None else bad(422, refusal.detail, refusal.field)

    def _replay(
        self, operation: str, target: Any, body: Any, idempotency_key: str | None
    ) -> Reply | None:
        return self._idempotency.replay(operation, idempotency_key, target, body)

    def _remember(
        self, operation: str, target: Any, body: Any, idempotency_key: str | None, reply: Reply
    ) -> Reply:
        return self._idempotency.remember(operation, idempotency_key, reply, target, body)

    # -- rate limit -----------------------------------------------------------------

    def _throttle(self) -> Reply | None:
        """The ERP's own throttle: its 429 says when a token will be there."""
        if self._bucket is None:
            return None
        deficit_s = self._bucket.take(self._clock())
        if deficit_s == 0.0:
            return None
        wait = max(1, math.ceil(deficit_s))
        limited = bad(429, f"more than {self._rate:g} requests/s; retry in {wait} s", None)
        return Reply(429, limited.body, {**limited.headers, "retry-after": str(wait)})


# -- ETags and paging -------------------------------------------------------------------


def _tags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",") if t.strip()]


def none_match(header: str, etag: str) -> bool:
    """If-None-Match: weak comparison, ``*`` matches any current representation."""
    tags = _tags(header)
    return "*" in tags or etag in [t.removeprefix("W/") for t in tags]


def precondition(etag: str, if_match: str | None) -> Reply | None:
    """If-Match: strong comparison; a stale tag → 412 naming the header."""
    if if_match is None:
        return None
    tags = _tags(if_match)
    if "*" in tags or etag in tags:
        return None
    detail = f"the document has changed: its ETag is now {etag}"
    stale = bad(412, detail, "If-Match")
    return Reply(412, stale.body, {**stale.headers, "etag": etag})
