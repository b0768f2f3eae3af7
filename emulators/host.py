"""An emulator as a running system: behaviour, faults, journals and webhooks together.

Theory of operation: a :class:`Host` wraps one emulator's behaviour.  Every
call of its native API goes through ``invoke``: the fault gate answers first
(an outage, a 429 storm, an injected error), otherwise the behaviour does;
either way the request journal records what was asked and what was answered,
so a test can verify what an integration sent.  The host also keeps the
system's history of business-fact changes (its journal sink) and its webhook
dispatcher.  The simulated transport and the HTTP adapter both call
``invoke``, so faults and journals behave the same in both worlds.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from emulators._base import FactChange, Journal, Reply
from emulators.faults import FaultGate, Faults
from emulators.webhooks import WebhookDispatcher

__all__ = ["Host", "RequestRecord"]

log = logging.getLogger("supplysync.emulators")


class Behaviour(Protocol):
    system: str


class RequestRecord(NamedTuple):
    t: float
    operation: str
    status: int
    idempotency_key: str | None
    correlation_id: str | None


class Host:
    def __init__(
        self,
        system: str,
        clock: Callable[[], float],
        seed: int,
        sink: Callable[[FactChange], None] | None = None,
        *,
        keep_journals: bool = True,
    ) -> None:
        """``sink`` also receives every fact change; ``keep_journals=False`` leaves the
        host's own copies (``history``, ``requests``, for the admin API) empty, for a
        simulation that keeps its own history."""
        self.system = system
        self.clock = clock
        self._seed = seed
        self.history: list[FactChange] = []
        self._sink = sink
        self._keep = keep_journals
        self.journal = Journal(system, clock, self._record)
        self.gate = self._new_gate()
        self.requests: list[RequestRecord] = []
        self.webhooks: WebhookDispatcher | None = None
        self.behaviour: Any = None

    def _new_gate(self) -> FaultGate:
        return FaultGate(
            self.system, self.clock, random.Random(f"{self._seed}/faults/{self.system}")
        )

    def _record(self, change: FactChange) -> None:
        if self._keep:
            self.history.append(change)
        if self._sink is not None:
            self._sink(change)

    def attach(
        self,
        behaviour: Any,
        webhooks: WebhookDispatcher | None = None,
        subscribed: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Bind the behaviour (built with ``self.journal``) and its webhook dispatcher;
        ``subscribed`` picks the events the subscriber asked for (all by default)."""
        self.behaviour = behaviour
        self.webhooks = webhooks
        if webhooks is None or not hasattr(behaviour, "listeners"):
            return
        if subscribed is None:
            behaviour.listeners.append(webhooks.publish)
        else:
            publish = webhooks.publish
            behaviour.listeners.append(lambda event: publish(event) if subscribed(event) else None)

    def invoke(
        self,
        operation: str,
        call: Callable[[], Reply],
        *,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> Reply:
        """Answer one API call: faults first, then the behaviour.  May raise ``Refused``."""
        reply = self.gate.check() or call()
        if self._keep:
            self.requests.append(
                RequestRecord(
                    self.clock(), operation, reply.status, idempotency_key, correlation_id
                )
            )
        if reply.status >= 400 and log.isEnabledFor(logging.INFO):
            detail = reply.body.get("detail") if isinstance(reply.body, dict) else None
            log.info(
                "%s %s answered %s: %s",
                self.system,
                operation,
                reply.status,
                detail,
                extra={"correlation_id": correlation_id or "-"},
            )
        return reply

    # -- control ------------------------------------------------------------

    def set_faults(self, faults: Faults) -> None:
        self.gate.set(faults)
        if self.webhooks is not None:
            self.webhooks.faults = faults.webhooks

    def clear_faults(self) -> None:
        self.set_faults(Faults())

    def reset(self) -> None:
        """Back to an empty system, as if just started: state, journals, faults (and the
        fault draws' random stream), and webhooks — counters at zero, numbering from 1,
        nothing queued or waiting for a retry sent later.  Whoever subscribed to the
        webhooks stays subscribed (the subscription is configuration, not state)."""
        reset = getattr(self.behaviour, "reset", None)
        if callable(reset):
            reset()
        self.history.clear()
        self.requests.clear()
        self.gate = self._new_gate()
        if self.webhooks is not None:
            self.webhooks.reset()

    def snapshot(self) -> dict[str, Any]:
        snap = getattr(self.behaviour, "snapshot", None)
        return snap() if callable(snap) else {}

    def request_journal(self) -> list[dict[str, Any]]:
        return [r._asdict() for r in self.requests]

    def history_records(self) -> list[dict[str, Any]]:
        return [c._asdict() for c in self.history]
