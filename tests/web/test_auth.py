"""Who may call what: public ops endpoints, bearer tokens, API-key roles, keys stored only as hashes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from simkeep.auth import service as auth
from simkeep.auth.models import ApiKey
from tests.conftest import ADMIN_TOKEN
from tests.factories.lines import make_line
from tests.factories.snapshot import snapshot
from tests.web import error, freeze_clock, money

TOPUP = {"msisdn": "+33612345678", "offer_id": "fr-orange-mobicarte-10"}
CHARGE = {"msisdn": "+33612345678", "amount_minor": 100, "kind": "sms"}


def create_key(db, settings, role: str) -> str:
    with db.transaction() as session:
        _row, plaintext = auth.create_api_key(session, name=f"test {role}", role=role, secret=settings.key("api_key"),
                                              now=datetime.now(UTC))
    return plaintext


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def anonymous(client: TestClient) -> TestClient:
    client.headers.pop("Authorization")
    return client


@pytest.fixture
def line(db, monkeypatch):
    clock = freeze_clock(monkeypatch)
    return make_line(db, now=clock.at)


def test_healthz_needs_no_token(anonymous, db):
    response = anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": db.dialect}


def test_openapi_lists_every_api_path(anonymous):
    response = anonymous.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/healthz", "/api/v1/operators", "/api/v1/lines", "/api/v1/lines/{msisdn}",
            "/api/v1/lines/{msisdn}/history", "/api/v1/topups", "/api/v1/topups/{topup_id}",
            "/api/v1/charges"} <= set(paths)
    assert set(paths["/api/v1/topups"]) == {"post"}
    assert set(paths["/api/v1/charges"]) == {"post"}


def test_operators_list_the_catalog_with_offers(client):
    response = client.get("/api/v1/operators")
    assert response.status_code == 200
    operators = {op["id"]: op for op in response.json()}
    assert {"fr-orange-mobicarte", "fr-sfr-la-carte", "fr-bouygues-carte", "hk-clubsim", "cn-cmcc-8yuan",
            "us-tello", "uk-asda"} <= set(operators)
    orange = operators["fr-orange-mobicarte"]
    assert (orange["country"], orange["currency"], orange["timezone"]) == ("FR", "EUR", "Europe/Paris")
    offers = {offer["id"]: offer for offer in orange["offers"]}
    assert offers["fr-orange-mobicarte-25"] == {"id": "fr-orange-mobicarte-25", "price": money(2500),
                                                "bonus": money(500), "validity_days": 60}
    assert offers["fr-orange-mobicarte-5"] == {"id": "fr-orange-mobicarte-5", "price": money(500),
                                               "bonus": money(0), "validity_days": 7}
    hk = {offer["id"]: offer for offer in operators["hk-clubsim"]["offers"]}
    assert hk["hk-clubsim-6"] == {"id": "hk-clubsim-6", "price": money(600, "HKD"), "bonus": money(0, "HKD"),
                                  "validity_days": 365}


@pytest.mark.parametrize("headers", [
    {}, bearer("wrong-token"), bearer(""), {"Authorization": ADMIN_TOKEN},
    {"Authorization": "Basic dGVzdDp0ZXN0"}, bearer("sk_admin_forged"),
])
def test_missing_or_invalid_token_is_401_and_writes_nothing(anonymous, db, line, headers):
    before = snapshot(db)
    for method, path, body in (("GET", "/api/v1/operators", None), ("GET", "/api/v1/lines/+33612345678", None),
                               ("POST", "/api/v1/topups", TOPUP), ("POST", "/api/v1/charges", CHARGE),
                               ("POST", "/api/v1/lines", {"msisdn": "0612345679", "operator_id": "fr-sfr-la-carte"})):
        response = anonymous.request(method, path, json=body, headers={**headers, "Idempotency-Key": "k1"})
        assert error(response) == (401, "unauthorized"), (method, path)
    assert snapshot(db) == before


def test_agent_key_tops_up_but_charges_need_admin(anonymous, db, settings, line):
    agent = bearer(create_key(db, settings, "agent"))
    response = anonymous.post("/api/v1/topups", json=TOPUP, headers={**agent, "Idempotency-Key": "a1"})
    assert response.status_code == 201
    assert response.json()["amount"] == money(1000)
    before = snapshot(db)
    response = anonymous.post("/api/v1/charges", json=CHARGE, headers={**agent, "Idempotency-Key": "c1"})
    assert error(response) == (403, "forbidden")
    assert snapshot(db) == before


def test_reseller_key_reads_and_tops_up_but_cannot_create_lines_or_charge(anonymous, db, settings, line):
    reseller = bearer(create_key(db, settings, "reseller"))
    operators = anonymous.get("/api/v1/operators", headers=reseller)
    assert operators.status_code == 200
    assert "fr-orange-mobicarte" in {op["id"] for op in operators.json()}
    assert anonymous.get("/api/v1/lines/+33612345678", headers=reseller).json()["state"] == "active"
    before = snapshot(db)
    response = anonymous.post("/api/v1/lines", json={"msisdn": "0612345679", "operator_id": "fr-orange-mobicarte"},
                              headers=reseller)
    assert error(response) == (403, "forbidden")
    response = anonymous.post("/api/v1/charges", json=CHARGE, headers={**reseller, "Idempotency-Key": "c1"})
    assert error(response) == (403, "forbidden")
    assert snapshot(db) == before
    response = anonymous.post("/api/v1/topups", json=TOPUP, headers={**reseller, "Idempotency-Key": "r1"})
    assert response.status_code == 201


def test_admin_key_may_charge(anonymous, db, settings, line):
    admin = bearer(create_key(db, settings, "admin"))
    assert anonymous.post("/api/v1/topups", json=TOPUP, headers={**admin, "Idempotency-Key": "t1"}).status_code == 201
    response = anonymous.post("/api/v1/charges", json=CHARGE, headers={**admin, "Idempotency-Key": "c1"})
    assert response.status_code == 201
    assert response.json()["amount"] == money(100)


def test_revoked_key_is_refused(anonymous, db, settings):
    token = create_key(db, settings, "admin")
    with db.transaction() as session:
        session.execute(update(ApiKey).values(revoked_at=datetime.now(UTC)))
    assert error(anonymous.get("/api/v1/operators", headers=bearer(token))) == (401, "unauthorized")


def test_idempotency_keys_are_scoped_per_caller(anonymous, db, settings, line):
    first, second = (bearer(create_key(db, settings, "agent")) for _ in range(2))
    one = anonymous.post("/api/v1/topups", json=TOPUP, headers={**first, "Idempotency-Key": "same"})
    two = anonymous.post("/api/v1/topups", json=TOPUP, headers={**second, "Idempotency-Key": "same"})
    assert (one.status_code, two.status_code) == (201, 201)
    assert one.json()["id"] != two.json()["id"]
    assert "Idempotent-Replayed" not in two.headers


def test_api_keys_table_stores_only_the_hash(db, settings):
    plaintexts = [create_key(db, settings, role) for role in ("admin", "agent", "reseller")]
    with db.transaction(write=False) as session:
        rows = session.execute(select(ApiKey.__table__)).all()
    assert len(rows) == 3
    stored = " ".join(str(value) for row in rows for value in row)
    for plaintext in plaintexts:
        assert plaintext.startswith("sk_")
        assert plaintext not in stored
        assert plaintext.removeprefix("sk_admin_").removeprefix("sk_agent_").removeprefix("sk_reseller_") not in stored
    assert sorted(row.key_hash for row in rows) == sorted(auth.key_hash(settings.key("api_key"), p) for p in plaintexts)
