"""A store manager's counter pages: the store's tablets (/counter/devices: register "this tablet", list, revoke)
and the team (/counter/team: the store's agents, and a new PIN for one of them). Both need `store.manage` and see
the manager's own store only (access.in_store).

Registering puts a random token in a long-lived cookie (COOKIE: HttpOnly, SameSite=Strict, Secure over HTTPS, sent
to /counter pages only); the database keeps only its HMAC (store.devices). A PIN chosen by the manager is typed twice;
a generated one is shown once, on the page that answers the form."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from simkeep.admin.access import StaffMember, in_store
from simkeep.config import Settings
from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.db import Database
from simkeep.locale.languages import gettext
from simkeep.staff import flows, pins
from simkeep.store import devices
from simkeep.store import service as stores
from simkeep.web.deps import Config, Db
from simkeep.web.pages import N_, Csrf, Lang, language, redirect, render

router = APIRouter(prefix="/counter", include_in_schema=False)
Manager = Annotated[StaffMember, Depends(in_store("store.manage"))]
COOKIE = "simkeep_counter"
COOKIE_DAYS = 400  # browsers keep a cookie 400 days at most; a tablet used every day keeps it
TEXTS = {
    "device_name_invalid": N_("Name this tablet with 1 to 60 characters, for example “Counter 1”."),
    "device_not_found": N_("There is no such tablet."),
    "store_forbidden": N_("This belongs to another store."),
    "store_closed": N_("This store has left the network: it registers no tablet."),
    "staff_pin_weak": N_("A PIN has 4 to 8 digits and is not easy to guess: not one digit repeated (0000), not a run "
                         "(1234, 9876), not a pattern (1212)."),
    "staff_pin_mismatch": N_("The two PINs differ. Type the same PIN twice."),
    "staff_pin_forbidden": N_("You may set the PINs of your own store's agents only."),
    "staff_pin_not_store": N_("Only a store's agents and managers have a PIN."),
    "staff_not_found": N_("There is no such agent."),
}
DONE = {
    "registered": N_("This tablet is registered. Your agents can now sign in on it with their PIN."),
    "revoked": N_("Tablet revoked: its PIN pad no longer works and the sessions opened on it have ended."),
}


def text(lang: str, code: str) -> str:
    return gettext(lang, TEXTS.get(code, TEXTS["device_not_found"]))


def tablet_token(request: Request) -> str | None:
    return request.cookies.get(COOKIE)


def this_tablet(db: Database, settings: Settings, request: Request) -> devices.Tablet | None:
    """The live, registered tablet this browser is (its cookie), or None."""
    token = tablet_token(request)
    if not token:
        return None
    keys = settings.verifying_keys(devices.PURPOSE)
    return db.read(lambda s: devices.by_token(s, token=token, keys=keys))


def set_tablet_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(COOKIE, token, max_age=COOKIE_DAYS * 86400, path="/counter", httponly=True,
                        secure=settings.cookie_secure, samesite="strict")


# -- tablets --------------------------------------------------------------------------------------------------------

@router.get("/devices", response_class=HTMLResponse)
def device_list(request: Request, db: Db, settings: Config, member: Manager, done: str | None = None) -> Response:
    return _devices_page(request, db, settings, member, done=DONE.get(done or ""))


def _devices_page(request: Request, db: Database, settings: Settings, member: StaffMember, *, status: int = 200,
                  error: str | None = None, done: str | None = None, name: str = "") -> Response:
    assert member.store_id is not None  # in_store
    store_id = member.store_id
    with db.transaction(write=False) as session:
        store = stores.get_store(session, store_id)
        found = devices.of_store(session, store_id)
    current = this_tablet(db, settings, request)
    here = current.device.id if current is not None and current.store.id == store_id else None
    response = render(request, "counter/devices.html", status=status, member=member, store=store, devices=found,
                      here=here, error=error, done=gettext(language(request), done) if done else None, name=name,
                      tz=store.timezone)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/devices", response_class=HTMLResponse)
def register(request: Request, db: Db, settings: Config, lang: Lang, member: Manager,
             name: Annotated[str, Form(max_length=200)], _csrf: None = Csrf) -> Response:
    assert member.store_id is not None
    store_id = member.store_id
    try:
        _device, token = db.write(lambda s: devices.register(s, store_id=store_id, name=name, by=member.actor,
                                                             key=settings.key(devices.PURPOSE), now=clock.now()))
    except SimkeepError as exc:
        return _devices_page(request, db, settings, member, status=exc.status, error=text(lang, exc.code), name=name)
    response = redirect("/counter/devices?done=registered")
    set_tablet_cookie(response, token, settings)
    return response


@router.post("/devices/{device_id}/revoke", response_class=HTMLResponse)
async def revoke(request: Request, db: Db, settings: Config, lang: Lang, member: Manager, device_id: uuid.UUID,
                 _csrf: None = Csrf) -> Response:
    assert member.store_id is not None
    store_id = member.store_id
    try:
        await run_in_threadpool(db.write, lambda s: devices.revoke(s, device_id=device_id, store_id=store_id,
                                                                   by=member.actor, now=clock.now()))
    except SimkeepError as exc:
        return await run_in_threadpool(_devices_page, request, db, settings, member, status=exc.status,
                                       error=text(lang, exc.code))
    return redirect("/counter/devices?done=revoked")


# -- the team and their PINs ----------------------------------------------------------------------------------------

@router.get("/team", response_class=HTMLResponse)
def team(request: Request, db: Db, member: Manager) -> Response:
    return _team_page(request, db, member)


def _team_page(request: Request, db: Database, member: StaffMember, *, status: int = 200, error: str | None = None,
               done: str | None = None, generated: str | None = None, agent: str | None = None) -> Response:
    assert member.store_id is not None
    store_id = member.store_id
    with db.transaction(write=False) as session:
        store = stores.get_store(session, store_id)
        people = pins.of_store(session, store_id)
    response = render(request, "counter/team.html", status=status, member=member, store=store,
                      agents=[p for p in people if p.role == "agent"],
                      managers=[p for p in people if p.role != "agent"], error=error, done=done, generated=generated,
                      agent=agent, now=clock.now(), tz=store.timezone)
    response.headers["Cache-Control"] = "no-store"  # a generated PIN is shown on this page once
    return response


@router.post("/team/{username}/pin", response_class=HTMLResponse)
def reset_pin(request: Request, db: Db, lang: Lang, member: Manager, username: Annotated[str, Path(max_length=40)],
              pin: Annotated[str, Form(max_length=20)] = "", confirm: Annotated[str, Form(max_length=20)] = "",
              generate: Annotated[str, Form(max_length=10)] = "", _csrf: None = Csrf) -> Response:
    assert member.store_id is not None
    store_id = member.store_id
    person = db.read(lambda s: {a.username: a for a in pins.of_store(s, store_id)}.get(username[:40]))
    if person is None or person.role != "agent":
        return _team_page(request, db, member, status=404, error=text(lang, "staff_not_found"))
    try:
        chosen = flows.set_pin(db, account_id=person.id, pin=None if generate else pin, confirm=confirm,
                               by=member.actor, now=clock.now(), store_id=store_id)
    except SimkeepError as exc:
        return _team_page(request, db, member, status=exc.status, error=text(lang, exc.code), agent=person.username)
    done = gettext(lang, N_("New PIN set for %(name)s.")) % {"name": person.username}
    return _team_page(request, db, member, done=done, generated=chosen if generate else None,
                      agent=person.username)
