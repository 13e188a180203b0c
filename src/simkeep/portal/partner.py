"""Partner attribution: a cashback or affiliate site sends people with its code in the link (`/?partner=CODE`,
`/renew?partner=CODE`, any portal page). The portal remembers the code in a signed cookie for
SIMKEEP_PARTNER_ATTRIBUTION_DAYS (the last click wins: a later link with another code replaces it) and passes it as
`partner_code` to every quote it makes, so the paid renewal is attributed to the partner (cashback/).

The cookie is signed (HMAC with the "partner_link" key) and carries its own expiry, so it cannot be stretched past
the attribution window or forged into a code nobody linked; a code that is not a partner code's shape is ignored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from simkeep.config import Settings
from simkeep.promotion.pricing import normalise_code

PARAM = "partner"  # the link's query parameter
COOKIE = "simkeep_partner"
PURPOSE = "partner_link"  # Settings.key(PURPOSE)
CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")
SHAPE = re.compile(r"^([A-Z0-9][A-Z0-9_-]{1,31})\.(\d{1,12})\.([A-Za-z0-9_-]{16})$")


def code_in(value: str | None) -> str | None:
    """The partner code a link names, upper-cased; None if it is not one's shape."""
    code = normalise_code(value[:64]) if value else None
    return code if code and CODE.match(code) else None


def remember(request: Request, response: Response, settings: Settings, *, now: datetime) -> None:
    """A link with `?partner=CODE`: keep the code for the attribution window (replacing any earlier one)."""
    code = code_in(request.query_params.get(PARAM))
    if code is None:
        return
    days = settings.partner_attribution_days
    until = int((now + timedelta(days=days)).timestamp())
    body = f"{code}.{until}"
    response.set_cookie(COOKIE, f"{body}.{_mac(settings.key(PURPOSE), body)}", max_age=days * 86400,
                        httponly=True, samesite="lax", secure=settings.cookie_secure)


def partner_of(request: Request, settings: Settings, *, now: datetime) -> str | None:
    """The partner code this browser came with, while its window lasts; None otherwise."""
    return read(settings.verifying_keys(PURPOSE), request.cookies.get(COOKIE), now=now)


def read(keys: Sequence[str], value: str | None, *, now: datetime) -> str | None:
    found = SHAPE.match(value or "")
    if found is None:
        return None
    code, until, mac = found.groups()
    genuine = any(hmac.compare_digest(_mac(key, f"{code}.{until}"), mac) for key in keys)
    return code if genuine and now.timestamp() < int(until) else None


def _mac(key: str, body: str) -> str:
    digest = hmac.new(key.encode(), f"partner:{body}".encode(), hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(digest).decode()
