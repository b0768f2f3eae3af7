"""Drug and IV-fluid items by NDC: the code's forms, and the master data that uses them."""

from __future__ import annotations

import pytest

from scenarios.spec.masterdata import generate
from scenarios.spec.models import NetworkSpec
from sync_core.model import Uom, gs1_check_digit
from sync_core.ndc import ndc11_is_plausible, to_ndc11


@pytest.mark.parametrize(
    ("ndc10", "ndc11"),
    [
        ("0338-0049-04", "00338004904"),  # 4-4-2: the labeler padded
        ("63323-186-10", "63323018610"),  # 5-3-2: the product padded
        ("12345-6789-1", "12345678901"),  # 5-4-1: the package padded
    ],
)
def test_each_ten_digit_form_becomes_the_eleven_digit_billing_form(ndc10: str, ndc11: str) -> None:
    assert to_ndc11(ndc10) == ndc11
    assert ndc11_is_plausible(ndc11)


@pytest.mark.parametrize("bad", ["0338004904", "338-49-4", "12345-678-901", "0338-0049-0A", ""])
def test_a_code_in_no_form_is_refused_naming_it(bad: str) -> None:
    with pytest.raises(ValueError, match="4-4-2, 5-3-2 or 5-4-1") as e:
        to_ndc11(bad)
    assert repr(bad) in str(e.value)


def test_an_implausible_eleven_digit_code_is_told_apart() -> None:
    assert not ndc11_is_plausible("00000123401")  # no labeler
    assert not ndc11_is_plausible("1234567890")  # 10 digits
    assert not ndc11_is_plausible("1234567890A")


def drugs(seed: int = 3, count: int = 40) -> list:
    spec = NetworkSpec(suppliers=6, items=30, drugs=count)
    return [i for i in generate(spec, seed).items if i.ndc]


def test_drug_items_carry_a_valid_ndc_a_gtin_embedding_it_and_a_pack_ladder() -> None:
    items = drugs()
    assert len(items) == 40
    assert len({i.ndc for i in items}) == len({i.gtin for i in items}) == 40
    shapes = set()
    for i in items:
        assert i.ndc is not None and ndc11_is_plausible(i.ndc)
        # GS1 US: the GTIN holds the 10-digit NDC after the 03 prefix, check digit valid
        assert i.gtin[1:3] == "03" and i.gtin[-1] == gs1_check_digit(i.gtin[:-1])
        assert i.order_uom == Uom.CA and i.each_per(Uom.CA) in (12, 24, 100)
        assert i.unspsc.startswith("51")  # segment 51: drugs and pharmaceutical products
        labeler, product = i.ndc[:5], i.ndc[5:9]
        shapes.add((labeler.startswith("0"), product.startswith("0")))
    assert len(shapes) >= 2  # more than one of the three 10-digit forms is in use
    assert any("mL bag" in i.description for i in items)


def test_drugs_are_deterministic_and_leave_the_med_surg_catalog_as_it_was() -> None:
    assert drugs(seed=5) == drugs(seed=5)
    plain = generate(NetworkSpec(suppliers=6, items=30), 5).items
    with_drugs = generate(NetworkSpec(suppliers=6, items=30, drugs=10), 5).items
    assert with_drugs[:30] == plain and all(i.ndc is None for i in plain)
    assert len(with_drugs) == 40
