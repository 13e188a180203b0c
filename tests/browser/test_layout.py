"""Mobile first: on a 390 px phone no page scrolls sideways, and each offer's text sits beside its radio button."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.browser import journey as j
from tests.factories.vouchers import make_reseller, sold_cards

OVERFLOW = """(width) => [document.documentElement.scrollWidth,
  [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > width + 0.5)
    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '')).slice(0, 5)]"""
# Every text of an offer choice must start to the right of its radio button (not wrap under it).
UNDER_THE_RADIO = """() => [...document.querySelectorAll('label.choice')].flatMap(label => {
  const radio = label.querySelector('input').getBoundingClientRect();
  return [...label.querySelectorAll('span')].filter(s => s.getBoundingClientRect().left < radio.right)
    .map(s => label.id + ': ' + s.innerText);
})"""


def test_pages_fit_a_phone_screen(open_page, portal):
    portal.line(language="fr")
    wide: dict[str, list] = {}
    misplaced: list[str] = []

    def check(page, name: str) -> None:
        width = page.viewport_size["width"]  # a mobile browser widens its layout to fit what overflows
        scroll_width, culprits = page.evaluate(OVERFLOW, width)
        if scroll_width > width:
            wide[name] = [f"{scroll_width} px wide for {width} px", *culprits]

    zh = open_page("zh_CN")
    zh.goto(portal.url("/"))
    check(zh, "home (zh_CN)")

    page = open_page("fr")  # French has the longest strings
    page.goto(portal.url("/"))
    check(page, "home")
    j.open_offers(page, portal)
    check(page, "offer")
    misplaced += page.evaluate(UNDER_THE_RADIO)
    j.choose_offer(page)
    check(page, "number")
    j.give_number(page, j.TYPED["fr"])
    check(page, "method")
    misplaced += page.evaluate(UNDER_THE_RADIO)
    j.choose_method(page, "card")
    check(page, "summary")
    j.confirm(page)
    check(page, "sandbox card page")
    j.pay_by_card(page, j.APPROVE)
    j.wait_outcome(page, "succeeded")
    check(page, "result")
    j.ask_code(page, portal, j.TYPED["fr"])
    check(page, "code")
    j.give_code(page, portal.sms.code(j.MSISDN))
    page.wait_for_url(portal.url("/lines"))
    check(page, "my lines")
    make_reseller(portal.db, now=datetime.now(UTC))
    [(_, pin)] = sold_cards(portal.db, quantity=1, now=datetime.now(UTC))
    page.locator("a.use-card").click()
    check(page, "recharge card")
    j.type_pin(page, pin)
    j.redeem_card(page)
    j.wait_card_result(page)
    check(page, "recharge card: done")

    assert wide == {}, f"pages wider than the phone (they scroll sideways): {wide}"
    assert misplaced == [], f"offer texts wrapped under the radio button: {misplaced}"
