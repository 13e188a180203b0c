"""A store's people with PINs, counter tablets, and signing in on one through the real pages."""

from __future__ import annotations

import re
from datetime import datetime
from html import unescape

from fastapi.testclient import TestClient

from simkeep.config import Settings
from simkeep.db import Database
from simkeep.staff import pins, service
from simkeep.store import devices
from simkeep.store.models import CounterDevice, Store
from tests.factories.staff import Staff, csrf_of, make_staff

PIN = "2580"
COOKIE = "simkeep_counter"


def make_store_person(db: Database, settings: Settings, store: Store, *, username: str, role: str = "agent",
                      pin: str | None = PIN, now: datetime | None = None, **more) -> Staff:
    """An enabled agent (or store_manager) of `store`, with `pin` set (None: no PIN)."""
    person = make_staff(db, settings, username=username, role=role, store_id=store.id, now=now, **more)
    if pin is not None:
        with db.transaction() as session:
            pins.set_pin(session, account_id=person.id, pin_hash=service.hash_password(pin), by="test",
                         now=now or store.created_at)
    return person


def register_tablet(db: Database, settings: Settings, store: Store, *, name: str = "Counter 1", now: datetime,
                    by: str = "staff:test") -> tuple[CounterDevice, str]:
    """A tablet registered through the service: (device, the token its cookie holds)."""
    with db.transaction() as session:
        return devices.register(session, store_id=store.id, name=name, by=by,
                                key=settings.key(devices.PURPOSE), now=now)


def on_tablet(client: TestClient, token: str) -> TestClient:
    """This client is the tablet: it sends the tablet's cookie to /counter pages."""
    client.cookies.set(COOKIE, token, domain="testserver.local", path="/counter")
    return client


def post_pin(client: TestClient, username: str, pin: str):
    """The PIN pad's form, as the page sends it (the CSRF token taken from the pad page)."""
    page = client.get("/counter/signin", params={"user": username})
    token = csrf_of(page.text) if 'name="csrf_token"' in page.text else csrf_of(client.get("/admin").text)
    return client.post("/counter/signin", data={"username": username, "pin": pin, "csrf_token": token})


def error_of(html: str) -> str | None:
    found = re.search(r'<p class="error" role="alert">([^<]*)</p>', html)
    return unescape(found.group(1)) if found else None


def tries_of(html: str) -> str | None:
    found = re.search(r'<p class="tries" id="tries-left"[^>]*>([^<]*)</p>', html)
    return unescape(found.group(1)) if found else None
