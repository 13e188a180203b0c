"""Counter sales charge exactly the quote the agent showed (channel `agent`): every campaign and why, the price, the
bonus and the new end; an expired quote is refused with nothing moved; a promo code typed at the counter works as
on the portal; the store's commission is a share of the price actually paid; a void of a discounted sale gives
everything back; the recommended offer is the cheapest at the quoted price."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from simkeep.core.errors import PromoCodeInvalid, QuoteExpired, QuoteMismatch, QuoteUsed
from simkeep.ledger import service as ledger
from simkeep.promotion.models import BONUS_DAYS, USED, Promotion, PromotionUse, Quote
from simkeep.store import console
from simkeep.store import service as stores
from simkeep.store.models import StoreSale
from simkeep.topup.models import TopUp
from tests.conftest import T0
from tests.factories.lines import make_line, view
from tests.factories.promotions import make_promotion
from tests.factories.snapshot import snapshot
from tests.factories.staff import make_staff
from tests.factories.stores import make_store, open_drawer, sell, seller
from tests.web import ledger_ok

MSISDN = "+33612345678"
OFFER = "fr-orange-mobicarte-25"  # €25, €5 bonus, 60 days
NOW = T0 + timedelta(minutes=1)
WINDOW = timedelta(minutes=15)


@pytest.fixture
def counter(db, settings):
    make_line(db, now=T0)
    store = make_store(db, now=T0)
    agent = seller(store, make_staff(db, settings, username="li", role="agent", store_id=store.id, now=T0))
    manager = seller(store, make_staff(db, settings, username="marie", role="store_manager", store_id=store.id,
                                       now=T0))
    open_drawer(db, agent, float_minor=5_000, now=T0)
    return store, agent, manager


def quote(db, who, *, offer_id: str = OFFER, code: str | None = None, now=NOW) -> Quote:
    with db.transaction() as session:
        return stores.quote(session, seller=who, msisdn=MSISDN, offer_id=offer_id, now=now, code=code)


def balance(db, account_id) -> int:
    with db.transaction(write=False) as session:
        return ledger.account_balance(session, account_id)


def promotion_expense(db) -> int:
    return balance(db, ledger.system_account_id(ledger.PROMOTION_EXPENSE, "EUR"))


def test_the_counter_quote_lists_each_campaign_and_the_sale_takes_exactly_it(db, counter):
    store, agent, _ = counter
    spring = make_promotion(db, now=T0, name="Spring -20%", benefit_value=20)
    days = make_promotion(db, now=T0, name="+10 days", benefit=BONUS_DAYS, benefit_value=10, stackable=True)
    make_promotion(db, now=T0, name="Portal only -50%", benefit_value=50, channels=["portal"])
    shown = quote(db, agent)
    assert (shown.channel, shown.list_minor, shown.discount_minor, shown.price_minor, shown.bonus_minor,
            shown.bonus_days, shown.expires_at) == ("agent", 2500, 500, 2000, 500, 10, NOW + timedelta(minutes=15))
    assert [(a["name"], a["discount_minor"], a["bonus_days"]) for a in shown.applied] == [
        ("Spring -20%", 500, 0), ("+10 days", 0, 10)]
    expense_before = promotion_expense(db)
    sale = sell(db, agent, offer_id=OFFER, quote_id=shown.id, now=NOW + timedelta(minutes=14)).outcome()
    # The customer pays the quote's €20; the store keeps 3 % of what was paid (€0.60) and owes €19.40.
    assert (sale.amount_minor, sale.commission_minor) == (2000, 60)
    assert balance(db, store.account_id) == -1940
    # The line gets the offer's full credit and bonus; the €5 discount and €5 bonus are promotion expense.
    assert view(db).balance.minor == 2500 + 500
    assert promotion_expense(db) - expense_before == -1000
    with db.transaction(write=False) as session:
        topup = session.get(TopUp, sale.topup_id)
        paid = session.get(Quote, shown.id)
        drawer = stores.open_drawer_of(session, agent.agent_id)
        assert stores.expected_cash(session, drawer) == 5_000 + 2000
        assert (topup.quote_id, topup.price_minor, topup.validity_ends_at) == (shown.id, 2000, shown.validity_ends_at)
        assert (paid.state, paid.topup_id) == (USED, topup.id)
        assert {(u.promotion_id, u.state) for u in session.query(PromotionUse)} == {(spring.id, USED), (days.id, USED)}
    assert ledger_ok(db)


def test_an_expired_quote_is_refused_with_nothing_moved_and_a_new_one_shows_the_new_price(db, counter):
    _, agent, _ = counter
    make_promotion(db, now=T0, name="Spring -20%", benefit_value=20, ends_at=NOW + timedelta(minutes=20))
    shown = quote(db, agent)
    assert shown.price_minor == 2000
    before = snapshot(db)
    with pytest.raises(QuoteExpired):
        sell(db, agent, offer_id=OFFER, quote_id=shown.id, now=NOW + timedelta(minutes=15))
    assert snapshot(db) == before
    # The campaign ended meanwhile: the new quote shows list price, and that is what the sale takes.
    later = NOW + timedelta(minutes=21)
    again = quote(db, agent, now=later)
    assert (again.price_minor, again.applied) == (2500, [])
    sale = sell(db, agent, offer_id=OFFER, quote_id=again.id, now=later).outcome()
    assert (sale.amount_minor, sale.commission_minor) == (2500, 75)
    assert ledger_ok(db)


def test_a_quote_is_paid_once_and_only_for_its_offer(db, counter):
    _, agent, _ = counter
    make_promotion(db, now=T0, benefit_value=20)
    shown = quote(db, agent)
    before = snapshot(db)
    with pytest.raises(QuoteMismatch):
        sell(db, agent, offer_id="fr-orange-mobicarte-10", quote_id=shown.id, now=NOW)
    assert snapshot(db) == before
    sell(db, agent, offer_id=OFFER, quote_id=shown.id, now=NOW).outcome()
    before = snapshot(db)
    with pytest.raises(QuoteUsed):
        sell(db, agent, offer_id=OFFER, quote_id=shown.id, now=NOW)
    assert snapshot(db) == before


def test_a_promo_code_typed_at_the_counter_works_as_on_the_portal(db, counter):
    _, agent, _ = counter
    make_promotion(db, now=T0, name="Shop €3 off", benefit="amount_off", benefit_value=300, currency="EUR",
                   code="TABAC3", per_line_limit=1)
    assert quote(db, agent).price_minor == 2500  # no code typed: list price
    before = snapshot(db)
    with pytest.raises(PromoCodeInvalid):
        quote(db, agent, code="NOPE")
    assert snapshot(db) == before
    shown = quote(db, agent, code=" tabac3 ")
    assert (shown.code, shown.price_minor) == ("TABAC3", 2200)
    sale = sell(db, agent, offer_id=OFFER, quote_id=shown.id, method="card", terminal_ref="AUTH 1", now=NOW).outcome()
    assert (sale.amount_minor, sale.commission_minor) == (2200, 66)
    # Card: the clearing waits for the €22 the terminal took; the store is owed its €0.66.
    assert balance(db, ledger.system_account_id(ledger.CLEARING, "EUR", ledger.CARD_PRESENT)) == -2200
    # Once per line: the code brings nothing any more.
    with pytest.raises(PromoCodeInvalid):
        quote(db, agent, code="TABAC3")
    assert ledger_ok(db)


def test_a_void_of_a_discounted_sale_gives_everything_back(db, counter):
    store, agent, manager = counter
    make_promotion(db, now=T0, benefit_value=20)
    start = view(db)
    expense_before = promotion_expense(db)
    shown = quote(db, agent)
    sale = sell(db, agent, offer_id=OFFER, quote_id=shown.id, now=NOW).outcome()
    with db.transaction() as session:
        stores.void(session, sale_id=sale.id, store_id=store.id, by=manager.actor, reason="wrong number",
                    now=NOW + timedelta(minutes=5), window=WINDOW)
    after = view(db)
    assert (after.balance.minor, after.line.validity_ends_at) == (start.balance.minor, start.line.validity_ends_at)
    assert promotion_expense(db) == expense_before
    assert balance(db, store.account_id) == 0
    with db.transaction(write=False) as session:
        assert stores.expected_cash(session, stores.open_drawer_of(session, agent.agent_id)) == 5_000
    assert ledger_ok(db)


def test_the_recommended_offer_is_the_cheapest_at_the_quoted_price(db, counter):
    _, agent, _ = counter
    # 90 % off the €25 offer at the counter: €2.50 is less than the €5 offer's list price, so it is recommended.
    make_promotion(db, now=T0, name="Counter -90% on 25", benefit_value=90, offer_ids=[OFFER], channels=["agent"])
    with db.transaction(write=False) as session:
        line = view(db).line
        found, _ = console.options(session, line, now=NOW)
        advice = console.recommend(session, line=line, until=date(2027, 3, 10), now=NOW)
    assert [(o.offer.id, o.price.minor, o.list_price.minor, o.applied) for o in found[:2]] == [
        (OFFER, 250, 2500, ("Counter -90% on 25",)), ("fr-orange-mobicarte-5", 500, 500, ())]
    assert advice.keeps and (advice.best.offer.id, advice.best.price.minor) == (OFFER, 250)
    shown = quote(db, agent)
    assert shown.price_minor == advice.best.price.minor
    with db.transaction(write=False) as session:
        assert session.query(StoreSale).count() == 0
        assert [p.uses for p in session.query(Promotion)] == [0]  # a quote shown takes no budget until paid
