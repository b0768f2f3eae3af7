"""What every emulator shares: replies shaped like HTTP, and the fact journal.

An emulator's behaviour answers with a :class:`Reply` (status, headers, body) so
that the simulated transport and the HTTP adapter hand back the same thing.
Every change an emulator makes to a business fact goes through its
:class:`Journal`, which stamps it with the emulator's clock; the harness turns
those records into the run's history.  The clock is an input: SimPy's ``now``
in simulation, the wall clock in live mode.  A :class:`System` holds what every
emulated system is built with: that journal and clock, the epoch the clock counts
from, the limits its writes are held to, and the listeners its events go to.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeGuard

import orjson

from emulators.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "FactChange",
    "Journal",
    "Listener",
    "Reply",
    "System",
    "body_cause",
    "canonical_json",
    "check_paging",
    "copy_document",
    "gs1_check_digit",
    "handed_over",
    "is_int",
    "page",
    "problem",
    "read_at_once",
]


_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


@functools.lru_cache(maxsize=1 << 16)
def gs1_check_digit(body: str) -> str:
    """The GS1 mod-10 check digit for ``body`` (a key's digits but the last): from the
    right, weights 3, 1, 3, ...  (What ``stdnum.ean.calc_check_digit`` answers, a
    character at a time; this sums two slices, at a fifth of its cost.)  Kept for the
    keys met lately: the same GTINs and SSCCs are checked again and again (a pack's
    SSCC by the supplier that labels it, its 856 and the WMS), and a look-up costs a
    twentieth of the sums."""
    return str((10 - 3 * sum(map(int, body[-1::-2])) - sum(map(int, body[-2::-2]))) % 10)


def canonical_json(value: Any) -> bytes:
    """``value`` as key-sorted JSON, for digests: orjson (several times the standard
    library's speed, on every write), or the standard library for what orjson
    refuses (an integer past 64 bits) and where orjson's output could stand for
    two values (it writes NaN and infinities as ``null``)."""
    try:
        out: bytes | None = orjson.dumps(value, default=str, option=_SORTED)
    except TypeError:
        out = None
    if out is None or b"null" in out:
        return json.dumps(value, sort_keys=True, default=str).encode()
    return out


def body_cause(system: str, body: Any) -> str:
    """The cause of a write that came without an idempotency key: its content.

    The same request applied twice then shows as the same cause written twice,
    which the harness reports as a duplicate effect.
    """
    return f"{system}:body:{hashlib.sha256(canonical_json(body)).hexdigest()[:16]}"


def copy_document(value: Any) -> Any:
    """A copy of a JSON-like document (dicts, lists, scalars): what a wire would hand
    over, at a tenth of ``copy.deepcopy``'s cost on the hot paths."""
    if isinstance(value, dict):
        out = dict(value)  # scalars copied in C; recurse only into containers
        for k, v in value.items():
            if isinstance(v, _CONTAINERS):
                out[k] = copy_document(v)
        return out
    if isinstance(value, list):
        return [copy_document(v) if isinstance(v, _CONTAINERS) else v for v in value]
    return value


_CONTAINERS = (dict, list)  # a tuple: isinstance takes it at 2/3 of a ``dict | list``'s cost


_reading = threading.local()


@contextlib.contextmanager
def read_at_once() -> Iterator[None]:
    """Within it, on this thread, every reply is read whole (the HTTP adapter encodes
    it) before anything else runs that could change the documents it holds."""
    before = getattr(_reading, "at_once", False)
    _reading.at_once = True
    try:
        yield
    finally:
        _reading.at_once = before


def handed_over(reply: Reply) -> Reply:
    """``reply`` as its caller may keep it: with copies of its documents (they change
    later), unless the caller reads it at once (:func:`read_at_once`)."""
    if getattr(_reading, "at_once", False):
        return reply
    return Reply(reply.status, copy_document(reply.body), dict(reply.headers))


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def problem(status: int, title: str, detail: str, field_path: str | None = None) -> Reply:
    """An RFC 9457 problem reply naming the field at fault."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    if field_path is not None:
        body["field"] = field_path
    return Reply(status, body, {"content-type": "application/problem+json"})


def is_int(value: Any) -> TypeGuard[int]:
    """An integer that is not a bool (JSON's ``true`` is no count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_paging(offset: Any, limit: Any) -> Reply | None:
    """A 400 for an ``offset`` below 0 or a ``limit`` outside 1..500, else None."""
    if not is_int(offset) or offset < 0:
        return problem(400, "Bad Request", "offset must be an integer >= 0", "offset")
    if not is_int(limit) or not 1 <= limit <= 500:
        return problem(400, "Bad Request", "limit must be an integer within 1..500", "limit")
    return None


def page(
    rows: list[Any], offset: int, limit: int, total: int | None = None, *, more: str = "hasMore"
) -> Reply:
    """One page of ``rows``; with ``total``, ``rows`` is the page already cut from that many.
    ``more`` names the flag that says another page follows (vendors spell it differently)."""
    window = rows[offset : offset + limit] if total is None else rows
    total = len(rows) if total is None else total
    body = {"items": window, "count": len(window), "offset": offset, "limit": limit}
    return Reply(200, {**body, more: offset + limit < total})


class FactChange(NamedTuple):
    """One write to a business fact in one system.

    ``cause`` names what made the write (a message or request id), so a write
    applied twice for the same cause can be told from two distinct updates.
    """

    t: float
    system: str
    entity: str
    field: str
    value: Any
    cause: str
    correlation_id: str | None = None


class Journal:
    """Records fact changes for one system, stamped by ``clock``, into ``sink``."""

    def __init__(
        self, system: str, clock: Callable[[], float], sink: Callable[[FactChange], None]
    ) -> None:
        self.system = system
        self._clock = clock
        self._sink = sink

    def record(
        self, entity: str, field_name: str, value: Any, cause: str, correlation_id: str | None
    ) -> None:
        self._sink(
            FactChange(self._clock(), self.system, entity, field_name, value, cause, correlation_id)
        )


Listener = Callable[[dict[str, Any]], None]


class System:
    """What every emulated system is built with.  ``clock`` gives seconds since ``epoch``
    (``_now`` is that instant); ``limits`` bound every document written to it; each
    event it emits goes to every one of ``listeners``."""

    system: str

    def __init__(
        self,
        journal: Journal,
        clock: Callable[[], float],
        epoch: dt.datetime,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self._journal = journal
        self._clock = clock
        self._epoch = epoch
        self._limits = limits
        self.listeners: list[Listener] = []

    def _now(self) -> dt.datetime:
        return self._epoch + dt.timedelta(seconds=self._clock())
