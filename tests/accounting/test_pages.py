"""/admin/accounting: finance and admin see the balances and the register and download the books, each download in
the audit log; other roles get 403; bad input gets a translated 422 and changes nothing."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from simkeep.audit.models import AuditEntry
from simkeep.main import create_app
from tests.factories.books import mixed_day
from tests.factories.staff import make_staff, sign_in
from tests.web import freeze_clock

PERIOD = {"operator": "fr-orange-mobicarte", "from": "2027-03-01", "to": "2027-03-01"}
SIREN = "732829320"


@pytest.fixture
def books(db, settings, monkeypatch):
    clock = freeze_clock(monkeypatch)
    mixed_day(db, settings, clock, monkeypatch)
    clock.advance(days=1)
    return settings.model_copy(update={"company_siren": SIREN}), clock


def signed_in(db, settings, role: str, lang: str = "en") -> TestClient:
    client = TestClient(create_app(settings, db), follow_redirects=False, headers={"Accept-Language": lang})
    client.__enter__()
    sign_in(client, db, make_staff(db, settings, username=f"{role}-1", role=role))
    return client


def exports(db) -> list[tuple[str, str, dict]]:
    with db.transaction(write=False) as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "accounting.export")
                               .order_by(AuditEntry.at, AuditEntry.id)).all()
    return [(row.actor, row.subject_id, row.details) for row in rows]


def test_finance_sees_the_balances_and_a_register_without_gaps(db, books):
    settings, _ = books
    client = signed_in(db, settings, "finance")
    page = client.get("/admin/accounting", params={**PERIOD, "year": "2027"})
    assert page.status_code == 200, page.text
    assert "3 receipts, numbers 1 to 3: no gaps." in page.text
    assert "41911000 Clients - avances reçues (crédit prépayé)" in page.text
    assert f"{SIREN}FEC20270301.txt" in page.text
    assert 'href="/admin/accounting"' in client.get("/admin/account").text
    assert exports(db) == []  # looking is not exporting


def test_every_download_is_recorded_in_the_audit_log_with_the_period(db, books):
    settings, _ = books
    client = signed_in(db, settings, "finance")
    journal = client.get("/admin/accounting/journal.csv", params=PERIOD)
    assert journal.status_code == 200 and journal.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="journal-EUR-2027-03-01-2027-03-01.csv"' in journal.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(journal.text)))
    assert rows[0][:3] == ["date", "journal", "entry_number"] and len(rows) > 10
    workbook = load_workbook(io.BytesIO(client.get("/admin/accounting/journal.xlsx", params=PERIOD).content))
    assert workbook.sheetnames == ["Journal", "Balances"] and workbook["Journal"].max_row == len(rows) + 1
    balances = list(csv.reader(io.StringIO(client.get("/admin/accounting/balances.csv", params=PERIOD).text)))
    assert balances[0][0] == "pcg_account"
    fec = client.get("/admin/accounting/fec", params=PERIOD)
    assert f'filename="{SIREN}FEC20270301.txt"' in fec.headers["content-disposition"]
    assert fec.content.decode("iso-8859-15").startswith("JournalCode\tJournalLib\tEcritureNum\t")
    register = client.get("/admin/accounting/receipts.csv", params={"operator": "fr-orange-mobicarte",
                                                                    "year": "2027"})
    *_, proof_header, proof = list(csv.reader(io.StringIO(register.text)))
    assert proof_header == ["operator", "year", "first", "last", "count", "voided", "counter", "gaps"]
    assert proof == ["fr-orange-mobicarte", "2027", "1", "3", "3", "1", "3", "no gaps"]
    period = {"report": None, "format": None, "from": "2027-03-01", "to": "2027-03-01", "currency": "EUR",
              "zone": "Europe/Paris"}
    assert exports(db) == [
        ("staff:finance-1", "journal:2027-03-01..2027-03-01", {**period, "report": "journal", "format": "csv"}),
        ("staff:finance-1", "journal:2027-03-01..2027-03-01", {**period, "report": "journal", "format": "xlsx"}),
        ("staff:finance-1", "balances:2027-03-01..2027-03-01", {**period, "report": "balances", "format": "csv"}),
        ("staff:finance-1", "fec:2027-03-01..2027-03-01", {**period, "report": "fec", "format": "txt"}),
        ("staff:finance-1", "receipts:fr-orange-mobicarte:2027",
         {"report": "receipts", "format": "csv", "operator_id": "fr-orange-mobicarte", "year": 2027}),
    ]


@pytest.mark.parametrize("path", ["", "/journal.csv", "/journal.xlsx", "/balances.csv", "/fec", "/receipts.csv"])
def test_a_role_without_accounting_read_gets_403(db, books, path):
    settings, _ = books
    client = signed_in(db, settings, "support")
    assert client.get(f"/admin/accounting{path}", params={**PERIOD, "year": "2027"}).status_code == 403
    assert exports(db) == []


def test_bad_input_gets_a_translated_422_and_exports_nothing(db, books):
    settings, _ = books
    client = signed_in(db, settings, "finance", lang="fr")
    bad_period = client.get("/admin/accounting/journal.csv", params={**PERIOD, "from": "2027-03-02"})
    assert bad_period.status_code == 422 and "Ce n’est pas une période valide" in bad_period.text
    unknown = client.get("/admin/accounting", params={**PERIOD, "operator": "nope"})
    assert unknown.status_code == 422 and "Choisissez un opérateur dans la liste" in unknown.text
    spans = client.get("/admin/accounting/fec", params={**PERIOD, "from": "2026-12-31"})
    assert spans.status_code == 422 and "un seul exercice" in spans.text
    no_siren = signed_in(db, settings.model_copy(update={"company_siren": None}), "admin")
    assert no_siren.get("/admin/accounting/fec", params=PERIOD).status_code == 422
    assert exports(db) == []


def test_the_cli_writes_each_file_and_names_the_staff_member_in_the_audit_log(db, books, cli, tmp_path, monkeypatch):
    settings, _ = books
    make_staff(db, settings, username="anne", role="finance")
    monkeypatch.setenv("SIMKEEP_COMPANY_SIREN", SIREN)
    period = ["--operator", "fr-orange-mobicarte", "--from", "2027-03-01", "--to", "2027-03-01"]
    cli("accounting", "journal", *period, "--out", str(tmp_path / "j.csv"), "--as", "anne")
    cli("accounting", "journal", *period, "--format", "xlsx", "--out", str(tmp_path / "j.xlsx"))
    out = cli("accounting", "balances", *period, "--out", str(tmp_path / "b.csv"))
    assert "debits" in out and "= credits" in out
    cli("accounting", "fec", *period, "--out", str(tmp_path))
    assert (tmp_path / f"{SIREN}FEC20270301.txt").read_bytes().startswith(b"JournalCode\t")
    out = cli("accounting", "receipts", "--operator", "fr-orange-mobicarte", "--year", "2027",
              "--out", str(tmp_path / "r.csv"))
    assert "3 receipts, 1..3: no gaps" in out
    web = list(csv.reader(io.StringIO(signed_in(db, settings, "finance").get(
        "/admin/accounting/journal.csv", params=PERIOD).text)))
    assert list(csv.reader(io.StringIO((tmp_path / "j.csv").read_text()))) == web
    actors = [actor for actor, _, _ in exports(db)]
    assert actors[0] == "staff:anne" and all(a.startswith(("cli", "staff:")) for a in actors) and len(actors) == 6
    out = cli("accounting", "journal", "--from", "2027-03-02", "--to", "2027-03-01", "--currency", "EUR",
              "--out", str(tmp_path / "x.csv"), code=1)
    assert "accounting_period_invalid" in out
