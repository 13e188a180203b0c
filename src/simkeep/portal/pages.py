"""The subscriber portal: check a number, sign in by SMS code, renew online. Thin: parse, call a service, render.

This module holds the home and status pages and assembles the portal's one router from its parts: sign-in
(signin.py), the renewal wizard (wizard.py), the payment result pages (result.py) and recharge cards (card.py) and the store finder (stores.py). The language switch needs
no route: any page takes ?lang= and `render` remembers it in a cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.core import clock
from simkeep.network import esim as esims
from simkeep.portal import autorenew, card, esim, homescreen, keep, result, signin, stores, wizard
from simkeep.portal import service as portal
from simkeep.portal.params import OperatorId, PageRoute
from simkeep.receipt import service as receipts
from simkeep.web.deps import Config, Db
from simkeep.web.pages import Csrf, reader, redirect, render, verified_numbers

router = APIRouter(include_in_schema=False, route_class=PageRoute)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, db: Db, operator: OperatorId = None) -> HTMLResponse:
    with db.transaction(write=False) as session:
        choice = portal.offer_choice(session, operator or portal.DEFAULT_OPERATOR, now=clock.now())
    return render(request, "portal/home.html", operators=choice.operators, operator=choice.operator,
                  quotes=choice.quotes)


# -- status: my lines ------------------------------------------------------------------------------------------

@router.get("/lines", response_class=HTMLResponse)
def my_lines(request: Request, db: Db, settings: Config) -> Response:
    numbers = verified_numbers(request)
    if not numbers:
        return redirect("/signin?next=/lines")
    now = clock.now()
    with db.transaction(write=False) as session:
        statuses = portal.statuses(session, numbers, now=now)
        with_esim = esims.lines_with_esim(session, [s.view.line.id for s in statuses])
    secret = settings.key("receipt")
    # When this status was read, in the reader's zone: the offline page repeats it with the status it kept.
    return render(request, "portal/lines.html", statuses=statuses, seen_at=now, with_esim=with_esim,
                  cards_accepted=portal.cards_accepted(settings),
                  seen=signin.moment(now, reader(request).locale, request.cookies.get("tz")),
                  receipt_token=lambda receipt_id: receipts.token_for(secret, receipt_id))


@router.post("/lines/reminders")
def set_reminders(request: Request, db: Db, msisdn: Annotated[str, Form(max_length=32)],
                  wanted: Annotated[str, Form(max_length=8)],
                  _csrf: None = Csrf) -> Response:
    """Stop or resume reminders for one of this browser's verified lines."""
    if msisdn not in verified_numbers(request):
        return redirect("/signin?next=/lines")
    with db.transaction() as session:
        portal.set_reminders(session, msisdn, on=wanted != "off", now=clock.now())
    return redirect("/lines")


@router.get("/lines/add", response_class=HTMLResponse)
def add_line_form(request: Request) -> HTMLResponse:
    return render(request, "portal/signin.html", next="/lines", msisdn="", error=None, adding=True)


router.include_router(signin.router)
router.include_router(wizard.router)
router.include_router(result.router)
router.include_router(card.router)
router.include_router(homescreen.router)
router.include_router(stores.router)
router.include_router(autorenew.router)
router.include_router(keep.router)  # Keep my number until… (plan/)
router.include_router(esim.router)
