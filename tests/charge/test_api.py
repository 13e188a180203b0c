"""POST /api/v1/charges: bonus spent first, 402 when short, idempotent, and bad amounts change nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from simkeep.lifecycle.tasks import run_sweep
from tests.conftest import T0
from tests.factories.lines import make_line, top_up, view
from tests.factories.snapshot import snapshot
from tests.web import balances, error, freeze_clock, ledger_ok, money

MSISDN = "+33612345678"


def charge(client, amount_minor=700, kind="call", key: str | None = "c1", msisdn: str = MSISDN):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post("/api/v1/charges", json={"msisdn": msisdn, "amount_minor": amount_minor, "kind": kind},
                       headers=headers)


@pytest.fixture
def clock(monkeypatch):
    return freeze_clock(monkeypatch, T0 + timedelta(hours=1))


@pytest.fixture
def funded(db, clock):
    """2500 credit and 500 bonus (Orange 25 EUR)."""
    make_line(db, now=T0)
    top_up(db, offer_id="fr-orange-mobicarte-25", now=T0)
    return snapshot(db)


def test_charge_spends_bonus_first_then_credit(client, db, funded):
    response = charge(client)
    assert response.status_code == 201
    body = response.json()
    uuid.UUID(body["id"])
    assert body == {"id": body["id"], "msisdn": MSISDN, "kind": "call", "amount": money(700),
                    "bonus_used": money(500), "created_at": "2027-03-01T10:00:00Z"}
    assert balances(db) == (2300, 0)
    second = charge(client, amount_minor=19, kind="sms", key="c2").json()
    assert (second["amount"], second["bonus_used"]) == (money(19), money(0))
    assert balances(db) == (2281, 0)
    assert client.get(f"/api/v1/lines/{MSISDN}").json()["balance"] == money(2281)
    assert ledger_ok(db)


def test_charge_within_the_bonus_leaves_credit_untouched(client, db, funded):
    assert charge(client, amount_minor=300, kind="data").json()["bonus_used"] == money(300)
    assert balances(db) == (2500, 200)


def test_charging_the_whole_balance_leaves_zero(client, db, funded):
    assert charge(client, amount_minor=3000).status_code == 201
    assert balances(db) == (0, 0)
    empty = snapshot(db)
    assert error(charge(client, amount_minor=1, key="c2")) == (402, "insufficient_balance")
    assert snapshot(db) == empty
    assert ledger_ok(db)


def test_insufficient_balance_is_402_and_nothing_written(client, db, funded):
    response = charge(client, amount_minor=3001)
    assert error(response) == (402, "insufficient_balance")
    assert snapshot(db) == funded
    # Nothing was recorded under the key: once the balance allows it, the same key goes through.
    top_up(db, offer_id="fr-orange-mobicarte-5", now=T0)
    assert charge(client, amount_minor=3001).status_code == 201
    assert balances(db) == (499, 0)


def test_replay_returns_the_first_charge_and_debits_once(client, db, funded):
    first = charge(client)
    after_first = snapshot(db)
    again = charge(client)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert snapshot(db) == after_first
    assert balances(db) == (2300, 0)


@pytest.mark.parametrize("change", [{"amount_minor": 701}, {"kind": "sms"}, {"msisdn": "+33612345679"}])
def test_same_key_different_body_is_409(client, db, funded, change):
    charge(client)
    before = snapshot(db)
    assert error(charge(client, **{"amount_minor": 700, "kind": "call", **change})) == (409, "idempotency_key_reused")
    assert snapshot(db) == before


@pytest.mark.parametrize("amount,expected", [
    (0, (422, "invalid_amount")), (-5, (422, "invalid_amount")), (-3000, (422, "invalid_amount")),
    (10_000_001, (422, "invalid_amount")), (2**63, (422, "invalid_amount")),
    (1.5, (422, "validation_error")), (10.0, (422, "validation_error")), ("10", (422, "validation_error")),
    (True, (422, "validation_error")), (None, (422, "validation_error")), ([10], (422, "validation_error")),
])
def test_bad_amounts_are_4xx_and_nothing_written(client, db, funded, amount, expected):
    assert error(charge(client, amount_minor=amount)) == expected
    assert snapshot(db) == funded


@pytest.mark.parametrize("kind", ["mms", "", "CALL", "roaming"])
def test_unknown_kind_is_422(client, db, funded, kind):
    assert error(charge(client, kind=kind)) == (422, "invalid_input")
    assert snapshot(db) == funded


def test_missing_key_is_400(client, db, funded):
    assert error(charge(client, key=None)) == (400, "idempotency_key_missing")
    assert snapshot(db) == funded


def test_unknown_line_is_404(client, db, funded):
    assert error(charge(client, msisdn="+33612345679")) == (404, "line_not_found")
    assert snapshot(db) == funded


def test_line_in_grace_cannot_be_charged(client, db, funded, clock):
    ends = view(db).line.validity_ends_at
    clock.at = ends + timedelta(days=1)
    run_sweep(db, now=clock.at)
    assert view(db).line.state == "grace"
    before = snapshot(db)
    assert error(charge(client)) == (409, "line_not_chargeable")
    assert snapshot(db) == before


def test_line_past_validity_but_not_yet_swept_cannot_be_charged(client, db, funded, clock):
    clock.at = view(db).line.validity_ends_at
    assert error(charge(client)) == (409, "line_not_chargeable")
    assert snapshot(db) == funded
