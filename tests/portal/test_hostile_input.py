"""Every portal route, every parameter, hostile values: never a 5xx, and people's pages answer in HTML.

The routes are read from the portal's router, so a route added later is attacked too."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from simkeep.main import create_app
from simkeep.portal.pages import router as portal_router
from tests.factories.lines import make_line
from tests.factories.payments import now
from tests.portal import helpers as h

HOSTILE = ["not-a-uuid", "x" * 10_240, "é中文\u202e\U0001f600", "-1", "-99999999999999999999",
           str(2 ** 200), "0", "../../etc/passwd", "%00", "\x00", "<script>alert(1)</script>", " ", "",
           "00000000-0000-0000-0000-000000000000", str(uuid.uuid4()), "sbx_" + "0" * 24, "1e309", "NaN",
           "+33612345678", "//evil.example/", "javascript:alert(1)"]
QUERY_NAMES = ["operator", "msisdn", "error", "next", "token", "PayerID", "cancelled", "lang"]


def _routes(routes=None) -> list[APIRoute]:
    """Every route of the portal's router, through the routers it includes."""
    found = []
    for route in portal_router.routes if routes is None else routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += _routes(route.original_router.routes)
    return found


def portal_routes() -> list[tuple[str, str]]:
    return sorted({(method, route.path) for route in _routes() for method in route.methods})


def form_fields(route_path: str, method: str) -> list[str]:
    [route] = [r for r in _routes() if r.path == route_path and method in r.methods]
    return [p.alias for p in route.dependant.body_params] + ["csrf_token"]


@pytest.fixture
def web(settings, db):
    cfg = settings.model_copy(update={"public_url": "http://testserver"})
    make_line(db, now=now())
    with TestClient(create_app(cfg, db), follow_redirects=False, raise_server_exceptions=False) as client:
        yield client


def fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda _m: quote(value, safe=""), path)


def test_the_router_has_the_routes_we_expect():
    assert {p for _m, p in portal_routes()} >= {"/", "/recharge", "/recharge/number", "/pay/{attempt_id}",
                                                "/pay/{attempt_id}/action", "/pay/{attempt_id}/status",
                                                "/signin", "/signin/code", "/lines/reminders"}


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_no_hostile_value_gives_a_server_error(web, value):
    token = h.csrf(web)
    # Half-way through a checkout, so later steps run their code rather than redirect.
    web.post("/recharge/offer", data={"offer": h.OFFER_10, "csrf_token": token})
    web.post("/recharge/number", data={"msisdn": h.MSISDN, "csrf_token": token})
    web.post("/recharge/method", data={"method": "card", "csrf_token": token})
    problems = []
    for method, path in portal_routes():
        url = fill(path, value)
        if method == "GET":
            for name in QUERY_NAMES:
                answer = web.get(url, params={name: value})
                if answer.status_code >= 500:
                    problems.append(f"GET {url}?{name}=… → {answer.status_code}")
            continue
        for name in form_fields(path, method):
            for with_token in (True, False):
                data = {field: value for field in form_fields(path, method)}
                if with_token:
                    data["csrf_token"] = token
                data[name] = value
                answer = web.request(method, url, data=data)
                if answer.status_code >= 500:
                    problems.append(f"{method} {url} {name}=… → {answer.status_code}")
    assert problems == []


@pytest.mark.parametrize(("url", "status"), [
    ("/pay/not-a-uuid", 404), ("/pay/" + "x" * 64, 404), ("/pay/" + "x" * 10_240, 422),
    (f"/pay/{uuid.uuid4()}?token=sbx_{'0' * 24}&PayerID=X", 404), ("/pay/-1/action", 404),
    ("/recharge?operator=" + "y" * 10_240, 422), ("/signin?next=" + "z" * 10_240, 422),
    ("/recharge?error=%3Cscript%3E", 422),
])
def test_bad_values_get_a_translated_page(web, url, status):
    answer = web.get(url, headers={"Accept-Language": "fr"})
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in answer.text


def test_a_return_with_the_sandbox_token_on_a_real_attempt_is_no_error(web, db):
    """The former 500: back on the pay page with the sandbox's own ref as if it were PayPal's token."""
    h.to_summary(web)
    h.confirm(web)
    [attempt] = h.attempts(db)
    for query in ({"token": attempt.provider_ref, "PayerID": "X"}, {"token": attempt.provider_ref, "cancelled": "1"}):
        answer = web.get(f"/pay/{attempt.id}", params=query)
        assert answer.status_code == 303 and answer.headers["location"] == f"/pay/{attempt.id}"
    assert [a.status for a in h.attempts(db)] == ["pending"]  # a browser's return settles nothing at the sandbox
    action = web.get(f"/pay/{attempt.id}/action")
    assert action.status_code == 303 and action.headers["location"] == attempt.next_action["url"]
