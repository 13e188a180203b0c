"""Demo staff for `make run`: an admin with TOTP already enrolled (for a phone authenticator) and, without a
second factor, a support, a finance and a data-protection officer's (dpo) account, so the back office can be tried without a phone. Passwords and the
TOTP secret are random and kept in the data directory (demo-staff.json, mode 600), so they survive restarts."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import partial

import segno

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.db import Database
from simkeep.staff import service

DEMO_STAFF = (("demo-admin", "admin", True), ("demo-support", "support", False), ("demo-finance", "finance", False),
              ("demo-dpo", "dpo", False))
FILE = "demo-staff.json"


@dataclass(frozen=True)
class DemoStaff:
    username: str
    role: str
    password: str
    totp_uri: str | None


def ensure_demo_staff(db: Database, settings: Settings) -> list[DemoStaff]:
    path = settings.data_dir / FILE
    stored: dict = json.loads(path.read_text()) if path.exists() else {}
    now = clock.now()
    result = []
    for username, role, with_totp in DEMO_STAFF:
        kept = stored.get(username)
        entry = kept or {"password": service.generate_password(),
                         "totp": service.new_totp_secret() if with_totp else None}
        account = db.read(partial(service.for_signin, username=username))
        if account is None:
            account = db.write(partial(service.create_account, username=username, role=role,
                                       password_hash=service.hash_password(entry["password"]),
                                       must_change_password=False, by="demo", now=now))
            kept = None
        if kept is None:  # new, or the file was lost: the account follows the new file
            password_hash = service.hash_password(entry["password"])
            db.write(partial(service.set_password_hash, account_id=account.id, password_hash=password_hash, now=now))
            if entry["totp"]:
                db.write(partial(service.enrol_totp, account_id=account.id, secret=entry["totp"],
                                 key=settings.key("totp"), now=now))
        stored[username] = entry
        result.append(DemoStaff(username, role, entry["password"],
                                service.totp_uri(entry["totp"], username) if entry["totp"] else None))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(stored, out, indent=2)
    os.chmod(path, 0o600)
    return result


def show_demo_staff(db: Database, settings: Settings) -> list[DemoStaff]:
    """Make sure the demo accounts exist and print how to sign in, with the admin's TOTP as a terminal QR code."""
    from simkeep.terminal import console

    accounts = ensure_demo_staff(db, settings)
    console.print(f"back office: {settings.base_url}/admin (accounts kept in {settings.data_dir / FILE})",
                  soft_wrap=True)
    for demo in accounts:
        console.print(f"  {demo.role:8} [bold]{demo.username}[/bold]  password [bold]{demo.password}[/bold]"
                      + ("  + TOTP code from your phone" if demo.totp_uri else "  (no second factor, demo only)"),
                      soft_wrap=True)
    for demo in accounts:
        if demo.totp_uri:
            console.print(f"  scan for {demo.username}'s TOTP (or add this URI to an authenticator):", soft_wrap=True)
            print(f"  {demo.totp_uri}", flush=True)
            segno.make(demo.totp_uri, error="m").terminal(compact=True)
    return accounts
