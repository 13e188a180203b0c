"""One subscriber who used everything: what the erasure and export tests start from. Every step goes through the
service a channel calls (portal payment with a quote and cashback, sign-in code and portal session, SMS command,
USSD menu, hotline call, counter sale with an ID check, recharge card redeemed and one mistyped, keep-my-number
plan, saved card, SIM card and number range from the network inventory, a staff note naming the number and e-mail)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from simkeep.catalog.models import Operator
from simkeep.db import Database
from simkeep.history import actions
from simkeep.line import service as lines
from simkeep.line.links import PLAIN
from simkeep.network import inventory
from simkeep.notification import service as notifications
from simkeep.otp import service as otp
from simkeep.payment.models import PaymentAttempt
from simkeep.payment.providers.base import SavedRef
from simkeep.payment.tasks import process_inbox
from simkeep.plan import autorenew
from simkeep.plan import service as plans
from simkeep.promotion.models import CASHBACK_PERCENT
from simkeep.receipt import pdf
from simkeep.receipt import service as receipts
from simkeep.session import service as sessions
from simkeep.sms_command.service import SmsCommands
from simkeep.store import console
from simkeep.topup import service as topups
from simkeep.ussd import service as ussd
from simkeep.voice import service as voice
from simkeep.voice.flow import Call
from tests.factories.payments import checkout, deliver, pay
from tests.factories.promotions import make_promotion
from tests.factories.staff import make_staff
from tests.factories.stores import make_store, open_drawer, sell, seller
from tests.factories.vouchers import make_reseller, redeem, sold_cards
from tests.network.test_inventory import iccid, imsi, stock

MSISDN, NATIONAL, DIGITS = "+33612345678", "0612345678", "33612345678"
EMAIL = "Li.Wei@Example.com"
ORANGE, OFFER = "fr-orange-mobicarte", "fr-orange-mobicarte-10"


@dataclass
class Subscriber:
    line_id: object
    since: datetime


def now() -> datetime:
    return datetime.now(UTC)


def make_subscriber(db: Database, settings) -> Subscriber:
    since = now() - timedelta(days=2)
    with db.transaction() as session:
        line = lines.create_line(session, msisdn=MSISDN, operator_id=ORANGE, language="fr", email=EMAIL, now=since)
        inventory.import_numbers(session, ["msisdn\n", f"{MSISDN}\n"], operator=session.get(Operator, ORANGE),
                                 source="range.csv", actor="staff:alice", now=since)
    stock(db, 1)
    with db.transaction() as session:
        line = lines.find_line(session, MSISDN)
        inventory.assign(session, line=inventory.LineRef(line.id, line.msisdn, line.operator_id, line.state),
                         iccid=iccid(1), actor="staff:alice", reason="new SIM", now=since)
    assert imsi(1)
    make_promotion(db, now=since, name="Cashback 5%", benefit=CASHBACK_PERCENT, benefit_value=5)
    _portal_payment(db, settings)
    _signed_in(db, settings)
    _channels(db, settings, line.id)
    _counter(db, settings)
    _vouchers(db)
    _plan_and_card(db)
    with db.transaction() as session:  # staff write what customers tell them, the number and e-mail included
        actions.add_note(session, line=lines.find_line(session, MSISDN), actor="staff:li",
                         text=f"Called from {NATIONAL}, asked for receipts at {EMAIL}", now=now())
    return Subscriber(line_id=line.id, since=since)


def _portal_payment(db: Database, settings) -> None:
    attempt_id, ref = checkout(db, settings, key="privacy-portal")
    with db.transaction() as session:
        quote = topups.quote(session, msisdn=MSISDN, offer_id=OFFER, channel="portal", now=now())
        session.execute(update(PaymentAttempt).where(PaymentAttempt.id == attempt_id).values(quote_id=quote.id))
    deliver(db, settings, pay(db, ref))
    process_inbox(db, settings)
    with db.transaction(write=False) as session:
        receipt = receipts.for_line(session, lines.find_line(session, MSISDN).id)[0]
        operator = session.get(Operator, ORANGE)
    pdf.stored_or_render(db, receipt, operator, validity_days=30, verify_url="http://test/receipts/x")


def _signed_in(db: Database, settings) -> None:
    with db.transaction() as session:
        otp.request_code(session, msisdn=MSISDN, secret=settings.key("otp"), now=now())
        otp.verify_code(session, msisdn=MSISDN, code="000000", secrets=[settings.key("otp")], now=now())
        sessions.create(session, data={"msisdn": MSISDN, "email": EMAIL}, now=now(),
                        policy=sessions.Policy(idle=timedelta(hours=1), absolute=timedelta(days=1)))


def _channels(db: Database, settings, line_id) -> None:
    with db.transaction() as session:
        notifications.record_inbound(session, sender=MSISDN, text=f"SOLDE {NATIONAL}", now=now(), message_id="sms-1",
                                     commands=[SmsCommands(settings, PLAIN)])
        ussd.handle(session, request=ussd.Request(msisdn=MSISDN, text=settings.ussd_code, op=1, session=7,
                                                  sequence=-1), menu=ussd.Menu.of(settings), now=now())
        call = voice.start(session, Call(call_id="call-1", caller=MSISDN, called="+33170000000", transport="sip"),
                           line_id=line_id, language="fr", state={"msisdn": MSISDN}, now=now())
        assert call is not None
        voice.did(call, "balance_heard", msisdn=MSISDN)
        voice.record_turn(session, call, step="menu", input="1", turn=None, now=now())


def _counter(db: Database, settings) -> None:
    store = make_store(db, now=now())
    agent = seller(store, make_staff(db, settings, username="li", role="agent", store_id=store.id, now=now()))
    open_drawer(db, agent, now=now())
    sell(db, agent, msisdn=NATIONAL, now=now())
    with db.transaction() as session:
        console.record_id_check(session, store_id=store.id, line=lines.find_line(session, MSISDN),
                                document_type="passport", issuing_country="FR", last4="12AB", checked_by="staff:li",
                                now=now())


def _vouchers(db: Database) -> None:
    make_reseller(db, now=now())
    [card] = sold_cards(db, quantity=1, now=now())
    redeem(db, pin=card[1], msisdn=MSISDN, now=now())
    wrong = redeem(db, pin="0000000000000000", msisdn=MSISDN, now=now())  # recorded against the number
    assert wrong.result is None and wrong.failure is not None


def _plan_and_card(db: Database) -> None:
    with db.transaction() as session:
        line = lines.find_line(session, MSISDN)
        operator = session.get(Operator, ORANGE)
        found = plans.plans_for(session, msisdn=MSISDN, until=(now() + timedelta(days=90)).date(), now=now())
        plans.save_as_reminders(session, line=line, operator=operator, plan=found.plans[0], now=now())
        autorenew.save_method(session, line=line, provider="sandbox", method="card",
                              saved=SavedRef("cus_42", "pm_42", "Visa •••• 4242"), now=now())
