"""The SimPy driver: a retried write never lands after a newer one; crashes lose nothing."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Generator
from typing import Any

import simpy

from sync_core.delivery import DeliveryPlanner, RetryPolicy
from sync_core.drivers.simpy import SimDriver
from sync_core.engine import Engine, EngineConfig
from sync_core.messages import Inbound, Kind, Request, Response
from sync_core.store import MemoryStore

EPOCH = dt.datetime(2024, 1, 15)


class ErpDownOnce:
    """Answers the first ERP write 503 (a blip), everything after it 200, after ``latency``."""

    def __init__(self, env: simpy.Environment, latency: float = 0.1) -> None:
        self.env, self.latency = env, latency
        self.calls: list[tuple[float, Request, int]] = []

    def call(self, request: Request) -> Generator[simpy.Event, Any, Response]:
        yield self.env.timeout(self.latency)
        status = 503 if not self.calls else 200
        self.calls.append((self.env.now, request, status))
        return Response(status, {})


def invoice(status: str, stamp: str, mid: str) -> Inbound:
    body = {"vendor_num": "S1", "invoice_num": "INV1", "po_number": "4500000001",
            "status": status, "last_update_date": stamp, "holds": []}  # fmt: skip
    return Inbound(mid, Kind.AP_INVOICE, body)


def driver(env: simpy.Environment, transport: Any) -> SimDriver:
    policy = RetryPolicy(first_s=30.0, cap_s=30.0, max_attempts=5)
    planner = DeliveryPlanner(policy, random.Random(1))
    engine = Engine(EngineConfig("HOSPNET01", {}))
    return SimDriver(env, engine, MemoryStore(), transport, EPOCH, planner)


def test_a_retried_older_status_is_dropped_once_a_newer_one_is_decided() -> None:
    env = simpy.Environment()
    erp = ErpDownOnce(env)
    core = driver(env, erp)
    core.submit(invoice("on_hold", "2024-01-20T10:00:00.000", "r1"))  # its write hits the blip
    env.run(until=1)
    core.submit(invoice("approved", "2024-01-20T10:05:00.000", "r2"))  # before the retry
    env.run(until=600)

    sent = [(req.body["MatchStatus"], status) for _, req, status in erp.calls]
    assert sent == [("ON_HOLD", 503), ("MATCHED", 200)]  # ON_HOLD never lands after MATCHED
    assert core.superseded == 1 and core.store.pending() == []


def test_without_a_newer_status_the_retry_goes_through() -> None:
    env = simpy.Environment()
    erp = ErpDownOnce(env)
    core = driver(env, erp)
    core.submit(invoice("on_hold", "2024-01-20T10:00:00.000", "r1"))
    env.run(until=600)

    assert [(r.body["MatchStatus"], s) for _, r, s in erp.calls] == [
        ("ON_HOLD", 503),
        ("ON_HOLD", 200),
    ]
    assert core.superseded == 0


def test_a_crash_mid_delivery_resends_the_pending_row_after_restart() -> None:
    env = simpy.Environment()
    erp = ErpDownOnce(env, latency=5.0)
    erp.calls.append((0.0, Request("erp", "warm-up"), 200))  # no blip this time
    core = driver(env, erp)
    core.submit(invoice("approved", "2024-01-20T10:05:00.000", "r1"))
    env.run(until=2)  # the call is on the wire
    core.crash()
    assert not core.submit(invoice("paid", "2024-01-21T10:00:00.000", "r2"))  # refused
    env.run(until=60)
    core.restart()
    env.run(until=120)

    writes = [r for _, r, _ in erp.calls if r.operation == "post_invoice_status"]
    # applied by the ERP before the crash, sent again after it under the same key
    assert [w.idempotency_key for w in writes] == [writes[0].idempotency_key] * 2
    assert core.store.pending() == [] and core.crashes == 1
