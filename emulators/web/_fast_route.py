"""A route that answers an ordinary request without FastAPI's per-request introspection.

Theory of operation: FastAPI's request handler works out, on every request, what each
parameter is (its aliases, whether its annotation is a sequence, whether it is JSON)
and parses the body's ``content-type`` with the ``email`` package before it validates
anything.  For a table's route those answers never change, so :class:`FastRoute`
works them out once, when the route is built.  A request then takes the short way
only when it is ordinary: a JSON body sent as exactly ``application/json`` that
parses, every param and the body valid, FastAPI's own telemetry off.  Anything else
(a validation error, another content type, an empty or unparsable body) is handed,
untouched, to the handler FastAPI built for the same route, so every error and every
edge case is answered by FastAPI itself, as before; only what was validated already
is validated again.  The short way validates with the same pydantic validators and
calls the same endpoint with the same arguments, so a valid request gets the same
answer either way.  Routes it cannot shorten (dependencies, cookies, forms, embedded
or several body fields, sequence params) are FastAPI's routes unchanged.
"""

from __future__ import annotations

import copy
import inspect
import json
import types
import typing
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import orjson
from fastapi import params
from fastapi.routing import APIRoute
from pydantic import Json
from pydantic_core import PydanticUndefined
from starlette.requests import Request
from starlette.responses import Response

_telemetry: Callable[[], Any]
try:
    from fastapi.telemetry import get_telemetry_data as _telemetry
except ImportError:  # FastAPI before its native telemetry: nothing to report to
    _telemetry = lambda: None  # noqa: E731

__all__ = ["FastRoute"]

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
_JSON = "application/json"
_SCALARS = (str, int, float, bool, type(None))


def _scalar(annotation: Any) -> bool:
    """A param FastAPI reads as one value: a scalar type, or a union of them."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return all(_scalar(a) for a in typing.get_args(annotation))
    return annotation in _SCALARS


def _key(field: Any) -> str | None:
    """The name FastAPI reads a plain param under (its validation alias, else its
    alias), or None when it reads it some other way (alias choices, a model config)."""
    alias = field.field_info.validation_alias
    if alias is not None and not isinstance(alias, str):
        return None
    if getattr(field, "config", None) or field.field_info.validate_default:
        return None
    if not _scalar(field.field_info.annotation):
        return None
    if any(type(m) is Json for m in field.field_info.metadata):
        return None
    return alias or field.alias


class _Param:
    """One path, query or header param: where it is read, under which name, its
    validator and, when the request leaves it out, its default."""

    __slots__ = ("atomic", "default", "field", "key", "loc", "name", "required", "where")

    def __init__(self, field: Any, where: str, key: str) -> None:
        self.field = field
        self.where = where
        self.name = field.name
        self.key = key  # the request's name for it (a header's own, e.g. If-Match)
        self.loc = (field.field_info.in_.value, self.key)
        self.required = field.field_info.is_required()
        self.default = field.default
        self.atomic = type(field.default) in _SCALARS  # no copy needed of its default


def _params(route: APIRoute) -> list[_Param] | None:
    """The route's params, or None when the route needs FastAPI's general handling."""
    d = route.dependant
    general = (
        d.dependencies or d.cookie_params or d.websocket_param_name
        or d.http_connection_param_name or d.response_param_name
        or d.background_tasks_param_name or d.security_scopes_param_name
        or getattr(route, "_embed_body_fields", True) or len(d.body_params) > 1
        or any(type(f.field_info) is not params.Body or f.field_info.embed
               for f in d.body_params)
        or getattr(route, "is_sse_stream", True) or getattr(route, "is_json_stream", True)
        or not inspect.iscoroutinefunction(d.call)
    )  # fmt: skip
    if general:
        return None
    found: list[_Param] = []
    for where, fields in (("path", d.path_params), ("query", d.query_params),
                          ("header", d.header_params)):  # fmt: skip
        for field in fields:
            key = _key(field)
            if key is None:
                return None
            found.append(_Param(field, where, key))
    return found


def _loads(raw: bytes) -> Any:
    """The body as ``json.loads`` reads it (what FastAPI uses): orjson for speed, the
    standard library for what orjson refuses (NaN, huge integers, a BOM, surrogates)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)  # may raise: then the request is not ordinary


class FastRoute(APIRoute):
    """An :class:`~fastapi.routing.APIRoute` whose ordinary requests take the short way
    (see the module's theory of operation)."""

    def get_route_handler(self) -> Handler:
        full = super().get_route_handler()
        found = _params(self)
        call = self.dependant.call
        if found is None or call is None:
            return full
        body_field = self.dependant.body_params[0] if self.dependant.body_params else None
        request_name = self.dependant.request_param_name

        def solve(request: Request, body: Any) -> dict[str, Any] | None:
            values: dict[str, Any] = {}
            for p in found:
                source: Mapping[str, Any] = (
                    request.path_params if p.where == "path"
                    else request.query_params if p.where == "query"
                    else request.headers
                )  # fmt: skip
                value = source.get(p.key)
                if value is None:
                    if p.required:
                        return None
                    values[p.name] = p.default if p.atomic else copy.deepcopy(p.default)
                    continue
                v, errors = p.field.validate(value, values, loc=p.loc)
                if errors:
                    return None
                values[p.name] = v
            if body_field is not None:
                if body is PydanticUndefined:
                    if body_field.field_info.is_required():
                        return None
                    values[body_field.name] = copy.deepcopy(body_field.default)
                else:
                    v, errors = body_field.validate(body, values, loc=("body",))
                    if errors:
                        return None
                    values[body_field.name] = v
            if request_name is not None:
                values[request_name] = request
            return values

        async def handler(request: Request) -> Response:
            if _telemetry() is not None:
                return await full(request)
            body: Any = PydanticUndefined
            if body_field is not None:
                raw = await request.body()
                if raw:
                    if request.headers.get("content-type") != _JSON:
                        return await full(request)
                    try:
                        body = _loads(raw)
                    except Exception:  # FastAPI answers it, as it always did
                        return await full(request)
            values = solve(request, body)
            if values is None:
                return await full(request)
            response = await call(**values)
            if not isinstance(response, Response):  # the table's endpoints answer Responses
                raise TypeError(f"{self.name} answered {type(response).__name__}")
            return response

        return handler
