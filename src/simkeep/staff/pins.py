"""Store people's short PINs, typed on a registered counter tablet (the tablet's own registration is the other
factor): the rules a PIN must meet, setting one, and recording a PIN sign-in.

A PIN is hashed with argon2id like a password (service.hash_password), never stored or logged in clear. Its
failures count toward the same lockout as the password's and the TOTP code's (SIMKEEP_STAFF_MAX_FAILURES, then
locked for SIMKEEP_STAFF_LOCKOUT_MINUTES), so a PIN pad cannot be used to guess past the lockout."""

from __future__ import annotations

import itertools
import secrets
import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from simkeep.audit import service as audit
from simkeep.core.errors import InvalidInput, SimkeepError
from simkeep.staff import repository, roles
from simkeep.staff.models import StaffAccount
from simkeep.staff.service import (
    DENIED,
    LOCKED,
    Lockout,
    Outcome,
    StaffNotFound,
    _audit,
    _failure,
    _signed_in,
    actor,
    normalize_username,
)

MIN_PIN, MAX_PIN = 4, 8
GENERATED_LENGTH = 6
# Outcomes of a PIN sign-in besides service.OK / DENIED / LOCKED.
OTHER_STORE, NO_PIN, PIN_WRONG, CHANGE_PASSWORD = "other_store", "no_pin", "pin_wrong", "change_password"


class WeakPin(InvalidInput):
    code, message = "staff_pin_weak", (f"A PIN has {MIN_PIN} to {MAX_PIN} digits and is not easy to guess: not one "
                                       "digit repeated (0000), not a run (1234, 9876), not a pattern (1212, 123123).")


class PinsDiffer(InvalidInput):
    code, message = "staff_pin_mismatch", "The two PINs differ."


class NotStoreStaff(InvalidInput):
    code, message = "staff_pin_not_store", "Only a store's agents and store managers have a PIN."


class PinForbidden(SimkeepError):
    code, status, message = "staff_pin_forbidden", 403, "A store manager sets the PINs of their own store's agents only."


def trivial(pin: str) -> bool:
    """One digit repeated, a run up or down (1234, 8765, 0123), or a shorter block repeated (1212, 123123)."""
    steps = {int(b) - int(a) for a, b in itertools.pairwise(pin)}
    if len(steps) == 1 and steps <= {-1, 0, 1}:
        return True
    return any(len(pin) % size == 0 and pin == pin[:size] * (len(pin) // size) for size in range(1, len(pin) // 2 + 1))


def check_pin(pin: str) -> str:
    pin = pin.strip()
    if not (pin.isascii() and pin.isdigit() and MIN_PIN <= len(pin) <= MAX_PIN) or trivial(pin):
        raise WeakPin()
    return pin


def generate_pin(length: int = GENERATED_LENGTH) -> str:
    while True:
        pin = "".join(secrets.choice("0123456789") for _ in range(length))
        if not trivial(pin):
            return pin


def set_pin(session: Session, *, account_id: uuid.UUID, pin_hash: str, by: str, now: datetime,
            store_id: uuid.UUID | None = None, generated: bool = False) -> StaffAccount:
    """Store a new PIN hash for a store's agent or manager. `store_id`: set by a store manager, who may change only
    the PINs of their own store's agents (PinForbidden otherwise); None for an admin or the CLI."""
    account = repository.by_id(session, account_id, lock=True)
    if account is None:
        raise StaffNotFound()
    if account.role not in roles.STORE_ROLES:
        raise NotStoreStaff()
    if store_id is not None and (account.store_id != store_id or account.role != "agent"):
        raise PinForbidden()
    repository.set_fields(session, account.id, pin_hash=pin_hash)
    _audit(session, by, "staff.pin_set", account, "PIN generated" if generated else "PIN set", now)
    return account


def of_store(session: Session, store_id: uuid.UUID) -> list[StaffAccount]:
    """A store's agents and managers, disabled ones included, by username."""
    return repository.of_store(session, store_id)


def record_pin(session: Session, *, username: str, account_id: uuid.UUID | None, correct: bool,
               store_id: uuid.UUID, device_id: uuid.UUID, device_name: str, client: str, lockout: Lockout,
               now: datetime) -> Outcome:
    """Record a PIN check made outside the transaction (on the tablet `device_id` of `store_id`); the lockout is
    decided here, under the row lock, exactly as for a password."""
    account = repository.by_id(session, account_id, lock=True) if account_id is not None else None
    details = {"client": client, "device": str(device_id)}
    if account is None or account.disabled_at is not None:
        audit.record(session, actor="anonymous", action="staff.signin_failed", subject_type="staff_account",
                     subject_id=normalize_username(username)[:40] or "-",
                     reason="PIN: disabled account" if account is not None else "PIN: unknown username",
                     details=details, now=now)
        return Outcome(DENIED)
    who = actor(account.username)
    if account.role not in roles.STORE_ROLES or account.store_id != store_id:
        _audit(session, who, "staff.signin_failed", account, f"PIN on another store's counter tablet {device_name}",
               now, details)
        return Outcome(OTHER_STORE)
    if account.locked_until is not None and account.locked_until > now:
        _audit(session, who, "staff.signin_failed", account, "account locked", now, details)
        return Outcome(LOCKED)
    if account.pin_hash is None:
        _audit(session, who, "staff.signin_failed", account, "no PIN set", now, details)
        return Outcome(NO_PIN, account)
    if not correct:
        outcome = _failure(session, account, "wrong PIN", lockout, now, details)
        return outcome if outcome.status == LOCKED else Outcome(PIN_WRONG, account)
    if account.must_change_password:
        _audit(session, who, "staff.signin_failed", account, "PIN right, one-time password not changed yet", now,
               details)
        return Outcome(CHANGE_PASSWORD, account)
    return _signed_in(session, account, now, details, second_factor=False,
                      reason=f"PIN on counter tablet {device_name}")
