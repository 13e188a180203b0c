# ruff: noqa: F811 (the `counter` fixture, imported, is a test argument)
"""The counter's quote step (/counter/lines/{msisdn}): the offers at their counter price, the quote shown with each
campaign before any money is taken, exactly that quote taken, an expired quote re-quoted with why (nothing taken)
and a promo code typed at the counter."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from simkeep.promotion.models import BONUS_DAYS, Quote
from simkeep.store.models import StoreSale
from simkeep.topup.models import TopUp
from tests.admin.test_counter import (  # noqa: F401 (the `counter` fixture)
    LINE,
    check_id,
    counter,
    moved,
    opened,
    quote_of,
)
from tests.factories.promotions import make_promotion
from tests.factories.snapshot import snapshot
from tests.reseller import csrf, form_key, site_fixture, text_of  # noqa: F401 (the `site` fixture)

OFFER = "fr-orange-mobicarte-25"  # €25, €5 bonus, 60 days


def ask_price(client, **fields):
    page = client.get(LINE)
    form = {"offer": OFFER, "method": "cash", "terminal_ref": "", "pin": "", "code": "", "key": form_key(page.text),
            **fields}
    return client.post(f"{LINE}/sale", data={**form, "csrf_token": csrf(page.text)})


def confirm(client, shown, **fields):
    form = {"quote": quote_of(shown.text), "offer": OFFER, "method": "cash", "terminal_ref": "",
            "key": form_key(shown.text), **fields}
    return client.post(f"{LINE}/sale", data={**form, "csrf_token": csrf(shown.text)})


def test_the_agent_sees_the_quote_before_any_money_and_the_sale_takes_exactly_it(counter):
    opened(counter)
    now = counter.site.clock()
    make_promotion(counter.db, now=now, name="Spring -20%", benefit_value=20)
    make_promotion(counter.db, now=now, name="+10 days", benefit=BONUS_DAYS, benefit_value=10, stackable=True)
    client = counter.site.signed_in(counter.agent)
    check_id(client)
    listed = text_of(client.get(LINE).text)
    assert "€20.00 €25.00 60 days · bonus €5.00 · +10 days of validity" in listed
    before = snapshot(counter.db)
    asked = ask_price(client)
    assert asked.status_code == 303 and "?quote=" in asked.headers["location"]
    after_quote = snapshot(counter.db)
    assert {t: n for t, n in after_quote["counts"].items() if n != before["counts"][t]} == {"quotes": 1}
    assert after_quote["balances"] == before["balances"]  # nothing taken
    shown = client.get(asked.headers["location"])
    words = text_of(shown.text)
    assert ("List price €25.00 Spring -20% −€5.00 +10 days +10 days of validity To pay €20.00 Bonus credit €5.00 "
            "Bonus days 10 days Valid until") in words
    assert "Take €20.00 and renew" in words
    start = moved(counter.db)
    sold = confirm(client, shown)
    assert sold.status_code == 303 and "/counter/sales/" in sold.headers["location"]
    assert moved(counter.db).balance - start.balance == 3000
    with counter.db.transaction(write=False) as session:
        sale = session.scalars(select(StoreSale)).one()
        topup = session.get(TopUp, sale.topup_id)
        quote = session.get(Quote, topup.quote_id)
    assert (sale.amount_minor, sale.commission_minor, quote.price_minor, quote.state) == (2000, 60, 2000, "used")
    assert str(quote.id) == quote_of(shown.text)


def test_an_expired_quote_shows_the_new_price_and_takes_nothing(counter):
    opened(counter)
    now = counter.site.clock()
    make_promotion(counter.db, now=now, name="Flash -20%", benefit_value=20, ends_at=now + timedelta(minutes=10))
    client = counter.site.signed_in(counter.agent)
    check_id(client)
    shown = client.get(ask_price(client).headers["location"])
    assert "To pay €20.00" in text_of(shown.text)
    counter.site.clock.advance(minutes=16)
    check_id(client)  # the ID check is kept 30 minutes; a fresh one keeps this test about the quote
    before = snapshot(counter.db)
    refused = confirm(client, shown)
    assert refused.status_code == 409
    words = text_of(refused.text)
    assert "The price shown has expired: here is the price now. Nothing was taken" in words
    assert "To pay €25.00" in words and "Take €25.00 and renew" in words
    after = snapshot(counter.db)
    assert {t: n - before["counts"][t] for t, n in after["counts"].items() if n != before["counts"][t]} == {
        "quotes": 1}
    assert after["balances"] == before["balances"]
    assert confirm(client, refused).status_code == 303  # the new quote, confirmed: €25 taken
    with counter.db.transaction(write=False) as session:
        assert session.scalars(select(StoreSale.amount_minor)).all() == [2500]


def test_a_promo_code_at_the_counter(counter):
    opened(counter)
    now = counter.site.clock()
    make_promotion(counter.db, now=now, name="Shop €3 off", benefit="amount_off", benefit_value=300,
                   currency="EUR", code="TABAC3")
    client = counter.site.signed_in(counter.agent)
    check_id(client)
    before = snapshot(counter.db)
    wrong = ask_price(client, code="NOPE")
    assert wrong.status_code == 422
    assert "This promo code is unknown, has expired or does not apply to this renewal." in text_of(wrong.text)
    assert snapshot(counter.db) == before
    shown = client.get(ask_price(client, code="tabac3").headers["location"])
    assert "Shop €3 off −€3.00" in text_of(shown.text) and "To pay €22.00" in text_of(shown.text)
    assert confirm(client, shown, code="TABAC3").status_code == 303
    with counter.db.transaction(write=False) as session:
        assert session.scalars(select(StoreSale.amount_minor)).all() == [2200]
