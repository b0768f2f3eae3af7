"""``change_orders``: buyers change POs; three partners take 860s, the rest replacement 850s.

A short run of the library story (every story's figures, half a day of demand) checks
what a trading-partner analyst would: the 860s go only to the partners whose profile
takes them, with the changes the buyers made; SUPP1001 and SUPP1003 answer with 865s,
SUPP1002 with revised 855s; the others get replacement 850s; and every change reaches
the ERP and the WMS (the run converges, nothing is lost, the SLOs hold).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from emulators.supplier import SupplierNetwork
from emulators.x12 import Interchange, read_860
from scenarios.sim.runner import Outcome, run_architecture
from scenarios.spec.load import load_scenario

SHORT = {"duration_days": 0.5, "settle_days": 1.5, "demand.pos_per_day": 240, "network.items": 60}
TAKES_860 = {"SUPP1001", "SUPP1002", "SUPP1003"}


@pytest.fixture(scope="module")
def run() -> tuple[Outcome, list[tuple[str, str, str]]]:
    """The run, and (kind, partner, interchange) of every 850/860 the core posted and
    every 855/865 a partner published."""
    seen: list[tuple[str, str, str]] = []
    mp = pytest.MonkeyPatch()
    receive, publish = SupplierNetwork.receive_edi, SupplierNetwork._publish

    def receive_edi(self: SupplierNetwork, text: str) -> Any:
        kind = re.search(r"~ST\*(\d{3})\*", text)
        seen.append((kind[1] if kind else "", Interchange.parse(text).receiver, text))
        return receive(self, text)

    def _publish(
        self: SupplierNetwork, supplier: str, buyer: str, segments: Any, *goods: Any
    ) -> None:
        publish(self, supplier, buyer, segments, *goods)
        seen.append((segments[0][1], supplier, self.mailbox_docs[-1]["payload"]))

    mp.setattr(SupplierNetwork, "receive_edi", receive_edi)
    mp.setattr(SupplierNetwork, "_publish", _publish)
    try:
        outcome = run_architecture(load_scenario("change_orders", overrides=SHORT), "event")
    finally:
        mp.undo()
    return outcome, seen


def test_860s_go_to_the_partners_that_take_them_and_only_to_them(
    run: tuple[Outcome, list[tuple[str, str, str]]],
) -> None:
    _, seen = run
    changes = [(partner, text) for kind, partner, text in seen if kind == "860"]
    assert changes, "no 860 in the run"
    assert {partner for partner, _ in changes} <= TAKES_860
    codes = Counter(
        poc["code"]
        for _, text in changes
        for poc in read_860(Interchange.parse(text).sets[0])["changes"]
    )
    assert set(codes) <= {"AI", "CA", "DI", "PC", "QD", "QI"} and len(codes) >= 3, codes
    replaced = [p for kind, p, text in seen if kind == "850" and "~BEG*05*" in text]
    assert replaced and not set(replaced) & TAKES_860


def test_each_partner_answers_changes_as_its_profile_says(
    run: tuple[Outcome, list[tuple[str, str, str]]],
) -> None:
    _, seen = run
    answered = {partner for kind, partner, _ in seen if kind == "865"}
    assert answered and answered <= {"SUPP1001", "SUPP1003"}
    revised = {
        p for kind, p, text in seen if kind == "855" and not re.search(r"~REF\*PP\*1~", text)
    }
    assert "SUPP1002" in revised  # its revised 855s (revision 2 on)


def test_every_change_reaches_the_erp_and_the_wms(
    run: tuple[Outcome, list[tuple[str, str, str]]],
) -> None:
    outcome, _ = run
    results: dict[str, Any] = outcome.results
    assert results["passed"], [s["detail"] for s in results["slos"] if not s["passed"]]
    c = results["consistency"]
    assert c["converged"] and c["lost_updates"] == 0 and c["regressions"] == 0
    assert results["flows"]["po_acknowledgment"]["lag_s"]["n"] > 0
