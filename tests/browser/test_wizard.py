"""The renewal wizard in a real browser: the reminder SMS's link renews the right line on its own operator, Back and
Forward keep the number, an offer that buys no validity cannot be paid without saying so, and a promo code prices
the summary again and is charged exactly."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from simkeep.catalog import service as catalog
from simkeep.lifecycle.tasks import run_sweep
from simkeep.line import links, rules
from simkeep.line.links import RenewalLinks
from simkeep.line.models import Line
from simkeep.topup.models import TopUp
from tests.browser import journey as j
from tests.browser.axe import violations
from tests.browser.conftest import MSISDN
from tests.factories.lines import make_line
from tests.factories.promotions import make_promotion

SFR, SFR_15 = "fr-sfr-la-carte", "fr-sfr-la-carte-15"  # not the default operator; 15 € buys 30 days
SHOWN = "+33 6 12 34 56 78"


def test_the_reminder_sms_link_opens_the_lines_operator_with_the_number_and_renews_it(open_page, portal):
    lang = "fr"
    line = make_line(portal.db, operator_id=SFR, language=lang, now=datetime.now(UTC))
    with portal.db.transaction(write=False) as session:
        operator = catalog.get_operator(session, SFR)
    # The day of the 30-day reminder, at 10:05 in Paris (outside quiet hours): the worker's sweep writes it.
    portal.clock.advance(rules.reminder_at(operator, line.number_loss_at, 30) + timedelta(minutes=5)
                         - datetime.now(UTC))
    now = portal.clock()
    run_sweep(portal.db, now=now, links=RenewalLinks(portal.settings.base_url,
                                                     portal.settings.key(links.PURPOSE)))
    [reminder] = portal.sms.wait("reminder", MSISDN)
    [url] = re.findall(r"https?://\S+", reminder["text"])
    assert url.startswith(portal.url("/r/33612345678."))

    page = open_page(lang)
    page.goto(url)
    assert page.url == portal.url("/recharge")  # the link leaves the address bar and the history at once
    offered = {page.locator('input[name="offer"]').nth(i).get_attribute("value")
               for i in range(page.locator('input[name="offer"]').count())}
    assert offered and all(o.startswith(f"{SFR}-") for o in offered), offered  # SFR's offers, not Orange's
    assert page.locator("#operator").count() == 0
    assert violations(page) == []
    before = portal.view()
    new_end = rules.extended_validity(operator, before.line.validity_ends_at, 30, now)
    intro = j.normalize(page.locator("main > p").first.inner_text())
    assert intro == j.normalize(j.t(lang, "For %(number)s, currently valid until %(date)s.", number=SHOWN,
                                    date=j.last_day(before.line.validity_ends_at, lang)))
    j.choose_offer(page, SFR_15)
    assert page.url == portal.url("/recharge/method")  # the number is known: no number step
    j.choose_method(page, "card")
    summary = j.normalize(page.locator("dl.facts").inner_text())
    assert SHOWN in summary and j.normalize(j.last_day(new_end, lang)) in summary, summary
    j.confirm(page)
    j.pay_by_card(page, j.APPROVE)
    j.wait_outcome(page, "succeeded")
    after = portal.view()
    assert after.balance.minor - before.balance.minor == 1500
    assert after.line.validity_ends_at == new_end and after.line.operator_id == SFR


def test_back_and_forward_keep_the_number(open_page, portal):
    portal.line(language="en")
    page = open_page("en")
    page.goto(portal.url("/recharge?msisdn=%2B33612345678"))  # an older reminder's plain link
    j.choose_offer(page)
    assert page.url == portal.url("/recharge/number") and page.locator("#msisdn").input_value() == MSISDN
    j.give_number(page, j.TYPED["en"])
    page.go_back()
    assert page.url == portal.url("/recharge/number") and page.locator("#msisdn").input_value() == MSISDN
    page.go_back()
    assert page.url == portal.url("/recharge?msisdn=%2B33612345678")
    assert page.locator(f'input[name="offer"][value="{j.OFFER_10}"]').is_checked()
    page.go_forward()
    assert page.url == portal.url("/recharge/number") and page.locator("#msisdn").input_value() == MSISDN
    page.go_forward()
    assert page.url == portal.url("/recharge/method")  # not sent back to a step before it
    j.choose_method(page, "card")
    assert SHOWN in j.normalize(page.locator("dl.facts").inner_text())


def test_an_offer_that_adds_credit_only_cannot_be_paid_without_the_tick(open_page, portal):
    hk = "+85251234567"
    make_line(portal.db, msisdn=hk, operator_id="hk-shinetown-huamei", language="en", now=datetime.now(UTC))
    with portal.db.transaction() as session:  # valid 300 more days: HK$50 ("now + 210 days") buys none
        session.execute(update(Line).values(validity_ends_at=datetime.now(UTC) + timedelta(days=300)))
    page = open_page("en")
    page.goto(portal.url("/recharge?operator=hk-shinetown-huamei"))
    j.choose_offer(page, "hk-shinetown-huamei-50")
    j.give_number(page, "+852 5123 4567")
    j.choose_method(page, "card")
    assert j.normalize(page.locator("#credit-only").inner_text()) == (
        "Adds credit only: this amount does not extend this number's validity.")
    assert violations(page) == []
    page.locator("#confirm").click()  # the browser refuses: the box is required
    assert page.url == portal.url("/recharge/summary") and j.attempt_count(portal) == 0
    page.locator('input[name="credit_only"]').check()
    j.confirm(page)
    j.pay_by_card(page, j.APPROVE)
    j.wait_outcome(page, "succeeded")
    outcome = j.normalize(page.locator("#outcome").inner_text())
    assert "Credit added; the validity did not change." in outcome, outcome
    assert portal.view(hk).balance.minor == 5000


def test_a_promo_code_prices_the_summary_again_and_the_card_pays_exactly_that(open_page, portal):
    """French: a wrong code is told and changes nothing; the right one, typed in lower case, lowers the price shown,
    and the sandbox card payment charges that price, the top-up recording the quote."""
    lang = "fr"
    portal.line(language=lang)
    make_promotion(portal.db, now=portal.clock(), name="Rentrée -3 €", benefit="amount_off", benefit_value=300,
                   currency="EUR", code="RENTREE")
    page = open_page(lang)
    j.to_summary(page, portal, lang=lang, method="card")
    assert j.normalize(page.locator("#price").inner_text()).startswith(j.normalize(j.amount(1000, lang)))
    page.locator("#code").fill("faux")
    page.locator("#promo button").click()
    assert j.normalize(page.locator("p.error").inner_text()) == j.normalize(j.t(
        lang, "This promo code is unknown, has expired or does not apply to this renewal. The price below has not "
              "changed."))
    assert j.normalize(page.locator("#price").inner_text()).startswith(j.normalize(j.amount(1000, lang)))
    assert violations(page) == []
    page.locator("#code").fill("rentree")
    page.locator("#promo button").click()
    page.wait_for_url(portal.url("/recharge/summary"))
    facts = j.normalize(page.locator("dl.facts").inner_text())
    assert "Rentrée -3 €" in facts and j.normalize(j.t(lang, "%(amount)s off", amount=j.amount(300, lang))) in facts, facts
    assert j.normalize(page.locator("#price").inner_text()).startswith(j.normalize(j.amount(700, lang)))
    assert j.normalize(page.locator("#confirm").inner_text()) == j.normalize(
        j.t(lang, "Confirm and pay %(amount)s", amount=j.amount(700, lang)))
    assert violations(page) == []
    before = portal.view()
    j.confirm(page)
    j.pay_by_card(page, j.APPROVE)
    j.wait_outcome(page, "succeeded")
    [attempt] = j.attempts(portal)
    assert attempt.amount_minor == 700 and attempt.quote_id is not None
    after = portal.view()
    assert after.balance.minor - before.balance.minor == 1000  # the offer's full credit: €3 of it the campaign's
    with portal.db.transaction(write=False) as session:
        [topup] = session.scalars(select(TopUp)).all()
    assert (topup.price_minor, topup.quote_id) == (700, attempt.quote_id)
