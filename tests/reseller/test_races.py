"""e-PIN purchases raced over HTTP on a real server: the float never goes below zero, exactly the affordable ones
are bought, and one request sent many times buys once and answers the same PINs to all."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from simkeep.reseller import service as resellers
from simkeep.voucher import service as vouchers
from simkeep.voucher.models import Voucher, VoucherPurchase
from tests.conftest import T0
from tests.factories.vouchers import make_reseller
from tests.voucher import api_key
from tests.web import error, freeze_clock, ledger_ok, race


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    return freeze_clock(monkeypatch, T0)


def buy(base: str, key: dict, idem: str) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/reseller/epins", json={"offer_id": "fr-orange-mobicarte-10", "quantity": 1},
                      headers={**key, "Idempotency-Key": idem}, timeout=120)


def counts(db) -> tuple[int, int]:
    with db.transaction(write=False) as session:
        return (session.scalar(select(func.count()).select_from(Voucher)),
                session.scalar(select(func.count()).select_from(VoucherPurchase)))


def settled(db, reseller) -> int:
    with db.transaction(write=False) as session:
        assert vouchers.reconcile(session) == []
        return resellers.float_balance(session, reseller).minor


def test_30_purchases_racing_for_a_float_of_10_buy_exactly_10(live_server, db, settings):
    reseller = make_reseller(db, deposit_minor=10 * 950 + 949, now=T0)  # ten cards at 9.50, and 9.49 left
    key = api_key(db, settings, reseller_id=reseller.id)
    responses = race(30, lambda i: buy(live_server, key, f"k{i}"))
    assert sorted(r.status_code for r in responses) == [201] * 10 + [402] * 20
    assert {error(r) for r in responses if r.status_code == 402} == {(402, "insufficient_float")}
    assert counts(db) == (10, 10)
    serials = sorted(r.json()["serial_from"] for r in responses if r.status_code == 201)
    assert serials == list(range(100_000_000_001, 100_000_000_011))  # refused ones took no serials
    assert settled(db, reseller) == 949
    assert ledger_ok(db)


def test_one_purchase_sent_50_times_buys_once_and_answers_the_same_pins(live_server, db, settings):
    reseller = make_reseller(db, now=T0)
    key = api_key(db, settings, reseller_id=reseller.id)
    responses = race(50, lambda _i: buy(live_server, key, "the-one"))
    assert [r.status_code for r in responses] == [201] * 50
    assert len({r.content for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") != "true" for r in responses) == 1
    assert counts(db) == (1, 1)
    assert settled(db, reseller) == 100_000 - 950
    assert ledger_ok(db)
