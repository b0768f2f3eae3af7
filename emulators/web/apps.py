"""The registry of live emulators: system name -> app factory.

Each factory lives beside its routes (``<system>_app.py``) and takes
``seed``, ``clock`` (callable seconds with an ``epoch``), ``schedule`` and
options such as ``webhook_target``; it returns a ``LiveSystem``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from emulators.web._common import LiveSystem

__all__ = ["FACTORIES", "factory"]

_MODULES = {
    "erp": ("emulators.web.erp_app", "erp_system"),
    "supplier": ("emulators.web.supplier_app", "supplier_system"),
    "wms": ("emulators.web.wms_app", "wms_system"),
    "ap": ("emulators.web.ap_app", "ap_system"),
}


def factory(system: str) -> Callable[..., LiveSystem] | None:
    """The app factory of ``system``, or None while it has no HTTP service."""
    module_name, name = _MODULES[system]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name == module_name:
            return None
        raise
    found: Callable[..., LiveSystem] = getattr(module, name)
    return found


FACTORIES: dict[str, Callable[..., Any]] = {
    system: f for system in _MODULES if (f := factory(system)) is not None
}
