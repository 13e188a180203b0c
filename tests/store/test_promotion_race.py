"""A campaign with a budget of one use, raced by a counter sale and a JSON API top-up on the same line (threads with
a session each; meant for PostgreSQL, where the transactions really overlap; SQLite runs them one writer at a time).

- Priced as they are made: both renewals land, exactly one gets the discount, the other pays list price.
- Each paying the quote it showed (both quotes show the discount: a quote takes no budget until paid): exactly one
  is charged its discounted quote; the other is refused (`promotion_unavailable`) with nothing of it moved."""

from __future__ import annotations

from datetime import timedelta

import pytest

from simkeep.core.errors import PromotionUnavailable
from simkeep.promotion.models import Promotion, PromotionUse, Quote
from simkeep.store import console
from simkeep.store import service as stores
from simkeep.store.models import StoreSale
from simkeep.topup import service as topups
from simkeep.topup.models import TopUp
from tests.conftest import T0
from tests.factories.lines import make_line, view
from tests.factories.promotions import make_promotion
from tests.factories.staff import make_staff
from tests.factories.stores import COMMISSION, make_store, open_drawer, seller
from tests.web import ledger_ok, race

MSISDN = "+33612345678"
OFFER = "fr-orange-mobicarte-25"  # €25, €5 bonus
NOW = T0 + timedelta(minutes=5)


@pytest.fixture
def scene(db, settings):
    line = make_line(db, now=T0)
    store = make_store(db, now=T0)
    agent = seller(store, make_staff(db, settings, username="li", role="agent", store_id=store.id, now=T0))
    open_drawer(db, agent, float_minor=0, now=T0)
    with db.transaction() as session:
        console.record_id_check(session, store_id=store.id, line=line, document_type="passport",
                                issuing_country="CN", last4="1234", checked_by=agent.actor, now=T0)
    promotion = make_promotion(db, now=T0, name="First one -20%", benefit_value=20, max_uses=1)
    return agent, promotion


def counter_sale(db, agent, quote_id=None):
    def work(session):
        console.require_id_check(session, store_id=agent.store_id, msisdn=MSISDN, now=NOW)
        return stores.sell(session, seller=agent, msisdn=MSISDN, offer_id=OFFER, method="cash",
                           idempotency_key="counter:race", commission=COMMISSION,
                           receipt_url=lambda receipt_id: f"http://test/receipts/{receipt_id}", language="fr",
                           now=NOW, quote_id=quote_id)
    return db.write(work).outcome()


def api_top_up(db, quote_id=None):
    return db.write(lambda session: topups.top_up(session, principal="partner", idempotency_key="api:race",
                                                  msisdn=MSISDN, offer_id=OFFER, channel="api", now=NOW,
                                                  quote_id=quote_id)).topup


def outcome(call):
    try:
        return call()
    except PromotionUnavailable as exc:
        return exc


def test_priced_as_made_exactly_one_gets_the_discount(db, scene):
    agent, promotion = scene
    start = view(db).balance.minor
    sale, topup = race(2, lambda i: counter_sale(db, agent) if i == 0 else api_top_up(db))
    assert sorted([sale.amount_minor, topup.price_minor]) == [2000, 2500]
    with db.transaction(write=False) as session:
        assert session.get(Promotion, promotion.id).uses == 1
        assert [u.state for u in session.query(PromotionUse)] == ["used"]
        assert session.query(TopUp).count() == 2
    assert view(db).balance.minor == start + 2 * 3000
    assert ledger_ok(db)


def test_paying_quotes_exactly_one_is_charged_its_discount_and_the_other_moves_nothing(db, scene):
    agent, promotion = scene
    with db.transaction() as session:
        counter_quote = stores.quote(session, seller=agent, msisdn=MSISDN, offer_id=OFFER, now=NOW)
        api_quote = topups.quote(session, msisdn=MSISDN, offer_id=OFFER, channel="api", now=NOW)
    assert (counter_quote.price_minor, api_quote.price_minor) == (2000, 2000)
    start = view(db).balance.minor
    results = race(2, lambda i: outcome(lambda: counter_sale(db, agent, counter_quote.id)) if i == 0
                   else outcome(lambda: api_top_up(db, api_quote.id)))
    paid = [r for r in results if not isinstance(r, PromotionUnavailable)]
    refused = [r for r in results if isinstance(r, PromotionUnavailable)]
    assert len(paid) == 1 and len(refused) == 1
    charged = paid[0].amount_minor if isinstance(paid[0], StoreSale) else paid[0].price_minor
    assert charged == 2000
    with db.transaction(write=False) as session:
        assert session.get(Promotion, promotion.id).uses == 1
        assert session.query(TopUp).count() == 1
        assert session.query(StoreSale).count() == (1 if isinstance(paid[0], StoreSale) else 0)
        assert sorted(q.state for q in session.query(Quote)) == ["open", "used"]
    assert view(db).balance.minor == start + 3000
    assert ledger_ok(db)
