"""The renewal wizard: offer -> number -> code -> method -> summary -> confirm, then the result pages (result.py).

Its choices live in the session under "wizard"; each step sends people back to the first one that is missing."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.catalog import service as catalog
from simkeep.core import clock
from simkeep.core.errors import LineNotFound, LineNotRenewable, SimkeepError, ValidityCapReached
from simkeep.core.phone import lookup_msisdn
from simkeep.line import service as lines
from simkeep.payment.providers import available_methods
from simkeep.portal import service as portal
from simkeep.portal.signin import check_code, send_code
from simkeep.web.pages import Csrf, Lang, error_text, language, redirect, render, verified_numbers

router = APIRouter(include_in_schema=False)


@router.get("/recharge", response_class=HTMLResponse)
def recharge_offer(request: Request, operator: str | None = None, msisdn: str | None = None,
                   error: str | None = None) -> HTMLResponse:
    wizard = _wizard(request)
    if msisdn:
        wizard = _save_wizard(request, msisdn=msisdn)
    with request.app.state.db.transaction(write=False) as session:
        line = _known_line(session, request, wizard.get("msisdn"))
        # A known line fixes the operator; otherwise the one asked for, or chosen earlier.
        wanted = line.operator_id if line is not None else operator or wizard.get("operator") or portal.DEFAULT_OPERATOR
        choice = portal.offer_choice(session, wanted, line=line, now=clock.now())
    return render(request, "portal/recharge_offer.html", operators=choice.operators, operator=choice.operator,
                  quotes=choice.quotes, line=line, selected=wizard.get("offer"), step=1,
                  error=error_text(language(request), error) if error else None)


@router.post("/recharge/offer")
def recharge_choose_offer(request: Request, offer: Annotated[str, Form()], _csrf: None = Csrf) -> Response:
    with request.app.state.db.transaction(write=False) as session:
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
        number = lookup_msisdn(msisdn, request.app.state.settings.default_region)
    except SimkeepError as exc:
        return render(request, "portal/recharge_number.html", status=422, msisdn=msisdn, step=2,
                      error=error_text(lang, exc.code))
    _save_wizard(request, msisdn=number)
    if number in verified_numbers(request):
        return redirect("/recharge/method")
    return send_code(request, lang, number, "/recharge/method", form="portal/recharge_number.html",
                     code_page="/recharge/code", step=2)


@router.get("/recharge/code", response_class=HTMLResponse)
def recharge_code(request: Request, lang: Lang, error: str | None = None) -> Response:
    if not request.session.get("pending_number"):
        return redirect("/recharge/number")
    return render(request, "portal/code.html", msisdn=request.session["pending_number"], next="/recharge/method",
                  action="/recharge/code", error=error_text(lang, error) if error else None, step=3)


@router.post("/recharge/code", response_class=HTMLResponse)
def recharge_code_check(request: Request, lang: Lang, code: Annotated[str, Form()], _csrf: None = Csrf) -> Response:
    return check_code(request, lang, code, success="/recharge/method", action="/recharge/code")


@router.get("/recharge/method", response_class=HTMLResponse)
def recharge_method(request: Request, error: str | None = None) -> Response:
    wizard = _wizard(request)
    order = _checked_order(request, wizard)
    if isinstance(order, Response):
        return order
    methods = available_methods(order.operator.id, request.app.state.settings)
    return render(request, "portal/recharge_method.html", methods=methods, selected=wizard.get("method"), step=4,
                  error=error_text(language(request), error) if error else None)


@router.post("/recharge/method")
def recharge_choose_method(request: Request, method: Annotated[str, Form()] = "", _csrf: None = Csrf) -> Response:
    if method not in available_methods(_wizard(request).get("operator", ""), request.app.state.settings):
        return redirect("/recharge/method?error=method_required")
    # A new checkout: after a declined or abandoned payment, "try again" must not find the old attempt.
    _save_wizard(request, method=method, key=secrets.token_urlsafe(24))
    return redirect("/recharge/summary")


@router.get("/recharge/summary", response_class=HTMLResponse)
def recharge_summary(request: Request) -> Response:
    wizard = _wizard(request)
    order = _checked_order(request, wizard)
    if isinstance(order, Response):
        return order
    if wizard.get("method") not in available_methods(order.operator.id, request.app.state.settings):
        return redirect("/recharge/method")
    return render(request, "portal/recharge_summary.html", line=order.line, operator=order.operator,
                  quote=order.quote, method=wizard["method"], checkout_key=wizard["key"], step=5)


@router.post("/recharge/confirm")
def recharge_confirm(request: Request, lang: Lang, checkout_key: Annotated[str, Form()],
                     _csrf: None = Csrf) -> Response:
    """Pays once: the checkout key is unique, so a double-click or a reload finds the first attempt."""
    wizard = _wizard(request)
    order = _checked_order(request, wizard)
    if isinstance(order, Response):
        return order
    if checkout_key != wizard.get("key") or wizard.get("method") not in available_methods(
            order.operator.id, request.app.state.settings):
        return redirect("/recharge/summary")
    attempt_id, next_action = portal.start_payment(request.app.state.db, request.app.state.settings, order,
                                                   checkout_key=checkout_key, method=wizard["method"], language=lang)
    return redirect(_next_step(attempt_id, next_action))


def _next_step(attempt_id, next_action: dict | None) -> str:
    """A provider's hosted page, or simkeep's own page for actions it renders (QR, transfer details, card form)."""
    if not next_action:
        return f"/pay/{attempt_id}"
    return next_action["url"] if next_action["type"] == "redirect" else f"/pay/{attempt_id}/action"


def _checked_order(request: Request, wizard: dict) -> portal.Order | Response:
    """The order for the wizard's number and offer, or a redirect to the step that is missing."""
    if "offer" not in wizard:
        return redirect("/recharge")
    msisdn = wizard.get("msisdn")
    if not msisdn or msisdn not in verified_numbers(request):
        return redirect("/recharge/number")
    try:
        with request.app.state.db.transaction(write=False) as session:
            return portal.renewal_order(session, msisdn=msisdn, offer_id=wizard["offer"], now=clock.now())
    except LineNotFound:
        return redirect("/recharge/number")
    except (portal.OperatorMismatch, LineNotRenewable, ValidityCapReached) as exc:
        return redirect(f"/recharge?error={exc.code}")


def _known_line(session, request: Request, msisdn: str | None):
    """The live line of a number this browser verified; None for any other number."""
    if not msisdn or msisdn not in verified_numbers(request):
        return None
    return lines.find_live_line(session, msisdn)


def _wizard(request: Request) -> dict:
    return dict(request.session.get("wizard", {}))


def _save_wizard(request: Request, **changes) -> dict:
    wizard = {**_wizard(request), **changes}
    request.session["wizard"] = wizard
    return wizard
