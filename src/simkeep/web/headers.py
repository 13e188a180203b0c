"""Security headers on every response (an ASGI middleware, outermost, so errors and 413s carry them too).

- Content-Security-Policy with no inline script or style: every script is a file under /static, pages are never
  framed (`frame-ancestors 'none'`), forms post only to simkeep or to a configured payment provider's hosted page
  (browsers check `form-action` on the redirect that follows a form, and the wizard's confirm answers with a 303 to
  PayPal's or Stripe's page). Stripe.js and its frames are allowed on the pay pages only, and only when Stripe is
  configured.
- Referrer-Policy: strict-origin-when-cross-origin, so another site never sees a path; receipt links carry their
  token in the path, so /receipts/* sends no referrer at all, not even to simkeep's own static files.
- Permissions-Policy: no camera, microphone or geolocation, except geolocation on /stores (the finder's "near me",
  asked only on a click). The finder's map needs no CSP change by default: Leaflet is a file under /static, it
  positions elements through the CSSOM (element.style), which `style-src 'self'` allows (it forbids style
  attributes and <style> elements in the markup, not script-set properties), and the offline base layer is a
  same-origin GeoJSON file. With SIMKEEP_MAP_TILES_URL set, its origin joins img-src (tiles are images).
- Strict-Transport-Security only when the public URL is https (a phone trying the demo over plain HTTP on the
  local network must not be pinned to HTTPS).
- Cache-Control: no-store on personal pages and every API answer, so no shared or back-button cache keeps them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from simkeep.config import Settings

# Pages that show or take personal data (and the sandbox's pay page): never cached anywhere.
NO_STORE_PREFIXES = ("/api/", "/lines", "/recharge", "/renew/", "/r/", "/pay", "/signin", "/signout", "/receipts/",
                     "/admin", "/reseller", "/sandbox/", "/voice/vxml/", "/esim/")
NO_REFERRER_PREFIXES = ("/receipts/", "/esim/")
PAY_PAGES = "/pay/"
HSTS = "max-age=31536000"
NO_SENSORS = b"camera=(), microphone=(), geolocation=()"
GEOLOCATION_PAGE = b"camera=(), microphone=(), geolocation=(self)"  # no includeSubDomains: the operator's other hosts are not simkeep's to pin

STRIPE_JS = ("https://js.stripe.com", "https://*.js.stripe.com")
STRIPE_FRAMES = (*STRIPE_JS, "https://hooks.stripe.com")
STRIPE_API = ("https://api.stripe.com",)
STRIPE_HOSTED = ("https://hooks.stripe.com", "https://checkout.stripe.com")
PAYPAL_HOSTED = ("https://www.paypal.com", "https://www.sandbox.paypal.com")


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


def _policy(directives: dict[str, list[str]]) -> str:
    return "; ".join(f"{name} {' '.join(dict.fromkeys(values))}" for name, values in directives.items())


def content_security_policies(settings: Settings) -> tuple[str, str]:
    """(the policy of every page, the policy of the pay pages, which may also run Stripe.js)."""
    base = {
        "default-src": ["'self'"], "script-src": ["'self'"], "style-src": ["'self'"],
        # QR codes are data: URIs (segno, Stripe's WeChat Pay code); Swagger UI's icons too.
        "img-src": ["'self'", "data:"], "font-src": ["'self'"], "connect-src": ["'self'"],
        # The home-screen app: its service worker (/sw.js) and manifest come from simkeep only.
        "worker-src": ["'self'"], "manifest-src": ["'self'"],
        "frame-src": ["'none'"], "object-src": ["'none'"], "base-uri": ["'none'"], "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    tiles = _origin(settings.map_tiles_url.replace("{s}", "a") if settings.map_tiles_url else None)
    if settings.map_tiles_url and "{s}" in settings.map_tiles_url and tiles:  # Leaflet's subdomains a, b, c
        scheme, host = tiles.split("://", 1)
        tiles = f"{scheme}://*.{host.split('.', 1)[1]}"
    if tiles:  # the store finder's map tiles (SIMKEEP_MAP_TILES_URL); none by default, the base layer is offline
        base["img-src"].append(tiles)
    stripe = bool(settings.stripe_publishable_key or settings.stripe_api_key or settings.stripe_api_base)
    stripe_base = _origin(settings.stripe_api_base)  # a local stand-in (tests) serves Stripe.js and the API
    paypal = bool(settings.paypal_client_id)
    paypal_base = _origin(settings.paypal_api_base)
    if paypal:
        base["form-action"] += [*PAYPAL_HOSTED]
        if paypal_base and not paypal_base.endswith(".paypal.com"):
            base["form-action"].append(paypal_base)
    if stripe:
        base["form-action"] += [*STRIPE_HOSTED, *([stripe_base] if stripe_base else [])]
    pay = {name: list(values) for name, values in base.items()}
    if stripe:
        extra = [stripe_base] if stripe_base else []
        pay["script-src"] += [*STRIPE_JS, *extra]
        pay["frame-src"] = [*STRIPE_FRAMES, *extra]
        pay["connect-src"] += [*STRIPE_API, *extra]
    return _policy(base), _policy(pay)


class SecurityHeaders:
    def __init__(self, app, settings: Settings) -> None:
        self.app = app
        page_csp, pay_csp = content_security_policies(settings)
        common = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY")]
        if settings.base_url.startswith("https://"):
            common.append((b"strict-transport-security", HSTS.encode()))
        self.common = common
        self.page_csp = page_csp.encode()
        self.pay_csp = pay_csp.encode()

    def headers_for(self, path: str) -> list[tuple[bytes, bytes]]:
        csp = self.pay_csp if path.startswith(PAY_PAGES) else self.page_csp
        referrer = b"no-referrer" if path.startswith(NO_REFERRER_PREFIXES) else b"strict-origin-when-cross-origin"
        # The store finder's "near me" asks for the position (on a click): the one page that may; none elsewhere.
        permissions = GEOLOCATION_PAGE if path == "/stores" else NO_SENSORS
        headers = [*self.common, (b"permissions-policy", permissions), (b"content-security-policy", csp),
                   (b"referrer-policy", referrer)]
        if path.startswith(NO_STORE_PREFIXES):
            headers.append((b"cache-control", b"no-store"))
        return headers

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extra = self.headers_for(scope["path"])
        names = {name for name, _ in extra}

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + extra}
            await send(message)

        return await self.app(scope, receive, send_with_headers)
