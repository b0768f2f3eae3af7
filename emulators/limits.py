"""How much any one request may ask of an emulator: the bounds, declared once.

Theory of operation: a :class:`Limits` is one frozen settings object, made
where the emulators are assembled (``erp_system(limits=...)``, ``Erp(...,
limits=...)``, ...) and passed explicitly to each behaviour and app; nothing
reads it from a global.  Every emulator enforces the same object in both
worlds:

* over HTTP, before the body is read whole: ``max_body_bytes`` (413
  problem+json naming ``body``, counted as the bytes arrive, with or without
  a ``Content-Length``);
* in the behaviour, before anything changes: :meth:`Limits.check` walks a
  native JSON document once and answers the first string longer than
  ``max_text_length``, list longer than ``max_lines`` or number of a bounded
  field (a quantity, a price, an amount, named per emulator) past its bound,
  as a :class:`Refusal` naming the field (``lines[3].Quantity``); the X12
  reader bounds an interchange's size, segment count, element length, lines,
  quantities and prices the same way, naming segment and element;
* in OpenAPI: :meth:`Limits.document` writes the bounds an app enforces
  (``maxLength``, ``maxItems``, ``maximum``) into its schema, where the request
  models marked a field with :class:`Bounded`, so a client (and schemathesis)
  sees them.

The defaults are generous for real traffic (a hospital PO has 4-10 lines; the
sync core sends one 850 per interchange) and small enough that the worst
accepted request costs milliseconds.  A benchmark that needs larger documents
passes its own ``Limits``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from itertools import repeat
from typing import Any, Literal, NamedTuple

__all__ = ["DEFAULT_LIMITS", "Bound", "Bounded", "Limits", "Refusal"]

Bound = Literal["text", "lines", "quantity", "price", "amount"]
_MARK = "x-supplysync-bound"
# the setting that holds each bound
_SETTING: dict[str, str] = {
    "text": "max_text_length",
    "lines": "max_lines",
    "quantity": "max_quantity",
    "price": "max_price",
    "amount": "max_amount",
}


class Refusal(NamedTuple):
    """What a limit refuses: the field at fault (a JSON path) and why."""

    field: str
    detail: str


@dataclass(frozen=True)
class Limits:
    """The bounds of one emulator's inputs (see the module's theory of operation)."""

    max_body_bytes: int = 1_048_576  # 1 MiB: a 999-line PO is ~150 kB of JSON
    max_lines: int = 999  # entries of any list: PO lines, receipts, prices, ...
    max_text_length: int = 240  # characters of any string (Oracle's description width)
    max_quantity: int = 1_000_000  # any ordered, confirmed, shipped, received, invoiced qty
    max_price: float = 10_000_000.0  # a unit price
    max_amount: float = 1_000_000_000.0  # an invoice's header amount
    max_interchange_bytes: int = 1_048_576  # one X12 interchange (ISA...IEA)
    max_segments: int = 20_000  # segments of one X12 interchange

    def __post_init__(self) -> None:
        for f in fields(self):
            if not getattr(self, f.name) > 0:
                raise ValueError(f"{f.name} must be > 0, got {getattr(self, f.name)!r}")

    def bound(self, kind: Bound) -> int | float:
        value: int | float = getattr(self, _SETTING[kind])
        return value

    def check(self, document: Any, numbers: Mapping[str, Bound] | None = None) -> Refusal | None:
        """The first thing in ``document`` past a limit, in document order, or None.

        Strings (keys too) and lists are bounded wherever they are; a number is
        bounded when its field's name is in ``numbers`` (name → its bound).  One
        pass, no recursion: a deep or wide document costs its size, once.
        """
        numbers = numbers or {}
        if self._fits(document, numbers):
            return None  # the common case, decided without building a single path
        return self._first_refusal(document, numbers)

    def _fits(self, document: Any, numbers: Mapping[str, Bound]) -> bool:
        """Whether nothing in ``document`` is past a limit: the same rules as
        :meth:`check`, by exact type (a JSON document holds no subclasses; anything
        else is left to the full walk), without the paths a refusal names."""
        text, lines = self.max_text_length, self.max_lines
        caps = {name: self.bound(kind) for name, kind in numbers.items()}
        # (field name, value) pairs: a dict's fields, a list's entries under the list's
        # name, the document under ""; a scalar is decided where it is read, and only a
        # container's pairs go on the stack
        stack: list[Iterable[tuple[Any, Any]]] = [(("", document),)]
        pop, push = stack.pop, stack.append
        while stack:
            for name, value in pop():
                if type(name) is not str or len(name) > text:
                    return False
                kind = type(value)
                if kind is str:
                    if len(value) > text:
                        return False
                elif kind is int or kind is float:
                    if name in caps and value > caps[name]:
                        return False
                elif kind is dict:
                    push(value.items())
                elif kind is list:
                    if len(value) > lines:
                        return False
                    push(zip(repeat(name), value))
                elif kind is not bool and value is not None:
                    return False
        return True

    def _first_refusal(self, document: Any, numbers: Mapping[str, Bound]) -> Refusal | None:
        stack: list[tuple[str, str, Any]] = [("", "", document)]
        while stack:
            path, name, value = stack.pop()
            if isinstance(value, str):
                if len(value) > self.max_text_length:
                    return Refusal(path or "body", f"longer than {self.max_text_length} characters")
            elif isinstance(value, dict):
                children = []
                for key, child in value.items():
                    key = str(key)
                    if len(key) > self.max_text_length:
                        detail = f"holds a field name longer than {self.max_text_length} characters"
                        return Refusal(path or "body", detail)
                    children.append((f"{path}.{key}" if path else key, key, child))
                stack.extend(reversed(children))
            elif isinstance(value, list):
                if len(value) > self.max_lines:
                    return Refusal(path or "body", f"more than {self.max_lines} entries")
                stack.extend((f"{path}[{i}]", name, v) for i, v in reversed(list(enumerate(value))))
            elif name in numbers and isinstance(value, int | float) and not isinstance(value, bool):
                kind = numbers[name]
                if value > self.bound(kind):
                    return Refusal(path, f"must be at most {self.bound(kind):g} (the {kind} limit)")
        return None

    def document(self, schema: Any) -> None:
        """Fill the bounds this instance enforces into an OpenAPI or JSON schema, in place,
        where a model marked a field with :class:`Bounded`."""
        stack = [schema]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                kind = node.pop(_MARK, None)
                if kind is not None:
                    keyword = {"text": "maxLength", "lines": "maxItems"}.get(kind, "maximum")
                    node[keyword] = self.bound(kind)
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Bounded:
    """An ``Annotated`` marker of a model field whose bound comes from the app's
    :class:`Limits`: filled into the schema by :meth:`Limits.document`, enforced by
    the behaviour (so an app with other limits documents and enforces its own)."""

    kind: Bound

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> Any:
        schema = handler(core_schema)
        schema[_MARK] = self.kind
        return schema
