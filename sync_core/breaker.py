"""A circuit breaker per target system: one table-driven state machine, sans-IO.

Theory of operation
-------------------
A breaker guards one target system (``erp``, ``wms``, ``supplier`` ...).  It has
three states:

* ``closed``: every call may go.  Each *retriable* failure (no answer, 408, 429,
  5xx: see :func:`sync_core.delivery.classify`) adds one to a run of consecutive
  failures; any answer that proves the target alive (2xx, and permanent 4xx, which
  are the request's fault, not the target's) ends the run.  When the run reaches
  ``failure_threshold`` the breaker trips.  We count *consecutive* failures rather
  than a failure rate over a window: it needs no window bookkeeping, behaves the
  same at low and high traffic, and a target that answers anything at all between
  failures is, for our purposes, up.
* ``open``: :meth:`CircuitBreaker.allow` answers False until ``open_s`` seconds
  have passed since the trip; the caller keeps its work queued (it is not an
  attempt, so it does not use up a retry).
* ``half_open``: the first :meth:`~CircuitBreaker.allow` after ``open_s`` moves the
  breaker here and lets at most ``half_open_probes`` calls through.  The first
  result decides: a live answer closes the breaker, a retriable failure re-opens it
  for another ``open_s``.

A result that arrives while open belongs to a call allowed before the trip; it is
counted in the statistics but changes nothing.  In half-open any result decides,
a probe's or a late one's (the breaker does not tell calls apart).  A driver must
report the result of every call it was allowed to make (a transport timeout is a
status-0 response), or a half-open breaker whose probes never report stays
half-open.

The states and the events that move between them are one table, ``_TRANSITIONS``;
the guards (is the run long enough to trip? has ``open_s`` passed?) live in
:class:`CircuitBreaker`, which turns calls and results into events.  A (state,
event) pair missing from the table raises :class:`IllegalTransition`.  Time is an
input (``now``, seconds on the driver's clock); nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sync_core.errors import SyncCoreError

__all__ = [
    "BreakerConfig",
    "BreakerEvent",
    "BreakerState",
    "BreakerStats",
    "CircuitBreaker",
    "IllegalTransition",
    "next_state",
]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerEvent(StrEnum):
    ALIVE = "alive"  # the target answered: 2xx, or a permanent 4xx
    FAILURE = "failure"  # a retriable failure that does not reach the threshold
    TRIP = "trip"  # a retriable failure that reaches the threshold
    COOLED = "cooled"  # open_s has passed and a call asks to go


_C, _O, _H = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN

_TRANSITIONS: dict[tuple[BreakerState, BreakerEvent], BreakerState] = {
    (_C, BreakerEvent.ALIVE): _C,  # ends the run of failures
    (_C, BreakerEvent.FAILURE): _C,  # lengthens it
    (_C, BreakerEvent.TRIP): _O,
    (_O, BreakerEvent.ALIVE): _O,  # a late result of a call allowed before the trip
    (_O, BreakerEvent.FAILURE): _O,  # likewise
    (_O, BreakerEvent.COOLED): _H,
    (_H, BreakerEvent.ALIVE): _C,  # a probe got through
    (_H, BreakerEvent.FAILURE): _O,  # a probe failed: open for another open_s
}


class IllegalTransition(SyncCoreError):
    """An event that the breaker's state does not accept: a bug in the caller."""

    retriable = False

    def __init__(self, state: BreakerState, event: BreakerEvent) -> None:
        self.state = state
        self.event = event
        super().__init__(f"circuit breaker: no transition for {event!s} in state {state!s}")


def next_state(state: BreakerState, event: BreakerEvent) -> BreakerState:
    """The state ``event`` leads to from ``state``; :class:`IllegalTransition` if none."""
    try:
        return _TRANSITIONS[state, event]
    except KeyError:
        raise IllegalTransition(state, event) from None


@dataclass(frozen=True)
class BreakerConfig:
    failure_threshold: int = 5
    open_s: float = 30.0
    half_open_probes: int = 1

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, not {self.failure_threshold}")
        if self.open_s < 0:
            raise ValueError(f"open_s must be >= 0, not {self.open_s}")
        if self.half_open_probes < 1:
            raise ValueError(f"half_open_probes must be >= 1, not {self.half_open_probes}")


@dataclass(frozen=True)
class BreakerStats:
    """A snapshot for metrics: the state and what the breaker has seen so far."""

    target: str
    state: BreakerState
    consecutive_failures: int
    successes: int  # 2xx results
    permanent: int  # permanent (4xx) results: the target answered
    failures: int  # retriable failures
    rejected: int  # calls refused while open or with every probe out
    trips: int  # closed → open
    reopens: int  # half-open → open
    changed_at: float | None  # when the state last changed


class CircuitBreaker:
    """The breaker of one target.  ``allow`` before a call, ``record_*`` after it."""

    def __init__(self, target: str, config: BreakerConfig | None = None) -> None:
        self.target = target
        self.config = config or BreakerConfig()
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        self.successes = 0
        self.permanent = 0
        self.failures = 0
        self.rejected = 0
        self.trips = 0
        self.reopens = 0
        self.changed_at: float | None = None
        self.opened_at: float | None = None
        self.probes_out = 0

    # -- calls ------------------------------------------------------------------

    def allow(self, now: float) -> bool:
        """May a call to the target start at ``now``?  (False is counted as rejected.)"""
        if self.state is BreakerState.OPEN and now >= self.reopens_at():
            self._fire(BreakerEvent.COOLED, now)
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.HALF_OPEN and self.probes_out < self.config.half_open_probes:
            self.probes_out += 1
            return True
        self.rejected += 1
        return False

    def reopens_at(self) -> float:
        """When an open breaker will let a probe through (``-inf`` unless open)."""
        if self.state is not BreakerState.OPEN or self.opened_at is None:
            return float("-inf")
        return self.opened_at + self.config.open_s

    # -- results ----------------------------------------------------------------

    def record_success(self, now: float) -> None:
        """A 2xx answer."""
        self.successes += 1
        self._fire(BreakerEvent.ALIVE, now)

    def record_permanent(self, now: float) -> None:
        """A permanent (4xx) answer: the request's fault, and proof the target is up."""
        self.permanent += 1
        self._fire(BreakerEvent.ALIVE, now)

    def record_failure(self, now: float) -> None:
        """A retriable failure: no answer, 408/425/429 or a 5xx."""
        self.failures += 1
        trips = (
            self.state is BreakerState.CLOSED
            and self.consecutive_failures + 1 >= self.config.failure_threshold
        )
        self._fire(BreakerEvent.TRIP if trips else BreakerEvent.FAILURE, now)

    def stats(self) -> BreakerStats:
        return BreakerStats(
            self.target,
            self.state,
            self.consecutive_failures,
            self.successes,
            self.permanent,
            self.failures,
            self.rejected,
            self.trips,
            self.reopens,
            self.changed_at,
        )

    # -- the one place the state changes -----------------------------------------

    def _fire(self, event: BreakerEvent, now: float) -> None:
        old = self.state
        new = next_state(old, event)
        if old is BreakerState.CLOSED:
            self.consecutive_failures = (
                0 if event is BreakerEvent.ALIVE else (self.consecutive_failures + 1)
            )
        if new is BreakerState.OPEN and old is not BreakerState.OPEN:
            self.opened_at = now
            if old is BreakerState.CLOSED:
                self.trips += 1
            else:
                self.reopens += 1
        if new is BreakerState.HALF_OPEN:
            self.probes_out = 0
        if new is BreakerState.CLOSED and old is not BreakerState.CLOSED:
            self.consecutive_failures = 0
            self.opened_at = None
        if new is not old:
            self.changed_at = now
        self.state = new
