"""Steps that hash or verify a password: the argon2 work runs between transactions, never inside one (on SQLite a
write transaction holds the whole database's write lock, and a hash takes about half a second)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from simkeep.config import Settings
from simkeep.db import Database
from simkeep.staff import pins, service
from simkeep.staff.models import StaffAccount


def lockout(settings: Settings) -> service.Lockout:
    return service.Lockout(settings.staff_max_failures, timedelta(minutes=settings.staff_lockout_minutes))


def password_signin(db: Database, settings: Settings, *, username: str, password: str, client: str,
                    now: datetime) -> service.Outcome:
    account = db.read(lambda s: service.for_signin(s, username))
    correct = service.verify_password(account.password_hash if account else None, password)
    return db.write(lambda s: service.record_password(
        s, username=username, account_id=account.id if account else None, correct=correct, client=client,
        lockout=lockout(settings), totp_roles=tuple(settings.staff_totp_roles), now=now))


def totp_signin(db: Database, settings: Settings, *, account_id: uuid.UUID, code: str, client: str, now: datetime,
                enrolling: str | None = None) -> service.Outcome:
    return db.write(lambda s: service.check_totp(
        s, account_id=account_id, code=code, keys=settings.verifying_keys("totp"), client=client,
        lockout=lockout(settings), totp_roles=tuple(settings.staff_totp_roles), now=now, enrolling=enrolling))


def change_own_password(db: Database, *, account_id: uuid.UUID, current: str, new: str, confirm: str,
                        keep_session: uuid.UUID | None, now: datetime) -> int:
    account = db.read(lambda s: service.get(s, account_id))
    if account is None:
        raise service.StaffNotFound()
    if not service.verify_password(account.password_hash, current):
        raise service.WrongPassword()
    if new != confirm:
        raise service.WeakPassword("The two new passwords differ.")
    service.check_new_password(new, account.username)
    password_hash = service.hash_password(new)
    return db.write(lambda s: service.change_password(s, account_id=account_id, password_hash=password_hash,
                                                      keep_session=keep_session,
                                                      by=service.actor(account.username), now=now))


def create(db: Database, *, username: str, role: str, password: str, must_change_password: bool, by: str,
           now: datetime, reseller_id: uuid.UUID | None = None, store_id: uuid.UUID | None = None) -> StaffAccount:
    name = service.check_username(username)
    service.check_new_password(password, name)
    password_hash = service.hash_password(password)
    return db.write(lambda s: service.create_account(s, username=name, role=role, password_hash=password_hash,
                                                     must_change_password=must_change_password, by=by, now=now,
                                                     reseller_id=reseller_id, store_id=store_id))


def setup(db: Database, *, username: str, password: str, now: datetime) -> StaffAccount:
    name = service.check_username(username)
    service.check_new_password(password, name)
    if db.read(service.admin_exists):
        raise service.SetupClosed()
    password_hash = service.hash_password(password)
    return db.write(lambda s: service.setup_admin(s, username=name, password_hash=password_hash, now=now))


def reset_password(db: Database, *, username: str, by: str, now: datetime) -> str:
    """A new one-time password (returned, to be handed over); the account's sessions end."""
    password = service.generate_password()
    password_hash = service.hash_password(password)
    db.write(lambda s: service.reset_password(s, username=username, password_hash=password_hash, by=by, now=now))
    return password


def pin_signin(db: Database, settings: Settings, *, username: str, pin: str, store_id: uuid.UUID,
               device_id: uuid.UUID, device_name: str, client: str, now: datetime) -> service.Outcome:
    """A PIN typed on a counter tablet of `store_id`: one argon2 verify whatever the account (a dummy hash when
    there is no such account or no PIN), then the outcome recorded under the row lock."""
    account = db.read(lambda s: service.for_signin(s, username))
    correct = service.verify_password(account.pin_hash if account else None, pin[:pins.MAX_PIN * 4])
    return db.write(lambda s: pins.record_pin(
        s, username=username, account_id=account.id if account else None, correct=correct, store_id=store_id,
        device_id=device_id, device_name=device_name, client=client, lockout=lockout(settings), now=now))


def set_pin(db: Database, *, account_id: uuid.UUID, pin: str | None, confirm: str | None, by: str, now: datetime,
            store_id: uuid.UUID | None = None) -> str:
    """A new PIN for a store person: `pin` typed twice, or None for a generated one. Returns the PIN (to show
    once when generated). `store_id`: a store manager acting, bound to their own store's agents."""
    if pin is None:
        pin, generated = pins.generate_pin(), True
    else:
        if pin.strip() != (confirm or "").strip():
            raise pins.PinsDiffer()
        pin, generated = pins.check_pin(pin), False
    pin_hash = service.hash_password(pin)
    db.write(lambda s: pins.set_pin(s, account_id=account_id, pin_hash=pin_hash, by=by, now=now,
                                    store_id=store_id, generated=generated))
    return pin
