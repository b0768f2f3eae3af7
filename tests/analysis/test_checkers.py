"""Each checker on a hand-built history: it fails on its case, passes on the clean one,
and explains what it found; then a random interleaving with injected faults."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.history import Change, History
from analysis.matches import check_matches
from analysis.metrics import judge
from analysis.violations import examples, tally

LINE = "po_line:4500000001:1"
INVOICE = "invoice:SUP001:INV000001"


def kinds(changes: list[Change] | History) -> list[tuple[str, str, str | None]]:
    return [(v.kind, v.entity, v.replica) for v in judge(changes).violations]


def ack(t: float, qty: int, cause: str = "855:1") -> Change:
    return Change(t, "supplier", LINE, "confirmed_qty", qty, cause)


def erp(t: float, qty: int, cause: str, corr: str | None = None) -> Change:
    return Change(t, "erp", LINE, "confirmed_qty", qty, cause, corr)


# -- regression ---------------------------------------------------------------------


def test_a_late_old_value_applied_after_a_newer_one_is_a_regression() -> None:
    clean = [ack(100, 6), erp(150, 6, "a1"), ack(200, 4, "855:2"), erp(230, 4, "a2")]
    late = [*clean, erp(260, 6, "a1-late", "trace-1")]  # the revision-1 ack, redelivered late

    assert kinds(clean) == []
    found = judge(late).violations
    assert [(v.kind, v.replica) for v in found] == [
        ("divergence", "erp.confirmed_qty"),  # judged at the owner's last change (t=200)
        ("regression", "erp.confirmed_qty"),
    ]
    regression = found[1]
    assert regression.t == 260 and regression.replica_value == 6
    assert regression.correlation_ids == ("trace-1",)
    assert "went back to 6 (update of 100 s) at 260 s after showing 4 (update of 200 s)" in (
        regression.explanation
    )


def test_a_replica_moved_away_after_showing_the_value_diverges() -> None:
    clean = [ack(100, 6), erp(150, 6, "a1")]
    moved = [*clean, erp(300, 5, "someone-typed-5")]  # a value its owner never had

    assert kinds(clean) == []
    [v] = judge(moved).violations
    assert (v.kind, v.owner_value, v.owner_t, v.replica_value, v.replica_t) == (
        "divergence", 6, 100, 5, 300,
    )  # fmt: skip
    assert v.replicas == (("erp.confirmed_qty", 5, 300),)
    assert not judge(moved).converged


# -- duplicate effects ----------------------------------------------------------------


def receipt(t: float, system: str, field: str, qty: int, cause: str) -> Change:
    return Change(t, system, LINE, field, qty, cause)


def test_a_receipt_counted_twice_by_ap_is_a_duplicate_effect() -> None:
    clean = [
        receipt(100, "wms", "received_qty", 10, "rcv-1"),
        receipt(130, "ap", "ap_received_qty", 10, "ap:receipt:1"),
    ]
    twice = [*clean, receipt(190, "ap", "ap_received_qty", 20, "ap:receipt:2")]  # new number

    assert kinds(clean) == []
    verdict = judge(twice)
    # one defect, one violation: ending above the owner is not also a divergence
    [v] = verdict.violations
    assert (v.kind, v.replica, v.t) == ("duplicate_effect", "ap.ap_received_qty", 190)
    assert "went to 20 at 190 s, above everything its owner wms.received_qty had (10" in (
        v.explanation
    )
    assert not verdict.converged  # AP still disagrees with the WMS at the end


def test_a_receipt_posted_twice_with_one_cause_is_one_duplicate_effect() -> None:
    twice = [
        receipt(100, "wms", "received_qty", 10, "rcv-1"),
        receipt(130, "ap", "ap_received_qty", 10, "rcv-1"),
        receipt(160, "ap", "ap_received_qty", 20, "rcv-1"),  # the same receipt, re-posted
    ]
    verdict = judge(twice)
    [v] = verdict.violations
    assert (v.kind, v.entity, v.count, v.cause) == ("duplicate_effect", LINE, 1, "rcv-1")
    assert "applied 'rcv-1' 2 times to ap_received_qty" in v.explanation
    assert not verdict.converged


# -- three-way match ------------------------------------------------------------------


def ap_line(t: float, field: str, value: float, cause: str = "ap:po") -> Change:
    return Change(t, "ap", LINE, field, value, cause)


def invoice(t: float, status: str, holds: list[str], cause: str = "ap:inv:1") -> list[Change]:
    return [
        ap_line(t, "ap_invoiced_qty", 100, cause),
        Change(t, "ap", INVOICE, "holds", holds, cause, "trace-9"),
        Change(t, "ap", INVOICE, "match_status", status, cause, "trace-9"),
    ]


def po_line(received: int) -> list[Change]:
    return [
        ap_line(0, "ap_ordered_qty", 100),
        ap_line(0, "ap_unit_price", 10.0),
        ap_line(50, "ap_received_qty", received, "ap:rcv:1"),
    ]


def test_an_invoice_approved_outside_tolerance_is_a_match_error() -> None:
    # 100 billed, 50 received: 50 over at 10.00 = 500, far above the 3 % and the 50.00 floor
    approved = po_line(50) + invoice(100, "approved", [])
    held = po_line(50) + invoice(100, "on_hold", ["QTY REC"])

    assert check_matches(held) == []
    [v] = check_matches(approved)
    assert (v.kind, v.entity, v.t) == ("match_error", INVOICE, 100)
    assert "AP approved invoice:SUP001:INV000001 at 100 s although" in v.explanation
    assert f"{LINE} QTY REC: 100 against 50" in v.explanation
    assert v.correlation_ids == ("trace-9",)


def test_an_invoice_held_inside_tolerance_is_a_match_error() -> None:
    held = po_line(100) + invoice(100, "on_hold", ["QTY REC"])
    approved = po_line(100) + invoice(100, "approved", [])

    assert check_matches(approved) == []
    [v] = check_matches(held)
    assert "held invoice:SUP001:INV000001 at 100 s (QTY REC) although every line" in v.explanation


def test_tolerances_come_from_the_run_and_a_persons_release_is_not_judged() -> None:
    approved = po_line(96) + invoice(100, "approved", [])  # 4 % over, but 40.00 < 50.00
    assert check_matches(approved) == []
    assert len(check_matches(approved, {"amount_floor": 10.0})) == 1

    released = po_line(50) + invoice(100, "on_hold", ["QTY REC"])
    released.append(Change(200, "ap", INVOICE, "holds", [], "ap:release:SUP001:INV000001:QTY REC"))
    released.append(Change(200, "ap", INVOICE, "match_status", "approved", "ap:release:x"))
    assert check_matches(released) == []

    over = po_line(50) + invoice(100, "approved", [])
    assert len(judge(History({}, over)).of_kind("match_error")) == 1
    history = History({"tolerances": {"qty_pct": 120.0}}, over)
    assert judge(history).of_kind("match_error") == []  # 100 % over is within 120 %


# -- value and key mapping ---------------------------------------------------------------


def test_match_status_is_compared_in_the_erps_spelling() -> None:
    ap = Change(100, "ap", INVOICE, "match_status", "approved", "c1")
    agrees = [ap, Change(120, "erp", INVOICE, "erp_match_status", "MATCHED", "c1:erp")]
    wrong = [ap, Change(120, "erp", INVOICE, "erp_match_status", "APPROVED", "c1:erp")]

    assert kinds(agrees) == []
    assert judge(agrees).flow_lags("match_status") == [20]
    [v] = judge(wrong).violations
    assert v.kind == "lost_update" and "never showed 'MATCHED'" in v.explanation


def test_contract_price_keyed_by_uom_at_ap_is_matched_to_the_erps_key() -> None:
    price = [
        Change(10, "erp", "price:SUP001:ITEM9", "contract_price", 12.5, "p1"),
        Change(11, "ap", "price:SUP001:ITEM9:EA", "ap_contract_price", 12.5, "p1:ap"),
        Change(12, "ap", "price:SUP001:ITEM9:CS", "ap_contract_price", 12.0, "p1:ap"),
    ]
    verdict = judge(price)
    assert [(x.replica, x.lag_s) for x in verdict.lags] == [
        ("ap.ap_contract_price[price:SUP001:ITEM9:EA]", 1)
    ]
    [v] = verdict.violations
    assert (v.kind, v.entity) == ("lost_update", "price:SUP001:ITEM9")
    assert v.replica == "ap.ap_contract_price[price:SUP001:ITEM9:CS]"


# -- messages in explanations ------------------------------------------------------------------


def test_violations_name_the_messages_that_carried_their_correlation_ids() -> None:
    history = History({}, [ack(100, 6), erp(150, 6, "a1"), erp(300, 5, "a9", "trace-7")])
    history.message(290, "sent", "erp", "post_acknowledgment", "a9", "trace-7", 200)
    history.message(295, "retried", "erp", "post_acknowledgment", "a9", "trace-7", 503)
    history.message(10, "sent", "erp", "post_acknowledgment", "other", "trace-1", 200)

    [v] = judge(history).violations
    assert [(m.t, m.direction, m.status) for m in v.messages] == [
        (290, "sent", 200),
        (295, "retried", 503),
    ]
    assert v.to_json()["messages"][0]["operation"] == "post_acknowledgment"


# -- a random interleaving with injected drops and duplicates -----------------------------------

REPLICAS = (("erp", "confirmed_qty"), ("wms", "expected_qty"))


@st.composite
def runs(draw: st.DrawFn) -> tuple[list[Change], list[tuple[str, str, str]], dict[str, float]]:
    """Owner updates per line, each delivered to each replica in order after a random delay,
    except the injected drops; injected re-posts apply a delivery again with the same cause
    and value (no effect: reported apart from the violations)."""
    changes: list[tuple[float, int, Change]] = []
    expected: list[tuple[str, str, str]] = []
    visible: dict[str, float] = {}  # "entity|replica|update" -> visibility delay
    seq = 0
    for n in range(draw(st.integers(1, 5))):
        entity = f"po_line:45{n:08d}:1"
        count = draw(st.integers(1, 4))
        times = [10.0 * (k + 1) + draw(st.integers(0, 9)) * 100 for k in range(count)]
        times = sorted(set(times))
        for i, t in enumerate(times):
            owner = Change(t, "supplier", entity, "confirmed_qty", i + 1, f"855:{i}")
            changes.append((t, seq, owner))
            seq += 1
        for system, field in REPLICAS:
            replica = f"{system}.{field}"
            previous = 0.0
            delivered: list[tuple[int, float]] = []
            for i, t in enumerate(times):
                if draw(st.booleans()) and draw(st.booleans()):  # dropped (1 in 4)
                    continue
                at = max(t + draw(st.integers(1, 400)), previous + 1)
                previous = at
                at += 0.25
                delivered.append((i, at))
                cause = f"{entity}:{i}:{system}"
                changes.append((at, seq, Change(at, system, entity, field, i + 1, cause)))
                seq += 1
                if draw(st.integers(0, 5)) == 0:  # applied twice
                    again = Change(at + 0.5, system, entity, field, i + 1, cause)
                    changes.append((at + 0.5, seq, again))
                    seq += 1
                    expected.append(("repost", entity, replica))  # same value: no effect
            if not delivered or delivered[-1][0] != len(times) - 1:
                expected.append(("lost_update", entity, replica))
            for i, t in enumerate(times):
                first = next((at for j, at in delivered if j >= i), None)
                if first is not None:
                    visible[f"{entity}|{replica}|{t}"] = first - t
    changes.sort(key=lambda x: (x[0], x[1]))
    return [c for _, _, c in changes], expected, visible


@settings(max_examples=150, deadline=None)
@given(runs())
def test_injected_drops_and_duplicates_are_exactly_the_violations(
    run: tuple[list[Change], list[tuple[str, str, str]], dict[str, float]],
) -> None:
    changes, expected, visible = run
    history = History({"flows": ["po_acknowledgment"]}, changes)

    verdict = judge(history)

    found = [*verdict.violations, *verdict.of_kind("repost")]
    assert sorted((v.kind, v.entity, v.replica) for v in found) == sorted(expected)
    assert verdict.converged == (not any(k == "lost_update" for k, _, _ in expected))
    measured = {
        f"{entity}|{replica}|{t}": delay
        for _, _, entity, replica, t, delay in verdict.checked.visibility
        if delay is not None
    }
    assert measured == visible


def test_examples_are_taken_in_turn_from_each_replica_and_counted_per_fact() -> None:
    changes = []
    for n in range(1, 30):  # 29 PO lines the supplier never got, one ack the WMS never got
        changes.append(Change(n, "erp", f"po_line:{n}:1", "ordered_qty", 5, f"c{n}"))
    changes += [
        ack(100, 6),
        erp(150, 6, "a1"),
        Change(1, "wms", "po_line:x:1", "expected_qty", 1, "w"),
    ]
    changes.append(Change(0.5, "supplier", "po_line:y:1", "confirmed_qty", 1, "855:y"))
    verdict = judge(changes, header={"flows": ["po_dispatch", "po_acknowledgment"]})

    picked = examples(verdict.violations, 4)
    assert {(v.fact, v.replica) for v in picked} == {
        ("ordered_qty", "supplier.ordered_qty"),
        ("ordered_qty", "ap.ap_ordered_qty"),  # the flow is declared carried: AP is judged
        ("confirmed_qty", "wms.expected_qty"),
        ("confirmed_qty", "erp.confirmed_qty"),  # line y: confirmed, never reached the ERP
    }
    assert tally(verdict.violations) == {
        "lost_update": {
            "confirmed_qty: erp.confirmed_qty": 1,
            "confirmed_qty: wms.expected_qty": 2,
            "ordered_qty: ap.ap_ordered_qty": 29,
            "ordered_qty: supplier.ordered_qty": 29,
        }
    }
