"""Queries on staff_accounts."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from simkeep.db import rowcount
from simkeep.staff.models import StaffAccount


def by_username(session: Session, username: str, *, lock: bool = False) -> StaffAccount | None:
    query = select(StaffAccount).where(StaffAccount.username == username)
    return session.scalar(query.with_for_update() if lock else query)


def by_id(session: Session, account_id: uuid.UUID, *, lock: bool = False) -> StaffAccount | None:
    query = select(StaffAccount).where(StaffAccount.id == account_id)
    return session.scalar(query.with_for_update() if lock else query)


def all_accounts(session: Session) -> list[StaffAccount]:
    return list(session.scalars(select(StaffAccount).order_by(StaffAccount.username)))


def of_reseller(session: Session, reseller_id: uuid.UUID) -> list[StaffAccount]:
    return list(session.scalars(select(StaffAccount).where(StaffAccount.reseller_id == reseller_id)
                                .order_by(StaffAccount.username)))


def of_store(session: Session, store_id: uuid.UUID) -> list[StaffAccount]:
    return list(session.scalars(select(StaffAccount).where(StaffAccount.store_id == store_id)
                                .order_by(StaffAccount.username)))


def any_with_role(session: Session, role: str) -> bool:
    return session.scalar(select(StaffAccount.id).where(StaffAccount.role == role).limit(1)) is not None


def add(session: Session, account: StaffAccount) -> None:
    session.add(account)
    session.flush()


def count_failure(session: Session, account_id: uuid.UUID) -> int:
    """One more failure, atomically (two racing wrong guesses both count); returns the new count."""
    session.execute(update(StaffAccount).where(StaffAccount.id == account_id)
                    .values(failed_attempts=StaffAccount.failed_attempts + 1))
    return session.scalars(select(StaffAccount.failed_attempts).where(StaffAccount.id == account_id)).one()


def set_fields(session: Session, account_id: uuid.UUID, **values) -> None:
    session.execute(update(StaffAccount).where(StaffAccount.id == account_id).values(**values))


def use_totp_step(session: Session, account_id: uuid.UUID, step: int) -> bool:
    """Record a code's time step unless it (or a later one) was used already: a guarded update, so the same code
    sent twice at once is accepted once."""
    result = session.execute(update(StaffAccount).where(
        StaffAccount.id == account_id,
        (StaffAccount.totp_last_step.is_(None)) | (StaffAccount.totp_last_step < step)).values(totp_last_step=step))
    return rowcount(result) == 1
