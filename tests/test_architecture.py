"""The package dependency rules (README: How it is built), checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGES = ("emulators", "sync_core", "scenarios", "loadtests", "analysis")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def package_imports(package: str) -> dict[str, set[str]]:
    return {str(p.relative_to(ROOT)): imports_of(p) for p in (ROOT / package).rglob("*.py")}


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("emulators", {"sync_core", "scenarios", "loadtests", "analysis"}),
        ("sync_core", {"emulators", "scenarios", "loadtests", "analysis"}),
        ("analysis", {"emulators", "sync_core", "scenarios", "loadtests", "simpy"}),
    ],
)
def test_package_imports_only_what_it_may(package: str, forbidden: set[str]) -> None:
    offences = {
        f: sorted(i & forbidden) for f, i in package_imports(package).items() if i & forbidden
    }
    assert not offences, f"{package} must not import {sorted(forbidden)}: {offences}"


def test_nothing_but_loadtests_imports_locust() -> None:
    for package in ("emulators", "sync_core", "scenarios", "analysis"):
        for path, found in package_imports(package).items():
            assert "locust" not in found, path


def test_the_top_level_layout_is_fixed() -> None:
    """One distribution whose packages are the five the README names, beside tests/: no new
    top-level package (a shared ``common/`` would join the emulators, another vendor's
    systems, to the middleware under test)."""
    allowed = {"emulators", "sync_core", "scenarios", "loadtests", "analysis", "tests"}
    found = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert found, "no package found at the top level"
    assert found <= allowed, f"top-level packages beyond the layout: {sorted(found - allowed)}"
