"""Sign-in by SMS code: the number, then the code. The renewal wizard reuses send_code and check_code."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.core.phone import lookup_msisdn
from simkeep.otp import service as otp
from simkeep.web.pages import Csrf, Lang, add_verified_number, error_text, redirect, render

router = APIRouter(include_in_schema=False)


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, next: str = "/lines", msisdn: str = "") -> HTMLResponse:
    return render(request, "portal/signin.html", next=safe_next(next), msisdn=msisdn, error=None)


@router.post("/signin", response_class=HTMLResponse)
def signin_send(request: Request, lang: Lang, msisdn: Annotated[str, Form()], next: Annotated[str, Form()] = "/lines",
                _csrf: None = Csrf) -> Response:
    return send_code(request, lang, msisdn, safe_next(next), form="portal/signin.html", code_page="/signin/code")


@router.get("/signin/code", response_class=HTMLResponse)
def signin_code_form(request: Request, lang: Lang, next: str = "/lines", error: str | None = None) -> Response:
    pending = request.session.get("pending_number")
    if not pending:
        return redirect("/signin")
    return render(request, "portal/code.html", msisdn=pending, next=safe_next(next), action="/signin/code",
                  error=error_text(lang, error) if error else None)


@router.post("/signin/code", response_class=HTMLResponse)
def signin_code_check(request: Request, lang: Lang, code: Annotated[str, Form()],
                      next: Annotated[str, Form()] = "/lines", _csrf: None = Csrf) -> Response:
    return check_code(request, lang, code, success=safe_next(next), action="/signin/code")


@router.post("/signout")
def signout(request: Request, _csrf: None = Csrf) -> Response:
    from simkeep.web.sessions import end  # the server-side row is deleted: a replayed cookie opens nothing

    end(request)
    return redirect("/")


def send_code(request: Request, lang: str, raw_number: str, next_url: str, *, form: str, code_page: str,
              **context) -> Response:
    """The same answer whether or not the number is a customer: only a live line gets the SMS."""
    settings = request.app.state.settings
    try:
        msisdn = lookup_msisdn(raw_number, settings.default_region)
    except SimkeepError as exc:
        return render(request, form, status=422, next=next_url, msisdn=raw_number,
                      error=error_text(lang, exc.code), **context)
    if not request.app.state.rate_limits.may_send_code(msisdn, _client(request)):
        return render(request, form, status=429, next=next_url, msisdn=raw_number,
                      error=error_text(lang, "rate_limited"), **context)
    request.session["pending_number"] = msisdn
    try:
        with request.app.state.db.transaction() as session:
            otp.request_code(session, msisdn=msisdn, secret=settings.key("otp"), now=clock.now())
    except otp.ResendTooSoon:
        # The code sent less than a minute ago is still the one to type; say why no new SMS comes.
        return redirect(f"{code_page}?next={next_url}&error=code_resend_too_soon")
    return redirect(f"{code_page}?next={next_url}")


def check_code(request: Request, lang: str, code: str, *, success: str, action: str) -> Response:
    msisdn = request.session.get("pending_number")
    if not msisdn:
        return redirect("/signin")
    if not request.app.state.rate_limits.may_check_code(_client(request)):
        return render(request, "portal/code.html", status=429, msisdn=msisdn, next=success, action=action,
                      error=error_text(lang, "rate_limited"))
    with request.app.state.db.transaction() as session:  # committed even when wrong: every failure counts
        verdict = otp.verify_code(session, msisdn=msisdn, code=code, secret=request.app.state.settings.key("otp"),
                                  now=clock.now())
    if verdict != otp.OK:
        return render(request, "portal/code.html", status=422, msisdn=msisdn, next=success, action=action,
                      error=error_text(lang, f"code_{verdict}"), locked=verdict in (otp.LOCKED, otp.EXPIRED))
    request.session.pop("pending_number", None)
    add_verified_number(request, msisdn)
    return redirect(success)


def safe_next(url: str) -> str:
    """Only local paths: a sign-in link must not send people to another site."""
    return url if url.startswith("/") and not url.startswith("//") else "/lines"


def _client(request: Request) -> str:
    """The address the rate limits count by."""
    return request.client.host if request.client else "unknown"
