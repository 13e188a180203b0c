"""The portal shows and charges exactly a quote: every campaign named with what it gives, a promo code (right,
wrong, any case), the price held until its expiry and re-priced after it, the payment held on the quote and the
top-up recording it, the budget held then used or given back, and the same price on every channel."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from simkeep.main import create_app
from simkeep.payment import review
from simkeep.payment.models import PaymentAttempt
from simkeep.payment.tasks import process_inbox
from simkeep.promotion import service as promotions
from simkeep.promotion.models import BONUS_DAYS, Promotion, PromotionUse, Quote
from simkeep.topup.models import TopUp
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.payments import deliver, pay
from tests.factories.promotions import make_promotion
from tests.factories.snapshot import count, snapshot
from tests.portal import browser, page_text
from tests.portal import helpers as h
from tests.web import balances, freeze_clock, ledger_ok

OFFER = "fr-orange-mobicarte-25"  # €25, €5 bonus, 60 days


@pytest.fixture
def cfg(settings):
    return settings.model_copy(update={"public_url": "http://testserver"})


@pytest.fixture
def app(cfg, db):
    return create_app(cfg, db)


@pytest.fixture
def clock(monkeypatch):
    return freeze_clock(monkeypatch, T0 + timedelta(days=1))


@pytest.fixture
def line(db, clock):
    return make_line(db, language="en", now=T0)


def promotion(db, promotion_id) -> Promotion:
    with db.transaction(write=False) as session:
        return session.get(Promotion, promotion_id)


def quote_of(db, quote_id) -> Quote:
    with db.transaction(write=False) as session:
        return session.get(Quote, uuid.UUID(str(quote_id)))


def uses(db) -> list[str]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(PromotionUse.state).order_by(PromotionUse.created_at)))


def shown_quote_id(html: str) -> str:
    return re.search(r'name="quote_id" value="([^"]+)"', html).group(1)


def paid_through_sandbox(db, cfg, attempt: PaymentAttempt, card: str = "4242424242424242") -> None:
    deliver(db, cfg, pay(db, attempt.provider_ref, card=card))
    process_inbox(db, cfg)


def test_the_summary_shows_the_quote_and_the_sandbox_charges_exactly_it(app, cfg, db, line, clock):
    spring = make_promotion(db, now=clock.at, name="Spring -20%", benefit_value=20, max_uses=10)
    days = make_promotion(db, now=clock.at, name="Ten more days", benefit=BONUS_DAYS, benefit_value=10,
                          stackable=True)
    with browser(app) as payer:
        html = h.to_summary(payer, offer=OFFER)
        text = page_text(html)
        assert ("List price €25.00 Spring -20% €5.00 off Ten more days + 10 days of validity Amount €20.00 + €5.00 "
                "bonus") in text, text
        assert "Validity extended by 70 days" in text  # 60 days and 10 bonus days; no date to a stranger
        assert "Price held until 10:15 AM (France Time)" in text, text  # 09:00 UTC is 10:00 in Paris, 15 minutes
        assert "Confirm and pay €20.00" in text
        shown = shown_quote_id(html)
        assert quote_of(db, shown).price_minor == 2000 and promotion(db, spring.id).uses == 0  # nothing held yet
        h.confirm(payer)
    [attempt] = h.attempts(db)
    assert (attempt.amount_minor, str(attempt.quote_id)) == (2000, shown)
    assert (quote_of(db, shown).state, promotion(db, spring.id).uses, promotion(db, spring.id).spent_minor) == (
        "reserved", 1, 500)  # held with the attempt
    assert uses(db) == ["reserved", "reserved"]
    paid_through_sandbox(db, cfg, attempt)
    with db.transaction(write=False) as session:
        [topup] = session.scalars(select(TopUp)).all()
    assert (topup.price_minor, str(topup.quote_id), topup.bonus_minor) == (2000, shown, 500)
    assert topup.validity_ends_at == quote_of(db, shown).validity_ends_at
    assert quote_of(db, shown).state == "used" and uses(db) == ["used", "used"]
    assert (promotion(db, spring.id).uses, promotion(db, days.id).uses) == (1, 1)
    assert balances(db) == (2500, 500) and ledger_ok(db)


def test_a_promo_code_in_any_case_prices_again_and_a_wrong_one_changes_nothing(app, db, line, clock):
    make_promotion(db, now=clock.at, name="Welcome €3", benefit="amount_off", benefit_value=300, currency="EUR",
                   code="WELCOME3")
    with browser(app) as payer:
        first = h.to_summary(payer, offer=OFFER)
        assert "Amount €25.00" in page_text(first)  # a code campaign needs its code
        before, shown = snapshot(db), shown_quote_id(first)
        wrong = payer.post("/recharge/code", data={"code": "WELCOME4", "csrf_token": h.csrf(payer)})
        assert wrong.status_code == 422
        text = page_text(wrong.text)
        assert ("This promo code is unknown, has expired or does not apply to this renewal. The price below has "
                "not changed.") in text and "Confirm and pay €25.00" in text
        assert shown_quote_id(wrong.text) == shown and snapshot(db) == before  # nothing moved, same quote
        right = payer.post("/recharge/code", data={"code": " welcome3 ", "csrf_token": h.csrf(payer)})
        assert right.status_code == 303 and right.headers["location"] == "/recharge/summary"
        summary = payer.get("/recharge/summary").text
        assert "List price €25.00 Welcome €3 €3.00 off Amount €22.00" in page_text(summary)
        assert 'value="WELCOME3"' in summary
        assert quote_of(db, shown_quote_id(summary)).code == "WELCOME3"
        h.confirm(payer)
    [attempt] = h.attempts(db)
    assert attempt.amount_minor == 2200


@pytest.mark.parametrize("lang, message", [
    ("fr", "Le code promo est inconnu, a expiré ou ne s'applique pas à cette recharge. Le prix ci-dessous n'a "
           "pas changé."),
    ("zh_CN", "此优惠码不存在、已过期或不适用于本次充值。下方价格未变。"),
])
def test_a_wrong_code_is_told_in_the_payers_language(app, db, line, clock, lang, message):
    with browser(app, lang) as payer:
        h.to_summary(payer, offer=OFFER)
        wrong = payer.post("/recharge/code", data={"code": "nope", "csrf_token": h.csrf(payer)})
    assert wrong.status_code == 422 and message in page_text(wrong.text)


def test_an_expired_quote_whose_price_changed_is_shown_again_never_charged(app, db, line, clock):
    spring = make_promotion(db, now=clock.at, benefit_value=20)
    with browser(app) as payer:
        old = shown_quote_id(h.to_summary(payer, offer=OFFER))
        token, key = h.csrf(payer), _key(payer)  # the summary page as shown, then left open
        with db.transaction() as session:
            promotions.change_state(session, spring.id, "pause", actor="staff:bob", reason="test", now=clock.at)
        clock.at += timedelta(minutes=16)
        before = snapshot(db)
        changed = payer.post("/recharge/confirm", data={"checkout_key": key, "quote_id": old, "csrf_token": token})
        assert changed.status_code == 409
        text = page_text(changed.text)
        assert "The price changed since it was shown" in text and "Confirm and pay €25.00" in text, text
        assert h.attempts(db) == []
        assert snapshot(db)["balances"] == before["balances"]
        new = shown_quote_id(changed.text)
        assert new != old and quote_of(db, new).price_minor == 2500
        paid = payer.post("/recharge/confirm", data={"checkout_key": key, "quote_id": new, "csrf_token": token})
        assert paid.status_code == 303
    [attempt] = h.attempts(db)
    assert (attempt.amount_minor, str(attempt.quote_id)) == (2500, new)


def test_an_expired_quote_at_the_same_price_is_paid_at_that_price(app, db, line, clock):
    make_promotion(db, now=clock.at, benefit_value=20)
    with browser(app) as payer:
        old = shown_quote_id(h.to_summary(payer, offer=OFFER))
        token, key = h.csrf(payer), _key(payer)
        clock.at += timedelta(minutes=20)
        paid = payer.post("/recharge/confirm", data={"checkout_key": key, "quote_id": old,
                                                     "csrf_token": token})
        assert paid.status_code == 303
    [attempt] = h.attempts(db)
    assert attempt.amount_minor == 2000 and str(attempt.quote_id) != old
    assert quote_of(db, old).state == "open" and quote_of(db, attempt.quote_id).state == "reserved"


def test_an_altered_quote_id_is_refused_and_nothing_starts(app, db, line, clock):
    with browser(app) as payer:
        h.to_summary(payer, offer=OFFER)
        with db.transaction() as session:  # another quote, made for the same line elsewhere
            other = promotions.find_quote(session, shown_quote_id(payer.get("/recharge/summary").text))
            forged = str(other.id).replace(str(other.id)[-1], "0" if str(other.id)[-1] != "0" else "1")
        answer = payer.post("/recharge/confirm", data={"checkout_key": _key(payer), "quote_id": forged,
                                                       "csrf_token": h.csrf(payer)})
    assert answer.status_code == 303 and answer.headers["location"] == "/recharge/summary"
    assert h.attempts(db) == []


def test_a_declined_payment_gives_the_budget_back(app, cfg, db, line, clock):
    spring = make_promotion(db, now=clock.at, benefit_value=20, max_uses=1)
    with browser(app) as payer:
        h.to_summary(payer, offer=OFFER)
        h.confirm(payer)
    [attempt] = h.attempts(db)
    assert (promotion(db, spring.id).uses, promotion(db, spring.id).spent_minor) == (1, 500)
    before = snapshot(db)["balances"]
    paid_through_sandbox(db, cfg, attempt, card="4000000000000002")
    assert h.attempts(db)[0].status == "failed"
    assert (promotion(db, spring.id).uses, promotion(db, spring.id).spent_minor) == (0, 0)
    assert quote_of(db, attempt.quote_id).state == "released" and uses(db) == ["released"]
    assert snapshot(db)["balances"] == before and count(db, TopUp) == 0


def test_an_abandoned_payment_paid_late_is_honoured_while_the_budget_allows(app, cfg, db, line, clock):
    spring = make_promotion(db, now=clock.at, benefit_value=20, max_uses=1)
    with browser(app) as payer:
        h.to_summary(payer, offer=OFFER)
        h.confirm(payer)
    [attempt] = h.attempts(db)
    success = pay(db, attempt.provider_ref)
    abandoned = {**success, "id": "evt_expired", "type": "payment.failed",
                 "data": {**success["data"], "failure": "expired"}}
    deliver(db, cfg, abandoned)
    process_inbox(db, cfg)
    assert h.attempts(db)[0].status == "abandoned" and promotion(db, spring.id).uses == 0
    deliver(db, cfg, success)  # the money moved after all
    process_inbox(db, cfg)
    assert h.attempts(db)[0].status == "succeeded"
    assert (promotion(db, spring.id).uses, promotion(db, spring.id).spent_minor) == (1, 500)
    assert uses(db) == ["used"] and balances(db) == (2500, 500) and ledger_ok(db)


def test_paid_late_after_the_budget_ran_out_waits_for_review_then_is_honoured_within_budget(app, cfg, db, line,
                                                                                             clock):
    spring = make_promotion(db, now=clock.at, benefit_value=20, max_uses=1)
    with browser(app) as payer:
        h.to_summary(payer, offer=OFFER)
        h.confirm(payer)
    [attempt] = h.attempts(db)
    success = pay(db, attempt.provider_ref)
    deliver(db, cfg, {**success, "id": "evt_expired", "type": "payment.failed",
                      "data": {**success["data"], "failure": "expired"}})
    process_inbox(db, cfg)
    make_line(db, msisdn="+33612345679", now=T0)  # someone else takes the campaign's last use meanwhile
    with browser(app) as other:
        h.to_summary(other, msisdn="+33612345679", offer=OFFER)
        h.confirm(other)
    assert promotion(db, spring.id).uses == 1
    deliver(db, cfg, success)
    process_inbox(db, cfg)
    with db.transaction(write=False) as session:
        late = session.get(PaymentAttempt, attempt.id)
    assert (late.status, late.failure_reason, late.topup_id) == ("review", "promotion_unavailable", None)
    assert balances(db) == (0, 0)
    with db.transaction() as session:
        review.settle(session, attempt_id=attempt.id, decision="credit", reason="paid as shown", actor="staff:bob",
                      receipt_secret=cfg.key("receipt"), base_url=cfg.base_url, now=clock.at)
    # The payer gets exactly what was shown and paid; the campaign's budget is never exceeded.
    assert balances(db) == (2500, 500) and ledger_ok(db)
    assert (promotion(db, spring.id).uses, promotion(db, spring.id).spent_minor) == (1, 500)
    with db.transaction(write=False) as session:
        [topup] = session.scalars(select(TopUp).where(TopUp.msisdn == h.MSISDN)).all()
    assert (topup.price_minor, topup.quote_id) == (2000, attempt.quote_id)
    assert quote_of(db, attempt.quote_id).state == "used"


def test_the_portal_the_api_and_a_paid_checkout_charge_the_same_price(app, cfg, client, db, line, clock):
    make_promotion(db, now=clock.at, benefit_value=15)
    make_promotion(db, now=clock.at, name="Portal bonus", benefit="bonus_credit", benefit_value=200,
                   currency="EUR", channels=["portal"], stackable=True)
    api = client.post("/api/v1/quotes", json={"msisdn": h.MSISDN, "offer_id": OFFER, "channel": "portal"}).json()
    with browser(app) as payer:
        offers = page_text(payer.get("/recharge").text)
        html = h.to_summary(payer, offer=OFFER)
        h.confirm(payer)
    [attempt] = h.attempts(db)
    portal = quote_of(db, shown_quote_id(html))
    assert api["price"]["amount_minor"] == portal.price_minor == attempt.amount_minor == 2125
    assert api["bonus"]["amount_minor"] == portal.bonus_minor == 700
    assert api["validity_ends_at"] == portal.validity_ends_at.isoformat().replace("+00:00", "Z")
    assert "€25.00" in offers  # a stranger's offer list: the list price
    paid_through_sandbox(db, cfg, attempt)
    with db.transaction(write=False) as session:
        [topup] = session.scalars(select(TopUp)).all()
    assert (topup.price_minor, topup.bonus_minor) == (2125, 700)


def test_a_known_line_sees_its_own_price_in_the_offer_list(app, db, line, clock):
    make_promotion(db, now=clock.at, benefit_value=20, offer_ids=[OFFER])
    with browser(app) as holder:
        h.sign_in(holder, db)
        holder.get(f"/recharge?msisdn={h.MSISDN.replace('+', '%2B')}")
        html = holder.get("/recharge").text
    offer = re.search(rf'id="offer-{OFFER}".*?</label>', html, re.S).group(0)
    assert "<del>€25.00</del>" in offer and '<span class="price">€20.00</span>' in offer


def test_a_partner_link_is_remembered_and_the_last_click_wins(app, db, line, clock):
    with browser(app) as payer:
        assert payer.get("/?partner=cashsite").status_code == 200
        cookie = payer.cookies.get("simkeep_partner")
        assert cookie.startswith("CASHSITE.")
        payer.get("/renew?partner=other-site")  # a later click on another partner's link
        first = shown_quote_id(h.to_summary(payer, offer=OFFER))
        payer.cookies.set("simkeep_partner", cookie.replace("CASHSITE", "FORGED"))
        payer.post("/recharge/offer", data={"offer": OFFER, "csrf_token": h.csrf(payer)})
        second = shown_quote_id(h.to_summary(payer, offer=OFFER))
    assert quote_of(db, first).partner_code == "OTHER-SITE"
    assert quote_of(db, second).partner_code is None  # a forged cookie names nobody


def test_a_partner_cookie_lasts_thirty_days(app, db, line, clock):
    with browser(app) as payer:
        payer.get("/?partner=cashsite")
        clock.at += timedelta(days=30, seconds=1)
        shown = shown_quote_id(h.to_summary(payer, offer=OFFER))
    assert quote_of(db, shown).partner_code is None


def test_a_multi_month_offer_says_how_much_it_saves(app, db, clock):
    make_line(db, operator_id="fr-free-2eur", language="en", now=T0)
    with browser(app) as payer:
        offers = page_text(payer.get("/recharge?operator=fr-free-2eur").text)
        summary = page_text(h.to_summary(payer, offer="fr-free-2eur-12x"))
    assert "€20.40 12 months at once €3.60 less than month by month" in offers, offers
    assert "Renewal 12 months at once" in summary
    assert "Amount €20.40" in summary and "Saving €3.60 less than €24.00 month by month" in summary, summary


def _key(client) -> str:
    return re.search(r'name="checkout_key" value="([^"]+)"', client.get("/recharge/summary").text).group(1)
