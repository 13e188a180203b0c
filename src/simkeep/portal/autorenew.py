"""Auto-renew in the portal: for a signed-in line, save a card, choose the offer and when to renew, turn it on or
off; and the one-tap link every auto-renew message carries (`/auto-renew/<signed token>`): pay now, or turn
auto-renew off, without signing in (the link went to the line's own phone)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.catalog import service as catalog
from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.line import service as lines
from simkeep.payment import flow
from simkeep.payment import service as payments
from simkeep.payment.models import PENDING
from simkeep.plan import autorenew
from simkeep.plan.autorenew_models import BEFORE_END, LOWEST_COST, MODES
from simkeep.portal.params import PageRoute
from simkeep.web.deps import Config, Db
from simkeep.web.pages import Csrf, Lang, error_text, redirect, render, verified_numbers

router = APIRouter(include_in_schema=False, route_class=PageRoute)
PAGE = "/lines/auto-renew"


def _page(msisdn: str) -> str:
    return f"{PAGE}?msisdn={msisdn.replace('+', '%2B')}"


@router.get(PAGE, response_class=HTMLResponse)
def page(request: Request, db: Db, settings: Config, lang: Lang, msisdn: str = "", error: str = "", plan: str = "",
         offer: str = "") -> Response:
    """`plan` and `offer` come from the keep-my-number page's "Renew automatically": the cheapest plan renews just
    before the number would be lost, the others some days before the validity ends, with the plan's first offer."""
    if msisdn not in verified_numbers(request):
        return redirect(f"/signin?next={PAGE}")
    with db.transaction(write=False) as session:
        line = lines.find_live_line(session, msisdn)
        if line is None:
            return redirect("/lines")
        operator = catalog.get_operator(session, line.operator_id)
        offers = [o for op, offers in catalog.list_operators(session) if op.id == operator.id for o in offers]
        setting = autorenew.setting_of(session, line.id)
        methods = autorenew.methods_of(session, line.id)
        charges = autorenew.charges_of(session, line.id)
    saver = flow.saving_provider("card", operator.id, settings)
    return render(request, "portal/autorenew.html", line=line, operator=operator, offers=offers, setting=setting,
                  methods=methods, charges=charges, sandbox_cards=saver == "sandbox", modes=MODES,
                  default_days=autorenew.DEFAULT_DAYS_BEFORE, max_days=autorenew.MAX_DAYS_BEFORE,
                  chosen_mode=LOWEST_COST if plan == "cheapest" else BEFORE_END, chosen_offer=offer,
                  error=error_text(lang, error) if error else None)


@router.post(f"{PAGE}/card")
def save_card(request: Request, db: Db, settings: Config, msisdn: Annotated[str, Form(max_length=32)],
              card_number: Annotated[str, Form(max_length=32)], _csrf: None = Csrf) -> Response:
    """The sandbox saves one of its test cards (entered on this page, as its setup form)."""
    if msisdn not in verified_numbers(request):
        return redirect(f"/signin?next={PAGE}")
    try:
        setup = flow.start_saving(db, settings, provider="sandbox", reference=uuid.uuid4().hex, return_url=PAGE,
                                  language="en")
        saved = flow.finish_saving(db, settings, provider="sandbox", setup_ref=setup.ref, test_card=card_number)
    except (SimkeepError, KeyError) as exc:
        return redirect(f"{_page(msisdn)}&error={getattr(exc, 'code', 'invalid_input')}")
    with db.transaction() as session:
        line = lines.find_live_line(session, msisdn)
        if line is not None:
            autorenew.save_method(session, line=line, provider="sandbox", method="card", saved=saved, now=clock.now())
    return redirect(_page(msisdn))


@router.post(f"{PAGE}/on")
def turn_on(request: Request, db: Db, msisdn: Annotated[str, Form(max_length=32)],
            offer_id: Annotated[str, Form(max_length=80)], mode: Annotated[str, Form(max_length=12)],
            method_id: Annotated[uuid.UUID, Form()], days_before: Annotated[int, Form()] = 3,
            _csrf: None = Csrf) -> Response:
    if msisdn not in verified_numbers(request):
        return redirect(f"/signin?next={PAGE}")
    try:
        with db.transaction() as session:
            line = lines.find_live_line(session, msisdn)
            if line is None:
                return redirect("/lines")
            autorenew.turn_on(session, line=line, offer_id=offer_id, mode=mode, method_id=method_id,
                              days_before=days_before, actor="portal", now=clock.now())
    except SimkeepError as exc:
        return redirect(f"{_page(msisdn)}&error={exc.code}")
    return redirect(_page(msisdn))


@router.post(f"{PAGE}/off")
def turn_off(request: Request, db: Db, msisdn: Annotated[str, Form(max_length=32)], _csrf: None = Csrf) -> Response:
    if msisdn not in verified_numbers(request):
        return redirect(f"/signin?next={PAGE}")
    with db.transaction() as session:
        line = lines.find_live_line(session, msisdn)
        if line is not None:
            autorenew.turn_off(session, line=line, actor="portal", now=clock.now())
    return redirect(_page(msisdn))


# -- the one-tap link ------------------------------------------------------------------------------------------------

def _charge(db, settings, token: str):
    with db.transaction(write=False) as session:
        charge = autorenew.charge_for_link(session, key=settings.key(autorenew.LINK_PURPOSE), token=token)
        line = lines.find_live_line_by_id(session, charge.line_id)
        setting = autorenew.setting_of(session, charge.line_id)
        operator = catalog.get_operator(session, line.operator_id) if line else None
    return charge, line, setting, operator


@router.get("/auto-renew/{token}", response_class=HTMLResponse)
def link_page(request: Request, db: Db, settings: Config, lang: Lang, token: str) -> Response:
    try:
        charge, line, setting, operator = _charge(db, settings, token)
    except SimkeepError as exc:
        return render(request, "portal/error.html", status=404, error=error_text(lang, exc.code))
    if line is None:
        return render(request, "portal/error.html", status=404, error=error_text(lang, "line_not_found"))
    return render(request, "portal/autorenew_link.html", charge=charge, line=line, setting=setting,
                  operator=operator, token=token, open=autorenew.is_open(charge))


@router.post("/auto-renew/{token}/pay")
def link_pay(request: Request, db: Db, settings: Config, lang: Lang, token: str, _csrf: None = Csrf) -> Response:
    """Pay this period now, on the wizard: a charge still waiting for its payer is closed at the provider first,
    so the period is never paid twice."""
    try:
        charge, line, _setting, _operator = _charge(db, settings, token)
    except SimkeepError as exc:
        return render(request, "portal/error.html", status=404, error=error_text(lang, exc.code))
    if line is None:
        return render(request, "portal/error.html", status=404, error=error_text(lang, "line_not_found"))
    if charge.attempt_id is not None:
        with db.transaction(write=False) as session:
            attempt = payments.get_attempt(session, charge.attempt_id)
        if attempt.status == PENDING and flow.cancel_off_session(db, settings, attempt) == "succeeded":
            return redirect(f"/auto-renew/{token}")
    return redirect(f"/recharge?msisdn={line.msisdn.replace('+', '%2B')}")


@router.post("/auto-renew/{token}/off")
def link_off(request: Request, db: Db, settings: Config, lang: Lang, token: str, _csrf: None = Csrf) -> Response:
    try:
        _charge_row, line, _setting, _operator = _charge(db, settings, token)
    except SimkeepError as exc:
        return render(request, "portal/error.html", status=404, error=error_text(lang, exc.code))
    if line is not None:
        with db.transaction() as session:
            autorenew.turn_off(session, line=line, actor="link", now=clock.now())
    return redirect(f"/auto-renew/{token}")
