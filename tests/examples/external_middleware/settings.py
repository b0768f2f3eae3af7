"""The middleware's settings: one typed object, passed explicitly."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Settings"]

_SUPPLIER = re.compile(r"S([0-9]+)")


@dataclass(frozen=True)
class Settings:
    urls: dict[str, str]  # system → base URL: erp, supplier, wms, ap
    database: Path
    edi_id: str = "EXTMW"  # our ISA06
    partners: dict[str, str] = field(default_factory=dict)  # supplier number → EDI id
    drop_acknowledgments: bool = False  # defect: 855s are ignored
    idempotency_keys: bool = True  # False: the defect of writing without them

    def partner(self, supplier_number: str) -> str | None:
        """The EDI id the supplier network knows a supplier by: the interfaces README's
        rule for scenario networks (``S1001`` trades as ``SUPP1001``) unless configured."""
        if supplier_number in self.partners:
            return self.partners[supplier_number]
        m = _SUPPLIER.fullmatch(supplier_number)
        return f"SUPP{m.group(1)}" if m else None
