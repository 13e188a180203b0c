import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select

from simkeep.config import Settings
from simkeep.core.signing import sign
from simkeep.ledger import service as ledger
from simkeep.lifecycle.tasks import run_sweep
from simkeep.line import service as lines
from simkeep.notification.models import OutboxMessage
from simkeep.payment import service as payments
from simkeep.payment.models import InboxEvent, PaymentAttempt
from simkeep.payment.providers.base import WebhookRejected
from simkeep.payment.providers.sandbox import SandboxProvider
from simkeep.payment.tasks import process_inbox
from simkeep.receipt.models import Receipt
from simkeep.sandbox import service as sandbox
from simkeep.topup.models import TopUp
from tests.conftest import SANDBOX_ROUTES, TEST_SECRET
from tests.factories.lines import make_line, view
from tests.factories.payments import SECRET, attempt_status, checkout, deliver, now, pay
from tests.factories.snapshot import count, snapshot


@pytest.fixture
def cfg(db, tmp_path) -> Settings:
    return Settings(database_url=db.url, data_dir=tmp_path, secret_key=TEST_SECRET, sandbox_webhook_secret=SECRET,
                    sandbox_enabled=True, payment_routes=SANDBOX_ROUTES,
                    public_url="http://127.0.0.1:9")


def test_a_paid_attempt_credits_once_however_often_the_event_arrives(db, cfg):
    make_line(db, now=now())
    attempt_id, ref = checkout(db, cfg)
    event = pay(db, ref)
    assert [deliver(db, cfg, event) for _ in range(10)] == [True] + [False] * 9
    assert process_inbox(db, cfg) == 1
    assert process_inbox(db, cfg) == 0
    assert attempt_status(db, attempt_id) == "succeeded"
    assert view(db).credit.minor == 1000
    assert (count(db, TopUp), count(db, Receipt), count(db, InboxEvent)) == (1, 1, 1)
    with db.transaction(write=False) as session:
        assert ledger.verify(session).ok


def test_a_declined_card_moves_nothing_but_the_attempt(db, cfg):
    make_line(db, now=now())
    attempt_id, ref = checkout(db, cfg)
    before = snapshot(db)["balances"]
    deliver(db, cfg, pay(db, ref, card="4000000000000002"))
    process_inbox(db, cfg)
    assert attempt_status(db, attempt_id) == "failed"
    assert snapshot(db)["balances"] == before
    assert count(db, TopUp) == 0


def test_success_after_a_failure_event_still_credits_and_a_late_failure_changes_nothing(db, cfg):
    make_line(db, now=now())
    attempt_id, ref = checkout(db, cfg)
    success = pay(db, ref)
    failure = {**success, "id": "evt_forged_order", "type": "payment.failed",
               "data": {**success["data"], "failure": "card_declined"}}
    deliver(db, cfg, failure)
    deliver(db, cfg, success)
    process_inbox(db, cfg)
    assert attempt_status(db, attempt_id) == "succeeded"
    deliver(db, cfg, {**failure, "id": "evt_late_failure"})
    process_inbox(db, cfg)
    assert attempt_status(db, attempt_id) == "succeeded"
    assert view(db).credit.minor == 1000


def test_forged_stale_or_malformed_webhooks_are_refused_and_nothing_is_stored(db, cfg):
    make_line(db, now=now())
    _, ref = checkout(db, cfg)
    event = pay(db, ref)
    for kwargs in ({"secret": "whsec_wrong"}, {"at": int(time.time()) - 301}):
        with pytest.raises(WebhookRejected):
            deliver(db, cfg, event, **kwargs)
    body = json.dumps(event).encode()
    provider = SandboxProvider(db, cfg)
    with pytest.raises(WebhookRejected):  # signed, then re-serialised: the bytes differ
        provider.parse_webhook(json.dumps(event, indent=1).encode(),
                               {"simkeep-signature": sign(SECRET, body, int(time.time()))})
    with pytest.raises(WebhookRejected):
        provider.parse_webhook(b"not json", {"simkeep-signature": sign(SECRET, b"not json", int(time.time()))})
    assert count(db, InboxEvent) == 0


def test_an_amount_mismatch_goes_to_review_without_credit(db, cfg):
    make_line(db, now=now())
    attempt_id, ref = checkout(db, cfg)
    event = pay(db, ref)
    deliver(db, cfg, {**event, "id": "evt_tampered", "data": {**event["data"], "amount_minor": 1}})
    process_inbox(db, cfg)
    assert attempt_status(db, attempt_id) == "review"
    assert view(db).credit.minor == 0


def test_paid_for_a_line_that_cannot_be_credited_waits_for_review_never_refunded(db, cfg):
    line = make_line(db, now=now())
    attempt_id, ref = checkout(db, cfg)
    event = pay(db, ref)
    run_sweep(db, now=line.number_loss_at)  # the line is deactivated before the event is handled
    deliver(db, cfg, event)
    process_inbox(db, cfg)
    assert attempt_status(db, attempt_id) == "review"
    assert count(db, TopUp) == 0


def test_two_workers_handling_the_same_inbox_credit_once(db, cfg):
    make_line(db, now=now())
    events = []
    for n in range(6):
        _, ref = checkout(db, cfg, key=f"k{n}", offer_id="fr-orange-mobicarte-5")
        events.append(pay(db, ref))
    for event in events:
        deliver(db, cfg, event)
    with ThreadPoolExecutor(2) as pool:
        handled = sum(pool.map(lambda _: process_inbox(db, cfg), range(2)))
    assert handled == 6
    assert view(db).credit.minor == 6 * 500
    assert count(db, TopUp) == 6


def test_a_double_click_finds_the_first_attempt(db, cfg):
    make_line(db, now=now())
    first, _ = checkout(db, cfg, key="same")
    with db.transaction() as session:
        line, operator, offer = lines.lock_live_line(session, "+33612345678", "fr-orange-mobicarte-10")
        again, new = payments.start_checkout(session, checkout_key="same", line=line, operator=operator,
                                             offer=offer, method="card", provider="sandbox", language="fr",
                                             now=now())
    assert (again.id, new) == (first, False)
    assert count(db, PaymentAttempt) == 1


def test_an_abandoned_payment_expires_and_moves_nothing(db, cfg):
    make_line(db, now=now())
    attempt_id, _ref = checkout(db, cfg)
    with db.transaction() as session:
        assert sandbox.expire_abandoned(session, webhook_url="http://x/webhooks/sandbox", now=now()) == 0
    later = now() + timedelta(minutes=sandbox.ABANDON_AFTER_MINUTES, seconds=1)
    with db.transaction() as session:
        assert sandbox.expire_abandoned(session, webhook_url="http://x/webhooks/sandbox", now=later) == 1
    with db.transaction(write=False) as session:
        [event] = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "webhook")).all()
    assert (event.payload["type"], event.payload["data"]["failure"]) == ("payment.failed", "expired")
    deliver(db, cfg, event.payload)
    process_inbox(db, cfg)
    assert attempt_status(db, attempt_id) == "abandoned"  # the payer never completed it
    assert view(db).credit.minor == 0
    assert count(db, TopUp) == 0
