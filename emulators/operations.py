"""Native operations as data: one table per emulator says what its API is.

Theory of operation: every native operation of an emulator is one
:class:`Operation` row: its name (the engine's and the request journal's), the
HTTP method and path under the system's prefix, its parameters (where each
travels, its native name on the wire, its type with the bounds OpenAPI states),
its request model, whether it takes an ``Idempotency-Key``, which body field
carries the correlation id, and the one function that calls the behaviour.
Everything else is built from the rows, so it cannot drift: the FastAPI
routers (:mod:`emulators.web._routes`), the simulation's transport and the
test links (:func:`call_native`), the contract suites' in-process and HTTP
tables, and the check of ``sync_core.connectors.ROUTES`` (in the tests:
``sync_core`` imports nothing of the emulators).

A row's ``call`` takes the behaviour and keywords: each param by its ``name``
(the engine's snake_case name, e.g. ``order_number`` where the ERP's path says
``{OrderNumber}``), ``body`` (the body as the client sent it, in JSON types) and,
when the operation is ``idempotent``, ``idempotency_key``.  A param the caller
does not give takes the row's default, which is the behaviour's own.

This module imports no web framework: a row's annotations may carry FastAPI's
``Path``/``Query``/``Header`` markers, which mean nothing outside an app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from emulators._base import Reply

__all__ = [
    "PROBLEM",
    "REQUIRED",
    "Api",
    "Operation",
    "Param",
    "call_native",
    "keyed_write",
    "operations_by_name",
]

PROBLEM = {
    "description": "Problem details (RFC 9457) naming the field at fault",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
"""The OpenAPI response of every error: problem+json (its schema is added by the app)."""


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""The default of a param the caller must give (a path param, for one)."""

Where = Literal["path", "query", "header"]
BodyKind = Literal["json", "x12", "none"]


@dataclass(frozen=True)
class Param:
    """One parameter: ``name`` as the engine and the behaviour call it, ``wire`` as
    the system names it on the wire (in its path or query, or the header's name;
    ``name`` unless given), ``annotation`` its type with the bounds and description
    OpenAPI states."""

    name: str
    where: Where
    annotation: Any
    default: Any = REQUIRED
    wire: str = ""

    @property
    def native(self) -> str:
        return self.wire or self.name


@dataclass(frozen=True)
class Operation:
    """One native operation of one system (see the module's theory of operation).

    ``body`` is the request model (pydantic) of a JSON body, ``"x12"`` for an
    interchange sent as text, or None; ``body_optional`` lets the body be left out.
    ``also`` lists more (method, path) pairs served by the same operation (the
    ERP's change order is a ``PATCH`` and a ``POST .../changeOrders``); ``aliases``
    are other names callers use for it (the engine says ``post_edi``).
    """

    name: str
    method: str
    path: str
    call: Callable[..., Reply]
    params: tuple[Param, ...] = ()
    body: Any = None
    body_optional: bool = False
    idempotent: bool = False
    traced: bool = False  # takes a traceparent header: the journal's correlation id
    correlation: str | None = None  # else the correlation id is this body field's
    status: int = 200
    responses: Mapping[int | str, Any] = field(default_factory=dict)
    tag: str | None = None
    doc: str | None = None
    openapi_extra: Mapping[str, Any] | None = None  # what OpenAPI cannot infer (a text body)
    also: tuple[tuple[str, str], ...] = ()
    aliases: tuple[str, ...] = ()

    @property
    def body_kind(self) -> BodyKind:
        if self.body is None:
            return "none"
        return "x12" if self.body == "x12" else "json"

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"{self.name} has no param {name!r}")


@dataclass(frozen=True)
class Api:
    """One system's native API: the prefix its paths are under, its operation table,
    the annotations of its ``Idempotency-Key`` and ``traceparent`` headers (the ERP
    documents them; the others only bound them), and its OpenAPI title and summary."""

    system: str
    prefix: str
    operations: tuple[Operation, ...]
    idempotency_header: Any
    trace_header: Any
    title: str = ""
    description: str = ""

    def by_name(self) -> dict[str, Operation]:
        return operations_by_name(self.operations)


def keyed_write(
    name: str, method: str, path: str, body: Any, *, correlation: str, **row: Any
) -> Operation:
    """The common row: a traced write of a whole body under an ``Idempotency-Key``,
    answered by the behaviour's method ``name(body, idempotency_key)``; ``correlation``
    names the body field that carries the correlation id."""

    def call(behaviour: Any, body: Any, idempotency_key: str | None) -> Reply:
        method_: Callable[..., Reply] = getattr(behaviour, name)
        return method_(body, idempotency_key)

    return Operation(name, method, path, call, body=body, idempotent=True, traced=True,
                     correlation=correlation, **row)  # fmt: skip


def operations_by_name(table: Iterable[Operation]) -> dict[str, Operation]:
    """The rows by every name callers use for them (aliases included)."""
    found: dict[str, Operation] = {}
    for op in table:
        for name in (op.name, *op.aliases):
            found[name] = op
    return found


def call_native(
    op: Operation,
    behaviour: Any,
    params: Mapping[str, Any],
    body: Any = None,
    idempotency_key: str | None = None,
) -> Reply:
    """Call ``op`` on ``behaviour`` in-process, as the HTTP route would: ``params`` by
    their names (a param left out takes the row's default; unknown ones are ignored,
    as a connector ignores them)."""
    kw: dict[str, Any] = {}
    for p in op.params:
        if p.name in params:
            kw[p.name] = params[p.name]
        elif p.default is REQUIRED:
            raise KeyError(f"{op.name}: param {p.name!r} missing")
        else:
            kw[p.name] = p.default
    if op.body is not None:
        kw["body"] = body
    if op.idempotent:
        kw["idempotency_key"] = idempotency_key
    return op.call(behaviour, **kw)
