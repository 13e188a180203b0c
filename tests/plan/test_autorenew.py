"""Auto-renew through the sandbox provider, on the real database (PostgreSQL when SIMKEEP_TEST_DATABASE_URL is set):
one charge per period whatever races or crashes, the credit through the payment path with its receipt, messages
with a one-tap link, retries on their schedule, STOP AUTO, and turning it off."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from simkeep.db import Database
from simkeep.ledger import service as ledger
from simkeep.line import service as lines
from simkeep.notification import service as notifications
from simkeep.notification.models import OutboxMessage
from simkeep.payment import flow
from simkeep.payment.models import PaymentAttempt
from simkeep.payment.tasks import process_inbox
from simkeep.plan import autorenew
from simkeep.plan.autorenew_models import AutoRenewCharge
from simkeep.plan.autorenew_tasks import links_for, run_autorenew
from simkeep.sandbox import service as sandbox
from simkeep.sandbox.models import SandboxPayment
from simkeep.topup.models import TopUp
from tests.conftest import T0
from tests.factories.lines import make_line, top_up
from tests.factories.payments import deliver
from tests.factories.snapshot import snapshot
from tests.web import race

OFFER = "fr-orange-mobicarte-10"


def enrol(db: Database, settings, *, msisdn: str = "+33612345678", card: str = sandbox.APPROVE_CARD,
          mode: str = autorenew.BEFORE_END, days_before: int = 3, email: str | None = None):
    """A line topped up once at T0, a sandbox card saved, auto-renew on. Returns the line's validity end."""
    make_line(db, msisdn=msisdn, now=T0)
    top_up(db, msisdn=msisdn, now=T0)
    saved = flow.finish_saving(db, settings, provider="sandbox", setup_ref="seti_test", test_card=card)
    with db.transaction() as session:
        line = lines.find_live_line(session, msisdn)
        assert line is not None
        if email:
            line.email = email
        method = autorenew.save_method(session, line=line, provider="sandbox", method="card", saved=saved, now=T0)
        autorenew.turn_on(session, line=line, offer_id=OFFER, mode=mode, method_id=method.id,
                          days_before=days_before, actor="portal", now=T0)
    return line_of(db, msisdn)


def line_of(db: Database, msisdn: str = "+33612345678"):
    with db.transaction(write=False) as session:
        line = lines.find_live_line(session, msisdn)
        assert line is not None
        return line


def count(db: Database, model, *where) -> int:
    with db.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def charges(db: Database) -> list[AutoRenewCharge]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(AutoRenewCharge).order_by(AutoRenewCharge.created_at)))


def messages(db: Database, topic: str) -> list[OutboxMessage]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.topic == topic)
                                    .order_by(OutboxMessage.created_at, OutboxMessage.id)))


def ledger_ok(db: Database) -> None:
    with db.transaction(write=False) as session:
        report = ledger.verify(session)
    assert report.problems == []


def test_a_due_line_is_charged_once_credited_with_receipt_and_not_before(db, settings):
    before = enrol(db, settings)
    end = before.validity_ends_at
    assert run_autorenew(db, settings, now=end - timedelta(days=3, minutes=1)).charged == 0  # not due yet
    result = run_autorenew(db, settings, now=end - timedelta(days=2))
    assert (result.charged, result.outcomes) == (1, {"succeeded": 1})
    [charge] = charges(db)
    assert (charge.state, charge.tries, charge.period_end, charge.amount_minor, charge.currency) == (
        "succeeded", 1, end, 1000, "EUR")
    with db.transaction(write=False) as session:
        attempt = session.get(PaymentAttempt, charge.attempt_id)
        topup = session.get(TopUp, attempt.topup_id)
    assert (attempt.status, attempt.channel, attempt.provider, attempt.amount_minor) == (
        "succeeded", "auto_renew", "sandbox", 1000)
    assert attempt.receipt_id is not None and attempt.quote_id is not None
    assert (topup.channel, topup.price_minor, topup.validity_before, topup.quote_id) == (
        "auto_renew", 1000, end, attempt.quote_id)
    after = line_of(db)
    assert after.validity_ends_at == topup.validity_ends_at > end
    [confirmation] = [m for m in messages(db, "topup.completed") if m.payload["topup_id"] == str(topup.id)]
    assert confirmation.payload["receipt_url"].startswith(f"{settings.base_url}/receipts/")
    ledger_ok(db)
    # Again, and again later the same day: the period is renewed, nothing more is charged.
    assert run_autorenew(db, settings, now=end - timedelta(days=2)).charged == 0
    assert run_autorenew(db, settings, now=end - timedelta(days=1)).charged == 0
    assert (count(db, SandboxPayment), count(db, TopUp, TopUp.channel == "auto_renew")) == (1, 1)
    # The next period comes due three days before the new end, and is charged once.
    assert run_autorenew(db, settings, now=after.validity_ends_at - timedelta(days=3)).charged == 1
    assert [c.state for c in charges(db)] == ["succeeded", "succeeded"]
    assert count(db, TopUp, TopUp.channel == "auto_renew") == 2


@pytest.mark.skipif(not os.environ.get("SIMKEEP_TEST_DATABASE_URL"), reason="the race needs PostgreSQL")
def test_two_workers_sweeping_at_once_charge_each_period_once(db, settings):
    numbers = [f"+336123456{i:02d}" for i in range(12)]
    ends = [enrol(db, settings, msisdn=n).validity_ends_at for n in numbers]
    now = max(ends) - timedelta(days=2)
    results = race(2, lambda _i: run_autorenew(db, settings, now=now, batch=5))
    assert sum(r.charged for r in results) == 12
    assert sum(r.outcomes.get("succeeded", 0) for r in results) == 12
    assert count(db, AutoRenewCharge) == count(db, SandboxPayment) == 12
    assert count(db, TopUp, TopUp.channel == "auto_renew") == 12
    assert {c.state for c in charges(db)} == {"succeeded"}
    for n, end in zip(numbers, ends, strict=True):
        assert line_of(db, n).validity_ends_at > end
    ledger_ok(db)


class Crash(Exception):
    pass


def test_a_crash_between_charge_and_credit_is_asked_again_and_credited_once(db, settings):
    end = enrol(db, settings).validity_ends_at
    now = end - timedelta(days=2)

    def crash(_claimed) -> None:
        raise Crash()

    with pytest.raises(Crash):
        run_autorenew(db, settings, now=now, after_charge=crash)
    [charge] = charges(db)
    assert (charge.state, count(db, SandboxPayment), count(db, TopUp, TopUp.channel == "auto_renew")) == (
        "charging", 1, 0)
    assert line_of(db).validity_ends_at == end
    # The sandbox's webhook arrives meanwhile: it names a payment simkeep never heard back about, so nothing moves.
    [hook] = messages(db, "webhook.sandbox")
    deliver(db, settings, hook.payload)
    process_inbox(db, settings)
    assert count(db, TopUp, TopUp.channel == "auto_renew") == 0
    # A worker running before the charge looks stuck leaves it to its owner.
    assert run_autorenew(db, settings, now=now + timedelta(minutes=1)).charged == 0
    # Later, another worker asks the provider again with the same key: the same payment, credited once.
    result = run_autorenew(db, settings, now=now + autorenew.STUCK_AFTER + timedelta(minutes=1))
    assert (result.charged, result.outcomes) == (1, {"succeeded": 1})
    assert count(db, SandboxPayment) == 1
    assert count(db, TopUp, TopUp.channel == "auto_renew") == 1
    [charge] = charges(db)
    assert charge.state == "succeeded"
    # The webhook again, and one more sweep: still one credit.
    deliver(db, settings, {**hook.payload, "id": hook.payload["id"] + "_again"})
    process_inbox(db, settings)
    run_autorenew(db, settings, now=now + timedelta(hours=1))
    assert count(db, TopUp, TopUp.channel == "auto_renew") == 1
    assert len([m for m in messages(db, "topup.completed") if "receipt_url" in m.payload]) == 1
    ledger_ok(db)


def test_authentication_required_sends_a_one_tap_link_and_the_payer_completes_it(db, settings):
    end = enrol(db, settings, card=sandbox.CHALLENGE_CARD, email="ana@example.com").validity_ends_at
    now = end - timedelta(days=2)
    before = snapshot(db)["balances"]
    result = run_autorenew(db, settings, now=now)
    assert result.outcomes == {"requires_action": 1}
    [charge] = charges(db)
    assert (charge.state, charge.failure, charge.next_retry_at) == ("requires_action", "requires_action",
                                                                    now + timedelta(days=1))
    assert snapshot(db)["balances"] == before  # nothing moved
    sms, email = messages(db, "autorenew.action_required")
    assert (sms.channel, email.channel, email.recipient) == ("sms", "email", "ana@example.com")
    url = sms.payload["action_url"]
    assert url.startswith(f"{settings.base_url}/auto-renew/")
    key = settings.key(autorenew.LINK_PURPOSE)
    assert autorenew.read_link(key, url.rsplit("/", 1)[1]) == charge.id
    assert sms.payload["retry_at"] == (now + timedelta(days=1)).isoformat()
    token = url.rsplit("/", 1)[1]
    # One character changed for certain: the first (a last base64 character can carry only padding bits, and it was
    # already "x" in one run out of 64, which made the old "[:-1] + 'x'" a no-op).
    with pytest.raises(autorenew.AutoRenewLinkInvalid):
        autorenew.read_link(key, ("B" if token[0] == "A" else "A") + token[1:])
    # The payer authenticates on the provider's page: its webhook credits the period through the payment path.
    with db.transaction(write=False) as session:
        attempt = session.get(PaymentAttempt, charge.attempt_id)
    with db.transaction() as session:
        sandbox.act(session, ref=attempt.provider_ref, action="authenticate", webhook_url="http://x/webhooks/sandbox",
                    now=now)
    [hook] = [m for m in messages(db, "webhook.sandbox") if m.payload["type"] == "payment.succeeded"]
    deliver(db, settings, hook.payload)
    process_inbox(db, settings)
    assert count(db, TopUp, TopUp.channel == "auto_renew") == 1
    # At the retry time the charge follows its attempt: succeeded, and nothing is charged again.
    assert run_autorenew(db, settings, now=now + timedelta(days=1)).charged == 0
    assert [c.state for c in charges(db)] == ["succeeded"]
    assert count(db, SandboxPayment) == 1
    ledger_ok(db)


def test_an_unanswered_authentication_is_closed_before_the_retry(db, settings):
    end = enrol(db, settings, card=sandbox.CHALLENGE_CARD).validity_ends_at
    now = end - timedelta(days=2)
    run_autorenew(db, settings, now=now)
    # Retry time: the waiting payment is closed at the provider first, then the next try is made.
    assert run_autorenew(db, settings, now=now + timedelta(days=1)).charged == 0
    with db.transaction(write=False) as session:
        statuses = sorted(session.scalars(select(SandboxPayment.status)))
    assert statuses == ["failed"]
    result = run_autorenew(db, settings, now=now + timedelta(days=1, hours=2))
    assert result.outcomes == {"requires_action": 1}
    [charge] = charges(db)
    assert (charge.state, charge.tries) == ("requires_action", 2)
    assert count(db, SandboxPayment) == 2 and count(db, TopUp, TopUp.channel == "auto_renew") == 0


def test_a_declined_card_is_retried_on_schedule_then_given_up_with_a_last_message(db, settings):
    line = enrol(db, settings, card=sandbox.DECLINE_CARD)
    end, loss = line.validity_ends_at, line.number_loss_at
    now = end - timedelta(days=2)
    before = snapshot(db)["balances"]
    assert run_autorenew(db, settings, now=now).outcomes == {"failed": 1}
    [charge] = charges(db)
    assert (charge.state, charge.failure, charge.next_retry_at) == ("failed", "card_declined", now + timedelta(days=1))
    assert run_autorenew(db, settings, now=now + timedelta(hours=23)).charged == 0  # not yet
    assert run_autorenew(db, settings, now=now + timedelta(days=1)).outcomes == {"failed": 1}
    [charge] = charges(db)
    assert (charge.tries, charge.next_retry_at) == (2, min(now + timedelta(days=4), loss - autorenew.LAST_CALL))
    assert run_autorenew(db, settings, now=charge.next_retry_at).outcomes == {"given_up": 1}
    [charge] = charges(db)
    assert (charge.state, charge.tries, charge.next_retry_at) == ("given_up", 3, None)
    sent = messages(db, "autorenew.failed")
    assert [("retry_at" in m.payload) for m in sent] == [True, True, False]
    assert {m.payload["failure"] for m in sent} == {"card_declined"}
    assert count(db, SandboxPayment) == 3
    assert count(db, TopUp, TopUp.channel == "auto_renew") == 0
    assert snapshot(db)["balances"] == before
    assert run_autorenew(db, settings, now=charge.updated_at + timedelta(days=5)).charged == 0
    ledger_ok(db)


def test_stop_auto_by_sms_turns_it_off_and_stop_alone_does_not(db, settings):
    end = enrol(db, settings).validity_ends_at
    commands = (lambda s, sms, now: autorenew.stop_by_sms(s, sender=sms.sender, text=sms.text, now=now),)
    with db.transaction() as session:
        assert notifications.record_inbound(session, sender="+33612345678", text="STOP", now=T0,
                                            commands=commands) == "opted out"
    with db.transaction(write=False) as session:
        assert autorenew.setting_of(session, line_of(db).id).enabled is True
    with db.transaction() as session:
        assert notifications.record_inbound(session, sender="+33612345678", text=" stop  auto ", now=T0,
                                            commands=commands) == "auto-renew off"
    with db.transaction() as session:
        assert notifications.record_inbound(session, sender="+33612345678", text="STOP AUTO", now=T0,
                                            commands=commands) == "auto-renew was off"
        setting = autorenew.setting_of(session, line_of(db).id)
        assert (setting.enabled, setting.changed_by) == (False, "sms:STOP AUTO")
    assert len(messages(db, "autorenew.stopped")) == 1
    assert run_autorenew(db, settings, now=end - timedelta(days=2)).charged == 0
    assert count(db, AutoRenewCharge) == 0


def test_turning_off_stops_a_waiting_retry(db, settings):
    end = enrol(db, settings, card=sandbox.DECLINE_CARD).validity_ends_at
    now = end - timedelta(days=2)
    run_autorenew(db, settings, now=now)
    with db.transaction() as session:
        line = lines.find_live_line(session, "+33612345678")
        assert autorenew.turn_off(session, line=line, actor="link", now=now) is True
        assert autorenew.turn_off(session, line=line, actor="link", now=now) is False
    assert [c.state for c in charges(db)] == ["stopped"]
    assert run_autorenew(db, settings, now=now + timedelta(days=1)).charged == 0
    assert count(db, SandboxPayment) == 1


def test_lowest_cost_waits_for_the_number_loss_date(db, settings):
    line = enrol(db, settings, mode=autorenew.LOWEST_COST)
    loss = line.number_loss_at
    assert run_autorenew(db, settings, now=line.validity_ends_at - timedelta(days=2)).charged == 0
    assert run_autorenew(db, settings, now=loss - autorenew.LOWEST_COST_LEAD - timedelta(minutes=1)).charged == 0
    result = run_autorenew(db, settings, now=loss - autorenew.LOWEST_COST_LEAD)
    assert result.outcomes == {"succeeded": 1}
    assert line_of(db).state == "active"
    ledger_ok(db)


def test_turning_on_refuses_another_lines_method_and_another_operators_offer(db, settings):
    enrol(db, settings)
    make_line(db, msisdn="+33612345699", now=T0)
    with db.transaction() as session:
        other = lines.find_live_line(session, "+33612345699")
        mine = autorenew.methods_of(session, line_of(db).id)[0]
        with pytest.raises(autorenew.AutoRenewMethodNotFound):
            autorenew.turn_on(session, line=other, offer_id=OFFER, mode=autorenew.BEFORE_END, method_id=mine.id,
                              actor="portal", now=T0)
        with pytest.raises(autorenew.AutoRenewMethodNotFound):
            autorenew.turn_on(session, line=other, offer_id=OFFER, mode=autorenew.BEFORE_END,
                              method_id=uuid.uuid4(), actor="portal", now=T0)
    assert mine.label == "Visa •••• 4242" and "4242424242424242" not in mine.method_ref
    assert links_for(settings).url(uuid.UUID(int=1)).startswith(settings.base_url)
