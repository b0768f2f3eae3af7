"""What an emulator checks before it applies a call: a token bucket and idempotency keys.

Theory of operation: every emulator uses the one :class:`TokenBucket` and the
one :class:`IdempotencyCache`; where the vendors differ, the difference is a
field set where the emulator builds them, not a second implementation.

Token bucket: ``rate`` tokens a second, at most ``burst`` held, full at the first
call; a call takes one token or is refused, and :meth:`TokenBucket.take` says how
long until one is there.  Two buckets use it: the ERP's own API throttle (a
vendor behaviour: its 429 says when to retry from that deficit, ``retry-after``
in whole seconds) and the fault gate's injected ``rate_limit`` (a gateway
in front of any system: its 429 carries the fixed ``retry_after_s`` the test
configured, so a test states what the client is told).

Idempotency keys: the first reply of a keyed write is kept and a repeat gets it
again, nothing applied twice.  The vendors differ on three points, each a field:

``per_operation``
    AP and the WMS remember a key per operation (the same key on a receipt and an
    invoice is two requests); the ERP remembers it across its whole API, like
    Stripe, so a key names one request.
``fingerprint``
    The ERP also remembers what the key was used for and refuses a reuse with a
    different request (422 naming ``Idempotency-Key``), so a client's bug shows;
    AP and the WMS replay the first reply whatever comes with the key, as many
    older APIs do.
``copies``
    The ERP keeps a copy of the reply: its replies are views of documents that
    change later.  AP's and the WMS's replies are built afresh for each call.

Which replies are remembered is the behaviour's choice (the WMS keeps only
successes, so a refused receipt may be sent again under its key); it calls
:meth:`IdempotencyCache.remember` where it decides.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from emulators._base import Reply, canonical_json, copy_document, problem

__all__ = ["IdempotencyCache", "TokenBucket"]


class TokenBucket:
    """``rate`` tokens a second, ``burst`` deep, full until the first call."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._tokens = self.burst
        self._refilled: float | None = None

    def take(self, now: float) -> float:
        """Take a token at ``now``: 0.0 when one was there, else the seconds until one is."""
        if self._refilled is not None:
            elapsed = max(0.0, now - self._refilled)
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._refilled = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate


def _fingerprint(operation: str, request: tuple[Any, ...]) -> str:
    return hashlib.sha256(canonical_json([operation, *request])).hexdigest()


@dataclass
class IdempotencyCache:
    """The first replies of idempotency keys (the vendors' differences: module doc)."""

    per_operation: bool
    fingerprint: bool = False
    copies: bool = False
    _kept: dict[Any, tuple[str | None, Reply]] = field(default_factory=dict, repr=False)

    def _slot(self, operation: str, key: str) -> Any:
        return (operation, key) if self.per_operation else key

    def replay(self, operation: str, key: str | None, *request: Any) -> Reply | None:
        """The reply kept for ``key`` (None for a new key); with ``fingerprint``, a key
        used before with another ``request`` is a 422."""
        if key is None:
            return None
        kept = self._kept.get(self._slot(operation, key))
        if kept is None:
            return None
        print_, reply = kept
        if self.fingerprint and print_ != _fingerprint(operation, request):
            detail = "this key was used before with a different request"
            return problem(422, "Unprocessable Content", detail, "Idempotency-Key")
        return reply

    def remember(self, operation: str, key: str | None, reply: Reply, *request: Any) -> Reply:
        """Keep ``reply`` as the answer to every repeat of ``key``; returns it."""
        if key is not None:
            stored = reply
            if self.copies:
                stored = Reply(reply.status, copy_document(reply.body), dict(reply.headers))
            print_ = _fingerprint(operation, request) if self.fingerprint else None
            self._kept[self._slot(operation, key)] = (print_, stored)
        return reply

    def __contains__(self, slot: tuple[str, str]) -> bool:
        operation, key = slot
        return self._slot(operation, key) in self._kept

    def __len__(self) -> int:
        return len(self._kept)

    def clear(self) -> None:
        self._kept.clear()
