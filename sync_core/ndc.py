"""FDA National Drug Codes (NDC): the three 10-digit forms and the 11-digit billing form.

An NDC names a drug product's labeler, product and package.  FDA assigns the
10-digit code in one of three segment layouts, 4-4-2, 5-3-2 or 5-4-1
(labeler-product-package); billing and EDI (X12 product id qualifier ``N4``)
carry it as 11 digits, 5-4-2, with a leading zero padding the short segment.
:func:`to_ndc11` converts, :func:`ndc11_is_plausible` checks the shape of an
11-digit code (digits only, the labeler not all zeros): an NDC has no check
digit, so a typo cannot be caught here, only a malformed code.
"""

from __future__ import annotations

import re

__all__ = ["NDC10_FORMS", "ndc11_is_plausible", "to_ndc11"]

#: the segment lengths of the 10-digit forms (labeler, product, package)
NDC10_FORMS: dict[str, tuple[int, int, int]] = {
    "4-4-2": (4, 4, 2),
    "5-3-2": (5, 3, 2),
    "5-4-1": (5, 4, 1),
}
_HYPHENATED = re.compile(r"(\d+)-(\d+)-(\d+)")


def to_ndc11(ndc10: str) -> str:
    """The 11-digit 5-4-2 billing form of a hyphenated 10-digit NDC (``0338-0049-04``
    gives ``00338004904``); ValueError naming the code for any other shape."""
    match = _HYPHENATED.fullmatch(ndc10)
    lengths = tuple(len(g) for g in match.groups()) if match else ()
    if match is None or lengths not in NDC10_FORMS.values():
        raise ValueError(
            f"NDC {ndc10!r} is not a hyphenated 10-digit code in a 4-4-2, 5-3-2 or 5-4-1 form"
        )
    labeler, product, package = match.groups()
    return f"{labeler:0>5}{product:0>4}{package:0>2}"


def ndc11_is_plausible(ndc11: str) -> bool:
    """An 11-digit NDC whose labeler segment is not all zeros (NDCs carry no check digit)."""
    return len(ndc11) == 11 and ndc11.isdigit() and ndc11[:5] != "00000"
