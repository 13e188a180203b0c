"""Every way a payment can end at the sandbox provider: declined, cancelled, 3-D Secure passed or failed, QR wallets,
PayPal, and a bank transfer that stays pending until the money arrives. Only a success moves money, once."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from stdnum import iso11649

from tests.browser import journey as j
from tests.browser.conftest import MSISDN

FAILURE_TEXT = {"card_declined": "Your bank declined the card.", "canceled": "The payment was cancelled.",
                "authentication_failed": "The card authentication failed."}


def assert_failed_and_nothing_moved(page, portal, lang, reason, money_before, view_before) -> None:
    j.wait_outcome(page, "failed")
    box = page.locator("#outcome .result.failed")
    assert j.normalize(box.locator("h2").inner_text()) == j.normalize(j.t(lang, "The payment did not go through."))
    text = j.normalize(box.inner_text())
    assert j.normalize(j.t(lang, "Nothing was charged and your line is unchanged.")) in text, text
    assert j.normalize(j.t(lang, FAILURE_TEXT[reason])) in text, text
    [attempt] = j.attempts(portal)
    assert (attempt.status, attempt.failure_reason, attempt.topup_id) == ("failed", reason, None)
    portal.worker.wait_rounds(2)  # anything still due has been applied by now
    assert portal.money() == money_before
    after = portal.view()
    assert (after.credit, after.bonus) == (view_before.credit, view_before.bonus)
    assert (after.line.validity_ends_at, after.line.state) == (view_before.line.validity_ends_at, view_before.line.state)
    assert portal.sms.all("topup.completed") == []


def assert_credited_once(portal, view_before) -> None:
    after = portal.view()
    assert after.balance.minor - view_before.balance.minor == 1000
    assert after.line.validity_ends_at == j.plus_days(view_before.line.validity_ends_at, 14)
    assert portal.count("topups") == 1 and portal.count("receipts") == 1
    [attempt] = [a for a in j.attempts(portal) if a.status == "succeeded"]
    assert attempt.topup_id is not None and attempt.receipt_id is not None
    portal.sms.wait("topup.completed", MSISDN)


@pytest.mark.parametrize(("lang", "reason"), [("fr", "card_declined"), ("en", "canceled")])
def test_declined_or_cancelled_card_payment_changes_nothing(open_page, portal, lang, reason):
    portal.line(language=lang)
    money_before, view_before = portal.money(), portal.view()
    page = open_page(lang)
    j.to_summary(page, portal, lang=lang, method="card")
    j.confirm(page)
    if reason == "card_declined":
        j.pay_by_card(page, j.DECLINE)
    else:
        j.sandbox_action(page, "cancel")  # the payer gives up on the provider's page
    assert_failed_and_nothing_moved(page, portal, lang, reason, money_before, view_before)


def test_try_again_after_a_declined_card_pays_with_another_card(open_page, portal):
    """The failure page offers "Try again": it must lead to a new payment, not back to the declined one."""
    portal.line(language="en")
    view_before = portal.view()
    page = open_page("en")
    j.to_summary(page, portal, lang="en", method="card")
    j.confirm(page)
    declined_page = page.url
    j.pay_by_card(page, j.DECLINE)
    j.wait_outcome(page, "failed")

    page.locator('#outcome a[href="/recharge/method"]').click()
    page.wait_for_url(portal.url("/recharge/method"))
    j.choose_method(page, "card")
    j.confirm(page)
    assert page.url != declined_page and page.locator("#card").count() == 1, (
        f"'Try again' leads back to the declined payment {page.url}: {j.normalize(page.inner_text('main'))}")
    j.pay_by_card(page, j.APPROVE)
    j.wait_outcome(page, "succeeded")
    assert [a.status for a in j.attempts(portal)] == ["failed", "succeeded"]
    assert_credited_once(portal, view_before)


@pytest.mark.parametrize(("lang", "action"), [("zh_CN", "authenticate"), ("fr", "fail_authentication")])
def test_3d_secure_challenge(open_page, portal, lang, action):
    portal.line(language=lang)
    money_before, view_before = portal.money(), portal.view()
    page = open_page(lang)
    j.to_summary(page, portal, lang=lang, method="card")
    j.confirm(page)
    j.pay_by_card(page, j.CHALLENGE)
    page.wait_for_url(re.compile(r"/sandbox/3ds/sbx_[0-9a-f]{24}$"))
    assert j.normalize(j.amount(1000, lang)) in j.normalize(page.inner_text("main"))
    assert page.locator('form:has(input[name="action"][value="authenticate"]) button').is_visible()
    portal.worker.wait_rounds(2)
    assert portal.money() == money_before  # the bank has not answered yet: nothing moved
    assert [a.status for a in j.attempts(portal)] == ["pending"]

    j.sandbox_action(page, action)
    if action == "authenticate":
        j.wait_outcome(page, "succeeded")
        assert_credited_once(portal, view_before)
    else:
        assert_failed_and_nothing_moved(page, portal, lang, "authentication_failed", money_before, view_before)


@pytest.mark.parametrize(("lang", "method", "action"),
                         [("en", "wechat_pay", "scan"), ("zh_CN", "alipay", "scan"), ("fr", "paypal", "approve")])
def test_wallet_payment(open_page, portal, lang, method, action):
    portal.line(language=lang)
    money_before, view_before = portal.money(), portal.view()
    page = open_page(lang)
    j.to_summary(page, portal, lang=lang, method=method)
    j.confirm(page)
    if action == "scan":  # WeChat Pay and Alipay: a QR code to scan with the phone's app
        qr = page.locator('.qr[role="img"] svg')
        qr.wait_for()
        box = qr.bounding_box()
        assert box["width"] >= 150 and box["height"] >= 150, box  # big enough to scan from another phone
        assert qr.locator("path").count() >= 1
        assert page.locator(".qr").get_attribute("aria-label")
    else:
        assert page.locator(".qr").count() == 0
    assert portal.money() == money_before
    j.sandbox_action(page, action)
    j.wait_outcome(page, "succeeded")
    assert_credited_once(portal, view_before)
    [attempt] = j.attempts(portal)
    assert attempt.method == method


def test_bank_transfer_stays_pending_until_the_money_arrives(open_page, portal):
    lang = "fr"
    portal.line(language=lang)
    money_before, view_before = portal.money(), portal.view()
    page = open_page(lang)
    j.to_summary(page, portal, lang=lang, method="bank_transfer")
    j.confirm(page)
    reference = page.locator(".reference").inner_text().strip()
    assert re.fullmatch(r"RF\d\d( [0-9A-Z]{1,4})+", reference), reference
    assert iso11649.is_valid(reference), reference
    assert j.normalize(j.amount(1000, lang)) in j.normalize(page.inner_text("main"))

    polls: list[str] = []
    page.on("request", lambda r: r.url.endswith("/status") and polls.append(r.url))
    page.clock.install()  # the page's timers run when the test says (a transfer's page asks every 10 s, 20 s, …)
    page.clock.pause_at(datetime.now(UTC) + timedelta(seconds=1))
    page.locator('a.button.primary[href^="/pay/"]').click()  # "I have made the transfer"
    j.wait_outcome(page, "pending")
    box = page.locator("#outcome .result.pending")
    assert j.normalize(box.locator("h2").inner_text()) == j.normalize(j.t(lang, "Waiting for your bank transfer"))

    # Half a minute later: the page has asked twice, the worker has run many times, still nothing credited.
    for n, delay in enumerate((10_000, 20_000), start=1):
        page.clock.run_for(delay)
        page.locator(f'#outcome[data-polls="{n}"]').wait_for()
    portal.worker.wait_rounds(3)
    assert len(polls) == 2
    assert page.locator("#outcome").get_attribute("data-status") == "pending"
    assert [a.status for a in j.attempts(portal)] == ["pending"]
    assert portal.count("webhook_inbox") == 0
    assert portal.money() == money_before and portal.view().balance == view_before.balance

    # The bank confirms the transfer: now, and only now, the line is credited, once.
    box.locator('a[href^="/sandbox/pay/"]').click()  # "See the transfer details"
    assert page.locator(".reference").inner_text().strip() == reference
    j.sandbox_action(page, "funds_received")
    page.wait_for_url(re.compile(r"/pay/[0-9a-f-]{36}$"))
    portal.worker.wait_rounds(5)  # the sandbox's webhook is delivered and applied
    page.clock.run_for(40_000)  # the page's next question (the third, after 40 s) finds the credit
    j.wait_outcome(page, "succeeded")
    assert_credited_once(portal, view_before)
