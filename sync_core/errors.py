"""Errors of the sync core: one root, meaning carried in fields.

``retriable`` tells a driver whether trying the same thing again can succeed;
a non-retriable failure is dead-lettered with its ``reason``.
"""

from __future__ import annotations

__all__ = ["MappingError", "SyncCoreError"]


class SyncCoreError(Exception):
    """Root of every error the sync core raises on purpose."""

    retriable: bool = False


class MappingError(SyncCoreError):
    """A native document does not map to the canonical model (or back).

    ``document`` names the document (e.g. ``X12 855``), ``field`` the place in
    it (a segment and element, or a JSON path) and ``reason`` what is wrong.
    """

    retriable = False

    def __init__(self, document: str, field: str, reason: str) -> None:
        self.document = document
        self.field = field
        self.reason = reason
        super().__init__(f"{document}: {field}: {reason}")
