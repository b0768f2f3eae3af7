"""The bus contract (``bus_contract.cases``) on NATS JetStream, streams of its own per test.

Each bus gets a fresh prefix (``t<hex>``: streams ``T<HEX>`` and ``T<HEX>_DLQ``),
deleted at the end of its test, so parallel runs never meet.  Skipped without
a server (``$SUPPLYSYNC_NATS_URL``, default ``nats://127.0.0.1:4222``); failed
instead when ``SUPPLYSYNC_REQUIRE_SERVICES=1`` (``conftest.py``).  Time passes
for real here: the ack wait is 1 s.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from sync_core.bus import Bus, BusConfig, BusError
from tests.ports import free_port
from tests.sync_core.bus_contract.cases import BusContract
from tests.sync_core.conftest import service_missing

if TYPE_CHECKING:
    from sync_core.bus.nats import NatsBus


def nats_bus() -> type[NatsBus]:
    """The NATS bus class; without nats-py, a skip (a failure in CI) saying so."""
    try:
        from sync_core.bus.nats import NatsBus
    except ImportError:
        service_missing("NATS tests need nats-py: pip install 'nats-py'")
    return NatsBus


class TestNatsBus(BusContract):
    url: str

    @pytest.fixture(autouse=True)
    def _server(self, nats_server: str) -> None:
        self.url = nats_server

    async def make_bus(self, config: BusConfig) -> Bus:
        return await nats_bus().connect(self.url, config, prefix=f"t{uuid.uuid4().hex[:16]}")

    async def reopen(self, bus: Bus, **fields: Any) -> Bus:
        assert isinstance(bus, nats_bus())
        config = dataclasses.replace(bus.config, **fields)
        return await nats_bus().connect(self.url, config, prefix=bus.prefix)

    async def pass_time(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def discard(self, bus: Bus) -> None:
        assert isinstance(bus, nats_bus())
        await bus.destroy()
        await bus.close()

    def test_reopening_with_another_partition_count_is_refused(self) -> None:
        async def case() -> None:
            bus = await self.bus(partitions=4)
            assert isinstance(bus, nats_bus())
            other = BusConfig(partitions=8, ack_wait=self.ACK_WAIT, max_deliver=3)
            with pytest.raises(BusError, match=f"stream {bus.stream} exists with another"):
                await nats_bus().connect(self.url, other, prefix=bus.prefix)

        self.run(case)

    def test_a_bus_reopened_with_other_delivery_settings_applies_them(self) -> None:
        async def case() -> None:
            bus = await self.bus()
            await self.publish(bus, ("po1", b"a"), ("po1", b"b"))
            partition = bus.partition_of("po1")
            assert len(await (await bus.consume(partition)).fetch(2)) == 1  # in_flight 1
            wider = await self.other(bus, in_flight=2, ack_wait=60.0)
            await self.pass_time(self.ACK_WAIT * 1.2)  # the first delivery's ack_wait ends
            got = await (await wider.consume(partition)).fetch(2)
            assert [(m.payload, m.deliveries) for m in got] == [(b"a", 2), (b"b", 1)]

        self.run(case)

    def test_a_lost_connection_is_a_retriable_bus_error_naming_the_step(self) -> None:
        async def case() -> None:
            bus = await self.bus()
            assert isinstance(bus, nats_bus())
            await self.publish(bus, ("po1", b"a"))
            partition = bus.partition_of("po1")
            lost = await nats_bus().connect(self.url, bus.config, prefix=bus.prefix)
            [message] = await (await lost.consume(partition)).fetch()
            await lost.close()
            for step, call in [
                ("publish 'po1'", lambda: lost.publish("po1", b"b", "po1:b")),
                (f"consume: partition {partition}", lambda: lost.consume(partition)),
                (f"ack {message.seq}", lambda: lost.ack(message)),
                (f"nak {message.seq}", lambda: lost.nak(message)),
            ]:
                with pytest.raises(BusError, match=f"^{step}: ") as caught:
                    await call()
                assert caught.value.retriable, step

        self.run(case)

    def test_a_payload_limit_over_the_servers_is_refused_at_connect(self) -> None:
        async def case() -> None:
            with pytest.raises(BusError, match="max_payload 8388608 is over what the server"):
                await self.bus(max_payload=8 * 1024 * 1024)

        self.run(case)


def test_no_server_is_a_retriable_error_naming_it() -> None:
    url = f"nats://127.0.0.1:{free_port()}"

    async def case() -> None:
        with pytest.raises(BusError, match=f"connect: no NATS at {url}") as caught:
            await nats_bus().connect(url, connect_timeout=1)
        assert caught.value.retriable

    asyncio.run(case())


def test_a_bad_prefix_is_refused_before_connecting() -> None:
    async def case() -> None:
        with pytest.raises(BusError, match="prefix 'a b' must be dot-separated names"):
            await nats_bus().connect(f"nats://127.0.0.1:{free_port()}", prefix="a b")

    asyncio.run(case())
