"""The subscriber portal: check a number, sign in by SMS code, renew online. Thin: parse, call a service, render."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from simkeep.catalog import service as catalog
from simkeep.core import clock
from simkeep.core.errors import InvalidAmount, SimkeepError
from simkeep.core.phone import lookup_msisdn
from simkeep.line import service as lines
from simkeep.line.models import RENEWABLE
from simkeep.notification import service as notifications
from simkeep.otp import service as otp
from simkeep.payment import service as payments
from simkeep.payment.models import METHODS
from simkeep.payment.providers import provider_for, provider_named
from simkeep.payment.providers.base import Checkout, ProviderDeclined, ProviderStatus, ProviderUnavailable
from simkeep.portal import service as portal
from simkeep.receipt import service as receipts
from simkeep.topup import service as topups
from simkeep.web import i18n
from simkeep.web.pages import (
    Csrf,
    Lang,
    add_verified_number,
    error_text,
    language,
    redirect,
    render,
    verified_numbers,
)

router = APIRouter(include_in_schema=False)
DEFAULT_OPERATOR = "fr-orange-mobicarte"


def _db(request: Request):
    return request.app.state.db


def _settings(request: Request):
    return request.app.state.settings


@router.get("/", response_class=HTMLResponse)
def home(request: Request, operator: str = DEFAULT_OPERATOR) -> HTMLResponse:
    with _db(request).transaction(write=False) as session:
        catalog_rows = portal.operators(session)
        chosen = next(((op, offers) for op, offers in catalog_rows if op.id == operator), catalog_rows[0])
        quotes = portal.quote_offers(session, chosen[0], chosen[1], now=clock.now())
    return render(request, "portal/home.html", operators=[op for op, _ in catalog_rows], operator=chosen[0],
                  quotes=quotes)


@router.get("/stores", response_class=HTMLResponse)
def stores(request: Request) -> HTMLResponse:
    return render(request, "portal/stores.html")


# -- sign-in by SMS code -------------------------------------------------------------------------------------

@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, next: str = "/lines", msisdn: str = "") -> HTMLResponse:
    return render(request, "portal/signin.html", next=_safe_next(next), msisdn=msisdn, error=None)


@router.post("/signin", response_class=HTMLResponse)
def signin_send(request: Request, lang: Lang, msisdn: Annotated[str, Form()], next: Annotated[str, Form()] = "/lines",
                _csrf: None = Csrf) -> Response:
    return _send_code(request, lang, msisdn, _safe_next(next), form="portal/signin.html",
                      code_page="/signin/code")


@router.get("/signin/code", response_class=HTMLResponse)
def signin_code_form(request: Request, lang: Lang, next: str = "/lines", error: str | None = None) -> Response:
    pending = request.session.get("pending_number")
    if not pending:
        return redirect("/signin")
    return render(request, "portal/code.html", msisdn=pending, next=_safe_next(next), action="/signin/code",
                  error=error_text(lang, error) if error else None)


@router.post("/signin/code", response_class=HTMLResponse)
def signin_code_check(request: Request, lang: Lang, code: Annotated[str, Form()],
                      next: Annotated[str, Form()] = "/lines", _csrf: None = Csrf) -> Response:
    return _check_code(request, lang, code, success=_safe_next(next), action="/signin/code")


@router.post("/signout")
def signout(request: Request, _csrf: None = Csrf) -> Response:
    request.session.clear()
    return redirect("/")


def _send_code(request: Request, lang: str, raw_number: str, next_url: str, *, form: str, code_page: str,
               **context) -> Response:
    """The same answer whether or not the number is a customer: only a live line gets the SMS."""
    try:
        msisdn = lookup_msisdn(raw_number, _settings(request).default_region)
    except SimkeepError as exc:
        return render(request, form, status=422, next=next_url, msisdn=raw_number,
                      error=error_text(lang, exc.code), **context)
    client = request.client.host if request.client else "unknown"
    if not request.app.state.rate_limits.may_send_code(msisdn, client):
        return render(request, form, status=429, next=next_url, msisdn=raw_number,
                      error=error_text(lang, "rate_limited"), **context)
    request.session["pending_number"] = msisdn
    try:
        with _db(request).transaction() as session:
            otp.request_code(session, msisdn=msisdn, secret=_settings(request).secret_key, now=clock.now())
    except otp.ResendTooSoon:
        # The code sent less than a minute ago is still the one to type; say why no new SMS comes.
        return redirect(f"{code_page}?next={next_url}&error=code_resend_too_soon")
    return redirect(f"{code_page}?next={next_url}")


def _check_code(request: Request, lang: str, code: str, *, success: str, action: str) -> Response:
    msisdn = request.session.get("pending_number")
    if not msisdn:
        return redirect("/signin")
    client = request.client.host if request.client else "unknown"
    if not request.app.state.rate_limits.may_check_code(client):
        return render(request, "portal/code.html", status=429, msisdn=msisdn, next=success, action=action,
                      error=error_text(lang, "rate_limited"))
    with _db(request).transaction() as session:  # committed even when wrong: every failure counts
        verdict = otp.verify_code(session, msisdn=msisdn, code=code, secret=_settings(request).secret_key,
                                  now=clock.now())
    if verdict != otp.OK:
        return render(request, "portal/code.html", status=422, msisdn=msisdn, next=success, action=action,
                      error=error_text(lang, f"code_{verdict}"), locked=verdict in (otp.LOCKED, otp.EXPIRED))
    request.session.pop("pending_number", None)
    add_verified_number(request, msisdn)
    return redirect(success)


def _safe_next(url: str) -> str:
    """Only local paths: a sign-in link must not send people to another site."""
    return url if url.startswith("/") and not url.startswith("//") else "/lines"


# -- status: my lines ------------------------------------------------------------------------------------------

@router.get("/lines", response_class=HTMLResponse)
def my_lines(request: Request) -> Response:
    numbers = verified_numbers(request)
    if not numbers:
        return redirect("/signin?next=/lines")
    statuses = []
    with _db(request).transaction(write=False) as session:
        for msisdn in numbers:
            try:
                statuses.append(portal.status(session, msisdn, now=clock.now()))
            except SimkeepError:
                continue  # the line ended since this browser signed in
    secret = _settings(request).secret_key
    return render(request, "portal/lines.html", statuses=statuses,
                  receipt_token=lambda receipt_id: receipts.token_for(secret, receipt_id))


@router.post("/lines/reminders")
def set_reminders(request: Request, msisdn: Annotated[str, Form()], wanted: Annotated[str, Form()],
                  _csrf: None = Csrf) -> Response:
    """Stop or resume reminders for one of this browser's verified lines."""
    if msisdn not in verified_numbers(request):
        return redirect("/signin?next=/lines")
    with _db(request).transaction() as session:
        if wanted == "off":
            notifications.opt_out(session, msisdn=msisdn, now=clock.now())
        else:
            notifications.opt_in(session, msisdn=msisdn)
    return redirect("/lines")


@router.get("/lines/add", response_class=HTMLResponse)
def add_line_form(request: Request) -> HTMLResponse:
    return render(request, "portal/signin.html", next="/lines", msisdn="", error=None, adding=True)


# -- renewal wizard: offer -> number -> code -> method -> summary -> confirm -> pay -> result ----------------------

def _wizard(request: Request) -> dict:
    return dict(request.session.get("wizard", {}))


def _save_wizard(request: Request, **changes) -> dict:
    wizard = {**_wizard(request), **changes}
    request.session["wizard"] = wizard
    return wizard


@router.get("/recharge", response_class=HTMLResponse)
def recharge_offer(request: Request, operator: str | None = None, msisdn: str | None = None,
                   error: str | None = None) -> HTMLResponse:
    wizard = _wizard(request)
    if msisdn:
        wizard = _save_wizard(request, msisdn=msisdn)
    with _db(request).transaction(write=False) as session:
        rows = portal.operators(session)
        line = _known_line(session, request, wizard.get("msisdn"))
        wanted = line.operator_id if line is not None else operator or wizard.get("operator") or DEFAULT_OPERATOR
        op, offers = next(((o, f) for o, f in rows if o.id == wanted), rows[0])
        quotes = portal.quote_offers(session, op, offers, line=line, now=clock.now())
    return render(request, "portal/recharge_offer.html", operators=[o for o, _ in rows], operator=op,
                  quotes=quotes, line=line, selected=wizard.get("offer"), step=1,
                  error=error_text(language(request), error) if error else None)


@router.post("/recharge/offer")
def recharge_choose_offer(request: Request, offer: Annotated[str, Form()], _csrf: None = Csrf) -> Response:
    with _db(request).transaction(write=False) as session:
        operator_id = catalog.operator_of_offer_or_none(session, offer)
    if operator_id is None:
        return redirect("/recharge?error=offer_not_found")
    wizard = _save_wizard(request, offer=offer, operator=operator_id, key=secrets.token_urlsafe(24))
    if wizard.get("msisdn") in verified_numbers(request):
        return redirect("/recharge/method")
    return redirect("/recharge/number")


@router.get("/recharge/number", response_class=HTMLResponse)
def recharge_number(request: Request) -> Response:
    wizard = _wizard(request)
    if "offer" not in wizard:
        return redirect("/recharge")
    return render(request, "portal/recharge_number.html", msisdn=wizard.get("msisdn", ""), error=None, step=2)


@router.post("/recharge/number", response_class=HTMLResponse)
def recharge_send_code(request: Request, lang: Lang, msisdn: Annotated[str, Form()], _csrf: None = Csrf) -> Response:
    if "offer" not in _wizard(request):
        return redirect("/recharge")
    try:
        number = lookup_msisdn(msisdn, _settings(request).default_region)
    except SimkeepError as exc:
        return render(request, "portal/recharge_number.html", status=422, msisdn=msisdn, step=2,
                      error=error_text(lang, exc.code))
    _save_wizard(request, msisdn=number)
    if number in verified_numbers(request):
        return redirect("/recharge/method")
    return _send_code(request, lang, number, "/recharge/method", form="portal/recharge_number.html",
                      code_page="/recharge/code", step=2)


@router.get("/recharge/code", response_class=HTMLResponse)
def recharge_code(request: Request, lang: Lang, error: str | None = None) -> Response:
    if not request.session.get("pending_number"):
        return redirect("/recharge/number")
    return render(request, "portal/code.html", msisdn=request.session["pending_number"], next="/recharge/method",
                  action="/recharge/code", error=error_text(lang, error) if error else None, step=3)


@router.post("/recharge/code", response_class=HTMLResponse)
def recharge_code_check(request: Request, lang: Lang, code: Annotated[str, Form()], _csrf: None = Csrf) -> Response:
    return _check_code(request, lang, code, success="/recharge/method", action="/recharge/code")


@router.get("/recharge/method", response_class=HTMLResponse)
def recharge_method(request: Request, error: str | None = None) -> Response:
    wizard = _wizard(request)
    checked = _checked_order(request, wizard)
    if isinstance(checked, Response):
        return checked
    return render(request, "portal/recharge_method.html", methods=METHODS, selected=wizard.get("method"), step=4,
                  error=error_text(language(request), error) if error else None)


@router.post("/recharge/method")
def recharge_choose_method(request: Request, method: Annotated[str, Form()] = "", _csrf: None = Csrf) -> Response:
    if method not in METHODS:
        return redirect("/recharge/method?error=method_required")
    # A new checkout: after a declined or abandoned payment, "try again" must not find the old attempt.
    _save_wizard(request, method=method, key=secrets.token_urlsafe(24))
    return redirect("/recharge/summary")


@router.get("/recharge/summary", response_class=HTMLResponse)
def recharge_summary(request: Request) -> Response:
    wizard = _wizard(request)
    checked = _checked_order(request, wizard)
    if isinstance(checked, Response):
        return checked
    if wizard.get("method") not in METHODS:
        return redirect("/recharge/method")
    line, operator, quote = checked
    return render(request, "portal/recharge_summary.html", line=line, operator=operator, quote=quote,
                  method=wizard["method"], checkout_key=wizard["key"], step=5)


@router.post("/recharge/confirm")
def recharge_confirm(request: Request, lang: Lang, checkout_key: Annotated[str, Form()],
                     _csrf: None = Csrf) -> Response:
    """Pays once: the checkout key is unique, so a double-click or a reload finds the first attempt."""
    wizard = _wizard(request)
    checked = _checked_order(request, wizard)
    if isinstance(checked, Response):
        return checked
    if checkout_key != wizard.get("key") or wizard.get("method") not in METHODS:
        return redirect("/recharge/summary")
    line, operator, quote = checked
    settings, db = _settings(request), _db(request)
    provider = provider_for(wizard["method"], operator.id, db, settings)
    # Two confirms at once race on the unique checkout key; the loser is retried and finds the winner's attempt.
    attempt, new = db.write(lambda session: payments.start_checkout(
        session, checkout_key=checkout_key, line=line, operator=operator, offer=quote.offer,
        method=wizard["method"], provider=provider.name, language=lang, now=clock.now()))
    if not new:
        return redirect(_next_step(attempt.id, attempt.next_action))
    checkout = Checkout(attempt_id=str(attempt.id), amount_minor=attempt.amount_minor, currency=attempt.currency,
                        method=attempt.method, description=f"{operator.brand} {operator.product} {line.msisdn}",
                        return_url=f"/pay/{attempt.id}", language=lang)
    try:
        created = provider.create_payment(checkout)  # outside any transaction: it is a call to the outside
    except (ProviderUnavailable, ProviderDeclined, InvalidAmount) as exc:
        # Nothing was created at the provider (creation is idempotent on the attempt id): say so and stop.
        with db.transaction() as session:
            payments.record_unavailable(session, attempt.id, reason=exc.code, now=clock.now())
        return redirect(f"/pay/{attempt.id}")
    with db.transaction() as session:
        payments.record_created(session, attempt.id, created, now=clock.now())
    return redirect(_next_step(attempt.id, created.next_action))


def _next_step(attempt_id, next_action: dict | None) -> str:
    """A provider's hosted page, or simkeep's own page for actions it renders (QR, transfer details, card form)."""
    if not next_action:
        return f"/pay/{attempt_id}"
    return next_action["url"] if next_action["type"] == "redirect" else f"/pay/{attempt_id}/action"


def _checked_order(request: Request, wizard: dict):
    """(line, operator, quote) for the wizard's number and offer, or a redirect to the step that is missing."""
    if "offer" not in wizard:
        return redirect("/recharge")
    msisdn = wizard.get("msisdn")
    if not msisdn or msisdn not in verified_numbers(request):
        return redirect("/recharge/number")
    with _db(request).transaction(write=False) as session:
        line = lines.find_live_line(session, msisdn)
        if line is None:
            return redirect("/recharge/number")
        operator = catalog.get_operator(session, line.operator_id)
        offer_operator = catalog.operator_of_offer_or_none(session, wizard["offer"])
        if offer_operator != line.operator_id:
            return redirect("/recharge?error=operator_mismatch")
        offer = catalog.get_offer(session, wizard["offer"], operator)
        [quote] = portal.quote_offers(session, operator, [offer], line=line, now=clock.now())
    if line.state not in RENEWABLE:
        return redirect("/recharge?error=line_not_renewable")
    if quote.validity_ends_at is None:
        return redirect("/recharge?error=validity_cap_reached")
    return line, operator, quote


def _known_line(session, request: Request, msisdn: str | None):
    if not msisdn or msisdn not in verified_numbers(request):
        return None
    return lines.find_live_line(session, msisdn)


# -- result ----------------------------------------------------------------------------------------------------

@router.get("/pay/{attempt_id}", response_class=HTMLResponse)
def payment_result(request: Request, attempt_id: str, token: str | None = None, PayerID: str | None = None,
                   cancelled: str | None = None) -> Response:
    attempt, context = _attempt_for_browser(request, attempt_id)
    if attempt is None:
        return render(request, "portal/error.html", status=404, error=error_text(language(request), "payment_not_found"))
    if token and token == attempt.provider_ref and attempt.status == "pending" and (PayerID or cancelled):
        _capture_on_return(request, attempt, cancelled=bool(cancelled))
        return redirect(f"/pay/{attempt.id}")
    return render(request, "portal/pay_result.html", attempt=attempt, **context)


def _capture_on_return(request: Request, attempt, *, cancelled: bool) -> None:
    """The payer approved (or cancelled) at a provider that captures separately: capture now, outside any
    transaction, and record a definite answer through the inbox. No answer: the result page keeps polling and
    reconciliation finishes the job; an unknown outcome is never recorded as a failure."""
    db, settings = _db(request), _settings(request)
    provider = provider_named(attempt.provider, db, settings)
    if cancelled:
        status = ProviderStatus(attempt.provider_ref, "failed", failure="canceled")
    else:
        try:
            status = provider.capture(attempt.provider_ref, f"capture:{attempt.id}")
        except ProviderUnavailable:
            return
    with db.transaction() as session:
        payments.record_status(session, attempt, status, source="capture", now=clock.now())


@router.get("/pay/{attempt_id}/action", response_class=HTMLResponse)
def payment_action(request: Request, attempt_id: str) -> Response:
    """The payer's next step when simkeep renders it: `portal/action_<type>.html` gets the provider's data."""
    attempt, context = _attempt_for_browser(request, attempt_id)
    if attempt is None or not attempt.next_action:
        return render(request, "portal/error.html", status=404, error=error_text(language(request), "payment_not_found"))
    return render(request, f"portal/action_{attempt.next_action['type']}.html", attempt=attempt,
                  action=attempt.next_action, **context)


@router.get("/pay/{attempt_id}/status")
def payment_status(request: Request, attempt_id: str) -> Response:
    """Polled by the result page until the outcome is known."""
    attempt, context = _attempt_for_browser(request, attempt_id)
    if attempt is None:
        return JSONResponse({"status": "unknown"}, status_code=404)
    html = i18n_fragment(request, attempt, context)
    return JSONResponse({"status": attempt.status, "html": html})


def i18n_fragment(request: Request, attempt, context) -> str:
    env = i18n.environment(language(request))
    return env.get_template("portal/_pay_outcome.html").render(request=request, attempt=attempt, **context)


def _attempt_for_browser(request: Request, attempt_id: str):
    with _db(request).transaction(write=False) as session:
        try:
            attempt = payments.get_attempt(session, attempt_id)
        except SimkeepError:
            return None, {}
        if attempt.msisdn not in verified_numbers(request):
            return None, {}
        line = lines.find_line(session, attempt.msisdn)
        operator = catalog.get_operator(session, line.operator_id)
        topup = topups.get_topup(session, attempt.topup_id) if attempt.topup_id else None
    token = receipts.token_for(_settings(request).secret_key, attempt.receipt_id) if attempt.receipt_id else None
    return attempt, {"operator": operator, "topup": topup, "receipt_token": token}

