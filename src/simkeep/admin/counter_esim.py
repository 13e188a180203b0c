"""eSIM at the counter: the agent gives the customer's line an eSIM (its first SIM, or in place of its card) and the
QR code and activation code appear on the screen for the customer to scan, with a print button. Staff are signed in,
so the page shows the code as often as asked; it is never cached (Cache-Control: no-store)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.admin.counter import Agent, Msisdn
from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.core.phone import lookup_msisdn
from simkeep.network import esim
from simkeep.store import esim as giving
from simkeep.web.deps import Config, Db
from simkeep.web.pages import Csrf, Lang, error_text, redirect, render

router = APIRouter(prefix="/counter", include_in_schema=False)


@router.post("/lines/{msisdn}/esim", response_class=HTMLResponse)
def give(request: Request, db: Db, settings: Config, lang: Lang, member: Agent, msisdn: Msisdn,
         _csrf: None = Csrf) -> Response:
    try:
        number = lookup_msisdn(msisdn, settings.default_region)
        with db.transaction() as session:
            giving.give_esim(session, msisdn=number, actor=member.actor, settings=settings, now=clock.now())
    except SimkeepError as exc:
        return _page(request, member, msisdn, error=error_text(lang, exc.code), status=exc.status)
    return redirect(f"/counter/lines/{quote(number)}/esim")


@router.get("/lines/{msisdn}/esim", response_class=HTMLResponse)
def show(request: Request, db: Db, settings: Config, lang: Lang, member: Agent, msisdn: Msisdn) -> Response:
    try:
        number = lookup_msisdn(msisdn, settings.default_region)
        with db.transaction(write=False) as session:
            profile, code = giving.code_of_number(session, number, settings)
    except SimkeepError as exc:
        return _page(request, member, msisdn, error=error_text(lang, exc.code), status=exc.status)
    return _page(request, member, number, profile=profile, code=code, svg=esim.qr_svg(code))


def _page(request: Request, member, msisdn: str, *, status: int = 200, **context) -> Response:
    response = render(request, "counter/esim.html", status=status, member=member, msisdn=msisdn[:32],
                      **{"error": None, "profile": None, "code": None, "svg": "", **context})
    response.headers["Cache-Control"] = "no-store"
    return response
