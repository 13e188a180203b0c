"""Counter tablets: a store manager registers the shared tablet at the counter ("this tablet"), and the store's
agents then sign in on it with their short PIN instead of a password.

The browser keeps a random 32-byte token in a long-lived cookie; the table keeps only HMAC-SHA256(key, token) with
the key derived for "counter_device" (SIMKEEP_SECRET_KEY; tokens made under a previous secret still match through
the previous keys), so a copy of the table opens no tablet. A revoked tablet opens nothing: its PIN pad is gone and
the sessions opened on it end at their next request. Every registration and revocation is audited."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from simkeep.audit import service as audit
from simkeep.core.errors import InvalidInput, NotFound
from simkeep.core.ids import new_id
from simkeep.db import rowcount
from simkeep.staff import pins
from simkeep.staff.models import StaffAccount
from simkeep.store import service as stores
from simkeep.store.models import CounterDevice, Store

PURPOSE = "counter_device"  # Settings.key(PURPOSE) keys the token hashes
TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 64  # token_urlsafe(32) is 43 characters
MAX_NAME = 60


class DeviceNameInvalid(InvalidInput):
    code, message = "device_name_invalid", f"Name the tablet (1 to {MAX_NAME} characters), e.g. \"Counter 1\"."


class DeviceNotFound(NotFound):
    code, message = "device_not_found", "There is no such counter tablet."


@dataclass(frozen=True, slots=True)
class Tablet:
    """A live (registered, not revoked) counter tablet and its open store."""

    device: CounterDevice
    store: Store


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str, *, key: str) -> str:
    return hmac.new(key.encode(), token.encode(), hashlib.sha256).hexdigest()


def well_formed(token: str) -> bool:
    return 20 <= len(token) <= MAX_TOKEN_LENGTH and all(c.isascii() and (c.isalnum() or c in "-_") for c in token)


def check_name(name: str) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= MAX_NAME or not name.isprintable():
        raise DeviceNameInvalid()
    return name


def register(session: Session, *, store_id: uuid.UUID, name: str, by: str, key: str,
             now: datetime) -> tuple[CounterDevice, str]:
    """A new tablet of an open store; returns it and the token for the browser's cookie (shown only here)."""
    name = check_name(name)
    store = stores.get_store(session, store_id)
    if store.closed_at is not None:
        raise stores.StoreClosed()
    token = new_token()
    row = dict(id=new_id(), store_id=store.id, name=name, token_hash=token_hash(token, key=key), registered_by=by,
               registered_at=now, last_used_at=None, revoked_at=None)
    session.execute(insert(CounterDevice.__table__), [row])
    audit.record(session, actor=by, action="store.device_registered", subject_type="counter_device",
                 subject_id=str(row["id"]), reason=f"counter tablet {name} registered for {store.code}",
                 details={"store": store.code}, now=now)
    return CounterDevice(**row), token


def by_token(session: Session, *, token: str | None, keys: list[str]) -> Tablet | None:
    """The live tablet this cookie token opens, with its store; None for no token, an unknown or revoked tablet,
    or a store that left the network."""
    if not token or not well_formed(token):
        return None
    hashes = [token_hash(token, key=key) for key in keys]
    found = session.execute(select(CounterDevice, Store).join(Store, Store.id == CounterDevice.store_id)
                            .where(CounterDevice.token_hash.in_(hashes))).first()
    if found is None:
        return None
    device, store = found
    if device.revoked_at is not None or store.closed_at is not None:
        return None
    return Tablet(device, store)


def live(session: Session, device_id: uuid.UUID, *, store_id: uuid.UUID) -> bool:
    """Is this tablet of this store still registered (a PIN session's check at each request)?"""
    return session.scalar(select(CounterDevice.id).where(CounterDevice.id == device_id,
                                                         CounterDevice.store_id == store_id,
                                                         CounterDevice.revoked_at.is_(None))) is not None


def of_store(session: Session, store_id: uuid.UUID) -> list[CounterDevice]:
    """A store's tablets, live ones first, newest first."""
    return list(session.scalars(select(CounterDevice).where(CounterDevice.store_id == store_id)
                                .order_by(CounterDevice.revoked_at.is_not(None), CounterDevice.registered_at.desc(),
                                          CounterDevice.id)))


def get(session: Session, device_id: uuid.UUID, *, store_id: uuid.UUID | None) -> CounterDevice:
    """The tablet, if it is `store_id`'s (None: any store, for an admin): 404 when missing, 403 when another's."""
    device = session.get(CounterDevice, device_id)
    if device is None:
        raise DeviceNotFound()
    return device if store_id is None else stores.in_store(device, store_id)


def revoke(session: Session, *, device_id: uuid.UUID, store_id: uuid.UUID | None, by: str, reason: str = "",
           now: datetime) -> bool:
    """Revoke a tablet (of `store_id` when given): its PIN pad stops working and its PIN sessions end. False if it
    was revoked already (nothing changes, nothing is audited again)."""
    device = get(session, device_id, store_id=store_id)
    result = session.execute(update(CounterDevice).where(CounterDevice.id == device.id,
                                                         CounterDevice.revoked_at.is_(None)).values(revoked_at=now))
    if rowcount(result) != 1:
        return False
    audit.record(session, actor=by, action="store.device_revoked", subject_type="counter_device",
                 subject_id=str(device.id), reason=reason or f"counter tablet {device.name} revoked",
                 details={"name": device.name}, now=now)
    return True


def used(session: Session, *, device_id: uuid.UUID, now: datetime) -> None:
    """A PIN sign-in on this tablet."""
    session.execute(update(CounterDevice).where(CounterDevice.id == device_id).values(last_used_at=now))


def signin_tiles(session: Session, store_id: uuid.UUID) -> list[StaffAccount]:
    """Who may sign in on the store's tablets: its agents and managers, enabled, with a PIN."""
    return [a for a in pins.of_store(session, store_id) if a.disabled_at is None and a.pin_hash is not None]
