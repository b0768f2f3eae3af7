"""How a supplier takes a change order (860) and answers it (865 or a revised 855).

Theory of operation: an 860 changes the order-entry record in place, line by
line (POC02, ASC X12 004010 element 670): ``AI`` adds a line, ``DI`` deletes one
(``ordered_qty`` 0, and ``confirmed_qty`` 0 if it had any), ``QI``/``QD``/``PC``/``CA``
change its quantity, price or item.  What the supplier already allocated stays:
an untouched line is not decided again, a price change keeps the quantities, a
quantity increase fills only the added quantity (at the profile's fill rates, on
the supplier's ``changes`` stream), a decrease takes back the backordered part
first, then the confirmed part, never below what has shipped.  A PO not
acknowledged yet simply changes: its first 855 says how the changed order stands.
A BCH01 ``01`` cancels the order as an 850 cancellation does.

After the profile's acknowledgment delay (drawn from the ``changes`` stream) the
supplier answers as its profile says (``change_ack``): an **865** naming each
changed line with its ACKs as they now stand (``ID`` for a deleted line), or a
revised **855** of every line.  Either takes the next acknowledgment revision
(``REF*PP``, made when ``DTM*097`` says), journals ``confirmed_qty``/``ack_status`` of
the lines it names, and sends what is newly confirmed to be shipped.

:func:`keep_allocation` is the same rule for a replacement 850 (BEG01 ``05``): a
line the new revision leaves as it was keeps its acknowledgment.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from emulators._base import Journal, Reply, problem
from emulators.limits import Limits
from emulators.supplier._profile import SupplierProfile, _lognormal, _Streams
from emulators.supplier._shipping import shipped_gtin
from emulators.x12 import (
    Ack,
    AckLine,
    ChangedLine,
    PurchaseOrderAck,
    PurchaseOrderChangeAck,
    read_850,
    read_860,
    render_855,
    render_865,
)


class SupplierNetwork(Protocol):
    """What of :class:`emulators.supplier.SupplierNetwork` a change uses (a protocol, so
    this module does not import the package that imports it)."""

    orders: dict[tuple[str, str], dict[str, Any]]
    profiles: dict[str, SupplierProfile]
    counters: dict[str, dict[str, int]]
    _journal: Journal
    _streams: dict[str, _Streams]

    def _fill(
        self, line: dict[str, Any], profile: SupplierProfile, rng: random.Random, today: dt.date
    ) -> list[Ack]: ...
    def _exception(
        self, line: dict[str, Any], acks: list[Ack], profile: SupplierProfile, rng: random.Random
    ) -> tuple[list[Ack], str, str]: ...
    def _later(self, delay: float, action: Callable[..., None], *args: Any) -> None: ...
    def _cancel(
        self, key: tuple[str, str], order: dict[str, Any], known: dict[str, Any] | None, cause: str
    ) -> None: ...
    def _now(self) -> dt.datetime: ...
    def _publish(self, supplier: str, buyer: str, segments: list[list[str]]) -> None: ...
    def _ship(self, key: tuple[str, str]) -> None: ...


__all__ = [
    "ack_line",
    "acks_of",
    "drop_lines",
    "enter_change",
    "is_repeat",
    "journal_acks",
    "keep_allocation",
    "read_order",
    "settle",
    "too_early",
    "unless_canceled",
]

_Net = TypeVar("_Net", bound="_HoldsOrders")
_P = ParamSpec("_P")


class _HoldsOrders(Protocol):
    orders: dict[tuple[str, str], dict[str, Any]]


def unless_canceled(
    step: Callable[Concatenate[_Net, tuple[str, str], dict[str, Any], _P], None],
) -> Callable[Concatenate[_Net, tuple[str, str], _P], None]:
    """A step the supplier takes on the order ``key`` when its timer fires (its 855, its
    answer to a change, a shipment), handed the order: once the buyer has canceled the
    order it does nothing (the BEG01 ``01`` cancellation stops the order where it is)."""

    @functools.wraps(step)
    def run(net: _Net, key: tuple[str, str], /, *args: _P.args, **kwargs: _P.kwargs) -> None:
        order = net.orders[key]
        if not order.get("canceled"):
            step(net, key, order, *args, **kwargs)

    return run


_NOT_CONFIRMED = frozenset({"IB", "IR", "ID"})  # ACK01 codes that commit nothing now
_ITEM = ("qty", "uom", "price", "vendor_part", "gtin")
_ACKNOWLEDGED = ("acks", "ack_status", "confirmed", "ack_price", "ship_part", "ship_gtin")


def read_order(segments: list[list[str]], limits: Limits) -> dict[str, Any]:
    """The order-entry record of an 850, or the change record of an 860 (``changes``)."""
    return read_860(segments, limits) if segments[0][1] == "860" else read_850(segments, limits)


def too_early(
    orders: list[dict[str, Any]], supplier: str, entered: dict[tuple[str, str], dict[str, Any]]
) -> Reply | None:
    """425 for an 860 whose PO is not entered (yet: its 850 is still on its way, or was
    rejected), or whose predecessor is not (BCH05 past the last change entered + 1): the
    buyer tries again later (a retriable status), so changes are applied in turn.
    ``entered`` is every supplier's orders by (supplier, PO): looked up, never scanned."""
    for order in orders:
        if "changes" not in order:
            continue
        known = entered.get((supplier, order["customer_po"]))
        if known is None:
            detail = f"860: PO {order['customer_po']} is not entered yet"
            return problem(425, "Too Early", detail, "BCH03")
        last = known.get("changes_entered", 0)
        if order["sequence"] > last + 1:
            detail = f"860: change {order['sequence']} before change {last + 1} of the PO"
            return problem(425, "Too Early", detail, "BCH05")
    return None


def is_repeat(order: dict[str, Any], known: dict[str, Any]) -> bool:
    """An 850 at or below the revision entered, or an 860 at or below the change entered."""
    if "changes" in order:
        return bool(order["sequence"] <= known.get("changes_entered", 0))
    return bool(known.get("revision", 1) >= order.get("revision", 1))


def drop_lines(
    journal: Journal, order: dict[str, Any], known: dict[str, Any] | None, cause: str
) -> None:
    """Lines a replacing 850 (BEG01 05) leaves out are no longer ordered.  One that has
    shipped is kept apart (``closed``): its shipments are still billed."""
    kept = {line["po_line"] for line in order["lines"]}
    order["closed"] = list(known.get("closed", [])) if known else []
    for line in known["lines"] if known else []:
        if line["po_line"] not in kept:
            if line.get("shipped"):
                order["closed"].append(line)
            entity = f"po_line:{order['customer_po']}:{line['po_line']}"
            journal.record(entity, "ordered_qty", 0, cause, None)
            if line.get("confirmed"):
                journal.record(entity, "confirmed_qty", 0, cause, None)


def keep_allocation(line: dict[str, Any], old: dict[str, Any]) -> None:
    """A replacing 850's line keeps ``old``'s acknowledgment when nothing of it changed.
    Until the new revision is acknowledged, every line holds what was acknowledged (a
    shipment or an invoice due meanwhile goes by it); a new line holds nothing."""
    for k in _ACKNOWLEDGED:
        if k in old:
            line[k] = old[k]
    if old.get("acks") and all(line[k] == old[k] for k in _ITEM):
        line["kept"] = old


def enter_change(
    net: SupplierNetwork, key: tuple[str, str], change: dict[str, Any], cause: str
) -> None:
    """Apply an 860 to the order it names and set the timer of its answer."""
    supplier, po_number = key
    order = net.orders[key]
    order["changes_entered"] = change["sequence"]
    order["revision"] = change.get("revision", order.get("revision", 1))  # REF*PP
    net.counters[supplier]["changes_received"] += 1
    if change["purpose"] == "01":
        net._cancel(key, order, order, cause)
        return
    acknowledged = order["ack_revision"] > 0
    by_line = {line["po_line"]: line for line in order["lines"]}
    answered: list[tuple[str, dict[str, Any]]] = []
    for poc in change["changes"]:
        entity = f"po_line:{po_number}:{poc['po_line']}"
        line = by_line.get(poc["po_line"])
        if poc["code"] == "DI":
            if line is not None:
                order["lines"].remove(line)
                if line["shipped"]:  # what shipped is still billed (see drop_lines)
                    order.setdefault("closed", []).append(line)
                net._journal.record(entity, "ordered_qty", 0, cause, None)
                if line.get("confirmed"):
                    line["confirmed"] = 0
                    net._journal.record(entity, "confirmed_qty", 0, cause, None)
                answered.append(("DI", line))
            continue
        if line is None:  # AI, or a line this supplier never had: taken as added
            line = {k: poc[k] for k in ("po_line", "critical", *_ITEM)}
            line.update(shipped=0, invoiced=0)
            order["lines"].append(line)
        elif acknowledged and line.get("acks"):
            _reallocate(net, supplier, line, poc)
        else:
            line.update({k: poc[k] for k in _ITEM})
        net._journal.record(entity, "ordered_qty", line["qty"], cause, None)
        answered.append((poc["code"], line))
    order["lines"].sort(key=lambda ln: ln["po_line"])
    if not acknowledged:
        return  # the first 855 is still to come: it answers the changed order
    for code, line in answered:
        if code != "DI" and not line.get("acks"):
            _allocate(net, supplier, line)
    profile, rng = net.profiles[supplier], net._streams[supplier].changes
    delay = _lognormal(rng, profile.ack_delay_median_s, profile.ack_delay_sigma)
    net._later(delay, _answer, net, key, answered, change["sequence"])


def _allocate(net: SupplierNetwork, supplier: str, line: dict[str, Any]) -> None:
    """Fill an added line as a new one is filled (its own fill and exception draws)."""
    profile, rng = net.profiles[supplier], net._streams[supplier].changes
    filled = net._fill(line, profile, rng, net._now().date())
    acks, price, part = net._exception(line, filled, profile, rng)
    line.update(ack_price=price, ship_part=part, ship_gtin=shipped_gtin(line, part))
    settle(line, acks)


def _reallocate(
    net: SupplierNetwork, supplier: str, line: dict[str, Any], poc: dict[str, Any]
) -> None:
    """A changed line that was acknowledged: keep what was allocated, fill or take back
    only the difference, take the buyer's new price."""
    acks = acks_of(line)
    before, price = line["qty"], line["price"]
    line.update({k: poc[k] for k in _ITEM})
    uom = line["uom"]
    acks = [Ack(a.code, a.qty, uom, a.expected, a.product) for a in acks]
    if line["qty"] > before:
        whole = {a.code for a in acks}
        if whole <= {"IS", "IR"} and len(acks) == 1:  # a whole-line status covers it all
            acks = [Ack(acks[0].code, line["qty"], uom, None, acks[0].product)]
        else:
            profile, rng = net.profiles[supplier], net._streams[supplier].changes
            added = {**line, "qty": line["qty"] - before}
            acks += net._fill(added, profile, rng, net._now().date())
    elif line["qty"] < before:
        acks = _take_back(acks, before - line["qty"], line["shipped"])
    if line["price"] != price:
        line["ack_price"] = line["price"]  # the supplier takes the buyer's new price
        acks = [Ack("IA", a.qty, a.uom, a.expected, a.product) if a.code == "IP" else a
                for a in acks]  # fmt: skip
    settle(line, _merged(acks))


def _take_back(acks: list[Ack], excess: int, shipped: int) -> list[Ack]:
    """``acks`` less ``excess``: backordered and rejected parts first, then the confirmed
    ones from the last, never below ``shipped``."""
    order = sorted(range(len(acks)), key=lambda i: (acks[i].code not in _NOT_CONFIRMED, -i))
    qty = [a.qty for a in acks]
    room = sum(q for a, q in zip(acks, qty, strict=True) if a.code not in _NOT_CONFIRMED)
    for i in order:
        if excess == 0:
            break
        confirmed = acks[i].code not in _NOT_CONFIRMED
        can = min(qty[i], excess, room - shipped) if confirmed else min(qty[i], excess)
        can = max(can, 0)
        qty[i] -= can
        excess -= can
        room -= can if confirmed else 0
    kept = [Ack(a.code, q, a.uom, a.expected, a.product) for a, q in zip(acks, qty, strict=True)]
    return [a for a in kept if a.qty > 0] or [Ack("IA", 0, acks[0].uom)]


def _merged(acks: list[Ack]) -> list[Ack]:
    """Adjacent-or-not ACKs of the same status, date and product as one."""
    out: dict[tuple[str, str | None, tuple[tuple[str, str], ...]], Ack] = {}
    for a in acks:
        k = (a.code, a.expected, a.product)
        out[k] = Ack(a.code, out[k].qty + a.qty, a.uom, a.expected, a.product) if k in out else a
    return list(out.values())


def settle(line: dict[str, Any], acks: list[Ack]) -> None:
    """Hold ``acks`` as the line's allocation (plain JSON, as the snapshot shows it)."""
    line["acks"] = [
        {"code": a.code, "qty": a.qty, "uom": a.uom, "expected": a.expected,
         "product": [list(p) for p in a.product]}
        for a in acks
    ]  # fmt: skip
    line["ack_status"] = "/".join(a.code for a in acks)
    line["confirmed"] = sum(a.qty for a in acks if a.code not in _NOT_CONFIRMED)


def acks_of(line: dict[str, Any]) -> list[Ack]:
    """The allocation :func:`settle` holds, as ACKs."""
    return [
        Ack(a["code"], a["qty"], a["uom"], a["expected"], tuple((q, v) for q, v in a["product"]))
        for a in line["acks"]
    ]


def ack_line(line: dict[str, Any]) -> AckLine:
    """The line as acknowledged now (PO1/POC with its ACKs)."""
    return AckLine(line["po_line"], line["qty"], line["uom"], line["ack_price"],
                   line["vendor_part"], line["gtin"], tuple(acks_of(line)))  # fmt: skip


def journal_acks(journal: Journal, po_number: str, lines: list[dict[str, Any]], cause: str) -> None:
    """What an 855 or 865 (``cause``) told the buyer of ``lines``."""
    for line in lines:
        entity = f"po_line:{po_number}:{line['po_line']}"
        journal.record(entity, "confirmed_qty", line["confirmed"], cause, None)
        journal.record(entity, "ack_status", line["ack_status"], cause, None)


@unless_canceled
def _answer(
    net: SupplierNetwork,
    key: tuple[str, str],
    order: dict[str, Any],
    answered: list[tuple[str, dict[str, Any]]],
    sequence: int,
) -> None:
    """The 865 (or revised 855) that tells the buyer how the changed lines stand."""
    supplier, po_number = key
    profile, counters = net.profiles[supplier], net.counters[supplier]
    now = net._now()
    day, time = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    order["ack_revision"] += 1
    revision, control = order["ack_revision"], f"{counters['interchanges'] + 1:04d}"
    named = [line for code, line in answered if code != "DI"]
    if profile.change_ack == "865":
        lines = tuple(ChangedLine(code, _deleted(line) if code == "DI" else ack_line(line))
                      for code, line in answered)  # fmt: skip
        acks = [a for changed in lines for a in changed.line.acks]
        doc = PurchaseOrderChangeAck(po_number, _ack_type(acks), order["po_date"], day,
                                     sequence, lines, revision, time)  # fmt: skip
        segments = render_865(doc, control)
    else:
        named = list(order["lines"])
        full = tuple(ack_line(line) for line in named)
        ack_type = _ack_type([a for line in full for a in line.acks])
        segments = render_855(PurchaseOrderAck(po_number, ack_type, day, full, revision, time),
                              control)  # fmt: skip
    journal_acks(net._journal, po_number, named, f"{segments[0][1]}:{po_number}:{revision}")
    counters["change_acks_sent"] += 1
    net._publish(supplier, order["buyer"], segments)
    if profile.ship_notices and any(ln["confirmed"] > ln["shipped"] for ln in order["lines"]):
        streams = net._streams[supplier]
        delay = _lognormal(streams.changes, profile.ship_delay_median_s, profile.ship_delay_sigma)
        net._later(delay, net._ship, key)


def _deleted(line: dict[str, Any]) -> AckLine:
    """A deleted line's POC: nothing ordered now, ACK ``ID`` (item deleted)."""
    price = line.get("ack_price") or line["price"]
    return AckLine(line["po_line"], 0, line["uom"], price, line["vendor_part"], line["gtin"],
                   (Ack("ID", 0, line["uom"]),))  # fmt: skip


def _ack_type(acks: list[Ack]) -> str:
    """BAK02/BCA02: ``AT`` when every line is accepted as asked, else ``AC``."""
    return "AT" if all(a.code in ("IA", "ID") for a in acks) else "AC"
