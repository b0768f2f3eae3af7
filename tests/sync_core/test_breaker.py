"""The circuit breaker in virtual time: its table, its probes, a plain model it must match.

No clock is read: time is a number the tests choose.
"""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sync_core.breaker import (
    _TRANSITIONS,
    BreakerConfig,
    BreakerEvent,
    BreakerState,
    CircuitBreaker,
    IllegalTransition,
    next_state,
)
from sync_core.errors import SyncCoreError


def tripped(config: BreakerConfig, at: float = 100.0) -> CircuitBreaker:
    breaker = CircuitBreaker("erp", config)
    for _ in range(config.failure_threshold):
        assert breaker.allow(at)
        breaker.record_failure(at)
    assert breaker.state is BreakerState.OPEN
    return breaker


def test_opens_after_threshold_consecutive_failures() -> None:
    breaker = CircuitBreaker("erp", BreakerConfig(failure_threshold=3))
    breaker.record_failure(1)
    breaker.record_failure(2)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.consecutive_failures == 2
    breaker.record_failure(3)
    assert breaker.stats().state is BreakerState.OPEN
    assert breaker.stats().trips == 1
    assert breaker.stats().changed_at == 3


def test_a_success_ends_the_run_of_failures() -> None:
    breaker = CircuitBreaker("erp", BreakerConfig(failure_threshold=3))
    for t in range(10):
        breaker.record_failure(t)
        breaker.record_failure(t)
        breaker.record_success(t)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.stats().failures == 20


def test_rejects_while_open_then_lets_probes_through_after_open_s() -> None:
    breaker = tripped(BreakerConfig(failure_threshold=2, open_s=30, half_open_probes=2), at=100)
    assert not breaker.allow(100)
    assert not breaker.allow(129.9)
    assert breaker.reopens_at() == 130
    assert breaker.allow(130)
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow(130)  # the second probe
    assert not breaker.allow(131)  # both probes out: the rest wait
    assert breaker.stats().rejected == 3


@pytest.mark.parametrize("answer", ["record_success", "record_permanent"])
def test_a_probe_answered_closes_it_be_it_a_success_or_a_permanent_error(answer: str) -> None:
    """A permanent error (a 4xx) is the target answering: it is up."""
    breaker = tripped(BreakerConfig(failure_threshold=2, open_s=30), at=0)
    assert breaker.allow(30)
    getattr(breaker, answer)(31)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.consecutive_failures == 0
    assert all(breaker.allow(32) for _ in range(10))


def test_a_probe_failure_reopens_it_for_another_open_s() -> None:
    breaker = tripped(BreakerConfig(failure_threshold=2, open_s=30), at=0)
    assert breaker.allow(30)
    breaker.record_failure(35)
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow(64.9)
    assert breaker.allow(65)
    stats = breaker.stats()
    assert (stats.trips, stats.reopens, stats.state) == (1, 1, BreakerState.HALF_OPEN)


def test_late_results_while_open_change_nothing() -> None:
    breaker = tripped(BreakerConfig(failure_threshold=1, open_s=30), at=0)
    breaker.record_success(5)  # a call allowed before the trip answers late
    breaker.record_failure(6)
    assert breaker.state is BreakerState.OPEN
    assert breaker.reopens_at() == 30


def test_permanent_answers_do_not_trip_it() -> None:
    breaker = CircuitBreaker("supplier", BreakerConfig(failure_threshold=2))
    for t in range(50):
        breaker.record_permanent(t)
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure(50)
    breaker.record_permanent(51)  # the target answered: the run of failures ends
    breaker.record_failure(52)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.stats().permanent == 51


ILLEGAL = [
    (state, event)
    for state in BreakerState
    for event in BreakerEvent
    if (state, event) not in _TRANSITIONS
]


def test_the_table_has_illegal_pairs() -> None:
    assert (BreakerState.CLOSED, BreakerEvent.COOLED) in ILLEGAL
    assert (BreakerState.OPEN, BreakerEvent.TRIP) in ILLEGAL
    assert (BreakerState.HALF_OPEN, BreakerEvent.COOLED) in ILLEGAL


@pytest.mark.parametrize(("state", "event"), ILLEGAL)
def test_an_illegal_transition_raises(state: BreakerState, event: BreakerEvent) -> None:
    with pytest.raises(IllegalTransition, match=f"no transition for {event} in state {state}"):
        next_state(state, event)
    assert issubclass(IllegalTransition, SyncCoreError)
    assert not IllegalTransition.retriable


class BreakerModel:
    """The breaker as a few plain if statements, to check the table against."""

    def __init__(self, threshold: int, open_s: float, probes: int) -> None:
        self.threshold, self.open_s, self.probes = threshold, open_s, probes
        self.state = "closed"
        self.run = 0
        self.opened_at = 0.0
        self.probes_out = 0

    def allow(self, now: float) -> bool:
        # the deadline as the breaker states it (opened at + open_s): ``now - opened_at``
        # rounds differently in floating point (14.9 + 5.0 vs 19.9 - 14.9), and the two
        # then disagreed exactly at the deadline
        if self.state == "open" and now >= self.opened_at + self.open_s:
            self.state, self.probes_out = "half_open", 0
        if self.state == "closed":
            return True
        if self.state == "half_open" and self.probes_out < self.probes:
            self.probes_out += 1
            return True
        return False

    def alive(self) -> None:
        if self.state in ("closed", "half_open"):
            self.state, self.run = "closed", 0

    def failure(self, now: float) -> None:
        if self.state == "closed":
            self.run += 1
            if self.run >= self.threshold:
                self.state, self.opened_at = "open", now
        elif self.state == "half_open":
            self.state, self.opened_at = "open", now


class BreakerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.breaker: CircuitBreaker | None = None
        self.model: BreakerModel | None = None

    @rule(
        threshold=st.integers(1, 4),
        open_s=st.sampled_from([0.0, 5.0, 30.0]),
        probes=st.integers(1, 3),
    )
    def configure(self, threshold: int, open_s: float, probes: int) -> None:
        if self.breaker is None:
            self.breaker = CircuitBreaker("erp", BreakerConfig(threshold, open_s, probes))
            self.model = BreakerModel(threshold, open_s, probes)

    @rule(dt=st.sampled_from([0.0, 0.5, 4.9, 5.0, 10.0, 30.0]))
    def advance(self, dt: float) -> None:
        self.now += dt

    @rule()
    def allow(self) -> None:
        if self.breaker and self.model:
            assert self.breaker.allow(self.now) == self.model.allow(self.now)

    @rule()
    def success(self) -> None:
        if self.breaker and self.model:
            self.breaker.record_success(self.now)
            self.model.alive()

    @rule()
    def permanent(self) -> None:
        if self.breaker and self.model:
            self.breaker.record_permanent(self.now)
            self.model.alive()

    @rule()
    def failure(self) -> None:
        if self.breaker and self.model:
            self.breaker.record_failure(self.now)
            self.model.failure(self.now)

    @invariant()
    def same_state(self) -> None:
        if self.breaker and self.model:
            assert self.breaker.state == self.model.state
            if self.model.state == "closed":
                assert self.breaker.consecutive_failures == self.model.run


BreakerMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=30)
TestBreakerAgainstModel = BreakerMachine.TestCase


def test_the_breaker_and_its_model_agree_exactly_at_the_deadline() -> None:
    """The run Hypothesis found: a trip at 14.9 s with open_s 5 is due again at 19.9 s."""
    machine = BreakerMachine()
    machine.advance(dt=5.0)
    machine.configure(open_s=5.0, probes=1, threshold=1)
    machine.advance(dt=4.9)
    machine.advance(dt=5.0)
    machine.failure()
    machine.advance(dt=5.0)
    machine.allow()
    machine.same_state()
