from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from simkeep.otp.models import OtpChallenge


def latest(session: Session, msisdn: str, *, for_update: bool = False) -> OtpChallenge | None:
    stmt = (select(OtpChallenge).where(OtpChallenge.msisdn == msisdn)
            .order_by(OtpChallenge.created_at.desc()).limit(1))
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def add(session: Session, **row) -> None:
    session.execute(insert(OtpChallenge.__table__), [row])


def count_failure(session: Session, challenge_id: uuid.UUID) -> None:
    table = OtpChallenge.__table__
    session.execute(update(table).where(table.c.id == challenge_id).values(attempts=table.c.attempts + 1))


def consume(session: Session, challenge_id: uuid.UUID, *, now: datetime) -> None:
    table = OtpChallenge.__table__
    session.execute(update(table).where(table.c.id == challenge_id).values(consumed_at=now))
