"""What the API tables share: the plain header annotations and the common error responses.

The ERP documents its headers in words (:mod:`emulators.web.erp_api`); the WMS, AP
and the supplier network only bound them, with these.  Every operation of every
system may answer 422 (a body or param at fault), 429 (a rate limit) and 503 (an
outage), all problem+json.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header

from emulators.operations import PROBLEM

__all__ = ["COMMON", "IDEMPOTENCY_KEY", "TRACEPARENT"]

IDEMPOTENCY_KEY = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
TRACEPARENT = Annotated[str | None, Header(max_length=200)]
COMMON: dict[int | str, Any] = {422: PROBLEM, 429: PROBLEM, 503: PROBLEM}
