"""A subscriber's eSIM: its QR code and activation code, as often as they like once signed in with the SMS code
(/lines/esim), and once without a session through the link the "your eSIM is ready" e-mail carries (/esim/TOKEN).

The link's page shows a button, not the code: mail scanners and link previews open links on their own, and only the
button (a POST) spends the one public view. The view is recorded with a guarded update, so two clicks racing show the
code once; every later visit asks to sign in, and shows neither the code nor the matching ID."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.core.errors import EsimLinkInvalid, SimkeepError
from simkeep.db import Database
from simkeep.line import service as lines
from simkeep.network import esim
from simkeep.portal.params import PageRoute, Text
from simkeep.store import esim as giving
from simkeep.web.deps import Config, Db
from simkeep.web.pages import Csrf, Lang, error_text, redirect, render, verified_numbers

router = APIRouter(include_in_schema=False, route_class=PageRoute)
PAGE = "/lines/esim"


def _signin(msisdn: str) -> str:
    return f"/signin?next={quote(f'{PAGE}?msisdn={quote(msisdn)}', safe='')}&msisdn={quote(msisdn)}"


@router.get(PAGE, response_class=HTMLResponse)
def mine(request: Request, db: Db, settings: Config, lang: Lang, msisdn: Text = "") -> Response:
    """The eSIM of one of this browser's verified lines."""
    if msisdn not in verified_numbers(request):
        return redirect(_signin(msisdn) if msisdn else "/signin?next=/lines")
    try:
        with db.transaction(write=False) as session:
            profile, code = giving.code_of_number(session, msisdn, settings)
    except SimkeepError as exc:
        return render(request, "portal/error.html", status=exc.status, error=error_text(lang, exc.code))
    return render(request, "portal/esim.html", msisdn=msisdn, profile=profile, code=code, svg=esim.qr_svg(code))


def _link(db: Database, settings: Settings, token: str) -> tuple[esim.Esim, str]:
    with db.transaction(write=False) as session:
        profile = esim.open_link(session, keys=settings.verifying_keys(giving.LINK_PURPOSE), token=token,
                                 max_age_seconds=giving.link_max_age(settings))
        line = lines.find_live_line_by_id(session, profile.line_id)
        if line is None:
            raise EsimLinkInvalid()
    return profile, line.msisdn


@router.get("/esim/{token}", response_class=HTMLResponse)
def link(request: Request, db: Db, settings: Config, lang: Lang, token: str) -> Response:
    try:
        profile, msisdn = _link(db, settings, token)
    except SimkeepError as exc:
        return render(request, "portal/error.html", status=404, error=error_text(lang, exc.code))
    if msisdn in verified_numbers(request):
        return redirect(f"{PAGE}?msisdn={quote(msisdn)}")
    return render(request, "portal/esim_link.html", msisdn=msisdn, token=token,
                  used=profile.shown_publicly_at is not None, signin=_signin(msisdn))


@router.post("/esim/{token}", response_class=HTMLResponse)
def show_once(request: Request, db: Db, settings: Config, lang: Lang, token: str, _csrf: None = Csrf) -> Response:
    try:
        profile, msisdn = _link(db, settings, token)
        with db.transaction() as session:
            first = esim.take_public_view(session, profile, now=clock.now())
            code = esim.activation_code(session, profile, key=esim.seal_key(settings)) if first else None
    except SimkeepError as exc:
        return render(request, "portal/error.html", status=404, error=error_text(lang, exc.code))
    if code is None:
        return render(request, "portal/esim_link.html", status=409, msisdn=msisdn, token=token, used=True,
                      signin=_signin(msisdn))
    return render(request, "portal/esim.html", msisdn=msisdn, profile=profile, code=code, svg=esim.qr_svg(code),
                  once=True, signin=_signin(msisdn))
