"""One PIN raced 200 times: through the service on 200 threads (each its own transaction), and over HTTP on a real
server. Exactly one credit, whatever the database; everyone else gets the one answer."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from simkeep.core.errors import VoucherLocked
from simkeep.topup.models import TopUp
from simkeep.voucher import service as vouchers
from simkeep.voucher.models import VoucherFailure
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.snapshot import snapshot
from tests.factories.vouchers import make_reseller, redeem, sold_cards
from tests.voucher import MSISDN, failure_reasons, redeem_body, states
from tests.web import ADMIN, balances, freeze_clock, ledger_ok, race, rows_added

N = 200


def numbers(n: int) -> list[str]:
    return [f"+3367{i:07d}" for i in range(n)]


@pytest.fixture
def card(db, monkeypatch):
    freeze_clock(monkeypatch, T0)
    make_reseller(db, now=T0)
    return sold_cards(db, quantity=2, now=T0)[0]


def credited(db, msisdns: list[str]) -> list[str]:
    return [m for m in msisdns if balances(db, m) != (0, 0)]


def reconciled(db) -> bool:
    with db.transaction(write=False) as session:
        assert vouchers.reconcile(session) == []
    return ledger_ok(db)


def topups(db) -> int:
    with db.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(TopUp))


def test_200_threads_redeeming_one_pin_on_200_lines_credit_once(db, card):
    serial, pin = card
    lines = numbers(N)
    for msisdn in lines:
        make_line(db, msisdn=msisdn, now=T0)
    before = snapshot(db)
    results = race(N, lambda i: redeem(db, pin=pin, msisdn=lines[i], key=f"k{i}", now=T0))
    won = [i for i, r in enumerate(results) if r.failure is None]
    assert len(won) == 1
    assert sorted(r.failure for r in results if r.failure) == ["used"] * (N - 1)
    assert credited(db, lines) == [lines[won[0]]]
    assert balances(db, lines[won[0]]) == (1000, 0)
    assert states(db)[serial] == "redeemed"
    # One top-up (its entry of two legs: liability to credit; its SMS) and 199 failures for staff; nothing else.
    assert rows_added(before, snapshot(db)) == {"topups": 1, "journal_entries": 1, "postings": 2, "outbox": 1,
                                                "voucher_failures": N - 1}
    assert topups(db) == 1
    assert reconciled(db)


def test_200_threads_redeeming_one_pin_on_one_line_credit_once_then_lock(db, card):
    serial, pin = card
    make_line(db, now=T0)

    def attempt(i: int):
        try:
            return redeem(db, pin=pin, key=f"k{i}", now=T0).failure or "ok"
        except VoucherLocked:
            return "locked"

    results = race(N, attempt)
    # The line lock orders them: one wins, the next five fail (the card is used), the rest find the number locked.
    assert sorted(results) == sorted(["ok"] + ["used"] * 5 + ["locked"] * (N - 6))
    assert balances(db) == (1000, 0)
    assert failure_reasons(db) == ["used"] * 5
    assert states(db)[serial] == "redeemed"
    assert topups(db) == 1
    assert reconciled(db)


def test_200_threads_sending_one_request_twice_over_credit_once_and_replay(db, card):
    """The same request (one key) raced on one line: on PostgreSQL a twin that committed while another waited for
    the line's lock is seen only after it; it must be a replay, never a "used" failure."""
    _serial, pin = card
    make_line(db, now=T0)
    results = race(N, lambda _i: redeem(db, pin=pin, key="one", now=T0))
    assert all(r.failure is None for r in results)
    assert sum(not r.outcome().replayed for r in results) == 1
    assert len({r.outcome().topup.id for r in results}) == 1
    assert failure_reasons(db) == []
    assert balances(db) == (1000, 0)
    assert reconciled(db)


def test_200_http_requests_redeeming_one_pin_credit_once_and_all_others_read_the_same(live_server, db, card):
    serial, pin = card
    lines = numbers(N)
    for msisdn in lines:
        make_line(db, msisdn=msisdn, now=T0)

    def post(i: int) -> httpx.Response:
        return httpx.post(f"{live_server}/api/v1/vouchers/redeem", json=redeem_body(pin, lines[i]),
                          headers={**ADMIN, "Idempotency-Key": f"k{i}"}, timeout=120)

    responses = race(N, post)
    assert sorted(r.status_code for r in responses) == [201] + [422] * (N - 1)
    winner = next(r for r in responses if r.status_code == 201).json()
    assert winner["voucher_serial"] == serial
    assert len({r.content for r in responses if r.status_code == 422}) == 1
    assert credited(db, lines) == [winner["msisdn"]]
    assert topups(db) == 1
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(VoucherFailure)) == N - 1
    assert reconciled(db)


def test_200_http_requests_with_one_key_credit_once_and_replay(live_server, db, card):
    _serial, pin = card
    make_line(db, now=T0)
    responses = race(N, lambda _i: httpx.post(f"{live_server}/api/v1/vouchers/redeem", json=redeem_body(pin),
                                              headers={**ADMIN, "Idempotency-Key": "one"}, timeout=120))
    assert [r.status_code for r in responses] == [201] * N
    assert len({r.content for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") != "true" for r in responses) == 1
    assert balances(db, MSISDN) == (1000, 0)
    assert topups(db) == 1
    assert failure_reasons(db) == []
    assert reconciled(db)
