"""Seeded master data: valid identifiers, the requested sizes, the same network per seed."""

from __future__ import annotations

from stdnum import ean

from scenarios.spec.masterdata import generate
from scenarios.spec.models import NetworkSpec


def test_sizes_and_identifiers_are_valid() -> None:
    spec = NetworkSpec(hospitals=8, distribution_centers=2, suppliers=6, items=300)
    md = generate(spec, seed=1)
    assert len(md.hospitals) == 8 and len(md.distribution_centers) == 2
    assert len(md.suppliers) == 6 and len(md.items) == 300
    glns = [loc.gln for loc in (md.procurement_office, *md.hospitals, *md.distribution_centers)]
    glns += [s.gln for s in md.suppliers]
    assert len(set(glns)) == len(glns) and all(ean.is_valid(g) for g in glns)
    gtins = [i.gtin for i in md.items]
    assert len(set(gtins)) == len(gtins) and all(len(g) == 14 and ean.is_valid(g) for g in gtins)
    assert all(md.catalog(s.supplier_id) for s in md.suppliers)
    # every hospital is served by a distribution center of the network
    assert set(md.serving_dc) == {h.gln for h in md.hospitals}
    assert {dc.gln for dc in md.serving_dc.values()} <= {d.gln for d in md.distribution_centers}


def test_critical_share_is_roughly_honoured() -> None:
    md = generate(NetworkSpec(items=2000, critical_share=0.15), seed=3)
    share = sum(i.critical for i in md.items) / len(md.items)
    assert 0.10 < share < 0.20
    assert not any(i.critical for i in generate(NetworkSpec(critical_share=0), seed=3).items)


def test_same_seed_same_network_other_seed_differs() -> None:
    spec = NetworkSpec()
    assert generate(spec, seed=5) == generate(spec, seed=5)
    assert generate(spec, seed=5).hospitals != generate(spec, seed=6).hospitals
