"""Back-office sign-in (password, then a TOTP code; enrolment at an admin's first sign-in), first-admin setup with
the admin token, the account page (my sessions, password change) and sign-out."""

from __future__ import annotations

import hmac
import uuid
from datetime import datetime, timedelta
from typing import Annotated

import segno
from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from simkeep.admin.access import PasswordChangeRequired, SignInRequired, StaffMember, StaffPageError, allowed, signed_in
from simkeep.config import Settings
from simkeep.core import clock, sealed
from simkeep.core.errors import SimkeepError
from simkeep.db import Database
from simkeep.locale.languages import gettext
from simkeep.staff import flows, roles, service
from simkeep.staff.throttle import StaffThrottle
from simkeep.web import sessions as web_sessions
from simkeep.web.client import client_key
from simkeep.web.deps import Config, Db
from simkeep.web.pages import N_, Csrf, Lang, language, redirect, render

router = APIRouter(prefix="/admin", include_in_schema=False)
PENDING = "staff_pending"  # session key between the password and the code: account id, deadline, new secret

TEXTS = {
    "staff_denied": N_("This username or password is not right."),
    "staff_locked": N_("Too many failed attempts: this account is locked for a while. Try again later or ask an admin."),
    "staff_totp_wrong": N_("This code is not right. Type the 6 digits your authenticator app shows now."),
    "staff_totp_reused": N_("This code was used already. Wait for the next one."),
    "staff_signin_expired": N_("The sign-in took too long. Please start again."),
    "staff_signin_required": N_("Sign in to the back office first."),
    "staff_forbidden": N_("Your role does not allow this."),
    "staff_password_change_required": N_("Choose a new password first."),
    "staff_password_wrong": N_("The current password is not right."),
    "staff_password_weak": N_("Passwords have 12 to 256 characters, differ from the username, and both new ones must match."),
    "staff_username_invalid": N_("Usernames have 2 to 40 characters: a-z, 0-9, dot, dash, underscore."),
    "staff_username_taken": N_("A staff account with this username exists already."),
    "staff_setup_closed": N_("An admin account exists already: sign in instead."),
    "staff_setup_denied": N_("This admin token is not valid."),
    "rate_limited": N_("Too many attempts. Please wait a few minutes and try again."),
    "reseller_unavailable": N_("This reseller account is disabled. Ask the operator."),
    "store_unavailable": N_("Your account is not bound to an open store. Ask an admin."),
}


def text(lang: str, code: str) -> str:
    return gettext(lang, TEXTS.get(code, TEXTS["staff_denied"]))


def install(app: FastAPI) -> None:
    """Back-office errors: no session → the sign-in page (on the counter pages: the tablet's PIN pad); a one-time
    password → the account page."""

    @app.exception_handler(StaffPageError)
    async def _staff_error(request: Request, exc: StaffPageError) -> Response:
        if isinstance(exc, SignInRequired) and request.method in ("GET", "HEAD"):
            return redirect("/counter/signin" if _counter(request.url.path) else "/admin")
        if isinstance(exc, PasswordChangeRequired) and request.method in ("GET", "HEAD"):
            return redirect("/admin/account")
        return render(request, "portal/error.html", status=exc.status, error=text(language(request), exc.code))


def _counter(path: str) -> bool:
    return path == "/counter" or path.startswith("/counter/")


async def throttle(request: Request, settings: Config) -> StaffThrottle:
    """One per app, made at its first use: the sign-in and setup attempts per client address."""
    state = request.app.state
    if getattr(state, "staff_throttle", None) is None:
        state.staff_throttle = StaffThrottle(settings)
    return state.staff_throttle


async def client(request: Request, settings: Config) -> str:
    return client_key(request, tuple(settings.trusted_proxies))


Member = Annotated[StaffMember, Depends(allowed(None, before_password_change=True))]
Throttle = Annotated[StaffThrottle, Depends(throttle)]
Client = Annotated[str, Depends(client)]


# -- sign-in --------------------------------------------------------------------------------------------------------

@router.get("", response_class=HTMLResponse)
async def signin_form(request: Request, db: Db) -> Response:
    member = await signed_in(request, db)
    if member is not None:
        return redirect(roles.home(member.role))
    return render(request, "admin/login.html", error=None, username="")


@router.post("", response_class=HTMLResponse)
def signin(request: Request, db: Db, settings: Config, throttle: Throttle, client: Client, lang: Lang,
           username: Annotated[str, Form(max_length=200)], password: Annotated[str, Form(max_length=1000)],
           _csrf: None = Csrf) -> Response:
    if not throttle.may_sign_in(client):
        return render(request, "admin/login.html", status=429, error=text(lang, "rate_limited"), username=username)
    now = clock.now()
    outcome = flows.password_signin(db, settings, username=username, password=password, client=client, now=now)
    return _next_step(request, settings, lang, outcome, now, form="admin/login.html", username=username)


def _next_step(request: Request, settings: Settings, lang: str, outcome: service.Outcome, now: datetime, *, form: str,
               **context) -> Response:
    account = outcome.account
    if outcome.status == service.OK and account is not None:
        request.session.pop(PENDING, None)
        web_sessions.sign_in_staff(request, account.id)
        if account.must_change_password:
            return redirect("/admin/account")
        return redirect(roles.home(account.role))
    if outcome.status in (service.NEED_TOTP, service.NEED_ENROLMENT) and account is not None:
        pending = {"id": str(account.id),
                   "until": (now + timedelta(seconds=service.PENDING_SECONDS)).isoformat()}
        if outcome.status == service.NEED_ENROLMENT:
            secret = service.new_totp_secret()  # kept sealed in the session until a code confirms it
            pending["new"] = sealed.seal(secret, key=settings.key("totp"),
                                         context=f"pending:{account.id}")
        request.session[PENDING] = pending
        return redirect("/admin/totp")
    code = {service.LOCKED: "staff_locked", service.REUSED: "staff_totp_reused"}.get(
        outcome.status, "staff_denied" if form == "admin/login.html" else "staff_totp_wrong")
    return render(request, form, status=401 if outcome.status != service.LOCKED else 423, error=text(lang, code),
                  **context)


def _pending(request: Request, settings: Settings, now: datetime) -> tuple[uuid.UUID, str | None] | None:
    """(account id, secret being enrolled or None) while the second step is open."""
    pending = request.session.get(PENDING)
    if not isinstance(pending, dict):
        return None
    try:
        account_id = uuid.UUID(pending["id"])
        if datetime.fromisoformat(pending["until"]) <= now:
            return None
    except (KeyError, ValueError, TypeError):
        return None
    secret = None
    if pending.get("new"):
        secret = sealed.open_sealed(pending["new"], keys=settings.verifying_keys("totp"),
                                    context=f"pending:{account_id}")
        if secret is None:
            return None
    return account_id, secret


@router.get("/totp", response_class=HTMLResponse)
def totp_form(request: Request, db: Db, settings: Config) -> Response:
    pending = _pending(request, settings, clock.now())
    if pending is None:
        request.session.pop(PENDING, None)
        return redirect("/admin")
    return _totp_page(request, db, settings, pending, error=None)


def _totp_page(request: Request, db: Database, settings: Settings, pending: tuple[uuid.UUID, str | None], *,
               error: str | None, status: int = 200) -> Response:
    """The code form, with the failures the account may still take before it locks (said only after the
    password was right: the sign-in form tells nothing that would confirm a username)."""
    account_id, secret = pending
    account = db.read(lambda s: service.get(s, account_id))
    if account is None:
        return redirect("/admin")  # the account was deleted meanwhile: start again
    enrol = None
    if secret is not None:
        uri = service.totp_uri(secret, account.username)
        enrol = {"svg": segno.make(uri, error="m").svg_inline(scale=4, omitsize=False),
                 "secret": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)), "uri": uri}
    response = render(request, "admin/totp.html", status=status, enrol=enrol, error=error,
                      tries=service.tries_left(account, flows.lockout(settings)))
    response.headers["Cache-Control"] = "no-store"  # the enrolment secret is on this page
    return response


@router.post("/totp", response_class=HTMLResponse)
def totp_check(request: Request, db: Db, settings: Config, throttle: Throttle, client: Client, lang: Lang,
               code: Annotated[str, Form(max_length=20)], _csrf: None = Csrf) -> Response:
    now = clock.now()
    pending = _pending(request, settings, now)
    if pending is None:
        request.session.pop(PENDING, None)
        return render(request, "admin/login.html", status=401, error=text(lang, "staff_signin_expired"), username="")
    if not throttle.may_sign_in(client):
        return _totp_page(request, db, settings, pending, status=429, error=text(lang, "rate_limited"))
    account_id, secret = pending
    outcome = flows.totp_signin(db, settings, account_id=account_id, code=code, client=client, now=now,
                                enrolling=secret)
    if outcome.status == service.LOCKED:
        request.session.pop(PENDING, None)
        return render(request, "admin/login.html", status=423, error=text(lang, "staff_locked"), username="")
    if outcome.status in (service.OK, service.NEED_TOTP, service.NEED_ENROLMENT):
        return _next_step(request, settings, lang, outcome, now, form="admin/login.html", username="")
    code_key = "staff_totp_reused" if outcome.status == service.REUSED else "staff_totp_wrong"
    return _totp_page(request, db, settings, pending, status=401, error=text(lang, code_key))


# -- first admin ----------------------------------------------------------------------------------------------------

@router.get("/setup", response_class=HTMLResponse)
def setup_form(request: Request, db: Db, lang: Lang) -> Response:
    if db.read(service.admin_exists):
        return render(request, "admin/setup.html", status=403, closed=True, error=text(lang, "staff_setup_closed"))
    return render(request, "admin/setup.html", closed=False, error=None)


@router.post("/setup", response_class=HTMLResponse)
def setup(request: Request, db: Db, settings: Config, throttle: Throttle, client: Client, lang: Lang, token: Annotated[str, Form(max_length=500)],
          username: Annotated[str, Form(max_length=200)], password: Annotated[str, Form(max_length=1000)],
          confirm: Annotated[str, Form(max_length=1000)], _csrf: None = Csrf) -> Response:
    if not throttle.may_set_up(client):
        return render(request, "admin/setup.html", status=429, closed=False, error=text(lang, "rate_limited"))
    if db.read(service.admin_exists):
        return render(request, "admin/setup.html", status=403, closed=True, error=text(lang, "staff_setup_closed"))
    expected = settings.admin_token or ""
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        return render(request, "admin/setup.html", status=403, closed=False, error=text(lang, "staff_setup_denied"))
    if password != confirm:
        return render(request, "admin/setup.html", status=422, closed=False, error=text(lang, "staff_password_weak"))
    try:
        flows.setup(db, username=username, password=password, now=clock.now())
    except SimkeepError as exc:
        closed = isinstance(exc, service.SetupClosed)
        return render(request, "admin/setup.html", status=exc.status, closed=closed, error=text(lang, exc.code))
    return redirect("/admin")


# -- my account -----------------------------------------------------------------------------------------------------

@router.get("/account", response_class=HTMLResponse)
def account(request: Request, db: Db, member: Member, done: str | None = None) -> Response:
    return _account_page(request, db, member, done=done)


def _account_page(request: Request, db: Database, member: StaffMember, *, status: int = 200, error: str | None = None,
                  done: str | None = None) -> Response:
    now = clock.now()
    rows = db.read(lambda s: service.sessions_of(s, account_id=member.id, now=now))
    response = render(request, "admin/account.html", status=status, member=member, staff=member.username,
                      sessions=rows, current=member.session_id, error=error,
                      done=done in ("password", "ended"))
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/account/password", response_class=HTMLResponse)
def change_password(request: Request, db: Db, lang: Lang, member: Member, current: Annotated[str, Form(max_length=1000)],
                    new: Annotated[str, Form(max_length=1000)], confirm: Annotated[str, Form(max_length=1000)],
                    _csrf: None = Csrf) -> Response:
    try:
        flows.change_own_password(db, account_id=member.id, current=current, new=new, confirm=confirm,
                                  keep_session=member.session_id, now=clock.now())
    except SimkeepError as exc:
        return _account_page(request, db, member, status=exc.status, error=text(lang, exc.code))
    web_sessions.rotate(request)  # a new id for the session that changed the password, too
    return redirect("/admin/account?done=password")


@router.post("/account/sessions/{session_id}/end")
def end_session(request: Request, db: Db, client: Client, member: Member, session_id: uuid.UUID,
                _csrf: None = Csrf) -> Response:
    db.write(lambda s: service.end_session(s, account=_account(s, member), session_id=session_id, client=client,
                                           now=clock.now()))
    if session_id == member.session_id:
        web_sessions.end(request)
        return redirect("/admin")
    return redirect("/admin/account?done=ended")


@router.post("/signout")
async def signout(request: Request, db: Db, client: Client, _csrf: None = Csrf) -> Response:
    member = await signed_in(request, db)
    if member is not None:
        await run_in_threadpool(db.write, lambda s: service.signed_out(
            s, account=_account(s, member), client=client, now=clock.now()))
    web_sessions.end(request)
    return redirect("/admin")


def _account(session, member: StaffMember):
    return service.get(session, member.id)
