"""Brute-forcing the SMS code: five wrong codes lock it, the right one is refused after that, and a new code is
sent only once a minute has passed since the last one. The page counts the wrong codes the number has left."""

from __future__ import annotations

import re
from datetime import timedelta

from simkeep.locale.formats import phone as readable_phone
from tests.browser import journey as j
from tests.browser.conftest import MSISDN


def test_five_wrong_codes_lock_the_code(open_page, portal):
    lang = "en"
    portal.line(language=lang)
    money_before = portal.money()
    page = open_page(lang)
    j.ask_code(page, portal, j.TYPED[lang])
    assert page.locator("#tries-left").get_attribute("data-remaining") == "5"
    code = portal.sms.code(MSISDN)
    wrong = [f"{(int(code) + k) % 1_000_000:06d}" for k in range(1, 6)]
    wrong_text = j.normalize(j.t(lang, "This code is not right. Check the SMS and try again."))
    locked_text = j.normalize(j.t(lang, "Too many wrong codes. Ask for a new code."))

    for n, attempt in enumerate(wrong[:4], start=1):
        j.give_code(page, attempt)
        assert j.normalize(page.locator('[role="alert"]').inner_text()) == wrong_text
        assert page.locator("#code").count() == 1
        left = 5 - n
        assert j.normalize(page.locator("#tries-left").inner_text()) == f"{left} tr{'y' if left == 1 else 'ies'} left."
    j.give_code(page, wrong[4])
    assert j.normalize(page.locator('[role="alert"]').inner_text()) == locked_text
    assert page.locator("#code").count() == 0  # no form left to try again

    # A fresh code page (Back, or a reload) says so too, and the right code, sent all the same, is refused.
    page.goto(portal.url("/signin/code"))
    assert page.locator("#code").count() == 0
    assert j.normalize(page.locator('[role="alert"]').inner_text()) == locked_text
    page.goto(portal.url("/signin"))  # a form for the CSRF token
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    answer = page.request.post(portal.url("/signin/code"), form={"code": code, "csrf_token": token, "next": "/lines"})
    assert answer.status == 422 and locked_text in j.normalize(answer.text())
    page.goto(portal.url("/lines"))
    page.wait_for_url(portal.url("/signin?next=/lines"))  # the number is still not proven
    assert j.attempt_count(portal) == 0 and portal.money() == money_before

    # "Ask for a new code" within the minute: no new SMS, no new code, nothing spent.
    page.goto(portal.url("/signin/code"))
    page.locator('a[href^="/signin?next="]').first.click()
    page.wait_for_url(re.compile(r"/signin\?next="))
    page.locator("#msisdn").fill(j.TYPED[lang])
    page.locator('form[action="/signin"] button[type="submit"]').click()
    page.wait_for_load_state()
    told_to_wait = j.normalize(j.t(lang, "Please wait a minute before asking for another code.")) in j.normalize(
        page.inner_text("main"))
    still_refused = page.url
    portal.worker.wait_rounds(2)  # an SMS would have been delivered by now
    assert len(portal.sms.all("otp.code", MSISDN)) == 1
    assert portal.count("otp_challenges") == 1

    assert page.locator("#tries-left").count() == 0 and page.locator("#code").count() == 0  # still locked

    # A minute after the first code: a new code comes, and it works.
    portal.clock.advance(timedelta(seconds=61))
    j.sign_in(page, portal, typed=j.TYPED[lang], nth=2)
    assert portal.count("otp_challenges") == 2
    assert portal.money() == money_before

    assert told_to_wait, (f"asking for a new code 0 s after the lockout leads to {still_refused} without saying "
                          "to wait a minute (the code there is locked, so every code typed is refused)")


def test_an_unknown_number_gets_the_same_answer(open_page, portal):
    """Nothing tells whether a number is a customer: same page, same words; only the customer gets an SMS."""
    portal.line(language="en")
    stranger = "+33698765432"
    seen = {}
    for number in (MSISDN, stranger):
        page = open_page("en")
        j.ask_code(page, portal, number)
        seen[number] = (page.url.removeprefix(portal.base), j.normalize(page.inner_text("main")).replace(readable_phone(number), "N"))
    assert seen[MSISDN] == seen[stranger]
    portal.worker.wait_rounds(2)
    assert [m["to"] for m in portal.sms.all("otp.code")] == [MSISDN]
