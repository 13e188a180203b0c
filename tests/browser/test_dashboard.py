"""The dashboard in a real browser: ECharts (vendored) draws every chart under the CSP with no console error, the
tables open, the CSV downloads, and the page fits a phone's width."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.browser.test_csp import WATCH
from tests.factories.dashboard import make_month
from tests.factories.staff import make_staff, sign_in_page

PLOTS = 8  # renewals by channel and by method, sales, at risk, losses, conversion, payments, review age


def watch(page: Page) -> list[str]:
    console: list[str] = []
    page.add_init_script(WATCH)
    page.on("console", lambda msg: msg.type in ("error", "warning") and console.append(msg.text))
    return console


def test_the_charts_render_under_the_csp_on_a_phone(open_page, portal):
    make_month(portal.db, now=portal.clock())
    fin = make_staff(portal.db, portal.settings, username="fin", role="finance")
    page = open_page("fr")
    console = watch(page)
    sign_in_page(page, portal.base, portal.db, fin)
    page.goto(portal.url("/admin/dashboard?operator=fr-orange-mobicarte&days=30"))
    page.locator(".chart-card .plot canvas").nth(PLOTS - 1).wait_for()
    assert page.locator(".chart-card .plot canvas").count() == PLOTS
    # Every canvas has been painted at the box's size (not a 0×0 placeholder).
    sizes = page.locator(".chart-card .plot canvas").evaluate_all("cs => cs.map(c => [c.width, c.height])")
    assert all(w > 200 and h > 200 for w, h in sizes), sizes
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    table = page.locator('table[data-table="renewals"]')
    assert not table.is_visible()
    page.locator("#chart-renewals summary").click()
    assert table.is_visible() and table.locator("tbody tr").count() >= 1
    with page.expect_download() as download:
        page.locator('#chart-renewals a[href^="/admin/dashboard/renewals.csv"]').click()
    assert download.value.suggested_filename.startswith("renewals_fr-orange-mobicarte_")
    assert page.evaluate("window.__violations") == []
    assert console == []
