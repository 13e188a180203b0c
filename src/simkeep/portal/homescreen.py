"""The portal as an app on the home screen: its web app manifest, its service worker and the offline page.

Chrome and Safari install the portal from the manifest (names in the reader's language, icons, standalone
display, start on "My lines"); Safari also reads the apple-* tags of base.html. The service worker
(web/static/sw.js) keeps only the app shell; the last status a subscriber saw stays in that phone's localStorage
(app.js), and the offline page shows it when there is no network."""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from simkeep.locale import languages
from simkeep.portal.params import PageRoute
from simkeep.web.pages import N_, Lang, render

router = APIRouter(include_in_schema=False, route_class=PageRoute)
THEME_COLOR = "#0b5cad"  # --brand in app.css: the title bar of the installed app
BACKGROUND_COLOR = "#f5f7fa"  # --bg: the splash screen while it starts
ICONS = [("/static/icons/icon-192.png", "192x192", "any"), ("/static/icons/icon-512.png", "512x512", "any"),
         ("/static/icons/icon-maskable-512.png", "512x512", "maskable")]
DESCRIPTION = N_("Check your number's validity and recharge it in time, from your phone's home screen.")


@router.get("/manifest.webmanifest")
def manifest(lang: Lang) -> Response:
    """In the reader's language: base.html links it with ?lang= (browsers fetch a manifest without cookies)."""
    text = languages.translations(lang).gettext
    body = {
        "id": "/", "start_url": "/lines", "scope": "/", "display": "standalone",
        "name": f"simkeep · {text('Keep your number')}", "short_name": "simkeep", "description": text(DESCRIPTION),
        "lang": languages.tag(lang), "dir": "ltr",
        "theme_color": THEME_COLOR, "background_color": BACKGROUND_COLOR,
        "icons": [{"src": src, "sizes": sizes, "type": "image/png", "purpose": purpose} for src, sizes, purpose in ICONS],
        "shortcuts": [{"name": text("My lines"), "url": "/lines"}, {"name": text("Recharge"), "url": "/recharge"}],
    }
    return JSONResponse(body, media_type="application/manifest+json",
                        headers={"Cache-Control": "no-cache", "Vary": "Accept-Language, Cookie"})


@router.get("/sw.js")
def service_worker() -> Response:
    """From the root, because a service worker controls only the pages under its own path."""
    return Response(_service_worker(), media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@router.get("/offline", response_class=HTMLResponse)
def offline(request: Request) -> HTMLResponse:
    """The page the service worker shows without a network; its script fills in the last status seen."""
    return render(request, "portal/offline.html")


@cache
def _service_worker() -> bytes:
    return resources.files("simkeep.web").joinpath("static", "sw.js").read_bytes()
