"""Request plumbing shared by every JSON endpoint and page: the database, settings, rate limits, the caller,
idempotency keys. Handlers take these as dependencies and never reach into `request.app.state` themselves."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from simkeep.auth import service as auth
from simkeep.auth.service import Principal
from simkeep.config import Settings
from simkeep.core.errors import Forbidden, IdempotencyKeyMissing, InvalidInput, SimkeepError, Unauthorized
from simkeep.db import Database
from simkeep.web.client import client_key
from simkeep.web.lane import DbLane
from simkeep.web.ratelimit import RateLimits

_CACHE_SECONDS = 30.0  # a revoked key stops working within this delay; it saves a query per request
MAX_TOKEN_LENGTH = 512  # API keys are ~50 characters; nothing longer is hashed or looked up


class TooManyFailedTokens(SimkeepError):
    code, status, message = "rate_limited", 429, "Too many wrong bearer tokens from this address; try again later."


# Dependencies are `async def` so FastAPI runs them inline: a plain `def` costs a threadpool hand-off each, and a
# request would pay five of them before the endpoint runs.


async def db_lane(request: Request) -> DbLane:
    return request.app.state.db_lane


async def settings(request: Request) -> Settings:
    return request.app.state.settings


async def database(request: Request) -> Database:
    return request.app.state.db


async def rate_limits(request: Request) -> RateLimits:
    return request.app.state.rate_limits


# Documents the bearer scheme in OpenAPI; auto_error=False so a missing token is simkeep's own 401 `unauthorized`.
_bearer = HTTPBearer(auto_error=False, description="An API key (`simkeep key create`) or the admin token.")


async def principal(request: Request, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(_bearer)] = None) -> Principal:
    """The caller of an API route. Wrong tokens are counted per client address (an IPv6 /64 counts as one): past
    the budget (SIMKEEP_BEARER_FAILURES_PER_IP) every token is refused with 429 until the window moves on, even a
    right one, so guessing learns nothing; a right token spends nothing."""
    if credentials is None:
        raise Unauthorized()
    token = credentials.credentials.strip()
    cfg: Settings = request.app.state.settings
    limits = request.app.state.rate_limits
    client = client_key(request, cfg.trusted_proxies)
    retry_after = limits.bearer_retry_after(client)
    if retry_after:
        raise TooManyFailedTokens(retry_after=retry_after)
    cache: dict[str, tuple[float, Principal]] = request.app.state.principals
    hit = cache.get(token)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    try:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise Unauthorized()
        who = await run_in_threadpool(request.app.state.db.read, lambda session: auth.authenticate(
            session, token=token, secret=cfg.verifying_keys("api_key"), admin_token=cfg.admin_token))
    except Unauthorized:
        limits.bearer_failed(client)
        raise
    if len(cache) > 10_000:
        cache.clear()
    cache[token] = (time.monotonic() + _CACHE_SECONDS, who)
    return who


def require(*roles: str) -> Callable[..., Awaitable[Principal]]:
    async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if who.role not in roles:
            raise Forbidden()
        return who

    return check


async def partner(who: Annotated[Principal, Depends(principal)]) -> Principal:
    """Any API role, except a key bound to a reseller: a float reseller tops up from its float
    (/api/v1/reseller/topups) and sees no subscriber's line, only masked numbers (issue 11)."""
    if who.role not in ("admin", "agent", "reseller"):
        raise Forbidden()
    if who.reseller_id is not None:
        raise Forbidden("A reseller's key tops up through /api/v1/reseller/topups and reads no subscriber's line.")
    return who


async def reseller_key(who: Annotated[Principal, Depends(principal)]) -> Principal:
    """An API key of role `reseller` bound to a reseller (its float, its purchases); any other token is 403."""
    if who.role != "reseller" or who.reseller_id is None:
        raise Forbidden("Only an API key of a reseller may call this route.")
    return who


IDEMPOTENCY_RULE = ("Required on requests that move money: 1 to 255 printable ASCII characters (space to `~`), "
                    "chosen by the client "
                    "(a UUID is a good choice). The same key with the same body answers the first result again, "
                    "with `Idempotent-Replayed: true`; the same key with a different body is refused with 409 "
                    "`idempotency_key_reused`. Keys are scoped to the caller's token.")


async def idempotency_key(idempotency_key: Annotated[str | None, Header(description=IDEMPOTENCY_RULE)] = None) -> str:
    """Documented as required in OpenAPI (web/openapi.py); missing, it is a 400 `idempotency_key_missing`."""
    if idempotency_key is None:
        raise IdempotencyKeyMissing()
    if not 1 <= len(idempotency_key) <= 255 or not all(" " <= c <= "~" for c in idempotency_key):
        raise InvalidInput("Idempotency-Key must be 1 to 255 printable ASCII characters.")
    return idempotency_key


AdminOnly = Annotated[Principal, Depends(require("admin"))]
Staff = Annotated[Principal, Depends(require("admin", "agent"))]
AnyRole = Annotated[Principal, Depends(require("admin", "agent", "reseller"))]
ResellerKey = Annotated[Principal, Depends(reseller_key)]
Partner = Annotated[Principal, Depends(partner)]
Lane = Annotated[DbLane, Depends(db_lane)]
Config = Annotated[Settings, Depends(settings)]
Db = Annotated[Database, Depends(database)]
Limits = Annotated[RateLimits, Depends(rate_limits)]
IdempotencyKey = Annotated[str, Depends(idempotency_key)]
