"""A mixed day of business for the books, made through the services as in production: a card top-up on the portal's
payment path (with the offer's bonus) and its refund, a voucher redemption, a reseller buying cards, a store's cash
sale and a voided one, and a line whose credit is forfeited at deactivation. Everything on 1 March 2027 (Paris),
with a few entries the day before (the reseller's deposit) and the year before (the forfeited line's own top-up)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from simkeep.config import Settings
from simkeep.db import Database
from simkeep.lifecycle.tasks import run_sweep
from simkeep.payment.flow import refund
from simkeep.store import service as stores
from tests.conftest import T0
from tests.factories import payments
from tests.factories.lines import make_line, top_up
from tests.factories.staff import make_staff
from tests.factories.stores import make_store, open_drawer, sell, seller
from tests.factories.vouchers import make_reseller, redeem, sold_cards
from tests.web import FrozenClock

CARD_LINE, VOUCHER_LINE, STORE_LINE, LOST_LINE = "+33612345678", "+33612345679", "+33612345670", "+33612345671"


@dataclass(frozen=True)
class MixedDay:
    attempt_id: object
    store_sale_id: object
    voided_sale_id: object


def mixed_day(db: Database, settings: Settings, clock: FrozenClock, monkeypatch) -> MixedDay:
    """`clock` is frozen (tests.web.freeze_clock); the payment factory's own clock is moved with it."""
    monkeypatch.setattr(payments, "now", clock)
    clock.at = T0 - timedelta(days=300)
    make_line(db, msisdn=LOST_LINE, operator_id="fr-syma", now=clock())
    top_up(db, msisdn=LOST_LINE, offer_id="fr-syma-5", now=clock())
    clock.at = T0 - timedelta(days=1)
    make_reseller(db, now=clock())  # a 1 000.00 deposit the day before
    for msisdn in (CARD_LINE, VOUCHER_LINE, STORE_LINE):
        make_line(db, msisdn=msisdn, now=clock())

    clock.at = T0  # 1 March 2027, 10:00 in Paris
    attempt_id = payments.paid(db, settings, offer_id="fr-orange-mobicarte-25", msisdn=CARD_LINE)
    clock.advance(minutes=5)
    [card, *_] = sold_cards(db, quantity=3, now=clock())  # the reseller buys three 10.00 cards at 5 % off
    clock.advance(minutes=5)
    redeem(db, pin=card[1], msisdn=VOUCHER_LINE, now=clock())  # a card is (serial, PIN)
    clock.advance(minutes=5)
    store = make_store(db, now=clock())
    agent = seller(store, make_staff(db, settings, username="li", role="agent", store_id=store.id, now=clock()))
    manager = seller(store, make_staff(db, settings, username="marie", role="store_manager", store_id=store.id,
                                       now=clock()))
    open_drawer(db, agent, now=clock())
    kept = sell(db, agent, msisdn=STORE_LINE, offer_id="fr-orange-mobicarte-10", now=clock()).outcome()
    clock.advance(minutes=1)
    voided = sell(db, agent, msisdn=STORE_LINE, offer_id="fr-orange-mobicarte-5", now=clock()).outcome()
    clock.advance(minutes=2)
    with db.transaction() as session:
        stores.void(session, sale_id=voided.id, store_id=store.id, by=manager.actor, reason="wrong offer",
                    now=clock(), window=timedelta(minutes=15))
    clock.advance(hours=1)
    refund(db, settings, attempt_id=attempt_id, amount_minor=1000, reason="customer asked", actor="staff:alice",
           idempotency_key="refund-1")
    clock.advance(hours=1)
    run_sweep(db, now=clock())  # the Syma line, unrenewed for months, is deactivated: its credit is forfeited
    return MixedDay(attempt_id, kept.id, voided.id)
