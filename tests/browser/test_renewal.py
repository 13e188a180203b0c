"""The full renewal a subscriber makes, in each language: sign in with the SMS code -> home -> offer -> number ->
card -> summary -> confirm -> sandbox card page -> result page that updates by itself -> credit, SMS, PDF receipt,
verification page. Then the same renewal by someone who did not sign in (no date, no balance anywhere), and a
stranger who spends the holder's code budget while the holder still renews."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from simkeep.core.money import Money
from simkeep.locale import formats, languages
from simkeep.otp.models import OtpFailure
from simkeep.portal.signin import moment
from simkeep.receipt.models import Receipt
from tests.browser import journey as j
from tests.browser.conftest import MSISDN
from tests.browser.language import CJK, check_page, leftovers
from tests.factories.lines import top_up

# The entry the issue names in each language ("Recharge / 充值 / Recharger").
RECHARGE = {"zh_CN": "充值", "fr": "Recharger", "en": "Recharge"}
HTML_LANG = {"zh_CN": "zh-CN", "fr": "fr", "en": "en"}
MASKED = "+336******78"
SHOWN = "+33 6 12 34 56 78"  # how pages write the number
FULL_NUMBER_FORMS = ("+33612345678", "+33 6 12 34 56 78", "06 12 34 56 78", "0612345678", "612345678")


@pytest.mark.parametrize("lang", ["zh_CN", "fr", "en"])
def test_full_renewal(open_page, portal, lang):
    line = portal.line(language=lang)
    credit_before, validity_before = portal.view().balance.minor, line.validity_ends_at
    money_before = portal.money()
    new_end = j.plus_days(validity_before, 14)
    ten_euros, new_end_text = j.amount(1000, lang), j.last_day(new_end, lang)
    euros_n, end_n = j.normalize(ten_euros), j.normalize(new_end_text)  # as found in whitespace-normalized text
    untranslated: dict[str, list[str]] = {}  # asserted at the end, so one run reports every page

    page = open_page(lang)
    # 0. Check my number: the code the SMS brought, in the line's language, so the pages show the line's dates.
    j.ask_code(page, portal, j.TYPED[lang], next_path="/")
    assert SHOWN in j.normalize(page.locator("main").inner_text())
    check_page(page, "code", lang, untranslated)
    [otp_sms] = portal.sms.wait("otp.code", MSISDN)
    assert otp_sms["language"] == lang and otp_sms["payload"]["code"] in otp_sms["text"]
    if lang == "zh_CN":
        assert CJK.search(otp_sms["text"]), otp_sms["text"]
    j.give_code(page, otp_sms["payload"]["code"])
    page.wait_for_url(portal.url("/"))

    assert page.locator("html").get_attribute("lang") == HTML_LANG[lang]
    assert page.locator('.langs a[aria-current="true"]').get_attribute("href") == f"?lang={HTML_LANG[lang]}"
    check_page(page, "home", lang, untranslated)
    recharge = page.locator('.hero a[href="/recharge"]')
    if j.normalize(recharge.inner_text()) != RECHARGE[lang]:
        untranslated["home: the Recharge button"] = [recharge.inner_text()]
    recharge.click()
    page.wait_for_url(portal.url("/recharge"))

    # 1. Offer: 10 € buys 14 days.
    offer = page.locator(f"#offer-{j.OFFER_10}")
    assert offer.locator(".price").inner_text() == ten_euros
    assert "14" in offer.locator(".days").inner_text()
    check_page(page, "offer", lang, untranslated)
    j.choose_offer(page)
    assert page.url == portal.url("/recharge/number")
    check_page(page, "number", lang, untranslated)

    # 2-3. Number, then the payment method (no code on the way).
    j.give_number(page, j.TYPED[lang])
    check_page(page, "method", lang, untranslated)

    # 4. Card, then the summary with the new end date computed for this line.
    j.choose_method(page, "card")
    summary = j.normalize(page.locator("dl.facts").inner_text())
    assert SHOWN in summary and euros_n in summary and end_n in summary, summary
    assert ten_euros in page.locator("#confirm").inner_text()
    if lang == "fr":
        assert ten_euros == "10,00\u00a0€" and re.fullmatch(r"(1er|\d{1,2}) [a-zéû]+ \d{4}", new_end_text), new_end_text
    check_page(page, "summary", lang, untranslated)

    # 6. Confirm -> the sandbox's card page.
    j.confirm(page)
    assert re.search(r"/sandbox/pay/sbx_[0-9a-f]{24}$", page.url)
    assert ten_euros in page.locator("h1").inner_text()
    check_page(page, "sandbox card page", lang, untranslated)

    # 7. Pay; the result page first waits (the worker is held), then turns to success by itself.
    with portal.worker.paused():
        j.pay_by_card(page, j.APPROVE)
        j.wait_outcome(page, "pending")
        check_page(page, "result (waiting)", lang, untranslated)
        page.evaluate("window.__sameDocument = true")
    page.locator('#outcome[data-status="succeeded"]').wait_for()
    assert page.evaluate("window.__sameDocument === true"), "the result page reloaded instead of updating itself"
    outcome = page.locator("#outcome .result.ok")
    assert j.normalize(outcome.locator("h2").inner_text()) == j.normalize(j.t(lang, "Done! Your line is recharged."))
    outcome_text = j.normalize(outcome.inner_text())
    assert euros_n in outcome_text and SHOWN in outcome_text and end_n in outcome_text, outcome_text
    check_page(page, "result (success)", lang, untranslated)

    # Exactly one credit of 10 €, 14 more days, one top-up, one receipt, one payment attempt.
    after = portal.view()
    assert after.balance.minor - credit_before == 1000
    assert after.credit.minor == 1000 and after.bonus.minor == 0
    assert after.line.validity_ends_at == new_end
    money_after = portal.money()["counts"]
    assert money_after["topups"] == money_before["counts"]["topups"] + 1
    assert money_after["receipts"] == money_before["counts"]["receipts"] + 1
    [attempt] = j.attempts(portal)
    assert (attempt.status, attempt.amount_minor, attempt.method, attempt.language) == ("succeeded", 1000, "card",
                                                                                         lang)
    with portal.db.transaction(write=False) as session:
        receipt = session.scalars(select(Receipt)).one()
    assert receipt.number == f"FR-ORANGE-MOBICARTE-{receipt.issued_at.year}-000001"
    assert (receipt.amount_minor, receipt.validity_ends_at, receipt.msisdn) == (1000, new_end, MSISDN)

    # The confirmation SMS, in the line's language, with the receipt link.
    [done_sms] = portal.sms.wait("topup.completed", MSISDN)
    receipt_url = done_sms["payload"]["receipt_url"]
    assert done_sms["language"] == lang
    assert receipt_url.startswith(portal.url("/receipts/")) and receipt_url in done_sms["text"]
    sms_locale = languages.for_number(lang, MSISDN).locale  # a French number: each language's own formats
    assert formats.money(Money(1000, "EUR"), sms_locale) in done_sms["text"]
    assert formats.last_day(new_end, j.TZ, sms_locale) in done_sms["text"], done_sms["text"]
    if lang == "zh_CN":
        assert CJK.search(done_sms["text"]), done_sms["text"]

    # The PDF, through the result page's link: same receipt as the SMS link.
    pdf_href = outcome.locator('a[href$=".pdf"]').get_attribute("href")
    assert pdf_href == urlsplit(receipt_url).path + ".pdf"
    response = page.request.get(portal.url(pdf_href))
    assert response.ok and response.headers["content-type"] == "application/pdf"
    body = response.body()
    assert body.startswith(b"%PDF")
    pdf_text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)
    flat = re.sub(r"\s+", "", pdf_text)
    assert receipt.number in flat
    assert re.sub(r"\s+", "", ten_euros) in flat and re.sub(r"\s+", "", new_end_text) in flat, pdf_text
    assert receipt_url in flat, pdf_text  # the link the QR code carries, printed under it
    assert MASKED in pdf_text and MSISDN not in flat and "0612345678" not in flat
    # The printed link wraps across lines, and a piece of its random token ("tJA") is no untranslated word.
    token = receipt_url.rsplit("/", 1)[1]
    found = leftovers(" ".join(w for w in pdf_text.split() if w not in token), lang)
    if found or (lang == "zh_CN" and not CJK.search(pdf_text)):
        untranslated["receipt PDF"] = found or ["(no Chinese text at all)"]

    # The verification page the QR code opens: genuine, masked number only.
    page.goto(receipt_url)
    verdict = page.locator(".result.ok")
    assert j.normalize(verdict.locator("h2").inner_text()) == j.normalize(j.t(lang, "This receipt is genuine."))
    shown = page.inner_text("body")
    assert MASKED in shown and receipt.number in shown and ten_euros in shown
    assert not any(form in shown for form in FULL_NUMBER_FORMS), shown
    assert not any(form in page.content() for form in FULL_NUMBER_FORMS[:1])
    check_page(page, "receipt check", lang, untranslated)

    # The status page: the new balance and validity, and the receipt.
    page.goto(portal.url("/lines"))
    card = page.locator("article.line")
    facts = j.normalize(card.locator("dl.facts").inner_text())
    assert euros_n in facts and end_n in facts, facts
    assert card.locator(f'a[href="{pdf_href}"]').count() == 1
    check_page(page, "my lines", lang, untranslated)

    assert untranslated == {}, f"strings not translated into {lang}: {untranslated}"


# -- renewing without signing in ------------------------------------------------------------------------------------

# A date or a balance as any of the three languages writes it: a year, a month, "valid until".
DATEISH = re.compile(r"\b20\d\d\b|\d年|\d月|janv|févr|mars|avr\.|avril|juin|juil|août|sept|déc|January|February|"
                     r"March|April|June|July|August|September|October|November|December|valid until|"
                     r"valable jusqu|有效期至")
BALANCE_EUROS = 20  # the line's balance before the renewal: no offer costs 20 €, so it can only come from the line


def readable_pages(page, name: str, lang: str, seen: dict, untranslated: dict) -> None:
    seen[name] = j.normalize(page.inner_text("main"))
    check_page(page, name, lang, untranslated)


@pytest.mark.parametrize("lang", ["zh_CN", "fr", "en"])
def test_renewal_without_signing_in_shows_no_date_or_balance(open_page, portal, lang):
    line = portal.line(language=lang)
    top_up(portal.db, offer_id="fr-orange-mobicarte-15", now=datetime.now(UTC))
    top_up(portal.db, offer_id="fr-orange-mobicarte-5", now=datetime.now(UTC))
    before = portal.view()
    assert before.balance.minor == BALANCE_EUROS * 100
    forbidden = {j.normalize(j.last_day(before.line.validity_ends_at, lang)),
                 j.normalize(j.last_day(j.plus_days(before.line.validity_ends_at, 14), lang)),
                 j.normalize(j.last_day(line.number_loss_at, lang)), j.normalize(j.amount(BALANCE_EUROS * 100, lang))}
    seen: dict[str, str] = {}
    untranslated: dict[str, list[str]] = {}

    page = open_page(lang)
    page.goto(portal.url("/"))
    page.locator('.hero a[href="/recharge"]').click()
    readable_pages(page, "offer", lang, seen, untranslated)
    j.choose_offer(page)
    assert page.url == portal.url("/recharge/number")
    readable_pages(page, "number", lang, seen, untranslated)
    j.give_number(page, j.TYPED[lang])
    readable_pages(page, "method", lang, seen, untranslated)
    j.choose_method(page, "card")
    readable_pages(page, "summary", lang, seen, untranslated)
    assert SHOWN in seen["summary"] and j.normalize(j.amount(1000, lang)) in seen["summary"]
    j.confirm(page)
    j.pay_by_card(page, j.APPROVE)
    j.wait_outcome(page, "succeeded")
    readable_pages(page, "result", lang, seen, untranslated)
    extended = j.normalize(languages.translations(lang).ngettext(
        "Validity extended by %(num)d day.", "Validity extended by %(num)d days.", 14) % {"num": 14})
    assert extended in seen["result"], seen["result"]
    assert page.locator('#outcome a[href$=".pdf"]').count() == 0  # the receipt goes to the line by SMS
    for name, text in seen.items():
        assert not DATEISH.search(text), f"{name}: {DATEISH.search(text).group(0)!r} in {text}"
        assert not [f for f in forbidden if f in text], f"{name}: {text}"
    # The renewal happened, once, and the line got its confirmation with the receipt link.
    after = portal.view()
    assert after.balance.minor - before.balance.minor == 1000
    assert after.line.validity_ends_at == j.plus_days(before.line.validity_ends_at, 14)
    done_sms = portal.sms.wait("topup.completed", MSISDN, 3)[-1]  # after the two of the earlier top-ups
    assert done_sms["payload"]["receipt_url"].startswith(portal.url("/receipts/"))
    # What needs the code: the line's data.
    page.goto(portal.url("/lines"))
    page.wait_for_url(re.compile(r"/signin\?next=/lines$"))
    assert untranslated == {}, f"strings not translated into {lang}: {untranslated}"


def test_a_stranger_spends_the_holders_code_budget_while_the_holder_still_renews(open_page, portal):
    portal.line(language="en")
    money_before = portal.view()
    stranger = open_page("en")
    j.ask_code(stranger, portal, MSISDN)
    guesses = 0
    while guesses < 10:
        if stranger.locator("#code").count() == 0:  # this code is locked: a new one, a minute later
            portal.clock.advance(timedelta(seconds=61))
            j.ask_code(stranger, portal, MSISDN)
        stranger.locator("#code").fill("000000" if guesses % 2 else "999999")
        stranger.locator('form[action="/signin/code"] button[type="submit"]').click()
        stranger.wait_for_load_state()
        guesses += 1
    codes_sent = len(portal.sms.all("otp.code", MSISDN))
    assert codes_sent in (2, 3)  # a guess may have been right by chance only with odds of 1 in 100,000
    with portal.db.transaction(write=False) as session:
        first_failure = session.scalar(select(func.min(OtpFailure.at)))
    resets = moment(first_failure + timedelta(hours=24), "en", "Europe/Paris")

    # The holder tries to sign in: no code is sent, the page says when and what else there is.
    holder = open_page("en")
    holder.goto(portal.url("/"))  # app.js keeps the browser's zone for the server
    j.ask_code(holder, portal, j.TYPED["en"])
    main = j.normalize(holder.locator("main").inner_text())
    assert j.normalize(j.t("en", "Too many wrong codes were typed for this number. Signing in with a code is "
                                 "paused.")) in main
    assert holder.locator("#resets-at").inner_text() == resets
    assert resets.endswith("(France Time)")
    assert holder.locator("#code").count() == 0
    portal.worker.wait_rounds(2)
    assert len(portal.sms.all("otp.code", MSISDN)) == codes_sent

    # ... and renews all the same, from the link the page gives.
    holder.locator('#budget-spent a[href="/recharge"]').click()
    holder.wait_for_url(portal.url("/recharge"))
    j.choose_offer(holder)
    j.give_number(holder, j.TYPED["en"])
    j.choose_method(holder, "card")
    j.confirm(holder)
    j.pay_by_card(holder, j.APPROVE)
    j.wait_outcome(holder, "succeeded")
    after = portal.view()
    assert after.balance.minor - money_before.balance.minor == 1000
    assert portal.count("topups") == 1
