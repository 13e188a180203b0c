"""Server-side sessions: create, find, save, rotate, end, list and purge.

The token a browser holds is 256 random bits (secrets.token_urlsafe(32)); the table keys rows by its SHA-256, so
a copy of the table gives no cookie that works. Expiry is twofold: idle (no request for a while) and absolute
(since sign-in), each chosen by the caller's Policy (staff sessions are shorter than a subscriber's).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from simkeep.core.ids import new_id
from simkeep.session import repository
from simkeep.session.models import WebSession

TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 64  # token_urlsafe(32) is 43 characters; anything much longer is not ours
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at moves at most once a minute: a page view costs one read
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class Policy:
    idle: timedelta
    absolute: timedelta


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def well_formed(token: str) -> bool:
    """Cheap check before any query: a forged or foreign cookie (e.g. an old signed one) is not even looked up."""
    return 20 <= len(token) <= MAX_TOKEN_LENGTH and set(token) <= _TOKEN_CHARS


def live(row: WebSession, now: datetime) -> bool:
    return row.idle_expires_at > now and row.expires_at > now


def find(session: Session, *, token: str, now: datetime) -> WebSession | None:
    """The live session this token opens, or None (unknown, forged or expired: the caller starts afresh)."""
    if not well_formed(token):
        return None
    row = repository.by_token_hash(session, token_hash(token))
    return row if row is not None and live(row, now) else None


def create(session: Session, *, data: dict, policy: Policy, now: datetime, staff_id: uuid.UUID | None = None,
           user_agent: str = "", client_address: str = "") -> tuple[WebSession, str]:
    """A new row and the token to put in the cookie (shown only here)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires = now + policy.absolute
    row = WebSession(id=new_id(), token_hash=token_hash(token), data=data, staff_id=staff_id, created_at=now,
                     last_seen_at=now, idle_expires_at=min(now + policy.idle, expires), expires_at=expires,
                     user_agent=user_agent[:200], client_address=client_address[:64])
    repository.insert(session, row)
    return row, token


def save(session: Session, *, row_id: uuid.UUID, data: dict | None, policy: Policy, expires_at: datetime,
         now: datetime) -> bool:
    """Store changed data (None: unchanged) and mark the session seen now. False if the row is gone."""
    values: dict[str, object] = {"last_seen_at": now, "idle_expires_at": min(now + policy.idle, expires_at)}
    if data is not None:
        values["data"] = data
    return repository.update_row(session, row_id, **values)


def needs_touch(last_seen_at: datetime, now: datetime) -> bool:
    return now - last_seen_at >= TOUCH_EVERY


def rotate(session: Session, *, row_id: uuid.UUID | None, data: dict, policy: Policy, now: datetime,
           staff_id: uuid.UUID | None, user_agent: str = "", client_address: str = "") -> tuple[WebSession, str]:
    """Sign-in: the old id stops working and the data moves to a new id (a cookie planted or stolen before the
    sign-in is worth nothing after it). The absolute expiry starts again from now."""
    if row_id is not None:
        repository.delete_row(session, row_id)
    return create(session, data=data, policy=policy, now=now, staff_id=staff_id, user_agent=user_agent,
                  client_address=client_address)


def end(session: Session, *, row_id: uuid.UUID) -> bool:
    return repository.delete_row(session, row_id)


def end_for_staff(session: Session, *, staff_id: uuid.UUID, session_id: uuid.UUID) -> bool:
    """End one of this staff member's sessions; another person's session id ends nothing."""
    return repository.delete_for_staff(session, staff_id, only=session_id) == 1


def end_all_for_staff(session: Session, *, staff_id: uuid.UUID, keep: uuid.UUID | None = None) -> int:
    return repository.delete_for_staff(session, staff_id, keep=keep)


def list_for_staff(session: Session, *, staff_id: uuid.UUID, now: datetime) -> list[WebSession]:
    return repository.live_for_staff(session, staff_id, now)


def live_counts_by_staff(session: Session, *, now: datetime) -> dict[uuid.UUID, int]:
    return repository.live_counts_by_staff(session, now)


def purge_expired(session: Session, *, now: datetime, limit: int = 1000) -> int:
    """Delete up to `limit` expired rows; the worker calls it on each sweep."""
    return repository.delete_expired(session, now, limit)
