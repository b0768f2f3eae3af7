"""The cases every bus must pass; subclasses say how to make one and how time passes."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import pytest

from sync_core.bus import Bus, BusConfig, BusError, BusMessage, Span, Subscription

Case = Callable[[], Awaitable[None]]
EMPTY = 0.2  # seconds a fetch waits when the case expects nothing


def seen(messages: list[BusMessage]) -> list[tuple[str, bytes]]:
    return [(m.key, m.payload) for m in messages]


class BusContract(ABC):
    ACK_WAIT: ClassVar[float] = 1.0

    @abstractmethod
    async def make_bus(self, config: BusConfig) -> Bus:
        """A new, empty bus."""

    @abstractmethod
    async def reopen(self, bus: Bus, **fields: Any) -> Bus:
        """The same bus as another process sees it, with ``fields`` of its config changed
        (the same object, in process, where ``fields`` are not used)."""

    @abstractmethod
    async def pass_time(self, seconds: float) -> None:
        """Let ``seconds`` go by on the bus's clock."""

    async def discard(self, bus: Bus) -> None:
        await bus.close()

    def run(self, case: Case) -> None:
        async def main() -> None:
            self._opened: list[Bus] = []
            try:
                await case()
            finally:
                for bus in reversed(self._opened):
                    await self.discard(bus)

        asyncio.run(main())

    async def bus(self, **fields: Any) -> Bus:
        config = BusConfig(**{"partitions": 4, "ack_wait": self.ACK_WAIT, "max_deliver": 3,
                              **fields})  # fmt: skip
        bus = await self.make_bus(config)
        self._opened.append(bus)
        return bus

    async def other(self, bus: Bus, **fields: Any) -> Bus:
        again = await self.reopen(bus, **fields)
        if again is not bus:
            self._opened.append(again)
        return again

    async def publish(self, bus: Bus, *messages: tuple[str, bytes]) -> None:
        for key, payload in messages:
            await bus.publish(key, payload, dedup_id=f"{key}:{payload.decode()}")

    async def a_then_b(self) -> tuple[Bus, Subscription]:
        """A bus with ``a`` then ``b`` published for po1, and a consumer of po1's partition."""
        bus = await self.bus()
        await self.publish(bus, ("po1", b"a"), ("po1", b"b"))
        return bus, await bus.consume(bus.partition_of("po1"))

    async def drain(self, sub: Subscription, bus: Bus) -> list[BusMessage]:
        """Fetch and ack until nothing is left."""
        got: list[BusMessage] = []
        while batch := await sub.fetch(8, timeout=EMPTY):
            for message in batch:
                await bus.ack(message)
            got += batch
        return got

    # -- publish and consume ----------------------------------------------------------------

    def test_a_partition_delivers_its_messages_in_publish_order(self) -> None:
        async def case() -> None:
            bus = await self.bus(in_flight=8)
            keys = ["4500000001", "4500000002", "4500000003", "4500000004"]
            sent = [(k, f"v{i}".encode()) for i in range(5) for k in keys]
            await self.publish(bus, *sent)
            for p in range(4):
                got = await self.drain(await bus.consume(p), bus)
                assert seen(got) == [m for m in sent if bus.partition_of(m[0]) == p]
                assert [m.seq for m in got] == sorted(m.seq for m in got)
                assert all(m.partition == p and m.deliveries == 1 for m in got)
            assert {bus.partition_of(k) for k in keys} != {0}  # spread, not one partition

        self.run(case)

    def test_with_one_in_flight_the_next_message_waits_for_the_ack(self) -> None:
        async def case() -> None:
            bus, sub = await self.a_then_b()
            [first] = await sub.fetch(5)
            assert await sub.fetch(5, timeout=EMPTY) == []
            await bus.ack(first)
            following = await anext(sub.messages())  # the same, one message at a time
            assert (following.key, following.payload) == ("po1", b"b")

        self.run(case)

    def test_a_duplicate_dedup_id_is_acknowledged_as_such_and_delivered_once(self) -> None:
        async def case() -> None:
            bus = await self.bus()
            first = await bus.publish("po1", b"created", "ev-1")
            again = await bus.publish("po1", b"created", "ev-1")
            other = await bus.publish("po1", b"changed", "ev-2")
            assert (first.duplicate, again.duplicate, other.duplicate) == (False, True, False)
            assert again.seq == first.seq and other.seq > first.seq
            sub = await bus.consume(first.partition)
            got = await self.drain(sub, bus)
            assert [(m.payload, m.dedup_id) for m in got] == [(b"created", "ev-1"),
                                                              (b"changed", "ev-2")]  # fmt: skip

        self.run(case)

    # -- redelivery -------------------------------------------------------------------------

    def test_an_unacked_message_comes_back_after_the_ack_wait(self) -> None:
        async def case() -> None:
            bus, sub = await self.a_then_b()
            [first] = await sub.fetch()
            await self.pass_time(self.ACK_WAIT * 1.2)
            [again] = await sub.fetch(timeout=2 * self.ACK_WAIT)
            assert (again.seq, again.payload, again.deliveries) == (first.seq, b"a", 2)
            await bus.ack(again)
            [second] = await sub.fetch()
            assert (second.payload, second.deliveries) == (b"b", 1)

        self.run(case)

    def test_a_nak_redelivers_at_once_before_any_later_message(self) -> None:
        async def case() -> None:
            bus, sub = await self.a_then_b()
            [first] = await sub.fetch()
            await bus.nak(first)
            [again] = await sub.fetch()
            assert (again.payload, again.deliveries) == (b"a", 2)

        self.run(case)

    def test_a_consumer_that_closes_without_acking_hands_the_message_to_another(self) -> None:
        async def case() -> None:
            bus = await self.bus()
            await self.publish(bus, ("po1", b"a"))
            partition = bus.partition_of("po1")
            crashed = await bus.consume(partition)
            [taken] = await crashed.fetch()
            await crashed.close()
            with pytest.raises(BusError, match="closed"):
                await crashed.fetch()

            other = await self.other(bus)
            successor = await other.consume(partition)
            await self.pass_time(self.ACK_WAIT * 1.2)
            [again] = await successor.fetch(timeout=2 * self.ACK_WAIT)
            assert (again.seq, again.payload, again.deliveries) == (taken.seq, b"a", 2)
            await other.ack(again)
            assert await successor.fetch(timeout=EMPTY) == []

        self.run(case)

    def test_after_max_deliver_deliveries_a_message_is_dead_lettered(self) -> None:
        async def case() -> None:
            bus = await self.bus(max_deliver=2)
            await self.publish(bus, ("po1", b"poison"), ("po1", b"fine"))
            sub = await bus.consume(bus.partition_of("po1"))
            for delivery in (1, 2):
                [poison] = await sub.fetch()
                assert (poison.payload, poison.deliveries) == (b"poison", delivery)
                await bus.nak(poison)
            [fine] = await sub.fetch()
            assert fine.payload == b"fine"

            [letter] = await bus.dead_letters()
            assert letter.deliveries == 2
            dead = letter.message
            assert (dead.key, dead.payload, dead.dedup_id) == ("po1", b"poison", "po1:poison")
            assert (dead.seq, dead.partition) == (poison.seq, poison.partition)
            assert dead.published_at == poison.published_at

        self.run(case)

    def test_no_dead_letters_without_failures(self) -> None:
        async def case() -> None:
            bus = await self.bus()
            await self.publish(bus, ("po1", b"a"))
            await self.drain(await bus.consume(bus.partition_of("po1")), bus)
            assert await bus.dead_letters() == []

        self.run(case)

    # -- replay -----------------------------------------------------------------------------

    def test_replay_reads_a_range_again_without_moving_any_consumer(self) -> None:
        async def case() -> None:
            bus = await self.bus()
            sent = [(f"po{i % 3}", f"v{i}".encode()) for i in range(6)]
            await self.publish(bus, *sent[:3])
            await self.pass_time(0.01)
            await self.publish(bus, *sent[3:])
            sub = await bus.consume(bus.partition_of("po0"))
            [first] = await sub.fetch()
            await bus.ack(first)

            everything = [m async for m in bus.replay()]
            assert seen(everything) == sent
            assert [m.seq for m in everything] == sorted(m.seq for m in everything)
            start = everything[1].seq
            ranged = [m async for m in bus.replay(Span(start_seq=start, end_seq=start + 2))]
            assert seen(ranged) == sent[1:4]
            since = [m async for m in bus.replay(Span(start_time=everything[3].published_at))]
            assert seen(since) == sent[3:]
            until = [m async for m in bus.replay(Span(end_time=everything[3].published_at))]
            assert seen(until) == sent[:3]
            p = bus.partition_of("po1")
            only = [m async for m in bus.replay(partition=p)]
            assert seen(only) == [m for m in sent if bus.partition_of(m[0]) == p]

            # the durable consumer is where it was: the next po0 message, once
            rest = await self.drain(sub, bus)
            assert seen(rest) == [m for m in sent[1:] if bus.partition_of(m[0]) == sub.partition]

        self.run(case)

    def test_replay_of_an_empty_range_is_empty(self) -> None:
        async def case() -> None:
            bus = await self.bus()
            assert [m async for m in bus.replay()] == []
            await self.publish(bus, ("po1", b"a"))
            assert [m async for m in bus.replay(Span(start_seq=10_000))] == []

        self.run(case)

    # -- partitions and bad input -----------------------------------------------------------

    def test_a_key_always_lands_in_the_same_partition(self) -> None:
        async def case() -> None:
            bus = await self.bus()
            ack = await bus.publish("4500000001", b"x", "d1")
            assert ack.partition == bus.partition_of("4500000001") == 1  # crc32 % 4, fixed
            assert (await bus.publish("4500000001", b"y", "d2")).partition == 1

        self.run(case)

    def test_bad_input_is_refused_naming_what_is_wrong(self) -> None:
        async def case() -> None:
            bus = await self.bus(max_payload=1024)
            with pytest.raises(BusError, match="the key must be a non-empty string"):
                await bus.publish("", b"x", "d1")
            with pytest.raises(BusError, match="the dedup id must be a non-empty string"):
                await bus.publish("po1", b"x", "")
            with pytest.raises(BusError, match="1025 bytes, over the bus's max_payload of 1024"):
                await bus.publish("po1", b"x" * 1025, "d1")
            with pytest.raises(BusError, match="the payload must be bytes, not str"):
                await bus.publish("po1", "x", "d1")  # type: ignore[arg-type]
            with pytest.raises(BusError, match="control character"):
                await bus.publish("po\n1", b"x", "d1")
            with pytest.raises(BusError, match=r"no partition 4; the bus has 0\.\.3"):
                await bus.consume(4)
            assert (await bus.publish("po1", b"x" * 1024, "d1")).seq == 1  # at the limit
            got = await self.drain(await bus.consume(bus.partition_of("po1")), bus)
            assert [m.payload for m in got] == [b"x" * 1024]

        self.run(case)
