"""Every interchange a short library run exchanges is strict X12 4010 (ASC X12 004010).

Two checkers, each over every document the supplier network and the core sent:

* **pyx12** (the independent validator): its reader checks the envelope (ISA
  fixed width, IEA/GE counts, control numbers IEA02 = ISA13 and GE02 = GS06,
  SE01 = the segments ST..SE, SE02 = ST02) and its 4010 control map checks every
  ISA and GS element (types, lengths, code lists: ISA11 ``U``, ISA14 ``0``/``1``).
  997s are validated whole against its 4010 997 map, whose code lists for AK101
  (element 479) and AK201 (element 143) the HIPAA guide narrows to health-care
  groups: the test widens them back to the base standard's (any code) in a copy.
  pyx12 ships no 850/855/856/810/860/865 maps, so their bodies get the second checker.
* **our own structural checks**: both translators (the emulators' and the
  core's) read every document back, with their envelope counts, control numbers
  and code lists (ACK01 668, BAK02 587, UoM 355, HL03 735, AK5 717, AK9 715, POC02 670).
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import pyx12
import pyx12.map_if
import pyx12.params
import pyx12.x12file
import pyx12.x12n_document

from emulators import x12 as emu
from emulators.supplier import SupplierNetwork
from scenarios.sim.runner import run_architecture
from scenarios.spec.load import library_names, load_scenario
from sync_core.mappers import x12 as core

SHORT = {
    "duration_days": 0.5,
    "settle_days": 1.5,
    "demand.pos_per_day": 60,
    "network.items": 60,
    "suppliers.fa_reject_rate": 0.1,  # AK5 R and AK3/AK4 in the run too
    "network.drugs": 30,  # 810 IT1 lines naming an NDC (N4)
    "suppliers.invoice_uom_mismatch_rate": 1.0,  # every 810 bills pack-ordered lines by the EA
    # buyers' changes: 860s to two partners (one answers with 865s), replacement 850s to the rest
    "demand.change_share": 0.5,
    "suppliers.partners.SUPP1001": {"change_orders": "860", "change_ack": "865"},
    "suppliers.partners.SUPP1002": {"change_orders": "860", "change_ack": "855"},
}


@pytest.fixture(scope="module")
def exchanged() -> list[tuple[str, str]]:
    """(who sent it, interchange) for everything a short run's parties posted or published."""
    # case POs too: their 850s carry the case reference (REF*CR)
    spec = load_scenario("regional_network", overrides={**SHORT, "erp.phi.case_share": 0.2})
    return _exchange(spec)


def _exchange(spec: Any) -> list[tuple[str, str]]:
    """Run ``spec`` under ``event`` and keep every interchange the core and suppliers sent."""
    seen: list[tuple[str, str]] = []
    mp = pytest.MonkeyPatch()
    receive, publish = SupplierNetwork.receive_edi, SupplierNetwork._publish

    def receive_edi(self: SupplierNetwork, text: str) -> Any:
        seen.append(("core", text))
        return receive(self, text)

    def _publish(
        self: SupplierNetwork, supplier: str, buyer: str, segments: Any, *goods: Any
    ) -> None:
        before = len(self.mailbox_docs)
        publish(self, supplier, buyer, segments, *goods)
        seen.append(("supplier", self.mailbox_docs[before]["payload"]))

    mp.setattr(SupplierNetwork, "receive_edi", receive_edi)
    mp.setattr(SupplierNetwork, "_publish", _publish)
    try:
        run_architecture(spec, "event")
    finally:
        mp.undo()
    return seen


@pytest.fixture(scope="session")  # not per module: the library stories spread over the workers
def map_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """pyx12's maps, GS01 and the 997 widened from the HIPAA guide's codes to the standard's."""
    source = Path(pyx12.__file__).parent / "map"
    target = tmp_path_factory.mktemp("pyx12maps")
    shutil.copytree(source, target, dirs_exist_ok=True)
    for name, elements in (("997.4010.xml", ("AK101", "AK201")),
                           ("x12.control.00401.xml", ("GS01",))):  # fmt: skip
        path = target / name
        text = path.read_text()
        for element in elements:
            text = re.sub(
                rf'(<element xid="{element}">.*?)<valid_codes>.*?</valid_codes>',
                r"\1",
                text,
                count=1,
                flags=re.S,
            )
        path.write_text(text)
    return str(target)


# the control map of each map folder, read once: reading it took 37 ms, validating an
# interchange's envelope against it about 1 ms
_CONTROL_MAPS: dict[str, Any] = {}


def pyx12_envelope_errors(text: str, map_path: str) -> list[str]:
    """pyx12's reader (counts, control numbers) and its 4010 control map (ISA, GS)."""
    control = _CONTROL_MAPS.get(map_path)
    if control is None:
        param = pyx12.params.params()
        control = pyx12.map_if.load_map_file("x12.control.00401.xml", param, map_path)
        _CONTROL_MAPS[map_path] = control
    src = pyx12.x12file.X12Reader(io.StringIO(text))
    errors: list[str] = []
    for seg in src:
        errors += [str(e) for e in src.pop_errors()]
        path = {"ISA": "/ISA_LOOP/ISA", "GS": "/ISA_LOOP/GS_LOOP/GS"}.get(seg.get_seg_id())
        if path is not None:
            ok, found = control.getnodebypath(path).is_valid_errors(seg)
            errors += [f"{seg.get_seg_id()}: {e}" for e in found] or ([] if ok else [str(seg)])
    errors += [str(e) for e in src.pop_errors()]
    return errors


def test_the_run_exchanges_every_kind_of_document(exchanged: list[tuple[str, str]]) -> None:
    kinds = {(who, re.search(r"~ST\*(\d{3})\*", text)[1]) for who, text in exchanged}  # type: ignore[index]
    assert kinds >= {
        ("core", "850"),
        ("core", "997"),
        ("supplier", "855"),
        ("supplier", "856"),
        ("supplier", "810"),
        ("supplier", "997"),
        ("core", "860"),
        ("supplier", "865"),
    }
    assert any("~AK5*R*5~" in text for who, text in exchanged if who == "supplier")
    assert any(re.search(r"~REF\*CR\*case-[0-9a-f]{32}~", text) for _, text in exchanged)
    invoices = [text for who, text in exchanged if who == "supplier" and "~ST*810*" in text]
    assert any(re.search(r"~IT1\*\d+\*\d+\*EA\*[^~]*\*N4\*\d{11}~", t) for t in invoices)


def test_pyx12_accepts_every_envelope(exchanged: list[tuple[str, str]], map_path: str) -> None:
    bad = [
        (text[:120], errors)
        for _, text in exchanged
        if (errors := pyx12_envelope_errors(text, map_path))
    ]
    assert bad == []


def test_pyx12_rejects_the_old_isa11(map_path: str) -> None:
    """The checker can fail: ISA11 ``^`` (a 00402 repetition separator) is not 4010."""
    fa = emu.FunctionalAck("PO", "1", (emu.SetAck("850", "0001"),))
    text = emu.Interchange("SUPP1", "BUYER", 1, [emu.render_997(fa, "0001")]).render(
        "FA", __import__("datetime").datetime(2026, 3, 1, 9, 0)
    )
    assert pyx12_envelope_errors(text, map_path) == []
    old = text.replace("*U*", "*^*", 1)
    assert any("ISA11" in e for e in pyx12_envelope_errors(old, map_path))


def test_pyx12_validates_every_997_whole(exchanged: list[tuple[str, str]], map_path: str) -> None:
    acks = [text for _, text in exchanged if "~ST*997*" in text]
    assert acks
    param = pyx12.params.params()
    for text in acks:
        html = io.StringIO()
        ok = pyx12.x12n_document.x12n_document(
            param, io.StringIO(text), None, html, map_path=map_path
        )
        assert ok, (text, re.sub(r"<[^>]+>", " ", html.getvalue())[-600:])


def test_both_translators_read_every_document_back(exchanged: list[tuple[str, str]]) -> None:
    _read_back(exchanged)


@pytest.mark.parametrize("name", library_names())
def test_every_library_story_exchanges_only_strict_4010(name: str, map_path: str) -> None:
    """Each library story with about 30 POs (seed 1, ``event``; its faults, profiles and
    settle time as written): pyx12 accepts every envelope and both translators read every
    document back."""
    days = load_scenario(name).duration_days
    pos = {"demand.pos_per_day": round(30 / days, 1), "network.items": 40}
    exchanged = _exchange(load_scenario(name, seed=1, overrides=pos))
    assert exchanged, f"{name}: no interchange was exchanged"
    for who, text in exchanged:
        assert pyx12_envelope_errors(text, map_path) == [], (name, who, text[:300])
    _read_back(exchanged)


def _read_back(exchanged: list[tuple[str, str]]) -> None:
    readers: dict[str, Callable[[list[list[str]]], object]] = {
        "850": emu.read_850, "855": emu.read_855, "856": emu.read_856, "810": emu.read_810,
        "997": emu.read_997, "860": emu.read_860, "865": emu.read_865,
    }  # fmt: skip
    for _, text in exchanged:
        interchange = emu.Interchange.parse(text)
        envelope, sets = core.parse_interchange(text)
        assert envelope.control_number == interchange.control
        assert [g[0] for g in interchange.groups] == [
            emu.GROUP_CODES[s[0][1]] for s in interchange.sets
        ]
        for segments in interchange.sets:
            readers[segments[0][1]](segments)
        for ts in sets:
            assert ts.group_control == str(interchange.control)  # GS06 = ISA13, one group
            if ts.code == "997":
                core.functional_ack_from_997(ts)
            if ts.code == "865":
                core.change_ack_from_865(ts)


def test_every_856_is_the_full_ship_notice(exchanged: list[tuple[str, str]]) -> None:
    """Shipment → Order → Pack (MAN*GM, SSCC-18 with its check digit) → Item, with TD1,
    TD5, REF*BM, DTM*011, N1*ST and N1*SF (with GLNs), BSN05 0001 for the packs sent."""
    notices = [text for who, text in exchanged if who == "supplier" and "~ST*856*" in text]
    assert notices
    for text in notices:
        [segments] = emu.Interchange.parse(text).sets
        tags = {s[0] for s in segments} | {f"{s[0]}*{s[1]}" for s in segments if len(s) > 1}
        assert tags >= {"TD1", "TD5", "REF*BM", "DTM*011", "N1*ST", "N1*SF", "MAN*GM"}, text
        assert [s[5] for s in segments if s[0] == "BSN"] == ["0001"]
        notice = emu.read_856(segments)  # holds the levels to BSN05, checks every SSCC
        assert notice.ship_to and notice.ship_to.gln and notice.ship_from.gln  # type: ignore[union-attr]
        assert all(emu.sscc_valid(i.sscc) for o in notice.orders for i in o.items)


# -- the fuller 850, 855, 810, 860 and 865 -------------------------------------------

# what each set must carry, as "SEG" or "SEG*qualifier" (ASC X12 004010)
FULL_HEADERS = {
    "850": {"REF*PP", "REF*CT", "DTM*002", "N1*BT", "N1*BY", "N1*ST", "N1*VN"},
    "855": {"REF*PP", "DTM*097"},
    "810": {"N1*RI", "N1*BT", "N1*ST", "ITD", "DTM*011"},
    "860": {"REF*PP", "N1*BT", "N1*BY", "N1*ST", "N1*VN"},  # the 850's revision and parties
    "865": {"REF*PP", "DTM*097"},  # as the 855
}


def content_problems(segments: list[list[str]]) -> list[str]:
    """What a set lacks of the fuller 850/855/810/860/865: the header segments above and,
    in an 850, per PO1: price basis CT, ids BP/VC/UK, a PID*F description, and a PO4 for a
    unit that is a pack (every unit but EA); in an 855, BAK09.  Any set, of any kind:
    ``REF*ZZ``."""
    code = segments[0][1]
    tags = {s[0] for s in segments} | {f"{s[0]}*{s[1]}" for s in segments if len(s) > 1}
    problems = [f"{code}: no {tag}" for tag in sorted(FULL_HEADERS.get(code, set()) - tags)]
    if any(s[:2] == ["REF", "ZZ"] for s in segments):
        problems.append(f"{code}: REF*ZZ (mutually defined) where a standard place exists")
    if code == "855":
        problems += [f"855: no BAK09 in {s}" for s in segments if s[0] == "BAK" and len(s) < 10]
    if code != "850":
        return problems
    lines = [i for i, s in enumerate(segments) if s[0] == "PO1"]
    for i, end in zip(lines, [*lines[1:], len(segments) - 2], strict=True):
        po1, loop = segments[i], segments[i + 1 : end]
        ids = dict(zip(po1[6::2], po1[7::2], strict=False))
        if po1[5:6] != ["CT"] or not {"BP", "VC", "UK"} <= ids.keys():
            problems.append(f"850 line {po1[1]}: PO105 CT and BP/VC/UK ids, got {po1}")
        if not any(s[:2] == ["PID", "F"] and len(s) > 5 and s[5] for s in loop):
            problems.append(f"850 line {po1[1]}: no PID*F description")
        if po1[3] != "EA" and not any(s[0] == "PO4" for s in loop):
            problems.append(f"850 line {po1[1]}: a {po1[3]} without its PO4 pack")
    return problems


def test_every_850_855_810_860_865_carries_the_full_content(
    exchanged: list[tuple[str, str]],
) -> None:
    """The structural checks of the fuller documents, over every one the run exchanged
    (no REF*ZZ in any document of any kind), and what each translator reads back."""
    sets = [s for _, text in exchanged for s in emu.Interchange.parse(text).sets]
    by_code = {c: [s for s in sets if s[0][1] == c] for c in FULL_HEADERS}
    assert all(by_code.values()), {c: len(v) for c, v in by_code.items()}
    assert [p for s in sets for p in content_problems(s)] == []
    orders = [emu.read_850(s) for s in by_code["850"]]
    lines = [ln for o in orders for ln in o["lines"]]
    assert all(o["bill_to_gln"] and o["vendor_gln"] and o["contract"] for o in orders)
    assert any(ln["ndc"] for ln in lines)  # drugs by NDC (N4)
    assert any(ln["critical"] for ln in lines)  # CSH*P2
    assert all(ln["description"] and ln["buyer_item"] for ln in lines)
    assert all(ln.get("pack") for ln in lines if ln["uom"] != "EA")
    assert all(emu.read_855(s).time for s in by_code["855"])
    changes = [emu.read_860(s) for s in by_code["860"]]
    assert all(c["revision"] >= 2 for c in changes)  # REF*PP: a change is revision 2 on
    assert all(emu.read_865(s).revision and emu.read_865(s).time for s in by_code["865"])
    invoices = [emu.read_810(s) for s in by_code["810"]]
    assert all(i.remit_to and i.bill_to and i.ship_to and i.shipped_on for i in invoices)
    assert {i.net_days for i in invoices} == {30}


@pytest.mark.parametrize(
    ("code", "drop", "named"),
    [
        ("850", lambda s: s[:2] == ["N1", "VN"], "N1*VN"),
        ("850", lambda s: s[:2] == ["REF", "CT"], "REF*CT"),
        ("850", lambda s: s[0] == "PID", "PID*F"),
        ("850", lambda s: s[0] == "PO4", "PO4"),
        ("855", lambda s: s[:2] == ["DTM", "097"], "DTM*097"),
        ("860", lambda s: s[:2] == ["REF", "PP"], "REF*PP"),
        ("860", lambda s: s[:2] == ["N1", "BT"], "N1*BT"),
        ("865", lambda s: s[:2] == ["REF", "PP"], "REF*PP"),
        ("865", lambda s: s[:2] == ["DTM", "097"], "DTM*097"),
        ("810", lambda s: s[0] == "ITD", "ITD"),
        ("810", lambda s: s[:2] == ["N1", "RI"], "N1*RI"),
    ],
)
def test_the_content_checks_catch_a_writer_that_drops_a_segment(
    exchanged: list[tuple[str, str]], code: str, drop: Callable[[list[str]], bool], named: str
) -> None:
    sets = [s for _, text in exchanged for s in emu.Interchange.parse(text).sets]
    [first] = [s for s in sets if s[0][1] == code][:1]
    assert content_problems(first) == []
    dropped = [s for s in first if not drop(s)]
    assert len(dropped) < len(first)
    assert any(named in p for p in content_problems(dropped))


@pytest.mark.parametrize("code", ["850", "855", "856", "810", "997", "860", "865"])
def test_the_content_checks_catch_a_writer_that_puts_anything_in_ref_zz(
    exchanged: list[tuple[str, str]], code: str
) -> None:
    """The injected defect: REF*ZZ (mutually defined) in the heading of a set of each
    kind, where the run's own sets of that kind have none."""
    sets = [s for _, text in exchanged for s in emu.Interchange.parse(text).sets]
    [first] = [s for s in sets if s[0][1] == code][:1]
    assert content_problems(first) == []
    injected = [*first[:2], ["REF", "ZZ", "CRITICAL"], *first[2:]]
    assert content_problems(injected) == [
        f"{code}: REF*ZZ (mutually defined) where a standard place exists"
    ]
