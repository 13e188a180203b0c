"""The 403 walk: every back-office, reseller and counter route, as every role, anonymous included.

The routes and the permission each requires are read from the app itself (the `admin.access.allowed(...)` or
`in_store(...)` dependency in its dependant tree), so a page added later is walked without editing this file. A
role without the permission gets 403 (the role page, on GET and POST, with a valid CSRF token so that the refusal
is the role's and not the form's); a role with it is never refused for its role; nobody signed in is sent to
sign in (GET: 303 to the back office's or the counter's sign-in page; POST: 401). A route under those prefixes
with no permission dependency fails unless it is on SIGN_IN, the routes that must work without an account."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from simkeep.main import create_app
from simkeep.staff import roles
from tests.conftest import T0
from tests.factories.counter import make_store_person
from tests.factories.staff import csrf_of, make_staff
from tests.factories.stores import make_store
from tests.factories.vouchers import make_reseller
from tests.web import freeze_clock

PREFIXES = ("/admin", "/reseller", "/counter")
# Routes that must work without an account: signing in (password, TOTP, a counter tablet's PIN pad),
# the first admin's setup (it refuses itself once an admin exists), and signing out (also with a session that
# has already expired: it only ends whatever session there is).
SIGN_IN = {"/admin", "/admin/totp", "/admin/setup", "/counter/signin",
           "/admin/signout", "/counter/switch"}
ROLE_REFUSED = "Your role does not allow this."
ANY_SIGNED_IN = "any signed-in person"
VALUES = {"msisdn": "+33612345678", "code": "NOPE", "username": "nobody", "month": "2027-03", "token": "x" * 20}
UNKNOWN_ID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class Guarded:
    method: str
    path: str
    permission: str | None  # None: not guarded (must be on SIGN_IN); ANY_SIGNED_IN: allowed(None)

    def url(self) -> str:
        return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: VALUES.get(m.group(1), UNKNOWN_ID), self.path)


def api_routes(routes) -> Iterator[APIRoute]:
    for route in routes:
        if hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)
        elif isinstance(route, APIRoute):
            yield route


def required_permission(dependant) -> str | None:
    """The permission named by the first access.allowed / in_store dependency found in the tree (depth first)."""
    for sub in dependant.dependencies:
        call = sub.call
        if getattr(call, "__qualname__", "").startswith(("allowed.<locals>.", "in_store.<locals>.")):
            permission = _closed_over_permission(call)
            return ANY_SIGNED_IN if permission is None else permission
        if (found := required_permission(sub)) is not None:
            return found
    return None


def _closed_over_permission(call) -> str | None:
    """allowed()'s dependency keeps `permission`; in_store()'s keeps the allowed() dependency it calls first."""
    held = inspect.getclosurevars(call).nonlocals
    return held["permission"] if "permission" in held else _closed_over_permission(held["check_role"])


def guarded_routes(app) -> list[Guarded]:
    found = []
    for route in api_routes(app.routes):
        if not route.path.startswith(PREFIXES):
            continue
        permission = required_permission(route.dependant)
        found += [Guarded(method, route.path, permission) for method in sorted(route.methods & {"GET", "POST"})]
    return found


@pytest.fixture
def world(settings, db, monkeypatch):
    freeze_clock(monkeypatch, T0)
    cfg = settings.model_copy(update={"staff_totp_roles": ()})  # so many sign-ins: no second factor to pace
    store = make_store(db, now=T0)
    reseller = make_reseller(db, now=T0)
    people = {}
    for role in roles.ROLES:
        if role in roles.STORE_ROLES:
            people[role] = make_store_person(db, cfg, store, username=f"{role}-x", role=role, pin=None, now=T0)
        else:
            people[role] = make_staff(db, cfg, username=f"{role}-x", role=role, totp=False, now=T0,
                                      reseller_id=reseller.id if role == "reseller" else None)
    app = create_app(cfg, db)
    return app, people


def signed_in(app, person) -> tuple[TestClient, str]:
    """A client signed in through the sign-in page (no second factor here), and its CSRF token."""
    client = TestClient(app, follow_redirects=False, headers={"Accept-Language": "en"})
    token = csrf_of(client.get("/admin").text)
    answer = client.post("/admin", data={"username": person.username, "password": person.password,
                                         "csrf_token": token})
    assert (answer.status_code, answer.headers["location"]) == (303, roles.home(person.role))
    return client, csrf_of(client.get("/admin/account").text)


def may(role: str, permission: str) -> bool:
    return permission == ANY_SIGNED_IN or roles.may(role, permission)


def ask(client: TestClient, route: Guarded, csrf: str):
    if route.method == "GET":
        return client.get(route.url())
    return client.post(route.url(), data={"csrf_token": csrf})


def test_the_walk_finds_every_guarded_route_and_reads_its_permission():
    app = create_app(_settings_for_listing())
    routes = guarded_routes(app)
    by_path = {(r.method, r.path): r.permission for r in routes}
    assert by_path[("GET", "/admin/review")] == "review.read"
    assert by_path[("GET", "/admin/account")] == ANY_SIGNED_IN
    assert by_path[("GET", "/counter/devices")] == "store.manage"  # in_store
    assert by_path[("GET", "/reseller")] == "reseller.self"
    unguarded = sorted({r.path for r in routes if r.permission is None} - SIGN_IN)
    assert unguarded == [], f"routes with no permission dependency (add one, or to SIGN_IN if public): {unguarded}"
    assert {p for p in SIGN_IN if (("GET", p) not in by_path and ("POST", p) not in by_path)} == set()


def test_every_role_without_the_permission_gets_403_and_every_role_with_it_does_not(world, db):
    app, people = world
    routes = [r for r in guarded_routes(app) if r.permission is not None]
    assert len(routes) > 50
    wrong: list[str] = []
    refusals = 0
    for role in roles.ROLES:
        client, csrf = signed_in(app, people[role])
        denied = [r for r in routes if not may(role, r.permission)]
        refusals += len(denied)
        for route in denied:
            answer = ask(client, route, csrf)
            if answer.status_code != 403 or ROLE_REFUSED not in answer.text:
                wrong.append(f"{role} {route.method} {route.path}: {answer.status_code}, expected the role's 403")
        for route in [r for r in routes if may(role, r.permission)]:
            answer = ask(client, route, csrf)
            if answer.status_code == 403 and ROLE_REFUSED in answer.text:
                wrong.append(f"{role} {route.method} {route.path}: refused for its role")
            if client.get("/admin/account").status_code != 200:  # a POST signed it out (or the like): again
                client, csrf = signed_in(app, people[role])
        client.close()
    assert wrong == []
    assert refusals > 5 * len(routes)  # most routes are one or two roles' only


def test_nobody_signed_in_is_sent_to_sign_in_everywhere(world):
    app, _people = world
    routes = [r for r in guarded_routes(app) if r.permission is not None]
    wrong = []
    with TestClient(app, follow_redirects=False) as client:
        csrf = csrf_of(client.get("/admin").text)
        for route in routes:
            answer = ask(client, route, csrf)
            counter = route.path == "/counter" or route.path.startswith("/counter/")
            expected = ((303, "/counter/signin" if counter else "/admin") if route.method == "GET" else (401, None))
            got = (answer.status_code, answer.headers.get("location") if route.method == "GET" else None)
            if got != expected:
                wrong.append(f"{route.method} {route.path}: {got}, expected {expected}")
    assert wrong == []


def _settings_for_listing():
    from simkeep.config import Settings
    from tests.conftest import SANDBOX_ROUTES, SANDBOX_SECRET, TEST_SECRET
    return Settings(secret_key=TEST_SECRET, database_url="sqlite://", sandbox_enabled=True,
                    sandbox_webhook_secret=SANDBOX_SECRET, payment_routes=SANDBOX_ROUTES)
