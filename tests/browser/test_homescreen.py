"""The portal as an app on the home screen: a manifest in the reader's language with icons that load, a service
worker that controls the pages and keeps only the app shell, and, offline, the last status this phone saw with
the time it was seen, until the subscriber signs out. Nothing is installed: the browser is checked, not a phone."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime

import httpx
import pytest
from PIL import Image

from simkeep.locale import languages
from simkeep.portal.signin import moment
from tests.browser import journey as j
from tests.browser.axe import violations
from tests.browser.conftest import BROWSER_LOCALE

SHELL = "simkeep-shell-v1"
SHELL_FILES = ["/offline", "/static/app.css", "/static/app.js", "/static/icons/apple-touch-icon.png",
               "/static/icons/icon-192.png", "/static/icons/icon-512.png", "/static/icons/icon-maskable-512.png"]
CACHED_PATHS = f"""caches.open("{SHELL}").then((cache) => cache.keys())
  .then((requests) => requests.map((r) => new URL(r.url).pathname).sort())"""
# Run with page.evaluate (the pages' policy forbids eval, which wait_for_function would need).
CONTROLLED = """() => navigator.serviceWorker.controller !== null || new Promise((resolve) =>
  navigator.serviceWorker.addEventListener("controllerchange", () => resolve(true)))"""
OFFLINE_PAGE_IN = f"""async (language) => {{  // the service worker refreshes it after the page has loaded
  for (let i = 0; i < 200; i++) {{
    const page = await (await caches.open("{SHELL}")).match("/offline");
    if (page && page.headers.get("Content-Language") === language) return language;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }}
  return "not refreshed";
}}"""
DESCRIPTION = "Check your number's validity and recharge it in time, from your phone's home screen."
NAMES = {"zh_CN": "simkeep · 保住您的号码", "fr": "simkeep · Gardez votre numéro", "en": "simkeep · Keep your number"}


def png_size(portal, path: str) -> tuple[int, int]:
    answer = httpx.get(portal.url(path))
    assert (answer.status_code, answer.headers["content-type"]) == (200, "image/png"), path
    return Image.open(io.BytesIO(answer.content)).size


@pytest.mark.parametrize("lang", ["zh_CN", "fr", "en"])
def test_the_manifest_names_the_app_in_the_readers_language_and_its_icons_load(portal, lang):
    home = httpx.get(portal.url("/"), headers={"Accept-Language": BROWSER_LOCALE[lang]})
    link = re.search(r'<link rel="manifest" href="([^"]+)">', home.text).group(1)
    assert link == f"/manifest.webmanifest?lang={languages.tag(lang)}"
    answer = httpx.get(portal.url(link))
    assert answer.headers["content-type"] == "application/manifest+json"
    manifest = answer.json()
    assert manifest == {
        "id": "/", "start_url": "/lines", "scope": "/", "display": "standalone",
        "name": NAMES[lang], "short_name": "simkeep",
        "description": j.t(lang, DESCRIPTION),
        "lang": languages.tag(lang), "dir": "ltr", "theme_color": "#0b5cad", "background_color": "#f5f7fa",
        "icons": [
            {"src": "/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": "/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
            {"src": "/static/icons/icon-maskable-512.png", "sizes": "512x512", "type": "image/png",
             "purpose": "maskable"}],
        "shortcuts": [{"name": j.t(lang, "My lines"), "url": "/lines"}, {"name": j.t(lang, "Recharge"), "url": "/recharge"}],
    }
    assert (manifest["description"] == DESCRIPTION) == (lang == "en")  # translated
    for icon in manifest["icons"]:
        assert png_size(portal, icon["src"]) == tuple(int(n) for n in icon["sizes"].split("x"))
    # Safari: its own icon and tags.
    apple = re.search(r'<link rel="apple-touch-icon" href="([^"]+)">', home.text).group(1)
    assert png_size(portal, apple) == (180, 180)
    assert '<meta name="apple-mobile-web-app-capable" content="yes">' in home.text
    assert '<meta name="theme-color" content="#0b5cad">' in home.text


def test_without_a_choice_the_manifest_follows_the_browsers_language(portal):
    answer = httpx.get(portal.url("/manifest.webmanifest"), headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert answer.json()["name"] == NAMES["fr"]
    assert answer.headers["vary"] == "Accept-Language, Cookie"


def test_the_service_worker_is_served_from_the_root_scope(portal):
    answer = httpx.get(portal.url("/sw.js"))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert answer.headers["cache-control"] == "no-cache"
    assert "worker-src 'self'" in answer.headers["content-security-policy"]


def test_offline_the_portal_shows_the_last_status_seen_and_forgets_it_on_sign_out(open_page, portal):
    lang = "fr"
    portal.line(language=lang)
    view = portal.view()
    page = open_page(lang)
    page.goto(portal.url("/"))
    assert page.evaluate(CONTROLLED) is True
    assert page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.scope)") == portal.url("/")

    j.sign_in(page, portal, typed=j.TYPED[lang])
    seen = page.locator("time[data-status-seen]")
    seen_text, seen_at = seen.inner_text(), seen.get_attribute("datetime")
    assert seen_text == moment(datetime.fromisoformat(seen_at), languages.BASE_LOCALE[lang], "Europe/Paris")
    kept = {"lang": "fr", "seen": seen_text, "seenAt": seen_at, "lines": [{
        "number": "+33 6 12 34 56 78", "state": j.t(lang, "Active"), "stateName": "active",
        "validUntil": j.last_day(view.line.validity_ends_at, lang), "balance": j.amount(view.balance.minor, lang)}]}
    # Only the status of the subscriber's own line, in this browser; the service worker's cache holds the shell.
    assert page.evaluate("Object.keys(localStorage)") == ["simkeep.status"]
    assert json.loads(page.evaluate("localStorage.getItem('simkeep.status')")) == kept
    assert page.evaluate("caches.keys()") == [SHELL]
    assert page.evaluate(CACHED_PATHS) == SHELL_FILES

    page.context.set_offline(True)
    for path in ("/lines", "/recharge"):
        page.goto(portal.url(path))
        assert page.locator("h1").inner_text() == j.t(lang, "No connection")
        assert page.locator("#seen-at").inner_text() == seen_text
        assert page.locator("#offline-lines [data-field]").all_inner_texts() == [
            "+33 6 12 34 56 78", j.t(lang, "Active"), j.amount(view.balance.minor, lang),
            j.last_day(view.line.validity_ends_at, lang)]
        assert page.locator("#no-status").is_hidden()
    assert violations(page) == []

    # The reader switches to Chinese online: the offline page follows, the status keeps the words it was seen in.
    page.context.set_offline(False)
    page.goto(portal.url("/stores?lang=zh_CN"))
    assert page.evaluate(OFFLINE_PAGE_IN, "zh-CN") == "zh-CN"
    page.context.set_offline(True)
    page.goto(portal.url("/lines"))
    assert page.locator("h1").inner_text() == j.t("zh_CN", "No connection")
    assert page.locator("#offline-lines [data-field]").first.get_attribute("lang") == "fr"
    assert violations(page) == []

    page.context.set_offline(False)
    page.goto(portal.url("/lines"))
    page.locator('form[action="/signout"] button[type="submit"]').click()
    page.wait_for_url(portal.url("/"))
    assert page.evaluate("localStorage.getItem('simkeep.status')") is None
    page.context.set_offline(True)
    page.goto(portal.url("/lines"))
    assert page.locator("h1").inner_text() == j.t("zh_CN", "No connection")
    assert page.locator("#no-status").is_visible() and page.locator("#last-status").is_hidden()
    assert "12 34 56 78" not in page.inner_text("body")
