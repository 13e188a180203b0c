"""Demo counter staff for `make run`: a store manager (demo-manager) and an agent (demo-agent) of one demo store in
Paris, each with a password and a PIN. They are random and kept in the data directory (demo-counter-staff.json,
mode 600), so they survive restarts; the store must exist already (the demo's stores are seeded first)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy import select

from simkeep.config import Settings
from simkeep.db import Database
from simkeep.staff import pins, service
from simkeep.store.models import Store

DEMO_COUNTER_STAFF = (("demo-manager", "store_manager"), ("demo-agent", "agent"))
FILE = "demo-counter-staff.json"
BY = "demo"


@dataclass(frozen=True)
class DemoCounterPerson:
    username: str
    role: str
    password: str
    pin: str
    store_code: str


def demo_store(db: Database) -> Store | None:
    """The demo store in Paris the demo staff work at (the first by code), or None if the demo has no store."""
    return db.read(lambda s: s.scalars(select(Store).where(Store.demo.is_(True), Store.city_key == "paris",
                                                           Store.closed_at.is_(None)).order_by(Store.code)).first())


def seed_counter_staff(db: Database, settings: Settings, now: datetime) -> list[DemoCounterPerson]:
    """Make sure demo-manager and demo-agent exist at the demo Paris store with the passwords and PINs of the kept
    file (new random ones the first time or if the file was lost). Empty when there is no demo store."""
    store = demo_store(db)
    if store is None:
        return []
    path = settings.data_dir / FILE
    stored: dict = json.loads(path.read_text()) if path.exists() else {}
    result = []
    for username, role in DEMO_COUNTER_STAFF:
        kept = stored.get(username)
        entry = kept or {"password": service.generate_password(), "pin": pins.generate_pin()}
        account = db.read(partial(service.for_signin, username=username))
        if account is None:
            account = db.write(partial(service.create_account, username=username, role=role,
                                       password_hash=service.hash_password(entry["password"]),
                                       must_change_password=False, by=BY, now=now, store_id=store.id))
            kept = None
        if kept is None or account.pin_hash is None:  # new, or the file was lost: the account follows the new file
            db.write(partial(service.set_password_hash, account_id=account.id,
                             password_hash=service.hash_password(entry["password"]), now=now))
            db.write(partial(pins.set_pin, account_id=account.id, pin_hash=service.hash_password(entry["pin"]),
                             by=BY, now=now))
        stored[username] = entry
        result.append(DemoCounterPerson(username, role, entry["password"], entry["pin"], store.code))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(stored, out, indent=2)
    os.chmod(path, 0o600)
    return result


def show_counter_staff(db: Database, settings: Settings, now: datetime) -> list[DemoCounterPerson]:
    """Seed, then print how to try the counter: the manager registers a tablet, the agent signs in with a PIN."""
    from simkeep.terminal import console

    people = seed_counter_staff(db, settings, now)
    if not people:
        return people
    console.print(f"counter of demo store {people[0].store_code}: sign in as the manager at {settings.base_url}/admin, "
                  f"register the tablet at /counter/devices, then PIN pad at /counter/signin "
                  f"(kept in {settings.data_dir / FILE})", soft_wrap=True)
    for person in people:
        console.print(f"  {person.role:13} [bold]{person.username}[/bold]  password [bold]{person.password}[/bold]"
                      f"  PIN [bold]{person.pin}[/bold]", soft_wrap=True)
    return people
