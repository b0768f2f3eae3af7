"""The README's "Change orders (X12 860/865)" section, executed: its 860 is what the core
writes for the revision it describes, its POC02 table is the code list both translators
read, and its scenario loads with the partners it names taking 860s.  (The behaviour it
describes is tested in tests/emulators/test_supplier_changes.py,
tests/sync_core/test_change_orders.py, tests/scenarios/test_library_changes.py and
tests/live/test_live_change_orders.py.)"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from emulators.x12 import CHANGE_CODES, Interchange
from scenarios.sim.changes import change_order_partners
from scenarios.spec.load import load_scenario
from scenarios.spec.masterdata import generate
from sync_core.mappers.x12 import write_860
from sync_core.mappers.x12._change import CHANGE_CODES as CORE_CODES
from tests.builders import purchase_order

README = (Path(__file__).parents[2] / "README.md").read_text()
SECTION = README.split("### Change orders (X12 860/865)", 1)[1].split("\n### ", 1)[0]


def block(info: str) -> str:
    found = re.search(rf"```{re.escape(info)}\n(.*?)```", SECTION, re.S)
    assert found, f"README section has no ```{info} block"
    return found.group(1)


def test_the_860_example_is_what_the_core_writes() -> None:
    before = purchase_order()
    gloves = before.lines[0].model_copy(update={"quantity": 4})
    syringes = before.lines[1].model_copy(update={"line_no": 3, "quantity": 6})
    after = before.model_copy(update={"version": 2, "lines": (gloves, syringes)})
    now = dt.datetime(2024, 1, 16, 9, 30)
    text = write_860(
        before, after, sequence=1, sender="HOSPNET01", receiver="SUPP1001", control=1, now=now
    )
    assert text is not None
    [segments] = Interchange.parse(text).sets
    assert block("x12 change_order").split() == ["*".join(s) + "~" for s in segments]


def test_the_poc02_table_is_the_code_list_both_translators_read() -> None:
    table = set(re.findall(r"^\| `(\w\w)`(?: / `(\w\w)`)?", SECTION, re.M))
    codes = {c for row in table for c in row if c}
    assert codes == set(CHANGE_CODES) == set(CORE_CODES)


def test_the_scenario_example_names_the_partners_that_take_860s(tmp_path: Path) -> None:
    path = tmp_path / "two_partners_take_860s.yaml"
    path.write_text(block("yaml change_orders"))
    spec = load_scenario(str(path))
    assert (spec.demand.change_share, spec.demand.change_after_minutes) == (0.2, 240)
    master = generate(spec.network, spec.seed)
    assert change_order_partners(spec, master) == {"SUPP1001", "SUPP1002"}
