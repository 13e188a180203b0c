from datetime import timedelta

import pytest
from sqlalchemy import select, update

from simkeep.audit.models import AuditEntry
from simkeep.config import Settings
from simkeep.lifecycle.tasks import run_sweep
from simkeep.line import service as lines
from simkeep.payment import reconcile, review
from simkeep.payment import service as payments
from simkeep.payment.flow import refund
from simkeep.payment.models import PaymentAttempt
from simkeep.payment.providers.base import ProviderPayment, ProviderUnavailable
from simkeep.payment.providers.stripe import StripeProvider
from simkeep.payment.tasks import process_inbox
from simkeep.payment.tasks import reconcile as reconcile_job
from simkeep.sandbox import service as sandbox
from tests.conftest import SANDBOX_ROUTES, TEST_SECRET
from tests.factories.lines import make_line, view
from tests.factories.payments import SECRET, attempt_status, checkout, deliver, now, paid, pay
from tests.factories.snapshot import snapshot
from tests.payment.stripe_fakes import CannedStripe, payment_intent


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


def test_a_checkout_nobody_completed_is_cancelled_after_its_expiry_and_never_reaches_review(db, cfg):
    make_line(db, now=now())
    attempt_id, ref = checkout(db, cfg)  # the payer never acts
    before = snapshot(db)
    age(db, attempt_id, timedelta(minutes=59))
    assert reconcile_job(db, cfg) == 1
    assert attempt_status(db, attempt_id) == "pending"  # asked; still inside its expiry
    age(db, attempt_id, timedelta(minutes=61))
    reconcile_job(db, cfg)
    assert attempt_status(db, attempt_id) == "abandoned"
    with db.transaction() as session:
        assert review.queue(session) == []
        # Cancelled at the provider: paying now changes nothing there.
        late = sandbox.act(session, ref=ref, action="pay", card_number=sandbox.APPROVE_CARD,
                           webhook_url="http://x/webhooks/sandbox", now=now())
    assert late.status == "failed"
    assert snapshot(db)["balances"] == before["balances"]
    assert reconcile_job(db, cfg) == 0


def test_staff_settle_review_items_with_a_reason_in_the_audit_log(db, cfg):
    line = make_line(db, now=now())
    paid_late, ref = checkout(db, cfg)
    event = pay(db, ref)
    run_sweep(db, now=line.number_loss_at)  # deactivated before the payment is applied: review
    deliver(db, cfg, event)
    process_inbox(db, cfg)
    assert attempt_status(db, paid_late) == "review"
    with db.transaction() as session, pytest.raises(Exception, match="reason"):
        review.settle(session, attempt_id=paid_late, decision="dismiss", reason=" ", actor="eve", now=now(),
                      receipt_secret="k", base_url="http://x")
    with db.transaction() as session:
        review.settle(session, attempt_id=paid_late, decision="dismiss", reason="refunded by phone, ticket 42",
                      actor="eve", now=now(), receipt_secret="k", base_url="http://x")
    assert attempt_status(db, paid_late) == "dismissed"
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
    reconcile_job(db, cfg)  # never completed: cancelled at the provider, closed as abandoned
    process_inbox(db, cfg)
    refund(db, cfg, attempt_id=ok, amount_minor=400, reason="partial", actor="bob", idempotency_key="r")
    with db.transaction(write=False) as session:
        report = reconcile.daily_report(session, day=now().date())
    [row] = report.rows
    assert (row.provider, row.currency) == ("sandbox", "EUR")
    assert (row.captured_minor, row.refunded_minor, row.pending_minor, row.review_minor) == (1500, 400, 1000, 0)
    assert row.ledger_minor == 1100
    assert row.difference_minor == 0 and report.balanced
    assert attempt_status(db, stuck_id) == "abandoned" and attempt_status(db, declined_id) == "failed"


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


def stripe_attempt(db, ref: str) -> object:
    """An attempt Stripe took (its PaymentIntent `ref`), as the portal's confirm step leaves it."""
    with db.transaction() as session:
        line, operator, offer = lines.lock_live_line(session, "+33612345678", "fr-orange-mobicarte-10")
        attempt, _ = payments.start_checkout(session, checkout_key=ref, line=line, operator=operator, offer=offer,
                                             method="card", provider="stripe", language="en", now=now())
        payments.record_created(session, attempt.id, ProviderPayment(ref, {}), now=now())
    return attempt.id


def test_money_that_may_be_moving_is_never_abandoned_and_goes_to_review_after_a_day(db, cfg, monkeypatch):
    make_line(db, now=now())
    attempt_id = stripe_attempt(db, "pi_3Processing")
    processing = payment_intent("pi_3Processing", status="processing")
    refused = {"error": {"type": "invalid_request_error", "code": "payment_intent_unexpected_state",
                         "message": "You cannot cancel this PaymentIntent because it has a status of processing."}}
    stripe = CannedStripe({("GET", "/v1/payment_intents/pi_3Processing"): (200, processing),
                           ("POST", "/v1/payment_intents/pi_3Processing/cancel"): (400, refused)})
    settings = cfg.model_copy(update={"stripe_api_key": "sk_test_x"})
    monkeypatch.setattr("simkeep.payment.flow.provider_named",
                        lambda name, db, _settings: StripeProvider(settings, http_client=stripe))
    age(db, attempt_id, timedelta(hours=2))
    reconcile_job(db, cfg)
    assert attempt_status(db, attempt_id) == "pending"
    assert [(s.method, s.path) for s in stripe.sent] == [
        ("GET", "/v1/payment_intents/pi_3Processing"), ("POST", "/v1/payment_intents/pi_3Processing/cancel"),
        ("GET", "/v1/payment_intents/pi_3Processing")]  # asked, tried to cancel, refused: the intent says where
    age(db, attempt_id, timedelta(hours=25))
    reconcile_job(db, cfg)
    assert attempt_status(db, attempt_id) == "review"
    with db.transaction(write=False) as session:
        assert payments.review_reason(session.get(PaymentAttempt, attempt_id)) == ("no_outcome", None)
    assert view(db).credit.minor == 0


class Unreachable:
    name = "sandbox"

    def fetch_status(self, _ref):
        raise ProviderUnavailable()

    cancel = fetch_status


def test_a_provider_that_cannot_be_asked_for_a_day_leaves_the_attempt_to_a_person(db, cfg, monkeypatch):
    make_line(db, now=now())
    attempt_id, _ref = checkout(db, cfg)
    monkeypatch.setattr("simkeep.payment.flow.provider_named", lambda *_: Unreachable())
    for hours, status in ((2, "pending"), (25, "review")):  # past its expiry, but nobody could cancel it
        age(db, attempt_id, timedelta(hours=hours))
        reconcile_job(db, cfg)
        assert attempt_status(db, attempt_id) == status


def test_a_checkout_whose_provider_never_answered_is_closed_without_a_call(db, cfg, monkeypatch):
    make_line(db, now=now())
    with db.transaction() as session:  # the process died between recording the attempt and the provider's answer
        line, operator, offer = lines.lock_live_line(session, "+33612345678", "fr-orange-mobicarte-10")
        attempt, _ = payments.start_checkout(session, checkout_key="orphan", line=line, operator=operator,
                                             offer=offer, method="card", provider="sandbox", language="fr", now=now())
    monkeypatch.setattr("simkeep.payment.flow.provider_named", lambda *_: Unreachable())  # never called
    age(db, attempt.id, timedelta(minutes=61))
    reconcile_job(db, cfg)
    assert attempt_status(db, attempt.id) == "abandoned"


def test_a_success_after_abandonment_credits_once_and_a_failure_changes_nothing(db, cfg):
    make_line(db, now=now())
    attempt_id, ref = checkout(db, cfg)
    age(db, attempt_id, timedelta(minutes=61))
    reconcile_job(db, cfg)
    assert attempt_status(db, attempt_id) == "abandoned"
    late = {"id": "evt_late_failure", "type": "payment.failed", "data": {"ref": ref, "failure": "card_declined"}}
    deliver(db, cfg, late)
    process_inbox(db, cfg)
    assert attempt_status(db, attempt_id) == "abandoned"
    for _ in range(2):
        deliver(db, cfg, {"id": "evt_late_success", "type": "payment.succeeded",
                          "data": {"ref": ref, "amount_minor": 1000, "currency": "EUR"}})
        process_inbox(db, cfg)
    assert attempt_status(db, attempt_id) == "succeeded" and view(db).credit.minor == 1000
