"""Staff accounts and signed-in clients for tests: make_staff(db, role=...) and sign_in(client, staff)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.db import Database
from simkeep.staff import service
from simkeep.staff.models import StaffAccount

PASSWORD = "correct horse battery staple"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@dataclass
class Staff:
    id: object
    username: str
    role: str
    password: str
    totp_secret: str | None

    @property
    def actor(self) -> str:
        return f"staff:{self.username}"


def make_staff(db: Database, settings: Settings, *, username: str | None = None, role: str = "admin",
               password: str = PASSWORD, totp: bool | None = None, must_change_password: bool = False,
               now: datetime | None = None, reseller_id: uuid.UUID | None = None,
               store_id: uuid.UUID | None = None) -> Staff:
    """An enabled account; admins (and totp=True) get TOTP_SECRET enrolled. Role reseller: give `reseller_id`;
    store roles: `store_id`."""
    username = username or f"{role}-1"
    enrolled = totp if totp is not None else role in settings.staff_totp_roles
    now = now or datetime.now(UTC)
    with db.transaction() as session:
        account = service.create_account(session, username=username, role=role,
                                         password_hash=service.hash_password(password),
                                         must_change_password=must_change_password, by="test", now=now,
                                         reseller_id=reseller_id, store_id=store_id)
        if enrolled:
            session.get(StaffAccount, account.id).totp_secret = service.seal_totp(
                TOTP_SECRET, key=settings.key("totp"), account_id=account.id)
    return Staff(account.id, username, role, password, TOTP_SECRET if enrolled else None)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def next_code(db: Database, staff: Staff, now: datetime | None = None) -> str:
    """A valid code not used yet: the current step, or the next one if the current was used (still in the window)."""
    totp = pyotp.TOTP(staff.totp_secret)
    current = totp.timecode(now or clock.now())
    with db.transaction(write=False) as session:
        last = session.get(StaffAccount, staff.id).totp_last_step
    step = current if last is None or last < current else last + 1
    assert step <= current + service.TOTP_WINDOW, "no unused code left in this window"
    return totp.generate_otp(step)


def sign_in(client, db: Database, staff: Staff, *, now: datetime | None = None) -> None:
    """Sign a TestClient in through the real pages (password, then the TOTP code when the account has one)."""
    token = csrf_of(client.get("/admin").text)
    answer = client.post("/admin", data={"username": staff.username, "password": staff.password, "csrf_token": token},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    if answer.headers["location"] == "/admin/totp":
        answer = client.post("/admin/totp", data={"code": next_code(db, staff, now), "csrf_token": token},
                             follow_redirects=False)
        assert answer.status_code == 303, answer.text
    assert answer.headers["location"] in ("/admin/review", "/admin/account", "/reseller", "/counter", "/admin/privacy")


def sign_in_page(page, base: str, db: Database, staff: Staff) -> None:
    """The same through a Playwright page."""
    page.goto(f"{base}/admin")
    page.fill("#username", staff.username)
    page.fill("#password", staff.password)
    page.click("button[type=submit]")
    if staff.totp_secret:
        page.wait_for_url(f"{base}/admin/totp")
        page.fill("#code", next_code(db, staff))
        page.click("button[type=submit]")
    page.wait_for_url(re.compile(rf"{re.escape(base)}/(admin/review|admin/account|reseller|counter)"))
