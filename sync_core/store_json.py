"""The durable stores' JSON codec: exact round trips, fast on the hot path.

What a store keeps must be JSON (:mod:`sync_core.store`).  :func:`encode_json`
writes it with orjson (the durable store's hot path); what orjson refuses but
the standard library writes exactly — an integer beyond 64 bits, a lone
surrogate — goes through the standard library instead, marked so that
:func:`decode_json` reads it back exactly too.  :func:`request_to_json` and
:func:`request_from_json` round-trip a :class:`~sync_core.messages.Request`
exactly.  Every failure is a :class:`~sync_core.store.StoreError`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from sync_core.messages import Kind, Request
from sync_core.store import StoreError

__all__ = ["decode_json", "encode_json", "request_from_json", "request_to_json"]


def _not_json(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# orjson first (about 9x the standard library's C encoder on this workload); what it
# refuses but the standard library writes exactly (an integer beyond 64 bits, a lone
# surrogate) goes through the standard library, marked by a leading space so that
# decoding takes the exact path too (orjson reads a big integer as a float).
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# The C encoder made once, without the per-call set-up of ``json.dumps`` and without
# the circular-reference bookkeeping (a cycle ends in RecursionError).
_C_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)  # None without the C speedups
_ENCODE: Any = (
    _C_ENCODER(None, _not_json, json.encoder.encode_basestring_ascii, None, ":", ",",
               False, False, False)
    if _C_ENCODER is not None
    else json.JSONEncoder(allow_nan=False, separators=(",", ":"), check_circular=False,
                          default=_not_json).iterencode
)  # fmt: skip
_DECODER = json.JSONDecoder()
_REQUEST_FIELDS = frozenset(Request.__dataclass_fields__)


def encode_json(value: Any) -> str:
    """Compact JSON of ``value``; :class:`StoreError` when it is not a JSON value.

    A float NaN or infinity is written as ``null`` (orjson's rule): the engine
    never makes one, and nothing it stores is a float that could be.
    """
    try:
        return orjson.dumps(value, default=_not_json, option=_ORJSON_OPTIONS).decode()
    except TypeError:
        pass  # refused by orjson: the standard library may still write it exactly
    try:
        return " " + "".join(_ENCODE(value, 0))
    except (TypeError, ValueError, RecursionError) as e:
        raise StoreError("encode", f"not a JSON value: {e}") from e


def decode_json(text: str) -> Any:
    try:
        return _DECODER.decode(text) if text[:1] == " " else orjson.loads(text)
    except ValueError as e:  # orjson.JSONDecodeError is a ValueError
        raise StoreError("decode", f"stored text is not JSON: {e}") from e


def request_to_json(request: Request) -> str:
    """A request as compact JSON; fields at their default are left out."""
    doc: dict[str, Any] = {"target": request.target, "operation": request.operation}
    if request.params:
        doc["params"] = request.params
    if request.body is not None:
        doc["body"] = request.body
    if request.idempotency_key is not None:
        doc["idempotency_key"] = request.idempotency_key
    if request.correlation_id is not None:
        doc["correlation_id"] = request.correlation_id
    if request.critical:
        doc["critical"] = True
    if request.reply_kind is not None:
        doc["reply_kind"] = request.reply_kind.value
    if request.supersedable is not None:
        doc["supersedable"] = list(request.supersedable)
    return encode_json(doc)


def request_from_json(text: str) -> Request:
    doc = decode_json(text)
    if not isinstance(doc, dict) or not _REQUEST_FIELDS.issuperset(doc):
        raise StoreError("decode", f"not a stored request: {text[:80]!r}")
    try:
        if "reply_kind" in doc:
            doc["reply_kind"] = Kind(doc["reply_kind"])
        if "supersedable" in doc:
            doc["supersedable"] = tuple(doc["supersedable"])
        return Request(**doc)
    except (TypeError, ValueError) as e:
        raise StoreError("decode", f"not a stored request: {e}") from e
