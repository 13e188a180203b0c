"""Charges raced over real connections to a real uvicorn server: never below zero, never twice."""

from __future__ import annotations

import uuid
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import func, select

from simkeep.charge import service as charges
from simkeep.charge.models import Charge
from simkeep.ledger.models import Account, JournalEntry, Posting
from simkeep.line import service as lines
from tests.conftest import T0
from tests.factories.lines import make_line, top_up
from tests.factories.snapshot import snapshot
from tests.web import ADMIN, balances, freeze_clock, ledger_ok, race, rows_added

MSISDN = "+33612345678"


def post_charge(base: str, key: str, amount_minor: int, kind: str = "call") -> httpx.Response:
    return httpx.post(f"{base}/api/v1/charges", json={"msisdn": MSISDN, "amount_minor": amount_minor, "kind": kind},
                      headers={**ADMIN, "Idempotency-Key": key}, timeout=120)


def charge_rows(db) -> int:
    with db.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(Charge))


def entry_of(db, charge_id: str) -> tuple[str, str, list[tuple[str, int]]]:
    """(kind, reference, [(account kind, amount), ...] sorted) of the journal entry a charge points to."""
    with db.transaction(write=False) as session:
        entry = session.scalars(select(JournalEntry).join(Charge, Charge.journal_entry_id == JournalEntry.id)
                                .where(Charge.id == uuid.UUID(charge_id))).one()
        legs = session.execute(select(Account.kind, Posting.amount_minor).join(Account, Account.id == Posting.account_id)
                               .where(Posting.entry_id == entry.id)).all()
    return entry.kind, entry.reference, sorted((kind, amount) for kind, amount in legs)


@pytest.fixture
def funded(db, monkeypatch):
    """3000 on the line: 2500 credit and 500 bonus (Orange 25 EUR)."""
    freeze_clock(monkeypatch, T0)
    make_line(db, now=T0)
    top_up(db, offer_id="fr-orange-mobicarte-25", now=T0)


def test_charge_storm_never_goes_below_zero(live_server, db, funded):
    # 3000 allows exactly 42 charges of 70 (2940), leaving 60.
    before = snapshot(db)
    responses = race(100, lambda i: post_charge(live_server, f"c{i}", 70))
    codes = [r.status_code for r in responses]
    assert (codes.count(201), codes.count(402)) == (42, 58)
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 402} == {"insufficient_balance"}
    assert charge_rows(db) == 42
    added = rows_added(before, snapshot(db))
    assert (added.pop("charges"), added.pop("journal_entries"), set(added)) == (42, 42, {"postings"})
    assert balances(db) == (60, 0)  # the bonus went first, then the credit
    assert sum(r.json()["bonus_used"]["amount_minor"] for r in responses if r.status_code == 201) == 500
    assert ledger_ok(db)


def test_storm_of_uneven_charges_sums_exactly(live_server, db, funded):
    amounts = [7 + (i * 37) % 90 for i in range(100)]
    responses = race(100, lambda i: post_charge(live_server, f"c{i}", amounts[i], ("call", "sms", "data")[i % 3]))
    debited = sum(amounts[i] for i, r in enumerate(responses) if r.status_code == 201)
    assert {r.status_code for r in responses} <= {201, 402}
    credit, bonus = balances(db)
    assert credit + bonus == 3000 - debited >= 0
    # Every refusal was a charge the balance at that moment could not cover.
    refused = [amounts[i] for i, r in enumerate(responses) if r.status_code == 402]
    assert all(amount > credit + bonus for amount in refused)
    assert charge_rows(db) == sum(r.status_code == 201 for r in responses)
    assert ledger_ok(db)


def test_one_key_raced_debits_once(live_server, db, funded):
    before = snapshot(db)
    responses = race(50, lambda _i: post_charge(live_server, "one-key", 100))
    assert [r.status_code for r in responses] == [201] * 50
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") != "true" for r in responses) == 1
    assert charge_rows(db) == 1
    # All of it from the bonus: two legs (bonus and revenue), no zero posting on the credit. The charge's own entry
    # is checked leg by leg first, so a wrong count below can only be rows written by something else.
    charge_id = responses[0].json()["id"]
    assert entry_of(db, charge_id) == ("charge", f"charge:{charge_id}", [("revenue", 100), ("subscriber_bonus", -100)])
    assert rows_added(before, snapshot(db)) == {"charges": 1, "journal_entries": 1, "postings": 2}
    assert balances(db) == (2500, 400)
    assert ledger_ok(db)


def test_a_racer_that_missed_the_key_rolls_back_its_debit_and_replays(db, funded, monkeypatch):
    """The path Database.write's retry exists for, made deterministic: a request whose key lookup misses the
    winner (as a read in a snapshot older than the winner's commit would) debits, posts, then meets the UNIQUE key.
    Its whole transaction is rolled back, and the retry finds the winner and replays it: nothing moves twice."""

    def charge(session):
        return charges.charge(session, principal="admin", idempotency_key="one-key", msisdn=MSISDN, amount_minor=100,
                              kind="call", now=T0)

    winner = db.write(charge)
    before = snapshot(db)
    real_lock, seen = lines.lock_live_line, []

    def lock(session, *args, **kwargs):
        locked = real_lock(session, *args, **kwargs)
        seen.append(locked[0].earlier_id)
        if len(seen) == 1:  # as the lock's snapshot reads it when the winner commits meanwhile
            return replace(locked[0], earlier_id=None), *locked[1:]
        return locked

    monkeypatch.setattr(lines, "lock_live_line", lock)
    loser = db.write(charge)
    assert seen == [winner.charge.id, winner.charge.id]  # the first attempt was made to miss, the retry found it
    assert (loser.replayed, loser.charge.id) == (True, winner.charge.id)
    assert snapshot(db) == before  # no row and no cached balance moved
    assert charge_rows(db) == 1
    assert entry_of(db, str(winner.charge.id)) == ("charge", f"charge:{winner.charge.id}",
                                                   [("revenue", 100), ("subscriber_bonus", -100)])
    assert balances(db) == (2500, 400)
    assert ledger_ok(db)
