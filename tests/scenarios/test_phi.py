"""PHI-adjacent data: no raw MRN survives anywhere a case-PO run writes, logs or stores.

The ERP emulator holds case POs that name a patient's MRN and procedure date
(``erp.phi`` in the scenario).  These tests run such a scenario through the command line,
take every MRN from the ERP emulator's own state, and search the bytes of every file the
run wrote, the log and console output, and the core's store (a dump of the memory store,
or a SQLite store file) for each one.  They also check that the data was carried, as
tokens, where it belongs (the supplier's order holds the case reference, the core's
store the tokens), so a run that dropped the case fields would fail here too, and that
the search catches a raw MRN when the tokeniser is bypassed (the injected defect).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scenarios.cli.main import main
from scenarios.sim import network
from scenarios.spec.load import load_scenario
from sync_core.phi import PhiBoundary, case_reference, simulation_key
from sync_core.store_sqlite import SqliteStore

LIBRARY = Path(__file__).parents[2] / "scenarios" / "library" / "bill_only_implants.yaml"


@dataclass
class Seen:
    """What one run's systems and core held, captured as they were built."""

    systems: dict[str, Any]
    stores: list[Any]

    def case_pos(self) -> dict[str, dict[str, Any]]:
        """The ERP's case POs, by number: the emulator's own state."""
        return {n: o for n, o in self.systems["erp"].orders.items() if "PatientMRN" in o}


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> Seen:
    """Records the emulators and the core's store that the next simulated run builds."""
    captured = Seen({}, [])
    for name, attr in (("erp", "Erp"), ("supplier", "SupplierNetwork"), ("wms", "Wms"),
                       ("ap", "Ap")):  # fmt: skip
        real = getattr(network, attr)

        def recording(*args: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            system = _real(*args, **kw)
            captured.systems[_name] = system
            return system

        monkeypatch.setattr(network, attr, recording)
    memory = network.MemoryStore

    def store(**kw: Any) -> Any:
        made = memory(**kw)
        captured.stores.append(made)
        return made

    monkeypatch.setattr(network, "MemoryStore", store)
    return captured


def small_scenario(tmp_path: Path) -> Path:
    """The library story, one day of demand and a third of the POs for a case."""
    path = tmp_path / "phi.yaml"
    path.write_text(
        f"extends: {LIBRARY}\nduration_days: 1\nsettle_days: 1\n"
        "demand: {pos_per_day: 60}\nnetwork: {items: 60}\nerp: {phi: {case_share: 0.3}}\n"
    )
    return path


def leaks(needles: Iterable[str], folder: Path, texts: Iterable[str]) -> list[str]:
    """Where any needle occurs: in the bytes of any file under ``folder`` (binary files
    included), or in any of ``texts`` (logs, console output, store dumps)."""
    wanted = [(n, n.encode()) for n in needles]
    found = [
        f"{path.relative_to(folder)}: {needle}"
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        for needle, raw in wanted
        if raw in path.read_bytes()
    ]
    for i, text in enumerate(texts):
        found += [f"text {i}: {needle}" for needle, _ in wanted if needle in text]
    return found


def store_dump(store: Any) -> str:
    """Everything a memory store holds (entities, outbox, dead letters, inbox), as text."""
    return repr(vars(store))


def run_cli(
    scenario: Path | str, architecture: str, out: Path, caplog: pytest.LogCaptureFixture
) -> int:
    caplog.set_level(logging.DEBUG)
    return main(["run", str(scenario), "--architecture", architecture, "--out", str(out)])


def expected_tokens(seen: Seen, scenario: str, seed: int) -> dict[str, tuple[str, str, str]]:
    """Per case PO: the MRN token, the date token and the case reference the core must
    have made of the ERP's values, with the run's (simulation) key."""
    phi = PhiBoundary(simulation_key(scenario, seed))
    tokens = {}
    for number, order in seen.case_pos().items():
        mrn = phi.token("PatientMRN", order["PatientMRN"])
        date = phi.token("ProcedureDate", order["ProcedureDate"])
        tokens[number] = (mrn, date, case_reference(mrn, date))
    return tokens


def assert_carried_as_tokens(seen: Seen, tokens: dict[str, tuple[str, str, str]]) -> None:
    """The supplier got each case's reference and nothing else of it; the core stored the
    tokens; the WMS and AP got nothing about the patient."""
    supplier = {o["customer_po"]: o for o in seen.systems["supplier"].orders.values()}
    for number, (mrn, date, case) in tokens.items():
        assert supplier[number]["case_reference"] == case, number
        stored = seen.stores[0].entity("po", number).data
        assert (stored["patient_token"], stored["procedure_token"]) == (mrn, date)
    stock = [o for n, o in supplier.items() if n not in tokens]
    assert stock and all("case_reference" not in o for o in stock)
    every_token = [t for triple in tokens.values() for t in triple]
    for system in ("wms", "ap"):
        state = repr(vars(seen.systems[system]))
        assert not [t for t in every_token if t in state], system


@pytest.mark.parametrize("architecture", ["event", "hybrid"])
def test_no_raw_mrn_in_anything_the_run_writes_logs_or_stores(
    architecture: str, seen: Seen, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys
) -> None:
    out = tmp_path / "out"
    assert run_cli(small_scenario(tmp_path), architecture, out, caplog) == 0
    console = capsys.readouterr()
    cases = seen.case_pos()
    mrns = [order["PatientMRN"] for order in cases.values()]
    assert len(mrns) >= 10  # the evidence: case POs were made, each naming a patient
    assert len(set(mrns)) == len(mrns)
    assert {p.name for p in out.iterdir()} >= {"results.json", "history.jsonl", "report.html"}
    texts = [caplog.text, console.out, console.err, store_dump(seen.stores[0])]
    assert leaks(mrns, out, texts) == []
    dates = {order["ProcedureDate"] for order in cases.values()}
    assert all(dt.date.fromisoformat(d) for d in dates)  # real dates, carried as tokens
    spec = load_scenario(small_scenario(tmp_path))
    assert_carried_as_tokens(seen, expected_tokens(seen, spec.name, spec.seed))


def test_a_sqlite_store_of_a_case_po_run_holds_no_raw_mrn(
    seen: Seen, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The core's store as a file (binary SQLite, WAL included) holds tokens only."""
    folder = tmp_path / "store"
    folder.mkdir()
    stores: list[SqliteStore] = []

    def sqlite(**kw: Any) -> SqliteStore:
        stores.append(SqliteStore(folder / "core.sqlite", synchronous="OFF", **kw))
        seen.stores.append(stores[-1])
        return stores[-1]

    monkeypatch.setattr(network, "MemoryStore", sqlite)
    spec = load_scenario(small_scenario(tmp_path))
    network.simulate(spec, "event")
    mrns = [order["PatientMRN"] for order in seen.case_pos().values()]
    assert len(mrns) >= 10
    tokens = expected_tokens(seen, spec.name, spec.seed)
    assert_carried_as_tokens(seen, tokens)
    found = leaks(mrns, folder, [])  # open: the WAL file too
    stores[0].close()
    found += leaks(mrns, folder, [])  # closed: checkpointed into the database file
    assert found == []
    assert leaks([t[0] for t in tokens.values()], folder, [])  # the tokens are there


def test_the_search_finds_a_raw_mrn_when_the_tokeniser_is_bypassed(
    seen: Seen, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch
) -> None:
    """The injected defect: a tokeniser that hands values on as they are.  The core's
    canonical model takes tokens only, so such a PO is dead-lettered rather than sent,
    and the raw MRN sits in the store's dead letters, where the search finds it."""
    monkeypatch.setattr(PhiBoundary, "token", lambda self, name, value: value)
    out = tmp_path / "out"
    run_cli(small_scenario(tmp_path), "event", out, caplog)
    mrns = [order["PatientMRN"] for order in seen.case_pos().values()]
    found = leaks(mrns, out, [caplog.text, store_dump(seen.stores[0])])
    assert mrns and len(found) >= len(mrns)
    assert seen.stores[0].dead_letters()  # the raw values did not map: dead-lettered
    supplier = seen.systems["supplier"].orders.values()
    assert not [o for o in supplier if "case_reference" in o]  # nothing raw went out


def test_a_bad_phi_section_is_named_with_its_reason(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"extends: {LIBRARY}\nerp: {{phi: {{case_share: 0}}}}\n")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("supplysync: error:") and "erp.phi.case_share" in err
    assert "greater than 0" in err and len(err.splitlines()) == 1


def test_serve_core_refuses_a_short_phi_key_naming_it(tmp_path: Path, monkeypatch, capsys) -> None:
    """An operator's key (``SUPPLYSYNC_PHI_KEY``) shorter than 32 characters: exit 2, one
    line, before anything is served."""
    monkeypatch.setenv("SUPPLYSYNC_PHI_KEY", "too-short")
    store = tmp_path / "core.sqlite"
    code = main(["serve", "core", "--erp", "http://127.0.0.1:9", "--store", str(store)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "SUPPLYSYNC_PHI_KEY: must be at least 32 characters" in err


def test_a_key_tokenises_and_no_key_drops_the_phi_fields() -> None:
    """The boundary on its own: tokens with a key (stable, keyed), the fields dropped
    without one; a stock PO and the ERP's own document are left as they are."""
    doc = {"OrderNumber": "4500000001", "PatientMRN": "H01-0000001",
           "ProcedureDate": "2026-03-01", "lines": []}  # fmt: skip
    one, other = PhiBoundary(b"k" * 32), PhiBoundary(b"j" * 32)
    clean = one.purchase_order(doc)
    assert (
        clean["PatientMRN"]
        == one.token("PatientMRN", "H01-0000001")
        != other.token("PatientMRN", "H01-0000001")
    )
    assert re.fullmatch(r"date-[0-9a-f]{32}", clean["ProcedureDate"])
    assert doc["PatientMRN"] == "H01-0000001"  # a copy: the ERP's document is untouched
    assert PhiBoundary(None).purchase_order(doc) == {"OrderNumber": "4500000001", "lines": []}
    stock = {"OrderNumber": "4500000002", "lines": []}
    assert one.purchase_order(stock) is stock


@pytest.mark.parametrize("key", [None, "0123456789abcdef0123456789abcdef"])
def test_serve_core_hands_the_operator_s_key_to_the_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str | None
) -> None:
    """``SUPPLYSYNC_PHI_KEY`` set: the core tokenises with it; unset: no key (dropped)."""
    from scenarios.live import serve_core

    if key is None:
        monkeypatch.delenv("SUPPLYSYNC_PHI_KEY", raising=False)
    else:
        monkeypatch.setenv("SUPPLYSYNC_PHI_KEY", key)
    served: dict[str, Any] = {}
    monkeypatch.setattr(serve_core, "serve_core", lambda **kw: served.update(kw))
    store = tmp_path / "core.sqlite"
    assert main(["serve", "core", "--erp", "http://127.0.0.1:9", "--store", str(store)]) == 0
    assert served["phi_key"] == (None if key is None else key.encode())
