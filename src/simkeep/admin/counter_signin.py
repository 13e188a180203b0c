"""The PIN pad on a registered counter tablet (/counter/signin): the store's people as big tiles, then a PIN pad.

Only on a tablet a store manager registered (its cookie, admin.devices), not revoked, of an open store; any other
browser gets a page saying so, with the way to the normal sign-in. A PIN opens a staff session of the tablet's store
only, marked as a counter session (web.sessions.sign_in_counter: it idles out after
SIMKEEP_COUNTER_SESSION_IDLE_MINUTES). Wrong PINs count toward the account's lockout like wrong passwords, and the
per-address throttle is the password sign-in's. "Switch agent" (/counter/switch) signs the person out and shows the
tiles again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from simkeep.admin.access import signed_in
from simkeep.admin.devices import this_tablet
from simkeep.admin.signin import Client, Throttle
from simkeep.admin.signin import text as signin_text
from simkeep.config import Settings
from simkeep.core import clock
from simkeep.db import Database
from simkeep.locale.languages import gettext
from simkeep.staff import flows, pins, roles, service
from simkeep.store import devices
from simkeep.web import sessions as web_sessions
from simkeep.web.deps import Config, Db
from simkeep.web.pages import N_, Csrf, Lang, language, redirect, render

router = APIRouter(prefix="/counter", include_in_schema=False)
TEXTS = {
    "denied": N_("This name or PIN is not right."),
    pins.PIN_WRONG: N_("This PIN is not right."),
    pins.OTHER_STORE: N_("This person does not work at this tablet's store."),
    pins.NO_PIN: N_("You have no PIN yet: ask your store manager to set one."),
    pins.CHANGE_PASSWORD: N_("Choose your own password first: sign in on the back office with the one-time password "
                             "you were given, then come back to this tablet."),
}
STATUS = {service.DENIED: 401, pins.PIN_WRONG: 401, service.LOCKED: 423, pins.OTHER_STORE: 403, pins.NO_PIN: 409,
          pins.CHANGE_PASSWORD: 403}


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _unregistered(request: Request) -> Response:
    return _no_store(render(request, "counter/unregistered.html", status=403))


def _tiles(request: Request, db: Database, tablet: devices.Tablet, *, status: int = 200,
           error: str | None = None) -> Response:
    people = db.read(lambda s: devices.signin_tiles(s, tablet.store.id))
    return _no_store(render(request, "counter/signin.html", status=status, tablet=tablet, people=people,
                            error=error))


def _pad(request: Request, db: Database, settings: Settings, tablet: devices.Tablet, username: str, *,
         status: int = 200, error: str | None = None, locked: bool = False) -> Response:
    """The PIN pad for one person of the tablet's store (the tiles again if there is no such person here)."""
    people = db.read(lambda s: devices.signin_tiles(s, tablet.store.id))
    person = next((p for p in people if p.username == service.normalize_username(username)[:40]), None)
    if person is None:
        return _tiles(request, db, tablet, status=status if error else 404,
                      error=error or gettext(language(request), TEXTS["denied"]))
    tries = service.tries_left(person, flows.lockout(settings))
    return _no_store(render(request, "counter/pin.html", status=status, tablet=tablet, person=person, error=error,
                            tries=tries, locked=locked or (person.locked_until is not None
                                                           and person.locked_until > clock.now())))


@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, db: Db, settings: Config,
                user: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    tablet = this_tablet(db, settings, request)
    if tablet is None:
        return _unregistered(request)
    if user:
        return _pad(request, db, settings, tablet, user)
    return _tiles(request, db, tablet)


@router.post("/signin", response_class=HTMLResponse)
def signin(request: Request, db: Db, settings: Config, throttle: Throttle, client: Client, lang: Lang,
           username: Annotated[str, Form(max_length=200)], pin: Annotated[str, Form(max_length=200)],
           _csrf: None = Csrf) -> Response:
    tablet = this_tablet(db, settings, request)
    if tablet is None:
        return _unregistered(request)
    if not throttle.may_sign_in(client):
        return _pad(request, db, settings, tablet, username, status=429, error=signin_text(lang, "rate_limited"))
    now = clock.now()
    device = tablet.device
    outcome = flows.pin_signin(db, settings, username=username, pin=pin, store_id=tablet.store.id,
                               device_id=device.id, device_name=device.name, client=client, now=now)
    account = outcome.account
    if outcome.status == service.OK and account is not None:
        db.write(lambda s: devices.used(s, device_id=device.id, now=now))
        web_sessions.sign_in_counter(request, account.id, device.id)
        return redirect(roles.home(account.role))
    status = STATUS.get(outcome.status, 401)
    if outcome.status == service.LOCKED:
        return _pad(request, db, settings, tablet, username, status=status, error=signin_text(lang, "staff_locked"),
                    locked=True)
    error = gettext(lang, TEXTS.get(outcome.status, TEXTS["denied"]))
    return _pad(request, db, settings, tablet, username, status=status, error=error)


@router.post("/switch")
async def switch(request: Request, db: Db, client: Client, _csrf: None = Csrf) -> Response:
    """"Switch agent": the person at the counter is signed out; the tiles are shown again."""
    member = await signed_in(request, db)
    if member is not None:
        member_id = member.id

        def record(session) -> None:
            account = service.get(session, member_id)
            if account is not None:
                service.signed_out(session, account=account, client=client, now=clock.now())

        await run_in_threadpool(db.write, record)
    web_sessions.end(request)
    return redirect("/counter/signin")
