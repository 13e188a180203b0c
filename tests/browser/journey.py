"""The subscriber's steps through the portal, as a person does them, and the values the pages must show.

Elements are found by what does not change with the language (form actions, input names, ids), so one journey
serves zh_CN, fr and en; what the text must say is checked by the tests.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from playwright.sync_api import Page
from sqlalchemy import func, select

from simkeep.core.clock import add_days
from simkeep.core.money import Money
from simkeep.locale import formats
from simkeep.locale.languages import BASE_LOCALE, gettext
from simkeep.payment.models import PaymentAttempt
from tests.browser.conftest import MSISDN, Portal

__all__ = ["MSISDN"]

TZ = "Europe/Paris"
OFFER_10 = "fr-orange-mobicarte-10"  # 10,00 €, 14 days
APPROVE, DECLINE, CHALLENGE = "4242 4242 4242 4242", "4000 0000 0000 0002", "4000 0027 6000 3184"
# How people type their number: French national format, international with spaces, E.164.
TYPED = {"fr": "06 12 34 56 78", "zh_CN": "+33 6 12 34 56 78", "en": "+33612345678"}


# -- expected values ------------------------------------------------------------------------------------------------

def amount(minor: int, lang: str) -> str:
    return formats.money(Money(minor, "EUR"), BASE_LOCALE[lang])


def last_day(instant: datetime, lang: str) -> str:
    return formats.last_day(instant, TZ, BASE_LOCALE[lang])


def plus_days(instant: datetime, days: int) -> datetime:
    return add_days(instant, days, TZ)


def t(lang: str, message: str, **values) -> str:
    """A page string as the catalog renders it (English when the catalog has no translation yet)."""
    text = gettext(lang, message)
    return text % values if values else text


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# -- steps ----------------------------------------------------------------------------------------------------------

def open_offers(page: Page, portal: Portal) -> None:
    page.goto(portal.url("/recharge"))


def choose_offer(page: Page, offer_id: str = OFFER_10) -> None:
    page.locator(f'input[name="offer"][value="{offer_id}"]').check()
    page.locator('form[action="/recharge/offer"] button[type="submit"]').click()
    page.wait_for_url(re.compile(r"/recharge/(number|method)$"))


def give_number(page: Page, typed: str) -> None:
    """The number to renew: no code is asked, the next step is the payment method."""
    page.locator("#msisdn").fill(typed)
    page.locator('form[action="/recharge/number"] button[type="submit"]').click()
    page.wait_for_url(re.compile(r"/recharge/method"))


def ask_code(page: Page, portal: Portal, typed: str, next_path: str = "/lines") -> None:
    page.goto(portal.url(f"/signin?next={next_path}"))
    page.locator("#msisdn").fill(typed)
    page.locator('form[action="/signin"] button[type="submit"]').click()
    page.wait_for_url(re.compile(r"/signin/code"))


def give_code(page: Page, code: str) -> None:
    page.locator("#code").fill(code)
    page.locator('form[action="/signin/code"] button[type="submit"]').click()
    page.wait_for_load_state()


def sign_in(page: Page, portal: Portal, *, typed: str, msisdn: str = MSISDN, nth: int = 1,
            next_path: str = "/lines") -> None:
    """Check my number: the number, then the code from the SMS log; lands on `next_path`."""
    ask_code(page, portal, typed, next_path)
    give_code(page, portal.sms.code(msisdn, nth))
    page.wait_for_url(portal.url(next_path))


def choose_method(page: Page, method: str) -> None:
    page.locator(f'input[name="method"][value="{method}"]').check()
    page.locator('form[action="/recharge/method"] button[type="submit"]').click()
    page.wait_for_url(re.compile(r"/recharge/summary$"))


def to_summary(page: Page, portal: Portal, *, lang: str, method: str, offer_id: str = OFFER_10) -> None:
    """From the offers to the summary: the number (no code asked, unless this browser verified it), the method."""
    open_offers(page, portal)
    choose_offer(page, offer_id)
    if page.url.endswith("/recharge/number"):
        give_number(page, TYPED[lang])
    choose_method(page, method)


def confirm(page: Page) -> None:
    page.locator("#confirm").click()
    page.wait_for_url(re.compile(r"/sandbox/(pay|3ds)/sbx_"))


def pay_by_card(page: Page, card: str) -> None:
    page.locator("#card").fill(card)
    page.locator('form:has(input[name="action"][value="pay"]) button[type="submit"]').click()


def sandbox_action(page: Page, action: str) -> None:
    page.locator(f'form:has(input[name="action"][value="{action}"]) button[type="submit"]').click()


def wait_outcome(page: Page, status: str) -> None:
    """The result page shows `status` (it polls the server and updates by itself)."""
    page.wait_for_url(re.compile(r"/pay/[0-9a-f-]{36}$"))
    page.locator(f'#outcome[data-status="{status}"]').wait_for()


def open_card_form(page: Page) -> None:
    """From the wizard's offers step: "Use a recharge card"."""
    page.locator("#use-card").click()
    page.wait_for_url(re.compile(r"/renew/card$"))


def type_pin(page: Page, pin: str) -> None:
    """Typed key by key, as a person does (the field groups the digits by four as they come)."""
    page.locator("#pin").fill("")
    page.locator("#pin").press_sequentially(pin)


def redeem_card(page: Page, *, typed: str | None = None) -> None:
    """Send the card form (the number typed first when given); lands on the result or on the form again."""
    if typed is not None:
        page.locator("#msisdn").fill(typed)
    page.locator("#redeem").click()
    page.wait_for_load_state()


def wait_card_result(page: Page) -> None:
    page.wait_for_url(re.compile(r"/renew/card/[0-9a-f-]{36}$"))


# -- database -------------------------------------------------------------------------------------------------------

def attempts(portal: Portal) -> list[PaymentAttempt]:
    with portal.db.transaction(write=False) as session:
        return list(session.scalars(select(PaymentAttempt).order_by(PaymentAttempt.created_at)))


def attempt_count(portal: Portal) -> int:
    with portal.db.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(PaymentAttempt))


def attempt_of_page(page: Page, portal: Portal) -> PaymentAttempt:
    attempt_id = uuid.UUID(page.url.rsplit("/", 1)[1])
    with portal.db.transaction(write=False) as session:
        return session.get(PaymentAttempt, attempt_id)
