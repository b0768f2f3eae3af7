"""What every flow of the engine shares: its configuration, the work under way, the context.

A flow module exports one :class:`Tables` value: which message kinds it handles
(``handlers``), which source it pulls on a batch tick or a feed gap (``pulls``), and
which X12 transaction sets it takes (``sets``); a flow that pulls one source builds it
with :meth:`Tables.pulling`, so its pull and its page handler come from the same list.
Every handler is a plain function
``(flow, work, message, now)``: ``flow`` is the :class:`Flow` context (configuration,
version rules, the stored-PO cache, the way back into the engine's dispatch for the
documents a page carries), ``work`` the :class:`Work` that becomes the decision.
:mod:`sync_core.engine` merges the tables; no flow imports the engine.

Outbound requests are built by :func:`read` and :meth:`Flow.page` (reads, whose
reply comes back as a message), :meth:`Flow.writer` (writes about one entity
version: they share a trace, a priority and what supersedes them), and the two
ways a source's list is paged and pulled, :class:`KeysetList` (by change stamp)
and :class:`CountedList` (by count).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sync_core.errors import MappingError
from sync_core.mappers import x12
from sync_core.messages import DeadLetter, Entity, Inbound, Kind, Request, StateView
from sync_core.model import PurchaseOrder

__all__ = [
    "EPOCH_MARK",
    "MS_EPOCH",
    "CountedList",
    "EngineConfig",
    "Flow",
    "Handler",
    "KeysetList",
    "Pull",
    "SetHandler",
    "Tables",
    "Work",
    "Writer",
    "field_of",
    "read",
    "stamp_ms",
    "stamp_of",
    "traceparent",
]

EPOCH_MARK = "1970-01-01T00:00:00.000"  # the watermark of a source never pulled
MS_EPOCH = dt.datetime(1970, 1, 1)

# The numbered webhook feeds: which feed each event kind counts in ...
_DEFAULT_FEEDS = {
    Kind.ERP_PO_CHANGED: "erp",
    Kind.ERP_MASTER_CHANGED: "erp",
    Kind.SUPPLIER_EDI: "supplier",
    Kind.WMS_RECEIPT_CREATED: "wms",
    Kind.AP_INVOICE_STATUS_CHANGED: "ap",
}
# ... and which sources (keys of the pull tables) a gap in each makes the core pull.
_DEFAULT_CATCH_UP = {"erp": ("erp", "erp_prices"), "supplier": ("supplier",), "wms": ("wms",),
             "ap": ("ap",)}  # fmt: skip


@dataclass(frozen=True)
class EngineConfig:
    our_edi_id: str
    partners: dict[str, str]  # supplier number -> the supplier's EDI id
    page_size: int = 100
    # The point-to-point baseline (architecture ``api``): act on every message as it
    # comes, remembering nothing to drop duplicates or order revisions by.
    naive: bool = False
    # Gap detection on the numbered webhook feeds (``flows.pulls.sequence``): the feed
    # each event kind is numbered in (empty: no gap detection, what an event-only core
    # without it loses), and what a gap in each feed makes the core pull.
    feeds: Mapping[Kind, str] = field(default_factory=lambda: dict(_DEFAULT_FEEDS))
    catch_up: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(_DEFAULT_CATCH_UP))
    # How long a number missing from a webhook feed may be late before the core pulls
    # that source: links reorder by milliseconds, a retried delivery by minutes.
    gap_grace_s: float = 60.0
    # A jump of more than this many numbers is a feed started anew (or far behind):
    # the core pulls at once instead of noting every number as missing.
    max_gap: int = 1000
    # Functional acknowledgments (997) with the partners: answer each group of theirs,
    # track ours.  Off by default (a core set up before 997s behaves as it did).
    functional_acks: bool = False
    # How long an 850 may wait for the partner's 997 before it is an exception of its
    # own ("missing_997"); partners expect one within hours.
    fa_deadline_s: float = 4 * 3600.0
    # The trading-partner tables the 850 draws on beyond the purchase order (parties,
    # contracts, buyer item numbers, descriptions, NDCs, packs): x12.CrossReference.
    xref: x12.CrossReference | None = None
    # The partners (EDI ids) that take a change as an 860 (ASC X12 004010) rather than a
    # replacement 850: their profile says so (sync_core.flows.change_orders).  Empty by
    # default: every change goes out as a replacement 850, as before 860s existed.
    change_orders: frozenset[str] = frozenset()


class Work:
    """A decision under construction, with an overlay so later steps see earlier ones."""

    __slots__ = ("_consumed", "base", "consumed", "dead", "puts", "requests")

    def __init__(self, base: StateView) -> None:
        # one per message: slots and literals, not a dataclass's default factories
        self.base = base
        self.consumed: list[str] = []  # in order, for the decision
        # the same, to look up: a page may carry thousands of documents, and a list
        # searched for each is N²
        self._consumed: set[str] = set()
        self.puts: dict[tuple[str, str], Entity] = {}
        self.requests: list[Request] = []
        self.dead: list[DeadLetter] = []

    def seen(self, message_id: str) -> bool:
        return message_id in self._consumed or self.base.consumed(message_id)

    def consume(self, message_id: str) -> None:
        self.consumed.append(message_id)
        self._consumed.add(message_id)

    def entity(self, kind: str, key: str) -> Entity | None:
        return self.puts.get((kind, key)) or self.base.entity(kind, key)

    def put(self, kind: str, key: str, version: int, data: Any) -> None:
        self.puts[(kind, key)] = Entity(kind, key, version, data)


Handler = Callable[["Flow", Work, Inbound, dt.datetime], None]
Pull = Callable[["Flow", Work], Request]  # the first page of a source since its watermark
SetHandler = Callable[["Flow", Work, x12.TransactionSet, x12.Envelope, dt.datetime], None]


@dataclass(frozen=True)
class Tables:
    """What one flow module adds to the engine (see the module docstring)."""

    handlers: Mapping[Kind, Handler] = field(default_factory=dict)
    pulls: Mapping[str, Pull] = field(default_factory=dict)
    sets: Mapping[str, SetHandler] = field(default_factory=dict)

    @classmethod
    def pulling(
        cls,
        source: str,
        feed: KeysetList | CountedList,
        *,
        pages: Handler,
        handlers: Mapping[Kind, Handler],
        sets: Mapping[str, SetHandler] | None = None,
    ) -> Tables:
        """The tables of a flow that pulls ``source`` through ``feed``: the pull is the
        feed's, and its pages (kind ``feed.reply``) go to ``pages``, after ``handlers``."""
        return cls({**handlers, feed.reply: pages}, {source: feed.pull}, sets or {})


class Flow:
    """The engine as its flows see it: built by :class:`~sync_core.engine.Engine`.

    ``dispatch`` hands a document a page carries back to the engine's dispatch (inbox,
    gap detection, its handler); ``pulls`` and ``sets`` are the engine's merged tables.
    A subclass may change the version rules (:meth:`seen`, :meth:`versioned`): the
    injected defects do.
    """

    def __init__(
        self,
        config: EngineConfig,
        dispatch: Callable[[Work, Inbound, dt.datetime], None],
        pulls: Mapping[str, Pull],
        sets: Mapping[str, SetHandler],
    ) -> None:
        self.config = config
        self.dispatch = dispatch
        self.pulls = pulls
        self.sets = sets
        self.edi_partner = {edi: number for number, edi in config.partners.items()}
        self._po_models: dict[str, tuple[Any, PurchaseOrder]] = {}

    def stored_po(self, known: Entity) -> PurchaseOrder:
        """The stored PO as a model, validated once per stored document: the cache holds
        the document it was made from and answers only for that very object (a model
        is frozen; a store that decodes anew simply misses)."""
        cached = self._po_models.get(known.key)
        if cached is not None and cached[0] is known.data:
            return cached[1]
        po = PurchaseOrder.model_validate(known.data)
        self._po_models[known.key] = (known.data, po)
        return po

    def seen(self, known: Entity | None, version: int) -> bool:
        """True when ``version`` was already acted upon (never, in naive mode)."""
        return not self.config.naive and known is not None and known.version >= version

    def versioned(self, entity: tuple[str, str, int]) -> tuple[str, str, int] | None:
        """What a write of ``entity`` (kind, key, version) is superseded by: a newer one."""
        return None if self.config.naive else entity

    def pull(self, work: Work, source: str) -> None:
        """Ask ``source`` for its first page of changes since its watermark."""
        work.requests.append(self.pulls[source](self, work))

    def page(self, target: str, operation: str, reply: Kind, **params: Any) -> Request:
        """A read of one page of a list, ``page_size`` long, answered as ``reply``."""
        return read(target, operation, reply, **params, limit=self.config.page_size)

    def writer(
        self,
        work: Work,
        trace: str | None = None,
        *,
        critical: bool = False,
        entity: tuple[str, str, int] | None = None,
    ) -> Writer:
        """Writes about one entity version; ``entity`` when a newer one supersedes them."""
        return Writer(work, trace, critical, None if entity is None else self.versioned(entity))


@dataclass(frozen=True, init=False)
class Writer:
    """Builds the writes of one step: they share the trace, priority and superseding."""

    work: Work
    trace: str | None
    critical: bool
    supersedable: tuple[str, str, int] | None

    def __init__(
        self,
        work: Work,
        trace: str | None,
        critical: bool,
        supersedable: tuple[str, str, int] | None,
    ) -> None:
        d = self.__dict__  # one per step: cheaper than the frozen dataclass's own __init__
        d["work"] = work
        d["trace"] = trace
        d["critical"] = critical
        d["supersedable"] = supersedable

    def request(self, target: str, operation: str, body: Any, key: str, **params: Any) -> Request:
        return Request(
            target,
            operation,
            params,
            body=body,
            idempotency_key=key,
            correlation_id=self.trace,
            critical=self.critical,
            supersedable=self.supersedable,
        )

    def __call__(self, target: str, operation: str, body: Any, key: str, **params: Any) -> None:
        """Send ``operation`` to ``target``, keyed ``key`` for the target's idempotency
        (:meth:`request`, written out: a call less for every write the engine makes)."""
        self.work.requests.append(
            Request(target, operation, params, body, key, self.trace, self.critical, None,
                    self.supersedable)
        )  # fmt: skip


@dataclass(frozen=True)
class KeysetList:
    """A source's list of changes read by keyset on their stamps (the ERP's POs, AP's
    invoices): each page starts at the last stamp read (``updated_since``), so a row
    that changes while the extract pages on moves behind the cursor instead of
    shifting another past it.  The rows already read at that stamp are read again
    (their versions say they are not new) rather than skipped by ``offset``: an
    offset counts positions, and a row read there that changes before the next page
    leaves its place, so the offset would skip the unread row behind it.  Only a
    page entirely at one stamp is skipped by ``offset``: nothing else moves the
    extract on, and the list has no key to break a tie by, so a row of such a run
    that changes before the next page can still shift one past it.  The watermark
    ``watermark``/``{mark}`` holds the newest stamp of a complete extract."""

    target: str
    operation: str
    reply: Kind
    mark: str

    def request(self, flow: Flow, updated_since: str, offset: int) -> Request:
        return flow.page(
            self.target, self.operation, self.reply, updated_since=updated_since, offset=offset
        )

    def pull(self, flow: Flow, work: Work) -> Request:
        """The first page since the watermark (inclusive: a row read twice is recognised
        by its version)."""
        known = work.entity("watermark", self.mark)
        return self.request(flow, str(known.data) if known else EPOCH_MARK, 0)

    def page_on(self, flow: Flow, work: Work, message: Inbound, stamps: list[str]) -> None:
        """Ask for the next page after ``message`` (whose rows had ``stamps``), or move the
        watermark at the extract's end: a page lost on the way is read again."""
        query = message.query or {}
        since = str(query.get("updated_since", EPOCH_MARK))
        offset = int(query.get("offset", 0))
        stamps = [s or since for s in stamps]
        last = stamps[-1] if stamps else since
        if message.body.get("hasMore") and stamps:
            # the page ends past where it began: start the next at its last stamp and
            # read that stamp's rows again; a page all at one stamp: skip what was read
            tied = stamps[0] == last
            skip = len(stamps) + (offset if last == since else 0) if tied else 0
            work.requests.append(self.request(flow, last, skip))
            return
        known = work.entity("watermark", self.mark)
        if known is None or last > str(known.data):
            work.put("watermark", self.mark, (known.version if known else 0) + 1, last)


@dataclass(frozen=True)
class CountedList:
    """A source's list paged by a count: WMS receipts by ``offset`` (append-only), the
    supplier mailbox ``after`` a sequence number, contract prices by ``offset``.  The
    version of ``watermark``/``{mark}`` is how far it has been read; without a mark a
    pull reads it all again (versions decide what is new)."""

    target: str
    operation: str
    reply: Kind
    param: str
    mark: str | None = None

    def request(self, flow: Flow, count: int) -> Request:
        return flow.page(self.target, self.operation, self.reply, **{self.param: count})

    def pull(self, flow: Flow, work: Work) -> Request:
        """The first page after what the watermark says was read."""
        known = work.entity("watermark", self.mark) if self.mark is not None else None
        return self.request(flow, known.version if known else 0)

    def page_on(self, flow: Flow, work: Work, count: int, more: bool) -> None:
        """After a page that leaves ``count`` read: move the watermark (if there is one) up
        to ``count``, never back, and ask for the next page after it when there is ``more``."""
        if self.mark is not None:
            known = work.entity("watermark", self.mark)
            if known is None or count > known.version:
                work.put("watermark", self.mark, count, None)
        if more:
            work.requests.append(self.request(flow, count))

    def read_page(
        self,
        flow: Flow,
        work: Work,
        message: Inbound,
        now: dt.datetime,
        document: str,
        more: str,
        inbound: Callable[[Any], Inbound],
    ) -> None:
        """A page of a list paged by position (``param``): hand each of its ``items``, as
        ``inbound(item)``, to the engine's dispatch, then page on past them; ``more`` names
        the page's has-more flag and ``document`` the page in a mapping error."""
        page = message.body
        offset = int((message.query or {}).get(self.param, 0))
        items = field_of(page, "items", document)
        for doc in items:
            flow.dispatch(work, inbound(doc), now)
        self.page_on(flow, work, offset + len(items), bool(page.get(more)))


def read(
    target: str, operation: str, reply: Kind, trace: str | None = None, **params: Any
) -> Request:
    """A read whose reply comes back to the engine as a message of kind ``reply``."""
    return Request(target, operation, params, correlation_id=trace, reply_kind=reply)


@functools.lru_cache(maxsize=4096)  # a PO's documents ask for the same one several times
def traceparent(po_number: str, span: str) -> str:
    """A W3C ``traceparent`` whose trace id is derived from the PO: stable across restarts."""
    trace = hashlib.sha256(po_number.encode()).hexdigest()[:32]
    span_id = hashlib.sha256(f"{po_number}/{span}".encode()).hexdigest()[:16]
    return f"00-{trace}-{span_id}-01"


def stamp_ms(value: Any, document: str) -> int:
    """An ISO 8601 stamp as milliseconds since 1970: an integer source version."""
    try:
        moment = dt.datetime.fromisoformat(str(value)).replace(tzinfo=None)
    except ValueError:
        raise MappingError(
            document, "last_update_date", f"not an ISO 8601 stamp: {value!r}"
        ) from None
    return (moment - MS_EPOCH) // dt.timedelta(milliseconds=1)


def stamp_of(doc: Any, name: str) -> str:
    stamp = doc.get(name) if isinstance(doc, dict) else None
    return stamp if isinstance(stamp, str) else ""


def field_of(body: Any, name: str, document: str) -> Any:
    """``body[name]``, or a :class:`MappingError` naming what is missing from ``document``."""
    if not isinstance(body, dict) or name not in body:
        raise MappingError(document, name, "missing")
    return body[name]
