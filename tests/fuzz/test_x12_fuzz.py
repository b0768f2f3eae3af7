"""Hypothesis fuzzing of every X12 reader: only the package's own error escapes.

Two translators read X12 here: the supplier network's (``emulators.x12``:
``Interchange.parse`` then ``read_850`` / ``read_855`` / ``read_856`` /
``read_810``) and the sync core's (``sync_core.mappers.x12``:
``parse_interchange`` then the 855, 856 and 810 translators).  Each is fed
random text, random segment lists, and valid documents made by the writers
(an 850 by the core's ``write_850``; an 855, 856 and 810 by the emulator's
renderers) then mutated: a character changed, inserted or cut, an element
replaced by a hostile value (huge numbers, non-ASCII digits, ``nan``, a
delimiter), a segment dropped, doubled or moved.  Whatever the input, a reader
either returns or raises its package's error — ``X12Error`` for the emulator,
``MappingError`` (a ``SyncCoreError``) for the core — within a bounded time;
anything else (``IndexError``, ``decimal.InvalidOperation``, ``OverflowError``,
a bare ``ValueError``) would be a 500 at the supplier network or a message that
crashes the core's engine instead of dead-lettering.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import time
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulators import x12 as emu
from sync_core.errors import SyncCoreError
from sync_core.mappers import x12 as core
from sync_core.model import PurchaseOrder
from tests.builders import GTIN_1, po_lines, purchase_order

STAMP = dt.datetime(2024, 1, 16, 9, 0)
SLOW_S = 2.0  # one read of a few kilobytes; the real figure is well under a millisecond
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _po(version: int = 1, canceled: bool = False) -> PurchaseOrder:
    lines = po_lines(price_2=12.125)
    return purchase_order(version=version, canceled=canceled, lines=lines)


_ACK = emu.PurchaseOrderAck(
    "4500000001", "AC", "20240116",
    (emu.AckLine(1, 10, "CA", "45.50", "NG-M", GTIN_1,
                 (emu.Ack("IA", 6, "CA"), emu.Ack("IB", 4, "CA", "20240201"))),
     emu.AckLine(2, 4, "BX", "12.125", "SY-10", "",
                 (emu.Ack("IS", 4, "BX", None, (("VC", "SY-12"),)),))),
    revision=2,
)  # fmt: skip
_NOTICE = emu.ShipNotice(
    "SH-1", "20240118", "0930",
    (emu.ShippedOrder("4500000001", (emu.ShippedItem(1, 6, "CA", "NG-M", GTIN_1, "L7",
                                                     "20270101"),
                                     emu.ShippedItem(2, 4, "BX", "SY-10"))),
     emu.ShippedOrder("4500000002", (emu.ShippedItem(1, 1, "EA", "GZ-4"),))),
)  # fmt: skip
_INVOICE = emu.Invoice(
    "INV-9", "20240120", "4500000001",
    (emu.InvoiceLine(1, 6, "CA", "45.50", "NG-M", GTIN_1),
     emu.InvoiceLine(2, 4, "BX", "12.125", "SY-10")),
    po_date="20240115",
)  # fmt: skip


def _supplier_doc(group: str, *sets: list[list[str]]) -> str:
    return emu.Interchange("SUPP1001", "HOSPNET01", 17, list(sets)).render(group, STAMP)


VALID = {
    "850": core.write_850(_po(), sender="HOSPNET01", receiver="SUPP1001", control=42, now=STAMP),
    "850 replace": core.write_850(
        _po(version=3), sender="HOSPNET01", receiver="SUPP1001", control=43, now=STAMP
    ),
    "850 cancel": core.write_850(
        _po(2, canceled=True), sender="HOSPNET01", receiver="SUPP1001", control=44, now=STAMP
    ),
    "855": _supplier_doc("PR", emu.render_855(_ACK, "0001")),
    "855 x2": _supplier_doc("PR", emu.render_855(_ACK, "0001"), emu.render_855(_ACK, "0002")),
    "856": _supplier_doc("SH", emu.render_856(_NOTICE, "0001")),
    "810": _supplier_doc("IN", emu.render_810(_INVOICE, "0001")),
}
HOSTILE = [
    "", " ", "0", "-1", "+1", "1_000", "0x10", "1e400", "-1e400", "nan", "inf", "Infinity",
    "1.5", "0.0000001", "9" * 40, "9" * 400, "9" * 5000, "²", "٣٤", "\uff11\uff12",
    "20261340", "20240230", "00000000", "2400", "9999", "\x00", "*", "~", ">", "^", "\r\n",
    "ISA", "ST", "SE", "GS", "é", "\ufeff",
]  # fmt: skip


# -- the readers, whole -------------------------------------------------------------


def read_as_supplier(text: str) -> None:
    """The supplier network's reading: the envelope, then every reader on every set."""
    interchange = emu.Interchange.parse(text)
    for segments in interchange.sets:
        for reader in (emu.read_850, emu.read_855, emu.read_856, emu.read_810):
            with contextlib.suppress(emu.X12Error):
                reader(segments)


def read_as_core(text: str) -> None:
    """The sync core's reading: the envelope, then every translator on every set."""
    _, sets = core.parse_interchange(text)
    for ts in sets:
        readers: list[Callable[[core.TransactionSet], Any]] = [
            core.acknowledgments_from_855,
            core.ship_notices_from_856,
            lambda t: core.invoice_from_810(t, "S1001"),
        ]
        for reader in readers:
            with contextlib.suppress(SyncCoreError):
                _finite(reader(ts))


def _finite(translated: Any) -> None:
    """What the core accepts holds finite numbers: "inf" must not pass a price > 0."""
    for doc in translated if isinstance(translated, list) else [translated]:
        for number in (getattr(doc, "total", 1.0), *(ln.unit_price for ln in doc.lines
                                                    if hasattr(ln, "unit_price"))):  # fmt: skip
            assert math.isfinite(number), doc


def only_own_errors(text: str) -> None:
    for read, own in ((read_as_supplier, emu.X12Error), (read_as_core, SyncCoreError)):
        started = time.perf_counter()
        with contextlib.suppress(own):
            read(text)
        took = time.perf_counter() - started
        assert took < SLOW_S, f"{read.__name__} took {took:.2f} s on {len(text)} characters"


def test_every_valid_document_reads_back_in_both_translators() -> None:
    for name, text in VALID.items():
        emu.Interchange.parse(text)
        _, sets = core.parse_interchange(text)
        assert sets, name
    assert emu.read_850(emu.Interchange.parse(VALID["850"]).sets[0])["lines"]
    assert emu.read_855(emu.Interchange.parse(VALID["855"]).sets[0]) == _ACK
    assert emu.read_856(emu.Interchange.parse(VALID["856"]).sets[0]) == _NOTICE
    assert emu.read_810(emu.Interchange.parse(VALID["810"]).sets[0]) == _INVOICE
    [ts] = core.parse_interchange(VALID["810"])[1]
    assert core.invoice_from_810(ts, "S1001").invoice_number == "INV-9"


# -- random input -------------------------------------------------------------------

_ISA = VALID["855"][:106]


@FUZZ
@given(st.text(max_size=400))
def test_random_text(text: str) -> None:
    only_own_errors(text)


@FUZZ
@given(st.binary(max_size=400), st.sampled_from(["latin-1", "utf-8"]))
def test_random_bytes_after_a_valid_isa(data: bytes, encoding: str) -> None:
    only_own_errors(_ISA + data.decode(encoding, errors="replace"))


_TAGS = "ST SE BEG BAK REF N1 PO1 ACK CTT BSN HL PRF LIN SN1 DTM BIG IT1 TDS".split()
_ELEMENT = st.one_of(st.sampled_from(HOSTILE), st.text(alphabet="0123456789.-AZ", max_size=6))
_SEGMENT = st.builds(
    lambda tag, rest: [tag, *rest],
    st.sampled_from(_TAGS),
    st.lists(_ELEMENT, max_size=10),
)


@FUZZ
@given(st.sampled_from(["850", "855", "856", "810"]), st.lists(_SEGMENT, max_size=25))
def test_random_segments_inside_a_set(code: str, body: list[list[str]]) -> None:
    segments = [["ST", code, "0001"], *body, ["SE", str(len(body) + 2), "0001"]]
    for reader in (emu.read_850, emu.read_855, emu.read_856, emu.read_810):
        with contextlib.suppress(emu.X12Error):
            reader(segments)
    ts = core.TransactionSet(code, "0001", tuple(tuple(s) for s in segments))
    for translate in (
        core.acknowledgments_from_855,
        core.ship_notices_from_856,
        lambda t: core.invoice_from_810(t, "S1001"),
    ):
        with contextlib.suppress(SyncCoreError):
            _finite(translate(ts))


# -- mutated valid documents ---------------------------------------------------------


def _segments(text: str) -> list[list[str]]:
    return [s.split("*") for s in text.split("~") if s]


def _join(segments: list[list[str]]) -> str:
    return "~".join("*".join(s) for s in segments) + "~"


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid document with one to four mutations, at the character or segment level."""
    text = VALID[draw(st.sampled_from(sorted(VALID)))]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["char", "insert", "cut", "element", "segment"]))
        if kind in ("char", "insert", "cut"):
            at = draw(st.integers(0, len(text)))
            if kind == "cut":
                text = text[:at] + text[at + draw(st.integers(1, 20)) :]
            else:
                piece = draw(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=3)))
                text = text[:at] + piece + text[at + (kind == "char") :]
            continue
        segments = _segments(text)
        if len(segments) < 2:
            continue
        k = draw(st.integers(1, len(segments) - 1))  # keep the fixed-width ISA
        if kind == "element":
            j = draw(st.integers(0, len(segments[k])))
            value = draw(st.sampled_from(HOSTILE))
            if j < len(segments[k]):
                segments[k][j] = value
            else:
                segments[k].append(value)
        else:
            op = draw(st.sampled_from(["drop", "double", "move"]))
            seg = segments[k]
            if op == "drop":
                del segments[k]
            elif op == "double":
                segments.insert(k, list(seg))
            else:
                del segments[k]
                segments.insert(draw(st.integers(1, len(segments))), seg)
        text = _join(segments)
    return text


@settings(FUZZ, max_examples=600)
@given(mutated())
def test_mutated_valid_documents(text: str) -> None:
    only_own_errors(text)


@FUZZ
@given(st.sampled_from(sorted(VALID)), st.integers(0, 10_000), st.sampled_from(["9", "1"]))
def test_a_huge_number_in_any_numeric_element(name: str, pick: int, digit: str) -> None:
    """Every all-digit element in turn made 40 digits long (past a Decimal's 28-digit
    precision), 400 (past a float's range) or 5,000 (past int()'s 4,300-digit guard)."""
    segments = _segments(VALID[name])
    numeric = [(k, j) for k, s in enumerate(segments[1:], 1) for j, v in enumerate(s) if
               v.replace(".", "", 1).isdigit()]  # fmt: skip
    k, j = numeric[pick % len(numeric)]
    for size in (40, 400, 5000):
        segments[k][j] = digit * size
        only_own_errors(_join(segments))


# -- what the fuzzing found, kept as examples --------------------------------------------


def _with(name: str, tag: str, index: int, value: str) -> str:
    segments = _segments(VALID[name])
    segment = next(s for s in segments if s[0] == tag)
    segment[index] = value
    return _join(segments)


def test_the_supplier_network_refuses_what_once_escaped_as_a_bare_error() -> None:
    for text, where in [
        (_with("855", "SE", 1, "9" * 5000), "SE01"),  # int()'s 4,300-digit guard: ValueError
        (_with("855", "CTT", 1, "²"), "CTT01"),  # isdigit() but not int(): ValueError
    ]:
        try:
            for segments in emu.Interchange.parse(text).sets:
                emu.read_855(segments)
        except emu.X12Error as e:
            assert e.element == where
        else:
            raise AssertionError(f"{where} was accepted")
    for value in ("9" * 5000, "9" * 40):  # IT102: a ValueError, and Decimal's InvalidOperation
        text = _with("810", "IT1", 2, value)
        try:
            emu.read_810(emu.Interchange.parse(text).sets[0])
        except emu.X12Error as e:
            assert e.element == "IT102"
        else:
            raise AssertionError("IT102 was accepted")


def test_the_core_refuses_what_once_escaped_or_passed_as_infinity() -> None:
    for text, where in [
        (_with("810", "TDS", 1, "9" * 400), "TDS01"),  # int / 100: OverflowError
        (_with("855", "PO1", 4, "9" * 400), "PO104"),  # float: inf, and inf > 0 passed
        (_with("855", "PO1", 4, "inf"), "PO104"),
    ]:
        [ts] = core.parse_interchange(text)[1]
        translate = core.acknowledgments_from_855 if ts.code == "855" else core.invoice_from_810
        try:
            translate(ts, *(["S1001"] if ts.code == "810" else []))
        except SyncCoreError as e:
            assert where in str(e)
        else:
            raise AssertionError(f"{where} was accepted")
