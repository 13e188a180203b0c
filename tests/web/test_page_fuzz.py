"""Hostile values in every parameter of every page (the routes outside the OpenAPI document): no 5xx, ever.

The routes are walked from the app itself, so a new page is attacked without editing this file. Each path, query
and form parameter gets, in turn, each hostile value while the others keep a plausible one; forms carry a valid
CSRF token (taken from a rendered page, as a browser would), and the visitor has proved a number with its SMS code
and signed in to the back office, so the handlers behind those checks run too."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from simkeep.config import Settings
from simkeep.main import create_app
from simkeep.notification.senders import make_sender
from simkeep.notification.tasks import deliver_due
from tests.conftest import SANDBOX_ROUTES, SANDBOX_SECRET, T0, TEST_SECRET
from tests.factories.lines import make_line, top_up
from tests.factories.staff import make_staff
from tests.factories.staff import sign_in as staff_sign_in

HOSTILE = [
    "not-a-uuid", "00000000-0000-0000-0000-000000000000", "x" * 10_240, "%00", "\x00", "a\x00b", "\u202e漢字🙂é",
    "0000-01-01", "10000-01-01", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "9" * 400,
    "-1", "1e309", "NaN", "../../etc/passwd", "<script>alert(1)</script>", "' OR 1=1 --", "", " ", "//evil.example",
    "https://evil.example/", "javascript:alert(1)", "+33612345678", "2027-02-30",
]
PLAUSIBLE = {"msisdn": "+33612345678", "operator": "fr-orange-mobicarte", "offer": "fr-orange-mobicarte-10",
             "next": "/lines", "lang": "fr", "day": "2027-03-01", "method": "card", "code": "123456"}
# Already percent-encoded, sent as they are in paths and query strings: a NUL, a UTF-16 surrogate and bytes that
# are not UTF-8 at all.
RAW = ["%00", "%ED%A0%80", "%FF%FE", "%C0%AF"]
MACHINE = ("/api/", "/webhooks/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/static", "/docs")


def page_routes(routes=None) -> list[tuple[str, str]]:
    """(method, path) of every GET/POST page route, nested routers included."""
    if routes is None:
        routes = create_app(Settings(secret_key=TEST_SECRET, database_url="sqlite://", sandbox_enabled=True,
                                     sandbox_webhook_secret=SANDBOX_SECRET, payment_routes=SANDBOX_ROUTES)).routes
    found = []
    for route in routes:
        if hasattr(route, "original_router"):
            found += page_routes(route.original_router.routes)
        elif isinstance(route, APIRoute) and not route.path.startswith(MACHINE):
            found += [(method, route.path) for method in sorted(route.methods & {"GET", "POST"})]
    return found


def params(dependant) -> dict[str, list[str]]:
    """The route's path, query and form parameter names, its dependencies' included."""
    found = {"path": [p.name for p in dependant.path_params], "query": [p.alias for p in dependant.query_params],
             "form": [p.alias for p in dependant.body_params]}
    for sub in dependant.dependencies:
        for kind, names in params(sub).items():
            found[kind] += [n for n in names if n not in found[kind]]
    return found


def route_of(app, method: str, path: str, routes=None) -> APIRoute:
    for route in routes if routes is not None else app.routes:
        if hasattr(route, "original_router"):
            try:
                return route_of(app, method, path, route.original_router.routes)
            except LookupError:
                continue
        if isinstance(route, APIRoute) and route.path == path and method in route.methods:
            return route
    raise LookupError(f"{method} {path}")


@pytest.fixture
def visitor(settings: Settings, db, monkeypatch) -> TestClient:
    monkeypatch.setattr("simkeep.core.clock.now", lambda: T0)
    make_line(db, now=T0)
    top_up(db, now=T0)
    # https: the session cookie is Secure (the production default), and a browser sends it back only over https.
    client = TestClient(create_app(settings, db), raise_server_exceptions=False, base_url="https://testserver")
    with client:
        sign_in(client, settings, db)
        yield client


def sign_in(client: TestClient, settings: Settings, db) -> None:
    """Prove +33612345678 with its SMS code, and sign in to the back office as an admin (password and TOTP)."""
    client.post("/signin", data={"msisdn": "+33612345678", "next": "/lines", "csrf_token": csrf(client)})
    deliver_due(db, make_sender(settings, db))
    found = re.findall(r'"code": ?"(\d{4,8})"', settings.messages_log.read_text("utf-8")) \
        if settings.messages_log.exists() else []
    if found:
        client.post("/signin/code", data={"code": found[-1], "next": "/lines", "csrf_token": csrf(client)})
    staff_sign_in(client, db, make_staff(db, settings, role="admin"))


def csrf(client: TestClient) -> str:
    page = client.get("/signin")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_the_visitor_is_signed_in(visitor):
    lines = visitor.get("/lines", follow_redirects=False)
    assert lines.status_code == 200 and 'action="/lines/reminders"' in lines.text  # the number's own settings
    assert visitor.get("/admin/review", follow_redirects=False).status_code == 200


def test_every_page_route_is_walked():
    walked = set(page_routes())
    assert {("GET", "/"), ("GET", "/recharge"), ("POST", "/recharge/confirm"), ("GET", "/pay/{attempt_id}"),
            ("GET", "/receipts/{token}.pdf"), ("GET", "/admin/reconciliation"), ("POST", "/sandbox/pay/{ref}"),
            ("POST", "/signin")} <= walked
    assert not any(path.startswith(MACHINE) for _, path in walked)


@pytest.mark.parametrize("method,path", page_routes())
def test_hostile_values_in_every_page_parameter_never_give_a_5xx(visitor, method, path):
    route = route_of(visitor.app, method, path)
    names = params(route.dependant)
    path_names = names["path"]
    query_names = [n for n in names["query"] if n != "lang"] + ["lang"]
    form_names = [n for n in names["form"] if n != "csrf_token"]
    token = csrf(visitor)
    failures = []

    def send(path_values: dict, query: dict, form: dict) -> None:
        url = path
        for name, value in path_values.items():
            url = url.replace("{" + name + "}", value if value in RAW else quote(value, safe=""))
        if query:
            url += "?" + "&".join(f"{quote(k)}={v if v in RAW else quote(v, safe='')}" for k, v in query.items())
        if method == "GET":
            response = visitor.get(url, follow_redirects=False)
        else:
            response = visitor.post(url, data={**form, "csrf_token": token}, follow_redirects=False)
        if response.status_code >= 500:
            failures.append((response.status_code, url[:80], {k: v[:40] for k, v in {**query, **form}.items()}))

    base_path = {name: PLAUSIBLE.get(name, "x") for name in path_names}
    base_query = {name: PLAUSIBLE.get(name, "x") for name in query_names}
    base_form = {name: PLAUSIBLE.get(name, "x") for name in form_names}
    send(base_path, base_query, base_form)
    for value in HOSTILE + RAW:
        for name in path_names:
            send({**base_path, name: value}, base_query, base_form)
        for name in query_names:
            send(base_path, {**base_query, name: value}, base_form)
        for name in form_names:
            if value not in RAW:
                send(base_path, base_query, {**base_form, name: value})
    assert failures == []
