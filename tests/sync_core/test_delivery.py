"""Delivery policies in virtual time: classification, backoff, lanes, the planner.

The breaker has its own tests (``test_breaker.py``); the planner here only opens it.

No clock is read and no SimPy runs: time is a number the tests choose, and jitter
comes from draws the tests choose (or a seeded ``random.Random``).
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_core.breaker import (
    BreakerConfig,
    BreakerState,
)
from sync_core.delivery import (
    DeliveryError,
    DeliveryPlanner,
    Done,
    GiveUp,
    Lanes,
    RetryPolicy,
    Verdict,
    classify,
    parse_retry_after,
)
from sync_core.drivers.commands import Call, Sleep
from sync_core.messages import Request, Response
from sync_core.store import OutboxItem


def problem(status: int, detail: str, field: str | None = None, **headers: str) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": "Error", "status": status}
    body["detail"] = detail
    if field is not None:
        body["field"] = field
    return Response(status, body, {"content-type": "application/problem+json", **headers})


class Draws:
    """A random source that hands out the draws a test chose, in order."""

    def __init__(self, *values: float) -> None:
        self.values = list(values)

    def random(self) -> float:
        return self.values.pop(0)


# -- classification ----------------------------------------------------------------


# The statuses of each verdict.  0: no answer (refused, reset, timed out); 700: not HTTP
# at all (a non-protocol error); 301: redirects are not followed (it would answer the same).
VERDICTS = {
    Verdict.SUCCESS: (200, 201, 202, 204),
    Verdict.RETRIABLE: (0, 408, 425, 429, 500, 501, 502, 503, 504, 599, 700),
    Verdict.PERMANENT: (400, 401, 403, 404, 409, 412, 422, 301),
}


@pytest.mark.parametrize(
    ("status", "verdict"),
    [(status, verdict) for verdict, statuses in VERDICTS.items() for status in statuses],
)
def test_classification_table(status: int, verdict: Verdict) -> None:
    outcome = classify(Response(status))
    assert outcome.verdict is verdict
    assert outcome.status == status
    assert outcome.retriable is (verdict is Verdict.RETRIABLE)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "30"}, 30.0),
        ({"Retry-After": "7"}, 7.0),  # header names are case-insensitive
        ({"RETRY-AFTER": " 0 "}, 0.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),  # HTTP-date: not supported
        ({"retry-after": "-5"}, None),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retriable_answers_carry_retry_after(headers: dict[str, str], expected: float) -> None:
    for status in (429, 503):
        assert classify(Response(status, None, headers)).retry_after_s == expected


def test_a_permanent_answer_ignores_retry_after() -> None:
    assert classify(Response(400, None, {"retry-after": "10"})).retry_after_s is None


def test_the_reason_of_a_problem_names_detail_and_field() -> None:
    outcome = classify(problem(422, "850: unknown unit of measure", "PO1[2]/PO103"))
    assert outcome.verdict is Verdict.PERMANENT
    assert outcome.reason == "answered 422: 850: unknown unit of measure (field PO1[2]/PO103)"
    assert classify(problem(503, "erp is down")).reason == "answered 503: erp is down"
    assert classify(Response(0)).reason == "no answer"
    assert classify(Response(404)).reason == "answered 404"


def test_parse_retry_after_directly() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("nan") is None
    assert parse_retry_after("inf") is None


# -- backoff -------------------------------------------------------------------------


def test_the_bound_doubles_then_stops_at_the_cap() -> None:
    policy = RetryPolicy(first_s=1, cap_s=300)
    assert [policy.bound(n) for n in range(1, 11)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert policy.bound(5000) == 300  # no overflow after very many attempts


def test_full_jitter_spreads_the_delay_over_zero_to_the_bound() -> None:
    policy = RetryPolicy(first_s=2, cap_s=60)
    assert policy.next_delay(3, 0.0) == 0.0
    assert policy.next_delay(3, 0.5) == 4.0  # half of 2 * 2**2
    assert policy.next_delay(3, 0.999) == pytest.approx(7.992)
    assert policy.next_delay(9, 0.5) == 30.0  # the cap (60) bounds it, not 2 * 2**8


def test_never_sooner_than_retry_after() -> None:
    policy = RetryPolicy(first_s=1, cap_s=60)
    assert policy.next_delay(1, 0.0, retry_after_s=42) == 42
    assert policy.next_delay(1, 0.9, retry_after_s=0.1) == pytest.approx(0.9)  # jitter longer
    assert policy.next_delay(1, 0.0, retry_after_s=120) == 120  # above the cap: still honoured


def test_stops_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.next_delay(1, 0.5) is not None
    assert policy.next_delay(2, 0.5) is not None
    assert policy.next_delay(3, 0.5) is None  # three calls made: give up


def test_stops_at_the_deadline() -> None:
    policy = RetryPolicy(first_s=10, cap_s=100, deadline_s=60)
    assert policy.next_delay(3, 0.9, elapsed_s=10) == 36  # well within it
    assert policy.next_delay(3, 0.9, elapsed_s=50) == 10  # shortened to land on it
    assert policy.next_delay(1, 0.5, elapsed_s=60) is None  # reached
    assert policy.next_delay(1, 0.5, retry_after_s=20, elapsed_s=50) is None  # target says later


def test_nonsense_inputs_are_refused() -> None:
    policy = RetryPolicy()
    with pytest.raises(ValueError, match="rng_draw"):
        policy.next_delay(1, 1.0)
    with pytest.raises(ValueError, match="retry_after_s"):
        policy.next_delay(1, 0.5, retry_after_s=-1)
    with pytest.raises(ValueError, match="attempts count from 1"):
        policy.next_delay(0, 0.5)
    with pytest.raises(ValueError, match="cap_s"):
        RetryPolicy(first_s=10, cap_s=5)
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


@settings(max_examples=200)
@given(
    first_s=st.floats(0.01, 100),
    cap_factor=st.floats(1, 1000),
    max_attempts=st.integers(1, 40),
    deadline_s=st.none() | st.floats(0, 10_000),
    draws=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=8),
    retry_afters=st.lists(st.none() | st.floats(0, 3600), min_size=1, max_size=8),
)
def test_delays_are_bounded_and_the_sequence_ends(
    first_s: float,
    cap_factor: float,
    max_attempts: int,
    deadline_s: float | None,
    draws: list[float],
    retry_afters: list[float | None],
) -> None:
    policy = RetryPolicy(first_s, first_s * cap_factor, max_attempts, deadline_s)
    elapsed = 0.0
    attempt = 1
    while True:
        retry_after = retry_afters[attempt % len(retry_afters)]  # the lists repeat
        delay = policy.next_delay(attempt, draws[attempt % len(draws)], retry_after, elapsed)
        if delay is None:
            break
        assert 0 <= delay <= max(policy.cap_s, retry_after or 0)
        if retry_after is not None:
            assert delay >= retry_after
        elapsed += delay
        attempt += 1
        assert attempt <= max_attempts
    if deadline_s is not None:
        assert elapsed <= deadline_s + 1e-9


# -- lanes -------------------------------------------------------------------------


def test_with_routine_saturated_a_critical_request_still_starts() -> None:
    lanes: Lanes[str] = Lanes({"critical": 1, "routine": 2})
    for n in range(5):
        lanes.offer(f"routine-{n}", critical=False)
    assert [lanes.next_ready(), lanes.next_ready(), lanes.next_ready()] == [
        "routine-0",
        "routine-1",
        None,
    ]
    lanes.offer("urgent", critical=True)
    assert lanes.next_ready() == "urgent"
    assert lanes.depth("routine") == 3
    assert lanes.depth("critical") == 0


def test_routine_cannot_take_critical_slots() -> None:
    lanes: Lanes[str] = Lanes({"critical": 3, "routine": 1})
    for n in range(3):
        lanes.offer(f"r{n}", critical=False)
    assert lanes.next_ready() == "r0"
    assert lanes.next_ready() is None  # three critical slots idle, and still no
    assert lanes.in_use("critical") == 0


def test_critical_borrows_idle_routine_slots_first_come_its_own() -> None:
    lanes: Lanes[str] = Lanes({"critical": 1, "routine": 1})
    lanes.offer("c0", critical=True)
    lanes.offer("c1", critical=True)
    lanes.offer("r0", critical=False)
    assert lanes.next_ready() == "c0"  # its own slot
    assert lanes.next_ready() == "c1"  # the idle routine slot
    assert (lanes.in_use("critical"), lanes.in_use("routine"), lanes.borrowed) == (1, 1, 1)
    assert lanes.next_ready() is None
    lanes.release("c0")  # a critical slot frees: routine still may not use it
    assert lanes.next_ready() is None
    lanes.release("c1")  # the borrowed routine slot comes back
    assert lanes.next_ready() == "r0"


def test_fifo_within_a_lane() -> None:
    lanes: Lanes[int] = Lanes({"critical": 1, "routine": 1})
    for n in range(5):
        lanes.offer(n, critical=False)
        lanes.offer(100 + n, critical=True)
    started = []
    while lanes.depth("critical") or lanes.depth("routine"):
        item = lanes.next_ready()
        assert item is not None
        started.append(item)
        lanes.release(item)
    assert [n for n in started if n < 100] == [0, 1, 2, 3, 4]
    assert [n for n in started if n >= 100] == [100, 101, 102, 103, 104]
    assert started[:5] == [100, 101, 102, 103, 104]  # critical first, never behind routine


def test_releasing_what_was_not_started_is_an_error() -> None:
    lanes: Lanes[str] = Lanes({"critical": 1, "routine": 1})
    lanes.offer("a", critical=False)
    with pytest.raises(DeliveryError, match="not started"):
        lanes.release("a")
    assert lanes.next_ready() == "a"
    lanes.release("a")
    with pytest.raises(DeliveryError):
        lanes.release("a")


def test_lane_capacities_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown lanes"):
        Lanes({"critical": 1, "urgent": 1})
    with pytest.raises(ValueError, match="at least one slot"):
        Lanes({"critical": 0, "routine": 0})


@given(
    capacity=st.tuples(st.integers(0, 3), st.integers(0, 3)).filter(any),
    ops=st.lists(st.sampled_from(["critical", "routine", "start", "release"]), max_size=60),
)
def test_lanes_never_exceed_capacity(capacity: tuple[int, int], ops: list[str]) -> None:
    lanes: Lanes[object] = Lanes({"critical": capacity[0], "routine": capacity[1]})
    running: list[tuple[object, bool]] = []
    for op in ops:
        if op in ("critical", "routine"):
            lanes.offer(object() if op == "routine" else ("c", object()), op == "critical")
        elif op == "start":
            item = lanes.next_ready()
            if item is not None:
                running.append((item, isinstance(item, tuple)))
            else:  # nothing may start: every slot the waiting work may use is taken
                routine_full = lanes.in_use("routine") == capacity[1]
                assert not lanes.depth("routine") or routine_full
                assert not lanes.depth("critical") or (
                    routine_full and lanes.in_use("critical") == capacity[0]
                )
        elif op == "release" and running:
            lanes.release(running.pop(0)[0])
        assert lanes.in_use("critical") <= capacity[0]
        assert lanes.in_use("routine") <= capacity[1]
        routine_running = sum(1 for _, critical in running if not critical)
        assert routine_running <= capacity[1]  # routine never ran in a critical slot


# -- the planner -------------------------------------------------------------------


def item(outbox_id: int = 1, target: str = "supplier", critical: bool = False) -> OutboxItem:
    return OutboxItem(
        outbox_id,
        Request(
            target, "post_edi", {"supplier": "S1"}, "ISA*...", f"850:{outbox_id}", None, critical
        ),
    )


def test_planner_success_is_done_and_forgotten() -> None:
    planner = DeliveryPlanner(RetryPolicy(), Draws())
    job = item()
    assert planner.plan(job, 0) == Call(job, 1)
    answer = Response(202, {"accepted": True})
    assert planner.plan(job, 0.2, answer) == Done(job, answer)
    assert planner.pending() == 0


def test_planner_dead_letters_a_4xx_at_once() -> None:
    planner = DeliveryPlanner(RetryPolicy(), Draws())
    job = item()
    planner.plan(job, 0)
    action = planner.plan(job, 1, problem(422, "850: bad unit", "PO103"))
    assert action == GiveUp(job, "supplier post_edi answered 422: 850: bad unit (field PO103)")
    assert planner.breaker("supplier").state is BreakerState.CLOSED


def test_planner_retries_with_backoff_then_gives_up() -> None:
    planner = DeliveryPlanner(
        RetryPolicy(first_s=1, cap_s=100, max_attempts=3),
        Draws(0.5, 0.5),
        BreakerConfig(failure_threshold=10),
    )
    job = item()
    assert planner.plan(job, 0) == Call(job, 1)
    wait = planner.plan(job, 1, problem(503, "supplier is down", **{"retry-after": "60"}))
    assert isinstance(wait, Sleep)
    assert wait.until == 61  # Retry-After beats the jitter (0.5 * 1)
    assert planner.plan(job, 61) == Call(job, 2)
    wait = planner.plan(job, 62, Response(0))
    assert isinstance(wait, Sleep)
    assert wait.until == 63  # 0.5 * 2
    assert planner.plan(job, 63) == Call(job, 3)
    action = planner.plan(job, 64, Response(502))
    assert action == GiveUp(job, "exhausted after 3 attempts: supplier post_edi answered 502")
    assert planner.pending() == 0


def test_planner_holds_items_while_the_breaker_is_open() -> None:
    planner = DeliveryPlanner(
        RetryPolicy(first_s=1), random.Random(7), BreakerConfig(failure_threshold=1, open_s=30)
    )
    first, second = item(1), item(2)
    planner.plan(first, 0)
    planner.plan(first, 1, Response(503))  # trips the breaker of "supplier"
    refused = planner.plan(second, 2)
    assert refused == Sleep(second, 31, "circuit open for supplier")
    assert planner.plan(item(3, target="erp"), 2) == Call(item(3, target="erp"), 1)  # per target
    assert planner.plan(second, 31) == Call(second, 1)  # refusals are not attempts
    assert planner.plan(first, 31) == Sleep(first, 32, "circuit half_open for supplier")
    assert isinstance(planner.plan(second, 31.5, Response(200)), Done)
    assert planner.plan(first, 32) == Call(first, 2)


def test_planner_gives_up_when_the_breaker_outlasts_the_deadline() -> None:
    planner = DeliveryPlanner(
        RetryPolicy(first_s=1, deadline_s=20),
        Draws(0.0),
        BreakerConfig(failure_threshold=1, open_s=60),
    )
    job = item()
    planner.plan(job, 0)
    assert isinstance(planner.plan(job, 1, Response(500)), Sleep)
    action = planner.plan(job, 1)
    assert isinstance(action, GiveUp)
    assert action.reason == (
        "exhausted after 1 attempts: circuit open for supplier; "
        "last answer: supplier post_edi answered 500"
    )


def test_planner_refuses_out_of_order_calls() -> None:
    planner = DeliveryPlanner(RetryPolicy(), Draws())
    job = item()
    with pytest.raises(DeliveryError, match="answer without a send"):
        planner.plan(job, 0, Response(200))
    planner.plan(job, 0)
    with pytest.raises(DeliveryError, match="answer pending"):
        planner.plan(job, 1)
