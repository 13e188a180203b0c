"""POST /api/v1/vouchers/redeem: the top-up a card makes, replays, one answer for every failed PIN, the lockout,
the per-key limit, and 503 when vouchers are not set up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from simkeep.main import create_app
from simkeep.voucher import pins
from simkeep.voucher import service as vouchers
from tests.conftest import ADMIN_TOKEN, T0
from tests.factories.lines import make_line
from tests.factories.snapshot import snapshot
from tests.factories.vouchers import KEYS, make_batch, make_reseller, sell, sold_cards
from tests.voucher import MSISDN, api_key, failure_reasons, post_redeem, states
from tests.web import balances, error, freeze_clock, ledger_ok, money

UNKNOWN_PIN = "1234 5678 9012 347"  # a valid check digit, on no card


@pytest.fixture
def clock(monkeypatch):
    return freeze_clock(monkeypatch, T0 + timedelta(hours=1))


@pytest.fixture
def cards(db, clock):
    make_line(db, now=T0)
    make_reseller(db, now=T0)
    return sold_cards(db, quantity=5, now=T0)


def test_a_card_redeems_into_a_top_up_with_its_serial(client, db, cards):
    serial, pin = cards[0]
    response = post_redeem(client, pins.grouped(pin))
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    body = response.json()
    # 14 days from the end of 31 March (Paris), across the DST change: the end of 14 April, Paris.
    assert body == {"id": body["id"], "status": "completed", "msisdn": MSISDN, "offer_id": "fr-orange-mobicarte-10",
                    "channel": "voucher", "amount": money(1000), "bonus": money(0),
                    "validity_ends_at": "2027-04-14T22:00:00Z", "created_at": "2027-03-01T10:00:00Z", "quote_id": None,
                    "voucher_serial": serial}
    assert balances(db) == (1000, 0)
    assert states(db)[serial] == "redeemed"
    with db.transaction(write=False) as session:
        view = vouchers.lookup(session, serial)
    assert (view.voucher.redeemed_msisdn, view.voucher.redeemed_via, str(view.voucher.topup_id)) == (
        MSISDN, "api", body["id"])
    assert ledger_ok(db)


def test_a_replay_answers_the_first_top_up_and_moves_nothing(client, db, cards, clock):
    first = post_redeem(client, cards[0][1], key="same")
    before = snapshot(db)
    clock.advance(minutes=5)
    for written in (cards[0][1], pins.grouped(cards[0][1]), cards[0][1].replace("", " ").strip()):
        again = post_redeem(client, written, key="same", msisdn="06 12 34 56 78")
        assert again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
    assert snapshot(db) == before
    assert balances(db) == (1000, 0)


def test_the_same_key_with_another_pin_is_409_and_moves_nothing(client, db, cards):
    post_redeem(client, cards[0][1], key="same")
    before = snapshot(db)
    assert error(post_redeem(client, cards[1][1], key="same")) == (409, "idempotency_key_reused")
    assert snapshot(db) == before
    assert states(db)[cards[1][0]] == "active"


def test_every_failed_pin_gets_the_same_bytes(client, db, cards, clock, settings):
    # Every way a PIN can fail, with the card it matches: unknown, used, blocked, expired, not sold, another
    # operator's, a wrong check digit.
    make_line(db, msisdn="+33698765432", now=T0)
    used = cards[0][1]
    assert post_redeem(client, used, key="use-it", msisdn="+33698765432").status_code == 201
    blocked_serial, blocked = cards[1]
    with db.transaction() as session:
        vouchers.request_action(session, action=vouchers.BLOCK, serial_from=blocked_serial, serial_to=blocked_serial,
                                actor="staff:bob", reason="stolen box", now=clock.at)
    short, short_cards = make_batch(db, quantity=1, now=T0, expires_in=timedelta(days=2))
    sell(db, serial_from=short.serial_from, serial_to=short.serial_to, now=T0)
    _unsold, unsold_cards = make_batch(db, quantity=1, now=T0)
    sfr, sfr_cards = make_batch(db, quantity=1, offer_id="fr-sfr-la-carte-10", now=T0)
    sell(db, serial_from=sfr.serial_from, serial_to=sfr.serial_to, now=T0)
    typo = cards[2][1][:-1] + str((int(cards[2][1][-1]) + 1) % 10)
    clock.advance(days=3)  # the short batch has expired (its cards are still "active" until the expiry job runs)
    tries = {"unknown": UNKNOWN_PIN, "used": used, "blocked": blocked, "expired": short_cards[0][1],
             "not_sold": unsold_cards[0][1], "other_operator": sfr_cards[0][1], "check_digit": typo}
    before_states, before = states(db), snapshot(db)
    answers = {}
    app = create_app(settings.model_copy(update={"voucher_failures_per_number": 10}), db)  # 7 tries, no lockout
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as seven:
        for n, (reason, pin) in enumerate(tries.items()):
            response = post_redeem(seven, pin, key=f"try-{n}")
            answers[reason] = (response.status_code, response.headers["content-type"], response.content)
    assert len(set(answers.values())) == 1, answers
    status, content_type, content = answers["unknown"]
    assert (status, content_type) == (422, "application/json")
    assert content == (b'{"error":{"code":"voucher_invalid","message":"This recharge card PIN cannot be used. Check '
                       b'the digits; if it still fails, ask the seller or customer service."}}')
    # Staff see each exact reason; nothing moved but the failures recorded.
    assert failure_reasons(db)[-7:] == list(tries)
    assert states(db) == before_states
    after = snapshot(db)
    assert after["balances"] == before["balances"]
    assert {k: after["counts"][k] - v for k, v in before["counts"].items() if after["counts"][k] != v} == {
        "voucher_failures": 7}
    assert balances(db) == (0, 0)


def test_five_wrong_pins_lock_the_number_until_the_fifth_leaves_the_window(client, db, cards, clock, settings):
    app = create_app(settings.model_copy(update={"hotline": "+33 1 23 45 67 89"}), db)
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
        first_failure = clock.at
        for n in range(5):
            assert error(post_redeem(client, UNKNOWN_PIN, key=f"wrong-{n}")) == (422, "voucher_invalid")
            clock.advance(minutes=10)
        before = snapshot(db)
        locked = post_redeem(client, cards[0][1], key="right")  # the right PIN, but too late today
        assert error(locked) == (429, "voucher_locked")
        # The fifth-latest failure leaves the 24-hour window at first_failure + 24 h.
        assert locked.json()["error"] == {
            "code": "voucher_locked", "locked_until": "2027-03-02T10:00:00Z", "retry_after": 83400,
            "message": "Too many wrong recharge card PINs for this number: it may try again from "
                       "2027-03-02T10:00:00Z (UTC). If a card does not work, call customer service on "
                       "+33 1 23 45 67 89."}
        assert locked.headers["Retry-After"] == "83400"
        assert snapshot(db) == before  # a locked try is not even recorded
        assert states(db)[cards[0][0]] == "active"
        clock.at = first_failure + timedelta(hours=24) - timedelta(seconds=1)
        assert error(post_redeem(client, cards[0][1], key="right-2")) == (429, "voucher_locked")
        clock.at = first_failure + timedelta(hours=24)  # the next day
        response = post_redeem(client, cards[0][1], key="right-3")
        assert response.status_code == 201
    assert balances(db) == (1000, 0)


def test_without_a_hotline_the_lockout_says_to_ask_the_seller(client, db, cards):
    for n in range(5):
        post_redeem(client, UNKNOWN_PIN, key=f"wrong-{n}")
    message = post_redeem(client, cards[0][1], key="right").json()["error"]["message"]
    assert message.endswith("If a card does not work, ask the seller of the card or customer service.")


def test_typos_caught_by_the_check_digit_do_not_count(client, db, cards):
    typo = cards[0][1][:-1] + str((int(cards[0][1][-1]) + 1) % 10)
    for n in range(8):
        assert error(post_redeem(client, typo, key=f"typo-{n}")) == (422, "voucher_invalid")
    assert post_redeem(client, cards[0][1], key="right").status_code == 201


def test_a_replay_still_answers_on_a_locked_number(client, db, cards):
    first = post_redeem(client, cards[0][1], key="first")
    for n in range(5):
        post_redeem(client, UNKNOWN_PIN, key=f"wrong-{n}")
    again = post_redeem(client, cards[0][1], key="first")
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")
    assert again.json() == first.json()


def test_an_api_key_past_its_budget_is_429_before_any_lookup(db, cards, settings):
    app = create_app(settings.model_copy(update={"voucher_redemptions_per_key": "3 per minute"}), db)
    agent = api_key(db, settings, role="agent")
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
        for n in range(3):
            assert error(post_redeem(client, UNKNOWN_PIN, key=f"wrong-{n}", msisdn="+33600000000")) == (
                404, "line_not_found")
        before = snapshot(db)
        limited = post_redeem(client, cards[0][1], key="right")
        assert error(limited) == (429, "rate_limited")
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.json()["error"]["retry_after"] == int(limited.headers["Retry-After"])
        assert snapshot(db) == before
        # Another key has its own budget.
        assert post_redeem(client, cards[0][1], key="right", headers=agent).status_code == 201


def test_a_reseller_key_sees_the_number_masked(client, db, cards, settings):
    response = post_redeem(client, cards[0][1], headers=api_key(db, settings, role="reseller"))
    assert response.status_code == 201
    assert response.json()["msisdn"] == "+336******78"


def test_without_a_pepper_redemption_is_503_and_nothing_moves(db, cards, settings):
    app = create_app(settings.model_copy(update={"voucher_pepper": None}), db)
    before = snapshot(db)
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
        assert error(post_redeem(client, cards[0][1])) == (503, "vouchers_not_configured")
    assert snapshot(db) == before


def test_a_missing_idempotency_key_is_400(client, cards):
    response = client.post("/api/v1/vouchers/redeem", json={"msisdn": MSISDN, "pin": cards[0][1]})
    assert error(response) == (400, "idempotency_key_missing")


def test_no_token_is_401(client, cards):
    client.headers.pop("Authorization")
    assert error(post_redeem(client, cards[0][1])) == (401, "unauthorized")


def test_the_openapi_document_lists_every_answer(client):
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/api/v1/vouchers/redeem"]["post"]
    assert sorted(operation["responses"]) == ["201", "400", "401", "403", "404", "409", "413", "422", "429", "503"]
    assert "voucher_invalid" in operation["responses"]["422"]["description"]
    assert "voucher_locked" in operation["responses"]["429"]["description"]
    assert "Retry-After" in operation["responses"]["429"]["headers"]
    assert any(p["name"] == "idempotency-key" and p["required"] for p in operation["parameters"])
    assert set(document["components"]["schemas"]["RedemptionOut"]["properties"]) >= {"voucher_serial", "id"}


def test_the_keys_hash_pins_as_the_factories_do(settings):
    assert pins.keys(settings) == KEYS


def test_a_stolen_range_once_blocked_answers_like_an_unknown_pin_until_unblocked(client, db, cards, clock):
    stolen = cards[1:4]
    with db.transaction() as session:
        vouchers.request_action(session, action=vouchers.BLOCK, serial_from=stolen[0][0], serial_to=stolen[-1][0],
                                actor="staff:bob", reason="box stolen from the van", now=clock.at)
    unknown = post_redeem(client, UNKNOWN_PIN, key="unknown").content
    before = snapshot(db)
    answers = [post_redeem(client, pin, key=f"stolen-{serial}").content for serial, pin in stolen]
    assert answers == [unknown] * 3
    assert failure_reasons(db)[-3:] == ["blocked"] * 3
    after = snapshot(db)
    assert after["balances"] == before["balances"]
    assert {serial: states(db)[serial] for serial, _pin in stolen} == dict.fromkeys((s for s, _ in stolen), "blocked")
    # Found again: unblocked, the cards work.
    with db.transaction() as session:
        vouchers.request_action(session, action=vouchers.UNBLOCK, serial_from=stolen[0][0],
                                serial_to=stolen[-1][0], actor="staff:bob", reason="box found", now=clock.at)
    assert post_redeem(client, stolen[0][1], key="found", msisdn=MSISDN).status_code == 201
    assert balances(db) == (1000, 0)
