"""An ERP release mid-run: at a set time the ERP's API switches version.

Theory of operation
-------------------
A cloud ERP ships a release every quarter, and a client of its ``latest`` resources
meets the new API the hour its environment is upgraded.  :class:`ErpReleases` is that
upgrade, in front of the ERP's behaviour: from each :class:`Release`'s ``at_s`` on, the
API speaks that release's version.  The behaviour itself never changes; the release
layer translates at the ERP's native boundary (the simulated transport calls
:meth:`ErpReleases.handle`; over HTTP, :mod:`emulators.web.erp_releases` does the same
as ASGI middleware), which is where a real ERP's REST framework versions its resources.

The version is announced on every API reply in ``X-ERP-API-Version`` (the base version
before the first release) and, once a release is in force, in every business event as
``apiVersion``.  Before a release, replies also carry ``Deprecation`` (RFC 9745: the
current version is deprecated from that instant, ``@<unix seconds>``, the ERP's local
clock read as UTC).

A :class:`Release` holds its version's changes *cumulatively* (a release includes those
before it):

===================  ==============================================================
``renames``          document → {old name: new name}: replies carrying the document
                     (:data:`SENT_BY`) use the new names; a body of an operation
                     that takes it (:data:`TAKEN_BY`) must use them: a body still
                     sending an old name is a 400 naming it; the new names are
                     renamed back before the behaviour sees the body
``envelope``         business events move their keys under this member
                     (``{"eventId", "eventType", "apiVersion", "data": {...}}``)
``headers``          every API call must carry each header with its value, else a
                     400 problem naming the header
===================  ==============================================================

A field is renamed wherever it stands in the document (its lines included).  Replies
that are not 2xx are not renamed (problems name the field as the client sent it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from emulators._base import Reply, problem

__all__ = [
    "DOCUMENTS",
    "SENT_BY",
    "TAKEN_BY",
    "VERSION_HEADER",
    "ErpReleases",
    "Release",
    "renamed",
]

VERSION_HEADER = "X-ERP-API-Version"

_PO_WRITES = ("post_purchase_order", "change_purchase_order")
_PO_READS = ("get_purchase_order", "list_purchase_orders")
_PRICE_WRITES = ("create_contract_price", "update_contract_price")
_PRICE_READS = ("get_contract_price", "list_contract_prices")
# operation → the document its reply carries (a page: each of its items)
SENT_BY: Mapping[str, str] = {
    **dict.fromkeys((*_PO_WRITES, *_PO_READS), "purchase_order"),
    **dict.fromkeys((*_PRICE_WRITES, *_PRICE_READS), "contract_price"),
}
# operation → the document its request body is
TAKEN_BY: Mapping[str, str] = {
    **dict.fromkeys(_PO_WRITES, "purchase_order"),
    **dict.fromkeys(_PRICE_WRITES, "contract_price"),
    "post_acknowledgment": "acknowledgment",
    "post_receipt": "receipt",
    "post_invoice_status": "invoice_status",
}
DOCUMENTS = tuple(sorted({*SENT_BY.values(), *TAKEN_BY.values()}))
"""The documents a release may rename a field of."""

_EVENT_KEYS = ("eventId", "eventType", "apiVersion")


def renamed(doc: Any, names: Mapping[str, str]) -> Any:
    """``doc`` (a JSON document) with every member named in ``names`` renamed, at any depth."""
    if isinstance(doc, dict):
        return {names.get(k, k): renamed(v, names) for k, v in doc.items()}
    if isinstance(doc, list):
        return [renamed(v, names) for v in doc]
    return doc


def _found(doc: Any, names: Mapping[str, str]) -> str | None:
    """The first member of ``doc`` (at any depth) named in ``names``, or None."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k in names:
                return str(k)
            inner = _found(v, names)
            if inner is not None:
                return inner
    elif isinstance(doc, list):
        for v in doc:
            inner = _found(v, names)
            if inner is not None:
                return inner
    return None


@dataclass(frozen=True)
class Release:
    """One version of the ERP's API from ``at_s`` (seconds on the ERP's clock) on, with
    every change since the base version (see the module's theory of operation)."""

    version: str
    at_s: float
    renames: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    envelope: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class ErpReleases:
    """The ERP's API versions over time: ``base`` until the first of ``releases``."""

    def __init__(
        self,
        clock: Callable[[], float],
        epoch: dt.datetime,
        base: str,
        releases: Sequence[Release],
    ) -> None:
        self._clock = clock
        self._epoch = epoch
        self.base = base
        self.releases = tuple(sorted(releases, key=lambda r: r.at_s))
        self.started_s = 0.0  # the ERP's clock when the releases' times count from

    def restart(self) -> None:
        """Count the releases' times from now: the base version is back until the first
        (a live run starts the timeline with its own clock, as its faults do)."""
        self.started_s = self._clock()

    def schedule(self) -> list[tuple[str, float]]:
        """Each release's version and when it comes, on the ERP's clock."""
        return [(r.version, self.started_s + r.at_s) for r in self.releases]

    def current(self) -> Release | None:
        """The release in force now, or None before the first."""
        now = self._clock() - self.started_s
        found = None
        for r in self.releases:
            if r.at_s <= now:
                found = r
        return found

    @property
    def version(self) -> str:
        release = self.current()
        return self.base if release is None else release.version

    def handle(
        self,
        operation: str,
        headers: Mapping[str, str],
        body: Any,
        call: Callable[[Any], Reply],
    ) -> Reply:
        """Answer one API call: the release's checks, then ``call(body)`` with the body
        in the behaviour's names, its reply in the release's names."""
        release = self.current()
        checked = self.request(release, operation, headers, body)
        if isinstance(checked, Reply):
            return self.reply(release, operation, checked)
        return self.reply(release, operation, call(checked))

    def request(
        self, release: Release | None, operation: str, headers: Mapping[str, str], body: Any
    ) -> Any:
        """The body in the behaviour's names, or the problem (a :class:`Reply`)."""
        if release is None:
            return body
        given = {k.lower(): v for k, v in headers.items()}
        for name, value in release.headers.items():
            sent = given.get(name.lower())
            if sent != value:
                why = "is required" if sent is None else f"must be {value!r}, not {sent!r}"
                detail = f"header {name} {why} from API version {release.version}"
                return problem(400, "Bad Request", detail, name)
        names = release.renames.get(TAKEN_BY.get(operation, ""), {})
        if not names:
            return body
        old = _found(body, names)
        if old is not None:
            detail = f"{old} was renamed {names[old]} in API version {release.version}"
            return problem(400, "Bad Request", detail, old)
        return renamed(body, {new: o for o, new in names.items()})

    def reply(self, release: Release | None, operation: str, reply: Reply) -> Reply:
        """``reply`` in the release's names, its version announced."""
        headers = {**reply.headers, VERSION_HEADER: self.base if release is None else
                   release.version}  # fmt: skip
        upcoming = self._upcoming()
        if upcoming is not None:
            at = self._epoch + dt.timedelta(seconds=self.started_s + upcoming.at_s)
            headers["Deprecation"] = f"@{int(at.replace(tzinfo=dt.UTC).timestamp())}"
        body = reply.body
        names = {} if release is None else release.renames.get(SENT_BY.get(operation, ""), {})
        if names and reply.ok and body is not None:
            body = renamed(body, names)
        return Reply(reply.status, body, headers)

    def _upcoming(self) -> Release | None:
        now = self._clock() - self.started_s
        return next((r for r in self.releases if r.at_s > now), None)

    def event(self, event: dict[str, Any]) -> dict[str, Any]:
        """A business event as the version in force publishes it."""
        release = self.current()
        if release is None:
            return event
        event = {**event, "apiVersion": release.version}
        if release.envelope is None:
            return event
        head = {k: event[k] for k in _EVENT_KEYS if k in event}
        return {**head, release.envelope: {k: v for k, v in event.items() if k not in head}}
