"""The renewal wizard: offer -> number -> method -> summary -> confirm, then the result pages (result.py). A
recharge card is the other way from the offers and methods steps: its form (card.py) asks the number and the PIN,
and the card decides the offer.

Anyone may pay for any number, as operators' "recharge for someone else" pages allow: no code is asked. So the
wizard shows nothing of a line to a browser that has not verified the number (signed in with its code): no
balance, no validity or number-loss date. The one thing it must tell is whether the number can be renewed with
the chosen offer, and it tells that with one sentence for every reason (not a customer, another operator,
deactivated), so it says no more than "not here"; the number step is rate-limited per address. A browser that
verified the number sees the full details, as before.

A reminder's link (`/r/…`, line/links.py) is signed for the line it was sent to: it opens that line's operator
and offers with the number filled in, and shows the validity dates the reminder itself told (never the balance).
An older reminder's `/recharge?msisdn=`, or a link that does not verify, only prefills the number step.

An offer that buys this line no validity (its operator extends to `now + days` and the line is valid beyond
that) is never sold silently as a renewal: the summary says it adds credit only, and confirming needs a tick.

Its choices live in the session under "wizard"; each step sends people back to the first one that is missing,
and every GET renders from the session, so Back and Forward show the same steps with the same number.

The summary shows a quote (topup.service.quote, the one pricing rule of every channel): the list price, each
campaign applied and what it gives, the price to pay, the bonus credit and days, the new validity end (to a browser
that knows the line), a multi-month offer's saving, and until when the price holds. Its id stays in the wizard; a
promo code typed there is quoted again (a wrong one changes nothing). Confirming pays exactly that quote: one that
expired, or whose campaign ran out meanwhile, is quoted again, and if the new price differs the summary shows it
with a notice instead of charging it (a price is charged only once shown). The quote is made when the summary is
first shown for this number and offer (and again when it expired): the one GET of the wizard that writes."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.catalog import service as catalog
from simkeep.core import clock
from simkeep.core.errors import (
    LineNotFound,
    LineNotRenewable,
    PromoCodeInvalid,
    PromotionUnavailable,
    QuoteExpired,
    QuoteMismatch,
    QuoteNotFound,
    QuoteUsed,
    SimkeepError,
    ValidityCapReached,
)
from simkeep.db import Database
from simkeep.line import links
from simkeep.line import service as lines
from simkeep.locale import formats
from simkeep.payment.flow import available_methods
from simkeep.portal import partner
from simkeep.portal import service as portal
from simkeep.portal.params import Notice, OperatorId, PageRoute, RawNumber, msisdn_or_error
from simkeep.portal.result import remember_attempt
from simkeep.web.deps import Config, Db, Limits
from simkeep.web.pages import (
    Csrf,
    Lang,
    error_text,
    language,
    reader,
    reader_zone,
    redirect,
    render,
    verified_numbers,
)

router = APIRouter(include_in_schema=False, route_class=PageRoute)
# A quote that can no longer be paid as shown: quote again, and show the new price if it differs.
STALE = (QuoteExpired, PromotionUnavailable, QuoteNotFound, QuoteMismatch, QuoteUsed)
Code = Annotated[str, Form(max_length=64)]
# Why a number cannot be renewed, as an unsigned payer is told it: one answer for every reason.
NOT_RENEWABLE = "cannot_renew_online"


@router.get("/r/{link}")
def renewal_link(request: Request, settings: Config, link: Annotated[str, Path(max_length=64)]) -> Response:
    """A reminder's signed link (line/links.py): a genuine one makes its number the wizard's, known; any other
    (forged, expired, cut short) is only a prefill of the number it names, like `/recharge?msisdn=`."""
    reading = links.read(settings.verifying_keys(links.PURPOSE), link, now=clock.now())
    number = msisdn_or_error(reading.msisdn, settings.default_region) if reading.msisdn else None
    if not isinstance(number, str):
        return redirect("/recharge")
    if reading.until is None:
        return redirect(f"/recharge?msisdn={quote(number, safe='')}")
    _save_wizard(request, msisdn=number, linked=number, linked_until=reading.until.isoformat())
    return redirect("/recharge")  # the link leaves the address bar (and the history) at once


@router.get("/renew")
def renew() -> Response:
    """The short address partners and posters link to (`/renew?partner=CODE`): the wizard's first step."""
    return redirect("/recharge")


@router.get("/recharge", response_class=HTMLResponse)
def recharge_offer(request: Request, db: Db, settings: Config, operator: OperatorId = None, msisdn: RawNumber = None,
                   error: Notice = None) -> HTMLResponse:
    wizard = _wizard(request)
    status = 200
    if msisdn is not None:  # an older reminder's link: /recharge?msisdn=+336...
        number = msisdn_or_error(msisdn, settings.default_region)
        if isinstance(number, SimkeepError):
            error, status = number.code, 422  # nothing stored
        else:
            wizard = _arrive(request, number)
    with db.transaction(write=False) as session:
        line = _known_line(session, request, wizard)
        # A known line fixes the operator; otherwise the one asked for, or chosen earlier.
        wanted = line.operator_id if line is not None else operator or wizard.get("operator") or portal.DEFAULT_OPERATOR
        choice = portal.offer_choice(session, wanted, line=line, now=clock.now())
    return render(request, "portal/recharge_offer.html", status=status, operators=choice.operators,
                  operator=choice.operator, quotes=choice.quotes, line=line, selected=wizard.get("offer"), step=1,
                  cards_accepted=portal.cards_accepted(settings),
                  error=error_text(language(request), error) if error else None)


def _arrive(request: Request, number: str) -> dict:
    """Where `?msisdn=` leaves the wizard: a verified number is the wizard's number; any other is only a prefill
    for the number step, unless the wizard already has this very number (Back to the link's page must not undo the
    steps taken since)."""
    wizard = _wizard(request)
    if number in verified_numbers(request):
        return _save_wizard(request, msisdn=number)
    if wizard.get("msisdn") == number:
        return wizard
    return _save_wizard(request, msisdn=None, prefill=number)


@router.post("/recharge/offer")
def recharge_choose_offer(request: Request, db: Db,
                          offer: Annotated[str, Form(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
                          _csrf: None = Csrf) -> Response:
    with db.transaction(write=False) as session:
        operator_id = catalog.operator_of_offer_or_none(session, offer)
    if operator_id is None:
        return redirect("/recharge?error=offer_not_found")
    wizard = _save_wizard(request, offer=offer, operator=operator_id, key=secrets.token_urlsafe(24), quote=None,
                          code=None)
    if _knows(request, wizard):  # a verified number, or one from a genuine link: no number step
        return redirect("/recharge/method")
    return redirect("/recharge/number")


@router.get("/recharge/number", response_class=HTMLResponse)
def recharge_number(request: Request, error: Notice = None) -> Response:
    wizard = _wizard(request)
    if "offer" not in wizard:
        return redirect("/recharge")
    return render(request, "portal/recharge_number.html", msisdn=wizard.get("msisdn") or wizard.get("prefill") or "",
                  step=2,
                  error=error_text(language(request), error) if error else None)


@router.post("/recharge/number", response_class=HTMLResponse)
def recharge_give_number(request: Request, db: Db, settings: Config, limits: Limits, lang: Lang,
                         msisdn: Annotated[str, Form(max_length=20_000)],
                         _csrf: None = Csrf) -> Response:
    """Any number may be renewed by anyone: no code. Whether it can be renewed is all this step tells."""
    wizard = _wizard(request)
    if "offer" not in wizard:
        return redirect("/recharge")
    number = msisdn_or_error(msisdn, settings.default_region)
    if isinstance(number, SimkeepError):
        return render(request, "portal/recharge_number.html", status=422, msisdn=msisdn[:32], step=2,
                      error=error_text(lang, number.code))
    if not limits.may_check_number(request):
        return render(request, "portal/recharge_number.html", status=429, msisdn=msisdn[:32], step=2,
                      error=error_text(lang, "rate_limited"))
    order = _order(request, db, number, wizard["offer"])
    if isinstance(order, str):
        return render(request, "portal/recharge_number.html", status=422, msisdn=msisdn[:32], step=2,
                      error=error_text(lang, order))
    _save_wizard(request, msisdn=number, quote=None, code=None)
    return redirect("/recharge/method")


@router.get("/recharge/method", response_class=HTMLResponse)
def recharge_method(request: Request, db: Db, settings: Config, error: Notice = None) -> Response:
    wizard = _wizard(request)
    order = _checked_order(request, db, wizard)
    if isinstance(order, Response):
        return order
    methods = available_methods(order.operator.id, settings)
    return render(request, "portal/recharge_method.html", methods=methods, selected=wizard.get("method"), step=3,
                  cards_accepted=portal.cards_accepted(settings),
                  error=error_text(language(request), error) if error else None)


@router.post("/recharge/method")
def recharge_choose_method(request: Request, settings: Config, method: Annotated[str, Form(max_length=32)] = "",
                           _csrf: None = Csrf) -> Response:
    if method not in available_methods(_wizard(request).get("operator", ""), settings):
        return redirect("/recharge/method?error=method_required")
    # A new checkout: after a declined or abandoned payment, "try again" must not find the old attempt.
    _save_wizard(request, method=method, key=secrets.token_urlsafe(24))
    return redirect("/recharge/summary")


@router.get("/recharge/summary", response_class=HTMLResponse)
def recharge_summary(request: Request, db: Db, settings: Config) -> Response:
    wizard = _wizard(request)
    order = _checked_order(request, db, wizard)
    if isinstance(order, Response):
        return order
    if wizard.get("method") not in available_methods(order.operator.id, settings):
        return redirect("/recharge/method")
    shown = _quote(request, db, settings, wizard, order)
    if isinstance(shown, str):
        return _summary(request, db, _wizard(request), order, None, error=shown)
    return _summary(request, db, _wizard(request), order, shown)


def _quote(request: Request, db: Database, settings, wizard: dict, order: portal.Order):
    """The wizard's quote while it still prices this order, else a new one (kept in the wizard); or an error code
    when the order cannot be quoted any more (a code whose campaign ended is dropped and the order quoted without)."""
    now = clock.now()
    with db.transaction(write=False) as session:
        held = portal.held_quote(session, wizard.get("quote"), order, now=now)
    if held is not None:
        return held
    code = wizard.get("code")
    try:
        quote = _new_quote(request, db, settings, order, code=code)
    except PromoCodeInvalid:
        quote = _new_quote(request, db, settings, order, code=None)
    _save_wizard(request, quote=str(quote.id), code=quote.code)
    return quote


def _new_quote(request: Request, db: Database, settings, order: portal.Order, *, code: str | None):
    now = clock.now()
    with db.transaction() as session:
        quote = portal.price_order(session, order, now=now, code=code, minutes=settings.quote_minutes,
                                   partner_code=partner.partner_of(request, settings, now=now))
        session.expunge(quote)
    return quote


def _summary(request: Request, db: Database, wizard: dict, order: portal.Order, shown, *, error: str | None = None,
             status: int | None = None, code: str | None = None) -> HTMLResponse:
    with db.transaction(write=False) as session:
        single = portal.month_prices(session, order.operator)
    offer = order.quote.offer
    month_by_month = single.get(offer.validity_days // offer.periods) if offer.periods > 1 else None
    return render(request, "portal/recharge_summary.html", status=status or (422 if error else 200),
                  msisdn=order.line.msisdn, operator=order.operator, order=order.quote, shown=shown, line=order.line,
                  method=wizard["method"], checkout_key=wizard["key"], step=4, known=_knows(request, wizard),
                  month_by_month=month_by_month * offer.periods if month_by_month else None,
                  code=code if code is not None else wizard.get("code") or "",
                  expires=formats.clock_time(shown.expires_at, reader_zone(request, order.operator.timezone),
                                             reader(request).locale) if shown is not None else None,
                  error=error_text(language(request), error) if error else None)


@router.post("/recharge/code", response_class=HTMLResponse)
def recharge_code(request: Request, db: Db, settings: Config, code: Code = "", _csrf: None = Csrf) -> Response:
    """A promo code typed on the summary (case-insensitive; empty: no code). A code that brings no campaign shows
    why and changes nothing: the quote shown stays the one to pay."""
    wizard = _wizard(request)
    order = _checked_order(request, db, wizard)
    if isinstance(order, Response):
        return order
    if wizard.get("method") not in available_methods(order.operator.id, settings):
        return redirect("/recharge/method")
    typed = code.strip()
    try:
        quote = _new_quote(request, db, settings, order, code=typed or None)
    except PromoCodeInvalid as exc:
        shown = _quote(request, db, settings, wizard, order)
        return _summary(request, db, _wizard(request), order, None if isinstance(shown, str) else shown,
                        error=exc.code, code=typed[:32])
    _save_wizard(request, quote=str(quote.id), code=quote.code)
    return redirect("/recharge/summary")


@router.post("/recharge/confirm")
def recharge_confirm(request: Request, db: Db, settings: Config, lang: Lang,
                     checkout_key: Annotated[str, Form(max_length=64)],
                     quote_id: Annotated[str, Form(max_length=64)] = "",
                     credit_only: Annotated[str, Form(max_length=8)] = "", _csrf: None = Csrf) -> Response:
    """Pays once: the checkout key is unique, so a double-click or a reload finds the first attempt. An offer that
    adds credit only is paid only with the box ticked that says so. It pays the quote the summary showed (its id
    in the form must be the wizard's: another is an altered or older page); a quote that cannot be paid any more is
    quoted again, and a different price is shown, never charged."""
    wizard = _wizard(request)
    order = _checked_order(request, db, wizard)
    if isinstance(order, Response):
        return order
    # A form without a quote id (a page from before quotes) pays the wizard's, which only the summary sets.
    quote_id = quote_id or wizard.get("quote") or ""
    if (checkout_key != wizard.get("key") or not quote_id or quote_id != wizard.get("quote")
            or wizard.get("method") not in available_methods(order.operator.id, settings)):
        return redirect("/recharge/summary")
    if order.quote.credit_only and credit_only != "yes":
        shown = _quote(request, db, settings, wizard, order)
        return _summary(request, db, _wizard(request), order, None if isinstance(shown, str) else shown,
                        error="credit_only_unconfirmed")
    try:
        attempt_id, next_action = portal.start_payment(db, settings, order, checkout_key=checkout_key,
                                                       method=wizard["method"], language=lang, quote_id=quote_id)
    except STALE:
        with db.transaction(write=False) as session:
            before = portal.held_quote(session, quote_id, order, now=clock.now()) or _find(session, quote_id)
        _save_wizard(request, quote=None)
        shown = _quote(request, db, settings, _wizard(request), order)
        if isinstance(shown, str):
            return redirect("/recharge/summary")
        if before is None or not portal.same_terms(before, shown):
            return _summary(request, db, _wizard(request), order, shown, error="price_changed", status=409)
        # The same price and terms as shown: pay the new quote.
        attempt_id, next_action = portal.start_payment(db, settings, order, checkout_key=checkout_key,
                                                       method=wizard["method"], language=lang,
                                                       quote_id=str(shown.id))
    remember_attempt(request, attempt_id)
    return redirect(_next_step(attempt_id, next_action))


def _find(session, quote_id: str):
    return portal.find_quote(session, quote_id)


def _next_step(attempt_id, next_action: dict | None) -> str:
    """A provider's hosted page, or simkeep's own page for actions it renders (QR, transfer details, card form)."""
    if not next_action:
        return f"/pay/{attempt_id}"
    return next_action["url"] if next_action["type"] == "redirect" else f"/pay/{attempt_id}/action"


def _order(request: Request, db: Database, msisdn: str, offer_id: str) -> portal.Order | str:
    """The order, or the error code to show. A browser that verified the number is told the precise reason; any
    other gets one answer for every reason a number cannot be renewed, except the validity cap, which it must be
    told to pick a smaller amount (that says only that this amount is too much)."""
    verified = msisdn in verified_numbers(request)
    try:
        with db.transaction(write=False) as session:
            return portal.renewal_order(session, msisdn=msisdn, offer_id=offer_id, now=clock.now())
    except ValidityCapReached as exc:
        return exc.code if verified else "validity_cap_amount"
    except (LineNotFound, portal.OperatorMismatch, LineNotRenewable) as exc:
        return exc.code if verified and not isinstance(exc, LineNotFound) else NOT_RENEWABLE


def _checked_order(request: Request, db: Database, wizard: dict) -> portal.Order | Response:
    """The order for the wizard's number and offer, or a redirect to the step that is missing."""
    if "offer" not in wizard:
        return redirect("/recharge")
    msisdn = wizard.get("msisdn")
    if not msisdn:
        return redirect("/recharge/number")
    order = _order(request, db, msisdn, wizard["offer"])
    if isinstance(order, str):
        # A verified line's operator or state: choose again among its offers; anything else: the number step.
        step = "/recharge" if order in ("operator_mismatch", "line_not_renewable", "validity_cap_reached",
                                        "validity_cap_amount") else "/recharge/number"
        return redirect(f"{step}?error={order}")
    return order


def _knows(request: Request, wizard: dict) -> bool:
    """Whether the wizard's number may show its line's validity: this browser verified it, or came by a genuine
    renewal link for it that has not expired."""
    msisdn = wizard.get("msisdn")
    if not msisdn:
        return False
    if msisdn in verified_numbers(request):
        return True
    return wizard.get("linked") == msisdn and clock.now() < datetime.fromisoformat(wizard["linked_until"])


def _known_line(session, request: Request, wizard: dict):
    """The live line of the wizard's number when the wizard knows it (_knows); None otherwise."""
    return lines.find_live_line(session, wizard["msisdn"]) if _knows(request, wizard) else None


def number_of(request: Request) -> str:
    """The number the recharge-card form starts from: the wizard's (checked, or only prefilled by a link), else the
    one number this browser verified, else none."""
    wizard = _wizard(request)
    verified = verified_numbers(request)
    return wizard.get("msisdn") or wizard.get("prefill") or (verified[0] if len(verified) == 1 else "")


def _wizard(request: Request) -> dict:
    return dict(request.session.get("wizard", {}))


def _save_wizard(request: Request, **changes) -> dict:
    wizard = {**_wizard(request), **changes}
    request.session["wizard"] = wizard
    return wizard
