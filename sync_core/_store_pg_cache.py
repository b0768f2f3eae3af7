"""The PostgreSQL store's read cache: a group's reads without a round trip each.

Theory of operation
-------------------
The engine reads the core's state one key at a time (``consumed``, ``entity``), and
on PostgreSQL each read is a round trip — about four for an X12 855, more than the
engine's own work.  With ``PostgresStore(read_cache=True)`` the reads of a group
commit (:class:`~sync_core.store.GroupCommit`, through :meth:`Store.reader`) go
through a :class:`CachedReads` view of a :class:`ReadCache` instead:

* the **inbox** is loaded whole at the first ``consumed`` (one query), and each
  **kind** of entity whole at the first ``entity`` of that kind (one query on the
  primary key's prefix), so a key that is not there is known absent without asking;
* the store's own commits keep both current (the rows they wrote, as encoded);
* entity data is kept as the JSON text the server holds and decoded on the first
  read of the key, so a cached read returns what a query would have.

*What invalidates it.*  Only ``commit_many`` writes the inbox and the entities, and
each commit takes one number from the ``audit_batch_seq`` sequence, under a
transaction-level advisory lock of the schema, the *commit lock* (in the statement
of its last write, ``store_postgres._INSERT_AUDIT``): commits take the number one at a
time, and a transaction that took one is over before another can.  (So the last write
and the ``COMMIT`` of several writers on one schema take turns, cache or not.)
The cache is *current as of* a number (``token``):

============================================  ============================================
event                                         cache
============================================  ============================================
a view's first read since the store's last    ``check``: the sequence's last number, read
commit                                        under the lock shared (no commit is half way);
                                              not ``token``: another writer committed (or
                                              failed after taking a number) — cleared,
                                              ``token`` = that number
this store commits, number ``token + 1``      nobody took a number since the check: the
                                              rows it wrote are applied, ``token`` = it
this store commits, any other number          another writer committed meanwhile, maybe
                                              before some read was cached: cleared
a commit fails (any way)                      cleared
============================================  ============================================

So a cached read is never older than the view's check, like a query made then; a
view re-checks after every commit of its store.  With one writer per schema the
cache stays valid for the life of the process.  Several writers on one schema (the
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

# the sequence's last number, read once no commit holds the schema's commit lock
CHECK = (
    "SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM audit_batch_seq)"
    " FROM (SELECT pg_advisory_xact_lock_shared(hashtextextended(%s, 0)) OFFSET 0) AS l"
)
_INBOX = "SELECT message_id FROM inbox"
_KIND = "SELECT key, version, data FROM entities WHERE kind = %s"


class ReadCache:
    """The inbox and the entities of the kinds loaded, current as of number ``token``."""

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
        """The sequence's last number is ``last``: keep what is cached only if it is ours."""
        if last != self.token:
            self.clear()
            self.token = last

    def committed(
        self, batch: int, inbox: Iterable[str], entities: Mapping[tuple[str, str], tuple[int, str]]
    ) -> None:
        """This store committed under number ``batch``, writing these rows."""
        if self.token is None or batch != self.token + 1:
            self.clear()
            return
        self.token = batch
        self.epoch += 1
        if self.inbox is not None:
            self.inbox.update(inbox)
        for (kind, key), row in entities.items():
            known = self.kinds.get(kind)
            if known is not None:
                known[key] = row


class CachedReads:
    """A :class:`~sync_core.messages.StateView` over a :class:`ReadCache` (module docstring)."""

    def __init__(self, cache: ReadCache, select: Select, lock_key: str) -> None:
        self._cache, self._select, self._lock_key = cache, select, lock_key
        self._epoch: int | None = None  # the cache's epoch at this view's last check

    def _current(self) -> ReadCache:
        cache = self._cache
        if self._epoch != cache.epoch:
            [(last,)] = self._select("check", CHECK, (self._lock_key,))
            cache.checked(int(last))
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
            rows = self._select("entity", _KIND, (kind,))
            known = cache.kinds[kind] = {k: (version, data) for k, version, data in rows}
        held = known.get(key)
        if held is None or isinstance(held, Entity):
            return held
        entity = known[key] = Entity(kind, key, held[0], decode_json(held[1]))
        return entity
