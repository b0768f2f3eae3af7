"""The four emulators' operation tables by system, and their in-process calls.

The simulated transport and the test links carry a request to a behaviour
without HTTP; :func:`native_routes` builds their routes from the same tables as
the web routers, so a call in-process and over HTTP reaches the same behaviour
method with the same arguments.  Importing this module imports no web app.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from emulators._base import Reply
from emulators.operations import Api, call_native
from emulators.web.ap_api import AP_API
from emulators.web.erp_api import ERP_API
from emulators.web.supplier_api import SUPPLIER_API
from emulators.web.wms_api import WMS_API

__all__ = ["APIS", "NativeCall", "native_routes"]

APIS: dict[str, Api] = {api.system: api for api in (ERP_API, SUPPLIER_API, WMS_API, AP_API)}

NativeCall = Callable[[Mapping[str, Any], Any, "str | None"], Reply]
"""A route in-process: (params by the engine's names, body, idempotency key) → reply."""


def native_routes(behaviours: Mapping[str, Any]) -> dict[tuple[str, str], NativeCall]:
    """(system, operation) → its call on ``behaviours[system]``, for every operation of
    every system given, under each name callers use (aliases too)."""
    return {
        (system, name): partial(call_native, op, behaviour)
        for system, behaviour in behaviours.items()
        for name, op in APIS[system].by_name().items()
    }
