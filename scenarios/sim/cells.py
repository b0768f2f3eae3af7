"""Where a sweep's cells run: processes on this machine, or a Dask distributed cluster.

Theory of operation.  A sweep is a list of independent cells, each run by one function
(:func:`scenarios.sim.sweep.run_cell`: a scenario and an architecture in, a results document
out).  An executor maps that function over the cells and hands the results back in grid
order, whoever finished first, so the sweep's files do not depend on where a cell ran:

- :func:`local`: in this process (one worker) or a :class:`ProcessPoolExecutor`;
- :func:`dask`: ``distributed.Client(address).map``: the scheduler sends each cell to one of
  its workers.  The function travels pickled *by reference* and the scenario as pickled
  objects, so every worker needs the same supplysync installed (``pip install
  'supplysync[cluster]'``); the client checks the version on each worker before a cell runs.
  A worker lost while it runs a cell (or while it holds a cell's result) is the scheduler's
  to recover from: it runs the cell again on another worker, and a cell that fails is tried
  :data:`RETRIES` more times.  The scheduler logs each lost worker with the tasks it had;
  after the grid, :meth:`CellExecutor.rerun` reads that log, and the sweep names those cells.

Why Dask rather than a cluster of our own: its scheduler is one that users already run and
keep up, with worker-loss recovery, retries and a dashboard; a sweep only needs ``map``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from importlib import metadata
from typing import Any, Protocol, TypeVar

from scenarios.spec.load import ScenarioError

__all__ = ["RETRIES", "CellExecutor", "dask", "executor", "local"]

R = TypeVar("R")
RETRIES = 2  # a cell that raised on a worker runs again this many times before the sweep fails


class CellExecutor(Protocol):
    def map(self, fn: Callable[..., R], *cells: Iterable[Any]) -> Iterator[R]:
        """``fn`` over the cells; the results in the cells' order."""
        ...

    def rerun(self) -> list[int]:
        """After :meth:`map` is exhausted: the cells (their index) that a lost worker was
        running, had queued or held the result of, and that were therefore run again."""
        ...


class _Local:
    def __init__(self, pool: ProcessPoolExecutor | None) -> None:
        self.pool = pool

    def map(self, fn: Callable[..., R], *cells: Iterable[Any]) -> Iterator[R]:
        return map(fn, *cells) if self.pool is None else self.pool.map(fn, *cells)

    def rerun(self) -> list[int]:
        return []  # a local process that dies breaks the pool: the sweep fails, never retries


class _Dask:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.keys: list[str] = []

    def map(self, fn: Callable[..., R], *cells: Iterable[Any]) -> Iterator[R]:
        futures = self.client.map(fn, *cells, retries=RETRIES, pure=False)
        self.keys = [f.key for f in futures]
        return (f.result() for f in futures)

    def rerun(self) -> list[int]:
        again: set[Any] = set()
        for _, event in self.client.get_events("all"):
            if isinstance(event, dict) and event.get("action") == "remove-worker":
                again |= set(event.get("processing-tasks", ()))
                again |= set(event.get("lost-computed-tasks", ()))
        return [i for i, key in enumerate(self.keys) if key in again]


@contextmanager
def local(workers: int) -> Iterator[CellExecutor]:
    """``workers`` processes on this machine (1: in this process, no pool)."""
    if workers <= 1:
        yield _Local(None)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield _Local(pool)


@contextmanager
def dask(address: str, timeout: float) -> Iterator[CellExecutor]:
    """The Dask scheduler at ``address``: unreachable, without a worker, or with a worker
    whose supplysync differs within ``timeout`` seconds is a :class:`ScenarioError`."""
    try:
        import distributed
    except ImportError:
        raise ScenarioError(
            "--cluster", "", "needs Dask's distributed package: pip install 'supplysync[cluster]'"
        ) from None
    try:
        connect: Any = distributed.Client  # untyped: its stubs are not shipped
        client = connect(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError):
        raise ScenarioError(
            address, "", f"no Dask scheduler answered within {timeout:g} s"
        ) from None
    with client:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except TimeoutError:
            raise ScenarioError(
                address, "", f"no Dask worker joined within {timeout:g} s (dask worker {address})"
            ) from None
        _check_workers(client, address)
        yield _Dask(client)


def _check_workers(client: Any, address: str) -> None:
    """Every worker has this supplysync: the cells travel pickled by reference."""
    mine = _installed()
    try:
        theirs: dict[str, str] = client.run(metadata.version, "supplysync")
    except metadata.PackageNotFoundError:
        raise ScenarioError(
            address, "", "a Dask worker has no supplysync installed (pip install it there)"
        ) from None
    for worker, version in sorted(theirs.items()):
        if version != mine:
            raise ScenarioError(
                address, "", f"worker {worker} has supplysync {version}, this machine {mine}"
            )


def _installed() -> str:
    return metadata.version("supplysync")


def executor(
    cluster: str | None, workers: int, timeout: float
) -> AbstractContextManager[CellExecutor]:
    """The executor a sweep asked for: ``cluster`` (a scheduler address) or local processes."""
    return local(workers) if cluster is None else dask(cluster, timeout)
