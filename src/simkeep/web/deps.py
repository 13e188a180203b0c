"""Request plumbing shared by every JSON endpoint: the database, the caller, idempotency keys."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from simkeep.auth import service as auth
from simkeep.auth.service import Principal
from simkeep.config import Settings
from simkeep.core.errors import Forbidden, IdempotencyKeyMissing, InvalidInput, Unauthorized
from simkeep.web.lane import DbLane

_CACHE_SECONDS = 30.0  # a revoked key stops working within this delay; it saves a query per request


# Dependencies are `async def` so FastAPI runs them inline: a plain `def` costs a threadpool hand-off each, and a
# request would pay five of them before the endpoint runs.


async def db_lane(request: Request) -> DbLane:
    return request.app.state.db_lane


async def settings(request: Request) -> Settings:
    return request.app.state.settings


async def principal(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthorized()
    token = authorization.removeprefix("Bearer ").strip()
    cache: dict[str, tuple[float, Principal]] = request.app.state.principals
    hit = cache.get(token)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    cfg: Settings = request.app.state.settings
    who = await run_in_threadpool(request.app.state.db.read, lambda session: auth.authenticate(
        session, token=token, secret=cfg.verifying_keys("api_key"), admin_token=cfg.admin_token))
    if len(cache) > 10_000:
        cache.clear()
    cache[token] = (time.monotonic() + _CACHE_SECONDS, who)
    return who


def require(*roles: str) -> Callable[..., Principal]:
    async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if who.role not in roles:
            raise Forbidden()
        return who

    return check


async def idempotency_key(idempotency_key: Annotated[str | None, Header()] = None) -> str:
    if idempotency_key is None:
        raise IdempotencyKeyMissing()
    if not 1 <= len(idempotency_key) <= 255 or not idempotency_key.isprintable():
        raise InvalidInput("Idempotency-Key must be 1 to 255 printable characters.")
    return idempotency_key


AdminOnly = Annotated[Principal, Depends(require("admin"))]
Staff = Annotated[Principal, Depends(require("admin", "agent"))]
AnyRole = Annotated[Principal, Depends(require("admin", "agent", "reseller"))]
Lane = Annotated[DbLane, Depends(db_lane)]
Config = Annotated[Settings, Depends(settings)]
IdempotencyKey = Annotated[str, Depends(idempotency_key)]
