"""API keys and bearer-token authentication. Keys are stored as HMAC-SHA256 under the deployment secret."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from simkeep.auth.models import ROLES, ApiKey
from simkeep.core.errors import InvalidInput, Unauthorized
from simkeep.core.ids import new_id

ADMIN_PRINCIPAL = "admin-token"


@dataclass(frozen=True, slots=True)
class Principal:
    id: str  # scopes idempotency keys: two clients may pick the same key without colliding
    role: str
    reseller_id: uuid.UUID | None = None  # the reseller a `reseller` key acts for


def key_hash(secret: str, key: str) -> str:
    return hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()


def create_api_key(session: Session, *, name: str, role: str, secret: str, now: datetime,
                   reseller_id: uuid.UUID | None = None) -> tuple[ApiKey, str]:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    if reseller_id is not None and role != "reseller":
        raise InvalidInput("only a reseller key acts for a reseller")
    plaintext = f"sk_{role}_{secrets.token_urlsafe(32)}"
    row = dict(id=new_id(), name=name, role=role, key_hash=key_hash(secret, plaintext), created_at=now, revoked_at=None,
               reseller_id=reseller_id)
    session.execute(insert(ApiKey.__table__), [row])
    return ApiKey(**row), plaintext


def authenticate(session: Session, *, token: str, secret: str | Sequence[str], admin_token: str | None) -> Principal:
    """`secret` may list every key that still matches, current first (Settings.verifying_keys): keys hashed before a
    rotation keep working while their key is listed."""
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return Principal(ADMIN_PRINCIPAL, "admin")
    hashes = [key_hash(k, token) for k in ([secret] if isinstance(secret, str) else secret)]
    key = session.scalars(select(ApiKey).where(ApiKey.key_hash.in_(hashes))).first()
    if key is None or key.revoked_at is not None:
        raise Unauthorized()
    return Principal(f"key:{key.id}", key.role, key.reseller_id)
