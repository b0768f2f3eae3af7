"""Generated and mutated scenario files: ``validate`` and ``run`` exit 0, 1 or 2, never crash.

Random bytes, a valid scenario file mutated line by line and byte by byte, and valid
documents with one field replaced by a generated YAML value, fed to the command line's
``main`` (the console script's entry point).  An exception escaping ``main`` or a
printed traceback (exit 3, a bug) fails the example.  ``run`` only runs documents that
validate small (a few hours, a few dozen POs); one that still runs long is discarded,
not judged.  A few raw-byte examples go through a real ``supplysync`` process too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import signal
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import Any

import yaml
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from scenarios.cli.main import main
from scenarios.spec.load import ScenarioError, load_scenario

_SMALL = {
    "name": "fuzzed",
    "start": "2026-03-02 07:00:00",
    "duration_days": 0.25,
    "settle_days": 0.1,
    "seed": 3,
    "demand": {"pos_per_day": 40},
    "network": {"items": 30, "hospitals": 2, "suppliers": 2},
}
RUN_BOUND_S = 30


def _valid_document() -> dict[str, Any]:
    text = resources.files("scenarios.library").joinpath("partial_confirmation.yaml")
    base = yaml.safe_load(text.read_text(encoding="utf-8"))
    for key, value in _SMALL.items():
        base[key] = {**base[key], **value} if isinstance(value, dict) else value
    return base


VALID = yaml.safe_dump(_valid_document(), sort_keys=False)

yaml_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.dates()
    | st.datetimes(timezones=st.none() | st.just(dt.timezone(dt.timedelta(hours=5)))),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """The valid file with a few line- and byte-level mutations."""
    lines = VALID.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["delete", "duplicate", "value", "insert", "indent"]))
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "value" and ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            value = yaml.safe_dump(draw(yaml_values), default_flow_style=True).strip()
            lines[i] = f"{key}: {value}\n"
        elif kind == "insert":
            lines.insert(i, draw(st.text(max_size=30)) + "\n")
        else:
            lines[i] = " " * draw(st.integers(1, 4)) + lines[i]
        if not lines:
            lines = [""]
    data = bytearray("".join(lines).encode("utf-8"))
    for _ in range(draw(st.integers(0, 2))):  # raw bytes: maybe no longer UTF-8
        at = draw(st.integers(0, max(0, len(data) - 1)))
        data[at:at] = draw(st.binary(min_size=1, max_size=4))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@st.composite
def one_field_replaced(draw: st.DrawFn) -> bytes:
    """A valid document whose one (possibly nested) field holds a generated value."""
    doc = _valid_document()
    node = doc
    while True:
        key = draw(st.sampled_from(sorted(node)))
        if isinstance(node[key], dict) and node[key] and draw(st.booleans()):
            node = node[key]
            continue
        node[key] = draw(yaml_values)
        return yaml.safe_dump(doc, sort_keys=False).encode("utf-8")


scenario_files = st.binary(max_size=400) | mutated() | one_field_replaced()


class _Slow(BaseException):
    """A run past RUN_BOUND_S: not an answer either way (main does not catch it)."""


@contextlib.contextmanager
def _bounded(seconds: int) -> Iterator[None]:
    def alarm(signum: int, frame: FrameType | None) -> None:
        raise _Slow

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _cli(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(err),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")  # a plot's warning is not an answer of the CLI
        code = main(list(args))
    return code, err.getvalue()


def _small_enough(path: Path) -> bool:
    try:
        spec = load_scenario(str(path))
    except ScenarioError:
        return True  # refused fast: exit 2
    return (
        spec.end_s <= 2 * 86400
        and spec.demand.pos_per_day * spec.duration_days <= 200
        and spec.network.items <= 2000
        and spec.network.hospitals * spec.network.suppliers <= 400
    )


fuzz = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@fuzz
@given(content=scenario_files)
def test_validate_answers_0_or_2_and_never_crashes(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzzed.yaml"
        path.write_bytes(content)
        code, err = _cli("scenarios", "validate", str(path))
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert err.startswith(f"supplysync: error: {path}") and err.count("\n") == 1, err


@settings(fuzz, max_examples=10)
@given(content=mutated() | one_field_replaced())
def test_run_answers_0_1_or_2_and_never_crashes(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzzed.yaml"
        path.write_bytes(content)
        if not _small_enough(path):
            reject()
        try:
            with _bounded(RUN_BOUND_S):
                code, err = _cli("run", str(path), "--out", str(Path(tmp) / "out"))
        except _Slow:
            reject()
    assert code in (0, 1, 2), err
    assert "Traceback" not in err


@settings(fuzz, max_examples=4)
@given(content=st.binary(min_size=1, max_size=200))
def test_a_real_process_fed_random_bytes_exits_2_without_a_traceback(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "noise.yaml").write_bytes(content)
        proc = subprocess.run(
            [sys.executable, "-m", "scenarios.cli.main", "scenarios", "validate", "noise.yaml"],
            cwd=tmp, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert proc.returncode in (0, 2), proc.stderr
    assert "Traceback" not in proc.stderr
