"""`simkeep store statement` and `simkeep store remit`: exact output, the CSV and PDF files, a remittance once per
reference, only a role with stores.statements, nothing moved on a refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from simkeep.ledger.models import JournalEntry
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.staff import make_staff
from tests.factories.stores import make_store, open_drawer, sell, seller


@pytest.fixture(autouse=True)
def _frozen(monkeypatch):
    monkeypatch.setattr("simkeep.core.clock.now", lambda: T0 + timedelta(days=3))


@pytest.fixture
def store(db, settings):
    make_line(db, now=T0)
    store = make_store(db, now=T0)
    li = seller(store, make_staff(db, settings, username="li", role="agent", store_id=store.id, now=T0))
    for name, role in (("alice", "finance"), ("sam", "support")):
        make_staff(db, settings, username=name, role=role, now=T0)
    open_drawer(db, li, now=T0)
    sell(db, li, now=T0)
    sell(db, li, offer_id="fr-orange-mobicarte-25", now=T0)
    return store


def entries(db) -> int:
    with db.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(JournalEntry))


def test_statement_on_screen_as_csv_and_pdf(cli, store, tmp_path):
    out = cli("store", "statement", "par-belleville", "--month", "2027-03", "--csv", str(tmp_path / "s.csv"),
              "--pdf", str(tmp_path / "s.pdf"), "--language", "zh_CN")
    lines = out.splitlines()
    assert lines[0] == "PAR-BELLEVILLE 2027-03 (Europe/Paris)"
    assert lines[2].split() == ["+", "cash", "sales", "2", "€35.00"]
    assert lines[3].split() == ["-", "commission", "earned", "€1.05"]
    assert lines[7].split() == ["owed", "at", "the", "end", "€33.95"]
    assert "agrees with the ledger: yes" in out
    assert "PAR-BELLEVILLE,2027-03,closing,,33.95,EUR" in (tmp_path / "s.csv").read_text()
    reader = PdfReader(tmp_path / "s.pdf")
    box = reader.pages[0].mediabox
    assert (round(float(box.width) * 25.4 / 72), round(float(box.height) * 25.4 / 72)) == (210, 297)  # A4
    assert "门店对账单" in reader.pages[0].extract_text()
    assert "error month_invalid" in cli("store", "statement", "PAR-BELLEVILLE", "--month", "2027-3", code=1)
    assert "error store_not_found" in cli("store", "statement", "NOWHERE", code=1)


def test_remit_once_per_reference_by_finance_only(cli, db, store):
    out = cli("store", "remit", "PAR-BELLEVILLE", "20.00", "--reference", "DEP-1", "--reason", "bank slip",
              "--as", "alice")
    assert out.strip() == "€20.00 remitted by PAR-BELLEVILLE (reference DEP-1)"
    before = entries(db)
    assert "error remittance_recorded" in cli("store", "remit", "PAR-BELLEVILLE", "20.00", "--reference", "DEP-1",
                                              "--reason", "again", "--as", "alice", code=1)
    assert "may not do this (stores.statements)" in cli("store", "remit", "PAR-BELLEVILLE", "5", "--reference",
                                                        "DEP-2", "--reason", "x", "--as", "sam", code=1)
    assert "is not an amount" in cli("store", "remit", "PAR-BELLEVILLE", "abc", "--reference", "DEP-3",
                                     "--reason", "x", "--as", "alice", code=1)
    assert entries(db) == before
    out = cli("store", "statement", "PAR-BELLEVILLE", "--month", "2027-03")
    assert out.splitlines()[6].split() == ["-", "remitted", "1", "€20.00"]
    assert out.splitlines()[7].split() == ["owed", "at", "the", "end", "€13.95"]
