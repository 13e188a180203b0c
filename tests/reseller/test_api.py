"""The reseller's API: its float, e-PINs (the one hand-out of their PINs, replayed the same), top-ups of customers'
lines paid from the float (masked numbers only), purchases and the statement in JSON and CSV."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from simkeep.reseller import service as resellers
from simkeep.voucher import pins
from simkeep.voucher.models import Voucher
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.snapshot import snapshot
from tests.factories.vouchers import make_batch, make_reseller, sell
from tests.voucher import MSISDN, api_key, post_redeem
from tests.web import balances, error, freeze_clock, ledger_ok, money

NOW = T0 + timedelta(hours=2)


@pytest.fixture
def clock(monkeypatch):
    return freeze_clock(monkeypatch, NOW)


@pytest.fixture
def reseller(db, clock):
    return make_reseller(db, now=T0)  # 5 % discount, 1,000.00 EUR deposited


@pytest.fixture
def key(db, settings, reseller) -> dict:
    return api_key(db, settings, reseller_id=reseller.id)


def buy(client, key: dict, quantity: int = 3, idem: str = "buy-1", offer_id: str = "fr-orange-mobicarte-10"):
    return client.post("/api/v1/reseller/epins", json={"offer_id": offer_id, "quantity": quantity},
                       headers={**key, "Idempotency-Key": idem})


def top_up(client, key: dict, idem: str = "tu-1", offer_id: str = "fr-orange-mobicarte-10", msisdn: str = MSISDN):
    return client.post("/api/v1/reseller/topups", json={"msisdn": msisdn, "offer_id": offer_id},
                       headers={**key, "Idempotency-Key": idem})


def float_of(db, reseller) -> int:
    with db.transaction(write=False) as session:
        return resellers.float_balance(session, reseller).minor


def voucher_count(db) -> int:
    with db.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(Voucher))


def test_the_reseller_sees_itself_and_its_float(client, key):
    response = client.get("/api/v1/reseller", headers=key)
    assert response.status_code == 200
    assert response.json() == {"code": "TABAC-RIVOLI", "name": "TABAC-RIVOLI (test)", "currency": "EUR",
                               "discount_bp": 500, "float_balance": money(100_000)}


@pytest.mark.parametrize("route", ["GET /api/v1/reseller", "POST /api/v1/reseller/epins",
                                   "POST /api/v1/reseller/topups", "GET /api/v1/reseller/purchases",
                                   "GET /api/v1/reseller/statement", "GET /api/v1/reseller/statement.csv"])
def test_only_a_key_bound_to_a_reseller_may_call(client, db, settings, reseller, route):
    method, path = route.split()
    body = {"offer_id": "fr-orange-mobicarte-10", "quantity": 1, **({"msisdn": MSISDN} if "topups" in path else {})}
    if "topups" in path:
        body.pop("quantity")
    before = snapshot(db)
    for headers in ({}, api_key(db, settings, role="reseller"), api_key(db, settings, role="agent")):
        # {} leaves the client's admin token: an admin acts for no reseller either.
        response = client.request(method, path, json=body if method == "POST" else None,
                                  headers={**headers, "Idempotency-Key": "x"})
        assert error(response) == (403, "forbidden")
    assert snapshot(db)["balances"] == before["balances"]


def test_a_disabled_resellers_key_stops_working(client, db, key, reseller):
    with db.transaction() as session:
        resellers.disable(session, reseller=reseller, actor="staff:alice", reason="contract ended", now=NOW)
    assert error(client.get("/api/v1/reseller", headers=key)) == (403, "forbidden")
    assert error(buy(client, key)) == (403, "forbidden")


def test_buying_e_pins_hands_them_out_once_and_a_replay_gives_the_same(client, db, key, reseller, clock):
    response = buy(client, key, quantity=3)
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    body = response.json()
    cards = body.pop("pins")
    assert body == {"purchase_id": body["purchase_id"], "offer_id": "fr-orange-mobicarte-10", "quantity": 3,
                    "serial_from": 100_000_000_001, "serial_to": 100_000_000_003, "face_value": money(1000),
                    "total_face_value": money(3000), "paid": money(2850), "commission": money(150),
                    "expires_at": "2028-02-29T11:00:00Z", "created_at": "2027-03-01T11:00:00Z"}
    assert [c["serial"] for c in cards] == [100_000_000_001, 100_000_000_002, 100_000_000_003]
    assert all(pins.normalize(c["pin"]) == c["pin"] for c in cards) and len({c["pin"] for c in cards}) == 3
    assert float_of(db, reseller) == 100_000 - 2850
    before = snapshot(db)
    clock.advance(minutes=3)
    again = buy(client, key, quantity=3)
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")
    assert again.json() == {**body, "pins": cards}
    assert snapshot(db) == before
    assert error(buy(client, key, quantity=4)) == (409, "idempotency_key_reused")
    assert snapshot(db) == before
    # The PINs work, once.
    make_line(db, now=T0)
    assert post_redeem(client, cards[1]["pin"]).json()["voucher_serial"] == 100_000_000_002
    assert error(post_redeem(client, cards[1]["pin"], key="r2")) == (422, "voucher_invalid")
    assert ledger_ok(db)


def test_a_float_too_small_buys_nothing(client, db, settings, clock):
    poor = make_reseller(db, code="EPICERIE", deposit_minor=1_899, now=T0)
    key = api_key(db, settings, reseller_id=poor.id)
    assert buy(client, key, quantity=1, idem="one").status_code == 201  # 9.50 EUR
    before, vouchers_before = snapshot(db), voucher_count(db)
    response = buy(client, key, quantity=1, idem="two")  # 9.50 more: 0.01 EUR short
    assert error(response) == (402, "insufficient_float")
    assert snapshot(db) == before
    assert voucher_count(db) == vouchers_before == 1
    assert float_of(db, poor) == 949


def test_a_reseller_top_up_is_paid_from_the_float_and_shows_a_masked_number(client, db, key, reseller, clock):
    make_line(db, now=T0)
    response = top_up(client, key)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body == {"id": body["id"], "status": "completed", "msisdn": "+336******78",
                    "offer_id": "fr-orange-mobicarte-10", "channel": "reseller", "amount": money(1000),
                    "paid": money(950), "commission": money(50), "created_at": "2027-03-01T11:00:00Z",
                    "quote_id": None}  # no campaign priced it
    assert MSISDN not in response.text and "validity" not in response.text
    assert balances(db) == (1000, 0)
    assert float_of(db, reseller) == 100_000 - 950
    before = snapshot(db)
    again = top_up(client, key, msisdn="06 12 34 56 78")
    assert (again.status_code, again.headers["Idempotent-Replayed"], again.json()) == (201, "true", body)
    assert snapshot(db) == before
    assert ledger_ok(db)


def test_a_top_up_the_float_cannot_pay_moves_nothing(client, db, settings, clock):
    make_line(db, now=T0)
    poor = make_reseller(db, code="EPICERIE", deposit_minor=949, now=T0)
    key = api_key(db, settings, reseller_id=poor.id)
    before = snapshot(db)
    assert error(top_up(client, key)) == (402, "insufficient_float")
    assert snapshot(db) == before
    assert balances(db) == (0, 0)


def test_purchases_list_newest_first_without_pins(client, db, key, reseller, clock):
    batch, _cards = make_batch(db, quantity=4, now=T0)
    sell(db, serial_from=batch.serial_from, serial_to=batch.serial_to, now=T0 + timedelta(hours=1))
    bought = buy(client, key, quantity=2).json()
    response = client.get("/api/v1/reseller/purchases", headers=key)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [(i["kind"], i["quantity"], i["serial_from"], i["serial_to"], i["face_value"], i["paid"],
             i["commission"], i["created_at"]) for i in items] == [
        ("epin", 2, 100_000_000_005, 100_000_000_006, money(2000), money(1900), money(100),
         "2027-03-01T11:00:00Z"),
        ("physical", 4, 100_000_000_001, 100_000_000_004, money(4000), money(3800), money(200),
         "2027-03-01T10:00:00Z")]
    assert items[0]["id"] == bought["purchase_id"]
    assert '"pins"' not in response.text and all(c["pin"] not in response.text for c in bought["pins"])
    assert client.get("/api/v1/reseller/purchases?limit=1", headers=key).json()["items"] == items[:1]


def test_the_statement_in_json_and_csv(client, db, key, reseller, clock):
    make_line(db, now=T0)
    clock.at = T0 + timedelta(hours=3)
    buy(client, key, quantity=3)
    clock.at = T0 + timedelta(hours=4)
    topup_id = top_up(client, key).json()["id"]
    response = client.get("/api/v1/reseller/statement", headers=key)
    assert response.status_code == 200
    body = response.json()
    purchase_ref, deposit_ref = body["lines"][1]["reference"], body["lines"][0]["reference"]
    assert deposit_ref.startswith(f"reseller_deposit:{reseller.id}:dep-")
    assert purchase_ref.startswith("voucher_sale:")
    assert body == {
        "code": "TABAC-RIVOLI", "currency": "EUR", "since": None, "until": None,
        "opening_balance": money(0), "closing_balance": money(100_000 - 2850 - 950), "commission": money(200),
        "lines": [
            {"at": "2027-03-01T09:00:00Z", "kind": "reseller_deposit", "reference": deposit_ref,
             "amount": money(100_000), "commission": money(0), "balance": money(100_000)},
            {"at": "2027-03-01T12:00:00Z", "kind": "voucher_sale", "reference": purchase_ref,
             "amount": money(-2850), "commission": money(150), "balance": money(97_150)},
            {"at": "2027-03-01T13:00:00Z", "kind": "topup", "reference": f"topup:{topup_id}",
             "amount": money(-950), "commission": money(50), "balance": money(96_200)}]}
    since = client.get("/api/v1/reseller/statement", headers=key,
                       params={"since": "2027-03-01T12:30:00Z", "until": "2027-03-02T00:00:00+01:00"}).json()
    assert (since["since"], since["until"]) == ("2027-03-01T12:30:00Z", "2027-03-01T23:00:00Z")
    assert (since["opening_balance"], since["closing_balance"], since["commission"]) == (
        money(97_150), money(96_200), money(50))
    assert since["lines"] == body["lines"][2:]
    empty = client.get("/api/v1/reseller/statement", headers=key, params={"since": "2027-03-05T00:00:00Z"}).json()
    assert (empty["opening_balance"], empty["closing_balance"], empty["lines"]) == (money(96_200), money(96_200), [])
    csv = client.get("/api/v1/reseller/statement.csv", headers=key)
    assert csv.status_code == 200
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv.headers["content-disposition"] == 'attachment; filename="statement-TABAC-RIVOLI.csv"'
    assert csv.text == (
        "date,kind,reference,amount,commission,balance,currency\r\n"
        f"2027-03-01T09:00:00Z,reseller_deposit,{deposit_ref},1000.00,0.00,1000.00,EUR\r\n"
        f"2027-03-01T12:00:00Z,voucher_sale,{purchase_ref},-28.50,1.50,971.50,EUR\r\n"
        f"2027-03-01T13:00:00Z,topup,topup:{topup_id},-9.50,0.50,962.00,EUR\r\n")
    later = client.get("/api/v1/reseller/statement.csv", headers=key, params={"since": "2027-03-01T12:30:00Z"})
    assert later.text.splitlines()[1:] == csv.text.splitlines()[3:]



def test_a_misspelt_query_parameter_is_refused_not_ignored(client, key):
    response = client.get("/api/v1/reseller/statement", headers=key, params={"sinse": "2027-03-01T00:00:00Z"})
    assert error(response) == (422, "invalid_input")
    assert response.json()["error"]["message"] == "unknown query parameter: 'sinse'"
    assert error(client.get("/api/v1/reseller/purchases?limt=5", headers=key)) == (422, "invalid_input")


def test_a_resellers_key_reads_no_line_and_tops_up_only_from_its_float(client, db, key):
    make_line(db, now=T0)
    before = snapshot(db)
    assert error(client.get(f"/api/v1/lines/{MSISDN}", headers=key)) == (403, "forbidden")
    assert error(client.get(f"/api/v1/lines/{MSISDN}/history", headers=key)) == (403, "forbidden")
    free = client.post("/api/v1/topups", json={"msisdn": MSISDN, "offer_id": "fr-orange-mobicarte-10"},
                       headers={**key, "Idempotency-Key": "free"})
    assert error(free) == (403, "forbidden")
    assert snapshot(db) == before
    # What it may read: the catalog, to choose offers.
    assert client.get("/api/v1/operators", headers=key).status_code == 200
