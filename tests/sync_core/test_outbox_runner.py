"""The outbox runner alone: events in, commands out, no driver, no clock.

Time is a number the tests choose; the driver's part (carrying out a command and
reporting back) is done by hand, so each case shows the protocol a driver follows.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest

from sync_core.delivery import DeliveryPlanner, RetryPolicy
from sync_core.drivers.commands import Call, ConsumeReply, DeadLetterRow, Delivered, Skip, Sleep
from sync_core.drivers.runner import OutboxRunner, decide
from sync_core.messages import (
    Decision,
    Entity,
    Inbound,
    Kind,
    PutEntity,
    Request,
    Response,
    StateView,
)
from sync_core.store import MemoryStore, OutboxItem, StoreError


def runner(lanes: dict[str, int] | None = None, attempts: int = 3) -> OutboxRunner:
    policy = RetryPolicy(first_s=1.0, cap_s=1.0, max_attempts=attempts)
    return OutboxRunner(DeliveryPlanner(policy, random.Random(1)), lanes)


def row(n: int, *, critical: bool = False, version: int | None = None) -> OutboxItem:
    versioned = ("invoice", "I1", version) if version is not None else None
    request = Request("erp", "post_invoice_status", idempotency_key=f"k{n}", critical=critical,
                      supersedable=versioned)  # fmt: skip
    return OutboxItem(n, request)


def test_a_row_waits_for_a_slot_and_gets_it_when_one_is_released() -> None:
    r = runner({"critical": 0, "routine": 1})
    first, second = row(1), row(2)
    assert r.start(first, 0.0) == [Call(first, 1)]
    assert r.start(second, 0.0) == []  # queued: no command until its turn
    assert r.answered(first, 1.0, Response(200)) == [Call(second, 1), Delivered(first)]


def test_critical_work_borrows_an_idle_routine_slot_routine_work_never_a_critical_one() -> None:
    r = runner({"critical": 1, "routine": 1})
    busy, urgent, waiting = row(1, critical=True), row(2, critical=True), row(3)
    later = row(4, critical=True)
    r.start(busy, 0.0)
    assert r.start(urgent, 0.0) == [Call(urgent, 1)]  # the idle routine slot
    assert r.start(waiting, 0.0) == [] and r.start(later, 0.0) == []
    # the critical slot goes to critical work; the borrowed routine one back to routine
    assert r.answered(busy, 1.0, Response(200)) == [Call(later, 1), Delivered(busy)]
    assert r.answered(urgent, 1.0, Response(200)) == [Call(waiting, 1), Delivered(urgent)]


def test_a_retriable_answer_sleeps_then_the_give_up_letter_names_the_row() -> None:
    r = runner(attempts=2)
    item = row(7)
    r.start(item, 0.0)
    (sleep,) = r.answered(item, 0.5, Response(503))
    assert isinstance(sleep, Sleep) and 0.5 <= sleep.until <= 1.5
    assert r.woke(item, sleep.until) == [Call(item, 2)]
    (letter,) = r.answered(item, 2.0, Response(503))
    assert isinstance(letter, DeadLetterRow)
    assert (letter.letter.message_id, letter.letter.at) == ("outbox:7", 2.0)
    assert letter.letter.request == item.request


def test_a_stored_newer_version_skips_the_write_even_after_a_sleep() -> None:
    r = runner()
    item = row(1, version=1)
    r.start(item, 0.0)
    (sleep,) = r.answered(item, 0.1, Response(503))
    assert isinstance(sleep, Sleep)
    newer = Entity("invoice", "I1", 2, {})
    r.committed([Decision("m2", ("m2",), (PutEntity(newer),))])
    assert r.woke(item, sleep.until) == [Skip(item)]
    assert r.stats.superseded == 1 and r.planner.pending() == 0


def test_a_read_answers_with_the_reply_the_engine_consumes() -> None:
    r = runner()
    read = OutboxItem(4, Request("wms", "get_receipt", {"receipt_id": "R9"},
                                 reply_kind=Kind.WMS_RECEIPT, correlation_id="c1"))  # fmt: skip
    r.start(read, 0.0)
    (reply,) = r.answered(read, 0.1, Response(200, {"receipt_id": "R9"}))
    assert reply == ConsumeReply(
        read, Inbound("reply:4", Kind.WMS_RECEIPT, {"receipt_id": "R9"}, "c1", {"receipt_id": "R9"})
    )


def test_a_crash_forgets_attempts_and_slots_but_not_the_stored_versions() -> None:
    r = runner({"critical": 0, "routine": 1})
    r.stored([Entity("invoice", "I1", 5, {})])
    r.start(row(1), 0.0)
    r.crash()
    assert r.start(row(2), 1.0) == [Call(row(2), 1)]  # the slot died with the process
    assert r.start(row(3, version=4), 1.0) == [Skip(row(3, version=4))]


class Broken:
    def handle(self, message: Inbound, now: dt.datetime, state: StateView) -> Decision:
        raise ValueError("no handler")


class StoreDown:
    def handle(self, message: Inbound, now: dt.datetime, state: StateView) -> Decision:
        raise StoreError("entity", "disk I/O error", retriable=True)


def test_decide_dead_letters_a_poison_message_but_lets_a_store_failure_through() -> None:
    message = Inbound("m1", Kind.ERP_PO_CHANGED, {"OrderNumber": "1"}, "c1")
    decision, error = decide(Broken(), message, dt.datetime(2024, 1, 1), MemoryStore(), 3.0)
    assert isinstance(error, ValueError) and decision.consumed == ("m1",)
    (letter,) = decision.dead_letters
    assert letter.reason == "engine could not handle erp.po_changed: ValueError: no handler"
    assert (letter.body, letter.correlation_id, letter.at) == ({"OrderNumber": "1"}, "c1", 3.0)
    with pytest.raises(StoreError):
        decide(StoreDown(), message, dt.datetime(2024, 1, 1), MemoryStore(), 3.0)
