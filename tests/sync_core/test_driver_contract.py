"""The driver contract: the same cases against the SimPy and the asyncio driver.

Both drivers carry out one :class:`~sync_core.drivers.runner.OutboxRunner`; these cases
check that each carries it out alike, in its own time (virtual seconds, or real ones kept
short).  :class:`DriverContract` holds the cases; a subclass per driver implements the
``create_driver`` hook, which wraps the driver in a small synchronous :class:`Harness`.
The engine is a scripted stand-in (:class:`Script`), so a case names exactly the decisions
the driver gets, and the target a scripted one (:class:`Target`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import simpy

from sync_core.breaker import BreakerConfig, BreakerState
from sync_core.delivery import DeliveryPlanner, RetryPolicy
from sync_core.drivers.asyncio import LiveDriver
from sync_core.drivers.simpy import SimDriver
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
from sync_core.store import DeadLetterRecord, MemoryStore

EPOCH = dt.datetime(2024, 1, 15)
KNOWN = ("erp", "wms")


# -- the scripted parties ------------------------------------------------------------------


@dataclass
class Target:
    """Answers each call with the next scripted status (200 once the script runs out), and
    records when each call came and what its target's breaker said then."""

    planner: DeliveryPlanner
    script: list[int] = field(default_factory=list)
    body: Any = None
    calls: list[tuple[float, Request, BreakerState]] = field(default_factory=list)
    now: Callable[[], float] = lambda: 0.0

    def keys(self) -> list[str | None]:
        """The idempotency keys of the calls, in the order they came."""
        return [request.idempotency_key for _, request, _ in self.calls]

    def knows(self, request: Request) -> str | None:
        return None if request.target in KNOWN else f"no route to {request.target}"

    def answer(self, request: Request) -> Response:
        state = self.planner.breaker(request.target).state
        self.calls.append((self.now(), request, state))
        status = self.script.pop(0) if self.script else 200
        return Response(status, self.body if status < 400 else {"detail": "scripted"})


@dataclass
class Script:
    """The engine, scripted: message id → what the decision does; ``broken`` ids raise."""

    plans: dict[str, tuple[tuple[Request, ...], tuple[Entity, ...]]] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)
    seen: list[Inbound] = field(default_factory=list)

    def handle(self, message: Inbound, now: dt.datetime, state: StateView) -> Decision:
        if state.consumed(message.message_id):
            return Decision(message.message_id)
        if message.message_id.split("#")[0] in self.broken:
            raise KeyError("LineNumber")
        self.seen.append(message)
        requests, entities = self.plans.get(message.message_id, ((), ()))
        changes = tuple(PutEntity(e) for e in entities)
        return Decision(message.message_id, (message.message_id,), changes, requests)


def write(key: str, target: str = "wms", version: int | None = None) -> Request:
    versioned = ("receipt", "R1", version) if version is not None else None
    return Request(target, "upsert_expected_receipts", body={"k": key, "v": version},
                   idempotency_key=key, supersedable=versioned)  # fmt: skip


def event(message_id: str) -> Inbound:
    return Inbound(message_id, Kind.ERP_PO_CHANGED, {"OrderNumber": message_id})


class Store(MemoryStore):
    """The in-memory store, noting which replayed messages a driver took from its queue."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: list[str] = []

    def take_inbound(self, message_ids: Sequence[str]) -> None:
        self.taken.extend(message_ids)
        super().take_inbound(message_ids)


# -- the hook: one harness per driver -------------------------------------------------------


class Harness(ABC):
    """A driver behind one synchronous face: submit, let it settle, replay, look."""

    store: Store

    @abstractmethod
    def submit(self, message: Inbound) -> None: ...

    @abstractmethod
    def settle(self) -> None:
        """Run until every message is decided and every row finished."""

    def run(self, *message_ids: str) -> None:
        """Submit an event for each of ``message_ids``, in order, then settle."""
        for message_id in message_ids:
            self.submit(event(message_id))
        self.settle()

    @abstractmethod
    def replay(self, letter_id: int) -> DeadLetterRecord: ...

    @abstractmethod
    def now(self) -> float: ...

    @abstractmethod
    def close(self) -> None: ...


class SimHarness(Harness):
    def __init__(self, engine: Script, target: Target, planner: DeliveryPlanner) -> None:
        self.env = simpy.Environment()
        self.store = Store()
        self.target = target
        self.driver = SimDriver(self.env, engine, self.store, self, EPOCH, planner,
                                knows=target.knows)  # fmt: skip

    def call(self, request: Request) -> Generator[simpy.Event, Any, Response]:
        yield self.env.timeout(0.001)  # a millisecond on the wire
        return self.target.answer(request)

    def submit(self, message: Inbound) -> None:
        assert self.driver.submit(message)

    def settle(self) -> None:
        self.env.run(until=self.env.now + 3600)

    def replay(self, letter_id: int) -> DeadLetterRecord:
        return self.driver.replay(letter_id)

    def now(self) -> float:
        return float(self.env.now)

    def close(self) -> None:
        pass  # nothing outlives the environment


class _Connector:
    def __init__(self, target: Target) -> None:
        self.target = target

    def keys(self) -> list[str | None]:
        """The idempotency keys of the calls, in the order they came."""
        return [request.idempotency_key for _, request, _ in self.calls]

    def knows(self, request: Request) -> str | None:
        return self.target.knows(request)

    async def call(self, request: Request) -> Response:
        await asyncio.sleep(0.001)
        return self.target.answer(request)

    async def close(self) -> None:
        pass


class AsyncioHarness(Harness):
    def __init__(self, engine: Script, target: Target, planner: DeliveryPlanner) -> None:
        self.loop = asyncio.new_event_loop()
        self.store = Store()
        self.driver = LiveDriver(engine, lambda: self.store, _Connector(target), planner)
        self.loop.run_until_complete(self.driver.start())

    def submit(self, message: Inbound) -> None:
        self.loop.run_until_complete(self.driver.submit(message))

    def settle(self) -> None:
        async def quiet() -> None:
            for _ in range(500):  # bounded: 5 s
                await asyncio.sleep(0.01)
                if self.driver.idle:
                    return
            raise AssertionError(f"the driver did not settle: {self.driver.status()}")

        self.loop.run_until_complete(quiet())

    def replay(self, letter_id: int) -> DeadLetterRecord:
        return self.loop.run_until_complete(self.driver.replay(letter_id))

    def now(self) -> float:
        return self.driver.clock()

    def close(self) -> None:
        self.loop.run_until_complete(self.driver.stop())
        self.loop.close()


# -- the cases ------------------------------------------------------------------------------


class DriverContract(ABC):
    """What every driver does alike (module docstring)."""

    @abstractmethod
    def create_driver(self, engine: Script, target: Target, planner: DeliveryPlanner) -> Harness:
        """The driver under test over a fresh in-memory store."""

    @pytest.fixture
    def make(self) -> Generator[Callable[..., tuple[Harness, Target]], None, None]:
        made: list[Harness] = []

        def make(
            engine: Script,
            script: list[int] | None = None,
            *,
            attempts: int = 5,
            breaker: BreakerConfig | None = None,
            body: Any = None,
        ) -> tuple[Harness, Target]:
            policy = RetryPolicy(first_s=0.01, cap_s=0.02, max_attempts=attempts)
            planner = DeliveryPlanner(policy, random.Random(1), breaker or BreakerConfig())
            target = Target(planner, list(script or []), body)
            harness = self.create_driver(engine, target, planner)
            target.now = harness.now
            made.append(harness)
            return harness, target

        yield make
        for harness in made:
            harness.close()

    def test_a_superseded_write_is_skipped_unsent(self, make: Callable[..., Any]) -> None:
        newer = Entity("receipt", "R1", 2, {})
        engine = Script({"m1": ((write("old", version=1), write("new", version=2)), (newer,))})
        core, target = make(engine)
        core.run("m1")
        assert target.keys() == ["new"]
        assert core.store.pending() == [] and core.store.dead_letters() == []

    def test_a_poison_message_is_dead_lettered_and_the_run_goes_on(
        self, make: Callable[..., Any]
    ) -> None:
        engine = Script({"m2": ((write("k2"),), ())}, broken={"poison"})
        core, target = make(engine)
        core.run("poison", "m2")
        (letter,) = core.store.dead_letters()
        assert letter.message_id == "poison" and "KeyError" in letter.reason
        assert core.store.consumed("poison") and core.store.consumed("m2")
        assert target.keys() == ["k2"]

    def test_a_replayed_message_is_decided_again_and_taken_from_the_queue(
        self, make: Callable[..., Any]
    ) -> None:
        engine = Script({"poison#replay1": ((write("k1"),), ())}, broken={"poison"})
        core, target = make(engine)
        core.run("poison")
        engine.broken.clear()  # the fix is deployed
        (record,) = core.store.dead_letter_records()
        assert core.replay(record.id).replayed_as == "poison#replay1"
        core.settle()
        assert core.store.consumed("poison#replay1") and core.store.taken == ["poison#replay1"]
        assert target.keys() == ["k1"]

    def test_a_replayed_request_goes_out_again_with_its_key(self, make: Callable[..., Any]) -> None:
        core, target = make(Script({"m1": ((write("k1"),), ())}), [409])
        core.run("m1")
        (record,) = core.store.dead_letter_records()
        assert "answered 409: scripted" in record.letter.reason
        core.replay(record.id)
        core.settle()
        assert target.keys() == ["k1", "k1"]
        assert core.store.pending() == []
        assert [r.status.value for r in core.store.dead_letter_records()] == ["replayed"]

    def test_retries_then_a_give_up_letter(self, make: Callable[..., Any]) -> None:
        core, target = make(Script({"m1": ((write("k1"),), ())}), [503] * 9, attempts=3)
        core.run("m1")
        assert len(target.calls) == 3
        (letter,) = core.store.dead_letters()
        assert letter.message_id == "outbox:1" and letter.request == write("k1")
        assert letter.reason.startswith("exhausted after 3 attempts: wms upsert_")
        assert letter.reason.endswith("answered 503: scripted")
        assert core.store.pending() == []

    def test_the_breaker_opens_then_lets_one_probe_through(self, make: Callable[..., Any]) -> None:
        breaker = BreakerConfig(failure_threshold=2, open_s=0.2)
        engine = Script({"m1": ((write("k1"),), ())})
        core, target = make(engine, [503, 503, 503], attempts=10, breaker=breaker)
        core.run("m1")
        closed, half_open = BreakerState.CLOSED, BreakerState.HALF_OPEN
        assert [state for _, _, state in target.calls] == [closed, closed, half_open, half_open]
        times = [t for t, _, _ in target.calls]
        assert times[2] - times[1] >= 0.2 and times[3] - times[2] >= 0.2  # open in between
        assert core.store.pending() == [] and core.store.dead_letters() == []

    def test_a_reply_is_consumed_by_the_engine(self, make: Callable[..., Any]) -> None:
        read = Request("erp", "get_po", {"order_number": "7"}, reply_kind=Kind.ERP_PO_DOCUMENT)
        engine = Script({"m1": ((read,), ())})
        core, _ = make(engine, body={"OrderNumber": "7"})
        core.run("m1")
        reply = engine.seen[-1]
        assert (reply.message_id, reply.kind) == ("reply:1", Kind.ERP_PO_DOCUMENT)
        assert reply.body == {"OrderNumber": "7"} and reply.query == {"order_number": "7"}
        assert core.store.consumed("reply:1") and core.store.pending() == []

    def test_an_unknown_target_is_dead_lettered_unsent(self, make: Callable[..., Any]) -> None:
        core, target = make(Script({"m1": ((write("k1", target="crm"),), ())}))
        core.run("m1")
        assert target.calls == []
        assert [d.reason for d in core.store.dead_letters()] == ["no route to crm"]
        assert core.store.pending() == []


class TestSimPyDriver(DriverContract):
    def create_driver(self, engine: Script, target: Target, planner: DeliveryPlanner) -> Harness:
        return SimHarness(engine, target, planner)


class TestAsyncioDriver(DriverContract):
    def create_driver(self, engine: Script, target: Target, planner: DeliveryPlanner) -> Harness:
        return AsyncioHarness(engine, target, planner)
