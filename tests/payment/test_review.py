"""The review queue settles every kind of item: credit on the webhook's own path, refund through the provider
(moving nothing in the ledger for a payment never credited), dismiss; the payer hears of it; two people settling
one item at once settle it once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from simkeep.audit.models import AuditEntry
from simkeep.charge import service as charges
from simkeep.config import Settings
from simkeep.core.errors import LineNotRenewable
from simkeep.ledger import service as ledger
from simkeep.notification import templates
from simkeep.notification.models import OutboxMessage
from simkeep.payment import flow, reconcile, refunds, review
from simkeep.payment import service as payments
from simkeep.payment.models import PaymentAttempt, Refund
from simkeep.payment.providers.base import ProviderDeclined
from simkeep.payment.providers.sandbox import SandboxProvider
from simkeep.payment.tasks import process_inbox
from simkeep.payment.tasks import reconcile as reconcile_job
from simkeep.receipt import service as receipts
from simkeep.receipt.models import Receipt
from simkeep.sandbox import service as sandbox
from simkeep.topup.models import TopUp
from tests.conftest import SANDBOX_ROUTES, TEST_SECRET
from tests.factories.lines import make_line, view
from tests.factories.payments import (
    SECRET,
    attempt_status,
    checkout,
    deliver,
    in_review_amount_differs,
    in_review_disputed,
    in_review_line_lost,
    now,
    paid,
)
from tests.factories.snapshot import count, snapshot
from tests.web import race

BASE_URL = "http://127.0.0.1:9"


@pytest.fixture
def cfg(db, tmp_path) -> Settings:
    return Settings(database_url=db.url, data_dir=tmp_path, secret_key=TEST_SECRET, sandbox_webhook_secret=SECRET,
                    sandbox_enabled=True, payment_routes=SANDBOX_ROUTES, public_url=BASE_URL)


def settle(db, cfg, attempt_id, decision: str, reason: str = "checked with the payer", actor: str = "staff:eve"):
    with db.transaction() as session:
        return review.settle(session, attempt_id=attempt_id, decision=decision, reason=reason, actor=actor,
                             receipt_secret=cfg.key("receipt"), base_url=cfg.base_url, now=now())


def refund(db, cfg, attempt_id, key: str = "page-key-1", reason: str = "line lost, payer asked"):
    return flow.refund_review_item(db, cfg, attempt_id=attempt_id, reason=reason, actor="staff:eve",
                                   idempotency_key=key)


def messages(db, topic: str) -> list[OutboxMessage]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.topic == topic,
                                                                OutboxMessage.channel == "sms")
                                    .order_by(OutboxMessage.created_at, OutboxMessage.id)))


def sandbox_refunded(db, attempt_id) -> int:
    with db.transaction(write=False) as session:
        attempt = session.get(PaymentAttempt, attempt_id)
        return sandbox.get_payment(session, attempt.provider_ref).refunded_minor


def reason_of(db, attempt_id) -> tuple[str, str | None]:
    with db.transaction(write=False) as session:
        return payments.review_reason(session.get(PaymentAttempt, attempt_id))


def audit_actions(db) -> list[tuple[str, str, str]]:
    with db.transaction(write=False) as session:
        return [(e.action, e.actor, e.reason) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id))]


# -- credit: the webhook's path --------------------------------------------------------------------------------

def test_a_manual_credit_is_the_webhooks_credit_one_receipt_one_sms_and_a_second_click_credits_nothing(db, cfg):
    make_line(db, now=now())
    by_webhook = paid(db, cfg, key="webhook")
    by_hand = in_review_amount_differs(db, cfg)
    assert reason_of(db, by_hand) == ("amount_differs", "0.01 EUR")
    assert view(db).credit.minor == 1000
    settle(db, cfg, by_hand, "credit")
    assert attempt_status(db, by_hand) == "succeeded"
    assert view(db).credit.minor == 2000
    webhook_sms, manual_sms = messages(db, "topup.completed")
    with db.transaction(write=False) as session:
        one, two = (session.get(PaymentAttempt, a) for a in (by_webhook, by_hand))
        first, second = (session.get(Receipt, a.receipt_id) for a in (one, two))
    assert sorted(manual_sms.payload) == sorted(webhook_sms.payload)  # the same message, with its receipt link
    assert manual_sms.payload["receipt_url"] == f"{BASE_URL}/receipts/{receipts.token_for(cfg.key('receipt'), two.receipt_id)}"
    assert (manual_sms.language, manual_sms.recipient) == (webhook_sms.language, webhook_sms.recipient)
    assert (second.topup_id, second.payment_method, second.language, second.amount_minor) == (
        two.topup_id, first.payment_method, first.language, 1000)
    before = snapshot(db)
    with pytest.raises(payments.NotInReview):
        settle(db, cfg, by_hand, "credit")  # a double submit
    assert snapshot(db) == before
    assert (count(db, TopUp), count(db, Receipt), len(messages(db, "topup.completed"))) == (2, 2, 2)
    assert audit_actions(db) == [("review.credit", "staff:eve", "checked with the payer")]


def test_a_credit_to_a_line_that_is_gone_is_refused_and_nothing_moves(db, cfg):
    make_line(db, now=now())
    lost = in_review_line_lost(db, cfg)
    assert reason_of(db, lost) == ("line_not_renewable", None)
    before = snapshot(db)
    with pytest.raises(LineNotRenewable):
        settle(db, cfg, lost, "credit")
    assert snapshot(db) == before and attempt_status(db, lost) == "review"


# -- refund: through the provider ------------------------------------------------------------------------------

@pytest.mark.parametrize("make_item", [in_review_line_lost, in_review_amount_differs], ids=["line-lost", "differs"])
def test_a_payment_never_credited_is_refunded_whole_without_touching_the_ledger(db, cfg, make_item):
    make_line(db, now=now())
    item = make_item(db, cfg)
    before = snapshot(db)
    done = refund(db, cfg, item)
    assert (done.status, done.amount_minor, done.provider_ref) == ("succeeded", 1000, f"re_{done.id}")
    assert sandbox_refunded(db, item) == 1000  # what the provider held, whatever the order said
    assert attempt_status(db, item) == "refunded"
    after = snapshot(db)
    assert after["balances"] == before["balances"]
    assert after["counts"]["journal_entries"] == before["counts"]["journal_entries"]
    with db.transaction(write=False) as session:
        assert ledger.verify(session).ok
        report = reconcile.daily_report(session, day=now().date())
    [row] = report.rows
    assert (row.captured_minor, row.refunded_minor, row.returned_minor, row.difference_minor) == (0, 0, 1000, 0)
    [sms] = messages(db, "review.refunded")
    assert (sms.recipient, sms.language, sms.payload["amount"]) == (
        "+33612345678", "fr", {"amount_minor": 1000, "currency": "EUR"})
    assert templates.render(sms.topic, sms.language, sms.payload) == (
        "Nous n'avons pas pu recharger le +33612345678 avec votre paiement de 10,00\u00a0€\u00a0: il vous a été "
        "remboursé et arrive sous quelques jours.")
    assert audit_actions(db) == [("review.refund", "staff:eve", "line lost, payer asked")]
    again = refund(db, cfg, item)  # the same form submitted twice
    assert again.id == done.id and count(db, Refund) == 1 and sandbox_refunded(db, item) == 1000
    with pytest.raises(payments.NotInReview):
        refund(db, cfg, item, key="another-page")


class RefusingSandbox(SandboxProvider):
    def refund(self, *_args, **_kwargs):
        raise ProviderDeclined("The payment service refused: charge already refunded.")


def test_a_refused_refund_puts_the_payment_back_in_review_with_the_answer_and_moves_nothing(db, cfg, monkeypatch):
    make_line(db, now=now())
    item = in_review_line_lost(db, cfg)
    monkeypatch.setattr("simkeep.payment.flow.provider_named", lambda _name, db, settings: RefusingSandbox(db, settings))
    before = snapshot(db)
    done = refund(db, cfg, item)
    assert done.status == "failed"
    assert attempt_status(db, item) == "review"
    assert reason_of(db, item) == ("refund_refused", "The payment service refused: charge already refunded.")
    after = snapshot(db)
    assert after["balances"] == before["balances"] and messages(db, "review.refunded") == []
    assert {t: n - before["counts"][t] for t, n in after["counts"].items() if n != before["counts"][t]} == {
        "refunds": 1, "audit_log": 1}


def test_a_credited_payment_refunded_from_review_gives_the_credit_back_first(db, cfg):
    make_line(db, now=now())
    disputed = in_review_disputed(db, cfg)
    assert reason_of(db, disputed) == ("disputed", "fraudulent") and view(db).credit.minor == 1000
    done = refund(db, cfg, disputed)
    assert (done.status, done.amount_minor, view(db).credit.minor) == ("succeeded", 1000, 0)
    assert attempt_status(db, disputed) == "refunded" and sandbox_refunded(db, disputed) == 1000
    with db.transaction(write=False) as session:
        assert ledger.verify(session).ok
        assert reconcile.daily_report(session, day=now().date()).balanced


def test_nothing_is_refunded_when_the_provider_holds_no_payment(db, cfg):
    make_line(db, now=now())
    attempt_id, _ref = checkout(db, cfg)  # the payer never paid; the provider kept silent for a day
    with db.transaction() as session:
        payments.hold_for_review(session, attempt_id, reason="no_outcome", now=now())
    before = snapshot(db)
    with pytest.raises(refunds.NothingCaptured):
        refund(db, cfg, attempt_id)
    assert snapshot(db) == before and attempt_status(db, attempt_id) == "review"


# -- dismiss ---------------------------------------------------------------------------------------------------

def test_dismissing_moves_nothing_and_tells_the_payer_in_the_language_of_their_payment(db, cfg):
    make_line(db, now=now())
    item = in_review_line_lost(db, cfg)
    before = snapshot(db)["balances"]
    settle(db, cfg, item, "dismiss", "paid twice by mistake, refunded by the bank")
    assert attempt_status(db, item) == "dismissed" and snapshot(db)["balances"] == before
    [sms] = messages(db, "review.dismissed")
    assert (sms.recipient, sms.language) == ("+33612345678", "fr")
    assert templates.render(sms.topic, sms.language, sms.payload).startswith(
        "Nous avons vérifié votre paiement de 10,00\u00a0€ pour le +33612345678")


def test_dismissing_a_credited_payment_takes_the_credit_back_unless_it_was_spent(db, cfg):
    make_line(db, now=now())
    disputed = in_review_disputed(db, cfg, key="spent")
    with db.transaction() as session:
        charges.charge(session, principal="net", idempotency_key="c", msisdn="+33612345678", amount_minor=600,
                       kind="call", now=now())
    before = snapshot(db)
    with pytest.raises(refunds.RefundExceedsBalance):
        settle(db, cfg, disputed, "dismiss", "chargeback lost")
    assert snapshot(db) == before
    kept = in_review_disputed(db, cfg, key="kept")
    settle(db, cfg, kept, "dismiss", "chargeback lost")
    assert (attempt_status(db, kept), view(db).credit.minor) == ("dismissed", 400 + 1000 - 1000)
    with db.transaction(write=False) as session:
        [returned] = session.scalars(select(Refund)).all()
        assert ledger.verify(session).ok
        assert reconcile.daily_report(session, day=now().date()).balanced
    assert (returned.status, returned.amount_minor, returned.provider_ref, returned.attempt_id) == (
        "succeeded", 1000, None, kept)


# -- races: two people, one item -------------------------------------------------------------------------------

@pytest.mark.parametrize("decisions", [("credit", "credit"), ("refund", "refund"), ("credit", "refund"),
                                       ("dismiss", "refund")])
def test_two_staff_settling_one_item_at_once_settle_it_once(db, cfg, decisions):
    make_line(db, now=now())
    item = in_review_amount_differs(db, cfg)
    before = snapshot(db)

    def decide(i: int) -> str:
        try:
            if decisions[i] == "refund":
                refund(db, cfg, item, key=f"page-{i}")
            else:
                settle(db, cfg, item, decisions[i], actor=f"staff:{i}")
        except payments.NotInReview as exc:
            return exc.code
        return decisions[i]

    outcomes = race(2, decide)
    assert sorted(outcomes) in [sorted([d, "not_in_review"]) for d in decisions]
    [winner] = [o for o in outcomes if o != "not_in_review"]
    assert attempt_status(db, item) == {"credit": "succeeded", "refund": "refunded", "dismiss": "dismissed"}[winner]
    assert (count(db, TopUp), view(db).credit.minor) == ((1, 1000) if winner == "credit" else (0, 0))
    assert (count(db, Refund), sandbox_refunded(db, item)) == ((1, 1000) if winner == "refund" else (0, 0))
    assert len(audit_actions(db)) == 1
    if winner != "credit":
        assert snapshot(db)["balances"] == before["balances"]
    with db.transaction(write=False) as session:
        assert ledger.verify(session).ok


def test_a_late_success_racing_the_abandonment_of_its_attempt_still_credits_once(db, cfg):
    make_line(db, now=now())
    attempt_id, ref = checkout(db, cfg)
    with db.transaction() as session:
        session.execute(update(PaymentAttempt).where(PaymentAttempt.id == attempt_id).values(
            created_at=now() - timedelta(minutes=61), updated_at=now() - timedelta(minutes=61)))
    # The provider says the money moved, just as reconciliation cancels the checkout nobody seemed to complete.
    deliver(db, cfg, {"id": "evt_late", "type": "payment.succeeded",
                      "data": {"ref": ref, "amount_minor": 1000, "currency": "EUR"}})
    race(2, lambda i: process_inbox(db, cfg) if i == 0 else reconcile_job(db, cfg))
    process_inbox(db, cfg)
    assert attempt_status(db, attempt_id) == "succeeded"
    assert (count(db, TopUp), count(db, Receipt), view(db).credit.minor) == (1, 1, 1000)
    assert len(messages(db, "topup.completed")) == 1


def test_the_cli_lists_the_queue_and_settles_items_as_the_page_does(db, cfg, cli, monkeypatch):
    for name, value in (("SANDBOX_ENABLED", "true"), ("SANDBOX_WEBHOOK_SECRET", SECRET),
                        ("PAYMENT_ROUTES", '{"*": {"card": "sandbox"}}')):
        monkeypatch.setenv(f"SIMKEEP_{name}", value)
    make_line(db, now=now())
    differs = in_review_amount_differs(db, cfg)
    lost = in_review_line_lost(db, cfg)
    listed = cli("review", "list")
    assert "amount_differs: 0.01 EUR" in listed and "line_not_renewable" in listed
    assert f"{lost}: refund " in cli("review", "settle", str(lost), "--decision", "refund", "--reason", "line lost",
                                     "--actor", "staff:eve", "--key", "cli-1")
    assert "error not_in_review" in cli("review", "settle", str(lost), "--decision", "dismiss", "--reason", "again",
                                        code=1)
    assert cli("review", "settle", str(differs), "--decision", "dismiss", "--reason", "paid twice").strip() == (
        f"{differs}: dismissed")
    assert (attempt_status(db, lost), attempt_status(db, differs), sandbox_refunded(db, lost)) == (
        "refunded", "dismissed", 1000)
