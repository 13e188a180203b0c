"""A double-click, a resent form or two tabs confirming at once: one payment attempt, one credit."""

from __future__ import annotations

import re

from tests.browser import journey as j

# The summary's form sent twice at once, as two tabs or a flaky network would: the answers' final URLs.
SEND_CONFIRM_TWICE = """async () => {
  const form = document.querySelector('form[action="/recharge/confirm"]');
  const body = new URLSearchParams(new FormData(form)).toString();
  const send = () => fetch(form.action, {method: "POST", body, credentials: "same-origin",
      headers: {"Content-Type": "application/x-www-form-urlencoded"}})
    .then(r => ({status: r.status, url: r.url}));
  return await Promise.all([send(), send()]);
}"""


def test_double_click_and_resent_confirm_pay_once(open_page, portal):
    lang = "en"
    portal.line(language=lang)
    view_before = portal.view()
    page = open_page(lang)
    j.to_summary(page, portal, lang=lang, method="card")

    page.locator("#confirm").dblclick()
    page.wait_for_url(re.compile(r"/sandbox/pay/sbx_[0-9a-f]{24}$"))
    pay_url = page.url
    assert j.attempt_count(portal) == 1

    # The same confirmation sent again (a reload of the POST, twice at once): the same payment page.
    page.goto(portal.url("/recharge/summary"))
    answers = page.evaluate(SEND_CONFIRM_TWICE)
    assert answers == [{"status": 200, "url": pay_url}] * 2
    assert j.attempt_count(portal) == 1

    page.goto(pay_url)
    j.pay_by_card(page, j.APPROVE)
    j.wait_outcome(page, "succeeded")

    # Once paid, sending the confirmation again still finds the paid attempt and credits nothing more.
    page.goto(portal.url("/recharge/summary"))
    page.evaluate(SEND_CONFIRM_TWICE)
    portal.worker.wait_rounds(2)
    assert j.attempt_count(portal) == 1
    after = portal.view()
    assert after.balance.minor - view_before.balance.minor == 1000
    assert after.line.validity_ends_at == j.plus_days(view_before.line.validity_ends_at, 14)
    assert portal.count("topups") == 1 and portal.count("receipts") == 1
    assert len(portal.sms.all("topup.completed")) == 1


def test_two_confirms_at_once_start_one_payment(open_page, portal):
    """The very first confirmation, sent twice at once: both land on this payment (its pay page or its result)."""
    lang = "fr"
    portal.line(language=lang)
    page = open_page(lang)
    j.to_summary(page, portal, lang=lang, method="card")
    answers = page.evaluate(SEND_CONFIRM_TWICE)
    [attempt] = j.attempts(portal)
    assert attempt.next_action is not None
    same_payment = {portal.url(attempt.next_action["url"]), portal.url(f"/pay/{attempt.id}")}
    assert [a["status"] for a in answers] == [200, 200], answers
    assert {a["url"] for a in answers} <= same_payment, answers
