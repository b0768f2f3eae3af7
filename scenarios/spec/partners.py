"""Trading partners that behave unlike the others: ``suppliers.partners`` of a scenario.

Theory of operation: ``suppliers`` is the profile every trading partner trades on;
``suppliers.partners`` maps a partner's EDI id (``SUPP1001`` for the first supplier of
the network, ``SUPP1002`` for the second...) to the fields of ``suppliers`` it does
otherwise, e.g. ``{SUPP1003: {functional_acks: false}}`` (a partner that never sends a
997) or ``{SUPP1002: {fa_delay: {median_minutes: 360}}}`` (one whose 997s come hours
late).  An override is merged over the suppliers-wide fields (a mapping merges, other
values replace) and validated as a whole profile, so the same rules hold for it.  An
id that is not a partner of the network is an error naming it and the known ids.

This module knows the models only as values (it imports none of them), so the
scenario models can use it without an import cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from emulators.supplier import SupplierProfile

__all__ = ["edi_id", "partner_profiles", "validate_partners"]


def edi_id(index: int) -> str:
    """The EDI id (ISA06/ISA08) of the network's supplier number ``index`` (from 0)."""
    return f"SUPP{1001 + index}"


def _merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        old = out.get(key)
        out[key] = (
            _merged(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
        )
    return out


def _profile_of(behaviour: BaseModel, override: Mapping[str, Any]) -> Any:
    """``behaviour`` with ``override`` merged over it, validated as a whole."""
    base = behaviour.model_dump(exclude={"partners"})
    return type(behaviour).model_validate(_merged(base, override))


def validate_partners(behaviour: BaseModel, partners: Mapping[str, Any], suppliers: int) -> None:
    """ValueError("suppliers.partners.<id>[.<field>]: <reason>") for an unknown partner id
    or an override the suppliers' model refuses (``suppliers``: partners in the network)."""
    known = [edi_id(i) for i in range(suppliers)]
    for partner, override in partners.items():
        at = f"suppliers.partners.{partner}"
        if partner not in known:
            shown = ", ".join(known) if len(known) <= 12 else f"{known[0]}..{known[-1]}"
            raise ValueError(f"{at}: not a trading partner of the network (known: {shown})")
        if not isinstance(override, Mapping):
            raise ValueError(f"{at}: expected a mapping of suppliers' fields")
        if "partners" in override:
            raise ValueError(f"{at}.partners: a partner has no partners of its own")
        try:
            _profile_of(behaviour, override)
        except ValidationError as e:
            first = e.errors()[0]
            where = "".join(f".{p}" for p in first["loc"])
            reason = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
            raise ValueError(f"{at}{where}: {reason.removeprefix('Value error, ')}") from None


def partner_profiles(behaviour: Any, partners: list[str]) -> dict[str, SupplierProfile]:
    """The emulator's profile of each partner in ``partners``: the suppliers-wide one (one
    object, shared), or the partner's own where ``suppliers.partners`` names it."""
    shared: SupplierProfile = behaviour.profile()
    own = {p: _profile_of(behaviour, o).profile() for p, o in behaviour.partners.items()}
    return {p: own.get(p, shared) for p in partners}
