"""Sign-in by SMS code: the number, then the code. A verified number shows its line's data (/lines), receipts and
settings; renewing does not need it (wizard.py).

The code page says how many tries the code has left (its own five, within the number's budget of wrong codes,
which spans codes: otp/service.py), and once the budget is spent, when it comes back and which ways to renew
remain."""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import available_timezones

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.db import Database
from simkeep.locale import formats
from simkeep.otp import service as otp
from simkeep.portal.params import Next, Notice, PageRoute, Text, msisdn_or_error, safe_next
from simkeep.web.deps import Config, Db, Limits
from simkeep.web.pages import Csrf, Lang, add_verified_number, error_text, reader, redirect, render
from simkeep.web.ratelimit import RateLimits

router = APIRouter(include_in_schema=False, route_class=PageRoute)
DEFAULT_ZONE = "Europe/Paris"  # until the browser has told its own (app.js sets the `tz` cookie)
CODE_SHAPE = re.compile(r"\d{6}")


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, next: Next = "/lines", msisdn: Text = "") -> HTMLResponse:
    return render(request, "portal/signin.html", next=safe_next(next), msisdn=msisdn[:32], error=None)


@router.post("/signin", response_class=HTMLResponse)
def signin_send(request: Request, db: Db, settings: Config, limits: Limits, lang: Lang,
                msisdn: Annotated[str, Form(max_length=64)],
                next: Annotated[str, Form(max_length=512)] = "/lines", _csrf: None = Csrf) -> Response:
    return send_code(request, db, settings, limits, lang, msisdn, safe_next(next), form="portal/signin.html",
                     code_page="/signin/code")


@router.get("/signin/code", response_class=HTMLResponse)
def signin_code_form(request: Request, db: Db, settings: Config, lang: Lang, next: Next = "/lines",
                     error: Notice = None) -> Response:
    pending = request.session.get("pending_number")
    if not pending:
        return redirect("/signin")
    return code_page(request, db, settings, lang, pending, next=safe_next(next), action="/signin/code", error=error)


@router.post("/signin/code", response_class=HTMLResponse)
def signin_code_check(request: Request, db: Db, settings: Config, limits: Limits, lang: Lang,
                      code: Annotated[str, Form(max_length=64)],
                      next: Annotated[str, Form(max_length=512)] = "/lines", _csrf: None = Csrf) -> Response:
    return check_code(request, db, settings, limits, lang, code, success=safe_next(next), action="/signin/code")


@router.post("/signout")
def signout(request: Request, _csrf: None = Csrf) -> Response:
    from simkeep.web.sessions import end  # the server-side row is deleted: a replayed cookie opens nothing

    end(request)
    return redirect("/")


def policy(settings: Settings) -> otp.Policy:
    return otp.policy_for(settings)


def send_code(request: Request, db: Database, settings: Settings, limits: RateLimits, lang: str, raw_number: str,
              next_url: str, *, form: str, code_page: str,
              **context) -> Response:
    """The same answer whether or not the number is a customer: only a live line gets the SMS."""
    msisdn = msisdn_or_error(raw_number, settings.default_region)
    if isinstance(msisdn, SimkeepError):
        return render(request, form, status=422, next=next_url, msisdn=raw_number[:32],
                      error=error_text(lang, msisdn.code), **context)
    if not limits.may_send_code(request):
        return render(request, form, status=429, next=next_url, msisdn=raw_number[:32],
                      error=error_text(lang, "rate_limited"), **context)
    request.session["pending_number"] = msisdn
    try:
        with db.transaction() as session:
            challenge = otp.request_code(session, msisdn=msisdn, secret=settings.key("otp"), now=clock.now(),
                                         policy=policy(settings))
    except otp.BudgetSpent:
        return redirect(_code_url(code_page, next_url))  # the code page says when and what else there is
    except otp.ResendTooSoon:
        # The code sent less than a minute ago is still the one to type; say why no new SMS comes.
        return redirect(_code_url(code_page, next_url, "code_resend_too_soon"))
    except otp.TooManyCodes:
        return render(request, form, status=429, next=next_url, msisdn=raw_number[:32],
                      error=error_text(lang, "code_requests_exceeded"), **context)
    if not challenge.new:  # a code sent earlier is still valid: nothing new was sent, nothing was spent
        return redirect(_code_url(code_page, next_url, "code_still_valid"))
    return redirect(_code_url(code_page, next_url))


def _code_url(page: str, next_url: str, notice: str | None = None) -> str:
    return f"{page}?{urlencode({'next': next_url, **({'error': notice} if notice else {})})}"


def check_code(request: Request, db: Database, settings: Settings, limits: RateLimits, lang: str, code: str, *,
               success: str, action: str, **context) -> Response:
    msisdn = request.session.get("pending_number")
    if not msisdn:
        return redirect("/signin")
    if not limits.may_check_code(request):
        return code_page(request, db, settings, lang, msisdn, next=success, action=action, error="rate_limited",
                         status=429,
                         **context)
    if not CODE_SHAPE.fullmatch(code.strip()):  # cannot be right: neither compared nor counted
        return code_page(request, db, settings, lang, msisdn, next=success, action=action, error="code_wrong",
                         status=422,
                         **context)
    with db.transaction() as session:  # committed even when wrong: every failure counts
        verdict = otp.verify_code(session, msisdn=msisdn, code=code, secrets=settings.verifying_keys("otp"),
                                  now=clock.now(), policy=policy(settings))
    if verdict.outcome != otp.OK:
        return code_page(request, db, settings, lang, msisdn, next=success, action=action,
                         error=f"code_{verdict.outcome}", status=422, **context)
    request.session.pop("pending_number", None)
    add_verified_number(request, msisdn)
    return redirect(success)


def code_page(request: Request, db: Database, settings: Settings, lang: str, msisdn: str, *, next: str, action: str,
              error: str | None,
              status: int = 200, **context) -> Response:
    """The code form with the tries this code has left; without a code to type, why (and a new one); once the
    number's budget is spent, when it comes back and the other ways."""
    with db.transaction(write=False) as session:
        now = clock.now()
        budget = otp.budget(session, msisdn=msisdn, now=now, policy=policy(settings))
        tries = otp.tries(session, msisdn=msisdn, now=now, policy=policy(settings))
    spent = tries.closed == otp.SPENT
    if spent:
        error = "code_spent"
    elif tries.closed and not error:
        error = f"code_{tries.closed}"  # e.g. Back to a code page whose code was locked meanwhile
    resets = (moment(budget.resets_at, reader(request).locale, request.cookies.get("tz"))
              if spent and budget.resets_at else None)
    return render(request, "portal/code.html", status=status, msisdn=msisdn, next=next, action=action,
                  error=error_text(lang, error) if error else None, tries=tries.left, spent=spent,
                  resets_at=budget.resets_at, resets=resets, hotline=settings.hotline,
                  locked=tries.closed is not None, **context)


def moment(instant: datetime, locale: str, zone_name: str | None) -> str:
    """"2 mars 2027 10:15 (heure : France)": in the reader's formats and zone (the browser's, as app.js keeps it
    in the `tz` cookie; the operator's until then), the zone named so nobody guesses."""
    tz = zone_name if zone_name and len(zone_name) <= 64 and zone_name in _zones() else DEFAULT_ZONE
    return formats.moment(instant, tz, locale)


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())
