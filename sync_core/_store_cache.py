"""The SQL stores' read cache: a group's reads without a query each.

Theory of operation
-------------------
The engine reads the core's state one key at a time (``consumed``, ``entity``):
about four reads for an X12 855.  On PostgreSQL each is a round trip, more than the
engine's own work; on SQLite each is a statement (≈ 6 to 18 µs, decoding included).
With ``read_cache=True`` (:class:`~sync_core.store_postgres.PostgresStore`,
:class:`~sync_core.store_sqlite.SqliteStore`) the reads of a group commit
(:class:`~sync_core.store.GroupCommit`, through :meth:`Store.reader`) go through a
:class:`CachedReads` view of a :class:`ReadCache` instead:

* the **inbox** is loaded whole at the first ``consumed`` (one query), and each
  **kind** of entity whole at the first ``entity`` of that kind (one query on the
  primary key's prefix), so a key that is not there is known absent without asking;
* the store's own commits keep both current (the rows they wrote, as encoded);
* entity data is kept as the JSON text the database holds and decoded on the first
  read of the key, so a cached read returns what a query would have.

*What invalidates it.*  Only ``commit_many`` writes the inbox and the entities.  The
cache is *current as of* a ``token``, a number the backend reads (``check``) that
changes whenever another writer commits:

==============  =================================================================
backend         token
==============  =================================================================
PostgreSQL      the last number of ``audit_batch_seq``: each commit takes one (its
                own too), under a schema-wide advisory lock
                (:mod:`sync_core.store_postgres`); the check reads it under that lock
                shared (no commit is half way)
SQLite          ``PRAGMA data_version`` of the store's connection: it changes when
                another connection (or process) commits, never when this one does
==============  =================================================================

============================================  ============================================
event                                         cache
============================================  ============================================
a view's first read since the store's last    ``check``: not ``token``, another writer
commit                                        committed (or, PostgreSQL, failed after
                                              taking a number) — cleared, ``token`` = it
this store commits, the token before its      the rows it wrote are applied, ``token`` =
commit being ``token`` (PostgreSQL: the       the one after (PostgreSQL: its number;
number it took is the next one; SQLite:       SQLite: unchanged, so another connection's
always)                                       commit meanwhile is seen by the next check)
this store commits, any other number          another writer committed meanwhile, maybe
(PostgreSQL)                                  before some read was cached: cleared
a commit fails (any way)                      cleared
============================================  ============================================

So a cached read is never older than the view's check, like a query made then; a
view re-checks after every commit of its store.  With one writer the cache stays
valid for the life of the process.  Several writers on one schema or file (the
scale-out workers share feeds, watermarks, prices and the X12 sequence, so their
commits interleave) stay correct but clear each other's cache at every commit, each
reload reading whole kinds: the workers' :class:`~sync_core.scaleout.store.WorkerStore`
leaves the cache off.  Memory: the inbox's ids and the entities of every kind read,
as text (about the size of those tables).

Reads outside a group (``store.entity``, ``store.consumed``: the experience API,
the outbox runner's supersede check) always query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sync_core.messages import Entity
from sync_core.store_json import decode_json

__all__ = ["CachedReads", "ReadCache"]

Select = Callable[[str, str, tuple[Any, ...]], list[Any]]
Check = Callable[[], int]  # the backend's token now (module docstring)

_INBOX = "SELECT message_id FROM inbox"


class ReadCache:
    """The inbox and the entities of the kinds loaded, current as of ``token``."""

    def __init__(self) -> None:
        self.token: int | None = None
        self.inbox: set[str] | None = None  # None: not loaded
        # kind -> key -> the entity, or (version, JSON text) until first read
        self.kinds: dict[str, dict[str, Entity | tuple[int, str]]] = {}
        self.epoch = 0  # bumped at every commit of the store, and at every clear

    def clear(self) -> None:
        self.token, self.inbox, self.kinds = None, None, {}
        self.epoch += 1

    def checked(self, last: int) -> None:
        """The token is ``last``: keep what is cached only if it is ours."""
        if last != self.token:
            self.clear()
            self.token = last

    def committed(
        self,
        before: int,
        after: int,
        inbox: Iterable[str],
        entities: Mapping[tuple[str, str], tuple[int, str]],
    ) -> None:
        """This store committed these rows; the token was ``before`` just before its commit
        (if that is the cache's, nobody else committed unseen) and is ``after`` now."""
        if self.token is None or before != self.token:
            self.clear()
            return
        self.token = after
        self.epoch += 1
        if self.inbox is not None:
            self.inbox.update(inbox)
        for (kind, key), row in entities.items():
            known = self.kinds.get(kind)
            if known is not None:
                known[key] = row


class CachedReads:
    """A :class:`~sync_core.messages.StateView` over a :class:`ReadCache` (module docstring).

    ``kind_sql`` loads one kind's ``key, version, data`` (one placeholder: the kind).
    """

    def __init__(self, cache: ReadCache, select: Select, check: Check, kind_sql: str) -> None:
        self._cache, self._select, self._check, self._kind_sql = cache, select, check, kind_sql
        self._epoch: int | None = None  # the cache's epoch at this view's last check

    def _current(self) -> ReadCache:
        cache = self._cache
        if self._epoch != cache.epoch:
            cache.checked(self._check())
            self._epoch = cache.epoch
        return cache

    def consumed(self, message_id: str) -> bool:
        cache = self._current()
        if cache.inbox is None:
            cache.inbox = {m for (m,) in self._select("consumed", _INBOX, ())}
        return message_id in cache.inbox

    def entity(self, kind: str, key: str) -> Entity | None:
        cache = self._current()
        known = cache.kinds.get(kind)
        if known is None:
            rows = self._select("entity", self._kind_sql, (kind,))
            known = cache.kinds[kind] = {k: (version, data) for k, version, data in rows}
        held = known.get(key)
        if held is None or isinstance(held, Entity):
            return held
        entity = known[key] = Entity(kind, key, held[0], decode_json(held[1]))
        return entity
