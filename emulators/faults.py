"""Faults as data, and the gate that applies them to an emulator's API.

Theory of operation: a :class:`Faults` value describes what goes wrong with one
system, in the same structure scenario files use: outage windows (answer 503,
or refuse the connection), extra latency, a random error rate, 429 storms, a
steady rate limit (a token bucket, as API gateways enforce) and webhook
misbehaviour (drop, duplicate, delay, reorder).  A
:class:`FaultGate` reads the clock it is given and one seeded random stream,
and for each incoming request says whether the request gets through
(``check`` returns ``None``) or which reply replaces it.  Simulation and live
mode call the same gate: only how time passes differs.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from emulators._base import Reply, problem
from emulators.admission import TokenBucket

__all__ = [
    "ErrorRate",
    "FaultGate",
    "Faults",
    "Latency",
    "Outage",
    "RateLimit",
    "RateLimitStorm",
    "Refused",
    "WebhookFaults",
]

Rate = float


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Window(_Data):
    start_s: float = Field(ge=0, description="seconds since the start of the run")
    end_s: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> _Window:
        if self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s}) must be after start_s ({self.start_s})")
        return self

    def covers(self, t: float) -> bool:
        return self.start_s <= t < self.end_s


class Outage(_Window):
    mode: Literal["unavailable", "refuse"] = Field(
        "unavailable", description="answer 503, or refuse the connection"
    )


class RateLimitStorm(_Window):
    retry_after_s: int = Field(10, ge=1, le=3600)


class RateLimit(_Data):
    """A token bucket: ``rps`` requests a second on average, bursts of ``burst``."""

    rps: float = Field(gt=0, description="requests per second the system admits")
    burst: int = Field(10, ge=1, description="requests admitted at once after a quiet spell")
    retry_after_s: int = Field(1, ge=1, le=3600)


class Latency(_Data):
    median_ms: float = Field(0, ge=0)
    sigma: float = Field(0.5, ge=0, le=3)


class ErrorRate(_Data):
    rate: Rate = Field(ge=0, le=1)
    status: int = Field(500, ge=500, le=599)


class WebhookFaults(_Data):
    drop: Rate = Field(0, ge=0, le=1, description="share of events never delivered")
    duplicate: Rate = Field(0, ge=0, le=1, description="share of events delivered twice")
    delay: Latency = Latency()
    reorder: Rate = Field(0, ge=0, le=1, description="share held back behind the next event")


class Faults(_Data):
    outages: tuple[Outage, ...] = ()
    latency: Latency = Latency()
    error_rate: ErrorRate | None = None
    rate_limit_storms: tuple[RateLimitStorm, ...] = ()
    rate_limit: RateLimit | None = None
    webhooks: WebhookFaults = WebhookFaults()

    @property
    def last_fault_end_s(self) -> float:
        ends = [w.end_s for w in (*self.outages, *self.rate_limit_storms)]
        return max(ends, default=0.0)


class Refused(Exception):
    """The connection is refused: there is no reply at all."""


class FaultGate:
    def __init__(self, system: str, clock: Callable[[], float], rng: random.Random) -> None:
        self.system = system
        self._clock = clock
        self._rng = rng
        self.faults = Faults()
        self._bucket: TokenBucket | None = None

    def set(self, faults: Faults) -> None:
        self.faults = faults
        self._bucket = None  # a new bucket starts full

    def clear(self) -> None:
        self.faults = Faults()

    def check(self) -> Reply | None:
        """``None`` to let a request through, or the reply that replaces it.

        Raises :class:`Refused` inside a ``refuse`` outage.
        """
        now = self._clock()
        for outage in self.faults.outages:
            if outage.covers(now):
                if outage.mode == "refuse":
                    raise Refused(f"{self.system} refuses connections")
                reply = problem(503, "Service Unavailable", f"{self.system} is down", None)
                reply.headers["retry-after"] = str(max(1, math.ceil(outage.end_s - now)))
                return reply
        for storm in self.faults.rate_limit_storms:
            if storm.covers(now):
                reply = problem(429, "Too Many Requests", f"{self.system} rate limit", None)
                reply.headers["retry-after"] = str(storm.retry_after_s)
                return reply
        limit = self.faults.rate_limit
        if limit is not None:
            if self._bucket is None:
                self._bucket = TokenBucket(limit.rps, limit.burst)
            if self._bucket.take(now) > 0.0:  # a gateway's 429: the configured retry-after
                reply = problem(429, "Too Many Requests", f"{self.system} rate limit", None)
                reply.headers["retry-after"] = str(limit.retry_after_s)
                return reply
        error = self.faults.error_rate
        if error is not None and error.rate > 0 and self._rng.random() < error.rate:
            return problem(error.status, "Server Error", f"{self.system} failed (injected)", None)
        return None

    def extra_latency_s(self) -> float:
        lat = self.faults.latency
        if lat.median_ms <= 0:
            return 0.0
        return lat.median_ms / 1000 * math.exp(self._rng.gauss(0.0, lat.sigma))
