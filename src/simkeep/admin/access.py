"""The one dependency every back-office page uses: who is signed in, and may their role do this?

    member: Annotated[StaffMember, Depends(allowed("review.settle"))]

No session → 303 to the sign-in page (GET) or 401 (anything else), nothing done. A role without the permission →
403, nothing done. A one-time password not yet replaced → 303 to the account page. The member comes from the
server-side session (web.sessions) and a live, enabled account read by id."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from simkeep.core.errors import SimkeepError
from simkeep.db import Database
from simkeep.staff import roles, service
from simkeep.store import devices
from simkeep.store import service as stores
from simkeep.web import sessions as web_sessions
from simkeep.web.deps import Db


class StaffPageError(SimkeepError):
    """Errors the back office renders itself (admin.signin.install)."""


class SignInRequired(StaffPageError):
    code, status, message = "staff_signin_required", 401, "Sign in to the back office first."


class RoleForbidden(StaffPageError):
    code, status, message = "staff_forbidden", 403, "Your role does not allow this."


class PasswordChangeRequired(StaffPageError):
    code, status, message = "staff_password_change_required", 403, "Choose a new password first."


class StoreUnavailable(StaffPageError):
    code, status, message = "store_unavailable", 403, "Your account is not bound to an open store."


@dataclass(frozen=True)
class StaffMember:
    id: uuid.UUID
    username: str
    role: str
    session_id: uuid.UUID | None
    must_change_password: bool
    reseller_id: uuid.UUID | None = None  # role reseller: the one reseller whose /reseller pages this person sees
    store_id: uuid.UUID | None = None  # store roles: the one store whose console, drawers and sales this person sees

    @property
    def actor(self) -> str:
        return service.actor(self.username)

    def may(self, permission: str) -> bool:
        return roles.may(self.role, permission)


def allowed(permission: str | None, *, before_password_change: bool = False) -> Callable[..., Awaitable[StaffMember]]:
    """The dependency for a page that needs `permission` (None: any signed-in staff member)."""
    if permission is not None and permission not in roles.PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    async def dependency(request: Request, db: Db) -> StaffMember:
        member = await signed_in(request, db)
        if member is None:
            raise SignInRequired()
        if member.must_change_password and not before_password_change:
            raise PasswordChangeRequired()
        if permission is not None and not member.may(permission):
            raise RoleForbidden()
        return member

    return dependency


def in_store(permission: str) -> Callable[..., Awaitable[StaffMember]]:
    """The dependency of every counter page and store API route: `allowed(permission)` (same answers: no session,
    one-time password, role without the permission), and then the member's store, which must exist and be open
    (StoreUnavailable, 403, otherwise). A PIN session also needs its counter tablet still registered: once the
    tablet is revoked its sessions end here. Returns the same StaffMember, its store_id never None."""
    check_role = allowed(permission)
    if permission not in roles.STORE_PERMISSIONS:
        raise ValueError(f"{permission!r} is not a store permission")

    async def dependency(request: Request, db: Db) -> StaffMember:
        member = await check_role(request, db)
        store_id = member.store_id
        if store_id is None:
            raise StoreUnavailable()
        device_id = web_sessions.counter_device(request)

        def check(session) -> tuple[bool, bool]:
            try:
                store_open = stores.get_store(session, store_id).closed_at is None
            except stores.StoreNotFound:
                store_open = False
            return store_open, device_id is None or devices.live(session, device_id, store_id=store_id)

        store_open, tablet_live = await run_in_threadpool(db.read, check)
        if not tablet_live:
            web_sessions.end(request)  # the tablet was revoked: its PIN sessions are over
            raise SignInRequired()
        if not store_open:
            raise StoreUnavailable()
        return member

    return dependency


async def signed_in(request: Request, db: Database) -> StaffMember | None:
    account_id = web_sessions.staff_id(request)
    if account_id is None:
        return None
    account = await run_in_threadpool(db.read, lambda s: service.active(s, account_id))
    if account is None:
        return None
    return StaffMember(id=account.id, username=account.username, role=account.role,
                       session_id=web_sessions.current_id(request), must_change_password=account.must_change_password,
                       reseller_id=account.reseller_id, store_id=account.store_id)


def may_send_large(db: Database, permission: str) -> Callable[[dict], Awaitable[bool]]:
    """For web.limits.BodyLimit: a large body only from a live staff session whose role has `permission`
    (the session middleware has already looked the cookie up; this reads the account by id)."""

    async def check(scope: dict) -> bool:
        state = scope.get(web_sessions.STATE)
        account_id = state.staff_id if state is not None and not state.end else None
        if account_id is None:
            return False
        account = await run_in_threadpool(db.read, lambda s: service.active(s, account_id))
        return account is not None and not account.must_change_password and roles.may(account.role, permission)

    return check
