from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from simkeep.core.ids import new_id
from simkeep.otp.models import OtpChallenge, OtpFailure, OtpNumber


def lock_number(session: Session, msisdn: str, *, now: datetime) -> None:
    """Write the number's row first thing in the transaction: a second request or check for the same number waits
    here until this transaction ends (PostgreSQL's row lock; SQLite's write lock, taken by BEGIN IMMEDIATE), then
    reads what it committed. One statement, so no window between the check and the lock."""
    table = OtpNumber.__table__
    upsert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = upsert(table).values(msisdn=msisdn, touched_at=now)
    session.execute(stmt.on_conflict_do_update(index_elements=[table.c.msisdn], set_={"touched_at": now}))


def latest(session: Session, msisdn: str, *, for_update: bool = False) -> OtpChallenge | None:
    stmt = (select(OtpChallenge).where(OtpChallenge.msisdn == msisdn)
            .order_by(OtpChallenge.created_at.desc()).limit(1))
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def add(session: Session, **row) -> None:
    session.execute(insert(OtpChallenge.__table__), [row])


def challenges_since(session: Session, msisdn: str, since: datetime) -> list[datetime]:
    """When the number's codes were created after `since`, oldest first."""
    return list(session.scalars(select(OtpChallenge.created_at).where(
        OtpChallenge.msisdn == msisdn, OtpChallenge.created_at > since).order_by(OtpChallenge.created_at)))


def failures_since(session: Session, msisdn: str, since: datetime) -> list[datetime]:
    """When the number's wrong codes were typed after `since`, oldest first."""
    return list(session.scalars(select(OtpFailure.at).where(OtpFailure.msisdn == msisdn, OtpFailure.at > since)
                                .order_by(OtpFailure.at)))


def count_failure(session: Session, challenge_id: uuid.UUID, msisdn: str, *, now: datetime,
                  forget_before: datetime) -> None:
    """One wrong code: on the code (5 per code) and on the number (its budget across codes). Failures that no
    longer count are deleted on the way, so the table holds at most one window per number."""
    table = OtpChallenge.__table__
    session.execute(update(table).where(table.c.id == challenge_id).values(attempts=table.c.attempts + 1))
    failures = OtpFailure.__table__
    session.execute(delete(failures).where(failures.c.msisdn == msisdn, failures.c.at <= forget_before))
    session.execute(insert(failures), [{"id": new_id(), "msisdn": msisdn, "at": now}])


def consume(session: Session, challenge_id: uuid.UUID, *, now: datetime) -> None:
    table = OtpChallenge.__table__
    session.execute(update(table).where(table.c.id == challenge_id).values(consumed_at=now))


def failure_count(session: Session, msisdn: str) -> int:
    return session.scalars(select(func.count()).select_from(OtpFailure).where(OtpFailure.msisdn == msisdn)).one()
