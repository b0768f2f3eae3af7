"""The WMS against a plain model: random receipts and putaways keep lines and stock
consistent."""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.emulators.wms_dock import Dock, expected_receipt

LINES = {  # (asn_nbr or None, po, line): (expected qty, lot, expired)
    ("ASN1", "P1", 1): (10, "L1", False),
    ("ASN1", "P1", 2): (4, "L2", True),
    (None, "P2", 1): (7, None, False),
}


class ReceivingModel(RuleBasedStateMachine):
    """Compares the WMS with a plain model of lines, receipts and stock."""

    @initialize()
    def setup(self) -> None:
        self.dock = Dock()
        asn_lines = [
            {
                "po_line_nbr": n,
                "item_id": f"G{n}",
                "shipped_qty": qty,
                "qty_uom": "EA",
                "lot_nbr": lot,
                "expiry_date": "2020-01-01" if expired else "2030-01-01",
            }
            for (asn, _, n), (qty, lot, expired) in LINES.items()
            if asn
        ]
        assert self.dock.wms.post_ship_notice(
            {"asn_nbr": "ASN1", "po_nbr": "P1", "lines": asn_lines}
        ).ok
        receipt = expected_receipt(po_nbr="P2", item_id="G9", exp_qty=7)
        assert self.dock.wms.upsert_expected_receipts({"receipts": [receipt]}).ok
        self.accepted = dict.fromkeys(LINES, 0)
        self.closed = dict.fromkeys(LINES, False)
        self.counted = 0  # everything the dock counted, accepted or refused
        self.rejected = 0
        self.put_away = 0
        self.receipts: dict[str, list[int]] = {}  # receipt id -> [accepted, put away]

    @rule(
        key=st.sampled_from(sorted(LINES, key=str)),
        received=st.integers(0, 8),
        rejected=st.integers(0, 3),
    )
    def receive(self, key: tuple[str | None, str, int], received: int, rejected: int) -> None:
        asn, po, n = key
        body: dict[str, Any] = {"po_nbr": po, "po_line_nbr": n, "received_qty": received}
        if asn:
            body["asn_nbr"] = asn
        if rejected:
            body |= {"rejected_qty": rejected, "reject_reason": "DAMAGED"}
        expected, _, expired = LINES[key]
        accepted = 0 if expired else received
        total = self.accepted[key] + accepted

        reply = self.dock.wms.receive(body)

        if received + rejected == 0:
            assert reply.status == 422
        elif self.closed[key]:
            assert reply.status == 409
        elif total * 100 > expected * 110:
            assert reply.status == 422
        else:
            assert reply.status == 201, reply.body
            self.accepted[key] = total
            self.closed[key] = total > 0 and total * 100 >= expected * 95
            self.counted += received + rejected
            self.rejected += received + rejected - accepted
            self.receipts[reply.body["receipt"]["receipt_id"]] = [accepted, 0]

    @precondition(lambda self: self.receipts)
    @rule(data=st.data(), qty=st.integers(1, 6), location=st.sampled_from(["A-01", "B-02"]))
    def putaway(self, data: st.DataObject, qty: int, location: str) -> None:
        receipt_id = data.draw(st.sampled_from(sorted(self.receipts)))
        accepted, done = self.receipts[receipt_id]

        reply = self.dock.wms.putaway(receipt_id, location, qty)

        if qty > accepted - done:
            assert reply.status == 409
        else:
            assert reply.status == 200, reply.body
            self.receipts[receipt_id][1] += qty
            self.put_away += qty

    @invariant()
    def stock_is_never_negative_and_adds_up(self) -> None:
        stock = self.dock.wms.inventory().body
        assert all(row["on_hand_qty"] > 0 for row in stock["items"])
        receipts = self.dock.wms.list_receipts(limit=500).body["items"]
        waiting = sum(r["received_qty"] - r["put_away_qty"] for r in receipts)
        assert all(r["received_qty"] >= r["put_away_qty"] >= 0 for r in receipts)
        assert sum(r["received_qty"] + r["rejected_qty"] for r in receipts) == self.counted
        assert sum(r["rejected_qty"] for r in receipts) == self.rejected
        assert stock["total_qty"] == self.counted - self.rejected - waiting
        assert stock["total_qty"] == self.put_away

    @invariant()
    def lines_agree_with_the_model(self) -> None:
        for (asn, po, n), accepted in self.accepted.items():
            line = self.dock.line(asn, po, n)
            assert line["received_qty"] == accepted
            assert (line["status"] == "received") == self.closed[(asn, po, n)]


TestReceivingModel = ReceivingModel.TestCase
TestReceivingModel.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
