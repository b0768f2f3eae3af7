"""Loading a scenario file: library lookup, ``extends``, dotted overrides, errors.

The steps :func:`load_scenario` chains before and after validation, each raising
:class:`ScenarioError` (file, dotted field path, reason) on failure: :func:`_read` finds
the file or the library scenario (a regular file of at most :data:`MAX_FILE_BYTES`, UTF-8 text),
:func:`_resolve` parses it and merges it over its ``extends`` base
(recursively, cycles refused; a document that nests too deeply or expands,
through YAML aliases, past :data:`MAX_NODES` values is refused),
:func:`apply_overrides` sets dotted paths (also what ``supplysync sweep
--param``, parsed by :func:`parse_param`, varies), and :func:`_error` turns
pydantic's first validation error into a :class:`ScenarioError`.
"""

from __future__ import annotations

import copy
import re
import stat
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from scenarios.spec.models import ScenarioSpec

__all__ = [
    "ScenarioError",
    "apply_overrides",
    "library_names",
    "load_scenario",
    "parse_param",
]

MAX_FILE_BYTES = 4 * 1024 * 1024  # the largest library scenario is 2 kB
MAX_NODES = 100_000  # values in a parsed document, aliases expanded (a YAML "billion laughs")


class ScenarioError(Exception):
    """A scenario that cannot be used; ``str()`` names the file, field and reason."""

    def __init__(self, source: str, field: str, reason: str) -> None:
        self.source, self.field, self.reason = source, field, reason
        super().__init__(f"{source}: {field}: {reason}" if field else f"{source}: {reason}")


def library_names() -> list[str]:
    folder = resources.files("scenarios.library")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _library_text(name: str) -> str:
    return resources.files("scenarios.library").joinpath(f"{name}.yaml").read_text("utf-8")


def _file_text(path: Path, what: str = "the file") -> str:
    """The text of a scenario file; ValueError naming ``what`` and why it is not one."""
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise ValueError(f"{what} is a folder, not a scenario file")
        if not stat.S_ISREG(mode):  # a FIFO or a device would block or never end
            raise ValueError(f"{what} is not a regular file")
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise ValueError(f"cannot read {what} ({e.strerror or e})") from None
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"{what} is larger than {MAX_FILE_BYTES >> 20} MiB: not a scenario")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{what} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); "
            "a scenario is YAML saved as UTF-8"
        ) from None


def _read(scenario: str) -> tuple[str, str]:
    path = Path(scenario)
    if path.suffix in (".yaml", ".yml") or path.exists():
        try:
            return str(path), _file_text(path)
        except ValueError as e:
            raise ScenarioError(str(path), "", str(e)) from None
    if scenario in library_names():
        return f"library:{scenario}", _library_text(scenario)
    raise ScenarioError(
        scenario,
        "",
        f"no such file and no library scenario of that name "
        f"(library: {', '.join(library_names())})",
    )


def _parse(source: str, text: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or " ".join(str(e).split())  # one line
        raise ScenarioError(source, where, f"invalid YAML: {problem}") from None
    except RecursionError:
        raise ScenarioError(source, "", "invalid YAML: nested too deeply") from None
    if not isinstance(data, dict):
        raise ScenarioError(source, "", "a scenario must be a YAML mapping")
    _bounded(source, data)
    return data


def _bounded(source: str, data: Any) -> None:
    """Refuse a document of more than MAX_NODES values, aliases counted each time used."""
    stack, seen = [data], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise ScenarioError(
                source, "", f"more than {MAX_NODES} values (aliases expanded): not a scenario"
            )
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``: mappings merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _base_of(source: str, ref: Any) -> str:
    """Where ``extends: ref`` in ``source`` points: a path, or ``library:<name>``."""
    if not isinstance(ref, str) or not ref.strip():
        raise ScenarioError(source, "extends", "must be a file path or a library name")
    if Path(ref).suffix in (".yaml", ".yml"):
        if source.startswith("library:"):
            return f"library:{Path(ref).stem}"
        path = Path(ref)
        return str(path if path.is_absolute() else Path(source).parent / path)
    return f"library:{ref}"


def _resolve(source: str, text: str, chain: tuple[str, ...]) -> dict[str, Any]:
    data = _parse(source, text)
    ref = data.pop("extends", None)
    if ref is None:
        return data
    base = _base_of(source, ref)
    key = base if base.startswith("library:") else str(Path(base).resolve())
    if key in chain:
        names = [c.rsplit("/", 1)[-1] for c in (*chain, key)]
        raise ScenarioError(source, "extends", f"cycle: {' -> '.join(names)}")
    if base.startswith("library:"):
        name = base.removeprefix("library:")
        if name not in library_names():
            raise ScenarioError(
                source,
                "extends",
                f"no library scenario {name!r} (library: {', '.join(library_names())})",
            )
        base_text = _library_text(name)
    else:
        try:
            base_text = _file_text(Path(base), f"the base {base}")
        except ValueError as e:
            raise ScenarioError(source, "extends", str(e)) from None
    return _merge(_resolve(base, base_text, (*chain, key)), data)


def _key(source: str) -> str:
    return source if source.startswith("library:") else str(Path(source).resolve())


def _scalar(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def _set(data: dict[str, Any], path: str, value: Any, source: str) -> None:
    parts = path.split(".")
    if not path or any(not p for p in parts):
        raise ScenarioError(source, path, "not a dotted field path")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(source, where, f"no item {part} in a list of {len(node)}")
            node = node[int(part)]
            continue
        if not isinstance(node, dict):
            raise ScenarioError(source, where, "is not a mapping")
        if node.get(part) is None:
            node[part] = {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ScenarioError(source, path, f"no item {last} in a list of {len(node)}")
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ScenarioError(source, ".".join(parts[:-1]), "is not a mapping")


def apply_overrides(
    data: dict[str, Any], overrides: Mapping[str, Any], *, source: str = "override"
) -> dict[str, Any]:
    """A copy of ``data`` with each dotted path set; a string value is read as YAML.

    Missing mappings on the way are created, so an unknown path reaches
    validation, which names it.  ``data`` itself is not changed.
    """
    out = copy.deepcopy(data)
    for path, value in overrides.items():
        _set(out, path, _scalar(value), source)
    return out


def _split_values(text: str) -> list[str]:
    """Split on commas outside brackets and braces."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def parse_param(text: str) -> tuple[str, list[Any]]:
    """``"faults.erp.outage_minutes=0,60,240"`` -> ``("faults.erp.outage_minutes", [0, 60, 240])``.

    Values are comma-separated YAML scalars (commas inside ``[...]`` or
    ``{...}`` belong to the value).
    """
    path, sep, values = text.partition("=")
    path = path.strip()
    if not sep or not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*", path):
        raise ScenarioError("--param", text, "expected PATH=VALUE[,VALUE...], e.g. seed=1,2")
    raw = _split_values(values)
    if any(not v for v in raw):
        raise ScenarioError("--param", path, f"empty value in {values!r}")
    parsed = []
    for v in raw:
        try:
            parsed.append(yaml.safe_load(v))
        except yaml.YAMLError:
            raise ScenarioError("--param", path, f"{v!r} is not a YAML value") from None
    return path, parsed


_PATH_REASON = re.compile(r"^([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*): (.*)$", re.S)


def _error(source: str, e: ValidationError) -> ScenarioError:
    first = e.errors()[0]
    loc = [str(p) for p in first["loc"] if p != "[key]"]
    if loc[:1] == ["core_faults"]:
        loc = ["faults", "core", *loc[1:]]
    reason = first["msg"]
    if first["type"] == "extra_forbidden":
        reason = "unknown field"
    elif first["type"] == "value_error":
        reason = reason.removeprefix("Value error, ")
        match = _PATH_REASON.match(reason)
        if match:  # "field: reason" from a model validator
            loc, reason = [*loc, match.group(1)], match.group(2)
    elif first["type"] == "literal_error" and "[key]" in [str(p) for p in first["loc"]]:
        reason = f"unknown key ({reason})"
    return ScenarioError(source, ".".join(loc), reason)


def load_scenario(
    scenario: str,
    *,
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ScenarioSpec:
    """Load and validate a scenario file or library name.

    ``extends`` is resolved first, then ``overrides`` (dotted path -> value) are
    applied, then ``seed`` replaces the file's.
    """
    source, text = _read(scenario)
    data = _resolve(source, text, (_key(source),))
    if overrides:
        data = apply_overrides(data, overrides, source=source)
    if seed is not None:
        data["seed"] = seed
    try:
        return ScenarioSpec.model_validate(data)
    except ValidationError as e:
        raise _error(source, e) from None
