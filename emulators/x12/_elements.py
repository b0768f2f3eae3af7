"""X12 elements: the code lists, the error, and the checks every reader shares.

Each helper reads one element of a segment and raises :class:`X12Error` naming
it and its segment's position counted from ST = 1 (``"ACK01 (segment 7)"``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

from emulators._base import gs1_check_digit

ACK_CODES = frozenset("IA AC AR IB BP IC IP IQ DR IE IS SP IH IW IF IR ID".split())  # element 668
BAK_CODES = frozenset("AC AD AE AK AT RD RJ RO".split())  # element 587
UOM_CODES = frozenset("EA BX CA PK CT DZ".split())  # element 355, the ones this network uses
HL_LEVELS = frozenset("S O P I".split())  # element 735: shipment, order, pack, item
PURPOSES = frozenset("00 01 05".split())  # BEG01 (element 353): original, cancel, replace
# PO105 (element 639): contract, current (subject to change), catalog, per each, quoted
PRICE_BASES = frozenset("CT CP CA PE QT".split())
GROUP_CODES = {"850": "PO", "855": "PR", "856": "SH", "810": "IN", "997": "FA",
               "860": "PC", "865": "CA"}  # GS01 (element 479) by ST01  # fmt: skip
_PARENT: dict[str, tuple[str, ...]] = {
    "S": ("",),
    "O": ("S",),
    "P": ("O",),
    "I": ("O", "P"),
}  # HL level → parent levels
_DELIMITERS = ("*", "~", ">")  # what render writes: element, segment, component
# R 1/17 (PO104, IT104): ASCII digits only ("\d" would admit "٣")
_PRICE = re.compile(r"(?=.{1,18}$)([0-9]{1,17}|[0-9]+\.[0-9]+)").fullmatch
# quantities of 15 digits times prices of 17, in cents, summed: exact, never "InvalidOperation"
_EXACT = Context(prec=60)

Segment = list[str]


class X12Error(ValueError):
    """A document that is not valid X12 here; ``segment`` names where, e.g. ``"SE01"``."""

    def __init__(self, segment: str, reason: str) -> None:
        self.segment = segment
        self.reason = reason
        super().__init__(f"{segment}: {reason}")

    @property
    def element(self) -> str:
        """The element (or segment id) at fault, without its position."""
        return self.segment.split(" ", 1)[0]


# -- elements -------------------------------------------------------------------


def _at(element: str, n: int) -> str:
    return f"{element} (segment {n})"


def _el(seg: Sequence[str], i: int) -> str:
    return seg[i] if i < len(seg) else ""


def _where(seg: Sequence[str], i: int, n: int) -> str:
    return _at(f"{seg[0]}{i:02d}", n)


def _is_number(value: str) -> bool:
    """ASCII digits, at most 15: the widest numeric element (R/N0 1/15) of what we read.

    ``str.isdigit`` alone admits "²" (which ``int`` refuses) and 5,000 digits (past
    ``int``'s guard, and past the 28 digits a :class:`Decimal` total keeps exact)."""
    return len(value) <= 15 and value.isascii() and value.isdigit()


def _envelope_int(where: str, value: str, digits: int | None = None) -> int:
    if not _is_number(value) or (digits is not None and len(value) != digits):
        size = f"{digits}-digit " if digits else ""
        raise X12Error(where, f"expected a {size}number, got {value!r}")
    return int(value)


def _req(seg: Sequence[str], i: int, n: int) -> str:
    value = _el(seg, i)
    if not value:
        raise X12Error(_where(seg, i, n), "required element is missing")
    return value


def _qty(seg: Sequence[str], i: int, n: int, minimum: int = 0, maximum: int | None = None) -> int:
    value = _el(seg, i)
    if not _is_number(value) or int(value) < minimum:
        raise X12Error(_where(seg, i, n), f"expected a whole number >= {minimum}, got {value!r}")
    if maximum is not None and int(value) > maximum:
        raise X12Error(_where(seg, i, n), f"{value} is more than the limit {maximum}")
    return int(value)


def _code(seg: Sequence[str], i: int, n: int, codes: frozenset[str], what: str) -> str:
    value = _el(seg, i)
    if value not in codes:
        raise X12Error(_where(seg, i, n), f"unknown {what} {value!r}")
    return value


def _date(seg: Sequence[str], i: int, n: int) -> str:
    value = _el(seg, i)
    try:  # by hand: strptime costs ten times as much, and runs for every document
        if len(value) != 8 or not (value.isascii() and value.isdigit()):
            raise ValueError
        dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise X12Error(_where(seg, i, n), f"expected a date CCYYMMDD, got {value!r}") from None
    return value


def _time(seg: Sequence[str], i: int, n: int) -> str:
    value = _el(seg, i)
    if not re.fullmatch(r"([01]\d|2[0-3])[0-5]\d([0-5]\d)?", value, re.ASCII):
        raise X12Error(_where(seg, i, n), f"expected a time HHMM or HHMMSS, got {value!r}")
    return value


def _price(seg: Sequence[str], i: int, n: int, maximum: float | None = None) -> str:
    value = _el(seg, i)
    if not _PRICE(value) or Decimal(value) <= 0:
        raise X12Error(_where(seg, i, n), f"expected a unit price > 0, got {value!r}")
    if maximum is not None and Decimal(value) > Decimal(str(maximum)):
        raise X12Error(_where(seg, i, n), f"{value} is more than the limit {maximum:g}")
    return value


_GS1_KEYS = {"UL": ("GLN", (13,)), "UK": ("GTIN", (14,)), "EN": ("GTIN", (8, 12, 13, 14))}


def _gs1(seg: Sequence[str], i: int, n: int, qualifier: str) -> str:
    """A GS1 key after its qualifier: the right length and a valid check digit."""
    value = _el(seg, i)
    what, lengths = _GS1_KEYS[qualifier]
    if not (value.isascii() and value.isdigit() and len(value) in lengths):
        size = " or ".join(map(str, lengths))
        raise X12Error(_where(seg, i, n), f"a {what} has {size} digits, got {value!r}")
    if gs1_check_digit(value[:-1]) != value[-1]:  # digits, of a GS1 length
        raise X12Error(_where(seg, i, n), f"{what} {value} has a wrong check digit")
    return value


def _ndc(seg: Sequence[str], i: int, n: int) -> str:
    """An NDC after ``N4``: 11 digits (the 5-4-2 billing form), the labeler not all zeros
    (FDA; an NDC has no check digit, so only its shape can be checked)."""
    value = _el(seg, i)
    if not (len(value) == 11 and value.isascii() and value.isdigit() and value[:5] != "00000"):
        raise X12Error(_where(seg, i, n), f"an NDC (N4) has 11 digits, 5-4-2, got {value!r}")
    return value


def _pairs(seg: Sequence[str], start: int, n: int) -> tuple[tuple[str, str], ...]:
    """(qualifier, id) pairs from element ``start`` on, e.g. VC/UK product ids."""
    rest = list(seg[start:])
    if len(rest) % 2:
        raise X12Error(_where(seg, len(seg), n), "a qualifier without its id")
    return tuple((q, v) for q, v in zip(rest[::2], rest[1::2], strict=True) if q or v)


def _ids(vendor_part: str, gtin: str) -> list[str]:
    return (["VC", vendor_part] if vendor_part else []) + (["UK", gtin] if gtin else [])


def _baseline_item(seg: Sequence[str], n: int) -> tuple[int, int, str, str, str, str]:
    """PO1 or IT1 baseline item data: line number, quantity, unit, unit price, and the
    vendor part (VC) and GTIN (UK) of its id pairs (read first, as a partner reads them)."""
    ids = dict(_pairs(seg, 6, n))
    return (
        _qty(seg, 1, n, minimum=1),
        _qty(seg, 2, n, minimum=1),
        _code(seg, 3, n, UOM_CODES, "unit of measure"),
        _price(seg, 4, n),
        ids.get("VC", ""),
        ids.get("UK", ""),
    )


def _trim(seg: Segment) -> Segment:
    """X12 drops trailing empty elements."""
    while len(seg) > 1 and seg[-1] == "":
        seg.pop()
    return seg


def _check_set(segments: Sequence[Sequence[str]], code: str) -> None:
    if not segments or segments[0][0] != "ST" or _el(segments[0], 1) != code:
        got = _el(segments[0], 1) if segments else "nothing"
        raise X12Error(_at("ST01", 1), f"expected a {code}, got {got!r}")


def _close(code: str, body: list[Segment], control: str) -> list[Segment]:
    segs = [["ST", code, control], *body]
    segs.append(["SE", str(len(segs) + 1), control])
    return segs


def cents(qty: int, price: str) -> int:
    """``qty`` times ``price`` in cents, rounded half up."""
    with localcontext(_EXACT):
        return int((Decimal(qty) * Decimal(price) * 100).quantize(Decimal(1), ROUND_HALF_UP))
