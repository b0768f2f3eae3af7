"""The engine reads an 855 straight into its stored form, without the model: that form is
the model's JSON dump, and the 855s it refuses are the model's, with the same error."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from emulators import x12 as emu
from sync_core.errors import MappingError
from sync_core.mappers import x12
from tests.builders import GTIN_1

_ACK = emu.PurchaseOrderAck(
    "4500000001", "AC", "20240116",
    (emu.AckLine(1, 10, "CA", "45.50", "NG-M", GTIN_1,
                 (emu.Ack("IA", 6, "CA"), emu.Ack("IB", 4, "CA", "20240201"))),
     emu.AckLine(2, 4, "BX", "12.125", "SY-10", "",
                 (emu.Ack("IS", 4, "BX", None, (("VC", "SY-12"),)),
                  emu.Ack("IR", 0, "BX", "20240119")))),
    revision=2,
)  # fmt: skip
_TEXT = emu.Interchange("SUPP1001", "HOSPNET01", 17, [emu.render_855(_ACK, "0001")]).render(
    "PR", dt.datetime(2024, 1, 16, 9, 0)
)
_SET = x12.parse_interchange(_TEXT)[1][0]
# what an element may become: the model's limits (0, 1, -1), codes, dates, junk, and what
# int() and date() read but the inline reading leaves to the checked one (fullwidth digits)
_VALUES = ["", "0", "1", "-1", "2", "0.00", "0.01", "-3.5", "1e400", "nan", "IA", "IB", "IR",
           "EA", "ZZ", "AC", "RJ", "068", "PP", "097", "20240230", "20240131", "00000000",
           "99991231", "0930", "4500000001", "٣٤", " 7", "1_0", "9" * 19, "9" * 18, "inf",
           "1.5", "\uff12\uff10\uff12\uff14\uff10\uff11\uff13\uff11"]  # fmt: skip


def _outcome(read: Callable[[], object]) -> object:
    try:
        return read()
    except MappingError as e:
        return ("error", str(e))


def _both(ts: x12.TransactionSet) -> tuple[object, object]:
    """What the engine's reading and the model's give for ``ts``, or their errors."""
    straight = _outcome(lambda: x12.acknowledgment_json_from_855(ts))
    model = _outcome(lambda: x12.acknowledgments_from_855(ts).model_dump(mode="json"))
    return straight, model


def test_every_element_changed_alone_reads_as_the_model_reads_it() -> None:
    refused = 0
    for where, seg in enumerate(_SET.segments[1:-1], start=1):
        for element in range(1, len(seg)):
            for value in _VALUES:
                changed = list(_SET.segments)
                changed[where] = (*seg[:element], value, *seg[element + 1 :])
                straight, model = _both(dataclasses.replace(_SET, segments=tuple(changed)))
                assert straight == model, (seg[0], element, value)
                refused += isinstance(model, tuple)
    assert refused > 100  # the model's limits were reached, not only good values


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, len(_SET.segments) - 2), st.integers(1, 12),
                  st.sampled_from(_VALUES)),
        max_size=3,
    ),
    st.booleans(),
)  # fmt: skip
def test_the_stored_form_read_straight_is_the_models_dump(
    changes: list[tuple[int, int, str]], revision_sent: bool
) -> None:
    segments = [list(s) for s in _SET.segments]
    if not revision_sent:  # the revision then comes from the dates and ISA13
        segments = [s for s in segments if s[0] != "REF"]
    for where, element, value in changes:
        seg = segments[min(where, len(segments) - 2)]
        seg[min(element, len(seg) - 1) or 1] = value
    straight, model = _both(dataclasses.replace(_SET, segments=tuple(map(tuple, segments))))
    assert straight == model


def test_an_855_reads_into_the_stored_form() -> None:
    stored = x12.acknowledgment_json_from_855(_SET)
    assert stored == x12.acknowledgments_from_855(_SET).model_dump(mode="json")
    assert stored["lines"][0]["acks"][1] == {
        "status": "IB", "quantity": 4, "uom": "CA", "expected_date": "2024-02-01"
    }  # fmt: skip


def test_a_line_ordered_at_zero_is_refused_naming_the_line() -> None:
    segments = [list(s) for s in _SET.segments]
    po1 = next(s for s in segments if s[0] == "PO1")
    po1[2] = "0"
    ts = dataclasses.replace(_SET, segments=tuple(map(tuple, segments)))
    try:
        x12.acknowledgment_json_from_855(ts)
    except MappingError as e:
        assert "PO1 line 1" in str(e) and "ordered_quantity" in str(e)
    else:
        raise AssertionError("an 855 line ordered at 0 was read")
