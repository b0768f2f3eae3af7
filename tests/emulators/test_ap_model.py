"""AP's three-way match against a plain model: the holds the rules call for, computed with
fractions and division, are the holds AP puts on."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from emulators.ap import Tolerances
from tests.emulators.ap_world import invoice, make_world, open_holds, po_lines, receipt


@dataclass(frozen=True)
class LineCase:
    ordered: int
    received: int
    po_cents: int
    qty: int
    invoice_cents: int


def model_holds(
    lines: list[LineCase], total_cents: int, tol: Tolerances
) -> set[tuple[str, int | None]]:
    """The holds the rules call for, computed with fractions and division."""
    price_pct, qty_pct, floor = (
        Fraction(str(x)) for x in (tol.price_pct, tol.qty_pct, tol.amount_floor)
    )

    def beyond(over: Fraction, reference: Fraction, pct: Fraction, money: Fraction) -> bool:
        if over <= 0 or money < floor:
            return False
        return reference == 0 or over / reference * 100 > pct

    holds: set[tuple[str, int | None]] = set()
    for n, c in enumerate(lines, start=1):
        po_price, price = Fraction(c.po_cents, 100), Fraction(c.invoice_cents, 100)
        if beyond(price - po_price, po_price, price_pct, (price - po_price) * c.qty):
            holds.add(("PRICE", n))
        for code, reference in (("QTY ORD", c.ordered), ("QTY REC", c.received)):
            over = Fraction(c.qty - reference)
            if beyond(over, Fraction(reference), qty_pct, over * price):
                holds.add((code, n))
    lines_cents = sum(c.qty * c.invoice_cents for c in lines)
    if abs(total_cents - lines_cents) > 1:
        holds.add(("AMOUNT", None))
    return holds


@st.composite
def line_cases(draw: st.DrawFn) -> LineCase:
    step = draw(st.integers(1, 400))  # PO price = step * 0.50, so 1 % of it is step/2 cents
    po_cents = 50 * step
    delta = draw(
        st.one_of(
            st.integers(-po_cents + 1, 3 * step),
            st.sampled_from([0, step // 2, step, step + 1, 5 * step // 4, 3 * step // 2]),
        )
    )
    ordered = draw(st.sampled_from([1, 10, 33, 100, 200]))
    received = draw(st.one_of(st.just(ordered), st.integers(0, 2 * ordered)))
    reference = draw(st.sampled_from([ordered, received]))
    qty = draw(
        st.one_of(
            st.integers(1, 2 * ordered + 1),
            st.sampled_from([max(1, reference + k) for k in (0, 1, 2, 3, 4, 6)]),
        )
    )
    return LineCase(ordered, received, po_cents, qty, po_cents + delta)


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(line_cases(), min_size=1, max_size=4),
    header_off=st.sampled_from([0, 0, 0, 1, -1, 2, -150]),
    tol=st.builds(
        Tolerances,
        price_pct=st.sampled_from([0.0, 1.0, 2.0, 2.5, 5.0]),
        qty_pct=st.sampled_from([0.0, 3.0, 5.0]),
        amount_floor=st.sampled_from([0.0, 0.5, 25.0, 50.0, 250.0]),
    ),
)
def test_an_invoice_is_approved_without_holds_iff_every_line_is_within_tolerance(
    lines: list[LineCase], header_off: int, tol: Tolerances
) -> None:
    world = make_world(tolerances=tol)
    world.ap.upsert_po_lines(
        po_lines(*((n, c.ordered, c.po_cents / 100) for n, c in enumerate(lines, start=1)))
    )
    received = {n: c.received for n, c in enumerate(lines, start=1) if c.received}
    if received:
        world.ap.post_receipt(receipt("R-1", received))
    total_cents = max(1, sum(c.qty * c.invoice_cents for c in lines) + header_off)
    body = invoice(
        "INV-1",
        *((n, c.qty, c.invoice_cents / 100) for n, c in enumerate(lines, start=1)),
        total=total_cents / 100,
    )

    reply = world.ap.post_invoice(body)

    expected = model_holds(lines, total_cents, tol)
    assert reply.status == 201
    assert {(h["hold_code"], h["line_number"]) for h in open_holds(reply)} == expected
    assert (reply.body["status"] == "approved") == (not expected)
    assert reply.body["status"] == ("on_hold" if expected else "approved")
