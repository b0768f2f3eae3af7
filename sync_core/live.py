"""The asyncio driver: runs the engine in real time, over a durable store and real sockets.

Theory of operation
-------------------
The same engine as :mod:`sync_core.sim`, driven by the wall clock and HTTP.

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
the reason, in the same transaction as its neighbours.

*Outbound.*  Each outbox row the commit returned is offered to the
:class:`~sync_core.delivery.Lanes` (critical supply has its own slots) and,
when it gets a slot, follows the :class:`~sync_core.delivery.DeliveryPlanner`:
``Send`` → the connector; ``Wait`` → offered again at that time (retries with
jittered backoff, ``Retry-After``, an open circuit); ``Done`` → the row is
marked done, and a read's reply is queued as an inbound message
``reply:{outbox id}`` whose commit marks the row done in the same store call
(so a crash between the two reads again, and the inbox drops the second
reply); ``GiveUp`` → ``Store.give_up`` records the dead letter and marks the
row done in one transaction.  Done marks are written in one transaction per
group (``done_many``): a mark lost in a crash only sends the row again.

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
everything else runs on the loop.  Time: the planner's clock is ``clock()``
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
import queue
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sync_core.dashboard._recorder import Recorder
from sync_core.delivery import DeliveryPlanner, Done, GiveUp, Lanes, Send, Wait
from sync_core.engine import Engine
from sync_core.messages import DeadLetter, Decision, Inbound, Kind, Request, Response
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
    superseded: int = 0  # writes dropped unsent: a newer version of their entity was decided
    largest_group: int = 0
    requests_sent: int = 0
    delivered: int = 0
    retries: int = 0
    given_up: int = 0
    engine_errors: int = 0
    recovered_rows: int = 0
    in_flight: set[int] = field(default_factory=set)  # outbox ids not finished


_Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]


class _StoreThread:
    """One daemon thread running jobs in order (the store's connection lives in it).

    Unlike a ``ThreadPoolExecutor``, whose threads the interpreter joins at exit, a
    daemon thread still deciding a huge message does not keep the process alive.
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.busy_since: float | None = None  # monotonic start of the job running, if any
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, fn, args = job
            if not future.set_running_or_notify_cancel():
                continue
            self.busy_since = time.monotonic()
            try:
                future.set_result(fn(*args))
            except BaseException as e:  # handed to the awaiting coroutine
                future.set_exception(e)
            finally:
                self.busy_since = None

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        self._jobs.put((future, fn, args))
        return future

    def shutdown(self, wait_s: float) -> bool:
        """Let the thread end after its queued jobs; True if it did within ``wait_s``."""
        self._jobs.put(None)
        self._thread.join(wait_s)
        return not self._thread.is_alive()


def _stopping() -> StoreError:
    return StoreError("submit", "the core is stopping: send it again", retriable=True)


class LiveDriver:
    """Feed the engine from a queue, commit in groups, deliver the outbox (module docstring)."""

    def __init__(
        self,
        engine: Engine,
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
    ) -> None:
        self.engine = engine
        self.connector = connector
        self.planner = planner
        self.lanes: Lanes[OutboxItem] = Lanes(lanes or {"critical": 16, "routine": 48})
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
        self._db_thread = _StoreThread("sync-store")
        self._queue: asyncio.Queue[_Entry] = asyncio.Queue()
        self._deciding: list[_Entry] = []  # the group in the store thread now
        self._dead_letters: int | None = None  # last count read; see refresh_status
        self._store_state = "ok"  # ok | busy | the last store error
        self._refresh: asyncio.Task[None] | None = None
        self._done_ids: list[int] = []
        # newest version decided per supersedable entity: a retry of an older state of the
        # same entity is dropped instead of landing after the newer one
        self._newest: dict[tuple[str, str], int] = {}
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
        self._newest = await self.db(lambda s: _newest_versions(s, pending))
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

    def every(self, interval_s: float) -> None:
        """Submit a batch tick now and every ``interval_s`` seconds (batch / hybrid)."""
        if interval_s <= 0:
            raise ValueError(f"a batch interval must be > 0 s, not {interval_s}")
        self._ticker = asyncio.create_task(self._ticks(interval_s), name="sync-core-ticks")

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

    async def _ticks(self, interval_s: float) -> None:
        while True:
            at = self.wall()
            # ids must stay unique across restarts: the inbox remembers the old ones
            self.submit_nowait(
                Inbound(f"tick:{at.isoformat()}", Kind.BATCH_TICK, {"at": at.isoformat()})
            )
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
                results = await self._db(self._decide_and_commit, batch, dones)
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
    ) -> list[tuple[Outcome, list[OutboxItem]]]:
        """In the store thread: decide every message of ``batch``, commit them at once,
        then write the done marks (those ``dones`` and the batch's own)."""
        store = self._require_store()
        group = GroupCommit(store)
        outcomes = [self._decide(group, entry) for entry in batch]
        try:
            added = iter(group.commit())
            results = [(o, next(added) if o in _STAGED else []) for o in outcomes]
        except AlreadyConsumed:  # another writer on the same file: decide one by one
            log.warning("group commit refused (stale state); committing one by one")
            results = []
            for entry in batch:
                single = GroupCommit(store)
                outcome = self._decide(single, entry)
                try:
                    rows = single.commit()
                except AlreadyConsumed:
                    outcome, rows = "duplicate", []
                results.append((outcome, rows[0] if rows else []))
        for _, delivered in results:
            for outbox_row in delivered:
                self._note_version(outbox_row.request)
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
        return results

    def _decide(self, group: GroupCommit, entry: _Entry) -> Outcome:
        message = entry.message
        if entry.flush:
            return "flush"
        self.stats.messages_handled += 1
        try:
            decision = self.engine.handle(message, self.wall(), group)
        except StoreError:  # the store failed, not the message: the whole group fails
            raise
        except Exception as e:  # a poison message must not block the ones behind it
            self.stats.engine_errors += 1
            log.exception("engine failed on %s (%s)", message.message_id, message.kind)
            reason = f"engine could not handle {message.kind}: {type(e).__name__}: {e}"
            decision = Decision(
                message.message_id,
                consumed=(message.message_id,),
                dead_letters=(self._letter(message, reason),),
            )
        if decision.duplicate:
            self.stats.duplicates += 1
            return "duplicate"
        group.stage(decision)
        for letter in decision.dead_letters:
            self.telemetry.dead_lettered(letter.reason)
        return "dead_lettered" if decision.dead_letters and not decision.requests else "accepted"

    def _letter(self, message: Inbound, reason: str) -> DeadLetter:
        return DeadLetter(
            message.message_id,
            str(message.kind),
            reason,
            message.body,
            correlation_id=message.correlation_id,
            query=message.query,
            at=self.clock(),
        )

    # -- outbound -----------------------------------------------------------------------

    def _deliver(self, item: OutboxItem) -> None:
        self.stats.in_flight.add(item.outbox_id)
        why_not = self.connector.knows(item.request)
        if why_not is not None:
            self._give_up(item, why_not)
            return
        self.lanes.offer(item, item.request.critical)
        self._pump()

    def _pump(self) -> None:
        if self._closing:
            return
        while (item := self.lanes.next_ready()) is not None:
            task = asyncio.create_task(self._attempt(item))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _note_version(self, request: Request) -> None:
        if request.supersedable is not None:
            kind, key, version = request.supersedable
            if version > self._newest.get((kind, key), 0):
                self._newest[(kind, key)] = version

    def _superseded(self, request: Request) -> bool:
        if request.supersedable is None:
            return False
        kind, key, version = request.supersedable
        return self._newest.get((kind, key), 0) > version

    async def _attempt(self, item: OutboxItem) -> None:
        if self._superseded(item.request):  # a newer state of the entity was decided
            self.lanes.release(item)
            self.planner.drop(item.outbox_id)
            self.stats.superseded += 1
            self.telemetry.dropped(item)
            self._finished(item, Response(0, None))
            self._pump()
            return
        try:
            action = self.planner.plan(item, self.clock())
            if isinstance(action, Send):
                self.stats.requests_sent += 1
                started = self.telemetry.sending(item.request)
                try:
                    response = await self.connector.call(item.request)
                except Exception as e:  # a connector bug: treat as no answer, retry later
                    log.exception("connector failed on outbox %d", item.outbox_id)
                    response = Response(0, {"detail": f"connector error: {e!r}"})
                self.telemetry.answered(item.request, response, started)
                action = self.planner.plan(item, self.clock(), response)
                self.observe.result(item.request, response, self.clock())
        finally:
            self.lanes.release(item)
        if isinstance(action, Wait):
            self.stats.retries += 1
            self.observe.retry(item.request, self.clock())
            delay = max(0.0, action.at - self.clock())
            asyncio.get_running_loop().call_later(delay, self._reoffer, item)
        elif isinstance(action, Done):
            self.telemetry.finished(item, self.clock())
            self.observe.finished(item, self.clock())
            self._finished(item, action.response)
        elif isinstance(action, GiveUp):
            self._give_up(item, action.reason)
        self._pump()

    def _reoffer(self, item: OutboxItem) -> None:
        if not self._closing:
            self.lanes.offer(item, item.request.critical)
            self._pump()

    def _finished(self, item: OutboxItem, response: Response) -> None:
        self.stats.delivered += 1
        self.stats.in_flight.discard(item.outbox_id)
        request = item.request
        if request.reply_kind is None:
            self._done_ids.append(item.outbox_id)
            if self._queue.empty():  # wake the consumer so the mark is written soon
                self._queue.put_nowait(_Entry(_FLUSH, flush=True))
            return
        reply = Inbound(
            f"reply:{item.outbox_id}",
            request.reply_kind,
            response.body,
            request.correlation_id,
            query=dict(request.params),
        )
        self._queue.put_nowait(_Entry(reply, done_after=item.outbox_id))

    def _give_up(self, item: OutboxItem, reason: str) -> None:
        """Dead-letter the row and mark it done in one transaction (``Store.give_up``)."""
        self.stats.given_up += 1
        self.telemetry.dead_lettered(reason)
        self.telemetry.dropped(item)
        self.observe.gave_up(item, reason, self.clock())
        request = item.request
        log.warning("gave up on outbox %d: %s", item.outbox_id, reason)
        letter = DeadLetter(
            f"outbox:{item.outbox_id}",
            request.operation,
            reason,
            request.body,
            request=request,
            correlation_id=request.correlation_id,
            at=self.clock(),
        )
        task = asyncio.create_task(self._record_give_up(item, letter))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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

    async def replay(self, letter_id: int) -> DeadLetterRecord:
        """Replay dead letter ``letter_id`` (``Store.replay_dead_letter``) and carry it out:
        a request goes back to delivery, a message back to the engine."""
        replayed = await self.db(lambda s: s.replay_dead_letter(letter_id))
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

    # -- status ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What the driver knows, from memory: answered at once, however busy the store.

        ``dead_letters`` is the last count read (see :meth:`refresh_status`); ``store``
        is ``ok``, ``busy (N s)`` while the store thread works on one job that long, or
        ``failing: reason`` after a failed commit or read."""
        s = self.stats
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
            "superseded": s.superseded,
            "largest_group": s.largest_group,
            "queued": self._queue.qsize() + len(self._deciding),  # not yet committed
            "outbox_pending": len(s.in_flight),
            "recovered_rows": s.recovered_rows,
            "requests_sent": s.requests_sent,
            "delivered": s.delivered,
            "retries": s.retries,
            "given_up": s.given_up,
            "engine_errors": s.engine_errors,
            "breakers": {t: str(b.state) for t, b in self.planner.breakers.items()},
        }


_FLUSH = Inbound("flush", Kind.BATCH_TICK, None)


def default_planner(seed: int | None = None) -> DeliveryPlanner:
    """Retries for a live service: 0.2 s first step, 30 s cap, up to a day."""
    from sync_core.delivery import RetryPolicy

    policy = RetryPolicy(first_s=0.2, cap_s=30.0, max_attempts=10_000, deadline_s=86400.0)
    return DeliveryPlanner(policy, random.Random(seed))


def _newest_versions(store: Store, pending: list[OutboxItem]) -> dict[tuple[str, str], int]:
    """After a restart: the stored version of each entity a pending write carries."""
    newest: dict[tuple[str, str], int] = {}
    for item in pending:
        if item.request.supersedable is not None:
            kind, key, _ = item.request.supersedable
            known = store.entity(kind, key)
            if known is not None:
                newest[(kind, key)] = known.version
    return newest
