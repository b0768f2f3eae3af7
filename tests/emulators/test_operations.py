"""The emulators' operation tables: what is built from them, and the connectors against them.

``sync_core`` imports nothing of the emulators, so its connector table
(``sync_core.connectors.ROUTES``) is a second description of the same APIs; this
test holds it to the emulators' tables row by row: method, path (placeholders by
the engine's param names), query and header names, how the body travels.
"""

from __future__ import annotations

import re

import pytest

from emulators.operations import REQUIRED, Operation, call_native
from emulators.web.tables import APIS, native_routes
from sync_core.connectors import ROUTES

#: operations the core has no use for: master-data discovery for people and other
#: middleware (the core takes its partners and locations from its configuration)
NOT_CALLED = {
    "erp": {"list_locations", "create_location", "get_location"},
    "wms": {"receive_pack"},  # the dock scans a pack by its SSCC; the core receives nothing
}


def _engine_path(system: str, op: Operation) -> str:
    """The row's full path with each placeholder named as the engine names the param."""
    path = APIS[system].prefix + op.path
    for p in op.params:
        path = path.replace(f"{{{p.native}}}", f"{{{p.name}}}")
    return path


@pytest.mark.parametrize("system", sorted(APIS))
def test_the_connectors_call_every_operation_as_the_table_says(system: str) -> None:
    table = APIS[system].by_name()
    ours = {name: route for (target, name), route in ROUTES.items() if target == system}
    assert {op.name for op in APIS[system].operations} - set(ours) == NOT_CALLED.get(system, set())
    for name, route in ours.items():
        op = table[name]
        assert (route.method, route.path) == (op.method, _engine_path(system, op)), name
        assert dict(route.query) == {p.name: p.native for p in op.params if p.where == "query"}
        assert dict(route.headers) == {p.name: p.native for p in op.params if p.where == "header"}
        assert route.body == op.body_kind, name


@pytest.mark.parametrize("system", sorted(APIS))
def test_every_row_calls_a_method_of_its_behaviour(system: str) -> None:
    for op in APIS[system].operations:
        assert re.fullmatch(r"[a-z_]+", op.name), op.name
        placeholders = set(re.findall(r"\{(\w+)\}", op.path))
        assert placeholders == {p.native for p in op.params if p.where == "path"}, op.name
        assert all(p.default is REQUIRED for p in op.params if p.where == "path"), op.name


class _Recorder:
    """A behaviour that answers every call with what it was called with."""

    def __getattr__(self, name: str) -> object:
        return lambda *args, **kw: (name, args, kw)


def test_a_param_left_out_takes_the_rows_default_and_a_path_param_is_required() -> None:
    op = APIS["wms"].by_name()["list_receipts"]
    assert call_native(op, _Recorder(), {"offset": 5}) == (
        "list_receipts", (None, 5, 100), {}
    )  # fmt: skip
    with pytest.raises(KeyError, match="po_nbr"):
        call_native(APIS["wms"].by_name()["get_expected_receipt"], _Recorder(), {})


def test_the_in_process_routes_answer_every_name_the_engine_uses() -> None:
    routes = native_routes({system: _Recorder() for system in APIS})
    assert set(ROUTES) <= set(routes)
    call = routes[("supplier", "post_edi")]  # the engine's name for the EDI door
    assert call({}, "ISA*...", "key-1") == ("receive_edi", ("ISA*...",), {})
