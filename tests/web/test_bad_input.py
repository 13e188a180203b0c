"""Bad input on every write endpoint: a clear 4xx with a stable code, never a 500, and nothing written."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.factories.lines import make_line, top_up
from tests.factories.snapshot import snapshot
from tests.web import ADMIN, error, freeze_clock

LIMIT = 64 * 1024
VALID = {
    "/api/v1/lines": {"msisdn": "0612345679", "operator_id": "fr-orange-mobicarte"},
    "/api/v1/topups": {"msisdn": "+33612345678", "offer_id": "fr-orange-mobicarte-10"},
    "/api/v1/charges": {"msisdn": "+33612345678", "amount_minor": 100, "kind": "sms"},
}
WRITES = list(VALID)


def post(client, path: str, **kwargs) -> httpx.Response:
    headers = {"Idempotency-Key": "bad-input", **kwargs.pop("headers", {})}
    return client.post(path, headers=headers, **kwargs)


def raw(client, path: str, body: bytes, content_type: str = "application/json") -> httpx.Response:
    return post(client, path, content=body, headers={"Content-Type": content_type})


def chunks(total: int, size: int = 4096):
    """A generator body: httpx sends it chunked, with no Content-Length header."""
    sent = 0
    yield b'{"msisdn": "'
    while sent < total:
        yield b"9" * size
        sent += size
    yield b'"}'


@pytest.fixture
def funded(db, monkeypatch):
    """A line with credit (at the frozen API clock), so a valid request would really move money."""
    clock = freeze_clock(monkeypatch)
    make_line(db, now=clock.at)
    top_up(db, offer_id="fr-orange-mobicarte-25", now=clock.at)
    return snapshot(db)


@pytest.fixture
def nothing_moved(db, funded):
    yield
    assert snapshot(db) == funded


def test_valid_requests_do_write(client, db, funded):
    """The control: the same bodies, well formed, succeed, so the refusals below are about the input."""
    for path, body in VALID.items():
        assert post(client, path, json=body).status_code == 201, path
    assert snapshot(db) != funded


@pytest.mark.parametrize("path", WRITES)
@pytest.mark.parametrize("body", [b"{", b'{"msisdn": "+33612345678",}', b"{'msisdn': 1}", b"nul", b'{"a": tru}',
                                  b'{"msisdn": "\xff\xfe"}', b"\xff\xfe{}", b"[" * 5000 + b"]" * 5000])
def test_malformed_json_is_400(client, nothing_moved, path, body):
    assert error(raw(client, path, body)) == (400, "malformed_json")


@pytest.mark.parametrize("path", WRITES)
@pytest.mark.parametrize("body", [b"[]", b"null", b"42", b'"text"', b"", b"{}", b'[{"msisdn": "+33612345678"}]'])
def test_json_that_is_not_an_object_or_lacks_fields_is_422(client, nothing_moved, path, body):
    assert error(raw(client, path, body)) == (422, "validation_error")


@pytest.mark.parametrize("path,field,value", [
    ("/api/v1/lines", "msisdn", 33612345679),
    ("/api/v1/lines", "msisdn", None),
    ("/api/v1/lines", "operator_id", ["fr-orange-mobicarte"]),
    ("/api/v1/lines", "language", 1),
    ("/api/v1/lines", "email", "not-an-email"),
    ("/api/v1/topups", "msisdn", 33612345678),
    ("/api/v1/topups", "offer_id", {"id": "fr-orange-mobicarte-10"}),
    ("/api/v1/topups", "channel", True),
    ("/api/v1/charges", "amount_minor", "100"),
    ("/api/v1/charges", "amount_minor", 100.0),
    ("/api/v1/charges", "kind", None),
])
def test_wrong_types_are_422(client, nothing_moved, path, field, value):
    response = post(client, path, json={**VALID[path], field: value})
    assert error(response) == (422, "validation_error")
    assert response.json()["error"]["fields"][0].startswith(f"{field}: ")


@pytest.mark.parametrize("path", WRITES)
def test_unknown_fields_are_422(client, nothing_moved, path):
    response = post(client, path, json={**VALID[path], "balance_minor": 1_000_000})
    assert error(response) == (422, "validation_error")
    assert response.json()["error"]["fields"] == ["balance_minor: unknown field"]


@pytest.mark.parametrize("path", WRITES)
def test_huge_msisdn_string_is_422(client, nothing_moved, path):
    response = post(client, path, json={**VALID[path], "msisdn": "6" * 60_000})
    assert error(response) == (422, "validation_error")


@pytest.mark.parametrize("path,field", [
    ("/api/v1/lines", "msisdn"), ("/api/v1/lines", "operator_id"), ("/api/v1/lines", "language"),
    ("/api/v1/lines", "email"), ("/api/v1/topups", "msisdn"), ("/api/v1/topups", "offer_id"),
    ("/api/v1/topups", "channel"), ("/api/v1/charges", "msisdn"), ("/api/v1/charges", "kind"),
])
def test_nul_control_characters_and_lone_surrogates_in_strings_are_422(client, nothing_moved, path, field):
    """PostgreSQL text cannot hold NUL and no database can encode a lone surrogate: refused at the door, not a 500
    (nor silently dropped by the phone number parser)."""
    value = {**VALID[path], "email": "a@b.fr", "language": "fr", "channel": "api"}[field]
    for bad in (value + "\x00", value[:2] + "\x00" + value[2:], value + "\n", value + "\ud800"):
        response = raw(client, path, json.dumps({**VALID[path], field: bad}).encode())
        assert error(response) == (422, "validation_error"), repr(bad)
        assert response.json()["error"]["fields"][0].startswith(f"{field}: ")


@pytest.mark.parametrize("path", WRITES)
def test_body_over_64_kib_with_content_length_is_413(client, nothing_moved, path):
    body = b'{"msisdn": "' + b"9" * LIMIT + b'"}'
    response = raw(client, path, body)
    assert error(response) == (413, "body_too_large")


@pytest.mark.parametrize("path", WRITES)
def test_body_over_64_kib_chunked_without_length_is_413(client, nothing_moved, path):
    response = post(client, path, content=chunks(LIMIT + 1), headers={"Content-Type": "application/json"})
    assert error(response) == (413, "body_too_large")


def test_oversized_bodies_on_a_real_server(live_server, nothing_moved):
    """Through uvicorn's HTTP parser: declared length, chunked transfer, and a lying Content-Length."""
    headers = {**ADMIN, "Idempotency-Key": "big", "Content-Type": "application/json"}
    url = f"{live_server}/api/v1/topups"
    with httpx.Client(timeout=30) as http:
        declared = http.post(url, content=b"x" * (LIMIT + 1), headers=headers)
        assert error(declared) == (413, "body_too_large")
        chunked = http.post(url, content=chunks(4 * LIMIT), headers=headers)
        assert "content-length" not in chunked.request.headers
        assert error(chunked) == (413, "body_too_large")
        assert http.get(f"{live_server}/healthz").status_code == 200


def test_body_just_under_the_limit_is_parsed(client, nothing_moved):
    body = b'{"msisdn": "' + b"9" * (LIMIT - 100) + b'"}'
    assert error(raw(client, "/api/v1/topups", body)) == (422, "validation_error")


@pytest.mark.parametrize("path", ["/api/v1/topups", "/api/v1/charges"])
@pytest.mark.parametrize("key,expected", [(None, (400, "idempotency_key_missing")), ("", (422, "invalid_input")),
                                          ("k" * 256, (422, "invalid_input")), ("a\tb", (422, "invalid_input"))])
def test_missing_or_bad_idempotency_key(client, nothing_moved, path, key, expected):
    headers = {} if key is None else {"Idempotency-Key": key}
    response = client.post(path, json=VALID[path], headers=headers)
    assert error(response) == expected


def test_non_json_content_type_is_refused(client, nothing_moved):
    response = raw(client, "/api/v1/topups", b"msisdn=%2B33612345678&offer_id=fr-orange-mobicarte-10",
                   "application/x-www-form-urlencoded")
    assert error(response) == (422, "validation_error")


def test_unknown_path_and_wrong_method(client, nothing_moved):
    assert error(client.get("/api/v1/nope")) == (404, "not_found")
    assert error(client.delete("/api/v1/lines/+33612345678")) == (405, "method_not_allowed")
    assert error(client.put("/api/v1/topups", json=VALID["/api/v1/topups"])) == (405, "method_not_allowed")


@pytest.mark.parametrize("topup_id", ["nope", "0" * 36, "01a216b3-df4a-76cf-8a68-87000e4a2d10", "%00", "9" * 500])
def test_unknown_or_garbage_topup_id_is_404(client, topup_id):
    assert error(client.get(f"/api/v1/topups/{topup_id}")) == (404, "topup_not_found")
