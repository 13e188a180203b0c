from datetime import timedelta

import pytest
from sqlalchemy import select, update

from simkeep.audit.models import AuditEntry
from simkeep.config import Settings
from simkeep.lifecycle.tasks import run_sweep
from simkeep.payment import reconcile, review
from simkeep.payment.models import PaymentAttempt
from simkeep.payment.tasks import process_inbox, refund
from simkeep.payment.tasks import reconcile as reconcile_job
from tests.conftest import SANDBOX_ROUTES, TEST_SECRET
from tests.factories.lines import make_line, view
from tests.factories.payments import SECRET, attempt_status, checkout, deliver, now, paid, pay


@pytest.fixture
def cfg(db, tmp_path) -> Settings:
    return Settings(database_url=db.url, data_dir=tmp_path, secret_key=TEST_SECRET, sandbox_webhook_secret=SECRET,
                    sandbox_enabled=True, payment_routes=SANDBOX_ROUTES)


def age(db, attempt_id, by: timedelta) -> None:
    """Pretend the attempt was made `by` ago and has heard nothing since."""
    with db.transaction() as session:
        session.execute(update(PaymentAttempt).where(PaymentAttempt.id == attempt_id).values(
            created_at=now() - by, updated_at=now() - by))


def test_a_lost_webhook_is_settled_from_the_providers_answer(db, cfg):
    make_line(db, now=now())
    attempt_id, ref = checkout(db, cfg)
    pay(db, ref)  # paid at the provider; its webhook never arrives
    age(db, attempt_id, timedelta(minutes=16))
    assert reconcile_job(db, cfg) == 1
    process_inbox(db, cfg)
    assert attempt_status(db, attempt_id) == "succeeded"
    assert view(db).credit.minor == 1000
    assert reconcile_job(db, cfg) == 0


def test_a_late_webhook_after_reconciliation_credits_nothing_more(db, cfg):
    make_line(db, now=now())
    attempt_id, ref = checkout(db, cfg)
    event = pay(db, ref)
    age(db, attempt_id, timedelta(minutes=16))
    reconcile_job(db, cfg)
    deliver(db, cfg, event)
    process_inbox(db, cfg)
    assert view(db).credit.minor == 1000


def test_unknown_for_a_day_goes_to_review_never_refunded(db, cfg):
    make_line(db, now=now())
    attempt_id, _ref = checkout(db, cfg)  # the payer never acts
    age(db, attempt_id, timedelta(hours=2))
    reconcile_job(db, cfg)
    assert attempt_status(db, attempt_id) == "pending"
    age(db, attempt_id, timedelta(hours=25))
    reconcile_job(db, cfg)
    assert attempt_status(db, attempt_id) == "review"
    with db.transaction(write=False) as session:
        assert [a.id for a in review.queue(session)] == [attempt_id]
    assert view(db).credit.minor == 0


def test_staff_settle_review_items_with_a_reason_in_the_audit_log(db, cfg):
    line = make_line(db, now=now())
    paid_late, ref = checkout(db, cfg)
    event = pay(db, ref)
    run_sweep(db, now=line.number_loss_at)  # deactivated before the payment is applied: review
    deliver(db, cfg, event)
    process_inbox(db, cfg)
    assert attempt_status(db, paid_late) == "review"
    with db.transaction() as session, pytest.raises(Exception, match="reason"):
        review.settle(session, attempt_id=paid_late, decision="dismiss", reason=" ", actor="eve", now=now())
    with db.transaction() as session:
        review.settle(session, attempt_id=paid_late, decision="dismiss", reason="refunded by phone, ticket 42",
                      actor="eve", now=now())
    assert attempt_status(db, paid_late) == "failed"
    with db.transaction(write=False) as session:
        [entry] = session.scalars(select(AuditEntry)).all()
    assert (entry.actor, entry.action, entry.reason) == ("eve", "review.dismiss", "refunded by phone, ticket 42")


def test_a_day_of_mixed_outcomes_reconciles_to_zero(db, cfg):
    make_line(db, now=now())
    ok = paid(db, cfg, key="a")
    paid(db, cfg, key="b", offer_id="fr-orange-mobicarte-5")
    declined_id, declined_ref = checkout(db, cfg, key="c")
    deliver(db, cfg, pay(db, declined_ref, card="4000000000000002"))
    checkout(db, cfg, key="d")  # left pending
    stuck_id, _ = checkout(db, cfg, key="e")
    age(db, stuck_id, timedelta(hours=25))
    reconcile_job(db, cfg)  # the ambiguous one goes to review
    process_inbox(db, cfg)
    refund(db, cfg, attempt_id=ok, amount_minor=400, reason="partial", actor="bob", idempotency_key="r")
    with db.transaction(write=False) as session:
        report = reconcile.daily_report(session, day=now().date())
    [row] = report.rows
    assert (row.provider, row.currency) == ("sandbox", "EUR")
    assert (row.captured_minor, row.refunded_minor, row.pending_minor, row.review_minor) == (1500, 400, 1000, 1000)
    assert row.ledger_minor == 1100
    assert row.difference_minor == 0 and report.balanced
    assert attempt_status(db, stuck_id) == "review" and attempt_status(db, declined_id) == "failed"


def test_the_report_flags_money_the_ledger_does_not_show(db, cfg):
    make_line(db, now=now())
    paid(db, cfg)
    ghost, _ = checkout(db, cfg, key="ghost")
    with db.transaction() as session:  # marked paid behind the ledger's back
        session.execute(update(PaymentAttempt).where(PaymentAttempt.id == ghost).values(status="succeeded"))
    with db.transaction(write=False) as session:
        report = reconcile.daily_report(session, day=now().date())
    assert (report.rows[0].captured_minor, report.rows[0].ledger_minor) == (2000, 1000)
    assert report.rows[0].difference_minor == -1000 and not report.balanced
