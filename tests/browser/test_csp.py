"""The Content-Security-Policy in a real browser: the pages load and their JavaScript works with no violation.

Chromium reports each violation twice: a `securitypolicyviolation` event in the page (collected by an init script,
which DevTools injects, so the policy does not apply to it) and a console error ("Refused to ..."). Both are
collected for every page a test opens; any of them fails the test."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import httpx
import pytest
from playwright.sync_api import Page

from tests.browser import journey as j
from tests.browser.conftest import Portal
from tests.web.test_hardening import CSP

WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


class Watched:
    def __init__(self) -> None:
        self.console: list[str] = []
        self.pages: list[Page] = []

    def violations(self) -> list[str]:
        found = [m for m in self.console if "Content Security Policy" in m or "Refused to" in m]
        for page in self.pages:
            if not page.is_closed():
                found += page.evaluate("window.__violations || []")
        return found


@pytest.fixture
def watched_page(open_page) -> Iterator[Callable[..., Page]]:
    watched = Watched()

    def _open(lang: str = "en") -> Page:
        page = open_page(lang)
        page.add_init_script(WATCH)
        page.on("console", lambda msg: msg.type in ("error", "warning") and watched.console.append(msg.text))
        watched.pages.append(page)
        return page

    yield _open
    assert watched.violations() == []


def assert_no_violation(page: Page) -> None:
    assert page.evaluate("window.__violations") == []


def test_the_policy_is_the_one_served(portal: Portal):
    response = httpx.get(portal.url("/"))
    assert response.headers["content-security-policy"] == CSP


def test_public_pages_load_without_a_violation_and_the_operator_menu_still_submits(watched_page, portal):
    page = watched_page("fr")
    for path in ("/", "/stores", "/recharge", "/signin", "/no-such-page", "/receipts/not-a-token"):
        page.goto(portal.url(path))
        # app.css on every page (/stores adds Leaflet's own, vendored under /static too).
        assert page.locator('link[rel=stylesheet][href="/static/app.css"]').count() == 1
        assert all(h.startswith("/static/") for h in page.locator("link[rel=stylesheet]").evaluate_all(
            "links => links.map(l => l.getAttribute('href'))"))
        # app.css applied (a style sheet from 'self'): the header is laid out by it, not the browser's defaults.
        assert page.locator("header.top").evaluate("e => getComputedStyle(e).display") == "flex", path
        assert_no_violation(page)
    # The operator menu submits itself on change (app.js, no inline onchange any more).
    page.goto(portal.url("/"))
    page.locator("#operator").select_option("fr-sfr-la-carte")
    page.wait_for_url(re.compile(r"/\?operator=fr-sfr-la-carte$"))
    assert page.locator("#operator").input_value() == "fr-sfr-la-carte"
    page.goto(portal.url("/recharge"))
    page.locator("#operator").select_option("fr-sfr-la-carte")
    page.wait_for_url(re.compile(r"/recharge\?operator=fr-sfr-la-carte$"))
    assert page.locator('input[name="offer"][value^="fr-sfr-la-carte-"]').count() >= 1
    assert_no_violation(page)


def test_the_language_switch_works_under_the_policy(watched_page, portal):
    page = watched_page("en")
    page.goto(portal.url("/recharge"))
    page.locator('nav.langs a[hreflang="zh-CN"]').click()
    page.wait_for_url(re.compile(r"\?lang=zh-CN$"))
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.goto(portal.url("/stores"))  # the choice sticks (cookie)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert_no_violation(page)


def test_a_renewal_with_the_double_submit_guard_and_the_result_poll_runs_without_a_violation(watched_page, portal):
    lang = "zh_CN"
    portal.line(language=lang)
    page = watched_page(lang)
    j.sign_in(page, portal, typed=j.TYPED[lang], next_path="/recharge")  # the holder: the result links the receipt
    j.to_summary(page, portal, lang=lang, method="card")
    assert_no_violation(page)
    with portal.worker.paused():  # the result page must poll for the outcome (app.js), not find it at once
        page.locator("#confirm").dblclick()  # the guard in app.js: one submission
        page.wait_for_url(re.compile(r"/sandbox/pay/sbx_[0-9a-f]{24}$"))
        assert page.locator("#confirm").count() == 0
        assert j.attempt_count(portal) == 1
        assert_no_violation(page)
        j.pay_by_card(page, j.APPROVE)
        page.wait_for_url(re.compile(r"/pay/[0-9a-f-]{36}$"))
        assert page.locator("#outcome").get_attribute("data-status") != "succeeded"
    j.wait_outcome(page, "succeeded")
    assert page.locator('#outcome a[href$=".pdf"]').count() == 1
    assert j.attempt_count(portal) == 1 and portal.count("topups") == 1
    receipt = page.locator('#outcome a[href$=".pdf"]').get_attribute("href").removesuffix(".pdf")
    page.goto(portal.url(receipt))
    assert page.locator("main").count() == 1
    assert_no_violation(page)
    page.goto(portal.url("/lines"))
    assert_no_violation(page)


def test_an_inline_script_would_be_blocked_and_seen(open_page, portal):
    """The control: the watch does see a violation when one happens."""
    page = open_page("en")
    page.add_init_script(WATCH)
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text))
    page.goto(portal.url("/"))
    page.evaluate("""() => { const s = document.createElement("script"); s.textContent = "window.ran = 1";
                             document.body.appendChild(s); }""")
    page.wait_for_function("window.__violations.length > 0")
    assert page.evaluate("window.ran") is None
    assert page.evaluate("window.__violations")[0].startswith("script-src")
    assert any("Content Security Policy" in m for m in console)


def test_a_cards_qr_link_fills_the_pin_under_the_policy(watched_page, portal):
    """card.js is a file from 'self': it runs (the PIN from the fragment is in the field), nothing is refused."""
    page = watched_page("zh_CN")
    page.goto(portal.url("/renew/card#pin=123456789012345"))
    assert page.locator("#pin").input_value() == "1234 5678 9012 345"
    assert page.evaluate("location.hash") == ""
    assert_no_violation(page)
