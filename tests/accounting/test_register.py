"""The receipt register proves the numbering: no gaps on real data, and a receipt removed on purpose — in the middle
or the last one — is named."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import delete, select

from simkeep.accounting import exports
from simkeep.accounting import service as books_service
from simkeep.config import DEMO_SIREN, ConfigError, Settings, check
from simkeep.receipt.models import Receipt
from tests.conftest import TEST_SECRET
from tests.factories import payments
from tests.factories.lines import make_line
from tests.web import freeze_clock

OPERATOR = "fr-orange-mobicarte"


@pytest.fixture
def five_receipts(db, settings, monkeypatch):
    """Five card top-ups on the portal's payment path, each with its receipt (numbers 1 to 5 of 2027)."""
    clock = freeze_clock(monkeypatch)
    monkeypatch.setattr(payments, "now", clock)
    make_line(db, now=clock())
    for n in range(5):
        clock.advance(minutes=1)
        payments.paid(db, settings, key=f"checkout-{n}")
    with db.transaction(write=False) as session:
        assert session.scalars(select(Receipt.number).order_by(Receipt.number)).all() == [
            f"FR-ORANGE-MOBICARTE-2027-{n:06d}" for n in range(1, 6)]


def prove(db) -> books_service.Proof:
    with db.transaction(write=False) as session:
        return books_service.prove(session, operator_id=OPERATOR, year=2027)[0]


def remove(db, number: int) -> None:
    with db.transaction() as session:
        session.execute(delete(Receipt).where(Receipt.number == f"FR-ORANGE-MOBICARTE-2027-{number:06d}"))


def register_csv(db) -> list[list[str]]:
    with db.transaction(write=False) as session:
        given = books_service.counter(session, operator_id=OPERATOR, year=2027)
        lines = books_service.register(session, operator_id=OPERATOR, year=2027)
        text = "".join(exports.register_csv(lines, books_service.Proof(OPERATOR, 2027), given))
    return list(csv.reader(io.StringIO(text)))


def test_real_receipts_have_no_gaps(db, five_receipts):
    proof = prove(db)
    assert (proof.first, proof.last, proof.count, proof.counter, proof.missing, proof.gapless) == (1, 5, 5, 5, [], True)
    header, *rows, blank, _, proof_row = register_csv(db)
    assert header == ["number", "issued_at_utc", "amount", "currency", "payment_method", "voided"]
    assert [row[0] for row in rows] == [f"FR-ORANGE-MOBICARTE-2027-{n:06d}" for n in range(1, 6)]
    assert rows[0][2:] == ["10.00", "EUR", "card", "no"] and rows[0][1].startswith("2027-03-01T09:01:00")
    assert blank == [] and proof_row == ["fr-orange-mobicarte", "2027", "1", "5", "5", "0", "5", "no gaps"]
    with db.transaction(write=False) as session:
        assert books_service.prove(session, operator_id=OPERATOR, year=2026)[0].count == 0
        assert books_service.prove(session, operator_id="fr-sfr-la-carte", year=2027)[0].gapless


def test_a_receipt_deleted_in_the_middle_is_named_missing(db, five_receipts):
    remove(db, 3)
    proof = prove(db)
    assert (proof.count, proof.missing, proof.missing_text(), proof.gapless) == (4, [(3, 3)], "3", False)
    assert register_csv(db)[-1] == ["fr-orange-mobicarte", "2027", "1", "5", "4", "0", "5", "missing: 3"]


def test_the_first_and_the_last_receipts_deleted_are_found_from_the_counter(db, five_receipts):
    remove(db, 1)
    remove(db, 2)
    remove(db, 5)
    proof = prove(db)
    assert (proof.first, proof.last, proof.counter) == (3, 4, 5)
    assert (proof.missing_text(), proof.missing_count) == ("1-2, 5", 3)


def test_the_cli_exits_2_when_the_register_has_a_gap(db, five_receipts, cli, tmp_path):
    out = cli("accounting", "receipts", "--operator", OPERATOR, "--year", "2027", "--out", str(tmp_path / "r.csv"))
    assert "5 receipts, 1..5: no gaps" in out
    remove(db, 4)
    out = cli("accounting", "receipts", "--operator", OPERATOR, "--year", "2027", "--out", str(tmp_path / "r.csv"),
              code=2)
    assert "missing 4" in out


def test_a_wrong_siren_stops_startup_and_demo_mode_has_a_made_up_valid_one():
    with pytest.raises(ConfigError) as refused:
        check(Settings(secret_key=TEST_SECRET, company_siren="732829321"))
    assert "SIMKEEP_COMPANY_SIREN is not a valid SIREN" in str(refused.value)
    check(Settings(secret_key=TEST_SECRET, company_siren="732829320"))
    assert Settings(env="demo").siren == DEMO_SIREN and Settings().siren is None
