"""The house rules the README's "Architecture" section states, checked on the source.

Modules stay under ~600 lines and functions under ~80 unless the README lists the exception
with its reason (the tests' modules too), and no package imports itself in a circle (a cycle
is how mixins that call each other through ``TYPE_CHECKING`` stubs start).  Every import
counts, also one under ``TYPE_CHECKING`` or inside a function: a lazy import hides a cycle,
it does not remove it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).parents[1]
# the tests are held to the same sizes: a 700-line test module hides what it tests as well
PACKAGES = ("emulators", "sync_core", "scenarios", "loadtests", "analysis", "tests")
MODULE_LINES = 600
FUNCTION_LINES = 80


def sources() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def readme_exceptions() -> dict[str, str]:
    """``path`` or ``path:function`` -> reason, from the README's list of size exceptions."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.partition("<!-- size exceptions -->")[2].partition("<!-- end -->")[0]
    return dict(re.findall(r"^- `([^`]+)`[^:]*: (.+)$", section, flags=re.M))


def oversized(path: Path, source: str) -> Iterator[str]:
    """``path`` when the module is too long, ``path:function`` for each too-long function."""
    name = str(path.relative_to(ROOT))
    if source.count("\n") > MODULE_LINES:
        yield name
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            if node.end_lineno - node.lineno + 1 > FUNCTION_LINES:
                yield f"{name}:{node.name}"


def imported_modules(path: Path, source: str, known: set[str]) -> set[str]:
    """The project modules ``source`` imports, resolved to modules (not names in them)."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else base)
    return {m for m in found if m in known and m != me}


def import_graph() -> nx.DiGraph:
    paths = list(sources())
    known = {module_name(p) for p in paths}
    graph = nx.DiGraph()
    for path in paths:
        for target in imported_modules(path, path.read_text(encoding="utf-8"), known):
            graph.add_edge(module_name(path), target)
    return graph


def cycles(graph: nx.DiGraph) -> list[list[str]]:
    return sorted(sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1)


def test_no_module_or_function_over_the_house_size_unless_the_readme_says_why() -> None:
    listed = readme_exceptions()
    found = [o for p in sources() for o in oversized(p, p.read_text(encoding="utf-8"))]
    assert [o for o in found if o not in listed] == []
    assert sorted(set(listed) - set(found)) == [], "README lists exceptions that are gone"


def test_no_package_imports_itself_in_a_circle() -> None:
    graph = import_graph()
    assert graph.number_of_edges() > 100, "the import graph is (nearly) empty: nothing was judged"
    assert cycles(graph) == []


def test_the_checks_see_what_they_must() -> None:
    """Injected defects: a long function, a long module and a two-module cycle are found."""
    body = "\n".join(f"    x = {i}" for i in range(FUNCTION_LINES))
    long_function = f"def f():\n{body}\n"
    assert list(oversized(ROOT / "sync_core" / "x.py", long_function)) == ["sync_core/x.py:f"]
    long_module = "x = 1\n" * (MODULE_LINES + 1)
    assert list(oversized(ROOT / "sync_core" / "x.py", long_module)) == ["sync_core/x.py"]
    known = {"sync_core.a", "sync_core.b", "sync_core"}
    a = imported_modules(ROOT / "sync_core" / "a.py", "from sync_core import b\n", known)
    b = imported_modules(ROOT / "sync_core" / "b.py", "from . import a\n", known)
    graph = nx.DiGraph([("sync_core.a", t) for t in a] + [("sync_core.b", t) for t in b])
    assert cycles(graph) == [["sync_core.a", "sync_core.b"]]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_is_read(package: str) -> None:
    assert any(module_name(p).startswith(package) for p in sources())


def test_every_path_the_architecture_section_names_exists() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.partition("### Architecture: where each concept lives")[2].partition("\n## ")[0]
    paths = [p for p in re.findall(r"`([^`\s]+)`", section) if "/" in p]
    assert len(paths) > 20
    assert [p for p in paths if not (ROOT / p).exists()] == []
