"""Server-side sessions for people's pages only: API and webhook calls carry no cookie and need none.

The cookie holds only a random token; the data lives in the web_sessions table (simkeep.session). Pages keep
using `request.session` as a dict. After the page ran, the row is written only when the data changed (or to move
last_seen_at, at most once a minute), so a page view costs one read. An unknown, forged or expired cookie gets a
fresh empty session, never an error. Sign-in rotates the token (`rotate`, `sign_in_staff`), sign-out deletes the
row (`end`).

A PIN sign-in on a counter tablet (`sign_in_counter`) is a staff session marked with the tablet's id in its data: it
idles out after SIMKEEP_COUNTER_SESSION_IDLE_MINUTES instead of the back office's shorter idle limit (a shift at the
counter has quiet spells), and the store pages check that the tablet is still registered.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.cookies import SimpleCookie

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.db import Database
from simkeep.session import service as sessions
from simkeep.session.models import WebSession
from simkeep.web.client import client_address

MACHINE_PATHS = ("/api/", "/webhooks/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/static/", "/voice/")
COOKIE = "simkeep_session"
STATE = "simkeep.session"
COUNTER = "counter_device"  # in a PIN session's data: the id of the counter tablet it was opened on


@dataclass
class SessionState:
    """What the middleware knows about this request's session, and what the page asked it to do."""

    row_id: uuid.UUID | None = None
    staff_id: uuid.UUID | None = None
    expires_at: datetime | None = None
    last_seen_at: datetime | None = None
    original: bytes = b"{}"
    had_cookie: bool = False
    rotate: bool = False
    end: bool = False


def _dump(data: dict) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def policies(settings: Settings) -> tuple[sessions.Policy, sessions.Policy]:
    """(portal, staff) expiry."""
    return (sessions.Policy(idle=timedelta(minutes=settings.session_idle_minutes),
                            absolute=timedelta(hours=settings.session_absolute_hours)),
            sessions.Policy(idle=timedelta(minutes=settings.staff_session_idle_minutes),
                            absolute=timedelta(hours=settings.staff_session_absolute_hours)))


def counter_policy(settings: Settings) -> sessions.Policy:
    """A PIN session on a counter tablet: idle for a shift's quiet spells, the staff session's absolute limit."""
    return sessions.Policy(idle=timedelta(minutes=settings.counter_session_idle_minutes),
                           absolute=timedelta(hours=settings.staff_session_absolute_hours))


class ServerSessions:
    def __init__(self, app, settings: Settings, db: Database) -> None:
        self.app = app
        self.db = db
        self.settings = settings
        self.portal_policy, self.staff_policy = policies(settings)
        self.counter_policy = counter_policy(settings)
        self.secure = settings.cookie_secure

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(MACHINE_PATHS):
            return await self.app(scope, receive, send)
        token = _cookie(scope)
        state = SessionState(had_cookie=token is not None)
        row = await run_in_threadpool(self._find, token) if token else None
        if row is not None:
            state.row_id, state.staff_id = row.id, row.staff_id
            state.expires_at, state.last_seen_at = row.expires_at, row.last_seen_at
            state.original = _dump(row.data)
        scope["session"] = dict(row.data) if row is not None else {}
        scope[STATE] = state

        async def send_with_cookie(message) -> None:
            if message["type"] == "http.response.start":
                cookie = await run_in_threadpool(self._store, scope)
                if cookie is not None:
                    message.setdefault("headers", [])
                    message["headers"] = [*message["headers"], (b"set-cookie", cookie.encode("latin-1"))]
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _find(self, token: str) -> WebSession | None:
        if not sessions.well_formed(token):
            return None
        return self.db.read(lambda s: sessions.find(s, token=token, now=clock.now()))

    def _policy(self, state: SessionState, data: dict) -> sessions.Policy:
        if state.staff_id is None:
            return self.portal_policy
        return self.counter_policy if data.get(COUNTER) else self.staff_policy

    def _store(self, scope) -> str | None:
        """Write what changed; return the Set-Cookie value to send, if any."""
        state: SessionState = scope[STATE]
        data: dict = scope["session"]
        now = clock.now()
        row_id = state.row_id
        if state.end:
            if row_id is not None:
                self.db.write(lambda s: sessions.end(s, row_id=row_id))
            return self._cookie("", max_age=0) if state.had_cookie else None
        if state.rotate or (state.row_id is None and data):
            headers = dict(scope["headers"])
            agent = headers.get(b"user-agent", b"").decode("latin-1")
            address = client_address(HTTPConnection(scope), tuple(self.settings.trusted_proxies))
            policy = self._policy(state, data)
            _row, token = self.db.write(lambda s: sessions.rotate(
                s, row_id=state.row_id, data=data, policy=policy, now=now, staff_id=state.staff_id,
                user_agent=agent, client_address=address))
            return self._cookie(token, max_age=int(policy.absolute.total_seconds()))
        if row_id is None:
            return self._cookie("", max_age=0) if state.had_cookie else None  # a dead cookie: stop sending it
        assert state.expires_at is not None and state.last_seen_at is not None  # read with the row
        changed, expires_at = _dump(data) != state.original, state.expires_at
        if changed or sessions.needs_touch(state.last_seen_at, now):
            policy = self._policy(state, data)
            self.db.write(lambda s: sessions.save(s, row_id=row_id, data=data if changed else None,
                                                  policy=policy, expires_at=expires_at, now=now))
        return None

    def _cookie(self, value: str, *, max_age: int) -> str:
        parts = [f"{COOKIE}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)


def _cookie(scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed header is no session, never an error
                return None
            if COOKIE in jar:
                return jar[COOKIE].value
    return None


def state(request: HTTPConnection) -> SessionState:
    return request.scope[STATE]


def rotate(request: Request) -> None:
    """A person proved who they are: the session gets a new id when the response leaves (data kept)."""
    state(request).rotate = True


def sign_in_staff(request: Request, staff_id: uuid.UUID) -> None:
    """The session becomes this staff member's, under a new id, with the staff expiry starting now."""
    current = state(request)
    current.staff_id, current.rotate = staff_id, True
    request.session.pop(COUNTER, None)  # a password sign-in on a counter tablet is not a PIN session


def sign_in_counter(request: Request, staff_id: uuid.UUID, device_id: uuid.UUID) -> None:
    """A PIN sign-in on the counter tablet `device_id`: a staff session with the counter's idle limit."""
    sign_in_staff(request, staff_id)
    request.session[COUNTER] = str(device_id)


def counter_device(request: HTTPConnection) -> uuid.UUID | None:
    """The counter tablet this staff session was opened on by PIN, or None (a password session)."""
    value = request.scope["session"].get(COUNTER) if staff_id(request) is not None else None
    try:
        return uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


def end(request: Request) -> None:
    """Sign-out: the row is deleted and the cookie cleared; replaying the old cookie opens nothing."""
    request.session.clear()
    state(request).end = True


def current_id(request: HTTPConnection) -> uuid.UUID | None:
    return state(request).row_id


def staff_id(request: HTTPConnection) -> uuid.UUID | None:
    """The staff account this session was signed in to (set only by sign_in_staff after a full sign-in)."""
    current = state(request)
    return None if current.end else current.staff_id
