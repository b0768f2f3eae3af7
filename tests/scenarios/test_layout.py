"""The scenarios package's layers, checked on the source: each sub-package names one
concept and imports only the layers below it, so none can form an import cycle with
another.  spec (what a scenario is) < errors (exit codes) and command (a sub-command as
data) < sim (virtual time) < live (real HTTP) < plugin and cli (the two ways in)."""

from __future__ import annotations

import ast
from pathlib import Path

SCENARIOS = Path(__file__).parents[2] / "scenarios"
LAYERS = {"spec": 0, "errors": 1, "command": 1, "sim": 2, "live": 3, "plugin": 4, "cli": 4}


def _part(path: Path) -> str:
    parts = path.relative_to(SCENARIOS).parts
    return parts[0] if len(parts) > 1 else path.stem


def _imported_parts(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "scenarios":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith("scenarios."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(
                a.name.split(".")[1] for a in node.names if a.name.startswith("scenarios.")
            )
    return found


def test_each_sub_package_imports_only_the_layers_below() -> None:
    offences = {}
    for path in SCENARIOS.rglob("*.py"):
        part = _part(path)
        if part not in LAYERS:
            continue
        upward = {p for p in _imported_parts(path) - {part} if LAYERS.get(p, -1) >= LAYERS[part]}
        if upward:
            offences[str(path.relative_to(SCENARIOS))] = sorted(upward)
    assert not offences, f"imports of a layer not below: {offences}"


def test_no_flat_modules_left_but_the_shared_ones() -> None:
    flat = sorted(p.name for p in SCENARIOS.glob("*.py") if p.name != "__init__.py")
    assert flat == ["command.py", "errors.py"], flat
