"""The bus on NATS JetStream (nats-py, the ``nats`` extra).

Layout.  One stream (``<PREFIX>``, subjects ``<prefix>.p.<partition>``) holds the
messages; a second (``<PREFIX>_DLQ``, subject ``<prefix>.dlq``) holds the dead
letters, with its own retention and its own sequence numbers so a replay of the
pipeline never sees them.  A publish carries the dedup id as ``Nats-Msg-Id``,
so JetStream's duplicate window (the stream's ``duplicate_window``) refuses the
second copy and answers with the first one's sequence.  The entity key travels
in a header.  Each partition has one durable pull consumer
(``<PREFIX>_p<partition>``, explicit ack, ``ack_wait``, ``max_ack_pending`` =
``in_flight``): every worker that consumes the partition binds to it, so they
share one position and an unacknowledged message goes to whichever fetches
after the deadline.  A replay is an ephemeral consumer (no acks, in memory)
started ``BY_START_SEQUENCE`` or ``BY_START_TIME`` and deleted at its end.

Dead letters: the bus, not the server, counts.  On every delivery it reads
``num_delivered`` from the message's metadata; a message arriving for the
``max_deliver + 1``-th time is published to the dead-letter stream (``Nats-Msg-Id``
``dlq:<seq>``, so doing it twice stores it once) and only then terminated
(``AckTerm``).  We chose this over the server's own ``max_deliver`` with its
``$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`` advisory
because an advisory is a core-NATS message, not stored: if no process listens at
the instant it fires (every worker restarting), it is gone, and the message sits
in the stream delivered to no one and recorded nowhere.  Counting on delivery
is crash-safe: dying before the copy is stored means one more delivery, and the
next fetch dead-letters it.  So the consumers' server-side ``max_deliver`` is
unlimited (-1) and the bus enforces ``BusConfig.max_deliver``.

Acks are published without waiting for the server's confirmation (one round
trip saved per message); they go out on one connection in order, so a lost ack
costs at worst one redelivery, which the inbox's unique key absorbs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from sync_core.bus import base

DEFAULT_URL = "nats://127.0.0.1:4222"
KEY = "Supplysync-Key"
MSG_ID = "Nats-Msg-Id"
HEADER_ROOM = 4096  # bytes kept for headers under the server's max_payload
READ_BATCH = 256
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
V1_ACK_TOKENS = 9  # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<time>.<pending>

# the dead-letter record's headers: where the message was, and how often it was tried
DLQ_SEQ, DLQ_PARTITION = "Supplysync-Seq", "Supplysync-Partition"
DLQ_DEDUP, DLQ_AT, DLQ_DELIVERIES = "Supplysync-Dedup-Id", "Supplysync-At", "Supplysync-Deliveries"


# what nats-py raises; translated into BusError at this boundary
FAILURES = (nats.errors.Error, nats.js.errors.Error, TimeoutError)


def _failure(what: str, e: Exception) -> base.BusError:
    retriable = isinstance(e, TimeoutError | nats.errors.ConnectionClosedError)
    detail = str(e).strip() or type(e).__name__
    return base.BusError(f"{what}: {detail}", retriable=retriable)


def _stored_at(msg: Msg) -> datetime:
    """When the server stored ``msg``, floored to the microsecond.

    nats-py's ``metadata.timestamp`` goes through a float and may round up past the
    stored nanosecond, and a replay from that time would then miss the message.
    """
    tokens = (msg.reply or "").split(".")
    nanos = int(tokens[7] if len(tokens) == V1_ACK_TOKENS else tokens[Msg.Ack.Timestamp])
    return EPOCH + timedelta(microseconds=nanos // 1000)


@contextlib.contextmanager
def _translated(what: str) -> Iterator[None]:
    """Raise what nats-py raises inside as a BusError saying ``what`` failed."""
    try:
        yield
    except FAILURES as e:
        raise _failure(what, e) from e


async def _quiet(e: Exception) -> None:
    """nats-py's error callback: failures reach the caller as BusError, not the log."""


class NatsBus(base.Bus):
    """The contract on JetStream; open one with :meth:`connect`."""

    def __init__(self, nc: Client, config: base.BusConfig, prefix: str) -> None:
        self.config = config
        self.prefix = prefix
        self.stream = prefix.replace(".", "_").upper()
        self.dlq_stream = f"{self.stream}_DLQ"
        self._nc = nc
        self._js: JetStreamContext = nc.jetstream()

    @classmethod
    async def connect(
        cls,
        url: str = DEFAULT_URL,
        config: base.BusConfig | None = None,
        *,
        prefix: str = "supplysync",
        connect_timeout: float = 2.0,
        create: bool = True,
    ) -> NatsBus:
        """Connect to ``url`` and make (or check) the streams the bus needs; with
        ``create=False`` (a reader) the streams must exist already."""
        if not prefix or not all(part.isidentifier() for part in prefix.split(".")):
            raise base.BusError(f"connect: prefix {prefix!r} must be dot-separated names")
        config = config or base.BusConfig()
        try:
            nc = await nats.connect(
                url,
                connect_timeout=connect_timeout,
                allow_reconnect=False,
                max_reconnect_attempts=1,  # the first connect: one try, no 2-minute retry loop
                reconnect_time_wait=0.1,
                error_cb=_quiet,
            )
        except (OSError, TimeoutError, nats.errors.Error) as e:
            detail = str(e).strip() or type(e).__name__
            raise base.BusError(f"connect: no NATS at {url}: {detail}", retriable=True) from e
        bus = cls(nc, config, prefix)
        try:
            await (bus._make_streams() if create else bus._find_streams(url))
        except BaseException:
            await nc.close()
            raise
        return bus

    async def _find_streams(self, url: str) -> None:
        for name in (self.stream, self.dlq_stream):
            with _translated(f"connect: stream {name}"):
                try:
                    await self._js.stream_info(name)
                except nats.js.errors.NotFoundError:
                    raise base.BusError(
                        f"connect: no stream {name} at {url}: nothing was published under the"
                        f" prefix {self.prefix!r}"
                    ) from None

    async def _make_streams(self) -> None:
        room = self._nc.max_payload - HEADER_ROOM
        if self.config.max_payload > room:
            raise base.BusError(
                f"connect: max_payload {self.config.max_payload} is over what the server"
                f" carries ({self._nc.max_payload} bytes less {HEADER_ROOM} for headers)"
            )
        streams = [
            (self.stream, [f"{self.prefix}.p.*"], self.config.dedup_window),
            (self.dlq_stream, [f"{self.prefix}.dlq"], 120.0),
        ]
        for name, subjects, window in streams:
            config = api.StreamConfig(
                name=name,
                subjects=subjects,
                description=f"supplysync bus, {self.config.partitions} partitions",
                duplicate_window=window,
                max_msg_size=self.config.max_payload + HEADER_ROOM,
            )
            with _translated(f"connect: stream {name}"):
                try:
                    await self._js.add_stream(config)
                except nats.js.errors.BadRequestError as e:
                    raise base.BusError(
                        f"connect: stream {name} exists with another configuration"
                        f" (partitions, dedup window or max payload): {e.description}"
                    ) from e

    def subject(self, partition: int) -> str:
        return f"{self.prefix}.p.{partition}"

    async def publish(self, key: str, payload: bytes, dedup_id: str) -> base.PublishAck:
        base.check_publish(self.config, key, payload, dedup_id)
        partition = self.partition_of(key)
        headers = {MSG_ID: dedup_id, KEY: key}
        with _translated(f"publish {key!r}"):
            ack = await self._js.publish(
                self.subject(partition), bytes(payload), headers=headers, stream=self.stream
            )
        return base.PublishAck(ack.seq, partition, duplicate=bool(ack.duplicate))

    async def consume(self, partition: int) -> base.Subscription:
        base.check_partition(self.config, partition)
        durable = f"{self.stream}_p{partition}"
        config = api.ConsumerConfig(
            durable_name=durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=self.config.ack_wait,
            max_deliver=-1,  # the bus dead-letters (see the module docstring)
            max_ack_pending=self.config.in_flight,
            filter_subject=self.subject(partition),
        )
        with _translated(f"consume: partition {partition}"):
            # create or update: a bus reopened with another ack_wait or in_flight applies it
            await self._js.add_consumer(self.stream, config)
            sub = await self._js.pull_subscribe_bind(durable=durable, stream=self.stream)
        return _NatsSubscription(self, partition, sub)

    def _message(self, msg: Msg, partition: int) -> base.BusMessage:
        meta = msg.metadata
        headers = msg.headers or {}
        return base.BusMessage(headers.get(KEY, ""), partition, msg.data, headers.get(MSG_ID, ""),
                               meta.sequence.stream, _stored_at(msg), meta.num_delivered,
                               handle=msg)  # fmt: skip

    async def _dead_letter(self, msg: Msg, partition: int) -> None:
        """Store ``msg`` in the dead-letter stream, then stop its deliveries."""
        message = self._message(msg, partition)
        delivered = message.deliveries - 1
        headers = {
            MSG_ID: f"dlq:{message.seq}",
            KEY: message.key,
            DLQ_DEDUP: message.dedup_id,
            DLQ_SEQ: str(message.seq),
            DLQ_PARTITION: str(partition),
            DLQ_AT: message.published_at.isoformat(),
            DLQ_DELIVERIES: str(delivered),
        }
        with _translated(f"dead-letter {message.seq}"):
            await self._js.publish(
                f"{self.prefix}.dlq", message.payload, headers=headers, stream=self.dlq_stream
            )
            await msg.term()

    def _handle(self, message: base.BusMessage, what: str) -> Msg:
        if not isinstance(message.handle, Msg):
            raise base.BusError(f"{what}: message {message.seq} was not delivered by this bus")
        return message.handle

    async def ack(self, message: base.BusMessage) -> None:
        with _translated(f"ack {message.seq}"):
            await self._handle(message, "ack").ack()

    async def nak(self, message: base.BusMessage) -> None:
        with _translated(f"nak {message.seq}"):
            await self._handle(message, "nak").nak()

    async def dead_letters(self) -> list[base.DeadLetter]:
        letters = []
        async for msg in self._read(self.dlq_stream, f"{self.prefix}.dlq", api.ConsumerConfig()):
            h = msg.headers or {}
            original = base.BusMessage(h[KEY], int(h[DLQ_PARTITION]), msg.data,
                                       h[DLQ_DEDUP], int(h[DLQ_SEQ]),
                                       datetime.fromisoformat(h[DLQ_AT]))  # fmt: skip
            letters.append(base.DeadLetter(original, int(h[DLQ_DELIVERIES])))
        return letters

    async def replay(
        self, span: base.Span | None = None, *, partition: int | None = None
    ) -> AsyncIterator[base.BusMessage]:
        span = span or base.Span()
        if partition is not None:
            base.check_partition(self.config, partition)
        config = api.ConsumerConfig()
        if span.start_seq is not None:
            config.deliver_policy = api.DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = span.start_seq
        elif span.start_time is not None:
            config.deliver_policy = api.DeliverPolicy.BY_START_TIME
            config.opt_start_time = span.start_time.astimezone(UTC)
        subject = self.subject(partition) if partition is not None else f"{self.prefix}.p.*"
        async for msg in self._read(self.stream, subject, config, span.end_seq):
            message = self._message(msg, int(msg.subject.rsplit(".", 1)[1]))
            if span.end_time is not None and message.published_at >= span.end_time:
                return
            yield base.BusMessage(message.key, message.partition, message.payload, message.dedup_id,
                                  message.seq, message.published_at)  # fmt: skip

    async def _read(
        self, stream: str, subject: str, config: api.ConsumerConfig, end_seq: int | None = None
    ) -> AsyncIterator[Msg]:
        """The messages of ``subject`` from ``config``'s start to the last stored now."""
        config.ack_policy = api.AckPolicy.NONE
        config.mem_storage, config.inactive_threshold = True, 30.0
        with _translated(f"read {stream}"):
            last = (await self._js.stream_info(stream)).state.last_seq
            if end_seq is not None:
                last = min(last, end_seq)
            sub = await self._js.pull_subscribe(subject, stream=stream, config=config)
        try:
            info = await sub.consumer_info()
            left = info.num_pending or 0
            while left > 0:
                with _translated(f"read {stream}"):
                    batch = await sub.fetch(min(READ_BATCH, left), timeout=5.0)
                for msg in batch:
                    if msg.metadata.sequence.stream > last:
                        return
                    yield msg
                    left = msg.metadata.num_pending
        finally:
            await self._drop_consumer(stream, sub)

    async def _drop_consumer(self, stream: str, sub: Any) -> None:
        try:
            name = (await sub.consumer_info()).name
            await sub.unsubscribe()
            await self._js.delete_consumer(stream, name)
        except FAILURES:
            pass  # its inactive_threshold removes it anyway

    async def destroy(self) -> None:
        """Delete both streams and every consumer: all messages are gone."""
        for name in (self.stream, self.dlq_stream):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await self._js.delete_stream(name)

    async def close(self) -> None:
        if not self._nc.is_closed:
            await self._nc.close()


class _NatsSubscription(base.Subscription):
    def __init__(self, bus: NatsBus, partition: int, sub: JetStreamContext.PullSubscription):
        self._bus = bus
        self.partition = partition
        self._sub = sub
        self._closed = False

    async def fetch(self, batch: int = 1, timeout: float = 1.0) -> list[base.BusMessage]:
        base.check_batch(batch)
        if self._closed:
            raise base.BusError(f"fetch: the consumer of partition {self.partition} is closed")
        # never ask for more than may be out: past max_ack_pending the server sends no
        # "no messages" status, and nats-py would wait the whole timeout to fill the batch
        batch = min(batch, self._bus.config.in_flight)
        loop = asyncio.get_running_loop()
        give_up = loop.time() + timeout
        while True:
            with _translated(f"fetch: partition {self.partition}"):
                try:
                    msgs = await self._sub.fetch(batch, timeout=max(give_up - loop.time(), 0.001))
                except TimeoutError:  # nats-py raises its own subclass, or asyncio's plain one
                    return []
            taken = []
            for msg in msgs:
                if msg.metadata.num_delivered > self._bus.config.max_deliver:
                    await self._bus._dead_letter(msg, self.partition)
                else:
                    taken.append(self._bus._message(msg, self.partition))
            if taken or give_up - loop.time() <= 0:
                return taken

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(*FAILURES):  # the connection is gone: nothing to release
                await self._sub.unsubscribe()
