"""Top-ups raced over real connections to a real uvicorn server: exactly-once credit, exact sums and validity."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select

from simkeep.catalog import service as catalog
from simkeep.line import rules
from simkeep.topup.models import TopUp
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.snapshot import snapshot
from tests.web import ADMIN, balances, freeze_clock, ledger_ok, race, rows_added

MSISDN = "+33612345678"
VALIDITY_END = datetime(2027, 3, 31, 22, 0, tzinfo=UTC)  # a line made at T0: the end of 31 March, Paris


def post_topup(base: str, key: str, offer_id: str) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/topups", json={"msisdn": MSISDN, "offer_id": offer_id},
                      headers={**ADMIN, "Idempotency-Key": key}, timeout=120)


def topup_rows(db) -> int:
    with db.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(TopUp))


@pytest.fixture
def line(db, monkeypatch):
    freeze_clock(monkeypatch, T0)
    return make_line(db, now=T0)


def test_200_concurrent_requests_with_one_key_credit_once(live_server, db, line):
    before = snapshot(db)
    responses = race(200, lambda _i: post_topup(live_server, "one-key", "fr-orange-mobicarte-25"))
    assert [r.status_code for r in responses] == [201] * 200
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") != "true" for r in responses) == 1
    assert topup_rows(db) == 1
    # One top-up, one journal entry of four legs, one topup.completed message.
    assert rows_added(before, snapshot(db)) == {"topups": 1, "journal_entries": 1, "postings": 4, "outbox": 1}
    assert balances(db) == (2500, 500)
    assert responses[0].json()["validity_ends_at"] == "2027-05-30T22:00:00Z"
    assert ledger_ok(db)


def test_64_concurrent_topups_add_up_exactly(live_server, db, line):
    responses = race(64, lambda i: post_topup(live_server, f"k{i}", "fr-orange-mobicarte-5"))
    assert [r.status_code for r in responses] == [201] * 64
    assert len({r.json()["id"] for r in responses}) == 64
    assert topup_rows(db) == 64
    assert balances(db) == (64 * 500, 0)
    with db.transaction(write=False) as session:
        operator = catalog.get_operator(session, "fr-orange-mobicarte")
    steps = [VALIDITY_END]
    for _ in range(64):
        steps.append(rules.extended_validity(operator, steps[-1], 7, T0))
    assert steps[-1] == datetime(2028, 6, 21, 22, 0, tzinfo=UTC)  # 448 days later, in summer time
    line_body = httpx.get(f"{live_server}/api/v1/lines/{MSISDN}", headers=ADMIN).json()
    assert line_body["validity_ends_at"] == "2028-06-21T22:00:00Z"
    # Each top-up saw the one before it: the validity ends they returned are the 64 steps, each once.
    returned = sorted(r.json()["validity_ends_at"] for r in responses)
    assert returned == [step.isoformat().replace("+00:00", "Z") for step in steps[1:]]
    assert ledger_ok(db)


def test_one_key_raced_with_different_bodies_credits_once(live_server, db, line):
    offers = ["fr-orange-mobicarte-5", "fr-orange-mobicarte-10", "fr-orange-mobicarte-25", "fr-orange-mobicarte-50"]
    before = snapshot(db)
    responses = race(80, lambda i: post_topup(live_server, "shared", offers[i % 4]))
    winners = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(winners) == 1
    fresh = [r for r in responses if r.status_code == 201 and r.headers.get("Idempotent-Replayed") != "true"]
    assert len(fresh) == 1
    won = fresh[0].json()["offer_id"]
    for i, response in enumerate(responses):
        if offers[i % 4] == won:  # the winner's body again: a replay of the first result
            assert response.status_code == 201 and response.json() == fresh[0].json()
        else:
            assert response.status_code == 409
            assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert topup_rows(db) == 1
    assert rows_added(before, snapshot(db))["journal_entries"] == 1
    price = {"fr-orange-mobicarte-5": (500, 0), "fr-orange-mobicarte-10": (1000, 0),
             "fr-orange-mobicarte-25": (2500, 500), "fr-orange-mobicarte-50": (5000, 1500)}
    assert balances(db) == price[won]
    assert ledger_ok(db)
