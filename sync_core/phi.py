"""PHI-adjacent fields: tokenised with a keyed HMAC where the core first reads them.

Theory of operation
-------------------
A case PO (a case cart, a bill-only implant) names the patient's medical record number
(``PatientMRN``) and the procedure date (``ProcedureDate``): both identifiers under HIPAA's
de-identification standard (45 CFR 164.514(b)(2)(i): medical record numbers, and dates
directly related to an individual).  The core needs neither to keep the systems in step,
so it never holds them.  The one place a foreign document becomes an inbound message of
the core is where a read's reply is handed to the engine
(:class:`~sync_core.drivers.runner.OutboxRunner`, in both drivers); there a
:class:`PhiBoundary` replaces each PHI field of an ERP purchase order (a read-back
document, or every PO of an extract page) by its token before anything else sees it:
the engine, the inbox, the store, the dead letters, the logs, the history.  The ERP's
business events are thin (keys only) and carry no PHI.

A token is ``<kind>-`` and the first 32 hex digits (128 bits) of
HMAC-SHA256(key, field name, 0x1F, value) (RFC 2104; NIST SP 800-107 on truncation):
``PatientMRN`` becomes ``mrn-…``, ``ProcedureDate`` ``date-…``.  The same value gives
the same token under one key, so the hospital, which holds the key, can find a patient's
case POs again (tokenise the MRN, look the token up); without the key a token tells
nothing, and a small value space (a date, an 8-digit MRN) cannot be searched through.
From the two tokens the canonical PO derives its *case reference*
(:attr:`~sync_core.model.PurchaseOrder.case_reference`), the only thing about the case
any target gets (the supplier, in the 850's ``REF*CR``).

The key is the operator's (``SUPPLYSYNC_PHI_KEY``, read by ``supplysync serve core``,
at least 32 characters).  Without one the boundary *redacts*: the fields are dropped,
and no case reference goes out.  A simulated run derives its key from the scenario's
name and seed (:func:`simulation_key`) so that a run is reproducible to the byte: it is
a simulation key, not a secret, for synthetic MRNs only.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from sync_core.messages import Kind

__all__ = [
    "KEY_MIN_LENGTH",
    "PHI_FIELDS",
    "TOKEN_PATTERNS",
    "PhiBoundary",
    "case_reference",
    "key_from_text",
    "simulation_key",
]

# the ERP's PHI fields → the kind their tokens are named by
PHI_FIELDS = {"PatientMRN": "mrn", "ProcedureDate": "date"}
# what a token of each kind looks like: the canonical model takes nothing else
TOKEN_PATTERNS = {kind: rf"^{kind}-[0-9a-f]{{32}}$" for kind in PHI_FIELDS.values()}
KEY_MIN_LENGTH = 32  # characters of an operator's key: at least the hash's 256 bits in hex


def simulation_key(scenario: str, seed: int) -> bytes:
    """The key of a simulated run: derived from the scenario and the seed, so the same
    run gives the same tokens.  Not a secret: anyone with the scenario can derive it."""
    return hashlib.sha256(
        f"supplysync simulation PHI key\x1f{scenario}\x1f{seed}".encode()
    ).digest()


def key_from_text(text: str) -> bytes:
    """An operator's key (``SUPPLYSYNC_PHI_KEY``); ValueError says why it will not do."""
    if len(text.strip()) < KEY_MIN_LENGTH:
        raise ValueError(
            f"must be at least {KEY_MIN_LENGTH} characters (e.g. the output of "
            "python3 -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return text.strip().encode()


def case_reference(mrn_token: str, date_token: str) -> str:
    """The case's reference for a target, from its two tokens: one-way, and unlike the MRN
    token it does not link the patient's other cases."""
    digest = hashlib.sha256(f"{mrn_token}\x1f{date_token}".encode()).hexdigest()
    return f"case-{digest[:32]}"


class PhiBoundary:
    """Replaces the PHI fields of what the core reads by tokens (``key``), or drops them
    (no key).  A document without PHI fields is handed on as it came."""

    def __init__(self, key: bytes | None) -> None:
        self._key = key

    @property
    def tokenising(self) -> bool:
        """True with a key: PHI becomes tokens; False: it is dropped."""
        return self._key is not None

    def token(self, name: str, value: str) -> str:
        """The token of ``value`` of field ``name`` (a key of :data:`PHI_FIELDS`)."""
        assert self._key is not None
        mac = hmac.new(self._key, f"{name}\x1f{value}".encode(), hashlib.sha256)
        return f"{PHI_FIELDS[name]}-{mac.hexdigest()[:32]}"

    def reply(self, kind: Kind, body: Any) -> Any:
        """A read's reply body as the core may hold it."""
        if kind is Kind.ERP_PO_DOCUMENT:
            return self.purchase_order(body)
        if kind is Kind.ERP_PO_PAGE and isinstance(body, dict):
            items = body.get("items")
            if isinstance(items, list) and any(_has_phi(doc) for doc in items):
                return {**body, "items": [self.purchase_order(doc) for doc in items]}
        return body

    def purchase_order(self, doc: Any) -> Any:
        """An ERP purchase order with its PHI fields tokenised (or dropped): a copy, the
        ERP's own document is left as it is."""
        if not _has_phi(doc):
            return doc
        clean = {name: value for name, value in doc.items() if name not in PHI_FIELDS}
        if self._key is not None:
            for name in PHI_FIELDS:
                if name in doc:
                    clean[name] = self.token(name, str(doc[name]))
        return clean


def _has_phi(doc: Any) -> bool:
    return isinstance(doc, dict) and any(name in doc for name in PHI_FIELDS)
