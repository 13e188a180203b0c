import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from simkeep.cli import app
from simkeep.config import get_settings
from simkeep.core.errors import InsufficientBalance, LedgerUnbalanced
from simkeep.core.money import Money
from simkeep.ledger import service as ledger
from simkeep.ledger.service import Leg
from tests.conftest import T0
from tests.factories.lines import make_line, top_up, view
from tests.factories.snapshot import snapshot

EUR = "EUR"
PORTAL = ledger.system_account_id(ledger.CLEARING, EUR, "portal")
REVENUE = ledger.system_account_id(ledger.REVENUE, EUR)


def test_an_unbalanced_entry_is_refused_and_nothing_is_written(db):
    line = make_line(db, now=T0)
    before = snapshot(db)
    with pytest.raises(LedgerUnbalanced), db.transaction() as session:
        ledger.post(session, kind="test", reference="x", now=T0, legs=[
            Leg(line.credit_account_id, Money(100, EUR), tracked=True), Leg(PORTAL, Money(-99, EUR))])
    assert snapshot(db) == before


def test_mixed_currencies_cannot_balance_each_other(db):
    line = make_line(db, now=T0)
    before = snapshot(db)
    with pytest.raises(LedgerUnbalanced), db.transaction() as session:
        ledger.post(session, kind="test", reference="x", now=T0, legs=[
            Leg(line.credit_account_id, Money(100, EUR), tracked=True),
            Leg(ledger.system_account_id(ledger.REVENUE, "GBP"), Money(-100, "GBP"))])
    assert snapshot(db) == before


def test_a_guarded_debit_never_takes_a_subscriber_below_zero(db):
    line = make_line(db, now=T0)
    top_up(db, offer_id="fr-orange-mobicarte-5", now=T0)
    before = snapshot(db)
    with pytest.raises(InsufficientBalance), db.transaction() as session:
        ledger.post(session, kind="test", reference="y", now=T0, legs=[
            Leg(line.credit_account_id, Money(-501, EUR), tracked=True), Leg(REVENUE, Money(501, EUR))])
    assert snapshot(db) == before


def test_a_reference_is_written_once(db):
    line = make_line(db, now=T0)
    legs = [Leg(line.credit_account_id, Money(1, EUR), tracked=True), Leg(PORTAL, Money(-1, EUR))]
    with db.transaction() as session:
        ledger.post(session, kind="test", reference="once", now=T0, legs=legs)
    before = snapshot(db)
    with pytest.raises(IntegrityError), db.transaction() as session:
        ledger.post(session, kind="test", reference="once", now=T0, legs=legs)
    assert snapshot(db) == before
    assert view(db).credit.minor == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=st.lists(st.tuples(st.sampled_from(["topup", "spend"]), st.integers(1, 5_000)), max_size=25))
def test_random_moves_always_balance_and_verify(db, moves):
    with db.transaction() as session:
        credit, _bonus = ledger.open_subscriber_accounts(session, owner_id=uuid.uuid4(), currency=EUR, now=T0)
    expected = 0
    for n, (kind, amount) in enumerate(moves):
        sign = 1 if kind == "topup" else -1
        legs = [Leg(credit, Money(sign * amount, EUR), tracked=True), Leg(PORTAL, Money(-sign * amount, EUR))]
        try:
            with db.transaction() as session:
                ledger.post(session, kind=kind, reference=f"{credit}:{n}", now=T0, legs=legs)
            expected += sign * amount
        except InsufficientBalance:
            assert expected - amount < 0
    with db.transaction(write=False) as session:
        assert ledger.balances(session, [credit])[credit] == expected
        assert ledger.account_balance(session, credit) == expected
        report = ledger.verify(session)
    assert report.ok, report.problems


def test_verify_reports_drift_and_the_cli_exits_non_zero(db, monkeypatch):
    line = make_line(db, now=T0)
    top_up(db, now=T0)
    monkeypatch.setenv("SIMKEEP_DATABASE_URL", db.url)
    get_settings.cache_clear()
    try:
        ok = CliRunner().invoke(app, ["ledger", "verify"])
        assert ok.exit_code == 0, ok.output
        with db.engine.begin() as conn:  # tamper with a cached balance behind the ledger's back
            conn.execute(text("UPDATE ledger_accounts SET balance_minor = 999 WHERE id = :id"),
                         {"id": line.credit_account_id.hex if db.dialect == "sqlite" else line.credit_account_id})
        with db.transaction(write=False) as session:
            report = ledger.verify(session)
        assert report.problems == [f"account subscriber_credit:{line.id} caches 999 but its postings sum to 1000"]
        drift = CliRunner().invoke(app, ["ledger", "verify"])
        assert drift.exit_code == 1
        assert "1 problems" in drift.output
    finally:
        get_settings.cache_clear()
