from datetime import timedelta

import pytest
from sqlalchemy import select

from simkeep.audit.models import AuditEntry
from simkeep.charge import service as charges
from simkeep.config import Settings
from simkeep.ledger import service as ledger
from simkeep.notification.models import OutboxMessage
from simkeep.payment import refunds
from simkeep.payment.flow import refund
from simkeep.payment.models import Refund
from simkeep.payment.providers.base import ProviderDeclined, ProviderUnavailable
from tests.conftest import SANDBOX_ROUTES, TEST_SECRET
from tests.factories.lines import make_line, view
from tests.factories.payments import SECRET, now, paid
from tests.factories.snapshot import snapshot


@pytest.fixture
def cfg(db, tmp_path) -> Settings:
    return Settings(database_url=db.url, data_dir=tmp_path, secret_key=TEST_SECRET, sandbox_webhook_secret=SECRET,
                    sandbox_enabled=True, payment_routes=SANDBOX_ROUTES)


def clearing(db) -> int:
    with db.transaction(write=False) as session:
        return ledger.account_balance(session, ledger.system_account_id(ledger.CLEARING, "EUR", "provider:sandbox"))


def test_full_refund_of_unused_credit_takes_back_money_and_validity(db, cfg):
    line = make_line(db, now=now())
    attempt = paid(db, cfg)
    assert (view(db).credit.minor, view(db).line.validity_ends_at) == (1000, line.validity_ends_at + timedelta(days=14))
    done = refund(db, cfg, attempt_id=attempt, amount_minor=1000, reason="customer asked", actor="alice",
                  idempotency_key="r1")
    assert done.status == "succeeded" and done.provider_ref == "re_" + str(done.id)
    after = view(db)
    assert after.credit.minor == 0
    assert after.line.validity_ends_at == line.validity_ends_at  # as if the top-up never happened
    assert clearing(db) == 0
    with db.transaction(write=False) as session:
        assert ledger.verify(session).ok
        [sms] = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "payment.refunded")).all()
        [entry] = session.scalars(select(AuditEntry)).all()
    assert sms.payload["amount"] == {"amount_minor": 1000, "currency": "EUR"}
    assert (entry.actor, entry.action, entry.reason) == ("alice", "refund.requested", "customer asked")


def test_partial_refunds_keep_validity_and_stop_at_the_amount_paid(db, cfg):
    make_line(db, now=now())
    attempt = paid(db, cfg)
    validity = view(db).line.validity_ends_at
    refund(db, cfg, attempt_id=attempt, amount_minor=300, reason="partial", actor="bob", idempotency_key="p1")
    refund(db, cfg, attempt_id=attempt, amount_minor=300, reason="partial", actor="bob", idempotency_key="p1")  # replay
    assert (view(db).credit.minor, view(db).line.validity_ends_at) == (700, validity)
    before = snapshot(db)
    with pytest.raises(refunds.RefundNotAllowed):
        refund(db, cfg, attempt_id=attempt, amount_minor=701, reason="too much", actor="bob", idempotency_key="p2")
    assert snapshot(db) == before
    refund(db, cfg, attempt_id=attempt, amount_minor=700, reason="rest", actor="bob", idempotency_key="p3")
    assert view(db).credit.minor == 0


def test_a_refund_of_spent_credit_is_refused_and_nothing_moves(db, cfg):
    make_line(db, now=now())
    attempt = paid(db, cfg)
    with db.transaction() as session:
        charges.charge(session, principal="net", idempotency_key="c", msisdn="+33612345678", amount_minor=600,
                       kind="call", now=now())
    before = snapshot(db)
    with pytest.raises(refunds.RefundExceedsBalance):
        refund(db, cfg, attempt_id=attempt, amount_minor=1000, reason="too late", actor="bob", idempotency_key="x")
    assert snapshot(db) == before


class Refusing:
    name = "sandbox"

    def __init__(self, error):
        self.error = error

    def refund(self, *_args, **_kwargs):
        raise self.error


def test_a_refused_refund_gives_the_credit_and_validity_back(db, cfg, monkeypatch):
    make_line(db, now=now())
    attempt = paid(db, cfg)
    before = view(db)
    monkeypatch.setattr("simkeep.payment.flow.provider_named",
                        lambda *_: Refusing(ProviderDeclined("charge already refunded")))
    done = refund(db, cfg, attempt_id=attempt, amount_minor=1000, reason="r", actor="bob", idempotency_key="k")
    assert done.status == "failed"
    after = view(db)
    assert (after.credit.minor, after.line.validity_ends_at) == (before.credit.minor, before.line.validity_ends_at)
    with db.transaction(write=False) as session:
        assert ledger.verify(session).ok


def test_no_answer_from_the_provider_leaves_the_refund_pending_and_the_credit_reserved(db, cfg, monkeypatch):
    make_line(db, now=now())
    attempt = paid(db, cfg)
    monkeypatch.setattr("simkeep.payment.flow.provider_named",
                        lambda *_: Refusing(ProviderUnavailable()))
    pending = refund(db, cfg, attempt_id=attempt, amount_minor=400, reason="r", actor="bob", idempotency_key="k")
    assert pending.status == "pending"
    assert view(db).credit.minor == 600  # reserved: it cannot be spent while the refund is in flight
    with db.transaction(write=False) as session:
        assert session.scalars(select(Refund.status)).all() == ["pending"]
