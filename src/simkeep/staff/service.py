"""Staff accounts: create, sign in (password, then a TOTP code), lock out, change passwords, disable, audit.

Argon2 hashing is slow on purpose (about half a second here): it runs outside any transaction, so a sign-in never
holds the database's write lock while it hashes (staff/flows.py strings the steps together). Every sign-in,
failure, sign-out, password change, TOTP enrolment and session end goes to the audit log, actor "staff:<name>".
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from simkeep.audit import service as audit
from simkeep.core import sealed
from simkeep.core.errors import Conflict, InvalidInput, NotFound, SimkeepError
from simkeep.core.ids import new_id
from simkeep.session import service as sessions
from simkeep.staff import repository, roles
from simkeep.staff.models import StaffAccount

HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (tests swap in a cheaper one)
MIN_PASSWORD, MAX_PASSWORD = 12, 256
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,39}")
TOTP_ISSUER = "simkeep"
TOTP_WINDOW = 1  # steps either side of now (30 s each): phones whose clock drifts a little still work
PENDING_SECONDS = 300  # between the password and the code

# Outcomes of a sign-in step.
OK, NEED_TOTP, NEED_ENROLMENT, DENIED, LOCKED, REUSED = "ok", "totp", "enrol", "denied", "locked", "reused"


class UsernameTaken(Conflict):
    code, message = "staff_username_taken", "A staff account with this username exists already."


class WeakPassword(InvalidInput):
    code, message = "staff_password_weak", f"Passwords have {MIN_PASSWORD} to {MAX_PASSWORD} characters and differ from the username."


class InvalidUsername(InvalidInput):
    code, message = "staff_username_invalid", "Usernames have 2 to 40 characters: a-z, 0-9, dot, dash, underscore."


class InvalidRole(InvalidInput):
    code, message = "staff_role_invalid", f"The role must be one of: {', '.join(roles.ROLES)}."


class ResellerBinding(InvalidInput):
    code, message = "staff_reseller_binding", "An account of role reseller belongs to one reseller; no other role does."


class StoreBinding(InvalidInput):
    code, message = "staff_store_binding", "A store manager or agent belongs to one store; no other role does."


class StaffNotFound(NotFound):
    code, message = "staff_not_found", "No staff account with this username."


class NotPermitted(SimkeepError):
    code, status, message = "staff_not_permitted", 403, "This staff account's role may not do that."


class SetupClosed(SimkeepError):
    code, status, message = "staff_setup_closed", 403, "An admin account exists already: sign in instead."


class WrongPassword(SimkeepError):
    code, status, message = "staff_password_wrong", 422, "The current password is not right."


@dataclass(frozen=True)
class Lockout:
    max_failures: int
    duration: timedelta


@dataclass(frozen=True)
class Outcome:
    status: str
    account: StaffAccount | None = None


def actor(username: str) -> str:
    return f"staff:{username}"


# -- passwords and codes (no database) ----------------------------------------------------------------------------

def normalize_username(username: str) -> str:
    return username.strip().lower()


def check_username(username: str) -> str:
    name = normalize_username(username)
    if not USERNAME.fullmatch(name):
        raise InvalidUsername()
    return name


def check_new_password(password: str, username: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD or password.strip().lower() == username.lower():
        raise WeakPassword()


def hash_password(password: str) -> str:
    return HASHER.hash(password)


_dummy_hash: str | None = None


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the account exists: an unknown username still costs one argon2 verify."""
    global _dummy_hash
    if password_hash is None:
        _dummy_hash = _dummy_hash or HASHER.hash(secrets.token_urlsafe(16))
        password_hash = _dummy_hash
    if len(password) > MAX_PASSWORD:
        return False
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    return secrets.token_urlsafe(15)  # 20 characters, 120 bits


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code this is (within the window), or None."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    found = None
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def seal_totp(secret: str, *, key: str, account_id: uuid.UUID) -> str:
    return sealed.seal(secret, key=key, context=f"totp:{account_id}")


def open_totp(value: str, *, keys: list[str], account_id: uuid.UUID) -> str | None:
    return sealed.open_sealed(value, keys=keys, context=f"totp:{account_id}")


def needs_totp(account: StaffAccount, totp_roles: tuple[str, ...]) -> bool:
    return account.role in totp_roles or account.totp_secret is not None


# -- accounts -----------------------------------------------------------------------------------------------------

def create_account(session: Session, *, username: str, role: str, password_hash: str, must_change_password: bool,
                   by: str, now: datetime, setup: bool = False, reseller_id: uuid.UUID | None = None,
                   store_id: uuid.UUID | None = None) -> StaffAccount:
    """`reseller_id`: the reseller whose pages an account of role `reseller` sees (required for that role, refused
    for any other); `store_id` likewise for the store roles."""
    name = check_username(username)
    if role not in roles.ROLES:
        raise InvalidRole()
    if (role == "reseller") != (reseller_id is not None):
        raise ResellerBinding()
    if (role in roles.STORE_ROLES) != (store_id is not None):
        raise StoreBinding()
    if repository.by_username(session, name) is not None:
        raise UsernameTaken()
    account = StaffAccount(id=new_id(), username=name, role=role, password_hash=password_hash,
                           must_change_password=must_change_password, totp_secret=None, totp_last_step=None,
                           failed_attempts=0, locked_until=None, disabled_at=None, setup_marker=1 if setup else None,
                           created_at=now, password_changed_at=now, last_signin_at=None, reseller_id=reseller_id,
                           store_id=store_id, pin_hash=None)
    try:
        with session.begin_nested():
            repository.add(session, account)
    except IntegrityError as exc:  # a racing twin: same username, or a second /admin/setup
        raise (SetupClosed() if setup else UsernameTaken()) from exc
    _audit(session, by, "staff.created", account, f"created with role {role}", now)
    return account


def acting(session: Session, *, username: str, permission: str) -> str:
    """The audit actor for work a command does for a named staff member (`simkeep voucher sell --as alice`): the
    account exists, is not disabled and its role has `permission`; "staff:<username>", as on the back office."""
    account = find(session, username)
    if account.disabled_at is not None:
        raise NotPermitted(f"{account.username}'s account is disabled.")
    if not roles.may(account.role, permission):
        raise NotPermitted(f"{account.username} is {account.role}: that role may not do this ({permission}).")
    return actor(account.username)


def admin_exists(session: Session) -> bool:
    return repository.any_with_role(session, "admin")


def setup_admin(session: Session, *, username: str, password_hash: str, now: datetime) -> StaffAccount:
    """The first admin, made with the admin token on /admin/setup: only while no admin account exists."""
    if admin_exists(session):
        raise SetupClosed()
    return create_account(session, username=username, role="admin", password_hash=password_hash,
                          must_change_password=False, by="admin-token", now=now, setup=True)


def find(session: Session, username: str) -> StaffAccount:
    account = repository.by_username(session, normalize_username(username))
    if account is None:
        raise StaffNotFound()
    return account


def get(session: Session, account_id: uuid.UUID) -> StaffAccount | None:
    return repository.by_id(session, account_id)


def active(session: Session, account_id: uuid.UUID) -> StaffAccount | None:
    account = repository.by_id(session, account_id)
    return account if account is not None and account.disabled_at is None else None


def accounts(session: Session) -> list[StaffAccount]:
    return repository.all_accounts(session)


def accounts_of_reseller(session: Session, reseller_id: uuid.UUID) -> list[StaffAccount]:
    """The people who sign in for one reseller (its /reseller pages), disabled ones included."""
    return repository.of_reseller(session, reseller_id)


def for_signin(session: Session, username: str) -> StaffAccount | None:
    return repository.by_username(session, normalize_username(username)[:40])


# -- sign-in --------------------------------------------------------------------------------------------------------

def record_password(session: Session, *, username: str, account_id: uuid.UUID | None, correct: bool, client: str,
                    lockout: Lockout, totp_roles: tuple[str, ...], now: datetime) -> Outcome:
    """Record a password check made outside the transaction; lockout is decided here, under the row lock."""
    account = repository.by_id(session, account_id, lock=True) if account_id is not None else None
    details = {"client": client}
    if account is None or account.disabled_at is not None:
        audit.record(session, actor="anonymous", action="staff.signin_failed", subject_type="staff_account",
                     subject_id=normalize_username(username)[:40] or "-",
                     reason="disabled account" if account is not None else "unknown username",
                     details=details, now=now)
        return Outcome(DENIED)
    if account.locked_until is not None and account.locked_until > now:
        _audit(session, actor(account.username), "staff.signin_failed", account, "account locked", now, details)
        return Outcome(LOCKED)
    if not correct:
        return _failure(session, account, "wrong password", lockout, now, details)
    if needs_totp(account, totp_roles):
        return Outcome(NEED_TOTP if account.totp_secret else NEED_ENROLMENT, account)
    return _signed_in(session, account, now, details, second_factor=False)


def check_totp(session: Session, *, account_id: uuid.UUID, code: str, keys: list[str], client: str,
               lockout: Lockout, totp_roles: tuple[str, ...], now: datetime,
               enrolling: str | None = None) -> Outcome:
    """The second step. `enrolling` is the new secret being confirmed (first sign-in of an admin); otherwise the
    account's stored secret is used. A code already used (same or earlier time step) is refused."""
    account = repository.by_id(session, account_id, lock=True)
    details = {"client": client}
    if account is None or account.disabled_at is not None:
        return Outcome(DENIED)
    if account.locked_until is not None and account.locked_until > now:
        _audit(session, actor(account.username), "staff.signin_failed", account, "account locked", now, details)
        return Outcome(LOCKED)
    secret = enrolling if enrolling is not None else (
        open_totp(account.totp_secret, keys=keys, account_id=account.id) if account.totp_secret else None)
    if secret is None:
        return Outcome(NEED_ENROLMENT, account)
    step = matching_step(secret, code, now)
    if step is None:
        return _failure(session, account, "wrong TOTP code", lockout, now, details)
    if not repository.use_totp_step(session, account.id, step):
        outcome = _failure(session, account, "TOTP code reused", lockout, now, details)
        return outcome if outcome.status == LOCKED else Outcome(REUSED)
    if enrolling is not None:
        repository.set_fields(session, account.id, totp_secret=seal_totp(enrolling, key=keys[0], account_id=account.id))
        _audit(session, actor(account.username), "staff.totp_enrolled", account, "TOTP enrolled", now, details)
    return _signed_in(session, account, now, details, second_factor=True)


def _failure(session: Session, account: StaffAccount, why: str, lockout: Lockout, now: datetime,
             details: dict) -> Outcome:
    failures = repository.count_failure(session, account.id)
    _audit(session, actor(account.username), "staff.signin_failed", account, why, now,
           {**details, "failures": failures})
    if failures >= lockout.max_failures:
        until = now + lockout.duration
        repository.set_fields(session, account.id, failed_attempts=0, locked_until=until)
        _audit(session, actor(account.username), "staff.locked", account,
               f"{failures} failed sign-ins", now, {**details, "until": until.isoformat()})
        return Outcome(LOCKED)
    return Outcome(DENIED)


def tries_left(account: StaffAccount, lockout: Lockout) -> int:
    """Failed sign-ins (passwords and codes alike) the account may still take before it locks."""
    return max(lockout.max_failures - account.failed_attempts, 0)


def _signed_in(session: Session, account: StaffAccount, now: datetime, details: dict, *,
               second_factor: bool, reason: str | None = None) -> Outcome:
    repository.set_fields(session, account.id, failed_attempts=0, locked_until=None, last_signin_at=now)
    _audit(session, actor(account.username), "staff.signin", account,
           reason or ("signed in with password and TOTP" if second_factor else "signed in with password"), now,
           details)
    return Outcome(OK, account)


def signed_out(session: Session, *, account: StaffAccount, client: str, now: datetime) -> None:
    _audit(session, actor(account.username), "staff.signout", account, "signed out", now, {"client": client})


# -- the account's own changes ------------------------------------------------------------------------------------

def change_password(session: Session, *, account_id: uuid.UUID, password_hash: str, keep_session: uuid.UUID | None,
                    by: str, now: datetime) -> int:
    """Store the new hash and end every other session of this account; returns how many ended."""
    account = repository.by_id(session, account_id, lock=True)
    if account is None:
        raise StaffNotFound()
    repository.set_fields(session, account.id, password_hash=password_hash, password_changed_at=now,
                          must_change_password=by != actor(account.username), failed_attempts=0, locked_until=None)
    ended = sessions.end_all_for_staff(session, staff_id=account.id, keep=keep_session)
    _audit(session, by, "staff.password_changed", account, "password changed", now, {"sessions_ended": ended})
    return ended


def sessions_of(session: Session, *, account_id: uuid.UUID, now: datetime):
    return sessions.list_for_staff(session, staff_id=account_id, now=now)


def end_session(session: Session, *, account: StaffAccount, session_id: uuid.UUID, client: str,
                now: datetime) -> bool:
    """End one of the account's own sessions (a session id of someone else ends nothing)."""
    ended = sessions.end_for_staff(session, staff_id=account.id, session_id=session_id)
    if ended:
        _audit(session, actor(account.username), "staff.session_ended", account, "session ended from the list", now,
               {"session_id": str(session_id), "client": client})
    return ended


# -- administration (CLI) -----------------------------------------------------------------------------------------

def disable(session: Session, *, username: str, by: str, now: datetime) -> int:
    account = find(session, username)
    repository.set_fields(session, account.id, disabled_at=now)
    ended = sessions.end_all_for_staff(session, staff_id=account.id)
    _audit(session, by, "staff.disabled", account, "account disabled", now, {"sessions_ended": ended})
    return ended


def reset_password(session: Session, *, username: str, password_hash: str, by: str, now: datetime) -> None:
    """A one-time password given by an admin: it must be changed at the next sign-in; sessions end."""
    account = find(session, username)
    change_password(session, account_id=account.id, password_hash=password_hash, keep_session=None, by=by, now=now)


def reset_totp(session: Session, *, username: str, by: str, now: datetime) -> None:
    """Forget the second factor (a lost phone): the next sign-in enrols a new one; sessions end."""
    account = find(session, username)
    repository.set_fields(session, account.id, totp_secret=None, totp_last_step=None)
    ended = sessions.end_all_for_staff(session, staff_id=account.id)
    _audit(session, by, "staff.totp_reset", account, "TOTP reset", now, {"sessions_ended": ended})


def enrol_totp(session: Session, *, account_id: uuid.UUID, secret: str, key: str, now: datetime) -> None:
    """Store an enrolled secret directly (the demo account, enrolled for the newcomer's phone)."""
    account = repository.by_id(session, account_id)
    if account is None:
        raise StaffNotFound()
    repository.set_fields(session, account_id, totp_secret=seal_totp(secret, key=key, account_id=account_id),
                          totp_last_step=None)
    _audit(session, "demo", "staff.totp_enrolled", account, "TOTP enrolled for the demo", now)


def record_action(session: Session, *, who: str, action: str, subject_type: str, subject_id: str, reason: str,
                  now: datetime, details: dict | None = None) -> None:
    """A staff action that the domain service does not audit itself (e.g. a bank statement import)."""
    audit.record(session, actor=who, action=action, subject_type=subject_type, subject_id=subject_id, reason=reason,
                 details=details, now=now)


def _audit(session: Session, who: str, action: str, account: StaffAccount, reason: str, now: datetime,
           details: dict | None = None) -> None:
    audit.record(session, actor=who, action=action, subject_type="staff_account", subject_id=str(account.id),
                 reason=reason, details=details, now=now)


def live_sessions(session: Session, *, now: datetime) -> dict[uuid.UUID, int]:
    return sessions.live_counts_by_staff(session, now=now)


def set_password_hash(session: Session, *, account_id: uuid.UUID, password_hash: str, now: datetime) -> None:
    """For the demo account whose password file was kept: the stored hash follows the file."""
    repository.set_fields(session, account_id, password_hash=password_hash, password_changed_at=now,
                          must_change_password=False, failed_attempts=0, locked_until=None, disabled_at=None)
