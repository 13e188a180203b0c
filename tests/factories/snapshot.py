"""What 'nothing moved' means: counts of every table and every cached balance, compared before and after."""

from __future__ import annotations

from sqlalchemy import func, select

from simkeep.db import Database
from simkeep.ledger.models import Account
from simkeep.models import Base


def snapshot(db: Database) -> dict:
    with db.transaction(write=False) as session:
        counts = {t.name: session.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}
        balances = dict(session.execute(select(Account.code, Account.balance_minor)).all())
    return {"counts": counts, "balances": balances}


def count(db, model) -> int:
    with db.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(model))
