"""What a system answers, shaped like HTTP: a status, a body and headers.

One value for both ends of a call: an emulator's behaviour answers with it (the
emulators call it ``Reply``), and the core reads it as what the system answered (the
core calls it ``Response``, :mod:`sync_core.messages`).  The simulated network hands
one end's value to the other as it is; over HTTP each end builds it from the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Reply"]


@dataclass(frozen=True)
class Reply:
    """A status (0: no answer at all), a JSON-like body, and headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300
