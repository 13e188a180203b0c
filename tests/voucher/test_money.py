"""A mixed day of vouchers and resellers, then the books: deposits, a stock sale, e-PINs, redemptions, a reseller's
top-up, a stolen range blocked, a batch expired. The ledger balances and every figure is exact."""

from __future__ import annotations

from datetime import timedelta

from simkeep.ledger import service as ledger
from simkeep.reseller import service as resellers
from simkeep.voucher import service as vouchers
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.vouchers import make_batch, make_reseller, sell
from tests.voucher import api_key, post_redeem, states
from tests.web import balances, error, freeze_clock

LINE_A, LINE_B = "+33612345678", "+33698765432"


def account(db, kind: str) -> int:
    with db.transaction(write=False) as session:
        return ledger.account_balance(session, ledger.system_account_id(kind, "EUR"))


def test_a_mixed_day_balances_to_the_cent(client, db, settings, monkeypatch):
    clock = freeze_clock(monkeypatch, T0)
    make_line(db, msisdn=LINE_A, now=T0)
    make_line(db, msisdn=LINE_B, now=T0)
    tabac = make_reseller(db, code="TABAC", discount_bp=500, deposit_minor=50_000, now=T0)
    shop = make_reseller(db, code="SHOP", discount_bp=1000, deposit_minor=20_000, now=T0)
    tabac_key = api_key(db, settings, reseller_id=tabac.id)
    shop_key = api_key(db, settings, reseller_id=shop.id)

    # Printed stock: ten cards for a year, three that expire in two days. The tabac buys six and three.
    year, year_cards = make_batch(db, quantity=10, now=T0)
    short, short_cards = make_batch(db, quantity=3, now=T0, expires_in=timedelta(days=2))
    sell(db, serial_from=year.serial_from, serial_to=year.serial_from + 5, reseller="TABAC", now=T0)
    sell(db, serial_from=short.serial_from, serial_to=short.serial_to, reseller="TABAC", now=T0)
    # The shop buys four e-PINs through the API.
    clock.advance(hours=1)
    bought = client.post("/api/v1/reseller/epins", json={"offer_id": "fr-orange-mobicarte-10", "quantity": 4},
                         headers={**shop_key, "Idempotency-Key": "epins"})
    assert bought.status_code == 201
    epins = [c["pin"] for c in bought.json()["pins"]]

    # Redemptions: three printed cards of the year, one short-lived, two e-PINs; one wrong PIN.
    clock.advance(hours=1)
    for n, (pin, line) in enumerate([(year_cards[0][1], LINE_A), (year_cards[1][1], LINE_A),
                                     (year_cards[2][1], LINE_B), (short_cards[0][1], LINE_B),
                                     (epins[0], LINE_A), (epins[1], LINE_B)]):
        assert post_redeem(client, pin, key=f"r{n}", msisdn=line).status_code == 201
    assert error(post_redeem(client, year_cards[8][1], key="unsold", msisdn=LINE_A)) == (422, "voucher_invalid")
    # The tabac recharges a customer's line with 25.00 (5.00 bonus) from its float.
    top_up = client.post("/api/v1/reseller/topups", json={"msisdn": LINE_B, "offer_id": "fr-orange-mobicarte-25"},
                         headers={**tabac_key, "Idempotency-Key": "tu"})
    assert top_up.status_code == 201
    # A box is stolen: serials 6-7 of the year's batch (one sold, one not) are blocked.
    with db.transaction() as session:
        vouchers.request_action(session, action=vouchers.BLOCK, serial_from=year.serial_from + 5,
                                serial_to=year.serial_from + 6, actor="staff:bob", reason="box stolen", now=clock.at)
    assert error(post_redeem(client, year_cards[5][1], key="stolen", msisdn=LINE_A)) == (422, "voucher_invalid")
    # Three days later the short batch has expired: its two unredeemed cards go to breakage.
    clock.advance(days=3)
    with db.transaction() as session:
        assert vouchers.expire_due(session, now=clock.at) == 1
    with db.transaction() as session:
        assert vouchers.expire_due(session, now=clock.at) == 0  # once

    # Lines: six cards of 10.00, and the reseller's 25.00 + 5.00 bonus.
    assert balances(db, LINE_A) == (3000, 0)
    assert balances(db, LINE_B) == (3000 + 2500, 500)
    # Floats: the tabac paid 57.00 + 28.50 for its stock and 23.75 for the top-up; the shop 36.00 for e-PINs.
    with db.transaction(write=False) as session:
        assert resellers.float_balance(session, tabac).minor == 50_000 - 5700 - 2850 - 2375 == 39_075
        assert resellers.float_balance(session, shop).minor == 20_000 - 3600 == 16_400
    # Commission: 3.00 + 1.50 + 4.00 on vouchers, 1.25 on the top-up (an expense: the account is debited).
    assert account(db, ledger.COMMISSION) == -(300 + 150 + 400 + 125) == -975
    # Liability: 130.00 sold, 60.00 redeemed, 20.00 expired: 50.00 of cards still out (two printed active, one
    # printed blocked, two e-PINs).
    assert account(db, ledger.VOUCHER_LIABILITY) == 13_000 - 6000 - 2000 == 5000
    assert account(db, ledger.BREAKAGE) == 2000
    with db.transaction(write=False) as session:
        assert ledger.verify(session).problems == []
        assert vouchers.reconcile(session) == []
        year_report, short_report = vouchers.report(session, year.id), vouchers.report(session, short.id)
        epin_report = vouchers.report(session, vouchers.lookup(session, bought.json()["serial_from"]).batch.id)
    assert year_report.counts == {"made": 10, "sold": 6, "generated": 3, "active": 2, "redeemed": 3, "blocked": 2,
                                  "expired": 0}
    assert {k: m.minor for k, m in year_report.money.items()} == {
        "sold": 6000, "redeemed": 3000, "outstanding": 3000, "breakage": 0, "commission": 300}
    assert short_report.counts == {"made": 3, "sold": 3, "generated": 0, "active": 0, "redeemed": 1, "blocked": 0,
                                   "expired": 2}
    assert {k: m.minor for k, m in short_report.money.items()} == {
        "sold": 3000, "redeemed": 1000, "outstanding": 0, "breakage": 2000, "commission": 150}
    assert {k: m.minor for k, m in epin_report.money.items()} == {
        "sold": 4000, "redeemed": 2000, "outstanding": 2000, "breakage": 0, "commission": 400}
    assert year_report.balances and short_report.balances and epin_report.balances
    # An expired card fails like any other.
    assert error(post_redeem(client, short_cards[1][1], key="late", msisdn=LINE_A)) == (422, "voucher_invalid")
    assert states(db)[short.serial_from + 1] == "expired"
