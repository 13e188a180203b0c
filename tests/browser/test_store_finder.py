"""The store finder in a real browser with no network beyond simkeep: the map (vendored Leaflet, the offline base
layer) draws every listed store; "near me" with the browser's position (granted, then mocked); a postcode search
through the form; no Content-Security-Policy violation on the way (watched_page)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page

from simkeep.demo import seed_demo_stores
from tests.browser.conftest import Portal
from tests.browser.test_csp import watched_page  # noqa: F401  (the fixture)
from tests.browser.test_screenshots import SHOTS, shoot


@pytest.fixture
def offline(portal: Portal):
    """offline(page) -> the list of requests that tried to leave the machine (each one aborted)."""
    seed_demo_stores(portal.db)

    def cut(page: Page) -> list[str]:
        outside: list[str] = []

        def only_simkeep(route) -> None:
            if urlsplit(route.request.url).netloc == urlsplit(portal.base).netloc:
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.context.route("**/*", only_simkeep)
        return outside

    return cut


def listed(page: Page) -> list[str]:
    return page.locator("li.store").evaluate_all("items => items.map(i => i.dataset.code)")


def test_the_map_draws_offline_with_a_marker_per_store(watched_page, portal, offline):  # noqa: F811
    page = watched_page("fr")
    outside = offline(page)
    page.goto(portal.url("/stores?q=75013"))
    page.locator("#store-map[data-ready=true]").wait_for()
    assert listed(page)[:2] == ["DEMO-PAR-CHINATOWN", "DEMO-PAR-OLYMPIADES"]
    assert page.locator(".leaflet-marker-icon").count() == len(listed(page)) == 10
    assert page.locator(".leaflet-marker-icon").first.get_attribute("alt") == "Porte de Choisy Mobile (démo)"
    # The base layer: country outlines drawn as SVG paths (France and its neighbours), no tile image at all.
    assert page.locator(".leaflet-overlay-pane path").count() >= 15
    assert page.locator(".leaflet-tile").count() == 0
    assert page.locator("#store-map.offline-base").count() == 1
    page.locator(".leaflet-marker-icon").first.click()
    assert page.locator(".leaflet-popup-content strong").inner_text() == "Porte de Choisy Mobile (démo)"
    assert outside == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    shoot(page, "stores-map.png")  # for the README (SIMKEEP_SCREENSHOTS=docs writes docs/screenshots/)


def test_near_me_asks_on_click_and_lists_the_nearest(watched_page, portal, offline):  # noqa: F811
    page = watched_page("en")
    outside = offline(page)
    page.context.grant_permissions(["geolocation"], origin=portal.base)
    page.context.set_geolocation({"latitude": 48.8722, "longitude": 2.3766})
    page.goto(portal.url("/stores"))
    assert page.locator("li.store").count() == 0
    page.locator("#near-me").click()
    page.wait_for_url("**/stores?lat=48.87220&lon=2.37660")
    page.locator("#store-map[data-ready=true]").wait_for()
    assert page.locator("h2").first.inner_text() == "Stores near you"
    assert listed(page)[:3] == ["DEMO-PAR-BELLEVILLE-NUIT", "DEMO-PAR-BELLEVILLE", "DEMO-PAR-BELLEVILLE-2"]
    assert page.locator("li.store .distance").first.inner_text() == "100 m"
    # Ten stores and the "you are here" dot.
    assert page.locator(".leaflet-marker-icon").count() == 10
    assert page.locator(".leaflet-overlay-pane path.leaflet-interactive").count() == 1
    assert outside == []


def test_a_refused_position_says_so_and_keeps_the_search(watched_page, portal, offline):  # noqa: F811
    page = watched_page("zh_CN")
    offline(page)
    page.goto(portal.url("/stores"))  # no permission granted: the browser refuses
    page.locator("#near-me").click()
    status = page.locator("#near-me-status")
    status.filter(has_text="未获得您的位置").wait_for()
    assert page.url == portal.url("/stores")


def test_search_by_postcode_through_the_form(watched_page, portal, offline):  # noqa: F811
    page = watched_page("fr")
    outside = offline(page)
    page.goto(portal.url("/stores"))
    page.fill("#store-q", "69007")
    page.click("form.store-search button[type=submit]")
    page.wait_for_url("**/stores?q=69007")
    page.locator("#store-map[data-ready=true]").wait_for()
    assert listed(page)[:2] == ["DEMO-LYO-GUILLOTIERE", "DEMO-LYO-PART-DIEU"]
    assert page.locator("li.store").first.locator(".badge.demo").inner_text() == "données de démo"
    assert outside == []
