"""/docs works offline: Swagger UI from simkeep's own vendored files, under the Content-Security-Policy."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from tests.browser.test_csp import watched_page  # noqa: F401  (the fixture)


def test_docs_list_every_operation_with_no_request_leaving_the_machine(watched_page, portal):  # noqa: F811
    page = watched_page("en")
    outside: list[str] = []

    def only_local(route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:  # as if offline: nothing but simkeep answers
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(portal.url("/docs"))
    page.locator(".opblock").first.wait_for()
    operations = sorted(page.locator(".opblock-summary-path").all_inner_texts())
    assert [op.replace("\u200b", "") for op in operations] == sorted([
        "/api/v1/operators", "/api/v1/lines", "/api/v1/lines/{msisdn}", "/api/v1/lines/{msisdn}/history",
        "/api/v1/topups", "/api/v1/topups/{topup_id}", "/api/v1/charges", "/webhooks/{provider}", "/healthz",
        "/api/v1/vouchers/redeem", "/api/v1/reseller", "/api/v1/reseller/epins", "/api/v1/reseller/purchases",
        "/api/v1/reseller/statement", "/api/v1/reseller/statement.csv", "/api/v1/reseller/topups",
        "/api/v1/reseller/quotes", "/api/v1/quotes", "/api/v1/plans", "/api/v1/stores",
        "/api/v1/voice/calls", "/api/v1/voice/calls/{call_id}/events", "/api/v1/network/sims",
        "/api/v1/network/sims/{iccid}", "/api/v1/lines/{msisdn}/sim", "/api/v1/lines/{msisdn}/sim/swap",
        "/api/v1/lines/{msisdn}/sim/lost"])
    assert page.locator(".info .title").inner_text().startswith("simkeep")
    # An operation opens and shows its documented error answers.
    page.locator('.opblock-post:has(.opblock-summary-path[data-path="/api/v1/topups"]) .opblock-summary').click()
    conflict = page.locator(".responses-table .response[data-code='409']")
    conflict.first.wait_for()  # the operation opens after the click returns: wait, then count
    assert conflict.count() == 1
    assert outside == []


def test_docs_page_and_assets_are_simkeeps_own(portal):
    html = httpx.get(portal.url("/docs")).text
    assert '<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>' in html
    assert '<script src="/static/docs.js"></script>' in html
    assert "<script>" not in html and "cdn" not in html.lower()
    bundle = httpx.get(portal.url("/static/vendor/swagger-ui/swagger-ui-bundle.js"))
    assert bundle.status_code == 200 and len(bundle.content) > 1_000_000
    assert httpx.get(portal.url("/static/vendor/swagger-ui/swagger-ui.css")).status_code == 200
    assert httpx.get(portal.url("/redoc")).status_code == 404
