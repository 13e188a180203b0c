"""axe-core in a page: the accessibility violations a browser test fails on.

axe-core comes from a pinned test dependency (`axe-playwright-python` bundles `axe.min.js`), so nothing is
downloaded at test time. The pages forbid inline scripts (Content-Security-Policy, web/headers.py); axe is run
with `page.evaluate`, which Playwright sends through the DevTools protocol, so the page's policy does not apply
to it and no policy has to be loosened for the test."""

from __future__ import annotations

from importlib import resources

from playwright.sync_api import Page

AXE = resources.files("axe_playwright_python").joinpath("axe.min.js").read_text("utf-8")
FAILING = ("serious", "critical")


def violations(page: Page) -> list[str]:
    """The serious and critical violations on the page in view, one line each (rule, impact, where)."""
    page.wait_for_load_state()
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE)
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:4]}"
            for v in result["violations"] if v["impact"] in FAILING]
