"""A pending SEPA bank transfer in a real browser: the details and the EPC QR code on the pay pages and under My
lines, the SMS that carries them, and a waiting page that asks less and less often, stops, and checks again on
request. Time in the page is Playwright's fake clock: every poll is driven, none is waited for."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from simkeep.core.money import Money
from simkeep.locale import formats
from simkeep.payment.models import METHODS
from simkeep.payment.providers.sepa import service as bank
from tests.browser import journey as j
from tests.browser.axe import violations
from tests.browser.conftest import MSISDN
from tests.browser.test_csp import WATCH
from tests.payment.sepa.statements import Credit, statement

IBAN, BIC = "DE89370400440532013000", "COBADEFFXXX"
T0 = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)  # the page's fake clock


@pytest.fixture
def portal_settings() -> dict:
    routes = {"*": {**dict.fromkeys(METHODS, "sandbox"), "bank_transfer": "sepa"}}
    return {"payment_routes": routes, "sepa_iban": IBAN, "sepa_bic": BIC, "sepa_creditor_name": "Opérateur Démo SAS"}


def grouped(text: str) -> str:
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


def start_transfer(page, portal, lang: str):
    j.to_summary(page, portal, lang=lang, method="bank_transfer")
    page.locator("#confirm").click()
    page.wait_for_url(re.compile(r"/pay/[0-9a-f-]{36}/action$"))
    [attempt] = j.attempts(portal)
    return attempt


def shows_the_details(page, reference: str, amount: str) -> None:
    details = page.locator(".transfer")
    assert details.count() == 1
    assert details.locator(".transfer-iban").inner_text() == grouped(IBAN)
    assert details.locator(".transfer-bic").inner_text() == BIC
    assert details.locator(".transfer-reference").inner_text() == grouped(reference)
    assert j.normalize(details.locator(".transfer-amount").inner_text()) == j.normalize(amount)
    qr = details.locator("svg.epc-qr")
    box = qr.bounding_box()
    assert box is not None and box["width"] >= 196 and box["height"] >= 196  # drawn, at its size
    assert violations(page) == []  # axe-core: nothing serious or critical


def test_a_pending_transfer_is_on_the_pages_in_the_sms_and_under_my_lines(open_page, portal):
    lang = "fr"
    portal.line(language=lang)
    page = open_page(lang)
    page.add_init_script(WATCH)
    j.sign_in(page, portal, typed=j.TYPED[lang], next_path="/recharge")
    attempt = start_transfer(page, portal, lang)
    amount = j.amount(1000, lang)
    shows_the_details(page, attempt.provider_ref, amount)
    page.locator(f'a[href="/pay/{attempt.id}"]').click()  # "I have made the transfer"
    page.wait_for_url(portal.url(f"/pay/{attempt.id}"))
    shows_the_details(page, attempt.provider_ref, amount)
    page.goto(portal.url("/lines"))
    assert page.locator(".pending-transfer").count() == 1
    shows_the_details(page, attempt.provider_ref, amount)
    assert page.evaluate("window.__violations") == []  # the inline SVG needs no style, no script

    # The SMS, in the line's language, with everything needed to pay from a banking app.
    [sms] = portal.sms.wait("transfer.pending", MSISDN)
    for shown in (grouped(IBAN), BIC, grouped(attempt.provider_ref), formats.money(Money(1000, "EUR"), "fr_FR"),
                  "Opérateur Démo SAS"):
        assert shown in sms["text"], sms["text"]

    # The money arrives (the bank statement is imported): the transfer leaves My lines and the page says so.
    with portal.db.transaction() as session:
        bank.import_statement(session, data=statement("S1", [Credit("B1", "10.00", rf=grouped(attempt.provider_ref))]),
                              now=datetime.now(UTC))
    portal.worker.wait_rounds(2)
    page.goto(portal.url("/lines"))
    assert page.locator(".pending-transfer").count() == 0
    page.goto(portal.url(f"/pay/{attempt.id}"))
    assert page.locator("#outcome").get_attribute("data-status") == "succeeded"
    assert portal.view().balance.minor == 1000


def test_the_waiting_page_asks_less_and_less_often_stops_and_checks_again(open_page, portal):
    portal.line(language="en")
    page = open_page("en")
    attempt = start_transfer(page, portal, "en")
    polls: list[str] = []
    page.on("request", lambda request: request.url.endswith("/status") and polls.append(request.url))
    page.clock.install(time=T0)
    page.clock.pause_at(T0 + timedelta(seconds=1))
    page.goto(portal.url(f"/pay/{attempt.id}"))
    outcome = page.locator("#outcome")
    first, cap, tries = (int(outcome.get_attribute(f"data-poll-{k}")) for k in ("first", "cap", "tries"))
    assert (first, cap, tries) == (10_000, 300_000, 12)  # a transfer takes days: no asking every second
    delays = [min(first * 2 ** k, cap) for k in range(tries)]
    assert delays[:6] == [10_000, 20_000, 40_000, 80_000, 160_000, 300_000] and sum(delays) == 2_410_000

    def next_poll(delay: int, n: int) -> None:
        page.clock.run_for(delay - 1)
        assert len(polls) == n - 1, f"poll {n} came before its {delay} ms"
        page.clock.run_for(1)
        page.locator(f'#outcome[data-polls="{n}"]').wait_for()
        assert len(polls) == n

    for n, delay in enumerate(delays, start=1):
        next_poll(delay, n)
    assert page.locator("#check-again").is_visible()
    page.clock.run_for(7 * 24 * 3600 * 1000)  # a week later: it stopped
    assert len(polls) == tries and outcome.get_attribute("data-status") == "pending"

    # "Check again": one question at once, then the schedule from its start.
    page.locator("#check-again a").click()
    page.locator(f'#outcome[data-polls="{tries + 1}"]').wait_for()
    assert len(polls) == tries + 1 and page.url == portal.url(f"/pay/{attempt.id}")  # no reload
    assert page.locator("#check-again").is_hidden()
    next_poll(first, tries + 2)

    # The transfer arrives: the next question finds it, the page says so, and nothing is asked after that.
    with portal.db.transaction() as session:
        bank.import_statement(session, data=statement("S1", [Credit("B1", "10.00", rf=grouped(attempt.provider_ref))]),
                              now=datetime.now(UTC))
    portal.worker.wait_rounds(2)
    next_poll(first * 2, tries + 3)
    assert outcome.get_attribute("data-status") == "succeeded"
    assert j.normalize(outcome.locator("h2").inner_text()) == j.normalize(j.t("en", "Done! Your line is recharged."))
    page.clock.run_for(7 * 24 * 3600 * 1000)
    assert len(polls) == tries + 3 and page.locator("#check-again").is_hidden()
