"""The engine is sans-IO, checked on its source: no clock, randomness, ids or I/O.

Every module the engine runs (the dispatch, the flows, messages, model, mappers,
errors, the PHI tokens' module, and the injected defects, which wrap the flows) is
parsed, and the test fails on

* an import outside a short allow-list of pure modules: the standard library's
  value types, pydantic, python-stdnum, and the engine's own modules.  So
  ``time``, ``random``, ``uuid``, ``secrets``, ``os``, ``pathlib``, ``socket``,
  ``asyncio``, ``aiohttp``, ``httpx``, ``sqlite3``, ``simpy`` and the store or the
  drivers of the core are all out.  ``logging`` is out too: the engine uses none,
  and what it has to say goes in its decision (a dead letter, an exception entity);
  a driver logs.
* a call that reads a clock whatever it is imported as (``.now()``, ``.utcnow()``,
  ``.today()``), a call through a clock, randomness, id or I/O module
  (``time.time()``, ``random.random()``, ``uuid.uuid4()``, ``os.getenv()``), a
  file method (``.write_text()``, ``.read_text()``...), or a builtin that does I/O
  or escapes the check (``open``, ``print``, ``input``, ``__import__``, ``eval``...).

The checker is itself tested on small sources with a defect injected.  Alongside:
the flows never import the engine back (it merges their tables; a cycle would
bring back the mixins' stubs).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
CORE = ROOT / "sync_core"

ENGINE_MODULES = sorted(
    [
        CORE / "engine.py",
        *CORE.glob("flows/*.py"),
        *CORE.glob("mappers/**/*.py"),
        CORE / "messages.py",
        CORE / "model.py",
        CORE / "phi.py",  # the canonical PO's case reference, and the tokens' shape
        CORE / "errors.py",
        CORE / "defects.py",
    ]
)

ALLOWED_IMPORTS = (
    *("__future__", "abc", "collections", "dataclasses", "datetime", "decimal", "enum"),
    *("functools", "hashlib", "hmac", "itertools", "math", "operator", "re", "types"),
    "typing",
    *("pydantic", "stdnum"),
    *("sync_core.engine", "sync_core.flows", "sync_core.mappers", "sync_core.messages"),
    *("sync_core.model", "sync_core.errors", "sync_core.phi"),
)
# Modules whose functions read a clock, draw randomness, make ids or do I/O.
IMPURE_MODULES = frozenset(
    {
        *("time", "random", "uuid", "secrets", "os", "sys", "io", "pathlib", "shutil"),
        *("subprocess", "socket", "select", "asyncio", "aiohttp", "httpx", "requests"),
        *("urllib", "sqlite3", "logging", "threading", "tempfile", "simpy"),
    }
)
CLOCK_READS = frozenset({"now", "utcnow", "today"})
FILE_METHODS = frozenset(
    {"write_text", "write_bytes", "read_text", "read_bytes", "unlink", "mkdir", "touch"}
)
IMPURE_BUILTINS = frozenset(
    {"open", "print", "input", "breakpoint", "exec", "eval", "compile", "__import__"}
)


def _allowed(module: str) -> bool:
    return any(module == ok or module.startswith(f"{ok}.") for ok in ALLOWED_IMPORTS)


def _root(node: ast.expr) -> str | None:
    """The name an attribute chain starts from: ``time`` for ``time.time``."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def offences(source: str, filename: str = "<source>") -> list[str]:
    """Every import or call in ``source`` that a sans-IO module may not make."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [f"{where} import {a.name}" for a in node.names if not _allowed(a.name)]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level or not _allowed(module):
                found.append(f"{where} from {'.' * node.level}{module} import ...")
        elif isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in IMPURE_BUILTINS:
                found.append(f"{where} {f.id}()")
            elif isinstance(f, ast.Attribute) and (
                f.attr in CLOCK_READS | FILE_METHODS or _root(f) in IMPURE_MODULES
            ):
                found.append(f"{where} {ast.unparse(f)}()")
    return found


def test_the_engine_modules_are_all_checked() -> None:
    names = {p.relative_to(CORE).as_posix() for p in ENGINE_MODULES}
    assert {"engine.py", "flows/base.py", "flows/po.py", "flows/pulls.py"} <= names
    assert all(p.exists() for p in ENGINE_MODULES)


@pytest.mark.parametrize("path", ENGINE_MODULES, ids=lambda p: p.relative_to(CORE).as_posix())
def test_an_engine_module_reads_no_clock_and_does_no_io(path: Path) -> None:
    assert offences(path.read_text(), path.name) == []


def test_no_flow_imports_the_engine() -> None:
    for path in CORE.glob("flows/*.py"):
        tree = ast.parse(path.read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert "sync_core.engine" not in imported, path.name


@pytest.mark.parametrize(
    "source",
    [
        "t = time.time()\n",  # the injected defect the checker must see, no import needed
        "import time\n",
        "from time import monotonic\n",
        "import datetime as dt\nstamp = dt.datetime.now()\n",
        "from datetime import date\nd = date.today()\n",
        "x = dt.datetime.utcnow()\n",
        "import random\n",
        "n = random.random()\n",
        "import uuid\n",
        "i = uuid.uuid4()\n",
        "key = os.getenv('KEY')\n",
        "from pathlib import Path\n",
        "Path('out').write_text('x')\n",
        "text = open('f').read()\n",
        "print('handled')\n",
        "import logging\n",
        "import asyncio\n",
        "import sqlite3\n",
        "from sync_core.store import MemoryStore\n",
        "from . import store\n",
        "mod = __import__('time')\n",
    ],
)
def test_the_checker_flags_an_injected_defect(source: str) -> None:
    assert offences(source)


def test_the_checker_passes_what_the_engine_does_with_time() -> None:
    clean = (
        "import datetime as dt\n"
        "from sync_core.flows.base import Flow\n"
        "def f(now: dt.datetime, s: str) -> str:\n"
        "    later = dt.datetime.fromisoformat(s) + dt.timedelta(seconds=1)\n"
        "    return now.isoformat(timespec='seconds') + later.isoformat()\n"
    )
    assert offences(clean) == []
