"""Shared fixtures: small scenario files derived from the library's; how pytest -n splits.

The suite runs on every core (``-n auto --dist loadgroup`` in pyproject.toml), two workers a
core (:func:`pytest_xdist_auto_num_workers`).  A test module
whose tests share a module-scoped fixture (live services, a started cluster, one run judged
over the whole module) or a module-level cache of runs is one ``xdist_group``: its tests run
on one worker, in file order, and the fixture starts (the cache fills) once.  Every other test
goes wherever a worker is free; tests on real servers keep apart by unique names (schemas,
stream prefixes, free ports).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.ports import release_ports


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: two workers for each core this process may run on.  With one a core, a
    third of the machine stood idle over a whole run (vmstat): the live tests mostly wait,
    on fixed load durations, settle times and their child processes, while the simulation
    tests compute.  Two a core let one worker compute while another waits (loadtests/README.md,
    "Test suite time")."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 2 * (cores or 1)


def pytest_collection_finish(session: pytest.Session) -> None:
    """The collector, in a worker: what is loaded by now (pytest, the packages, every test
    module) stays for the whole session, so it is frozen out of the collector's sweeps, and a
    full sweep comes a fifth as often as Python's default.  A run's world (emulators, SimPy
    processes) is cyclic garbage once its test is done, freed only by a full sweep, and
    modules that keep their runs (``functools.cache``) make each full sweep long: the digest
    test spent 17.8 s of its 102.5 s CPU in the collector over a full run, 1.4 s after
    (loadtests/README.md, "Test suite time").  It costs memory, which is not short here: a
    worker's peak went from 1.35 to 2.0 GB on the digest and library tests."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 50)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _memoises(module: ModuleType | None) -> bool:
    """Whether ``module`` keeps results in a cache of its own (``@functools.cache``): its
    tests then share them as they would a module-scoped fixture."""
    return module is not None and any(
        hasattr(value, "cache_info") and getattr(value, "__module__", None) == module.__name__
        for value in vars(module).values()
    )


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the marks into the node ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None or item.get_closest_marker("xdist_group") is not None:
            continue
        scopes = {d.scope for defs in info.name2fixturedefs.values() for d in defs}
        if scopes & {"module", "class", "package"} or _memoises(getattr(item, "module", None)):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


@pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
def pytest_collection_modifyitems_ids(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a ``--dist loadgroup`` worker: the ``@group`` suffix xdist puts on a grouped test's
    id, which is how the controller keeps the group on one worker.  pytest 9.2 keeps node ids
    structured and xdist's write to the old string field no longer shows (pytest-xdist issue
    1386): without this every group is silently spread.  Once xdist has written it, nothing."""
    if not config.getoption("loadgroup", False):
        return
    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})  # fmt: skip
        suffixed = item.nodeid.rfind("@") > item.nodeid.rfind("]")  # as xdist's scheduler reads
        if names and not suffixed and hasattr(item, "_id"):
            from _pytest.nodeid import NodeId

            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(names)}")


@pytest.fixture(autouse=True)
def _ports_held_for_the_test() -> Iterator[None]:
    """The ports a test took with :func:`tests.ports.free_port` are let go when it ends."""
    yield
    release_ports()


@pytest.fixture
def scenario_file(tmp_path: Path) -> Callable[..., Path]:
    """Write partial_confirmation with ``overrides`` merged in; small by default."""

    def write(name: str = "small.yaml", **overrides: Any) -> Path:
        text = resources.files("scenarios.library").joinpath("partial_confirmation.yaml")
        base = yaml.safe_load(text.read_text())
        small = {"duration_days": 1, "demand": {"pos_per_day": 60}, "network": {"items": 60}}
        data = _merge(_merge(base, small), overrides)
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return write
