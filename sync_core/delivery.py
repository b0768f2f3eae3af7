"""Delivery policies, sans-IO: classify answers, back off, keep lanes, plan the next step.

Theory of operation
-------------------
The engine decides *what* to send (the outbox); this module decides *when*, and
when to stop.  A driver (SimPy now, asyncio later) owns the clock, the transport
and the random source; everything here takes them as inputs (``now`` in seconds
on the driver's clock, a draw in [0, 1) or an object with ``random()``).

* :func:`classify` turns a :class:`~sync_core.messages.Response` into an
  :class:`Outcome`: success, retriable, or permanent (the cXML User's Guide's transport rule: a 4xx
  is the request's fault and will fail again; a 5xx or no answer may pass).
* :class:`RetryPolicy` spaces retries: capped exponential backoff with full jitter,
  never sooner than the target's ``Retry-After``, and gives up after
  ``max_attempts`` or past ``deadline_s``.
* :class:`Lanes` are the bulkheads: how many calls of each priority may be in
  flight, and which queued call may start next.
* :class:`DeliveryPlanner` combines them with a
  :class:`~sync_core.breaker.CircuitBreaker` per target and answers, for one outbox
  item, the next :data:`Action`: a :class:`~sync_core.drivers.commands.Call` or a
  :class:`~sync_core.drivers.commands.Sleep` (the runner's own commands, handed on as
  they are), :class:`GiveUp` (dead-letter) or :class:`Done`.

A driver's loop, in outline::

    lanes.offer(item, item.request.critical)
    while (item := lanes.next_ready()) is not None:
        action = planner.plan(item, now)                  # Call, Sleep or GiveUp
        if Call: response = transport.call(item.request)
                 action = planner.plan(item, now, response)  # Done, Sleep or GiveUp
        lanes.release(item)             # a sleeping item does not hold a slot
        Sleep: re-offer at action.until; Done: store.done; GiveUp: dead-letter.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from sync_core.breaker import BreakerConfig, BreakerState, CircuitBreaker
from sync_core.drivers.commands import Call, Sleep
from sync_core.errors import SyncCoreError
from sync_core.messages import Response
from sync_core.store import OutboxItem

__all__ = [
    "Action",
    "DeliveryError",
    "DeliveryPlanner",
    "Done",
    "GiveUp",
    "Lane",
    "Lanes",
    "Outcome",
    "RandomSource",
    "RetryPolicy",
    "Verdict",
    "classify",
    "default_planner",
    "parse_retry_after",
]


class DeliveryError(SyncCoreError):
    """A driver used a delivery policy out of order (a bug, not a delivery failure)."""

    retriable = False


# -- classification ------------------------------------------------------------


class Verdict(StrEnum):
    SUCCESS = "success"
    RETRIABLE = "retriable"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class Outcome:
    """What an answer means for delivery.  ``reason`` is for people (and dead letters)."""

    verdict: Verdict
    status: int
    reason: str
    retry_after_s: float | None = None

    @property
    def retriable(self) -> bool:
        return self.verdict is Verdict.RETRIABLE


# 4xx that describe the moment, not the request: trying again later can succeed.
RETRIABLE_4XX = frozenset({408, 425, 429})


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` value, or None.

    Only the delay-seconds form is understood (``"120"``; a decimal like ``"1.5"``
    is accepted too).  The HTTP-date form, a negative or an unreadable value give
    None, as if the header were absent: turning a date into a delay would need a
    wall clock, and none of our targets sends one.
    """
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _header(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _detail(body: Any) -> str | None:
    """The reason an RFC 9457 problem body gives: detail (or title), then the field."""
    if isinstance(body, dict):
        text = body.get("detail") or body.get("title")
        where = body.get("field")
        if text and where:
            return f"{text} (field {where})"
        if text or where:
            return str(text or f"field {where}")
        return None
    if isinstance(body, str) and body.strip():
        text = body.strip()
        return text if len(text) <= 200 else text[:197] + "..."
    return None


def classify(response: Response) -> Outcome:
    """Success (2xx), retriable, or permanent.

    Retriable: status 0 (no answer: refused, reset, timed out), 408, 425, 429, any
    5xx, and anything that is not an HTTP status at all (a non-protocol error).
    Permanent: every other 4xx, and 1xx/3xx (we follow no redirects, so the same
    request would get the same answer).  A retriable outcome carries the
    ``Retry-After`` delay when the target sent one (see :func:`parse_retry_after`).
    """
    status = response.status
    if 200 <= status < 300:
        return Outcome(Verdict.SUCCESS, status, f"answered {status}")
    if status == 0:
        reason = "no answer"
    else:
        reason = f"answered {status}"
        detail = _detail(response.body)
        if detail:
            reason += f": {detail}"
    if status in RETRIABLE_4XX or not 100 <= status < 500:
        retry_after = parse_retry_after(_header(response.headers, "retry-after"))
        return Outcome(Verdict.RETRIABLE, status, reason, retry_after)
    return Outcome(Verdict.PERMANENT, status, reason)


# -- backoff -------------------------------------------------------------------


class RandomSource(Protocol):
    """Where jitter comes from: ``random.Random`` fits; a test can pass its own."""

    def random(self) -> float: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter, honouring ``Retry-After``.

    After attempt ``n`` (1 for the first call) fails, the next waits
    ``draw * min(cap_s, first_s * 2 ** (n - 1))`` seconds ("full jitter", as in the
    AWS architecture blog), but never less than ``Retry-After``.  ``max_attempts``
    counts every call, the first included.  ``deadline_s`` (from the first attempt)
    bounds when the last attempt may *start*: a jittered delay that would overshoot
    it is shortened to land on it, and a ``Retry-After`` that overshoots it ends
    the retries.  The defaults match the cXML User's Guide: about ten tries.
    """

    first_s: float = 1.0
    cap_s: float = 300.0
    max_attempts: int = 10
    deadline_s: float | None = None

    def __post_init__(self) -> None:
        if not self.first_s > 0:
            raise ValueError(f"first_s must be > 0, not {self.first_s}")
        if not self.cap_s >= self.first_s:
            raise ValueError(f"cap_s ({self.cap_s}) must be >= first_s ({self.first_s})")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, not {self.max_attempts}")
        if self.deadline_s is not None and not self.deadline_s >= 0:
            raise ValueError(f"deadline_s must be >= 0, not {self.deadline_s}")

    def bound(self, attempt: int) -> float:
        """The most full jitter may wait after attempt ``attempt`` (1-based) failed."""
        if attempt < 1:
            raise ValueError(f"attempts count from 1, not {attempt}")
        # 2.0 ** 1024 overflows; by then the cap has long won.
        return min(self.cap_s, self.first_s * 2.0 ** min(attempt - 1, 1000))

    def exhausted(self, attempt: int) -> bool:
        """True once attempt ``attempt`` was the last one ``max_attempts`` allows."""
        return attempt >= self.max_attempts

    def next_delay(
        self,
        attempt: int,
        rng_draw: float,
        retry_after_s: float | None = None,
        elapsed_s: float = 0.0,
    ) -> float | None:
        """Seconds to wait after attempt ``attempt`` failed, or None: give up.

        ``rng_draw`` is a uniform draw in [0, 1); ``elapsed_s`` the time since the
        first attempt started (only the deadline needs it).
        """
        if not 0.0 <= rng_draw < 1.0:
            raise ValueError(f"rng_draw must be in [0, 1), not {rng_draw}")
        if retry_after_s is not None and not retry_after_s >= 0:
            raise ValueError(f"retry_after_s must be >= 0, not {retry_after_s}")
        bound = self.bound(attempt)
        if self.exhausted(attempt):
            return None
        delay = rng_draw * bound
        if retry_after_s is not None:
            delay = max(delay, retry_after_s)
        if self.deadline_s is not None:
            left = self.deadline_s - elapsed_s
            if left <= 0 or (retry_after_s is not None and retry_after_s > left):
                return None
            delay = min(delay, left)
        return delay


# -- lanes (bulkheads) -----------------------------------------------------------


class Lane(StrEnum):
    CRITICAL = "critical"
    ROUTINE = "routine"


T = TypeVar("T")
# the members, read once: on Python 3.11 each ``Lane.CRITICAL`` is a ~0.2 us class look-up
_CRITICAL, _ROUTINE = Lane.CRITICAL, Lane.ROUTINE


class Lanes(Generic[T]):
    """Two queues and two pools of slots, so critical supply never waits behind routine.

    Each lane has its own FIFO queue and ``capacity`` slots.  :meth:`next_ready`
    looks at the critical queue first.  Critical work takes a critical slot, or,
    when those are all busy, an *idle routine slot*: an urgent order should not
    wait while routine capacity sits unused.  Routine work never takes a critical
    slot, so a burst of routine traffic cannot use up the capacity critical supply
    relies on (the bulkhead).  The price of borrowing: routine work may wait for a
    slot that critical work holds.  Items are tracked by identity, so the same
    object is offered, started and released.
    """

    def __init__(self, capacity: dict[str, int]) -> None:
        unknown = set(capacity) - set(Lane)
        if unknown:
            raise ValueError(f"unknown lanes {sorted(unknown)}; lanes are {[str(x) for x in Lane]}")
        self.capacity = {lane: capacity.get(lane, 0) for lane in Lane}
        if any(n < 0 for n in self.capacity.values()) or not any(self.capacity.values()):
            raise ValueError(f"capacities must be >= 0 with at least one slot: {capacity}")
        self._queues: dict[Lane, deque[T]] = {lane: deque() for lane in Lane}
        self._in_use = dict.fromkeys(Lane, 0)
        self._running: dict[int, tuple[T, Lane]] = {}  # id(item) → (item, pool it uses)
        self.borrowed = 0  # how often critical work ran in a routine slot

    def offer(self, item: T, critical: bool) -> None:
        """Queue ``item`` at the back of its lane."""
        self._queues[_CRITICAL if critical else _ROUTINE].append(item)

    def next_ready(self) -> T | None:
        """The item that may start now (its slot is taken), or None."""
        queues, in_use, capacity = self._queues, self._in_use, self.capacity
        if queues[_CRITICAL]:
            for pool in (_CRITICAL, _ROUTINE):
                if in_use[pool] < capacity[pool]:
                    if pool is _ROUTINE:
                        self.borrowed += 1
                    return self._start(queues[_CRITICAL].popleft(), pool)
        if queues[_ROUTINE] and in_use[_ROUTINE] < capacity[_ROUTINE]:
            return self._start(queues[_ROUTINE].popleft(), _ROUTINE)
        return None

    def release(self, item: T) -> None:
        """``item`` finished (or went back to wait): its slot is free."""
        try:
            _, pool = self._running.pop(id(item))
        except KeyError:
            raise DeliveryError(f"released an item that was not started: {item!r}") from None
        self._in_use[pool] -= 1

    def depth(self, lane: str) -> int:
        """How many items wait in ``lane``."""
        return len(self._queues[Lane(lane)])

    def in_use(self, pool: str) -> int:
        """How many slots of ``pool`` are taken (critical work may hold routine slots)."""
        return self._in_use[Lane(pool)]

    def _start(self, item: T, pool: Lane) -> T:
        self._in_use[pool] += 1
        self._running[id(item)] = (item, pool)
        return item


# -- the planner ----------------------------------------------------------------


@dataclass(frozen=True)
class GiveUp:
    """Dead-letter the item with ``reason``; it is finished."""

    item: OutboxItem
    reason: str


@dataclass(frozen=True)
class Done:
    """Delivered; ``response`` carries a read's reply."""

    item: OutboxItem
    response: Response


Action = Call | Sleep | GiveUp | Done


@dataclass
class _Attempts:
    first_at: float
    attempts: int = 0
    in_flight: bool = False
    last_reason: str = ""


@dataclass
class DeliveryPlanner:
    """The next step for each outbox item: classify, back off, and ask the breaker.

    ``plan(item, now)`` asks to send; ``plan(item, now, response)`` reports the
    answer to the ``Call`` it was given.  A call the breaker refuses is not
    an attempt: the item waits until the breaker lets probes through (or, if the
    deadline would pass first, is given up).  The deadline counts from the first
    ``plan`` of the item.  Jitter is drawn from ``rng`` once per retriable failure.
    Every action but a ``Sleep`` ends the item, and the planner forgets it.
    """

    policy: RetryPolicy
    rng: RandomSource
    breaker_config: BreakerConfig = field(default_factory=BreakerConfig)
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)
    _items: dict[int, _Attempts] = field(default_factory=dict, repr=False)

    def drop(self, outbox_id: int) -> None:
        """Forget one item the driver will not send (superseded); it holds no probe, as it
        is dropped before it is planned."""
        self._items.pop(outbox_id, None)

    def forget(self) -> None:
        """Lose every attempt count and breaker, as a restarted process does."""
        self._items.clear()
        self.breakers.clear()

    def breaker(self, target: str) -> CircuitBreaker:
        if target not in self.breakers:
            self.breakers[target] = CircuitBreaker(target, self.breaker_config)
        return self.breakers[target]

    def plan(self, item: OutboxItem, now: float, response: Response | None = None) -> Action:
        if response is None:
            state = self._items.get(item.outbox_id)
            if state is None:
                state = self._items[item.outbox_id] = _Attempts(first_at=now)
            return self._try_send(item, state, now)
        sent = self._items.get(item.outbox_id)
        if sent is None or not sent.in_flight:
            raise DeliveryError(f"outbox {item.outbox_id}: an answer without a send")
        return self._answered(item, sent, now, response)

    def pending(self) -> int:
        """How many items the planner is tracking (sent, or waiting to be)."""
        return len(self._items)

    def _try_send(self, item: OutboxItem, state: _Attempts, now: float) -> Action:
        if state.in_flight:
            raise DeliveryError(f"outbox {item.outbox_id}: asked to send with an answer pending")
        breaker = self.breaker(item.request.target)
        if breaker.allow(now):
            state.attempts += 1
            state.in_flight = True
            return Call(item, state.attempts)
        # Open: try again when it cools down.  Half-open with every probe out: the
        # probe's answer will decide soon; look again after one first backoff step.
        if breaker.state is BreakerState.OPEN:
            at = breaker.reopens_at()
        else:
            at = now + self.policy.first_s
        reason = f"circuit {breaker.state} for {item.request.target}"
        deadline = self.policy.deadline_s
        if deadline is not None and at - state.first_at > deadline:
            last = f"; last answer: {state.last_reason}" if state.last_reason else ""
            return self._give_up(item, state, reason + last)
        return Sleep(item, at, reason)

    def _answered(
        self, item: OutboxItem, state: _Attempts, now: float, response: Response
    ) -> Action:
        state.in_flight = False
        breaker = self.breaker(item.request.target)
        if 200 <= response.status < 300:  # what classify calls a success, without its words:
            breaker.record_success(now)  # the planner forgets the item with its reasons
            del self._items[item.outbox_id]
            return Done(item, response)
        outcome = classify(response)
        request = item.request
        state.last_reason = f"{request.target} {request.operation} {outcome.reason}"
        if outcome.verdict is Verdict.PERMANENT:
            breaker.record_permanent(now)
            del self._items[item.outbox_id]
            return GiveUp(item, state.last_reason)
        breaker.record_failure(now)
        if self.policy.exhausted(state.attempts):  # no retry: spend no draw on it
            return self._give_up(item, state, state.last_reason)
        delay = self.policy.next_delay(
            state.attempts, self.rng.random(), outcome.retry_after_s, now - state.first_at
        )
        if delay is None:
            return self._give_up(item, state, state.last_reason)
        return Sleep(item, now + delay, state.last_reason)

    def _give_up(self, item: OutboxItem, state: _Attempts, reason: str) -> GiveUp:
        del self._items[item.outbox_id]
        return GiveUp(item, f"exhausted after {state.attempts} attempts: {reason}")


def default_planner(seed: int | None = None) -> DeliveryPlanner:
    """Retries for a live service: 0.2 s first step, 30 s cap, up to a day."""
    policy = RetryPolicy(first_s=0.2, cap_s=30.0, max_attempts=10_000, deadline_s=86400.0)
    return DeliveryPlanner(policy, random.Random(seed))
