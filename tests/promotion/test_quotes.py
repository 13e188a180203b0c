"""POST /api/v1/quotes and paying a quote with POST /api/v1/topups: exact amounts, the ledger's promotion
expense, and every way a quote is refused with nothing moved."""

from __future__ import annotations

from datetime import timedelta

import pytest

from simkeep.ledger import service as ledger
from simkeep.promotion.models import Promotion, PromotionUse
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.promotions import make_promotion
from tests.factories.snapshot import count, snapshot
from tests.web import balances, error, freeze_clock, ledger_ok, money

MSISDN = "+33612345678"
OFFER = "fr-orange-mobicarte-25"  # €25, €5 bonus, 60 days


@pytest.fixture
def clock(monkeypatch):
    return freeze_clock(monkeypatch, T0 + timedelta(days=1))


@pytest.fixture
def line(db, clock):
    return make_line(db, now=T0)


def quote(client, **extra):
    return client.post("/api/v1/quotes", json={"msisdn": MSISDN, "offer_id": OFFER, "channel": "portal", **extra})


def pay(client, shown_id, key="k1", **extra):
    body = {"msisdn": MSISDN, "offer_id": OFFER, "channel": "portal", "quote_id": shown_id, **extra}
    return client.post("/api/v1/topups", json=body, headers={"Idempotency-Key": key})


def expense(db) -> int:
    with db.transaction(write=False) as session:
        return ledger.account_balance(session, ledger.system_account_id(ledger.PROMOTION_EXPENSE, "EUR"))


def test_a_quote_lists_each_campaign_and_the_price_to_pay(client, db, line, clock):
    promo = make_promotion(db, now=clock.at, name="Spring -20%", benefit_value=20)
    days = make_promotion(db, now=clock.at, name="+10 days", benefit="bonus_days", benefit_value=10, stackable=True)
    response = quote(client)
    assert response.status_code == 201
    body = response.json()
    assert body["expires_at"] == (clock.at + timedelta(minutes=15)).isoformat().replace("+00:00", "Z")
    # 60 days from 31 March (end of day, Paris) then 10 bonus days: 10 June, end of day, Paris.
    assert body == {
        "id": body["id"], "msisdn": MSISDN, "offer_id": OFFER, "channel": "portal",
        "list_price": money(2500), "discount": money(500), "price": money(2000), "bonus": money(500),
        "bonus_days": 10, "cashback": money(0), "validity_ends_at": "2027-06-09T22:00:00Z",
        "expires_at": body["expires_at"],
        "applied": [
            {"promotion_id": str(promo.id), "name": "Spring -20%", "benefit": "percent_off", "discount": money(500),
             "bonus": money(0), "bonus_days": 0, "cashback": money(0)},
            {"promotion_id": str(days.id), "name": "+10 days", "benefit": "bonus_days", "discount": money(0),
             "bonus": money(0), "bonus_days": 10, "cashback": money(0)},
        ]}


def test_paying_a_quote_charges_exactly_it_and_records_it(client, db, line, clock):
    promo = make_promotion(db, now=clock.at, benefit_value=20)
    q = quote(client).json()
    before = expense(db)
    response = pay(client, q["id"])
    assert response.status_code == 201
    body = response.json()
    assert (body["amount"], body["quote_id"], body["validity_ends_at"]) == (money(2000), q["id"], q["validity_ends_at"])
    # The line gets the offer's full credit; €5 of it is the campaign's, in promotion expense with the bonus.
    assert balances(db) == (2500, 500)
    assert expense(db) - before == -(500 + 500)
    assert ledger_ok(db)
    with db.transaction(write=False) as session:
        p = session.get(Promotion, promo.id)
        assert (p.uses, p.spent_minor) == (1, 500)
        [use] = session.query(PromotionUse).all()
        assert (use.state, str(use.topup_id), use.cost_minor) == ("used", body["id"], 500)


def test_the_same_key_replays_and_the_quote_pays_once(client, db, line, clock):
    make_promotion(db, now=clock.at)
    q = quote(client).json()
    first = pay(client, q["id"])
    again = pay(client, q["id"])
    assert (again.status_code, again.json()["id"], again.headers["Idempotent-Replayed"]) == (201, first.json()["id"], "true")
    before = snapshot(db)
    assert error(pay(client, q["id"], key="k2")) == (409, "quote_used")
    assert snapshot(db) == before


@pytest.mark.parametrize(("change", "expected"), [
    ({"offer_id": "fr-orange-mobicarte-10"}, (409, "quote_mismatch")),
    ({"channel": "agent"}, (409, "quote_mismatch")),
    ({"quote_id": "00000000-0000-0000-0000-000000000000"}, (404, "quote_not_found")),
    ({"quote_id": "not-a-quote"}, (404, "quote_not_found")),
])
def test_an_altered_quote_is_refused_and_nothing_moves(client, db, line, clock, change, expected):
    make_promotion(db, now=clock.at)
    q = quote(client).json()
    before = snapshot(db)
    assert error(pay(client, q["id"], **change)) == expected
    assert snapshot(db) == before


def test_an_expired_quote_is_refused_and_nothing_moves(client, db, line, clock):
    make_promotion(db, now=clock.at)
    q = quote(client).json()
    clock.advance(minutes=15)
    before = snapshot(db)
    assert error(pay(client, q["id"])) == (409, "quote_expired")
    assert snapshot(db) == before


def test_a_promo_code_is_case_insensitive_and_a_wrong_one_is_refused(client, db, line, clock):
    make_promotion(db, now=clock.at, code="KEEP10", benefit="amount_off", benefit_value=1000, currency="EUR")
    assert quote(client).json()["price"] == money(2500)  # a code campaign needs its code
    assert quote(client, code="keep10").json()["price"] == money(1500)
    assert error(quote(client, code="KEEP11")) == (422, "promo_code_invalid")


def test_a_campaign_out_of_budget_leaves_the_next_renewal_at_list_price(client, db, line, clock):
    make_promotion(db, now=clock.at, max_uses=1)
    first = quote(client).json()
    second = quote(client).json()
    assert pay(client, first["id"]).json()["amount"] == money(2000)
    before = snapshot(db)
    assert error(pay(client, second["id"], key="k2")) == (409, "promotion_unavailable")
    assert snapshot(db) == before
    assert quote(client).json()["price"] == money(2500)
    # A top-up without a quote is priced now, by the same rule: list price once the budget is gone.
    response = client.post("/api/v1/topups", json={"msisdn": MSISDN, "offer_id": OFFER, "channel": "portal"},
                           headers={"Idempotency-Key": "k3"})
    assert (response.json()["amount"], response.json()["quote_id"]) == (money(2500), None)


def test_a_top_up_without_a_quote_pays_what_a_quote_would_show(client, db, line, clock):
    make_promotion(db, now=clock.at, benefit_value=10)
    shown = quote(client).json()
    response = client.post("/api/v1/topups", json={"msisdn": MSISDN, "offer_id": OFFER, "channel": "portal"},
                           headers={"Idempotency-Key": "k9"})
    body = response.json()
    assert (body["amount"], body["validity_ends_at"]) == (shown["price"], shown["validity_ends_at"])
    assert body["quote_id"] is not None and body["quote_id"] != shown["id"]
    assert count(db, PromotionUse) == 1
