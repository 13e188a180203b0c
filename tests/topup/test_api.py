"""POST /api/v1/topups and GET /api/v1/topups/{id}, with a frozen clock so validity instants are exact."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from simkeep.lifecycle.tasks import run_sweep
from tests.conftest import T0
from tests.factories.lines import make_line, view
from tests.factories.snapshot import snapshot
from tests.web import balances, error, freeze_clock, ledger_ok, money

MSISDN = "+33612345678"
VALIDITY_END = datetime(2027, 3, 31, 22, 0, tzinfo=UTC)  # a line made at T0: the end of 31 March, Paris
NUMBER_LOSS = datetime(2027, 9, 27, 22, 0, tzinfo=UTC)


def topup(client, key: str | None = "k1", offer_id: str = "fr-orange-mobicarte-25", msisdn: str = MSISDN, **extra):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post("/api/v1/topups", json={"msisdn": msisdn, "offer_id": offer_id, **extra}, headers=headers)


@pytest.fixture
def clock(monkeypatch):
    return freeze_clock(monkeypatch, T0 + timedelta(days=1))


@pytest.fixture
def line(db, clock):
    return make_line(db, now=T0)


def test_topup_is_201_with_exact_amount_and_validity(client, db, line):
    response = topup(client)
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    body = response.json()
    uuid.UUID(body["id"])
    # 60 days from the current end (1 April 00:00 Paris), across the DST change: 31 May 00:00 Paris.
    assert body == {
        "id": body["id"], "status": "completed", "msisdn": MSISDN, "offer_id": "fr-orange-mobicarte-25",
        "channel": "api", "amount": money(2500), "bonus": money(500), "validity_ends_at": "2027-05-30T22:00:00Z",
        "created_at": "2027-03-02T09:00:00Z", "quote_id": None,
    }
    assert balances(db) == (2500, 500)
    line_body = client.get(f"/api/v1/lines/{MSISDN}").json()
    assert (line_body["balance"], line_body["validity_ends_at"]) == (money(3000), "2027-05-30T22:00:00Z")
    assert ledger_ok(db)


def test_get_topup_returns_the_same_body(client, line):
    created = topup(client, channel="agent").json()
    response = client.get(f"/api/v1/topups/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    assert created["channel"] == "agent"


def test_get_unknown_topup_is_404(client, line):
    assert error(client.get(f"/api/v1/topups/{uuid.uuid4()}")) == (404, "topup_not_found")


def test_national_input_is_the_same_number(client, db, line):
    assert topup(client, msisdn="06 12 34 56 78").json()["msisdn"] == MSISDN
    assert balances(db) == (2500, 500)


def test_replay_with_same_key_and_body_returns_the_first_result(client, db, line, clock):
    first = topup(client)
    before = snapshot(db)
    clock.at += timedelta(minutes=5)
    for msisdn in (MSISDN, "0612345678"):  # the same number written another way is the same request
        again = topup(client, msisdn=msisdn)
        assert again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
    assert snapshot(db) == before
    assert balances(db) == (2500, 500)


@pytest.mark.parametrize("change", [{"offer_id": "fr-orange-mobicarte-5"}, {"channel": "portal"},
                                    {"msisdn": "+33612345679"}])
def test_same_key_different_body_is_409_and_nothing_moves(client, db, line, change):
    first = topup(client)
    before = snapshot(db)
    assert error(topup(client, **change)) == (409, "idempotency_key_reused")
    assert snapshot(db) == before
    assert client.get(f"/api/v1/topups/{first.json()['id']}").json() == first.json()


def test_missing_key_is_400(client, db, line):
    before = snapshot(db)
    assert error(topup(client, key=None)) == (400, "idempotency_key_missing")
    assert snapshot(db) == before


@pytest.mark.parametrize("offer", ["nope", "fr-sfr-la-carte-10", "hk-clubsim-6"])
def test_unknown_or_other_operators_offer_is_404(client, db, line, offer):
    before = snapshot(db)
    assert error(topup(client, offer_id=offer)) == (404, "offer_not_found")
    assert snapshot(db) == before


def test_unknown_line_is_404(client, db, line):
    before = snapshot(db)
    assert error(topup(client, msisdn="+33612345679")) == (404, "line_not_found")
    assert snapshot(db) == before


def test_unknown_channel_is_422(client, db, line):
    before = snapshot(db)
    assert error(topup(client, channel="fax")) == (422, "invalid_input")
    assert snapshot(db) == before


def test_topup_brings_a_grace_line_back_to_active(client, db, line, clock):
    run_sweep(db, now=VALIDITY_END + timedelta(days=10))
    assert view(db).line.state == "grace"
    clock.at = datetime(2027, 4, 11, 8, 0, tzinfo=UTC)  # 11 April, 10:00 Paris
    response = topup(client, offer_id="fr-orange-mobicarte-10")
    # 14 days from now (the old end has passed): the end of 25 April, Paris.
    assert response.json()["validity_ends_at"] == "2027-04-25T22:00:00Z"
    line_body = client.get(f"/api/v1/lines/{MSISDN}").json()
    assert (line_body["state"], line_body["balance"]) == ("active", money(1000))


@pytest.mark.parametrize("days_after_loss", [0, 2])  # deactivated, then quarantine
def test_deactivated_or_quarantined_line_is_409_line_not_renewable(client, db, line, clock, days_after_loss):
    clock.at = NUMBER_LOSS + timedelta(days=days_after_loss)
    run_sweep(db, now=clock.at)
    assert view(db).line.state == ("deactivated" if days_after_loss == 0 else "quarantine")
    before = snapshot(db)
    assert error(topup(client)) == (409, "line_not_renewable")
    assert snapshot(db) == before


def test_validity_cap_is_409_before_any_money_moves(client, db, line):
    for i in range(4):  # 30 + 4 x 150 = 630 days ahead, under the 730-day cap
        assert topup(client, key=f"k{i}", offer_id="fr-orange-mobicarte-100").status_code == 201
    before = snapshot(db)
    response = topup(client, key="k5", offer_id="fr-orange-mobicarte-100")
    assert error(response) == (409, "validity_cap_reached")
    assert snapshot(db) == before
    assert balances(db) == (4 * 10000, 4 * 5000)
    assert ledger_ok(db)
