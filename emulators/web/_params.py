"""What the API tables share: the plain header annotations, the common error responses
and the shape of a request's list of lines.

The ERP documents its headers in words (:mod:`emulators.web.erp_api`); the WMS, AP
and the supplier network only bound them, with these.  Every operation of every
system may answer 422 (a body or param at fault), 429 (a rate limit) and 503 (an
outage), all problem+json.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Header
from pydantic import Field

from emulators.limits import Bounded
from emulators.operations import PROBLEM

__all__ = ["COMMON", "IDEMPOTENCY_KEY", "TRACEPARENT", "Lines"]

_Line = TypeVar("_Line")

IDEMPOTENCY_KEY = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
TRACEPARENT = Annotated[str | None, Header(max_length=200)]
COMMON: dict[int | str, Any] = {422: PROBLEM, 429: PROBLEM, 503: PROBLEM}
# A request's lines: at least one, at most the app's ``Limits`` allow; validation stops at
# the first bad entry (a body of a thousand bad lines gets one error, not a thousand).
Lines = Annotated[list[_Line], Bounded("lines"), Field(min_length=1, fail_fast=True)]
