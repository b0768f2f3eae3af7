"""A pipelined group commit: the next group is decided while the previous one commits.

Theory of operation
-------------------
:class:`~sync_core.store.GroupCommit` decides a group, then waits for its commit,
then decides the next: on PostgreSQL the commit's server time (the rows, then
``COMMIT`` with its WAL flush) is as long as the deciding, and the two do not
overlap.  :class:`PipelinedCommit` hands each full group to one committer thread
(:meth:`~PipelinedCommit.hand_off`) and goes on staging the next at once; the
driver thread keeps deciding while psycopg waits on the server with the GIL
released.

*Reads.*  The engine reads through the pipeline (a
:class:`~sync_core.messages.StateView`), which answers from, in order: the group
being staged, every group handed off and not yet collected (newest first), then the
store's reader — so a decision sees every decision before it, stored or not, as with
``GroupCommit``.  Groups leave that list only in the driver's thread, once their
commit has returned and the store's read cache (if any) has learnt of it
(``PostgresStore.commit_many_unlearned``): the cache is only ever touched by the
driver's thread.  With the read cache the store's reader is checked at its first
read, not after each commit (``PostgresStore.pipelined_reader``); the connection is
used by one statement or transaction at a time, so a cache load waits for a commit
in flight rather than interleave with it.

*Requests.*  :meth:`~PipelinedCommit.hand_off` and :meth:`~PipelinedCommit.flush`
return the groups whose commit has returned since the last call, in order, each with
its outbox rows: only those may be carried out (nothing is sent before it is stored).

*Failure.*  Commits run strictly in order, one at a time.  When one fails, that
group and every group staged on top of it (handed off or still staging: they may
have read its state) are discarded, and the next :meth:`~PipelinedCommit.hand_off`
or :meth:`~PipelinedCommit.flush` raises :class:`CommitFailed` with the decisions to
make again (``redecide``: decide their messages again, in order) and the groups
committed before it (``committed``: carry out their requests); so does
:meth:`~PipelinedCommit.close` when no call reported it yet.  The store's read cache
is cleared (the failed commit may or may not have been kept).

A store without the hooks (``MemoryStore``) is committed with ``commit_many``
from the committer thread: its reads and its commits must be safe across threads.
SQLite's connection is not (``check_same_thread``).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, runtime_checkable

from sync_core.messages import Decision, Entity, StateView
from sync_core.store import OutboxItem, Store

__all__ = ["CommitFailed", "Committed", "PipelinedCommit"]

Learn = Callable[[], None]


@runtime_checkable
class Pipelinable(Protocol):
    """What a store offers a pipelined commit (``PostgresStore``)."""

    def commit_many_unlearned(
        self, decisions: Sequence[Decision]
    ) -> tuple[list[list[OutboxItem]], Learn]: ...

    def pipelined_reader(self) -> StateView: ...

    def forget_reads(self) -> None: ...


@dataclass(frozen=True)
class Committed:
    """A group whose commit returned: its decisions and the outbox rows of each."""

    decisions: list[Decision]
    outbox: list[list[OutboxItem]]


class CommitFailed(Exception):
    """A commit failed: ``redecide`` was discarded and must be decided again."""

    def __init__(
        self, error: BaseException, committed: list[Committed], redecide: list[Decision]
    ) -> None:
        super().__init__(f"a group commit failed ({error!r}); {len(redecide)} decisions to redo")
        self.error = error
        self.committed = committed  # committed before the failure: carry out their requests
        self.redecide = redecide  # the failed group and every one staged on top, in order


@dataclass
class _Group:
    decisions: list[Decision] = field(default_factory=list)
    consumed: set[str] = field(default_factory=set)
    entities: dict[tuple[str, str], Entity] = field(default_factory=dict)


def _nothing() -> None:
    pass


def _yield_gil() -> None:
    """Release the GIL and the CPU for a moment: ``sched_yield`` (≈ 0.4 µs when nobody
    waits) where there is one; ``time.sleep(0)`` costs ≈ 20 µs of CPU and 80 µs of wall on a
    busy machine."""
    if _SCHED_YIELD is not None:
        _SCHED_YIELD()
    else:
        time.sleep(0)


_SCHED_YIELD: Callable[[], None] | None = getattr(os, "sched_yield", None)


class PipelinedCommit:
    """A group commit whose commits run on a thread of their own (module docstring).

    ``depth``: groups handed off and not yet committed at most; :meth:`hand_off`
    waits for the oldest when there are that many.  Use as a context manager (or call
    :meth:`close`); groups handed off are committed before it returns, but their
    requests are only returned by :meth:`flush`.
    """

    def __init__(self, store: Store, *, depth: int = 1) -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self.store, self.depth = store, depth
        hooks = store if isinstance(store, Pipelinable) else None
        self._reads = hooks.pipelined_reader() if hooks else store.reader()
        self._commit = hooks.commit_many_unlearned if hooks else self._commit_plain
        self._forget = hooks.forget_reads if hooks else _nothing
        self._staged = _Group()
        self._layers: tuple[_Group, ...] = ()  # handed off, not collected; driver's thread only
        self._cond = threading.Condition()
        self._queue: deque[_Group] = deque()  # handed off, not committed; head: committing
        self._done: list[tuple[_Group, list[list[OutboxItem]], Learn]] = []
        self._failure: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="pipelined-commit", daemon=True)
        self._thread.start()

    def _commit_plain(self, decisions: Sequence[Decision]) -> tuple[list[list[OutboxItem]], Learn]:
        return self.store.commit_many(decisions), _nothing

    # -- the driver's thread: staging and reading -----------------------------------------

    def __len__(self) -> int:
        return len(self._staged.decisions)

    def consumed(self, message_id: str) -> bool:
        if message_id in self._staged.consumed:
            return True
        return any(message_id in g.consumed for g in self._layers) or self._reads.consumed(
            message_id
        )

    def entity(self, kind: str, key: str) -> Entity | None:
        staged = self._staged.entities.get((kind, key))
        if staged is not None:
            return staged
        for group in reversed(self._layers):
            held = group.entities.get((kind, key))
            if held is not None:
                return held
        return self._reads.entity(kind, key)

    def stage(self, decision: Decision) -> None:
        if self._queue:
            # a commit is in flight: let its thread take the GIL now if it waits for it (back
            # from the server), not after the interpreter's switch interval (5 ms) at each of
            # its round trips
            _yield_gil()
        group = self._staged
        group.decisions.append(decision)
        group.consumed.update(decision.consumed)
        for change in decision.changes:
            e = change.entity
            group.entities[(e.kind, e.key)] = e

    def discard(self) -> None:
        """Forget the group being staged (not the groups handed off)."""
        self._staged = _Group()

    def hand_off(self) -> list[Committed]:
        """Give the staged group to the committer and start the next; the groups committed
        since the last call (:class:`CommitFailed` when a commit failed)."""
        group, self._staged = self._staged, _Group()
        with self._cond:
            if group.decisions:
                while len(self._queue) >= self.depth and self._failure is None:
                    self._cond.wait()
                if self._failure is None:
                    self._queue.append(group)
                    self._cond.notify_all()
            done = self._take(group)
        if group.decisions:
            self._layers += (group,)
        return self._learn(done)

    def flush(self) -> list[Committed]:
        """Hand off the staged group and wait for every commit; the groups committed since
        the last call (:class:`CommitFailed` when a commit failed)."""
        done = self.hand_off()
        with self._cond:
            while self._queue and self._failure is None:
                self._cond.wait()
            more = self._take(_Group())
        return done + self._learn(more)

    def _take(self, staged: _Group) -> list[tuple[_Group, list[list[OutboxItem]], Learn]]:
        """The groups committed (under the lock); raises the failure if there is one."""
        done, self._done = self._done, []
        if self._failure is None:
            return done
        error, self._failure = self._failure, None
        discarded = [*self._queue, staged]
        self._queue.clear()  # the committer is idle since the failure
        committed = self._learn(done)
        self._forget()
        self._layers, self._staged = (), _Group()
        redo = [d for g in discarded for d in g.decisions]
        raise CommitFailed(error, committed, redo)

    def _learn(self, done: list[tuple[_Group, list[list[OutboxItem]], Learn]]) -> list[Committed]:
        """Tell the store's reads of these commits, in order, then drop them from the view."""
        for _, _, learn in done:
            learn()
        if done:
            self._layers = self._layers[len(done) :]
        return [Committed(group.decisions, outbox) for group, outbox, _ in done]

    # -- the committer's thread ---------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while (not self._queue or self._failure is not None) and not self._closed:
                    self._cond.wait()
                if not self._queue or self._failure is not None:
                    return  # closed, and nothing left that may be committed
                group = self._queue[0]
            try:
                outbox, learn = self._commit(group.decisions)
            except BaseException as e:  # reported to the driver's thread
                with self._cond:
                    self._failure = e
                    self._cond.notify_all()
                continue
            with self._cond:
                self._queue.popleft()
                self._done.append((group, outbox, learn))
                self._cond.notify_all()

    def close(self) -> None:
        """Commit what was handed off, then stop the committer (the staged group is dropped;
        the requests of groups not collected stay in the outbox).  :class:`CommitFailed` when
        a commit failed and no call reported it yet."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join()
        with self._cond:
            if self._failure is not None:
                self._take(_Group())

    def __enter__(self) -> PipelinedCommit:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
            return
        # an exception is under way: it says more; the store holds what was committed
        with suppress(CommitFailed):
            self.close()
