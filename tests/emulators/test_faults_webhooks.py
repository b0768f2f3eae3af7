"""Faults as data and at-least-once webhooks: the gate and the dispatcher on their own,
then faults really happening inside a simulated run."""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from emulators.faults import (
    ErrorRate,
    FaultGate,
    Faults,
    Latency,
    Outage,
    RateLimitStorm,
    Refused,
    WebhookFaults,
)
from emulators.webhooks import WebhookDispatcher


class Timers:
    def __init__(self) -> None:
        self.t = 0.0
        self.queue: list[tuple[float, int, Callable[[], None]]] = []
        self._n = itertools.count()

    def schedule(self, delay: float, action: Callable[[], None]) -> None:
        heapq.heappush(self.queue, (self.t + delay, next(self._n), action))

    def run(self) -> None:
        while self.queue:
            self.t, _, action = heapq.heappop(self.queue)
            action()


def gate(faults: Faults, t: float = 0.0, seed: int = 1) -> FaultGate:
    g = FaultGate("erp", lambda: t, random.Random(seed))
    g.set(faults)
    return g


def test_outage_window_answers_503_inside_only() -> None:
    faults = Faults(outages=(Outage(start_s=100, end_s=400),))
    assert gate(faults, t=99.9).check() is None
    reply = gate(faults, t=100).check()
    assert reply is not None and reply.status == 503 and reply.headers["retry-after"] == "300"
    assert gate(faults, t=400).check() is None


def test_refuse_mode_raises_refused() -> None:
    with pytest.raises(Refused):
        gate(Faults(outages=(Outage(start_s=0, end_s=10, mode="refuse"),)), t=5).check()


def test_storm_answers_429_with_its_retry_after() -> None:
    reply = gate(Faults(rate_limit_storms=(RateLimitStorm(start_s=0, end_s=60, retry_after_s=12),)),
                 t=30).check()  # fmt: skip
    assert reply is not None and reply.status == 429 and reply.headers["retry-after"] == "12"


def test_error_rate_hits_about_that_share_and_is_seeded() -> None:
    g1 = gate(Faults(error_rate=ErrorRate(rate=0.2, status=502)), seed=9)
    g2 = gate(Faults(error_rate=ErrorRate(rate=0.2, status=502)), seed=9)
    a = [g1.check() for _ in range(2000)]
    b = [g2.check() for _ in range(2000)]
    share = sum(r is not None for r in a) / len(a)
    assert 0.17 < share < 0.23
    assert {r.status for r in a if r is not None} == {502}
    assert [r is None for r in a] == [r is None for r in b]


def test_latency_draws_around_the_median() -> None:
    g = gate(Faults(latency=Latency(median_ms=200, sigma=0.5)))
    draws = sorted(g.extra_latency_s() for _ in range(2001))
    assert 0.17 < draws[1000] < 0.23
    assert gate(Faults()).extra_latency_s() == 0.0


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"outages": [{"start_s": 50, "end_s": 10}]}, "outages.0"),
        ({"error_rate": {"rate": 1.5}}, "error_rate.rate"),
        ({"webhooks": {"drop": -0.1}}, "webhooks.drop"),
        ({"outage": []}, "outage"),
    ],
)
def test_bad_fault_data_is_refused_naming_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as e:
        Faults.model_validate(data)
    assert ".".join(str(p) for p in e.value.errors()[0]["loc"]).startswith(field)


def dispatcher(
    outcomes: list[bool] | None = None, faults: WebhookFaults | None = None, seed: int = 3
) -> tuple[WebhookDispatcher, Timers, list[tuple[float, str]]]:
    timers = Timers()
    received: list[tuple[float, str]] = []
    script = iter(outcomes or [])

    def deliver(event: dict[str, Any], done: Callable[[bool], None]) -> None:
        ok = next(script, True)
        if ok:
            received.append((timers.t, event["eventId"]))
        done(ok)

    d = WebhookDispatcher(deliver, timers.schedule, random.Random(seed), max_attempts=4)
    if faults is not None:
        d.faults = faults
    return d, timers, received


def test_failed_delivery_is_retried_with_growing_backoff_until_it_lands() -> None:
    d, timers, received = dispatcher(outcomes=[False, False, True])
    d.publish({"eventId": "e1"})
    timers.run()
    assert received == [(3.0, "e1")]  # backoff 1 s, then 2 s
    assert (d.stats.attempts, d.stats.retried, d.stats.delivered) == (3, 2, 1)


def test_delivery_gives_up_after_max_attempts_and_says_which_event() -> None:
    d, timers, received = dispatcher(outcomes=[False] * 10)
    d.publish({"eventId": "e1"})
    timers.run()
    assert received == [] and d.stats.failed == 1 and d.stats.failures == ["e1"]
    assert d.stats.attempts == 4


def test_drop_and_duplicate_faults() -> None:
    d, timers, received = dispatcher(faults=WebhookFaults(drop=1.0))
    d.publish({"eventId": "e1"})
    timers.run()
    assert received == [] and d.stats.dropped == 1
    d, timers, received = dispatcher(faults=WebhookFaults(duplicate=1.0))
    d.publish({"eventId": "e1"})
    timers.run()
    assert [e for _, e in received] == ["e1", "e1"] and d.stats.duplicated == 1


def test_reorder_holds_an_event_behind_the_next_one() -> None:
    d, timers, received = dispatcher()
    d.faults = WebhookFaults(reorder=1.0)
    d.publish({"eventId": "e1"})
    d.faults = WebhookFaults()
    d.publish({"eventId": "e2"})
    timers.run()
    assert [e for _, e in received] == ["e2", "e1"]


def numbered(
    got: list[tuple[str, int]],
) -> Callable[[dict[str, Any], Callable[[bool], None]], None]:
    """A subscriber that records each event's id and number and answers success."""

    def deliver(event: dict[str, Any], done: Callable[[bool], None]) -> None:
        got.append((event["eventId"], event["sequence"]))
        done(True)

    return deliver


def test_events_are_numbered_before_faults_so_a_drop_leaves_a_gap() -> None:
    timers = Timers()
    got: list[tuple[str, int]] = []
    d = WebhookDispatcher(numbered(got), timers.schedule, random.Random(1))
    d.faults = WebhookFaults(drop=0.5)
    published = [{"eventId": f"e{i}"} for i in range(1, 21)]
    for event in published:
        d.publish(event)
    timers.run()
    assert 0 < len(got) < 20 and d.stats.dropped == 20 - len(got)
    assert got == [(f"e{n}", n) for _, n in got]  # each keeps the number it was given
    assert all("sequence" not in e for e in published)  # the emulator's own copy untouched


def test_delay_fault_makes_delivery_late() -> None:
    d, timers, received = dispatcher(faults=WebhookFaults(delay=Latency(median_ms=5000)))
    d.publish({"eventId": "e1"})
    timers.run()
    assert received and received[0][0] > 1.0


def test_faults_really_happen_in_a_simulated_run(
    scenario_file: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ERP outage is answered 503 to every call in the window and the core's retries
    carry the updates over it; dropped supplier pushes leave gaps in the feed's
    numbering, which make the core pull the mailbox it otherwise never reads (a
    push dropped after the feed's last event stays lost: nothing follows to show
    the gap).  Faults are not decoration."""
    from functools import partial

    from analysis.metrics import judge
    from scenarios.sim.network import simulate
    from scenarios.spec.load import load_scenario
    from sync_core.engine import EngineConfig

    clean = simulate(load_scenario(str(scenario_file())), "event")
    assert clean.volumes["dead_letters"] == 0 and judge(clean.history.changes).converged

    outage = {"erp": {"outages": [{"start_s": 8 * 3600, "end_s": 12 * 3600}]}}
    down = simulate(load_scenario(str(scenario_file("outage.yaml", faults=outage))), "event")
    in_window = [
        c for c in down.history.changes if c.system == "erp" and 8 * 3600 <= c.t < 12 * 3600
    ]
    core_writes = [c for c in in_window if not c.field.startswith(("ordered", "line_status"))]
    assert core_writes == []  # the ERP applied nothing the core sent while it was down
    verdict = judge(down.history.changes)
    assert verdict.converged and not verdict.duplicates
    ack_lags = [x.lag_s for x in verdict.lags if x.replica == "erp.confirmed_qty"]
    assert max(ack_lags) > 3600  # updates waited for the ERP to come back

    def pulled_mailbox(run: Any) -> int:
        return sum(m.operation == "mailbox" and m.direction == "sent" for m in run.history.messages)

    drops = {"supplier": {"webhooks": {"drop": 0.3}}}
    spec = load_scenario(str(scenario_file("drops.yaml", faults=drops)))
    lossy = simulate(spec, "event")
    assert pulled_mailbox(clean) == 0 and pulled_mailbox(lossy) > 0
    lost = judge(lossy.history.changes).lost
    last_push = max(c.t for c in lossy.history.changes if c.system == "supplier")
    assert all(v.t > last_push - 3600 for v in lost)  # only the tail's drops are lost
    with monkeypatch.context() as m:
        # the engine configured without gap detection (no numbered feeds): every drop is lost
        m.setattr("scenarios.sim.network.EngineConfig", partial(EngineConfig, feeds={}))
        blind = judge(simulate(spec, "event").history.changes).lost
    assert {x.replica for x in blind} >= {"erp.confirmed_qty", "wms.expected_qty"}
    assert len(blind) > 3 * len(lost)
    # the same scenario and seed fail in exactly the same way
    again = simulate(spec, "event")
    assert again.history.changes == lossy.history.changes


def test_reset_forgets_what_was_queued_and_starts_numbering_again() -> None:
    """After a reset nothing held, delayed or waiting for a retry is ever delivered, and
    an outcome that comes back for a copy sent before it is neither counted nor retried."""
    timers = Timers()
    got: list[tuple[str, int]] = []
    outcomes: list[Callable[[bool], None]] = []

    def deliver(event: dict[str, Any], done: Callable[[bool], None]) -> None:
        if event["eventId"] == "on-the-wire":
            outcomes.append(done)  # answered later
            return
        ok = not event["eventId"].startswith("fail")
        if ok:
            got.append((event["eventId"], event["sequence"]))
        done(ok)

    d = WebhookDispatcher(deliver, timers.schedule, random.Random(5), max_attempts=4)
    d.publish({"eventId": "fail-1"})  # waits for a retry
    d.publish({"eventId": "on-the-wire"})
    d.faults = WebhookFaults(delay=Latency(median_ms=5000))
    d.publish({"eventId": "delayed"})
    d.faults = WebhookFaults(reorder=1.0)
    d.publish({"eventId": "held"})
    assert d.stats.pending == 3 and d.stats.retried == 1

    d.reset()
    outcomes[0](False)  # the copy on the wire fails after the reset: no retry, no count
    timers.run()

    assert got == [] and vars(d.stats) == vars(type(d.stats)())
    assert d.faults == WebhookFaults()
    # from here on it behaves as a new dispatcher: numbering from 1, the same draws
    fresh_got: list[tuple[str, int]] = []
    fresh = WebhookDispatcher(numbered(fresh_got), timers.schedule, random.Random(5))
    for dispatcher_ in (d, fresh):
        dispatcher_.faults = WebhookFaults(drop=0.5)
        for i in range(1, 21):
            dispatcher_.publish({"eventId": f"e{i}"})
    timers.run()
    assert got == fresh_got and 0 < len(got) < 20
    assert got == [(f"e{n}", n) for _, n in got]  # event i is number i again
    assert vars(d.stats) == vars(fresh.stats)
