"""Cashback through the ledger: a partner's conversion with its exact commission, its signed postback (retried),
one conversion however often a payment is replayed, its reversal on refund; a customer's cashback credited by
the worker after the cooling-off days exactly once, cancelled or clawed back on refund or void; and the ledger
after a mixed month."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from simkeep.charge import service as charges
from simkeep.core.signing import verify
from simkeep.ledger import service as ledger
from simkeep.notification.models import DeliveryAttempt, OutboxMessage
from simkeep.notification.senders import make_sender
from simkeep.notification.tasks import deliver_due
from simkeep.payment import flow
from simkeep.payment.models import PaymentAttempt
from simkeep.payment.tasks import process_inbox
from simkeep.promotion import cashback
from simkeep.promotion.models import CustomerCashback, PartnerConversion
from simkeep.store import service as stores
from simkeep.topup import service as topups
from tests.factories.lines import make_line, view
from tests.factories.payments import checkout, deliver, now, pay
from tests.factories.promotions import make_promotion
from tests.factories.snapshot import count
from tests.factories.staff import make_staff
from tests.factories.stores import make_store, open_drawer, sell, seller
from tests.notification.test_events import Receiver
from tests.web import ledger_ok, race

MSISDN = "+33612345678"
OFFER = "fr-orange-mobicarte-10"  # €10, no bonus


def make_partner(db, *, code="CASHBACK-FR", percent_bp=250, fixed_minor=30, url=None):
    with db.transaction() as session:
        partner, secret = cashback.create_partner(
            session, code=code, name="Cashback France", percent_bp=percent_bp, fixed_minor=fixed_minor,
            currency="EUR", postback_url=url, actor="staff:alice", reason="contract 2026-11", now=now())
    return partner, secret


def system(db, kind: str) -> int:
    with db.transaction(write=False) as session:
        return ledger.account_balance(session, ledger.system_account_id(kind, "EUR"))


def paid_with_quote(db, settings, *, key="checkout-1", partner=None):
    """A card payment of a quote the portal showed (the checkout records the quote it pays), up to the credit;
    returns (attempt id, the payment webhook event)."""
    attempt_id, ref = checkout(db, settings, key=key)
    with db.transaction() as session:
        quote = topups.quote(session, msisdn=MSISDN, offer_id=OFFER, channel="portal", now=now(), partner_code=partner)
        session.execute(update(PaymentAttempt).where(PaymentAttempt.id == attempt_id).values(quote_id=quote.id))
    event = pay(db, ref)
    deliver(db, settings, event)
    process_inbox(db, settings)
    return attempt_id, event


def conversions(db) -> list[PartnerConversion]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(PartnerConversion)))


def the_cashback(db) -> CustomerCashback:
    with db.transaction(write=False) as session:
        return session.scalars(select(CustomerCashback)).one()


def postbacks(db, topic=cashback.CONVERSION) -> list[OutboxMessage]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.topic == topic)))


def settle(db, *, days: float, cooling: int = 14):
    return cashback.settle_due(db.transaction, now=now() + timedelta(days=days), cooling_days=cooling)


# -- partners ------------------------------------------------------------------------------------------------------

def test_a_partner_link_makes_one_conversion_with_its_exact_commission(client, db):
    make_line(db, now=now())
    make_partner(db, url="https://partner.example/postback")
    shown = client.post("/api/v1/quotes", json={"msisdn": MSISDN, "offer_id": OFFER, "channel": "api",
                                                "partner": "cashback-fr"}).json()  # codes are case-insensitive
    body = {"msisdn": MSISDN, "offer_id": OFFER, "channel": "api", "quote_id": shown["id"]}
    first = client.post("/api/v1/topups", json=body, headers={"Idempotency-Key": "k1"})
    again = client.post("/api/v1/topups", json=body, headers={"Idempotency-Key": "k1"})
    assert (first.status_code, again.status_code, again.headers.get("Idempotent-Replayed")) == (201, 201, "true")
    [conversion] = conversions(db)
    # 2.5 % of €10.00 is €0.25, plus €0.30 per renewal.
    assert (conversion.amount_minor, conversion.commission_minor, conversion.state) == (1000, 55, "pending")
    assert str(conversion.topup_id) == first.json()["id"]
    assert (system(db, ledger.PARTNER_PAYABLE), system(db, ledger.MARKETING_EXPENSE)) == (55, -55)
    [message] = postbacks(db)
    assert (message.recipient, message.channel) == ("https://partner.example/postback", "webhook")
    assert message.payload["data"] == {
        "partner": "CASHBACK-FR", "conversion_id": str(conversion.id), "topup_id": first.json()["id"],
        "offer_id": OFFER, "state": "pending", "amount": {"amount_minor": 1000, "currency": "EUR"},
        "commission": {"amount_minor": 55, "currency": "EUR"}, "converted_at": conversion.created_at.isoformat()}
    assert ledger_ok(db)


def test_an_unknown_or_paused_partner_code_attributes_nothing(client, db):
    make_line(db, now=now())
    make_partner(db)
    with db.transaction() as session:
        cashback.set_state(session, "cashback-fr", active=False, actor="staff:alice", reason="ended", now=now())
    for i, code in enumerate(("CASHBACK-FR", "NOBODY")):
        shown = client.post("/api/v1/quotes", json={"msisdn": MSISDN, "offer_id": OFFER, "channel": "api",
                                                    "partner": code}).json()
        response = client.post("/api/v1/topups", json={"msisdn": MSISDN, "offer_id": OFFER, "channel": "api",
                                                       "quote_id": shown["id"]}, headers={"Idempotency-Key": f"k{i}"})
        assert response.status_code == 201
    assert conversions(db) == [] and system(db, ledger.PARTNER_PAYABLE) == 0


def test_the_postback_is_signed_for_the_partner_and_retried(db, settings):
    receiver = Receiver(answers=[503])
    try:
        _partner, secret = make_partner(db, url=receiver.url)
        make_line(db, now=now())
        paid_with_quote(db, settings, partner="CASHBACK-FR")
        sender = make_sender(settings, db, secret_sources={t: cashback.postback_secret for t in cashback.POSTBACK_TOPICS})
        deliver_due(db, sender)  # the partner answers 503: kept for a retry
        with db.transaction() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.topic == cashback.CONVERSION)
                            .values(next_attempt_at=now()))
        deliver_due(db, sender)
    finally:
        receiver.server.shutdown()
    assert len(receiver.got) == 2
    (first_headers, first_body), (headers, body) = receiver.got
    # What the partner does: check the signature over the exact bytes with the secret it was given.
    verify(secret, body, headers["Simkeep-Signature"], int(time.time()))
    with pytest.raises(Exception, match="does not match"):
        verify("pbsec_someone-else", body, headers["Simkeep-Signature"], int(time.time()))
    assert first_body == body and first_headers["Webhook-Id"] == headers["Webhook-Id"]  # one event, deduplicable
    event = json.loads(body)
    assert (event["type"], event["data"]["commission"]) == ("cashback.conversion", {"amount_minor": 55,
                                                                                     "currency": "EUR"})
    with db.transaction(write=False) as session:
        outcomes = session.scalars(select(DeliveryAttempt.outcome).join(OutboxMessage)
                                   .where(OutboxMessage.topic == cashback.CONVERSION)
                                   .order_by(DeliveryAttempt.attempt)).all()
    assert outcomes == ["retry", "sent"]


def test_a_payment_webhook_replayed_makes_one_conversion(db, settings):
    make_partner(db)
    make_line(db, now=now())
    _attempt_id, event = paid_with_quote(db, settings, partner="CASHBACK-FR")
    deliver(db, settings, event)  # the provider sends it again
    process_inbox(db, settings)
    assert len(conversions(db)) == 1 and system(db, ledger.PARTNER_PAYABLE) == 55
    assert ledger_ok(db)


def test_a_refund_reverses_the_conversion_in_the_ledger_and_tells_the_partner(db, settings):
    make_partner(db, url="https://partner.example/postback")
    make_line(db, now=now())
    attempt_id, _ = paid_with_quote(db, settings, partner="CASHBACK-FR")
    flow.refund(db, settings, attempt_id=attempt_id, amount_minor=400, reason="asked", actor="staff:bob",
                idempotency_key="r1")
    [conversion] = conversions(db)
    assert conversion.state == "reversed" and conversion.reversed_at is not None
    assert (system(db, ledger.PARTNER_PAYABLE), system(db, ledger.MARKETING_EXPENSE)) == (0, 0)
    [reversal] = postbacks(db, cashback.CONVERSION_REVERSED)
    assert reversal.payload["data"]["state"] == "reversed"
    assert reversal.payload["data"]["conversion_id"] == str(conversion.id)
    # The rest of the payment refunded later: the conversion was reversed once.
    flow.refund(db, settings, attempt_id=attempt_id, amount_minor=600, reason="the rest", actor="staff:bob",
                idempotency_key="r2")
    assert len(postbacks(db, cashback.CONVERSION_REVERSED)) == 1 and system(db, ledger.PARTNER_PAYABLE) == 0
    assert ledger_ok(db)


def test_conversions_are_confirmed_after_the_cooling_days(db, settings):
    make_partner(db)
    make_line(db, now=now())
    paid_with_quote(db, settings, partner="CASHBACK-FR")
    assert settle(db, days=13.9).confirmed == 0
    assert settle(db, days=14.1).confirmed == 1
    assert [c.state for c in conversions(db)] == ["confirmed"]


# -- customers -----------------------------------------------------------------------------------------------------

@pytest.fixture
def cashback_campaign(db):
    return make_promotion(db, now=now(), name="10 % back", benefit="cashback_percent", benefit_value=10)


def test_customer_cashback_is_credited_after_the_cooling_days_once(db, settings, cashback_campaign):
    make_line(db, now=now())
    paid_with_quote(db, settings)
    assert (the_cashback(db).state, the_cashback(db).amount_minor) == ("waiting", 100)  # 10 % of €10
    bonus_before = view(db).line.bonus_account_id
    assert settle(db, days=13.9).credited == 0
    assert settle(db, days=14.1).credited == 1
    assert settle(db, days=14.2).credited == 0  # the worker's next round: credited once
    with db.transaction(write=False) as session:
        assert ledger.balances(session, [bonus_before])[bonus_before] == 100
    assert the_cashback(db).state == "credited"
    [sms] = [m for m in postbacks(db, cashback.CREDITED_TOPIC) if m.channel == "sms"]
    assert sms.payload == {"msisdn": MSISDN, "amount": {"amount_minor": 100, "currency": "EUR"}}
    assert ledger_ok(db)


def test_cashback_clawback_after_refund(db, settings, cashback_campaign):
    """Refunded before the cooling days end: cancelled, never credited, nothing in the ledger."""
    make_line(db, now=now())
    attempt_id, _ = paid_with_quote(db, settings)
    expense = system(db, ledger.PROMOTION_EXPENSE)
    flow.refund(db, settings, attempt_id=attempt_id, amount_minor=1000, reason="asked", actor="staff:bob",
                idempotency_key="r1")
    assert the_cashback(db).state == "cancelled"
    assert settle(db, days=30).credited == 0
    assert view(db).balance.minor == 0 and system(db, ledger.PROMOTION_EXPENSE) == expense
    assert postbacks(db, cashback.CREDITED_TOPIC) == []
    assert ledger_ok(db)


def test_a_refund_after_the_credit_takes_back_what_is_left_and_records_the_rest_as_lost(db, settings,
                                                                                       cashback_campaign):
    make_line(db, now=now())
    attempt_id, _ = paid_with_quote(db, settings)
    settle(db, days=14.1)
    with db.transaction() as session:  # the subscriber spends 0.60 (bonus first)
        charges.charge(session, principal="test", idempotency_key="c1", msisdn=MSISDN, amount_minor=60,
                       kind="sms", now=now())
    expense = system(db, ledger.PROMOTION_EXPENSE)
    flow.refund(db, settings, attempt_id=attempt_id, amount_minor=1000, reason="asked", actor="staff:bob",
                idempotency_key="r1")
    row = the_cashback(db)
    assert (row.state, row.clawed_back_minor, row.lost_minor) == ("clawed_back", 40, 60)
    with db.transaction(write=False) as session:
        line = view(db).line
        assert ledger.balances(session, [line.bonus_account_id])[line.bonus_account_id] == 0
    assert system(db, ledger.PROMOTION_EXPENSE) == expense + 40
    assert ledger_ok(db)


def test_a_store_void_cancels_the_waiting_cashback(db, settings, cashback_campaign):
    make_line(db, now=now())
    store = make_store(db, now=now())
    agent = seller(store, make_staff(db, settings, username="li", role="agent", store_id=store.id, now=now()))
    manager = seller(store, make_staff(db, settings, username="marie", role="store_manager", store_id=store.id,
                                       now=now()))
    open_drawer(db, agent, now=now())
    sale = sell(db, agent, now=now()).outcome()
    assert the_cashback(db).amount_minor == 100
    with db.transaction() as session:
        stores.void(session, sale_id=sale.id, store_id=store.id, by=manager.actor, reason="wrong number", now=now(),
                    window=timedelta(minutes=15))
    assert the_cashback(db).state == "cancelled" and settle(db, days=30).credited == 0
    assert ledger_ok(db)


def test_racing_workers_credit_the_cashback_once(db, settings, cashback_campaign):
    make_line(db, now=now())
    paid_with_quote(db, settings)
    results = race(4, lambda _i: settle(db, days=15).credited)
    assert sum(results) == 1
    line = view(db).line
    with db.transaction(write=False) as session:
        assert ledger.balances(session, [line.bonus_account_id])[line.bonus_account_id] == 100
    assert count(db, CustomerCashback) == 1 and ledger_ok(db)


# -- a mixed month -------------------------------------------------------------------------------------------------

def test_the_ledger_balances_after_a_mixed_month(db, settings, cashback_campaign):
    """Top-ups with a cashback campaign, some through a partner, cashback credited, refunds before and after the
    credit, a store void: ledger.verify is clean and every account involved holds exactly what it should."""
    make_partner(db)
    numbers = [f"+3361234567{i}" for i in range(5)]
    for n in numbers:
        make_line(db, msisdn=n, now=now())
    attempts = []
    for i, n in enumerate(numbers[:4]):
        attempt_id, ref = checkout(db, settings, key=f"mix-{i}", msisdn=n)
        with db.transaction() as session:
            quote = topups.quote(session, msisdn=n, offer_id=OFFER, channel="portal", now=now(),
                                 partner_code="CASHBACK-FR" if i % 2 == 0 else None)
            session.execute(update(PaymentAttempt).where(PaymentAttempt.id == attempt_id).values(quote_id=quote.id))
        deliver(db, settings, pay(db, ref))
        attempts.append(attempt_id)
    process_inbox(db, settings)
    store = make_store(db, now=now())
    agent = seller(store, make_staff(db, settings, username="li", role="agent", store_id=store.id, now=now()))
    manager = seller(store, make_staff(db, settings, username="marie", role="store_manager", store_id=store.id,
                                       now=now()))
    open_drawer(db, agent, now=now())
    sale = sell(db, agent, msisdn=numbers[4], now=now()).outcome()
    with db.transaction() as session:
        stores.void(session, sale_id=sale.id, store_id=store.id, by=manager.actor, reason="wrong number", now=now(),
                    window=timedelta(minutes=15))
    # Line 1 (no partner) refunded before its cashback is due; then the cooling days pass for the rest.
    flow.refund(db, settings, attempt_id=attempts[1], amount_minor=1000, reason="asked", actor="staff:bob",
                idempotency_key="mix-r1")
    assert settle(db, days=14.1).credited == 3  # lines 0, 2 and 3 (1 was refunded, 4 voided)
    # Line 2 (partner) refunded after its cashback was credited and left unspent: clawed back whole.
    flow.refund(db, settings, attempt_id=attempts[2], amount_minor=1000, reason="asked", actor="staff:bob",
                idempotency_key="mix-r2")
    with db.transaction(write=False) as session:
        states = {str(c.topup_id): c.state for c in session.scalars(select(CustomerCashback))}
    assert sorted(states.values()) == ["cancelled", "cancelled", "clawed_back", "credited", "credited"]
    assert ledger_ok(db)
    # Partner: conversions on lines 0 and 2 (55 each), line 2 reversed.
    assert (system(db, ledger.PARTNER_PAYABLE), system(db, ledger.MARKETING_EXPENSE)) == (55, -55)
    # Promotion expense: lines 0 and 3 credited 1.00 each; line 2's 1.00 credited then clawed back.
    assert system(db, ledger.PROMOTION_EXPENSE) == -200
    month = cashback.parse_month(None, today=now().date())
    with db.transaction(write=False) as session:
        result = cashback.statement(session, cashback.partner_by_code(session, "cashback-fr"), month)
    totals = result.totals["EUR"]
    assert (totals.conversions, totals.reversals, totals.earned_minor, totals.reversed_minor, totals.due_minor) == (
        2, 1, 110, 55, 55)
    rows = list(cashback.statement_rows(result))
    assert [r[1] for r in rows] == ["conversion", "conversion", "reversal", "due"]
    assert rows[-1][5:8] == ("20.00", "0.55", "EUR")


def test_a_database_upgraded_before_partners_gets_their_accounts_with_the_first_partner(client, db):
    """An existing database upgraded to 0012 has no partner payable or marketing expense accounts until the catalog
    is loaded again: creating a partner opens them, so its first conversion posts."""
    from simkeep.ledger.models import Account

    with db.transaction() as session:
        session.execute(Account.__table__.delete().where(
            Account.kind.in_((ledger.PARTNER_PAYABLE, ledger.MARKETING_EXPENSE))))
    make_line(db, now=now())
    make_partner(db)
    shown = client.post("/api/v1/quotes", json={"msisdn": MSISDN, "offer_id": OFFER, "channel": "api",
                                                "partner": "CASHBACK-FR"}).json()
    paid = client.post("/api/v1/topups", json={"msisdn": MSISDN, "offer_id": OFFER, "channel": "api",
                                               "quote_id": shown["id"]}, headers={"Idempotency-Key": "k1"})
    assert paid.status_code == 201 and system(db, ledger.PARTNER_PAYABLE) == 55
    assert ledger_ok(db)
