"""The same price on every channel: for one line and instant with three live campaigns (20 % off everywhere, +10
bonus days stacked everywhere, 30 % off on the API only), the JSON API, the store counter and the reseller each
charge exactly the price their channel's quote shows, by the one pricing rule, and the ledger balances."""

from __future__ import annotations

from datetime import timedelta

import pytest

from simkeep.ledger import service as ledger
from simkeep.promotion.models import BONUS_DAYS, USED, Quote
from simkeep.reseller import service as resellers
from simkeep.store import service as stores
from simkeep.topup.models import TopUp
from tests.conftest import T0
from tests.factories.lines import make_line, view
from tests.factories.promotions import make_promotion
from tests.factories.staff import make_staff
from tests.factories.stores import make_store, open_drawer, sell, seller
from tests.factories.vouchers import make_reseller
from tests.voucher import api_key
from tests.web import freeze_clock, ledger_ok, money

MSISDN = "+33612345678"
OFFER = "fr-orange-mobicarte-25"  # €25, €5 bonus, 60 days


@pytest.fixture
def clock(monkeypatch):
    return freeze_clock(monkeypatch, T0 + timedelta(hours=1))


def test_each_channel_charges_exactly_its_quote(client, db, settings, clock):
    now = clock.at
    make_line(db, now=T0)
    store = make_store(db, now=T0)
    agent = seller(store, make_staff(db, settings, username="li", role="agent", store_id=store.id, now=T0))
    open_drawer(db, agent, float_minor=0, now=T0)
    reseller = make_reseller(db, now=T0)  # 5 % commission, a €1,000 float
    make_promotion(db, now=T0, name="-20% everywhere", benefit_value=20)
    make_promotion(db, now=T0, name="+10 days", benefit=BONUS_DAYS, benefit_value=10, stackable=True)
    make_promotion(db, now=T0, name="-30% on the API", benefit_value=30, channels=["api"])

    # Every channel's quote at the same instant, before anything is paid.
    api_quote = client.post("/api/v1/quotes", json={"msisdn": MSISDN, "offer_id": OFFER, "channel": "api"}).json()
    with db.transaction() as session:
        counter_quote = stores.quote(session, seller=agent, msisdn=MSISDN, offer_id=OFFER, now=now)
    reseller_key = api_key(db, settings, reseller_id=reseller.id)
    reseller_quote = client.post("/api/v1/reseller/quotes", json={"msisdn": MSISDN, "offer_id": OFFER},
                                 headers=reseller_key).json()
    assert (api_quote["price"], api_quote["bonus_days"]) == (money(1750), 10)
    assert (counter_quote.price_minor, counter_quote.bonus_days) == (2000, 10)
    assert (reseller_quote["price"], reseller_quote["paid"], reseller_quote["commission"],
            reseller_quote["bonus_days"], reseller_quote["msisdn"]) == (
        money(2000), money(1900), money(100), 10, "+336******78")
    assert reseller_quote["promotions"] == ["-20% everywhere", "+10 days"]

    start = view(db).balance.minor
    with db.transaction(write=False) as session:
        float_before = resellers.float_balance(session, reseller).minor

    # Each pays its own quote.
    paid_api = client.post("/api/v1/topups", json={"msisdn": MSISDN, "offer_id": OFFER, "channel": "api",
                                                   "quote_id": api_quote["id"]}, headers={"Idempotency-Key": "api-1"})
    assert paid_api.status_code == 201 and paid_api.json()["amount"] == api_quote["price"]
    sale = sell(db, agent, offer_id=OFFER, quote_id=counter_quote.id, now=now).outcome()
    assert (sale.amount_minor, sale.commission_minor) == (2000, 60)
    paid_reseller = client.post("/api/v1/reseller/topups", json={"msisdn": MSISDN, "offer_id": OFFER,
                                                                 "quote_id": reseller_quote["id"]},
                                headers={**reseller_key, "Idempotency-Key": "res-1"})
    assert paid_reseller.status_code == 201
    body = paid_reseller.json()
    assert (body["amount"], body["paid"], body["commission"], body["quote_id"]) == (
        reseller_quote["price"], reseller_quote["paid"], reseller_quote["commission"], reseller_quote["id"])

    with db.transaction(write=False) as session:
        assert float_before - resellers.float_balance(session, reseller).minor == 1900
        topups = {t.channel: t for t in session.query(TopUp)}
        quotes = {q.channel: q for q in session.query(Quote)}
    assert {c: (t.price_minor, t.quote_id) for c, t in topups.items()} == {
        "api": (1750, quotes["api"].id), "agent": (2000, quotes["agent"].id), "reseller": (2000, quotes["reseller"].id)}
    assert {q.state for q in quotes.values()} == {USED}
    # The line gets each offer's full €25 and €5 bonus three times; the store holds the cash less its commission.
    assert view(db).balance.minor == start + 3 * 3000
    with db.transaction(write=False) as session:
        assert ledger.account_balance(session, store.account_id) == -1940
    assert ledger_ok(db)


def test_a_renewal_priced_now_costs_what_its_channels_quote_shows(client, db, settings, clock):
    """Without a quote_id, the API and the reseller price the renewal now by the same rule as the quote."""
    make_line(db, now=T0)
    reseller = make_reseller(db, now=T0)
    make_promotion(db, now=T0, name="-20% everywhere", benefit_value=20)
    make_promotion(db, now=T0, name="-30% on the API", benefit_value=30, channels=["api"])
    reseller_key = api_key(db, settings, reseller_id=reseller.id)
    api_quote = client.post("/api/v1/quotes", json={"msisdn": MSISDN, "offer_id": OFFER, "channel": "api"}).json()
    reseller_quote = client.post("/api/v1/reseller/quotes", json={"msisdn": MSISDN, "offer_id": OFFER},
                                 headers=reseller_key).json()
    api = client.post("/api/v1/topups", json={"msisdn": MSISDN, "offer_id": OFFER, "channel": "api"},
                      headers={"Idempotency-Key": "api-2"}).json()
    res = client.post("/api/v1/reseller/topups", json={"msisdn": MSISDN, "offer_id": OFFER},
                      headers={**reseller_key, "Idempotency-Key": "res-2"}).json()
    assert (api["amount"], res["amount"], res["paid"]) == (api_quote["price"], reseller_quote["price"],
                                                           reseller_quote["paid"])
    assert ledger_ok(db)
