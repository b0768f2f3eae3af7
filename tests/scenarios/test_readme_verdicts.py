"""The README's "How a verdict is reached" section, executed: the not-measured messages it
quotes are what the tool says for the runs it describes.  (Its results.json example SLO
entry is held to what the Quickstart's `compare partial_confirmation` writes in
``test_cli.py``, which makes that very run.)"""

from __future__ import annotations

import re
from pathlib import Path

from scenarios.sim.runner import run_architecture
from scenarios.spec.load import load_scenario

README = (Path(__file__).parents[2] / "README.md").read_text()
SECTION = README.split("### How a verdict is reached", 1)[1].split("\n## ", 1)[0]


def quoted(start: str) -> str:
    """The README's backquoted example that starts with ``start``, line breaks joined."""
    text = " ".join(SECTION.split())
    m = re.search(re.escape(start) + r"[^`]*", text)
    assert m, f"README has no example starting {start!r}"
    return m.group(0)


def details(architecture: str) -> list[str]:
    # the run: half a day of demand, 0.2 days to settle, under a nightly batch
    spec = load_scenario(
        "partial_confirmation", overrides={"duration_days": 0.5, "settle_days": 0.2}
    )
    results = run_architecture(spec, architecture).results
    assert results["passed"] is False
    return [s["detail"] for s in results["slos"] if s["status"] == "not measured"]


def test_the_not_measured_examples_are_what_the_tool_says() -> None:
    said = details("batch")
    for example in (
        quoted("not measured: 0 of 1,472 owner updates of po_dispatch"),
        quoted("the run made no owner update of po_acknowledgment"),
    ):
        assert any(example in d for d in said), (example, said)
