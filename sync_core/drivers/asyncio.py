"""The asyncio driver: runs the engine in real time, over a durable store and real sockets.

Theory of operation
-------------------
The same engine and the same :class:`~sync_core.drivers.runner.OutboxRunner` as
:mod:`sync_core.drivers.simpy`, driven by the wall clock and HTTP.

*Inbound.*  Every message (a webhook, the reply to a read, a batch tick, a
give-up) is put on one queue.  A single consumer task takes everything waiting
(up to ``group_max``), and in the store's own thread asks the engine for each
decision over a :class:`~sync_core.store.GroupCommit` (so later messages of the
group see the earlier ones' effects) and commits the whole group in one
transaction: one fsync for many messages (group commit).  A webhook's
``submit`` returns only after that commit, so a service that acknowledges a
webhook after ``submit`` never acknowledges what a crash can lose; what was not
acknowledged the sender sends again, and the inbox recognises it.

A message the engine cannot handle (no handler for its kind, or any error
while deciding) never blocks the queue: it is consumed and dead-lettered with
the reason (:func:`~sync_core.drivers.runner.decide`), in the same transaction
as its neighbours.

*Outbound.*  The runner decides; this driver carries its commands out: each
committed row is started (``runner.start``), a ``Call`` runs the connector in a
task and reports the answer (``runner.answered``), a ``Sleep`` is a
``call_later`` (``runner.woke``), a reply is queued as an inbound message whose
commit marks its row done in the same store call (so a crash between the two
reads again, and the inbox drops the second reply), and a dead letter is
recorded with ``Store.give_up`` (letter and done mark in one transaction).
Done marks are written in one transaction per group (``done_many``): a mark
lost in a crash only sends the row again.  The runner is told of every commit
(``runner.committed``), so it skips a write a newer stored version superseded.

*Replays.*  :meth:`LiveDriver.replay` replays a dead letter through the store
and carries it out at once: a request goes back to delivery, a message to the
engine (taken from the store's inbound queue once its decision is committed;
on start, what a crash left in that queue is handed on again).

*Crash safety.*  On start every pending outbox row (``store.pending()``) is
delivered again.  Since a row is marked done only after its effect was
confirmed, a ``kill -9`` at any point loses nothing; since every write carries
its idempotency key, a row sent twice is applied once.

*Threads.*  The engine's decisions and all SQLite work (the reads the
engine makes, commits, done marks) run in one dedicated thread that owns the
connection, so neither a huge message nor an fsync stalls the event loop;
everything else runs on the loop.  Time: the runner's clock is ``clock()``
(monotonic seconds); the engine's ``now`` is ``wall()``.

*Staying responsive, stopping in bounded time.*  One message can keep that
thread busy for seconds (a PO of tens of thousands of lines), so nothing the
service must answer at once waits for it: :meth:`LiveDriver.status` is read
from memory, and the dead-letter count it shows is refreshed in the store
thread in the background (``store`` says ``busy`` while a refresh waits).  A
webhook's ``submit`` waits at most ``answer_within_s`` for its commit, then
fails with a retriable :class:`~sync_core.store.StoreError` (a 503: the sender
sends again, and the inbox recognises the message if it was committed after
all).  :meth:`LiveDriver.begin_shutdown` (on SIGTERM) takes no more messages,
fails those still queued at once and those being decided after
``shutdown_grace_s``, so the HTTP server can finish its requests;
:meth:`LiveDriver.stop` then waits at most ``drain_s`` for the thread.  A
decision still running after that is abandoned, not committed, and nothing of
it was acknowledged: the thread is a daemon, the process exits, the store's
transaction never happened, and the senders send again.  Nothing acknowledged
is lost, because a webhook is acknowledged only after its commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sync_core.audit import ANONYMOUS
from sync_core.dashboard._recorder import Recorder
from sync_core.delivery import DeliveryPlanner
from sync_core.drivers import commands as cmd
from sync_core.drivers._store_thread import StoreThread
from sync_core.drivers.runner import Handler, OutboxRunner, decide, newest
from sync_core.messages import DeadLetter, Decision, Inbound, Kind, Request, Response
from sync_core.phi import PhiBoundary
from sync_core.store import (
    AlreadyConsumed,
    DeadLetterRecord,
    GroupCommit,
    OutboxItem,
    Store,
    StoreError,
)
from sync_core.telemetry import NoTelemetry

__all__ = ["Connector", "LiveDriver", "LiveStats", "Outcome"]

log = logging.getLogger("supplysync.core")

T = TypeVar("T")


class Connector(Protocol):
    def knows(self, request: Request) -> str | None:
        """None if ``request`` can be sent, else the reason it cannot."""
        ...

    async def call(self, request: Request) -> Response: ...

    async def close(self) -> None: ...


Outcome = str  # "accepted" | "duplicate" | "dead_lettered" ("flush": internal)
_STAGED = frozenset({"accepted", "dead_lettered"})


@dataclass
class _Entry:
    message: Inbound
    future: asyncio.Future[Outcome] | None = None
    done_after: int | None = None  # outbox row to mark done once this is committed
    flush: bool = False  # only wakes the consumer so done marks get written
    queued: bool = False  # came from the store's inbound queue (a replay): take it after


@dataclass
class LiveStats:
    started_at: float = 0.0
    messages_handled: int = 0
    duplicates: int = 0
    commits: int = 0
    largest_group: int = 0
    requests_sent: int = 0
    engine_errors: int = 0
    recovered_rows: int = 0
    in_flight: set[int] = field(default_factory=set)  # outbox ids not finished


def _stopping() -> StoreError:
    return StoreError("submit", "the core is stopping: send it again", retriable=True)


class LiveDriver:
    """Feed the engine from a queue, commit in groups, deliver the outbox (module docstring)."""

    def __init__(
        self,
        engine: Handler,
        open_store: Callable[[], Store],
        connector: Connector,
        planner: DeliveryPlanner,
        *,
        lanes: dict[str, int] | None = None,
        group_max: int = 512,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], dt.datetime] = dt.datetime.now,
        answer_within_s: float = 5.0,
        shutdown_grace_s: float = 2.0,
        drain_s: float = 5.0,
        phi: PhiBoundary | None = None,
    ) -> None:
        self.engine = engine
        self.connector = connector
        self.planner = planner
        self.runner = OutboxRunner(planner, lanes, knows=connector.knows, phi=phi)
        self.group_max = group_max
        self.clock = clock
        self.wall = wall
        self.stats = LiveStats()
        self.telemetry = NoTelemetry()  # metrics and traces (sync_core.telemetry)
        self.observe = Recorder()  # the dashboard's ring of recent lag, results, stages
        self._open_store = open_store
        self._store: Store | None = None
        self.answer_within_s = answer_within_s
        self.shutdown_grace_s = shutdown_grace_s
        self.drain_s = drain_s
        self._db_thread = StoreThread("sync-store")
        self._queue: asyncio.Queue[_Entry] = asyncio.Queue()
        self._deciding: list[_Entry] = []  # the group in the store thread now
        self._dead_letters: int | None = None  # last count read; see refresh_status
        self._store_state = "ok"  # ok | busy | the last store error
        self._refresh: asyncio.Task[None] | None = None
        self._done_ids: list[int] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._consumer: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._closing = False

    # -- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store, start the consumer, deliver again every pending outbox row."""
        self._store = await self._db(self._open_store)
        self.stats.started_at = self.clock()
        self._dead_letters = await self.db(lambda s: len(s.dead_letters()))
        self._consumer = asyncio.create_task(self._consume(), name="sync-core-consumer")
        pending = await self.db(lambda s: s.pending())
        self.runner.stored(await self.db(lambda s: newest(pending, s)))
        self.stats.recovered_rows = len(pending)
        if pending:
            log.info("re-delivering %d pending outbox rows", len(pending))
        for item in pending:
            self._deliver(item)
        await self._resume_inbound()

    def begin_shutdown(self) -> None:
        """Take no more messages (on SIGTERM, before the server drains its requests):
        fail the queued webhooks now and those being decided after ``shutdown_grace_s``,
        each with a retriable error (a 503: the sender sends again)."""
        if self._closing:
            return
        self._closing = True
        while not self._queue.empty():
            entry = self._queue.get_nowait()
            if entry.future is not None and not entry.future.done():
                entry.future.set_exception(_stopping())
            # our own (a read's reply, a tick, a replay) is dropped: its outbox row is not
            # marked done, so the next start reads again (replays wait in the store)
        self._queue.put_nowait(_Entry(_FLUSH, flush=True))  # wake the consumer to end
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().call_later(self.shutdown_grace_s, self._fail_deciding)

    def _fail_deciding(self) -> None:
        for entry in self._deciding:
            if entry.future is not None and not entry.future.done():
                entry.future.set_exception(_stopping())

    async def stop(self) -> None:
        """Stop consuming and delivering (pending rows stay in the outbox), close everything.

        Waits at most ``drain_s`` for a decision in progress to be committed; one still
        running then is abandoned uncommitted (see the module docstring)."""
        self.begin_shutdown()
        self._fail_deciding()
        for task in (self._ticker, self._refresh, *self._tasks):
            if task is not None:
                task.cancel()
        consumer = self._consumer
        if consumer is not None:  # let it commit the group it is deciding, for a while
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(consumer), self.drain_s)
            consumer.cancel()
        for task in (self._ticker, self._consumer, self._refresh, *self._tasks):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self.connector.close()
        busy = self._db_thread.busy_since
        if busy is None and self._store is not None and self._done_ids:
            # deliveries answered after the consumer's last commit (between SIGTERM and
            # here): write their done marks, or a restart would send them again
            dones, self._done_ids = self._done_ids, []
            with contextlib.suppress(StoreError, TimeoutError):
                await asyncio.wait_for(self._db(self._store.done_many, dones), self.drain_s)
        if busy is not None:
            log.warning(
                "stopping with a decision still running in the store thread: not committed, "
                "nothing of it acknowledged; its senders will send again"
            )
        elif self._store is not None:
            store = self._store
            with contextlib.suppress(StoreError, TimeoutError):
                await asyncio.wait_for(self._db(store.close), self.drain_s)
        self._db_thread.shutdown(0.0 if busy is not None else self.drain_s)

    def every(self, interval_s: float, kind: Kind = Kind.BATCH_TICK) -> None:
        """Submit a tick of ``kind`` now and every ``interval_s`` seconds (a batch pull, a
        reconciliation)."""
        if interval_s <= 0:
            raise ValueError(f"a tick interval must be > 0 s, not {interval_s}")
        ticks = self._ticks(interval_s, kind)
        self._ticker = asyncio.create_task(ticks, name="sync-core-ticks")

    # -- inbound ------------------------------------------------------------------------

    async def submit(self, message: Inbound, traceparent: str | None = None) -> Outcome:
        """Hand ``message`` to the engine; return once its decision is durably committed
        (``traceparent``: the sender's, if it sent one, for the traces).

        Raises :class:`~sync_core.store.StoreError` if the commit failed (nothing kept),
        and a retriable one when the core is stopping or has not committed the message
        within ``answer_within_s`` (it may still be: a resent message is a duplicate).
        """
        if self._closing:
            raise _stopping()
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.telemetry.arrived(message, self.clock(), traceparent)
        self.observe.arrived(message, self.clock())
        self._queue.put_nowait(_Entry(message, future))
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.answer_within_s)
        except TimeoutError:
            raise StoreError(
                "submit",
                f"not committed within {self.answer_within_s:g} s (the core is busy): "
                "send it again",
                retriable=True,
            ) from None

    def submit_nowait(self, message: Inbound) -> None:
        self.telemetry.arrived(message, self.clock())
        self.observe.arrived(message, self.clock())
        self._queue.put_nowait(_Entry(message))

    async def _ticks(self, interval_s: float, kind: Kind) -> None:
        prefix = "tick" if kind is Kind.BATCH_TICK else str(kind)
        while True:
            at = self.wall().isoformat()
            # ids must stay unique across restarts: the inbox remembers the old ones
            self.submit_nowait(Inbound(f"{prefix}:{at}", kind, {"at": at}))
            await asyncio.sleep(interval_s)

    async def _consume(self) -> None:
        while not self._closing:
            batch = [await self._queue.get()]
            while len(batch) < self.group_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            batch = [e for e in batch if e.future is None or not e.future.done()]
            dones, self._done_ids = self._done_ids, []
            self._deciding = batch
            try:
                results, decisions = await self._db(self._decide_and_commit, batch, dones)
            except Exception as raised:  # a store or encoding failure must not end the consumer
                e = (
                    raised
                    if isinstance(raised, StoreError)
                    else StoreError("commit", f"{type(raised).__name__}: {raised}")
                )
                if not isinstance(raised, StoreError):
                    log.exception("commit of %d messages failed", len(batch))
                log.error("commit of %d messages failed: %s", len(batch), e)
                self._store_state = f"failing: {e.reason}"
                self._deciding = []
                self._done_ids.extend(dones)
                for entry in batch:
                    if entry.future is not None and not entry.future.done():
                        entry.future.set_exception(e)
                    elif entry.future is None:  # our own message: try again shortly
                        asyncio.get_running_loop().call_later(1.0, self._queue.put_nowait, entry)
                if not e.retriable:
                    await asyncio.sleep(1.0)
                continue
            self._deciding = []
            self._store_state = "ok"
            self.runner.committed(decisions)  # before delivering: the versions they store
            if any(o == "dead_lettered" or rows for o, rows in results):
                self.refresh_status()
            for entry, (outcome, items) in zip(batch, results, strict=True):
                if entry.future is not None and not entry.future.done():
                    entry.future.set_result(outcome)
                if not entry.flush:
                    self.telemetry.decided(entry.message, outcome, items)
                if not entry.flush:
                    self.observe.decided(entry.message, items, self.clock())
                for item in items:
                    self._deliver(item)

    def _decide_and_commit(
        self, batch: list[_Entry], dones: list[int]
    ) -> tuple[list[tuple[Outcome, list[OutboxItem]]], list[Decision]]:
        """In the store thread: decide every message of ``batch``, commit them at once,
        then write the done marks (those ``dones`` and the batch's own).  Returns each
        entry's outcome and rows, and the decisions committed, in order."""
        store = self._require_store()
        group = GroupCommit(store)
        decided = [self._decide(group, entry) for entry in batch]
        try:
            added = iter(group.commit())
            results = [(o, next(added) if o in _STAGED else []) for o, _ in decided]
            committed = [d for _, d in decided if d is not None]
        except AlreadyConsumed:  # another writer on the same file: decide one by one
            log.warning("group commit refused (stale state); committing one by one")
            results, committed = [], []
            for entry in batch:
                single = GroupCommit(store)
                outcome, decision = self._decide(single, entry)
                try:
                    rows = single.commit()
                except AlreadyConsumed:
                    outcome, rows, decision = "duplicate", [], None
                results.append((outcome, rows[0] if rows else []))
                committed.extend([decision] if decision is not None else [])
        self.stats.commits += 1
        self.stats.largest_group = max(self.stats.largest_group, len(batch))
        dones.extend(e.done_after for e in batch if e.done_after is not None)
        taken = [e.message.message_id for e in batch if e.queued]
        try:  # the decisions are stored: from here a failure must not undo their delivery
            store.done_many(dones)  # one transaction; a mark lost only re-sends after a restart
            if taken:
                store.take_inbound(taken)
        except StoreError as e:
            log.error("could not mark %d outbox rows done: %s", len(dones), e)
        return results, committed

    def _decide(self, group: GroupCommit, entry: _Entry) -> tuple[Outcome, Decision | None]:
        """The outcome of ``entry`` and the decision staged for it (None if nothing was).

        A :class:`StoreError` fails the whole group (the store failed, not the message);
        any other error dead-letters the message (``decide``: a poison message must not
        block the ones behind it)."""
        message = entry.message
        if entry.flush:
            return "flush", None
        self.stats.messages_handled += 1
        decision, error = decide(self.engine, message, self.wall(), group, self.clock())
        if error is not None:
            self.stats.engine_errors += 1
            log.error("engine failed on %s (%s)", message.message_id, message.kind,
                      exc_info=error)  # fmt: skip
        if decision.duplicate:
            self.stats.duplicates += 1
            return "duplicate", None
        group.stage(decision)
        for letter in decision.dead_letters:
            self.telemetry.dead_lettered(letter.reason)
        staged = "dead_lettered" if decision.dead_letters and not decision.requests else "accepted"
        return staged, decision

    # -- outbound: carrying out the runner's commands ----------------------------------

    def _deliver(self, item: OutboxItem) -> None:
        self.stats.in_flight.add(item.outbox_id)
        self._carry(self.runner.start(item, self.clock()))

    def _carry(self, commands: list[cmd.Command]) -> None:
        for command in commands:
            item = command.item
            if isinstance(command, cmd.Call):
                if not self._closing:  # (a slot held at shutdown is lost with the process)
                    self._spawn(self._call(command))
            elif isinstance(command, cmd.Sleep):
                self.observe.retry(item.request, self.clock())
                delay = max(0.0, command.until - self.clock())
                asyncio.get_running_loop().call_later(delay, self._woke, item)
            elif isinstance(command, cmd.DeadLetterRow):
                self._give_up(item, command.letter)
            elif isinstance(command, cmd.Skip):
                self.telemetry.dropped(item)
                self._mark_done(item)
            else:
                self.telemetry.finished(item, self.clock())
                self.observe.finished(item, self.clock())
                if isinstance(command, cmd.ConsumeReply):  # done once the reply is committed
                    self.stats.in_flight.discard(item.outbox_id)
                    self._queue.put_nowait(_Entry(command.message, done_after=item.outbox_id))
                else:
                    assert isinstance(command, cmd.Delivered)
                    self._mark_done(item)

    def _woke(self, item: OutboxItem) -> None:
        if not self._closing:
            self._carry(self.runner.woke(item, self.clock()))

    async def _call(self, call: cmd.Call) -> None:
        request = call.item.request
        self.stats.requests_sent += 1
        started = self.telemetry.sending(request)
        try:
            response = await self.connector.call(request)
        except Exception as e:  # a connector bug: treat as no answer, retry later
            log.exception("connector failed on outbox %d", call.item.outbox_id)
            response = Response(0, {"detail": f"connector error: {e!r}"})
        self.telemetry.answered(request, response, started)
        self.observe.result(request, response, self.clock())
        self._carry(self.runner.answered(call.item, self.clock(), response))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _mark_done(self, item: OutboxItem) -> None:
        self.stats.in_flight.discard(item.outbox_id)
        self._done_ids.append(item.outbox_id)
        if self._queue.empty():  # wake the consumer so the mark is written soon
            self._queue.put_nowait(_Entry(_FLUSH, flush=True))

    def _give_up(self, item: OutboxItem, letter: DeadLetter) -> None:
        """Dead-letter the row and mark it done in one transaction (``Store.give_up``)."""
        self.telemetry.dead_lettered(letter.reason)
        self.telemetry.dropped(item)
        self.observe.gave_up(item, letter.reason, self.clock())
        log.warning("gave up on outbox %d: %s", item.outbox_id, letter.reason)
        self._spawn(self._record_give_up(item, letter))

    async def _record_give_up(self, item: OutboxItem, letter: DeadLetter) -> None:
        store = self._require_store()
        while True:
            try:
                await self._db(store.give_up, item.outbox_id, letter)
                break
            except StoreError as e:  # the row stays pending: a restart would deliver it again
                log.error("could not dead-letter outbox %d: %s", item.outbox_id, e)
                await asyncio.sleep(1.0)
        self.stats.in_flight.discard(item.outbox_id)

    # -- replays ----------------------------------------------------------------------

    async def replay(self, letter_id: int, *, actor: str = ANONYMOUS) -> DeadLetterRecord:
        """Replay dead letter ``letter_id`` (audited as done by ``actor``) and carry it out:
        a request goes back to delivery, a message back to the engine."""
        replayed = await self.db(lambda s: s.replay_dead_letter(letter_id, actor=actor))
        if replayed.outbox is not None:
            self._deliver(replayed.outbox)
        if replayed.inbound is not None:
            self._queue.put_nowait(_Entry(replayed.inbound, queued=True))
        return replayed.record

    async def _resume_inbound(self) -> int:
        """Hand the engine the replayed messages a crash left queued in the store."""
        messages = await self.db(lambda s: s.pending_inbound())
        for message in messages:
            self._queue.put_nowait(_Entry(message, queued=True))
        return len(messages)

    # -- the store thread ---------------------------------------------------------------

    def _require_store(self) -> Store:
        if self._store is None:
            raise StoreError("driver", "the driver is not started")
        return self._store

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.wrap_future(self._db_thread.submit(fn, *args))

    async def db(self, fn: Callable[[Store], T]) -> T:
        """Run ``fn(store)`` in the store's thread (for reads by the service)."""
        store = self._require_store()
        return await self._db(fn, store)

    def refresh_status(self) -> None:
        """Count the dead letters again, in the store thread, when it gets to it (one
        refresh at a time, so a busy thread does not pile them up)."""
        if self._refresh is not None and not self._refresh.done():
            return
        if self._closing or self._store is None:
            return

        async def count() -> None:
            try:  # (a read that works says nothing of writes: only a commit sets "ok")
                self._dead_letters = await self.db(lambda s: len(s.dead_letters()))
            except StoreError as e:
                self._store_state = f"failing: {e.reason}"

        self._refresh = asyncio.create_task(count(), name="sync-core-status")

    @property
    def idle(self) -> bool:
        """Nothing queued, being decided, in delivery, or waiting for its done mark."""
        return (
            self._queue.empty()
            and not self._deciding
            and not self.stats.in_flight
            and not self._done_ids
        )

    # -- status ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What the driver knows, from memory: answered at once, however busy the store.

        ``dead_letters`` is the last count read (see :meth:`refresh_status`); ``store``
        is ``ok``, ``busy (N s)`` while the store thread works on one job that long, or
        ``failing: reason`` after a failed commit or read."""
        s, r = self.stats, self.runner.stats
        busy_since = self._db_thread.busy_since
        store = self._store_state
        if busy_since is not None and time.monotonic() - busy_since >= 0.5 and store == "ok":
            store = f"busy ({time.monotonic() - busy_since:.1f} s)"
        return {
            "store": store,
            "dead_letters": self._dead_letters,
            "uptime_s": round(self.clock() - s.started_at, 3),
            "messages_handled": s.messages_handled,
            "duplicates": s.duplicates,
            "commits": s.commits,
            "superseded": r.superseded,
            "largest_group": s.largest_group,
            "queued": self._queue.qsize() + len(self._deciding),  # not yet committed
            "outbox_pending": len(s.in_flight) + len(self._done_ids),  # done, not yet marked
            "recovered_rows": s.recovered_rows,
            "requests_sent": s.requests_sent,
            "delivered": r.delivered + r.superseded,  # finished: answered 2xx or superseded
            "retries": r.retries,
            "given_up": r.given_up,
            "engine_errors": s.engine_errors,
            "breakers": {t: str(b.state) for t, b in self.planner.breakers.items()},
        }


_FLUSH = Inbound("flush", Kind.BATCH_TICK, None)
