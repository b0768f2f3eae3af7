"""The README's command summary (``### Commands``) against the real parser: every command
path it shows exists, and every option it shows on a line is an option of that command."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from scenarios.cli.main import _parser

ROOT = Path(__file__).parents[2]


def summary() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"### Commands\n\n```\n(.*?)```", text, re.S)
    assert block, "README.md has no ### Commands block"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def choices(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(subs[0].choices) if subs else {}


@pytest.mark.parametrize("line", summary())
def test_each_summary_line_names_a_command_and_its_options(line: str) -> None:
    words = line.split()
    assert words[0] == "supplysync", line
    parsers, path = [_parser()], []
    for word in words[1:]:  # a word "a|b" names alternatives: each must exist
        found = [choices(p).get(w) for p in parsers[:1] for w in word.split("|")]
        if not any(found):
            break
        assert None not in found, f"{word!r} in {line!r}: not every alternative is a command"
        parsers, path = [f for f in found if f is not None], [*path, word]
    assert path or words[1:] == ["--version"], f"no command in {line!r}"
    known = {o for p in parsers for a in p._actions for o in a.option_strings}
    shown = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", line))
    assert shown <= known, (path, sorted(shown - known))
