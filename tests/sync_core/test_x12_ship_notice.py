"""The core's 856 reader: each line's pack (SSCC-18), the bill of lading, with or without
pack levels, and a clear error naming the element for a bad pack label."""

from __future__ import annotations

import pytest

from sync_core.errors import MappingError
from sync_core.mappers.wms import ship_notice
from sync_core.mappers.x12 import parse_interchange, ship_notices_from_856

PACK_1 = "106141411234567897"  # GS1's example SSCC
PACK_2 = "006141410000001026"
ITEM = ["LIN*1*VC*NG-M*UK*10012345678902", "SN1**5*CA", "REF*LT*L1"]


def interchange(hl_segments: list[str], structure: str = "0001") -> str:
    body = ["ST*856*0001", f"BSN*00*SHP1*20240116*0900*{structure}", *hl_segments]
    body.append(f"SE*{len(body) + 1}*0001")
    isa = ("ISA*00*          *00*          *ZZ*SUPP1001       *ZZ*HOSPNET01      *240116*0900"
           "*U*00401*000000007*0*P*>~")  # fmt: skip
    return (isa + "GS*SH*SUPP1001*HOSPNET01*20240116*0900*7*X*004010~"
            + "".join(s + "~" for s in body) + "GE*1*7~IEA*1*000000007~")  # fmt: skip


def test_each_line_carries_the_sscc_of_its_pack_and_the_wms_gets_it() -> None:
    hl = ["HL*1**S", "TD1*CTN25*2****G*48*LB", "REF*BM*06141410000000014", "HL*2*1*O",
          "PRF*PO1", "HL*3*2*T", "MAN*GM*" + PACK_1, "HL*4*3*P", "HL*5*4*I", *ITEM,
          "HL*6*2*P", "MAN*GM*" + PACK_2, "HL*7*6*I", *ITEM]  # fmt: skip
    _, [ts] = parse_interchange(interchange(hl))

    [notice] = ship_notices_from_856(ts)

    # a pack without a label of its own travels in its tare's (pallet's) SSCC
    assert [line.sscc for line in notice.lines] == [PACK_1, PACK_2]
    assert notice.bill_of_lading == "06141410000000014"
    asn = ship_notice(notice, None)
    assert asn["bol_nbr"] == "06141410000000014"
    assert [(ln["sscc"], ln["gtin"]) for ln in asn["lines"]] == [
        (PACK_1, "10012345678902"), (PACK_2, "10012345678902")
    ]  # fmt: skip


def test_without_pack_levels_the_lines_have_no_sscc() -> None:
    hl = ["HL*1**S", "HL*2*1*O", "PRF*PO1", "HL*3*2*I", *ITEM]
    _, [ts] = parse_interchange(interchange(hl, "0004"))
    [notice] = ship_notices_from_856(ts)
    assert [line.sscc for line in notice.lines] == [None]
    assert ship_notice(notice, None)["lines"][0]["sscc"] is None


@pytest.mark.parametrize("label", [PACK_1[:-1] + "0", "12345", ""])
def test_a_bad_pack_label_names_man02(label: str) -> None:
    hl = ["HL*1**S", "HL*2*1*O", "PRF*PO1", "HL*3*2*P", f"MAN*GM*{label}", "HL*4*3*I", *ITEM]
    _, [ts] = parse_interchange(interchange(hl))
    with pytest.raises(MappingError) as err:
        ship_notices_from_856(ts)
    assert err.value.field == "MAN02 (segment 7)"
