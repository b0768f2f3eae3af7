"""The ERP's API versions as the core follows them: a registry, version → dialect.

Theory of operation
-------------------
The core's ERP mappers (:mod:`sync_core.mappers.erp`, the flows) speak the ERP's base
version.  Each later version the ERP may announce is a :class:`Dialect`: what changed
since the base (fields renamed in the bodies an operation sends and in the replies it
gets, the envelope its business events moved into, headers every call must carry),
registered ahead of the release from its published release notes, as an integration
team does in the ERP's preview environment.  :class:`ErpVersions` follows the version
the ERP announces (``X-ERP-API-Version`` on every reply, ``apiVersion`` in its events)
and translates at the core's boundary with the ERP, so nothing inside the core changes:

=================  ==================================================================
requests out       the body in the current version's names, with its headers
replies in         the body back in the base names, by the version the reply announces
events in          out of the envelope, by the version the event announces
=================  ==================================================================

A reply that announces another version than the request was sent in and refuses it
(4xx) means the release happened while the request was on its way: :meth:`resend` says
to send it again, now in the announced version (the refusal came before the ERP applied
anything, so the idempotency key is still unused).  A version the registry does not know
is not followed: the core keeps its own, and what then fails is dead-lettered as any
mapping error.  A core that ignores releases (the point-to-point baseline, or
``erp.core_follows_releases: false``) simply has no :class:`ErpVersions`.

Sans-IO: a driver's transport (the simulation's, or a connector) calls it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sync_core.messages import Request, Response

__all__ = ["VERSION_HEADER", "Dialect", "ErpVersions"]

VERSION_HEADER = "X-ERP-API-Version"
_EVENT_KEYS = frozenset({"eventId", "eventType", "apiVersion", "sequence"})


def _renamed(doc: Any, names: Mapping[str, str]) -> Any:
    if isinstance(doc, dict):
        return {names.get(k, k): _renamed(v, names) for k, v in doc.items()}
    return [_renamed(v, names) for v in doc] if isinstance(doc, list) else doc


@dataclass(frozen=True)
class Dialect:
    """One version of the ERP's API, against the base: ``requests`` and ``replies`` map
    an operation to {base name: this version's name}; ``envelope`` is the member events
    carry their keys in (None: at the top); ``headers`` go with every call."""

    version: str
    requests: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    replies: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    envelope: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class ErpVersions:
    """The version the core speaks to the ERP (``base`` until the ERP announces a
    registered one) and the translations to and from it."""

    def __init__(self, base: str, dialects: Iterable[Dialect] = ()) -> None:
        self.base = base
        self.registry: dict[str, Dialect] = {base: Dialect(base)}
        for d in dialects:
            self.registry[d.version] = d
        self.current = base
        self.switches: list[str] = []  # the versions followed, in order

    def _follow(self, announced: str | None) -> Dialect | None:
        """The dialect of ``announced`` (None if unknown), followed if newer to the core."""
        if announced is None:
            return self.registry[self.base]
        dialect = self.registry.get(announced)
        if dialect is not None and announced != self.current:
            self.current = announced
            self.switches.append(announced)
        return dialect

    def outgoing(self, request: Request) -> tuple[Request, dict[str, str], str]:
        """``request`` in the current version, the headers it needs, and that version."""
        dialect = self.registry[self.current]
        names = dialect.requests.get(request.operation)
        if names and request.body is not None:
            request = replace(request, body=_renamed(request.body, names))
        return request, dict(dialect.headers), self.current

    def incoming(self, request: Request, response: Response) -> Response:
        """``response`` in the base names, by the version it announces (followed)."""
        dialect = self._follow(_header(response.headers, VERSION_HEADER))
        if dialect is None or not response.ok or response.body is None:
            return response
        names = dialect.replies.get(request.operation)
        if not names:
            return response
        back = {new: old for old, new in names.items()}
        return replace(response, body=_renamed(response.body, back))

    def resend(self, sent: str, response: Response) -> bool:
        """Send again: refused (4xx) by a newer version than it was sent in, one the core
        now follows."""
        announced = _header(response.headers, VERSION_HEADER)
        return (
            400 <= response.status < 500
            and announced is not None
            and announced != sent
            and announced == self.current
        )

    def event(self, event: Any) -> Any:
        """A business event in the base shape, by the version it announces (followed)."""
        if not isinstance(event, dict):
            return event
        announced = event.get("apiVersion")
        dialect = self._follow(announced if isinstance(announced, str) else None)
        if dialect is None or dialect.envelope is None:
            return event
        inner = event.get(dialect.envelope)
        if not isinstance(inner, dict):
            return event
        head = {k: v for k, v in event.items() if k in _EVENT_KEYS}
        return {**inner, **head}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)
